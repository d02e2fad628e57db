//! Parsing: the `#[factory(..)]` and `#[diesel(..)]` attributes as written, spans kept.
//!
//! Nothing here judges whether the attributes make sense together; `valid.rs` does.

use darling::{FromDeriveInput, FromField, FromMeta};
use proc_macro2::Span;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Attribute, Expr, Ident, Meta, Path, Token, Type};

/// `key = <expression>`, kept as written. (darling would parse a string literal's contents as
/// code, turning `default = "admin"` into the identifier `admin`.)
#[derive(Clone)]
pub struct Verbatim {
    /// The key's span, for errors about the key itself (`default` in `default = 1`).
    pub key: Span,
    pub expr: Expr,
}

impl FromMeta for Verbatim {
    fn from_meta(item: &Meta) -> darling::Result<Self> {
        match item {
            Meta::NameValue(nv) => Ok(Self {
                key: nv.path.span(),
                expr: nv.value.clone(),
            }),
            _ => {
                let key = path_text(item.path());
                Err(darling::Error::custom(format!("expected `{key} = ...`")).with_span(item))
            }
        }
    }
}

/// A key without a value, like `db_generated`. (darling's `Flag` says "Unexpected type
/// `bool`" for `db_generated = true`.)
#[derive(Default)]
pub struct Marker(Option<Span>);

impl Marker {
    pub fn is_present(&self) -> bool {
        self.0.is_some()
    }

    pub fn span(&self) -> Option<Span> {
        self.0
    }
}

impl FromMeta for Marker {
    fn from_meta(item: &Meta) -> darling::Result<Self> {
        match item {
            Meta::Path(path) => Ok(Self(Some(path.span()))),
            _ => {
                let key = path_text(item.path());
                Err(darling::Error::custom(format!(
                    "`{key}` takes no value: write `#[factory({key})]`"
                ))
                .with_span(item))
            }
        }
    }
}

/// `#[factory(..)]` on a field.
#[derive(FromField)]
#[darling(attributes(factory), forward_attrs(diesel))]
pub struct FieldInput {
    pub ident: Option<Ident>,
    pub ty: Type,
    pub attrs: Vec<Attribute>,
    pub default: Option<Verbatim>,
    pub sequence: Option<Verbatim>,
    pub faker: Option<Verbatim>,
    pub locale: Option<Verbatim>,
    pub lazy: Option<Verbatim>,
    #[darling(default)]
    pub db_generated: Marker,
    /// A column with a database default: left to it unless the test sets the field.
    #[darling(default)]
    pub db_default: Marker,
    /// `sub = UserFactory`, or several `sub(UserFactory, name = user, ..)` for a key that
    /// points at one of several tables.
    #[darling(multiple)]
    pub sub: Vec<SubInput>,
    /// The association's name for a single `sub = ..` (`name = krate`).
    pub name: Option<Verbatim>,
}

/// One `sub` on a foreign key field: the parent's factory (as written), the association's name
/// and, for one of several parents, the fields choosing it sets (`owner_kind = 1`).
pub struct SubInput {
    pub key: Span,
    pub factory: Expr,
    pub name: Option<Ident>,
    pub sets: Vec<(Ident, Expr)>,
}

impl FromMeta for SubInput {
    fn from_meta(item: &Meta) -> darling::Result<Self> {
        match item {
            Meta::NameValue(nv) => Ok(Self {
                key: nv.path.span(),
                factory: nv.value.clone(),
                name: None,
                sets: Vec::new(),
            }),
            Meta::List(list) => {
                let key = list.path.span();
                let parsed = list.parse_args_with(|input: ParseStream| {
                    let factory: Path = input.parse()?;
                    let mut name = None;
                    let mut sets = Vec::new();
                    while !input.is_empty() {
                        input.parse::<Token![,]>()?;
                        if input.is_empty() {
                            break;
                        }
                        let field: Ident = syn::ext::IdentExt::parse_any(input)?;
                        input.parse::<Token![=]>()?;
                        if field == "name" {
                            name = Some(syn::ext::IdentExt::parse_any(input)?);
                        } else {
                            sets.push((field, input.parse()?));
                        }
                    }
                    Ok((factory, name, sets))
                });
                let (factory, name, sets) = parsed.map_err(|e| {
                    darling::Error::custom(format!(
                        "expected `sub(<ParentFactory>, name = <association>, <field> = <value>, ..)`: {e}"
                    ))
                    .with_span(&e.span())
                })?;
                Ok(Self {
                    key,
                    factory: Expr::Path(syn::ExprPath {
                        attrs: Vec::new(),
                        qself: None,
                        path: factory,
                    }),
                    name,
                    sets,
                })
            }
            Meta::Path(path) => Err(darling::Error::custom(
                "`sub` names the parent's factory: `sub = UserFactory`",
            )
            .with_span(path)),
        }
    }
}

