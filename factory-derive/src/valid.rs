//! Validation: turns the parsed attributes into a [`Model`] the expansion can trust, collecting
//! every mistake with the span of the token that made it.

use crate::ast::{self, FieldInput, ModelInput, RelatedDef, TraitDef, TransientDef, Verbatim};
use proc_macro2::Span;
use quote::format_ident;
use std::collections::{BTreeMap, HashMap, HashSet};
use syn::spanned::Spanned;
use syn::{Expr, ExprClosure, Ident, LitStr, Path, Type};

/// Names the factory generates itself; a field, transient or trait cannot take them.
pub const RESERVED: &[&str] = &[
    "new",
    "build",
    "build_list",
    "build_list_with",
    "attributes",
    "create",
    "try_create",
    "create_batch",
    "try_create_batch",
    "create_batch_with",
    "try_create_batch_with",
    "reset_sequences",
    "get_or_create",
    "try_get_or_create",
    "clone",
    "default",
];

pub struct Model {
    pub ident: Ident,
    pub vis: syn::Visibility,
    pub table: Path,
    pub fields: Vec<Field>,
    /// Indexes into `fields` of the primary key (Diesel's `primary_key(..)`, else `id`); empty
    /// when the model does not hold its key.
    pub primary_key: Vec<usize>,
    /// The backends of Diesel's `check_for_backend(..)`, by their type's name (`Pg`); empty
    /// for every backend.
    pub backends: Vec<Ident>,
    /// Diesel's `belongs_to(..)`: each parent model with the field of its foreign key.
    pub belongs_to: Vec<(Path, Ident)>,
    pub traits: Vec<TraitDef>,
    pub transients: Vec<TransientDef>,
    pub after_build: Option<Callback>,
    pub after_create: Option<Callback>,
    /// The hook async connections run instead of `after_create`.
    pub after_create_async: Option<Callback>,
    pub related: Vec<Related>,
    /// Indexes into `fields` of the columns `get_or_create` looks a row up by.
    pub get_or_create: Vec<usize>,
}

/// `related(items(factory = OrderItemFactory, key = order_id, count = 2))`: rows created after
/// this one, each with `key` set to this row's primary key.
pub struct Related {
    pub name: Ident,
    pub factory: Path,
    pub key: Ident,
    pub count: Option<Expr>,
}

pub struct Field {
    pub ident: Ident,
    pub ty: Type,
    pub column: Ident,
    pub source: Source,
    /// Diesel's `serialize_as`: the type the field is converted into to be written.
    pub serialize_as: Option<Type>,
    /// Diesel's `skip_insertion`, `select_expression` or `embed`: not a column an insert
    /// writes (the factory still builds it).
    pub not_column: bool,
    /// The name of the field's setter: its own, or `set_<field>` when a trait has its name.
    pub setter: Ident,
}

pub enum Source {
    /// No attribute: `Default::default()`.
    TypeDefault,
    Default(Expr),
    /// `sequence = "user<n>@x"`: the `format!` string with `<n>` as `{0}`.
    Template(LitStr),
    /// `sequence = |n| ..` or a function of `n`.
    SequenceFn(Expr),
    Faker(Expr),
    Lazy(Callback),
    DbGenerated,
    /// `db_default`: the database's default, unless the factory is given a value.
    DbDefault,
    /// `sub = UserFactory` on `user_id`: the parent's key. One parent, or several a
    /// polymorphic key chooses between (the first is the default).
    Sub {
        parents: Vec<Parent>,
        nullable: bool,
    },
}

/// A parent a `sub` key points at: its factory, the association's name (`user` gives
/// `.user(&u)` and `.user_with(..)`), and the fields choosing it sets.
pub struct Parent {
    pub factory: Path,
    pub name: Ident,
    pub sets: Vec<(Ident, Expr)>,
}

/// A user closure (or, for hooks, a path) and whether it also takes the transients.
pub struct Callback {
    pub expr: Expr,
    pub with_transients: bool,
}

impl Field {
    /// Whether the factory can set the field (it is not assigned by the database).
    pub fn is_inserted(&self) -> bool {
        !matches!(self.source, Source::DbGenerated)
    }

    /// Whether the insert writes the field's column (always, or when set for `db_default`).
    pub fn is_written(&self) -> bool {
        self.is_inserted() && !self.not_column
    }
}

