//! Expansion: generated code for a validated [`Model`].
//!
//! Everything the generated code names goes through `::factory_core::__private`, so it works
//! whatever the user imported. Code that involves a user's tokens carries their span, so a
//! type error lands on the attribute that caused it.

use crate::valid::{is_option, Callback, Field, Model, Source};
use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::Ident;

/// Paths into the runtime crate.
fn rt() -> TokenStream {
    quote!(::factory_core::__private)
}

/// The names of the generated items for a model.
struct Names {
    model: Ident,
    factory: Ident,
    attributes: Ident,
    transients: Ident,
    table_name: String,
}

impl Names {
    fn new(m: &Model) -> Self {
        Self {
            model: m.ident.clone(),
            factory: format_ident!("{}Factory", m.ident),
            attributes: format_ident!("{}FactoryAttributes", m.ident),
            transients: format_ident!("{}FactoryTransients", m.ident),
            table_name: m
                .table
                .segments
                .last()
                .map(|s| s.ident.to_string())
                .unwrap_or_default(),
        }
    }
}

fn sub_state(name: &Ident) -> Ident {
    format_ident!("__factory_sub_{}", name)
}

fn related_state(name: &Ident) -> Ident {
    format_ident!("__factory_related_{}", name)
}

fn sequence_static(m: &Model, f: &Field) -> Ident {
    format_ident!("__FACTORY_SEQ_{}_{}", m.ident, f.ident)
}

pub fn model(m: &Model) -> TokenStream {
    let names = Names::new(m);
    let declarations = declarations(m, &names);
    let builder = builder_methods(m, &names);
    let build = build_methods(m, &names);
    let create = create_methods(m, &names);
    let factory_impl = factory_impl(m, &names);
    let read_back = read_back_impl(m, &names);
    let create_impls = create_impls(m, &names);
    let rt = rt();
    let (model, factory) = (&names.model, &names.factory);
    let statics = m.fields.iter().filter(|f| has_sequence(f)).map(|f| {
        let s = sequence_static(m, f);
        quote!(#[allow(non_upper_case_globals)] static #s: #rt::Sequence = #rt::Sequence::new();)
    });
    let fn_doc = format!("A [`{factory}`] with every field at its declared source.");

    quote! {
        #declarations

        #[allow(clippy::all, clippy::pedantic, unused_qualifications)]
        const _: () = {
            #(#statics)*

            #[automatically_derived]
            impl #model {
                #[doc = #fn_doc]
                pub fn factory() -> #factory {
                    #factory::new()
                }
            }

            #[automatically_derived]
            impl #rt::core::default::Default for #factory {
                fn default() -> Self {
                    Self::new()
                }
            }

            #[automatically_derived]
            impl #factory {
                #builder
                #build
                #create
            }

            #factory_impl
            #create_impls
            #read_back
        };
    }
}

/// The span of the first token the user wrote: rustc reports a generated expression's errors
/// at that token's line instead of at the derive.
fn first_span(tokens: &impl quote::ToTokens) -> proc_macro2::Span {
    tokens
        .to_token_stream()
        .into_iter()
        .next()
        .map_or_else(proc_macro2::Span::call_site, |t| t.span())
}

/// `tokens` with every span set to `span`.
fn respan(tokens: &impl quote::ToTokens, span: proc_macro2::Span) -> TokenStream {
    fn walk(stream: TokenStream, span: proc_macro2::Span) -> TokenStream {
        stream
            .into_iter()
            .map(|mut tree| {
                if let proc_macro2::TokenTree::Group(group) = &tree {
                    let mut inner =
                        proc_macro2::Group::new(group.delimiter(), walk(group.stream(), span));
                    inner.set_span(span);
                    tree = proc_macro2::TokenTree::Group(inner);
                } else {
                    tree.set_span(span);
                }
                tree
            })
            .collect()
    }
    walk(tokens.to_token_stream(), span)
}

fn has_sequence(f: &Field) -> bool {
    matches!(
        f.source,
        Source::Template(_) | Source::SequenceFn(_) | Source::DbGenerated
    )
}