/// `#[factory(..)]` on the struct.
#[derive(FromDeriveInput)]
#[darling(attributes(factory), forward_attrs(diesel), supports(struct_named))]
pub struct ModelInput {
    pub ident: Ident,
    pub vis: syn::Visibility,
    pub generics: syn::Generics,
    pub data: darling::ast::Data<darling::util::Ignored, FieldInput>,
    pub attrs: Vec<Attribute>,
    pub traits: Option<TraitList>,
    pub transient: Option<TransientList>,
    pub after_build: Option<Verbatim>,
    pub after_create: Option<Verbatim>,
    pub after_create_async: Option<Verbatim>,
    pub related: Option<RelatedList>,
    pub get_or_create: Option<ColumnList>,
    /// `insert_only(api_token: String = "..")`: columns the insert writes that the model does
    /// not read, with their values (settable, like transients).
    pub insert_only: Option<TransientList>,
}

/// `get_or_create(email, name)`: field names.
pub struct ColumnList(pub Vec<Path>);

impl ColumnList {
    pub fn iter(&self) -> impl Iterator<Item = &Path> {
        self.0.iter()
    }
}

impl FromMeta for ColumnList {
    fn from_meta(item: &Meta) -> darling::Result<Self> {
        let hint = "`get_or_create` lists the fields to look a row up by: `get_or_create(email)`";
        match item {
            Meta::List(list) => {
                let paths = list
                    .parse_args_with(Punctuated::<Path, Token![,]>::parse_terminated)
                    .map_err(|e| darling::Error::custom(hint).with_span(&e.span()))?;
                Ok(Self(paths.into_iter().collect()))
            }
            _ => Err(darling::Error::custom(hint).with_span(item)),
        }
    }
}

/// `related(items(factory = OrderItemFactory, key = order_id, count = 2), ...)`
pub struct RelatedList(pub Vec<RelatedDef>);

pub struct RelatedDef {
    pub name: Ident,
    pub factory: Option<Path>,
    pub key: Option<Ident>,
    pub count: Option<Expr>,
}

impl FromMeta for RelatedList {
    fn from_meta(item: &Meta) -> darling::Result<Self> {
        parse_list(item)
    }
}

impl Parse for RelatedList {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let defs = Punctuated::<RelatedDef, Token![,]>::parse_terminated(input)?;
        Ok(Self(defs.into_iter().collect()))
    }
}

impl Parse for RelatedDef {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let name: Ident = input.parse()?;
        let mut def = RelatedDef {
            name,
            factory: None,
            key: None,
            count: None,
        };
        if !input.peek(syn::token::Paren) {
            return Err(syn::Error::new(
                def.name.span(),
                format!(
                    "expected `{}(factory = <ChildFactory>, key = <child's foreign key field>)`",
                    def.name
                ),
            ));
        }
        let body;
        syn::parenthesized!(body in input);
        let items = Punctuated::<syn::MetaNameValue, Token![,]>::parse_terminated(&body)?;
        for item in items {
            let value = item.value;
            if item.path.is_ident("factory") {
                def.factory = Some(syn::parse2(quote::ToTokens::to_token_stream(&value))?);
            } else if item.path.is_ident("key") {
                def.key = Some(
                    syn::parse2(quote::ToTokens::to_token_stream(&value)).map_err(|_| {
                        syn::Error::new(
                            value.span(),
                            "`key` names the child's foreign key field: `key = order_id`",
                        )
                    })?,
                );
            } else if item.path.is_ident("count") {
                def.count = Some(value);
            } else {
                return Err(syn::Error::new(
                    item.path.span(),
                    format!(
                        "unknown key `{}` in `related`: expected `factory`, `key` or `count`",
                        path_text(&item.path)
                    ),
                ));
            }
        }
        Ok(def)
    }
}