pub fn validate(input: ModelInput) -> darling::Result<Model> {
    let mut errors = darling::Error::accumulator();

    if let Some(param) = input.generics.params.first() {
        let message = match param {
            syn::GenericParam::Lifetime(_) => {
                "#[derive(Factory)] needs a model that owns its values: a factory builds rows, it cannot lend borrowed fields; derive it on the owned (Queryable) model"
            }
            _ => "#[derive(Factory)] does not support generic models: a Diesel model maps one table",
        };
        errors.push(darling::Error::custom(message).with_span(param));
    }

    let parsed = errors.handle(ast::diesel_attrs(&input.attrs));
    let diesel = parsed.unwrap_or_default();

    let inputs = input
        .data
        .take_struct()
        .map(|f| f.fields)
        .unwrap_or_default();
    let field_count = inputs.len();
    let mut fields = Vec::with_capacity(inputs.len());
    for field in inputs {
        if let Some(field) = errors.handle(validate_field(field)) {
            fields.push(field);
        }
    }

    let mut transients = input.transient.map(|t| t.0).unwrap_or_default();
    transients.extend(
        input
            .insert_only
            .map(|t| t.0)
            .unwrap_or_default()
            .into_iter()
            .map(|t| TransientDef { column: true, ..t }),
    );
    let traits = input.traits.map(|t| t.0).unwrap_or_default();
    let field_names: HashMap<String, &Field> =
        fields.iter().map(|f| (f.ident.to_string(), f)).collect();

    let mut seen = HashSet::new();
    for t in &transients {
        let name = t.name.to_string();
        if !seen.insert(name.clone()) {
            errors.push(
                darling::Error::custom(format!("transient `{name}` is declared twice"))
                    .with_span(&t.name),
            );
        } else if field_names.contains_key(&name) {
            let message = if t.column {
                format!("insert_only column `{name}` has the name of a field, which the insert already writes")
            } else {
                format!("transient `{name}` has the name of a field; transients are values that are not columns")
            };
            errors.push(darling::Error::custom(message).with_span(&t.name));
        } else if RESERVED.contains(&name.as_str()) {
            errors.push(reserved(&t.name, "a transient"));
        }
    }

    check_traits(&traits, &field_names, &transients, &mut errors);
    // A trait named like a field (`published`, as FactoryBot users name them) takes the name;
    // the field's setter becomes `set_published`.
    for f in &mut fields {
        if traits.iter().any(|t| t.name == f.ident) {
            f.setter = format_ident!("set_{}", syn::ext::IdentExt::unraw(&f.ident));
        }
    }

    let after_build = input.after_build.and_then(|hook| {
        errors.handle(callback(
            hook,
            "after_build",
            &["model"],
            &["model", "transients"],
        ))
    });
    let after_create = input.after_create.and_then(|hook| {
        errors.handle(callback(
            hook,
            "after_create",
            &["model", "conn"],
            &["model", "transients", "conn"],
        ))
    });
    let after_create_async = input.after_create_async.and_then(|hook| {
        if let Expr::Closure(closure) = &hook.expr {
            if closure.asyncness.is_none() {
                errors.push(
                    darling::Error::custom(
                        "`after_create_async` takes an async closure: `async |model, conn| ...` \
                         (or the path of an `async fn`)",
                    )
                    .with_span(&closure.or1_token),
                );
                return None;
            }
        }
        errors.handle(callback(
            hook,
            "after_create_async",
            &["model", "conn"],
            &["model", "transients", "conn"],
        ))
    });
    let related: Vec<Related> = input
        .related
        .map(|r| r.0)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|def| errors.handle(related(def)))
        .collect();
    let mut get_or_create = Vec::new();
    for path in input.get_or_create.iter().flat_map(|list| list.iter()) {
        match fields.iter().position(|f| path.is_ident(&f.ident)) {
            Some(i) if matches!(fields[i].source, Source::Sub { .. }) => errors.push(
                darling::Error::custom(
                    "`get_or_create` cannot look rows up by a `sub` key: without a given parent the key is not known before the parent is created",
                )
                .with_span(path),
            ),
            Some(i) if fields[i].is_written() && !matches!(fields[i].source, Source::DbDefault) => {
                get_or_create.push(i)
            }
            Some(i) => errors.push(
                darling::Error::custom(format!(
                    "`get_or_create` looks rows up by values the factory inserts; this field is {}",
                    match fields[i].source {
                        Source::DbGenerated => "`db_generated`",
                        Source::DbDefault => "`db_default` (its value is the database's unless set)",
                        _ => "not a column the insert writes",
                    }
                ))
                .with_span(path),
            ),
            None => {
                let known: Vec<String> = fields.iter().map(|f| f.ident.to_string()).collect();
                errors.push(
                    darling::Error::custom(format!(
                        "`get_or_create` names `{}`, which is not a field of this model",
                        ast::path_text(path)
                    ))
                    .with_span(path)
                    .note_alternative(&ast::path_text(path), known.iter()),
                )
            }
        }
    }
    check_subs(&input.ident, &fields, &mut errors);
    check_method_names(&fields, &transients, &traits, &related, &mut errors);
    if field_count > 0
        && fields.len() == field_count
        && fields.iter().all(|f| !f.is_written())
        && !transients.iter().any(|t| t.column)
    {
        errors.push(
            darling::Error::custom(format!(
                "every field of `{}` is `db_generated`: an insert would have no column to write",
                input.ident
            ))
            .with_span(&input.ident),
        );
    }

    // Diesel's `primary_key(..)` names columns (a field's `column_name`, else its name);
    // without it the key is the `id` column.
    let key_names: Vec<(String, Span)> = match &diesel.primary_key {
        Some(keys) => keys.iter().map(|k| (k.to_string(), k.span())).collect(),
        None => vec![("id".to_owned(), input.ident.span())],
    };
    let mut primary_key = Vec::new();
    // A field that did not validate, or a model of the wrong shape, has been reported; do not
    // also call its key missing.
    if fields.len() == field_count && input.generics.params.is_empty() {
        for (name, span) in &key_names {
            match fields.iter().position(|f| f.column == name.as_str()) {
                Some(i) => primary_key.push(i),
                None => {
                    let known: Vec<String> = fields.iter().map(|f| f.column.to_string()).collect();
                    let message = if diesel.primary_key.is_some() {
                        format!(
                            "`primary_key` names the column `{name}`, which no field of `{}` maps (a field maps the column of its name, or of its `#[diesel(column_name = ..)]`)",
                            input.ident
                        )
                    } else {
                        format!(
                            "`{}` has no `id` field, Diesel's default primary key: name the key columns with `#[diesel(primary_key(..))]`; a factory needs the key to point foreign keys at its rows and to find them again for cleanup",
                            input.ident
                        )
                    };
                    errors.push(
                        darling::Error::custom(message)
                            .with_span(span)
                            .note_alternative(name, known.iter()),
                    );
                }
            }
        }
    }
    // A single integer key the factory writes with no value source: every row would get 0.
    // (A part of a composite key may well be a constant, like a kind.)
    if let [i] = primary_key[..] {
        let f = &fields[i];
        if matches!(f.source, Source::TypeDefault) && is_integer(&f.ty) {
            errors.push(
                darling::Error::custom(format!(
                    "primary key `{}` has no value source, so every row would be inserted with key 0 (the second insert fails): mark it `#[factory(db_generated)]` when the database assigns it, or give it a `sequence`",
                    f.ident
                ))
                .with_span(&f.ident),
            );
        }
    }

    let mut backends = Vec::new();
    for path in diesel.backends.iter().flatten() {
        match path.segments.last().map(|s| &s.ident) {
            Some(ident) if ["Sqlite", "Pg", "Mysql"].contains(&ident.to_string().as_str()) => {
                backends.push(ident.clone())
            }
            _ => errors.push(
                darling::Error::custom(format!(
                    "factories create rows on Diesel's `Sqlite`, `Pg` and `Mysql` backends; `{}` in `check_for_backend` is not one of them",
                    ast::path_text(path)
                ))
                .with_span(path),
            ),
        }
    }

    // Without `table_name`, the table Diesel's derives infer: `OrderItem`, `order_items`.
    let table = diesel.table_name.unwrap_or_else(|| {
        Ident::new(
            &infer_table_name(&input.ident.to_string()),
            input.ident.span(),
        )
        .into()
    });
    // Diesel's default foreign key of `belongs_to(User)` is `user_id`.
    let belongs_to = diesel
        .belongs_to
        .into_iter()
        .map(|(parent, key)| {
            let key = key.unwrap_or_else(|| {
                let name = parent.segments.last().map(|s| s.ident.to_string());
                format_ident!("{}_id", snake_case(&name.unwrap_or_default()))
            });
            (parent, key)
        })
        .collect();
    errors.finish_with(Model {
        belongs_to,
        primary_key,
        backends,
        ident: input.ident,
        vis: input.vis,
        table,
        fields,
        traits,
        transients,
        after_build,
        after_create,
        after_create_async,
        related,
        get_or_create,
    })
}

