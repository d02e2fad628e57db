//! `#[factory_core::test(..)]`: parses the options and the test function, checks them, and
//! emits a plain `#[test] fn` that hands the test's body to one runtime function,
//! `factory_core::cleanup::run_test` (or `run_async_test` for an `async fn`). Every mistake is
//! a compile error at the offending token; the runtime does the rest.

use darling::ast::NestedMeta;
use darling::util::SpannedValue;
use darling::FromMeta;
use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Expr, FnArg, ItemFn, LitStr, Meta, Type};

/// The four strategies, as `cleanup = <name>` names them.
const STRATEGIES: [&str; 4] = ["Transaction", "Tracked", "Truncate", "DatabasePerTest"];

/// `migrations = PATH`: the path of a `static` of migrations.
struct MigrationsArg(syn::Path);

impl FromMeta for MigrationsArg {
    fn from_meta(item: &Meta) -> darling::Result<Self> {
        let hint = "`migrations` takes the path of a `static` made with \
                    `factory_core::embed_migrations!(\"migrations\")`";
        match item {
            Meta::NameValue(nv) => match ungroup(&nv.value) {
                Expr::Path(path) if path.qself.is_none() => Ok(Self(path.path.clone())),
                Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(dir),
                    ..
                }) => Err(darling::Error::custom(format!(
                    "{hint}, not a directory: declare \
                     `static MIGRATIONS: factory_core::cleanup::Migrations = \
                     factory_core::embed_migrations!(\"{}\");` and write `migrations = MIGRATIONS`",
                    dir.value()
                ))
                .with_span(dir)),
                other => Err(darling::Error::custom(hint).with_span(other)),
            },
            _ => Err(
                darling::Error::custom(format!("{hint}: `migrations = MIGRATIONS`"))
                    .with_span(item),
            ),
        }
    }
}

/// An expression a `macro_rules!` macro passed in: the expression itself.
fn ungroup(expr: &Expr) -> &Expr {
    match expr {
        Expr::Group(group) => ungroup(&group.expr),
        other => other,
    }
}

/// `cleanup = Tracked` (or `Cleanup::Tracked`, or a longer path ending so).
struct CleanupArg {
    variant: syn::Ident,
}

impl FromMeta for CleanupArg {
    fn from_word() -> darling::Result<Self> {
        Err(darling::Error::custom(format!(
            "`cleanup` takes a strategy: `cleanup = Tracked` (one of {})",
            STRATEGIES.join(", ")
        )))
    }

    fn from_expr(expr: &Expr) -> darling::Result<Self> {
        let list = STRATEGIES.join(", ");
        let Expr::Path(path) = ungroup(expr) else {
            return Err(darling::Error::custom(format!(
                "`cleanup` takes a strategy: one of {list}"
            ))
            .with_span(expr));
        };
        let Some(last) = path.path.segments.last() else {
            return Err(darling::Error::custom("expected a strategy").with_span(expr));
        };
        let name = last.ident.to_string();
        if STRATEGIES.contains(&name.as_str()) {
            return Ok(Self {
                variant: last.ident.clone(),
            });
        }
        let closest = STRATEGIES
            .iter()
            .map(|s| (strsim::jaro_winkler(s, &name), *s))
            .filter(|(score, _)| *score > 0.8)
            .max_by(|a, b| a.0.total_cmp(&b.0));
        let message = match closest {
            Some((_, s)) => format!("no strategy `{name}`; did you mean `{s}`? (one of {list})"),
            None => format!("no strategy `{name}`: one of {list}"),
        };
        Err(darling::Error::custom(message).with_span(&last.ident))
    }
}

/// A key without a value, like `check_residue`.
#[derive(Default)]
struct Marker(Option<Span>);

impl FromMeta for Marker {
    fn from_meta(item: &Meta) -> darling::Result<Self> {
        match item {
            Meta::Path(path) => Ok(Self(Some(path.span()))),
            _ => {
                let key = item
                    .path()
                    .get_ident()
                    .map(ToString::to_string)
                    .unwrap_or_default();
                Err(darling::Error::custom(format!(
                    "`{key}` takes no value: write `{key}`, or leave it out"
                ))
                .with_span(item))
            }
        }
    }
}

/// `url = <expression>`, kept as written (a string literal stays one).
struct Verbatim(Expr);

impl FromMeta for Verbatim {
    fn from_meta(item: &Meta) -> darling::Result<Self> {
        match item {
            Meta::NameValue(nv) => Ok(Self(nv.value.clone())),
            _ => Err(darling::Error::custom(
                "expected `url = <expression>`, e.g. `url = test_database_url()`",
            )
            .with_span(item)),
        }
    }
}