/// `traits(admin(includes(staff), role = "admin"), inactive(is_active = false))`
pub struct TraitList(pub Vec<TraitDef>);

pub struct TraitDef {
    pub name: Ident,
    pub includes: Vec<Ident>,
    pub sets: Vec<(Ident, Expr)>,
}

/// `transient(with_items: usize = 0, shout: bool)`
pub struct TransientList(pub Vec<TransientDef>);

pub struct TransientDef {
    pub name: Ident,
    pub ty: Type,
    pub default: Option<Expr>,
    /// Declared in `insert_only(..)`: also a column the insert writes.
    pub column: bool,
}

fn parse_list<T: Parse>(item: &Meta) -> darling::Result<T> {
    match item {
        Meta::List(list) => Ok(syn::parse2(list.tokens.clone())?),
        _ => {
            let key = path_text(item.path());
            Err(darling::Error::custom(format!("expected `{key}(...)`")).with_span(item))
        }
    }
}

impl FromMeta for TraitList {
    fn from_meta(item: &Meta) -> darling::Result<Self> {
        parse_list(item)
    }
}

impl FromMeta for TransientList {
    fn from_meta(item: &Meta) -> darling::Result<Self> {
        parse_list(item)
    }
}

impl Parse for TraitList {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let defs = Punctuated::<TraitDef, Token![,]>::parse_terminated(input)?;
        Ok(Self(defs.into_iter().collect()))
    }
}

impl Parse for TraitDef {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let name: Ident = input.parse()?;
        let mut def = TraitDef {
            name,
            includes: Vec::new(),
            sets: Vec::new(),
        };
        if !input.peek(syn::token::Paren) {
            return Err(syn::Error::new(
                def.name.span(),
                format!(
                    "expected `{}(field = value, ...)`: a trait lists the fields it sets",
                    def.name
                ),
            ));
        }
        let body;
        syn::parenthesized!(body in input);
        while !body.is_empty() {
            let key: Ident = body.parse()?;
            if key == "includes" && body.peek(syn::token::Paren) {
                let names;
                syn::parenthesized!(names in body);
                let names = Punctuated::<Ident, Token![,]>::parse_terminated(&names)?;
                def.includes.extend(names);
            } else {
                body.parse::<Token![=]>().map_err(|_| {
                    syn::Error::new(
                        key.span(),
                        format!("expected `{key} = <value>` or `includes(<trait>, ...)`"),
                    )
                })?;
                def.sets.push((key, body.parse()?));
            }
            if body.is_empty() {
                break;
            }
            body.parse::<Token![,]>()?;
        }
        Ok(def)
    }
}

impl Parse for TransientList {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let defs = Punctuated::<TransientDef, Token![,]>::parse_terminated(input)?;
        Ok(Self(defs.into_iter().collect()))
    }
}

impl Parse for TransientDef {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let name: Ident = input.parse()?;
        input.parse::<Token![:]>().map_err(|_| {
            syn::Error::new(
                name.span(),
                format!("expected `{name}: <type>` or `{name}: <type> = <default>`"),
            )
        })?;
        let ty: Type = input.parse()?;
        let default = if input.peek(Token![=]) {
            input.parse::<Token![=]>()?;
            Some(input.parse()?)
        } else {
            None
        };
        Ok(Self {
            name,
            ty,
            default,
            column: false,
        })
    }
}