fn related(def: RelatedDef) -> darling::Result<Related> {
    let mut errors = darling::Error::accumulator();
    let missing = |what: &str, example: &str| {
        darling::Error::custom(format!(
            "related `{}` needs `{what}`: `{}({example}, ...)`",
            def.name, def.name
        ))
        .with_span(&def.name)
    };
    if def.factory.is_none() {
        errors.push(missing("factory", "factory = OrderItemFactory"));
    }
    if def.key.is_none() {
        errors.push(missing("key", "key = order_id"));
    }
    errors.finish()?;
    Ok(Related {
        name: def.name,
        factory: def.factory.expect("checked above"),
        key: def.key.expect("checked above"),
        count: def.count,
    })
}

/// Every method the factory will have, by name, with where it came from: two of one name would
/// be a confusing error in generated code, so say it here.
fn check_method_names(
    fields: &[Field],
    transients: &[TransientDef],
    traits: &[TraitDef],
    related: &[Related],
    errors: &mut darling::error::Accumulator,
) {
    let mut methods: HashMap<String, String> = RESERVED
        .iter()
        .map(|r| (r.to_string(), "a method of every factory".to_owned()))
        .collect();
    for f in fields.iter().filter(|f| f.is_inserted()) {
        methods.insert(
            f.setter.to_string(),
            format!("the setter of field `{}`", f.ident),
        );
    }
    for t in transients {
        methods.insert(
            t.name.to_string(),
            format!("the setter of transient `{}`", t.name),
        );
    }
    for t in traits {
        methods.insert(t.name.to_string(), format!("trait `{}`", t.name));
    }
    let mut pending = Vec::new();
    let mut claim_error = |e: darling::Error| pending.push(e);
    let mut clashes = Vec::new();
    let mut claim = |name: String, span: &dyn Spanned, what: String| {
        if let Some(owner) = methods.get(&name) {
            clashes.push(
                darling::Error::custom(format!(
                    "{what} needs a method `{name}`, but that is already {owner}"
                ))
                .with_span(&span.span()),
            );
        } else {
            methods.insert(name, what);
        }
    };
    for f in fields {
        if let Source::Sub { parents, .. } = &f.source {
            for Parent { name, .. } in parents {
                let what = format!("`sub` on `{}`", f.ident);
                claim(name.to_string(), name, what.clone());
                claim(format!("{name}_with"), name, what);
            }
        }
    }
    let mut seen_related = HashSet::new();
    for r in related {
        if !seen_related.insert(r.name.to_string()) {
            let twice = darling::Error::custom(format!("related `{}` is declared twice", r.name));
            claim_error(twice.with_span(&r.name));
            continue;
        }
        let what = format!("related `{}`", r.name);
        claim(format!("with_{}", r.name), &r.name, what.clone());
        claim(format!("with_{}_from", r.name), &r.name, what);
    }
    pending
        .into_iter()
        .chain(clashes)
        .for_each(|e| errors.push(e));
}