/// The options as written.
#[derive(FromMeta)]
struct Args {
    migrations: Option<MigrationsArg>,
    cleanup: Option<SpannedValue<CleanupArg>>,
    #[darling(default)]
    check_residue: Marker,
    #[darling(default)]
    keep_failed: Marker,
    #[darling(default)]
    allow_remote: Marker,
    database_prefix: Option<LitStr>,
    keep_tables: Option<SpannedValue<Vec<LitStr>>>,
    url_var: Option<LitStr>,
    url: Option<SpannedValue<Verbatim>>,
    flavor: Option<LitStr>,
    worker_threads: Option<syn::LitInt>,
}

/// The whole attribute on token streams, so tests can call it without a compiler.
pub fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let function: ItemFn = match syn::parse2(item) {
        Ok(function) => function,
        Err(e) => {
            return syn::Error::new(
                e.span(),
                "#[factory_core::test] goes on a function: \
                 `fn name(db: &mut TestDb<Connection>) { .. }`",
            )
            .to_compile_error()
        }
    };
    let handle = match check_function(&function) {
        Ok(handle) => handle,
        Err(errors) => return errors.to_compile_error(),
    };
    let args = NestedMeta::parse_meta_list(args)
        .map_err(darling::Error::from)
        .and_then(|list| Args::from_list(&list))
        .and_then(|args| check_args(&args, &function).map(|()| args));
    match args {
        Ok(args) => emit(&function, handle, &args),
        Err(errors) => {
            // The function stays, so that what it uses is not reported unused as well.
            let mut stub = function.clone();
            stub.attrs.clear();
            let mut out = errors.write_errors();
            out.extend(quote!(#[allow(dead_code)] #stub));
            out
        }
    }
}

/// Every mistake found so far, each spanned over its whole node (`syn::Error::new_spanned`
/// spans the first to the last token; a darling error keeps only the first).
#[derive(Default)]
struct Mistakes(Option<syn::Error>);

impl Mistakes {
    fn push(&mut self, node: impl quote::ToTokens, message: impl std::fmt::Display) {
        self.add(syn::Error::new_spanned(node, message));
    }

    fn add(&mut self, error: syn::Error) {
        match &mut self.0 {
            Some(all) => all.combine(error),
            None => self.0 = Some(error),
        }
    }
}

/// The handle's type, `T` of the one argument `&mut T`; or every mistake of the signature.
fn check_function(function: &ItemFn) -> Result<&Type, syn::Error> {
    let mut mistakes = Mistakes::default();
    let sig = &function.sig;
    let shape = "a #[factory_core::test] function is `fn name(db: &mut TestDb<Connection>)`";
    if let Some(token) = &sig.constness {
        mistakes.push(token, format!("{shape}, not `const`"));
    }
    if let Some(token) = &sig.unsafety {
        mistakes.push(token, format!("{shape}, not `unsafe`"));
    }
    if let Some(abi) = &sig.abi {
        mistakes.push(abi, format!("{shape}, not `extern`"));
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        mistakes.push(
            &sig.generics,
            format!("{shape}: a test cannot be generic; name the connection type"),
        );
    }
    if let Some(variadic) = &sig.variadic {
        mistakes.push(variadic, shape);
    }
    for attr in &function.attrs {
        if attr
            .path()
            .segments
            .last()
            .is_some_and(|s| s.ident == "test")
        {
            mistakes.push(
                attr,
                "#[factory_core::test] makes the function a test already: remove this \
                 attribute (an `async fn` gets its tokio runtime from the runner)",
            );
        }
    }
    let mut inputs = sig.inputs.iter();
    let handle = match inputs.next() {
        None => {
            mistakes.add(syn::Error::new(
                sig.paren_token.span.join(),
                format!("{shape}: it takes the test database as its argument"),
            ));
            None
        }
        Some(FnArg::Receiver(receiver)) => {
            mistakes.push(
                receiver,
                format!("{shape}: a free function, without `self`"),
            );
            None
        }
        Some(FnArg::Typed(arg)) => match check_argument(&arg.ty) {
            Ok(handle) => Some(handle),
            Err(why) => {
                mistakes.push(&arg.ty, format!("{shape}: {why}"));
                None
            }
        },
    };
    let extra: Vec<&FnArg> = inputs.collect();
    if !extra.is_empty() {
        mistakes.push(
            quote!(#(#extra),*),
            format!("{shape}: the test database is its only argument"),
        );
    }
    match (mistakes.0, handle) {
        (Some(errors), _) => Err(errors),
        (None, Some(handle)) => Ok(handle),
        (None, None) => Err(syn::Error::new_spanned(&sig.ident, shape)),
    }
}

/// `&mut T` gives `T`; anything else is the mistake, said as the rest of the message.
fn check_argument(ty: &Type) -> Result<&Type, &'static str> {
    match ty {
        Type::Reference(r) if r.mutability.is_some() => Ok(&r.elem),
        Type::Reference(_) => {
            Err("take the test database as `&mut`, since factories write through it")
        }
        Type::Group(group) => check_argument(&group.elem),
        _ => Err(
            "take the test database by `&mut` (the runner owns it, and cleans up after the \
             test)",
        ),
    }
}

/// Options that do not go together, or with this function.
fn check_args(args: &Args, function: &ItemFn) -> darling::Result<()> {
    let mut errors = darling::Error::accumulator();
    let cleanup = args
        .cleanup
        .as_ref()
        .map_or_else(|| "Transaction".to_owned(), |c| c.variant.to_string());
    let needs = |option: &str, strategy: &str, why: &str| {
        format!("`{option}` {why}; it goes with `cleanup = {strategy}` (this test's strategy is {cleanup})")
    };
    if let (Some(span), false) = (args.keep_failed.0, cleanup == "DatabasePerTest") {
        errors.push(
            darling::Error::custom(needs(
                "keep_failed",
                "DatabasePerTest",
                "keeps a failed test's own database",
            ))
            .with_span(&span),
        );
    }
    if let (Some(prefix), false) = (&args.database_prefix, cleanup == "DatabasePerTest") {
        errors.push(
            darling::Error::custom(needs(
                "database_prefix",
                "DatabasePerTest",
                "names the per-test databases",
            ))
            .with_span(prefix),
        );
    }
    if let Some(prefix) = &args.database_prefix {
        let value = prefix.value();
        let mut bytes = value.bytes();
        let ok = value.len() <= 30
            && bytes.next().is_some_and(|b| b.is_ascii_lowercase())
            && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !ok {
            errors.push(
                darling::Error::custom(
                    "a database prefix is a lowercase letter followed by at most 29 lowercase \
                     letters, digits or underscores",
                )
                .with_span(prefix),
            );
        }
    }
    if let (Some(tables), false) = (&args.keep_tables, cleanup == "Truncate") {
        errors.push(
            darling::Error::custom(needs(
                "keep_tables",
                "Truncate",
                "names tables that truncation leaves alone",
            ))
            .with_span(&tables.span()),
        );
    }
    if let (Some(cleanup), None) = (&args.cleanup, &args.migrations) {
        if cleanup.variant == "DatabasePerTest" {
            errors.push(
                darling::Error::custom(
                    "`cleanup = DatabasePerTest` builds each test's database from migrations: \
                     add `migrations = MIGRATIONS`",
                )
                .with_span(&cleanup.span()),
            );
        }
    }
    if let (Some(_), Some(var)) = (&args.url, &args.url_var) {
        errors.push(
            darling::Error::custom("give the URL one way: `url = ..` or `url_var = \"..\"`")
                .with_span(var),
        );
    }
    errors.handle(check_runtime(args, function));
    errors.finish()
}

/// `flavor` and `worker_threads`: for an `async fn`, as `#[tokio::test]` takes them.
fn check_runtime(args: &Args, function: &ItemFn) -> darling::Result<()> {
    let mut errors = darling::Error::accumulator();
    let is_async = function.sig.asyncness.is_some();
    for (option, span) in [
        ("flavor", args.flavor.as_ref().map(|f| f.span())),
        (
            "worker_threads",
            args.worker_threads.as_ref().map(|w| w.span()),
        ),
    ] {
        if let (Some(span), false) = (span, is_async) {
            errors.push(
                darling::Error::custom(format!(
                    "`{option}` sets up the tokio runtime of an `async fn` test; this test is \
                     not `async`"
                ))
                .with_span(&span),
            );
        }
    }
    let multi = match &args.flavor {
        Some(flavor) => match flavor.value().as_str() {
            "multi_thread" => true,
            "current_thread" => false,
            other => {
                errors.push(
                    darling::Error::custom(format!(
                        "no flavor `{other}`: \"current_thread\" or \"multi_thread\""
                    ))
                    .with_span(flavor),
                );
                true
            }
        },
        None => false,
    };
    if let Some(threads) = &args.worker_threads {
        if !multi {
            errors.push(
                darling::Error::custom("`worker_threads` goes with `flavor = \"multi_thread\"`")
                    .with_span(threads),
            );
        }
        if threads.base10_parse::<usize>().map_or(true, |n| n == 0) {
            errors.push(
                darling::Error::custom("`worker_threads` is a number of threads, at least 1")
                    .with_span(threads),
            );
        }
    }
    errors.finish()
}

/// The test: a plain `#[test] fn` whose body is the user's function and one call.
fn emit(function: &ItemFn, handle: &Type, args: &Args) -> TokenStream {
    let name = &function.sig.ident;
    let vis = &function.vis;
    let attrs = &function.attrs;
    let mut body = function.clone();
    body.attrs.clear();
    body.vis = syn::Visibility::Inherited;
    let should_panic = attrs.iter().any(|a| a.path().is_ident("should_panic"));
    let calls = option_calls(args, should_panic);
    let runner = if function.sig.asyncness.is_some() {
        format_ident!("run_async_test")
    } else {
        format_ident!("run_test")
    };
    let name_text = name.to_string();
    // Spanned at the handle's type and the return type: a type that is no test database, or
    // that a test cannot return, is reported where it is written.
    let output = match &function.sig.output {
        syn::ReturnType::Default => quote!(()),
        syn::ReturnType::Type(_, ty) => quote!(#ty),
    };
    let run =
        quote_spanned!(handle.span()=> ::factory_core::cleanup::#runner::<#handle, _, #output>);
    quote! {
        #(#attrs)*
        #[::core::prelude::v1::test]
        #vis fn #name() {
            #body
            #run(
                ::factory_core::cleanup::TestArgs::new(
                    ::core::concat!(::core::module_path!(), "::", #name_text)
                )
                #(#calls)*,
                #name,
            )
        }
    }
}

/// `.cleanup(..)`, `.migrations(..)`, ...: one call per option given.
fn option_calls(args: &Args, should_panic: bool) -> Vec<TokenStream> {
    let mut calls = Vec::new();
    if let Some(MigrationsArg(path)) = &args.migrations {
        calls.push(quote_spanned!(path.span()=> .migrations(&#path)));
    }
    if let Some(cleanup) = &args.cleanup {
        let variant = &cleanup.variant;
        calls.push(quote!(.cleanup(::factory_core::cleanup::Cleanup::#variant)));
    }
    let flags = [
        (&args.check_residue, quote!(.check_residue())),
        (&args.keep_failed, quote!(.keep_failed())),
        (&args.allow_remote, quote!(.allow_remote())),
    ];
    for (marker, call) in flags {
        if marker.0.is_some() {
            calls.push(call);
        }
    }
    if let Some(prefix) = &args.database_prefix {
        calls.push(quote!(.database_prefix(#prefix)));
    }
    if let Some(tables) = &args.keep_tables {
        let tables = tables.iter();
        calls.push(quote!(.keep_tables(&[#(#tables),*])));
    }
    if let Some(var) = &args.url_var {
        calls.push(quote!(.url_var(#var)));
    }
    if let Some(url) = &args.url {
        let url = &url.0;
        calls.push(quote_spanned!(url.span()=> .url(#url)));
    }
    if args
        .flavor
        .as_ref()
        .is_some_and(|f| f.value() == "multi_thread")
    {
        let threads = match &args.worker_threads {
            Some(n) => quote!(::core::option::Option::Some(#n)),
            None => quote!(::core::option::Option::None),
        };
        calls.push(quote!(.multi_thread(#threads)));
    }
    if should_panic {
        calls.push(quote!(.should_panic()));
    }
    calls
}

#[cfg(test)]
mod tests {
    use super::expand;
    use quote::quote;

    fn expanded(args: proc_macro2::TokenStream, item: proc_macro2::TokenStream) -> String {
        expand(args, item).to_string()
    }

    fn error_of(args: proc_macro2::TokenStream, item: proc_macro2::TokenStream) -> String {
        let out = expanded(args, item);
        assert!(out.contains("compile_error"), "expected an error: {out}");
        out
    }

    #[test]
    fn a_sync_test_calls_run_test_with_its_options() {
        let out = expanded(
            quote!(
                migrations = crate::MIGRATIONS,
                cleanup = Tracked,
                check_residue
            ),
            quote!(
                #[ignore]
                fn t(db: &mut TestDb<PgConnection>) {}
            ),
        );
        assert!(
            out.contains(
                ":: factory_core :: cleanup :: run_test :: < TestDb < PgConnection > , _ , () >"
            ),
            "{out}"
        );
        assert!(
            out.contains(". migrations (& crate :: MIGRATIONS)"),
            "{out}"
        );
        assert!(
            out.contains(". cleanup (:: factory_core :: cleanup :: Cleanup :: Tracked)"),
            "{out}"
        );
        assert!(out.contains(". check_residue ()"), "{out}");
        assert!(out.contains("# [ignore]"), "{out}");
        assert!(
            out.contains("# [:: core :: prelude :: v1 :: test]"),
            "{out}"
        );
        assert!(!out.contains("keep_failed"), "{out}");
    }

    #[test]
    fn an_async_test_calls_run_async_test_with_its_runtime() {
        let out = expanded(
            quote!(flavor = "multi_thread", worker_threads = 2),
            quote!(
                async fn t(db: &mut TestDb<PgConnection>) {}
            ),
        );
        assert!(out.contains("run_async_test"), "{out}");
        assert!(
            out.contains(". multi_thread (:: core :: option :: Option :: Some (2))"),
            "{out}"
        );
    }

    #[test]
    fn should_panic_is_passed_on() {
        let out = expanded(
            quote!(),
            quote!(
                #[should_panic(expected = "x")]
                fn t(db: &mut TestDb<SqliteConnection>) {}
            ),
        );
        assert!(out.contains(". should_panic ()"), "{out}");
    }

    #[test]
    fn cleanup_accepts_the_enum_path_too() {
        let out = expanded(
            quote!(cleanup = Cleanup::Truncate, keep_tables = ["countries"]),
            quote!(
                fn t(db: &mut TestDb<SqliteConnection>) {}
            ),
        );
        assert!(out.contains("Cleanup :: Truncate"), "{out}");
        assert!(out.contains(". keep_tables (& [\"countries\"])"), "{out}");
    }

    #[test]
    fn mistakes_are_errors_not_panics() {
        let item = quote!(
            fn t(db: &mut TestDb<SqliteConnection>) {}
        );
        let cases = [
            (quote!(cleanp = Tracked), "cleanup"),
            (quote!(cleanup = Trcked), "did you mean `Tracked`"),
            (quote!(cleanup = "Tracked"), "strategy"),
            (quote!(cleanup), "strategy"),
            (quote!(migrations = "migrations"), "not a directory"),
            (quote!(check_residue = true), "takes no value"),
            (quote!(keep_failed), "DatabasePerTest"),
            (
                quote!(cleanup = DatabasePerTest),
                "add `migrations = MIGRATIONS`",
            ),
            (quote!(keep_tables = ["a"]), "Truncate"),
            (quote!(database_prefix = "x"), "DatabasePerTest"),
            (quote!(url = a(), url_var = "B"), "one way"),
            (quote!(flavor = "multi_thread"), "not `async`"),
            (quote!(=), ""),
            (
                quote!(
                    cleanup = DatabasePerTest,
                    migrations = M,
                    database_prefix = "My-App"
                ),
                "lowercase",
            ),
        ];
        for (args, message) in cases {
            let out = error_of(args, item.clone());
            assert!(out.contains(message), "{message}: {out}");
        }
    }

    #[test]
    fn a_wrong_signature_is_an_error_at_its_token() {
        let cases = [
            (
                quote!(
                    fn t() {}
                ),
                "takes the test database",
            ),
            (
                quote!(
                    fn t(db: &mut TestDb<C>, n: i32) {}
                ),
                "only argument",
            ),
            (
                quote!(
                    fn t(db: TestDb<C>) {}
                ),
                "by `&mut`",
            ),
            (
                quote!(
                    fn t(db: &TestDb<C>) {}
                ),
                "as `&mut`",
            ),
            (
                quote!(
                    fn t<C>(db: &mut TestDb<C>) {}
                ),
                "generic",
            ),
            (
                quote!(
                    const fn t(db: &mut TestDb<C>) {}
                ),
                "not `const`",
            ),
            (
                quote!(
                    #[test]
                    fn t(db: &mut TestDb<C>) {}
                ),
                "remove this",
            ),
            (
                quote!(
                    #[tokio::test]
                    async fn t(db: &mut TestDb<C>) {}
                ),
                "remove this",
            ),
            (
                quote!(
                    struct S;
                ),
                "goes on a function",
            ),
        ];
        for (item, message) in cases {
            let out = error_of(quote!(), item);
            assert!(out.contains(message), "{message}: {out}");
        }
    }
}
