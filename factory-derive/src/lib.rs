//! `#[derive(Factory)]`: test data factories for Diesel models.
//!
//! Use it through `factory_core`, which re-exports it with the runtime the generated code needs;
//! the attributes are documented there.

mod ast;
mod expand;
mod migrations;
mod test_attr;
mod valid;

use darling::FromDeriveInput;
use proc_macro::TokenStream;

/// Generates `<Model>Factory` for a Diesel model. See `factory_core` for the attributes.
#[proc_macro_derive(Factory, attributes(factory, diesel))]
pub fn derive_factory(input: TokenStream) -> TokenStream {
    derive(input.into()).into()
}

/// Diesel's `embed_migrations!` plus a hash of the migration files: a
/// `factory_core::cleanup::Migrations`. See `factory_core::embed_migrations!`.
#[proc_macro]
pub fn embed_migrations(input: TokenStream) -> TokenStream {
    migrations::expand(input.into()).into()
}

/// Makes a function that takes `&mut TestDb<C>` a test run on a test database, cleaned up
/// after it. See `factory_core::test`.
#[proc_macro_attribute]
pub fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    test_attr::expand(args.into(), item.into()).into()
}

/// The whole derive on token streams, so tests can call it without a compiler.
fn derive(input: proc_macro2::TokenStream) -> proc_macro2::TokenStream {
    let input: syn::DeriveInput = match syn::parse2(input) {
        Ok(input) => input,
        Err(e) => return e.to_compile_error(),
    };
    if let Err(e) = check_shape(&input) {
        return e.write_errors();
    }
    let result = ast::ModelInput::from_derive_input(&input).and_then(valid::validate);
    match result {
        Ok(model) => expand::model(&model),
        Err(errors) => {
            let mut out = errors.write_errors();
            out.extend(expand::fallback(&input));
            out
        }
    }
}

/// A factory needs named fields to set; say so at the token that makes the item something else.
fn check_shape(input: &syn::DeriveInput) -> darling::Result<()> {
    let hint = "#[derive(Factory)] goes on a struct with named fields, like a Diesel model";
    match &input.data {
        syn::Data::Struct(s) => match &s.fields {
            syn::Fields::Named(_) => Ok(()),
            syn::Fields::Unnamed(fields) => Err(darling::Error::custom(format!(
                "{hint}; this is a tuple struct, whose fields have no column names"
            ))
            .with_span(fields)),
            syn::Fields::Unit => Err(darling::Error::custom(format!(
                "{hint}; this unit struct has no fields to fill"
            ))
            .with_span(&input.ident)),
        },
        syn::Data::Enum(e) => Err(darling::Error::custom(format!(
            "{hint}; an enum is not a table row (for an enum column, derive the factory on the struct that has it)"
        ))
        .with_span(&e.enum_token)),
        syn::Data::Union(u) => {
            Err(darling::Error::custom(format!("{hint}, not a union")).with_span(&u.union_token))
        }
    }
}

#[cfg(test)]
mod tests;