/// The fields a parent's choice sets exist and are written; a required key does not point at
/// the model's own factory (creating a row would create its parent, and that one its parent,
/// for ever).
fn check_subs(model: &Ident, fields: &[Field], errors: &mut darling::error::Accumulator) {
    let own = format!("{model}Factory");
    for f in fields {
        let Source::Sub { parents, nullable } = &f.source else {
            continue;
        };
        for parent in parents {
            let last = parent.factory.segments.last().map(|s| s.ident.to_string());
            if !nullable
                && (last.as_deref() == Some(own.as_str()) || last.as_deref() == Some("Self"))
            {
                errors.push(
                    darling::Error::custom(format!(
                        "`{}` points at `{model}` itself and cannot be NULL: every row would need a parent created first, and that one its own parent, for ever; make the field an `Option` (a root row has none) or give the key without `sub`",
                        f.ident
                    ))
                    .with_span(&parent.factory),
                );
            }
            for (key, _) in &parent.sets {
                match fields.iter().find(|g| g.ident == *key) {
                    Some(g) if g.ident == f.ident => errors.push(
                        darling::Error::custom(format!(
                            "`{key}` is the key this `sub` sets; list the other fields choosing `{}` sets",
                            parent.name
                        ))
                        .with_span(key),
                    ),
                    Some(g) if g.is_inserted() => {}
                    Some(_) => errors.push(
                        darling::Error::custom(format!(
                            "`sub` `{}` sets `{key}`, which is `db_generated`: the database assigns it",
                            parent.name
                        ))
                        .with_span(key),
                    ),
                    None => {
                        let known: Vec<String> = fields.iter().map(|g| g.ident.to_string()).collect();
                        errors.push(
                            darling::Error::custom(format!(
                                "`sub` `{}` sets `{key}`, which is not a field of this model",
                                parent.name
                            ))
                            .with_span(key)
                            .note_alternative(&key.to_string(), known.iter()),
                        );
                    }
                }
            }
        }
    }
}