/// What Diesel's own attribute says that the factory needs.
#[derive(Default)]
pub struct DieselAttrs {
    pub table_name: Option<Path>,
    pub column_name: Option<Ident>,
    pub primary_key: Option<Vec<Ident>>,
    /// `check_for_backend(diesel::pg::Pg, ..)`: the only backends the model works with.
    pub backends: Option<Vec<Path>>,
    /// `serialize_as = Type`: the field is converted into it to be written.
    pub serialize_as: Option<Type>,
    /// `skip_insertion`, `select_expression = ..` or `embed`: the field is not a column of the
    /// table that an insert writes.
    pub not_column: bool,
    /// `belongs_to(Parent, foreign_key = field)`: the parent model a foreign key references
    /// (`None` for Diesel's default, `<parent>_id`).
    pub belongs_to: Vec<(Path, Option<Ident>)>,
}

/// Reads `#[diesel(table_name = .., column_name = ..)]`, skipping every other Diesel option.
pub fn diesel_attrs(attrs: &[Attribute]) -> darling::Result<DieselAttrs> {
    let mut out = DieselAttrs::default();
    let mut errors = darling::Error::accumulator();
    for attr in attrs.iter().filter(|a| a.path().is_ident("diesel")) {
        let parsed = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("table_name") {
                let value = meta.value()?;
                if value.peek(syn::LitStr) {
                    let lit: syn::LitStr = value.parse()?;
                    return Err(syn::Error::new(
                        lit.span(),
                        format!("`table_name` takes a path: `table_name = {}`", lit.value()),
                    ));
                }
                out.table_name = Some(value.parse()?);
            } else if meta.path.is_ident("column_name") {
                let value = meta.value()?;
                out.column_name = Some(if value.peek(syn::LitStr) {
                    value.parse::<syn::LitStr>()?.parse()?
                } else {
                    value.call(syn::ext::IdentExt::parse_any)?
                });
            } else if meta.path.is_ident("primary_key") {
                let keys;
                syn::parenthesized!(keys in meta.input);
                let keys = Punctuated::<Ident, Token![,]>::parse_terminated(&keys)?;
                out.primary_key = Some(keys.into_iter().collect());
            } else if meta.path.is_ident("serialize_as") {
                out.serialize_as = Some(meta.value()?.parse()?);
            } else if meta.path.is_ident("skip_insertion") || meta.path.is_ident("embed") {
                out.not_column = true;
            } else if meta.path.is_ident("select_expression") {
                meta.value()?.parse::<Expr>()?;
                out.not_column = true;
            } else if meta.path.is_ident("belongs_to") {
                let content;
                syn::parenthesized!(content in meta.input);
                let parent: Path = content.parse()?;
                let mut foreign_key = None;
                while content.peek(Token![,]) {
                    content.parse::<Token![,]>()?;
                    if content.is_empty() {
                        break;
                    }
                    let key: Ident = content.parse()?;
                    content.parse::<Token![=]>()?;
                    if key == "foreign_key" {
                        foreign_key = Some(content.call(syn::ext::IdentExt::parse_any)?);
                    } else {
                        content.parse::<Expr>()?;
                    }
                }
                out.belongs_to.push((parent, foreign_key));
            } else if meta.path.is_ident("check_for_backend") {
                let backends;
                syn::parenthesized!(backends in meta.input);
                let backends = Punctuated::<Path, Token![,]>::parse_terminated(&backends)?;
                out.backends = Some(backends.into_iter().collect());
            } else if meta.input.peek(Token![=]) {
                // Another option's value: a type (`select_expression_type = Concat<a, b>`,
                // `deserialize_as = ..`) or an expression.
                let value = meta.value()?;
                let fork = value.fork();
                let whole_type = !value.peek(syn::Lit)
                    && fork.parse::<Type>().is_ok()
                    && (fork.is_empty() || fork.peek(Token![,]));
                if whole_type {
                    value.parse::<Type>()?;
                } else {
                    value.parse::<Expr>()?;
                }
            } else if meta.input.peek(syn::token::Paren) {
                meta.input.parse::<proc_macro2::Group>()?;
            }
            Ok(())
        });
        errors.handle(parsed.map_err(darling::Error::from));
    }
    errors.finish_with(out)
}

pub fn path_text(path: &Path) -> String {
    path.segments
        .iter()
        .map(|s| s.ident.to_string())
        .collect::<Vec<_>>()
        .join("::")
}