/// The factory, attributes and transients structs.
fn declarations(m: &Model, n: &Names) -> TokenStream {
    let rt = rt();
    let vis = &m.vis;
    let Names {
        model,
        factory,
        attributes,
        transients,
        table_name,
    } = n;

    // One optional override per settable field and transient; a customised parent factory per
    // sub; the children per related.
    let overrides = m.fields.iter().filter(|f| f.is_inserted()).map(|f| {
        let (ident, ty) = (&f.ident, &f.ty);
        quote_spanned!(ty.span()=> #ident: #rt::core::option::Option<#ty>)
    });
    let transient_overrides = m.transients.iter().map(|t| {
        let (ident, ty) = (&t.name, &t.ty);
        quote_spanned!(ty.span()=> #ident: #rt::core::option::Option<#ty>)
    });
    let subs = m.fields.iter().filter_map(|f| match &f.source {
        Source::Sub { factory, name, .. } => {
            let state = sub_state(name);
            Some(quote_spanned!(factory.span()=> #state: #rt::core::option::Option<#factory>))
        }
        _ => None,
    });
    let related = m.related.iter().map(|r| {
        let (state, child) = (related_state(&r.name), &r.factory);
        quote_spanned!(child.span()=> #state: #rt::core::option::Option<::std::vec::Vec<#child>>)
    });
    let attr_fields = m.fields.iter().filter(|f| f.is_inserted()).map(|f| {
        let (ident, ty) = (&f.ident, &f.ty);
        let doc = format!("The value for column `{}`.", f.column);
        quote_spanned!(ty.span()=> #[doc = #doc] pub #ident: #ty)
    });
    let transient_fields = m.transients.iter().map(|t| {
        let (ident, ty) = (&t.name, &t.ty);
        quote_spanned!(ty.span()=> pub #ident: #ty)
    });

    let factory_doc = format!(
        "Factory for [`{model}`] rows in `{table_name}`, generated by `#[derive(Factory)]`.\n\n\
         Start one with [`{model}::factory()`]; every setter and trait returns a new factory."
    );
    let attributes_doc = format!(
        "The values a [`{factory}`] inserts into `{table_name}`: every field of [`{model}`] but \
         the `db_generated` ones. Implements Diesel's `Insertable`."
    );
    let transients_doc = format!(
        "Transient parameters of [`{factory}`]: inputs to lazy fields and hooks, not columns."
    );
    quote! {
        #[doc = #factory_doc]
        #[derive(Clone, Debug)]
        #[must_use]
        #vis struct #factory {
            #(#overrides,)*
            #(#transient_overrides,)*
            #(#subs,)*
            #(#related,)*
        }

        #[doc = #attributes_doc]
        #[derive(Clone, Debug)]
        #vis struct #attributes {
            #(#attr_fields,)*
        }

        #[doc = #transients_doc]
        #[derive(Clone, Debug)]
        #vis struct #transients {
            #(#transient_fields,)*
        }
    }
}

/// Every name in the factory struct, for `new()`.
fn state_idents(m: &Model) -> Vec<Ident> {
    let mut out: Vec<Ident> = m
        .fields
        .iter()
        .filter(|f| f.is_inserted())
        .map(|f| f.ident.clone())
        .collect();
    out.extend(m.transients.iter().map(|t| t.name.clone()));
    out.extend(m.fields.iter().filter_map(|f| match &f.source {
        Source::Sub { name, .. } => Some(sub_state(name)),
        _ => None,
    }));
    out.extend(m.related.iter().map(|r| related_state(&r.name)));
    out
}

/// `new`, setters, trait methods, sub and related methods.
fn builder_methods(m: &Model, n: &Names) -> TokenStream {
    let rt = rt();
    let state = state_idents(m);
    let setters = m
        .fields
        .iter()
        .filter(|f| f.is_inserted())
        .map(|f| {
            (
                &f.ident,
                &f.ty,
                format!(
                    "Sets `{}`, replacing the value the factory would give it.",
                    f.ident
                ),
            )
        })
        .chain(m.transients.iter().map(|t| {
            (
                &t.name,
                &t.ty,
                format!("Sets the transient parameter `{}` (not a column).", t.name),
            )
        }))
        .map(|(ident, ty, doc)| {
            quote! {
                #[doc = #doc]
                pub fn #ident(mut self, value: impl #rt::core::convert::Into<#ty>) -> Self {
                    self.#ident = #rt::core::option::Option::Some(value.into());
                    self
                }
            }
        });
    let traits = m.traits.iter().map(|t| {
        let name = &t.name;
        let includes = &t.includes;
        let sets = t.sets.iter().map(|(k, v)| quote!(.#k(#v)));
        let doc = format!("Applies the `{name}` trait (later calls override it).");
        quote! {
            #[doc = #doc]
            pub fn #name(self) -> Self {
                self #(.#includes())* #(#sets)*
            }
        }
    });
    let subs = m.fields.iter().filter_map(|f| {
        let Source::Sub { factory, name, .. } = &f.source else {
            return None;
        };
        let (key, state) = (&f.ident, sub_state(name));
        let with = format_ident!("{}_with", name);
        let doc = format!("Points `{key}` at an existing row (no parent is created).");
        let with_doc = format!(
            "Customises the parent that creating this row creates for `{key}` (when `{key}` is not set)."
        );
        Some(quote_spanned! {factory.span()=>
            #[doc = #doc]
            pub fn #name(self, parent: &<#factory as #rt::Factory>::Model) -> Self {
                self.#key(<#factory as #rt::Factory>::key_of(parent))
            }

            #[doc = #with_doc]
            pub fn #with(mut self, customise: impl #rt::core::ops::FnOnce(#factory) -> #factory) -> Self {
                let parent = self.#state.take().unwrap_or_default();
                self.#state = #rt::core::option::Option::Some(customise(parent));
                self
            }
        })
    });
    let related = m.related.iter().map(|r| {
        let (child, state) = (&r.factory, related_state(&r.name));
        let with = format_ident!("with_{}", r.name);
        let with_from = format_ident!("with_{}_from", r.name);
        let doc = format!("Creates `n` {} with the row (replacing the default number).", r.name);
        let from_doc = format!("Creates these {} with the row, each pointed at it.", r.name);
        quote_spanned! {child.span()=>
            #[doc = #doc]
            pub fn #with(mut self, n: usize) -> Self {
                self.#state = #rt::core::option::Option::Some(
                    (0..n).map(|_| <#child as #rt::core::default::Default>::default()).collect(),
                );
                self
            }

            #[doc = #from_doc]
            pub fn #with_from(mut self, children: impl #rt::core::iter::IntoIterator<Item = #child>) -> Self {
                self.#state = #rt::core::option::Option::Some(children.into_iter().collect());
                self
            }
        }
    });
    let seq_resets = m.fields.iter().filter(|f| has_sequence(f)).map(|f| {
        let s = sequence_static(m, f);
        quote!(#s.reset();)
    });
    let transients = &n.transients;
    let transient_values = m.transients.iter().map(|t| {
        let (ident, ty) = (&t.name, &t.ty);
        let fallback = match &t.default {
            Some(expr) => {
                quote_spanned!(expr.span()=> #rt::core::convert::Into::<#ty>::into(#expr))
            }
            None => quote_spanned!(ty.span()=> <#ty as #rt::core::default::Default>::default()),
        };
        quote! {
            #ident: match &self.#ident {
                #rt::core::option::Option::Some(value) => #rt::core::clone::Clone::clone(value),
                #rt::core::option::Option::None => #fallback,
            }
        }
    });
    quote! {
        /// A factory with no overrides: every field comes from its declared source.
        pub fn new() -> Self {
            Self { #(#state: #rt::core::option::Option::None,)* }
        }

        #(#setters)*
        #(#traits)*
        #(#subs)*
        #(#related)*

        /// Starts every sequence of this factory again at 1.
        pub fn reset_sequences() {
            #(#seq_resets)*
        }

        /// The transient parameters: the values set, else their defaults.
        fn __factory_transients(&self) -> #transients {
            #transients { #(#transient_values,)* }
        }
    }
}

/// `build`, `build_list`, `build_list_with`, `attributes`.
fn build_methods(m: &Model, n: &Names) -> TokenStream {
    let rt = rt();
    let Names {
        model, attributes, ..
    } = n;
    let lazy_flag = |f: &Field| format_ident!("__factory_lazy_{}", f.ident);

    // Every field but the lazy ones, in declaration order; lazy fields hold a placeholder.
    let values = m.fields.iter().map(|f| {
        let (ident, ty) = (&f.ident, &f.ty);
        let generated = match &f.source {
            Source::DbGenerated => {
                let s = sequence_static(m, f);
                return quote_spanned!(ty.span()=> #ident: <#ty as #rt::Stub>::stub(#s.next()));
            }
            Source::TypeDefault | Source::Lazy(_) => {
                quote_spanned!(ty.span()=> <#ty as #rt::core::default::Default>::default())
            }
            Source::Default(expr) => {
                quote_spanned!(expr.span()=> #rt::core::convert::Into::<#ty>::into(#expr))
            }
            Source::Template(lit) => {
                let s = sequence_static(m, f);
                let fmt = syn::LitStr::new(
                    &lit.value()
                        .replace('{', "{{")
                        .replace('}', "}}")
                        .replace("<n>", "{0}"),
                    lit.span(),
                );
                // `<n>` is the number and the process token (or the plain number, by the
                // runtime's scope setting), formatted by the runtime.
                quote_spanned!(lit.span()=> #rt::core::convert::Into::<#ty>::into(::std::format!(#fmt, #rt::sequence_value(#s.next()))))
            }
            Source::SequenceFn(func) => {
                let s = sequence_static(m, f);
                // With the type given, a closure returning the wrong type fails in its body.
                // It gets the plain number; `factory_core::sequence::unique(n)` adds the token.
                quote_spanned!(first_span(func)=> #rt::sequence::<#ty>(#func, #s.next()))
            }
            Source::Faker(expr) => {
                // The type argument carries the faker's span: "`i32: Dummy<FirstName>` is not
                // satisfied" then points at the faker.
                let at = first_span(expr);
                let ty_at = respan(ty, at);
                quote_spanned!(at=> #rt::fake_value::<#ty_at, _>(&(#expr)))
            }
            Source::Sub {
                factory,
                name,
                nullable,
            } => {
                // In memory the parent is built, never inserted; its key is a stub.
                let state = sub_state(name);
                let parent = quote_spanned! {factory.span()=>
                    #rt::core::convert::Into::into(<#factory as #rt::Factory>::key_of(
                        &<#factory as #rt::Factory>::build(#state.unwrap_or_default()),
                    ))
                };
                if *nullable {
                    quote!(if #state.is_some() { #parent } else { #rt::core::option::Option::None })
                } else {
                    parent
                }
            }
        };
        if matches!(f.source, Source::Lazy(_)) {
            let flag = lazy_flag(f);
            quote! {
                #ident: match self.#ident {
                    #rt::core::option::Option::Some(value) => value,
                    #rt::core::option::Option::None => { #flag = true; #generated }
                }
            }
        } else {
            quote! {
                #ident: match self.#ident {
                    #rt::core::option::Option::Some(value) => value,
                    #rt::core::option::Option::None => #generated,
                }
            }
        }
    });
    let sub_bindings = m.fields.iter().filter_map(|f| match &f.source {
        Source::Sub { name, .. } => {
            let state = sub_state(name);
            Some(quote!(#[allow(unused_variables)] let #state = self.#state;))
        }
        _ => None,
    });
    let lazy: Vec<(&Field, &Callback)> = m
        .fields
        .iter()
        .filter_map(|f| match &f.source {
            Source::Lazy(cb) => Some((f, cb)),
            _ => None,
        })
        .collect();
    let lazy_flags = lazy.iter().map(|(f, _)| {
        let flag = lazy_flag(f);
        quote!(let mut #flag = false;)
    });
    let transients = &n.transients;
    let lazy_evals = lazy.iter().map(|(f, cb)| {
        let (ident, ty, flag, expr) = (&f.ident, &f.ty, lazy_flag(f), &cb.expr);
        let call = if cb.with_transients {
            quote_spanned!(expr.span()=> #rt::lazy_with::<#model, #transients, #ty>(#expr, &__factory_model, __factory_transients))
        } else {
            quote_spanned!(expr.span()=> #rt::lazy::<#model, #ty>(#expr, &__factory_model))
        };
        quote!(if #flag { __factory_model.#ident = #call; })
    });
    let after_build = m.after_build.as_ref().map(|cb| {
        let expr = &cb.expr;
        if cb.with_transients {
            quote_spanned!(expr.span()=> #rt::after_build_with::<#model, #transients>(#expr, &mut __factory_model, __factory_transients);)
        } else {
            quote_spanned!(expr.span()=> #rt::after_build::<#model>(#expr, &mut __factory_model);)
        }
    });
    let inserted: Vec<&Ident> = m
        .fields
        .iter()
        .filter(|f| f.is_inserted())
        .map(|f| &f.ident)
        .collect();

    quote! {
        /// Builds the model in memory. Never touches a database: `db_generated` fields get
        /// distinct stub values, and parents are built, not inserted.
        pub fn build(self) -> #model {
            let transients = self.__factory_transients();
            self.__factory_build_with(&transients)
        }

        /// `build` with the transients already resolved: a row's hooks all see the same ones.
        #[allow(unused_variables)]
        fn __factory_build_with(self, __factory_transients: &#transients) -> #model {
            #(#sub_bindings)*
            #(#lazy_flags)*
            #[allow(unused_mut)]
            let mut __factory_model = #model { #(#values,)* };
            #(#lazy_evals)*
            #after_build
            __factory_model
        }

        /// Builds `n` models in memory, each with its own sequence numbers and fake data.
        pub fn build_list(self, n: usize) -> ::std::vec::Vec<#model> {
            (0..n).map(|_| self.clone().build()).collect()
        }

        /// Builds `n` models, the `i`th from `customise(i, factory)`.
        pub fn build_list_with(
            self,
            n: usize,
            mut customise: impl #rt::core::ops::FnMut(usize, Self) -> Self,
        ) -> ::std::vec::Vec<#model> {
            (0..n).map(|i| customise(i, self.clone()).build()).collect()
        }

        /// The values an insert would write: the built model without its `db_generated`
        /// fields, foreign keys included (a parent that is not given is built, not created).
        pub fn attributes(self) -> #attributes {
            let transients = self.__factory_transients();
            self.__factory_attributes_with(&transients)
        }

        fn __factory_attributes_with(self, transients: &#transients) -> #attributes {
            let #model { #(#inserted,)* .. } = self.__factory_build_with(transients);
            #attributes { #(#inserted,)* }
        }
    }
}

/// `create` and friends: thin wrappers over `Create<C>`, so the caller needs no import.
fn create_methods(m: &Model, n: &Names) -> TokenStream {
    let rt = rt();
    let model = &n.model;
    let get_or_create = (!m.get_or_create.is_empty()).then(|| {
        let columns = m
            .get_or_create
            .iter()
            .map(|&i| format!("`{}`", m.fields[i].ident))
            .collect::<Vec<_>>()
            .join(", ");
        let doc = format!(
            "Returns the row with the same {columns} as this factory would build, creating it if \
             there is none: running a seed twice changes nothing.\n\n# Panics\nIf the insert fails."
        );
        let try_doc = format!(
            "Returns the row with the same {columns}, creating it if there is none, or the error."
        );
        quote! {
            #[doc = #doc]
            #[track_caller]
            pub fn get_or_create<C>(self, conn: &mut C) -> #model
            where
                Self: #rt::Create<C>,
            {
                match <Self as #rt::Create<C>>::try_get_or_create(self, conn) {
                    #rt::core::result::Result::Ok(model) => model,
                    #rt::core::result::Result::Err(error) => #rt::create_failed(error),
                }
            }

            #[doc = #try_doc]
            pub fn try_get_or_create<C>(
                self,
                conn: &mut C,
            ) -> #rt::core::result::Result<#model, #rt::FactoryError>
            where
                Self: #rt::Create<C>,
            {
                <Self as #rt::Create<C>>::try_get_or_create(self, conn)
            }
        }
    });
    quote! {
        /// Inserts the row (after any parent it needs) and returns it as stored.
        ///
        /// # Panics
        /// If the insert fails; the message names the factory, the table and the constraint.
        /// `try_create` returns the error instead.
        #[track_caller]
        pub fn create<C>(self, conn: &mut C) -> #model
        where
            Self: #rt::Create<C>,
        {
            match <Self as #rt::Create<C>>::try_create(self, conn) {
                #rt::core::result::Result::Ok(model) => model,
                #rt::core::result::Result::Err(error) => #rt::create_failed(error),
            }
        }

        /// Inserts the row and returns it as stored, or why the database refused it.
        pub fn try_create<C>(
            self,
            conn: &mut C,
        ) -> #rt::core::result::Result<#model, #rt::FactoryError>
        where
            Self: #rt::Create<C>,
        {
            <Self as #rt::Create<C>>::try_create(self, conn)
        }

        /// Inserts `n` rows in one transaction, as multi-row `INSERT`s.
        ///
        /// # Panics
        /// If the insert fails (no row of the batch remains).
        #[track_caller]
        pub fn create_batch<C>(self, n: usize, conn: &mut C) -> ::std::vec::Vec<#model>
        where
            Self: #rt::Create<C>,
        {
            self.create_batch_with(n, |_, f| f, conn)
        }

        /// Inserts `n` rows, the `i`th from `customise(i, factory)`, in one transaction.
        ///
        /// # Panics
        /// If the insert fails (no row of the batch remains).
        #[track_caller]
        pub fn create_batch_with<C>(
            self,
            n: usize,
            customise: impl #rt::core::ops::FnMut(usize, Self) -> Self,
            conn: &mut C,
        ) -> ::std::vec::Vec<#model>
        where
            Self: #rt::Create<C>,
        {
            match <Self as #rt::Create<C>>::try_create_batch_with(self, n, customise, conn) {
                #rt::core::result::Result::Ok(models) => models,
                #rt::core::result::Result::Err(error) => #rt::create_failed(error),
            }
        }

        /// Inserts `n` rows in one transaction, or says why none were kept.
        pub fn try_create_batch<C>(
            self,
            n: usize,
            conn: &mut C,
        ) -> #rt::core::result::Result<::std::vec::Vec<#model>, #rt::FactoryError>
        where
            Self: #rt::Create<C>,
        {
            <Self as #rt::Create<C>>::try_create_batch_with(self, n, |_, f| f, conn)
        }

        /// Inserts `n` rows, the `i`th from `customise(i, factory)`, or says why none were kept.
        pub fn try_create_batch_with<C>(
            self,
            n: usize,
            customise: impl #rt::core::ops::FnMut(usize, Self) -> Self,
            conn: &mut C,
        ) -> #rt::core::result::Result<::std::vec::Vec<#model>, #rt::FactoryError>
        where
            Self: #rt::Create<C>,
        {
            <Self as #rt::Create<C>>::try_create_batch_with(self, n, customise, conn)
        }

        #get_or_create
    }
}

/// `impl Factory`, and Diesel's `Insertable` for the attributes.
fn factory_impl(m: &Model, n: &Names) -> TokenStream {
    let rt = rt();
    let table = &m.table;
    let Names {
        model,
        factory,
        attributes,
        table_name,
        ..
    } = n;
    let factory_name = factory.to_string();
    let inserted: Vec<&Field> = m.fields.iter().filter(|f| f.is_inserted()).collect();
    let columns = inserted.len();
    let row_types = inserted.iter().map(|f| {
        let (column, ty) = (&f.column, &f.ty);
        quote_spanned!(ty.span()=> #rt::diesel::dsl::Eq<#table::#column, #ty>)
    });
    let row_values = inserted.iter().map(|f| {
        let (ident, column) = (&f.ident, &f.column);
        quote_spanned!(f.ty.span()=> #rt::diesel::ExpressionMethods::eq(#table::#column, attributes.#ident))
    });

    // The primary key, for foreign keys pointing here and for backends that read a row back
    // by key (MySQL).
    let key_fields: Vec<&Field> = m.primary_key.iter().map(|&i| &m.fields[i]).collect();
    let key_types = key_fields.iter().map(|f| &f.ty);
    let clone_from = |from: TokenStream| {
        let parts: Vec<TokenStream> = key_fields
            .iter()
            .map(|f| {
                let ident = &f.ident;
                quote!(#rt::core::clone::Clone::clone(&#from.#ident))
            })
            .collect();
        match parts.as_slice() {
            [one] => one.clone(),
            _ => quote!((#(#parts,)*)),
        }
    };
    let key_type = match key_fields.as_slice() {
        [one] => {
            let ty = &one.ty;
            quote!(#ty)
        }
        _ => quote!((#(#key_types,)*)),
    };
    let key_of_model = clone_from(quote!(model));
    let key_columns = key_fields.iter().map(|f| {
        let column = &f.column;
        quote!(<#table::#column as #rt::diesel::Column>::NAME)
    });
    // `Display` is the bound a key type must meet to be recorded for tracked cleanup; spanned
    // at the field so an error names it.
    let key_text = key_fields.iter().map(|f| {
        let ident = &f.ident;
        quote_spanned!(f.ty.span()=> #rt::key_text(&model.#ident))
    });
    let key_of_attributes = if key_fields.iter().all(|f| f.is_inserted()) && !key_fields.is_empty()
    {
        let key = clone_from(quote!(attributes));
        quote!(#rt::core::option::Option::Some(#key))
    } else {
        quote!({ let _ = attributes; #rt::core::option::Option::None })
    };
    let key_from_insert_id = match key_fields.as_slice() {
        [one] if !one.is_inserted() && is_integer(&one.ty) => {
            let ty = &one.ty;
            quote!(<#ty as #rt::core::convert::TryFrom<u64>>::try_from(id).ok())
        }
        _ => quote!({ let _ = id; #rt::core::option::Option::None }),
    };

    quote! {
        #[automatically_derived]
        impl #rt::Factory for #factory {
            type Model = #model;
            type Attributes = #attributes;
            type Table = #table::table;
            type Row = (#(#row_types,)*);
            type Key = #key_type;

            const NAME: &'static str = #factory_name;
            const TABLE_NAME: &'static str = #table_name;
            const COLUMNS: usize = #columns;
            const KEY_COLUMNS: &'static [&'static str] = &[#(#key_columns,)*];

            fn table() -> Self::Table {
                #table::table
            }

            fn build(self) -> #model {
                #factory::build(self)
            }

            fn attributes(self) -> #attributes {
                #factory::attributes(self)
            }

            fn row(attributes: #attributes) -> Self::Row {
                (#(#row_values,)*)
            }

            fn key_of(model: &#model) -> Self::Key {
                let _ = model;
                #key_of_model
            }

            fn key(attributes: &#attributes) -> #rt::core::option::Option<Self::Key> {
                #key_of_attributes
            }

            fn key_text(model: &#model) -> ::std::vec::Vec<::std::string::String> {
                ::std::vec![#(#key_text,)*]
            }

            fn key_from_insert_id(id: u64) -> #rt::core::option::Option<Self::Key> {
                #key_from_insert_id
            }
        }

        #[automatically_derived]
        impl #rt::diesel::Insertable<#table::table> for #attributes {
            type Values = <<#factory as #rt::Factory>::Row as #rt::diesel::Insertable<#table::table>>::Values;

            fn values(self) -> Self::Values {
                #rt::diesel::Insertable::values(<#factory as #rt::Factory>::row(self))
            }
        }
    }
}

/// `Create<Conn>` for each connection type `factory-core` was built with.
///
/// The impls are per concrete connection, generated through the runtime's
/// `__for_each_connection!`: an order that creates its items while an item creates its order
/// then never asks the compiler to prove `Create<C>` for a generic `C` in a cycle, and hooks
/// type-check against a real connection.
fn create_impls(m: &Model, n: &Names) -> TokenStream {
    let rt = rt();
    let Names {
        model,
        factory,
        transients,
        ..
    } = n;
    let callback = format_ident!("__factory_create_impl_{}", factory);

    // Parents first: a sub-factory runs only when its key was not given.
    let parents = m.fields.iter().filter_map(|f| {
        let Source::Sub {
            factory: parent,
            name,
            nullable,
        } = &f.source
        else {
            return None;
        };
        let (key, state) = (&f.ident, sub_state(name));
        let needed = if *nullable {
            quote!(factory.#state.is_some())
        } else {
            quote!(true)
        };
        Some(quote_spanned! {parent.span()=>
            if factory.#key.is_none() && #needed {
                let parent = <#parent as #rt::Create<__C>>::try_create(
                    factory.#state.take().unwrap_or_default(),
                    conn,
                )?;
                factory.#key = #rt::core::option::Option::Some(
                    #rt::core::convert::Into::into(<#parent as #rt::Factory>::key_of(&parent)),
                );
            }
        })
    });
    let related_take = m.related.iter().map(|r| {
        let (state, child) = (related_state(&r.name), &r.factory);
        let count = match &r.count {
            Some(count) => quote_spanned!(count.span()=> #count),
            None => quote!(0),
        };
        quote_spanned! {child.span()=>
            factory.#state.take().unwrap_or_else(|| {
                (0..#count).map(|_| <#child as #rt::core::default::Default>::default()).collect()
            })
        }
    });
    let related_types: Vec<TokenStream> = m
        .related
        .iter()
        .map(|r| {
            let child = &r.factory;
            quote!(::std::vec::Vec<#child>)
        })
        .collect();
    let related_idents: Vec<Ident> = (0..m.related.len())
        .map(|i| format_ident!("__factory_related_{}", i))
        .collect();
    let related_create = m.related.iter().zip(&related_idents).map(|(r, local)| {
        let (child, key) = (&r.factory, &r.key);
        quote_spanned! {child.span()=>
            for child in #local {
                <#child as #rt::Create<__C>>::try_create(
                    child.#key(<Self as #rt::Factory>::key_of(model)),
                    conn,
                )?;
            }
        }
    });
    let after_create = m.after_create.as_ref().map(|cb| {
        let expr = &cb.expr;
        if cb.with_transients {
            quote_spanned!(expr.span()=> #rt::after_create_with::<#model, #transients, $conn>(#expr, __factory_model_ref, transients, conn);)
        } else {
            quote_spanned!(expr.span()=> #rt::after_create::<#model, $conn>(#expr, __factory_model_ref, conn);)
        }
    });
    let lookup = get_or_create_lookup(m, n);
    // A model restricted with Diesel's `check_for_backend(..)` gets `Create` for those backends'
    // connections only (a UUID column does not exist on SQLite).
    let for_connections = if m.backends.is_empty() {
        quote!(::factory_core::__for_each_connection!(#callback);)
    } else {
        let backends = &m.backends;
        quote!(#(::factory_core::__for_backend!(#callback, #backends);)*)
    };
    let parent_bounds = m.fields.iter().filter_map(|f| match &f.source {
        Source::Sub { factory, .. } => {
            Some(quote_spanned!(factory.span()=> #factory: #rt::Create<__C>))
        }
        _ => None,
    });
    let child_bounds = m.related.iter().map(|r| {
        let child = &r.factory;
        quote_spanned!(child.span()=> #child: #rt::Create<__C>)
    });
    // Several statements make one row: they succeed or fail together.
    let atomic = m
        .fields
        .iter()
        .any(|f| matches!(f.source, Source::Sub { .. }))
        || !m.related.is_empty()
        || m.after_create.is_some();

    quote! {
        /// The parts of a factory a row's creation needs beyond its attributes.
        #[allow(non_camel_case_types)]
        type __FactoryPrepared = (#factory, #transients, (#(#related_types,)*));

        #[automatically_derived]
        impl #factory {
            /// Creates the parents whose keys were not given, then splits off what is created
            /// after the row.
            #[allow(unused_mut, unused_variables)]
            fn __factory_prepare<__C>(
                mut factory: Self,
                conn: &mut __C,
            ) -> #rt::core::result::Result<__FactoryPrepared, #rt::FactoryError>
            where
                #(#parent_bounds,)*
            {
                #(#parents)*
                let transients = factory.__factory_transients();
                let related = (#(#related_take,)*);
                #rt::core::result::Result::Ok((factory, transients, related))
            }

            /// Creates the related rows of one created row.
            #[allow(unused_variables)]
            fn __factory_related<__C>(
                model: &#model,
                related: (#(#related_types,)*),
                conn: &mut __C,
            ) -> #rt::core::result::Result<(), #rt::FactoryError>
            where
                #(#child_bounds,)*
            {
                let (#(#related_idents,)*) = related;
                #(#related_create)*
                #rt::core::result::Result::Ok(())
            }
        }

        macro_rules! #callback {
            ($conn:ty) => {
                #[automatically_derived]
                impl #rt::Create<$conn> for #factory {
                    fn try_create(self, conn: &mut $conn) -> #rt::core::result::Result<#model, #rt::FactoryError> {
                        #rt::in_transaction::<Self, $conn, _>(#atomic, conn, |conn| {
                            let (factory, transients, related) = Self::__factory_prepare(self, conn)?;
                            #[allow(unused_mut)]
                            let mut model = #rt::insert_one::<Self, $conn>(conn, factory.__factory_attributes_with(&transients))?;
                            Self::__factory_related(&model, related, conn)?;
                            let (__factory_model_ref, transients) = (&mut model, &transients);
                            #after_create
                            #rt::core::result::Result::Ok(model)
                        })
                    }

                    fn try_create_batch_with(
                        self,
                        n: usize,
                        mut customise: impl #rt::core::ops::FnMut(usize, Self) -> Self,
                        conn: &mut $conn,
                    ) -> #rt::core::result::Result<::std::vec::Vec<#model>, #rt::FactoryError> {
                        #rt::in_transaction::<Self, $conn, _>(#atomic, conn, |conn| {
                            let mut rows = ::std::vec::Vec::with_capacity(n);
                            let mut after = ::std::vec::Vec::with_capacity(n);
                            for i in 0..n {
                                let (factory, transients, related) =
                                    Self::__factory_prepare(customise(i, self.clone()), conn)?;
                                rows.push(factory.__factory_attributes_with(&transients));
                                after.push((transients, related));
                            }
                            #[allow(unused_mut)]
                            let mut models = #rt::insert_batch::<Self, $conn>(conn, rows)?;
                            for (model, (transients, related)) in models.iter_mut().zip(after) {
                                Self::__factory_related(model, related, conn)?;
                                let (__factory_model_ref, transients) = (model, &transients);
                                #after_create
                            }
                            #rt::core::result::Result::Ok(models)
                        })
                    }

                    fn try_get_or_create(self, conn: &mut $conn) -> #rt::core::result::Result<#model, #rt::FactoryError> {
                        #lookup
                    }
                }
            };
        }

        #for_connections
    }
}

/// `ReadBack` for MySQL, which has no `RETURNING`: queries on the model's table and key.
fn read_back_impl(m: &Model, n: &Names) -> TokenStream {
    let rt = rt();
    let Names { model, factory, .. } = n;
    let table = &m.table;
    if !(m.backends.is_empty() || m.backends.iter().any(|b| b == "Mysql")) {
        return TokenStream::new();
    }
    let callback = format_ident!("__factory_read_back_impl_{}", factory);
    let select = quote!(.select(<#model as #rt::diesel::SelectableHelper<<$conn as #rt::diesel::Connection>::Backend>>::as_select()));
    let key = match m.primary_key.as_slice() {
        [one] if !m.fields[*one].is_inserted() && is_integer(&m.fields[*one].ty) => {
            Some(&m.fields[*one].column)
        }
        _ => None,
    };
    let (last, range) = match key {
        Some(column) => (
            quote! {
                #table::table
                    .filter(#rt::diesel::ExpressionMethods::eq(
                        #table::#column,
                        #rt::diesel::dsl::sql::<<#table::#column as #rt::diesel::Expression>::SqlType>("LAST_INSERT_ID()"),
                    ))
                    #select
                    .first(conn)
            },
            quote! {
                #table::table
                    .filter(#rt::diesel::ExpressionMethods::between(#table::#column, first, last))
                    .order(#rt::diesel::ExpressionMethods::asc(#table::#column))
                    #select
                    .load(conn)
            },
        ),
        None => {
            let message = format!(
                "{factory} cannot read a row back by LAST_INSERT_ID(): its primary key is not one database-assigned integer"
            );
            let error = quote!(#rt::core::result::Result::Err(
                #rt::diesel::result::Error::QueryBuilderError(#message.into())
            ));
            (
                quote!({ let _ = conn; #error }),
                quote!({ let _ = (conn, first, last); #error }),
            )
        }
    };
    quote! {
        macro_rules! #callback {
            ($conn:ty) => {
                #[automatically_derived]
                impl #rt::ReadBack<$conn> for #factory {
                    fn read_last_inserted(conn: &mut $conn) -> #rt::diesel::QueryResult<#model> {
                        #[allow(unused_imports)]
                        use #rt::diesel::{QueryDsl, RunQueryDsl};
                        #last
                    }

                    fn read_range(
                        conn: &mut $conn,
                        first: <Self as #rt::Factory>::Key,
                        last: <Self as #rt::Factory>::Key,
                    ) -> #rt::diesel::QueryResult<::std::vec::Vec<#model>> {
                        #[allow(unused_imports)]
                        use #rt::diesel::{QueryDsl, RunQueryDsl};
                        #range
                    }
                }
            };
        }
        ::factory_core::__for_backend!(#callback, Mysql);
    }
}

/// The body of `try_get_or_create`: look the row up by the `get_or_create` columns, else
/// create it with exactly the values looked up (a concurrent insert of the same row is found on
/// the retry).
fn get_or_create_lookup(m: &Model, n: &Names) -> TokenStream {
    let rt = rt();
    let (model, factory_name) = (&n.model, n.factory.to_string());
    if m.get_or_create.is_empty() {
        let msg = format!(
            "{factory_name} has no `get_or_create(..)` columns to look a row up by; add \
             `#[factory(get_or_create(<unique column>, ...))]`"
        );
        return quote!({
            let _ = (self, conn);
            #rt::core::result::Result::Err(#rt::FactoryError::Usage(#msg))
        });
    }
    let table = &m.table;
    let fields: Vec<&Field> = m.get_or_create.iter().map(|&i| &m.fields[i]).collect();
    // `col = NULL` matches nothing: a `None` is looked up with `IS NULL`.
    let filters = fields.iter().map(|f| {
        let (ident, column) = (&f.ident, &f.column);
        if is_option(&f.ty) {
            quote! {
                let query = match &probe.#ident {
                    #rt::core::option::Option::Some(value) => query.filter(#rt::diesel::ExpressionMethods::eq(#table::#column, #rt::core::clone::Clone::clone(value))),
                    #rt::core::option::Option::None => query.filter(#rt::diesel::ExpressionMethods::is_null(#table::#column)),
                };
            }
        } else {
            quote!(let query = query.filter(#rt::diesel::ExpressionMethods::eq(#table::#column, #rt::core::clone::Clone::clone(&probe.#ident)));)
        }
    });
    let pins = fields.iter().map(|f| {
        let ident = &f.ident;
        quote!(.#ident(#rt::core::clone::Clone::clone(&probe.#ident)))
    });
    quote! {
        use #rt::diesel::{OptionalExtension, QueryDsl, RunQueryDsl, SelectableHelper};
        #rt::claim_sequence_token(conn);
        let probe = self.clone().attributes();
        let find = |conn: &mut $conn| {
            let query = #table::table
                .select(<#model as SelectableHelper<<$conn as #rt::diesel::Connection>::Backend>>::as_select())
                .into_boxed::<<$conn as #rt::diesel::Connection>::Backend>();
            #(#filters)*
            query
                .first::<#model>(conn)
                .optional()
                .map_err(|e| #rt::FactoryError::from_diesel(#factory_name, <Self as #rt::Factory>::TABLE_NAME, e))
        };
        if let #rt::core::option::Option::Some(found) = find(conn)? {
            return #rt::core::result::Result::Ok(found);
        }
        let pinned = self #(#pins)*;
        // A savepoint, so that on PostgreSQL the failed insert does not abort the surrounding
        // transaction before the retry can look again.
        match #rt::in_transaction::<Self, $conn, _>(true, conn, |conn| <Self as #rt::Create<$conn>>::try_create(pinned, conn)) {
            #rt::core::result::Result::Err(error)
                if error.constraint_kind() == #rt::core::option::Option::Some(#rt::ConstraintKind::Unique) =>
            {
                find(conn)?.ok_or(error)
            }
            other => other,
        }
    }
}

/// Integer key types, whose values MySQL's `LAST_INSERT_ID()` reports.
fn is_integer(ty: &syn::Type) -> bool {
    const INTEGERS: &[&str] = &["i16", "i32", "i64", "u16", "u32", "u64"];
    matches!(ty, syn::Type::Path(p) if p.qself.is_none()
        && p.path.segments.last().is_some_and(|s| INTEGERS.contains(&s.ident.to_string().as_str())))
}

/// After a compile error: the factory's name still resolves and implements the traits other
/// models' `sub` and `related` need, so the user sees the real error rather than a screen of
/// follow-on ones. Nothing here runs: the crate does not compile.
pub fn fallback(input: &syn::DeriveInput) -> TokenStream {
    let rt = rt();
    let (model, vis) = (&input.ident, &input.vis);
    let factory = format_ident!("{}Factory", model);
    let callback = format_ident!("__factory_fallback_impl_{}", factory);
    let declaration = quote! {
        #[derive(Clone, Debug, Default)]
        #vis struct #factory;
    };
    // A generic model cannot be named without its parameters: one more error to read.
    if !input.generics.params.is_empty() {
        return declaration;
    }
    let name = factory.to_string();
    quote! {
        #declaration
        const _: () = {
            impl #model {
                pub fn factory() -> #factory {
                    #factory
                }
            }

            impl #rt::Factory for #factory {
                type Model = #model;
                type Attributes = ();
                type Table = #rt::fallback::unused::table;
                type Row = ();
                type Key = i32;
                const NAME: &'static str = #name;
                const TABLE_NAME: &'static str = "";
                const COLUMNS: usize = 0;
                const KEY_COLUMNS: &'static [&'static str] = &[];
                fn table() -> Self::Table { #rt::fallback::unused::table }
                fn build(self) -> #model { #rt::core::unreachable!() }
                fn attributes(self) {}
                fn row(_: ()) {}
                fn key_of(_: &#model) -> i32 { #rt::core::unreachable!() }
                fn key(_: &()) -> #rt::core::option::Option<i32> { #rt::core::option::Option::None }
                fn key_text(_: &#model) -> ::std::vec::Vec<::std::string::String> { ::std::vec::Vec::new() }
                fn key_from_insert_id(_: u64) -> #rt::core::option::Option<i32> { #rt::core::option::Option::None }
            }

            macro_rules! #callback {
                ($conn:ty) => {
                    impl #rt::Create<$conn> for #factory {
                        fn try_create(self, _: &mut $conn) -> #rt::core::result::Result<#model, #rt::FactoryError> {
                            #rt::core::unreachable!()
                        }
                        fn try_create_batch_with(
                            self,
                            _: usize,
                            _: impl #rt::core::ops::FnMut(usize, Self) -> Self,
                            _: &mut $conn,
                        ) -> #rt::core::result::Result<::std::vec::Vec<#model>, #rt::FactoryError> {
                            #rt::core::unreachable!()
                        }
                        fn try_get_or_create(self, _: &mut $conn) -> #rt::core::result::Result<#model, #rt::FactoryError> {
                            #rt::core::unreachable!()
                        }
                    }
                };
            }
            ::factory_core::__for_each_connection!(#callback);
        };
    }
}