fn reserved(ident: &Ident, what: &str) -> darling::Error {
    darling::Error::custom(format!(
        "`{ident}` cannot be {what}: the factory has a method of that name"
    ))
    .with_span(ident)
}

fn validate_field(input: FieldInput) -> darling::Result<Field> {
    let mut errors = darling::Error::accumulator();
    let Some(ident) = input.ident else {
        return Err(darling::Error::custom("expected a named field").with_span(&input.ty));
    };
    if RESERVED.contains(&ident.to_string().as_str()) {
        errors.push(darling::Error::custom(format!(
            "a field named `{ident}` would clash with the factory's `{ident}` method; rename the field and keep the column with `#[diesel(column_name = {ident})]`"
        )).with_span(&ident));
    }
    let diesel = errors
        .handle(ast::diesel_attrs(&input.attrs))
        .unwrap_or_default();

    // Every value source given, in the order written, with the span of its key.
    let mut sources: Vec<(&str, Span)> = Vec::new();
    if let Some(v) = &input.default {
        sources.push(("default", v.key));
    }
    if let Some(v) = &input.sequence {
        sources.push(("sequence", v.key));
    }
    if let Some(v) = &input.faker {
        sources.push(("faker", v.key));
    }
    if let Some(v) = &input.lazy {
        sources.push(("lazy", v.key));
    }
    if let Some(v) = input.sub.first() {
        sources.push(("sub", v.key));
    }
    if let (Some(name), true) = (&input.name, input.sub.is_empty()) {
        errors.push(
            darling::Error::custom(
                "`name` names a `sub` association: `#[factory(sub = UserFactory, name = author)]`",
            )
            .with_span(&name.key),
        );
    }
    if input.db_generated.is_present() {
        for (name, span) in &sources {
            errors.push(
                darling::Error::custom(format!(
                    "`{ident}` is `db_generated`: the database assigns it and inserts leave it out, so `{name}` can never apply; remove one of them"
                ))
                .with_span(span),
            );
        }
        if let Some(span) = input.db_default.span() {
            errors.push(
                darling::Error::custom(format!(
                    "`{ident}` is `db_generated`, which the database always assigns; `db_default` is for a column a test may also set: remove one of them"
                ))
                .with_span(&span),
            );
        }
    } else if input.db_default.is_present() {
        for (name, span) in &sources {
            errors.push(
                darling::Error::custom(format!(
                    "`{ident}` is `db_default`: unless a test sets it, the database's default applies, so `{name}` can never apply; remove one of them"
                ))
                .with_span(span),
            );
        }
    } else if sources.len() > 1 {
        let (first, _) = sources[0];
        for (name, span) in &sources[1..] {
            errors.push(
                darling::Error::custom(format!(
                    "`{ident}` already gets its value from `{first}`; a field takes one value source, so remove `{name}`"
                ))
                .with_span(span),
            );
        }
    }

    if let Some(locale) = &input.locale {
        match &input.faker {
            None => errors.push(
                darling::Error::custom("`locale` applies to a `faker`; add `faker = <Faker>` or remove `locale`")
                    .with_span(&locale.key),
            ),
            Some(faker) if !matches!(faker.expr, Expr::Path(_)) => errors.push(
                darling::Error::custom(
                    "with `locale`, name the locale-taking faker without arguments, e.g. `faker = fake::faker::name::raw::FirstName, locale = fake::locales::FR_FR`; the locale becomes its argument",
                )
                .with_span(&faker.expr),
            ),
            Some(_) => {}
        }
    }

    let source = if input.db_generated.is_present() {
        Source::DbGenerated
    } else if input.db_default.is_present() {
        Source::DbDefault
    } else if let Some(v) = input.default {
        Source::Default(v.expr)
    } else if let Some(v) = input.sequence {
        errors.handle(sequence(v)).unwrap_or(Source::TypeDefault)
    } else if let Some(v) = input.faker {
        Source::Faker(match input.locale {
            Some(locale) => {
                let (faker, locale) = (v.expr, locale.expr);
                syn::parse_quote_spanned!(faker.span()=> #faker(#locale))
            }
            None => v.expr,
        })
    } else if let Some(v) = input.lazy {
        errors
            .handle(callback(v, "lazy", &["model"], &["model", "transients"]))
            .map(Source::Lazy)
            .unwrap_or(Source::TypeDefault)
    } else if !input.sub.is_empty() {
        errors
            .handle(sub(input.sub, input.name, &ident, &input.ty))
            .unwrap_or(Source::TypeDefault)
    } else {
        Source::TypeDefault
    };

    errors.finish_with(Field {
        column: diesel.column_name.unwrap_or_else(|| ident.clone()),
        setter: ident.clone(),
        ident,
        ty: input.ty,
        source,
        serialize_as: diesel.serialize_as,
        not_column: diesel.not_column,
    })
}

/// `sub = UserFactory` on a foreign key `user_id`: the association is `user`, unless `name`
/// says otherwise (`published_by` has no name of its own; `crate_id` cannot give `crate`).
fn sub(
    inputs: Vec<ast::SubInput>,
    name: Option<Verbatim>,
    field: &Ident,
    ty: &Type,
) -> darling::Result<Source> {
    let mut errors = darling::Error::accumulator();
    let several = inputs.len() > 1;
    if let (Some(name), true) = (&name, several) {
        errors.push(
            darling::Error::custom(
                "with several `sub`s, name each one inside it: `sub(UserFactory, name = user), sub(TeamFactory, name = team)`",
            )
            .with_span(&name.key),
        );
    }
    let outer_name = match name {
        Some(v) if !several => match &v.expr {
            Expr::Path(p) if p.path.get_ident().is_some() => p.path.get_ident().cloned(),
            other => {
                errors.push(
                    darling::Error::custom("`name` takes the association's name: `name = author`")
                        .with_span(other),
                );
                None
            }
        },
        _ => None,
    };
    let text = syn::ext::IdentExt::unraw(field).to_string();
    let mut parents = Vec::with_capacity(inputs.len());
    for input in inputs {
        let Expr::Path(path) = input.factory else {
            errors.push(
                darling::Error::custom("`sub` names the parent's factory: `sub = UserFactory`")
                    .with_span(&input.factory),
            );
            continue;
        };
        let given = input.name.or_else(|| outer_name.clone());
        let name = match given {
            Some(name) => {
                let text = syn::ext::IdentExt::unraw(&name).to_string();
                if ["self", "Self", "super", "crate"].contains(&text.as_str()) {
                    errors.push(
                        darling::Error::custom(format!(
                            "`{text}` cannot be a method name; name the association otherwise, e.g. `name = {}`",
                            another_name(&text)
                        ))
                        .with_span(&name),
                    );
                    continue;
                }
                name
            }
            None if several => {
                errors.push(
                    darling::Error::custom(format!(
                        "`{field}` points at one of several parents: name each association, e.g. `sub({}, name = user)`",
                        ast::path_text(&path.path)
                    ))
                    .with_span(&input.key),
                );
                continue;
            }
            None => {
                let Some(stem) = text
                    .strip_suffix("_id")
                    .filter(|n| !n.is_empty() && *n != "_")
                else {
                    errors.push(
                        darling::Error::custom(format!(
                            "`{field}` is not named after its parent (`<parent>_id`): name the association, e.g. `#[factory(sub = {}, name = {})]`",
                            ast::path_text(&path.path),
                            association_name(&path.path)
                        ))
                        .with_span(&input.key),
                    );
                    continue;
                };
                // `type_id` gives `.r#type(..)`; a name that cannot be a method at all is an
                // error that says how to name it.
                match syn::parse_str::<Ident>(stem) {
                    Ok(ident) => Ident::new(&ident.to_string(), field.span()),
                    Err(_) if ["self", "Self", "super", "crate"].contains(&stem) => {
                        errors.push(darling::Error::custom(format!(
                            "`sub` on `{field}` would name its methods `{stem}` and `{stem}_with`, and `{stem}` cannot be a method name: name the association, e.g. `#[factory(sub = {}, name = {})]`",
                            ast::path_text(&path.path),
                            another_name(stem)
                        ))
                        .with_span(&input.key));
                        continue;
                    }
                    Err(_) => Ident::new_raw(stem, field.span()),
                }
            }
        };
        parents.push(Parent {
            factory: path.path,
            name,
            sets: input.sets,
        });
    }
    errors.finish_with(Source::Sub {
        parents,
        nullable: is_option(ty),
    })
}

/// The table name Diesel infers for a model without `table_name`: the struct's name in snake
/// case, with an `s`.
fn infer_table_name(model: &str) -> String {
    snake_case(model) + "s"
}

/// `OrderItem`: `order_item`.
fn snake_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    for (i, c) in name.chars().enumerate() {
        if c.is_uppercase() && i > 0 {
            out.push('_');
        }
        out.extend(c.to_lowercase());
    }
    out
}

/// A name to suggest for an association: its factory's, in snake case (`UserFactory`: `user`).
fn association_name(factory: &Path) -> String {
    let last = factory
        .segments
        .last()
        .map(|s| s.ident.to_string())
        .unwrap_or_default();
    let out = snake_case(last.strip_suffix("Factory").unwrap_or(&last));
    match out.as_str() {
        "" => "parent".to_owned(),
        "crate" | "self" | "super" | "type" => another_name(&out).to_owned(),
        _ => out,
    }
}

/// A name to suggest for an association whose own name is a keyword.
fn another_name(keyword: &str) -> &'static str {
    if keyword == "crate" {
        "krate"
    } else {
        "parent"
    }
}

/// Integer types, written so.
pub fn is_integer(ty: &Type) -> bool {
    const INTEGERS: &[&str] = &["i8", "i16", "i32", "i64", "u8", "u16", "u32", "u64"];
    matches!(ty, Type::Path(p) if p.qself.is_none()
        && p.path.segments.last().is_some_and(|s| INTEGERS.contains(&s.ident.to_string().as_str())))
}

/// `Option<..>`, written so: the field maps a nullable column.
pub fn is_option(ty: &Type) -> bool {
    matches!(ty, Type::Path(p) if p.qself.is_none()
        && p.path.segments.last().is_some_and(|s| s.ident == "Option"))
}

fn sequence(v: Verbatim) -> darling::Result<Source> {
    match v.expr {
        Expr::Lit(syn::ExprLit {
            lit: syn::Lit::Str(lit),
            ..
        }) => {
            if lit.value().contains("<n>") {
                Ok(Source::Template(lit))
            } else {
                Err(darling::Error::custom(format!(
                    "sequence template {:?} has no `<n>`: every value would be the same; write e.g. \"user<n>@example.com\"",
                    lit.value()
                ))
                .with_span(&lit))
            }
        }
        Expr::Closure(closure) if closure.inputs.len() == 1 => {
            Ok(Source::SequenceFn(Expr::Closure(closure)))
        }
        Expr::Closure(closure) => Err(darling::Error::custom(format!(
            "a sequence closure takes one argument, the number: `|n| ...`, not {}",
            arguments(closure.inputs.len())
        ))
        .with_span(&closure.inputs_span(1))),
        Expr::Path(path) => Ok(Source::SequenceFn(Expr::Path(path))),
        other => Err(darling::Error::custom(
            "expected a template with `<n>` (\"user<n>@example.com\"), a closure `|n| ...` or a function of the number",
        )
        .with_span(&other)),
    }
}

trait ClosureSpan {
    fn inputs_span(&self, allowed: usize) -> Span;
}

impl ClosureSpan for ExprClosure {
    /// Where a wrong argument count shows: the first argument too many, else the `||`.
    fn inputs_span(&self, allowed: usize) -> Span {
        match self.inputs.iter().nth(allowed) {
            Some(extra) => extra.span(),
            None => self.or2_token.span,
        }
    }
}

fn arguments(n: usize) -> String {
    match n {
        1 => "1 argument".into(),
        n => format!("{n} arguments"),
    }
}

/// `lazy` and hook closures take the `short` arguments or the `long` ones (the same plus the
/// transients), or be the path of a function taking the `short` arguments.
fn callback(v: Verbatim, key: &str, short: &[&str], long: &[&str]) -> darling::Result<Callback> {
    let shape = |args: &[&str]| format!("|{}| ...", args.join(", "));
    match v.expr {
        Expr::Closure(closure)
            if closure.inputs.len() == short.len() || closure.inputs.len() == long.len() =>
        {
            Ok(Callback {
                with_transients: closure.inputs.len() == long.len(),
                expr: Expr::Closure(closure),
            })
        }
        Expr::Closure(closure) => Err(darling::Error::custom(format!(
            "{} `{key}` closure is `{}` or `{}`, not one with {}",
            if key.starts_with('a') { "an" } else { "a" },
            shape(short),
            shape(long),
            arguments(closure.inputs.len())
        ))
        .with_span(&closure.inputs_span(long.len()))),
        Expr::Path(path) => Ok(Callback {
            expr: Expr::Path(path),
            with_transients: false,
        }),
        other => Err(darling::Error::custom(format!(
            "`{key}` expects a closure `{key} = {}` or the path of a function taking the same arguments",
            shape(short)
        ))
        .with_span(&other)),
    }
}

fn check_traits(
    traits: &[TraitDef],
    fields: &HashMap<String, &Field>,
    transients: &[TransientDef],
    errors: &mut darling::error::Accumulator,
) {
    let transient_names: HashSet<String> = transients.iter().map(|t| t.name.to_string()).collect();
    let mut by_name: BTreeMap<String, &TraitDef> = BTreeMap::new();
    for t in traits {
        let name = t.name.to_string();
        if by_name.contains_key(&name) {
            errors.push(
                darling::Error::custom(format!("trait `{name}` is defined twice"))
                    .with_span(&t.name),
            );
            continue;
        }
        if transient_names.contains(&name) {
            errors.push(
                darling::Error::custom(format!(
                    "trait `{name}` has the name of a transient, whose setter is already called `{name}`"
                ))
                .with_span(&t.name),
            );
        } else if RESERVED.contains(&name.as_str()) {
            errors.push(reserved(&t.name, "a trait"));
        }
        by_name.insert(name, t);
    }

    let mut reported_cycles = HashSet::new();
    for t in traits {
        let mut set = HashSet::new();
        for (key, _) in &t.sets {
            let name = key.to_string();
            if !set.insert(name.clone()) {
                errors.push(
                    darling::Error::custom(format!("trait `{}` sets `{name}` twice", t.name))
                        .with_span(key),
                );
                continue;
            }
            match fields.get(&name) {
                Some(field) if !field.is_inserted() => errors.push(
                    darling::Error::custom(format!(
                        "trait `{}` sets `{name}`, which is `db_generated`: the database assigns it",
                        t.name
                    ))
                    .with_span(key),
                ),
                Some(_) => {}
                None if transient_names.contains(&name) => {}
                None => {
                    let known = fields.keys().chain(transient_names.iter());
                    errors.push(
                        darling::Error::custom(format!(
                            "trait `{}` sets `{name}`, which is not a field or transient of this model",
                            t.name
                        ))
                        .with_span(key)
                        .note_alternative(&name, known),
                    );
                }
            }
        }
        for inc in &t.includes {
            if !by_name.contains_key(&inc.to_string()) {
                errors.push(
                    darling::Error::custom(format!(
                        "trait `{}` includes `{inc}`, which is not a trait of this factory",
                        t.name
                    ))
                    .with_span(inc)
                    .note_alternative(&inc.to_string(), by_name.keys()),
                );
            } else if let Some(path) = cycle_from(inc, &t.name, &by_name) {
                let mut members: Vec<&str> = path.split(" -> ").collect();
                members.sort_unstable();
                members.dedup();
                if !reported_cycles.insert(members.join(",")) {
                    continue;
                }
                errors.push(
                    darling::Error::custom(format!(
                        "traits include each other in a cycle: {path}; calling `.{}()` would never end",
                        t.name
                    ))
                    .with_span(inc),
                );
            }
        }
    }
}

/// If following includes from `start` leads back to `target`, the cycle as text.
fn cycle_from(
    start: &Ident,
    target: &Ident,
    traits: &BTreeMap<String, &TraitDef>,
) -> Option<String> {
    let mut stack = vec![(
        start.to_string(),
        vec![target.to_string(), start.to_string()],
    )];
    let mut visited = HashSet::new();
    while let Some((name, path)) = stack.pop() {
        if *target == name {
            return Some(path.join(" -> "));
        }
        if !visited.insert(name.clone()) {
            continue;
        }
        if let Some(def) = traits.get(&name) {
            for inc in &def.includes {
                let mut next = path.clone();
                next.push(inc.to_string());
                stack.push((inc.to_string(), next));
            }
        }
    }
    None
}

trait NoteAlternative {
    fn note_alternative<'a>(self, name: &str, known: impl Iterator<Item = &'a String>) -> Self;
}

impl NoteAlternative for darling::Error {
    /// Appends "did you mean `x`?" when a known name is close to the misspelt one.
    fn note_alternative<'a>(self, name: &str, known: impl Iterator<Item = &'a String>) -> Self {
        let best = known
            .map(|k| (strsim::jaro_winkler(name, k), k))
            .filter(|(score, _)| *score > 0.8)
            .max_by(|a, b| a.0.total_cmp(&b.0));
        match best {
            Some((_, k)) => {
                let span = self.span();
                darling::Error::custom(format!("{self}; did you mean `{k}`?")).with_span(&span)
            }
            None => self,
        }
    }
}
