//! Expansion: generated code for a validated [`Model`].

use crate::valid::{Callback, Field, Model, Source};
use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;

/// Paths into the runtime crate; generated code names nothing the user must import.
fn rt() -> TokenStream {
    quote!(::factory_core::__private)
}

pub fn model(m: &Model) -> TokenStream {
    let rt = rt();
    let model = &m.ident;
    let vis = &m.vis;
    let table = &m.table;
    let factory = format_ident!("{}Factory", model);
    let attributes = format_ident!("{}FactoryAttributes", model);
    let transients = format_ident!("{}FactoryTransients", model);
    let factory_name = factory.to_string();
    let table_name = m
        .table
        .segments
        .last()
        .map(|s| s.ident.to_string())
        .unwrap_or_default();

    let settable: Vec<&Field> = m.fields.iter().filter(|f| f.is_inserted()).collect();
    let inserted = &settable;
    let columns = inserted.len();

    // The factory: one optional override per settable field and per transient.
    let override_fields = settable.iter().map(|f| {
        let (ident, ty) = (&f.ident, &f.ty);
        quote!(#ident: #rt::core::option::Option<#ty>)
    });
    let transient_overrides = m.transients.iter().map(|t| {
        let (ident, ty) = (&t.name, &t.ty);
        quote!(#ident: #rt::core::option::Option<#ty>)
    });
    let all_override_idents: Vec<&syn::Ident> = settable
        .iter()
        .map(|f| &f.ident)
        .chain(m.transients.iter().map(|t| &t.name))
        .collect();

    let setters = settable.iter().map(|f| {
        let (ident, ty) = (&f.ident, &f.ty);
        let doc = format!("Sets `{ident}`, replacing the value the factory would give it.");
        quote! {
            #[doc = #doc]
            #[must_use]
            pub fn #ident(mut self, value: impl #rt::core::convert::Into<#ty>) -> Self {
                self.#ident = #rt::core::option::Option::Some(value.into());
                self
            }
        }
    });
    let transient_setters = m.transients.iter().map(|t| {
        let (ident, ty) = (&t.name, &t.ty);
        let doc = format!("Sets the transient parameter `{ident}` (not a column).");
        quote! {
            #[doc = #doc]
            #[must_use]
            pub fn #ident(mut self, value: impl #rt::core::convert::Into<#ty>) -> Self {
                self.#ident = #rt::core::option::Option::Some(value.into());
                self
            }
        }
    });
    let trait_methods = m.traits.iter().map(|t| {
        let name = &t.name;
        let includes = &t.includes;
        let sets = t.sets.iter().map(|(k, v)| quote!(.#k(#v)));
        let doc = format!("Applies the `{name}` trait (later calls override it).");
        quote! {
            #[doc = #doc]
            #[must_use]
            pub fn #name(self) -> Self {
                self #(.#includes())* #(#sets)*
            }
        }
    });

    // Transients: the value given, else the declared default, else Default.
    let transient_values = m.transients.iter().map(|t| {
        let (ident, ty) = (&t.name, &t.ty);
        let fallback = match &t.default {
            Some(expr) => {
                quote_spanned!(expr.span()=> #rt::core::convert::Into::<#ty>::into(#expr))
            }
            None => quote_spanned!(ty.span()=> <#ty as #rt::core::default::Default>::default()),
        };
        quote! {
            #ident: match #ident {
                #rt::core::option::Option::Some(value) => value,
                #rt::core::option::Option::None => #fallback,
            }
        }
    });
    let transient_fields = m.transients.iter().map(|t| {
        let (ident, ty) = (&t.name, &t.ty);
        quote!(pub #ident: #ty)
    });

    // Sequences: one static per sequence field and per db_generated field (for stubs).
    let seq_ident = |f: &Field| format_ident!("__FACTORY_SEQ_{}_{}", model, f.ident);
    let sequenced: Vec<&Field> = m
        .fields
        .iter()
        .filter(|f| {
            matches!(
                f.source,
                Source::Template(_) | Source::SequenceFn(_) | Source::DbGenerated
            )
        })
        .collect();
    let seq_statics = sequenced.iter().map(|f| {
        let s = seq_ident(f);
        quote!(#[allow(non_upper_case_globals)] static #s: #rt::Sequence = #rt::Sequence::new();)
    });
    let seq_resets = sequenced.iter().map(|f| {
        let s = seq_ident(f);
        quote!(#s.reset();)
    });

    // Build: first every non-lazy field, then lazy ones in declaration order, then the hook.
    let field_values = m.fields.iter().map(|f| {
        let (ident, ty) = (&f.ident, &f.ty);
        let ty_span = ty.span();
        let generated = match &f.source {
            Source::DbGenerated => {
                let s = seq_ident(f);
                return quote_spanned!(ty_span=> #ident: <#ty as #rt::Stub>::stub(#s.next()));
            }
            Source::TypeDefault | Source::Lazy(_) => {
                quote_spanned!(ty_span=> <#ty as #rt::core::default::Default>::default())
            }
            Source::Default(expr) => {
                quote_spanned!(expr.span()=> #rt::core::convert::Into::<#ty>::into(#expr))
            }
            Source::Template(lit) => {
                let s = seq_ident(f);
                let fmt = syn::LitStr::new(
                    &lit.value().replace('{', "{{").replace('}', "}}").replace("<n>", "{0}"),
                    lit.span(),
                );
                quote_spanned!(lit.span()=> #rt::core::convert::Into::<#ty>::into(::std::format!(#fmt, #s.next())))
            }
            Source::SequenceFn(closure) => {
                let s = seq_ident(f);
                quote_spanned!(closure.span()=> #rt::sequence::<#ty>(#closure, #s.next()))
            }
            Source::Faker(expr) => {
                quote_spanned!(expr.span()=> #rt::fake_value::<#ty, _>(&(#expr)))
            }
        };
        let pending = format_ident!("__factory_lazy_{}", ident);
        if matches!(f.source, Source::Lazy(_)) {
            quote! {
                #ident: match #ident {
                    #rt::core::option::Option::Some(value) => value,
                    #rt::core::option::Option::None => { #pending = true; #generated }
                }
            }
        } else {
            quote! {
                #ident: match #ident {
                    #rt::core::option::Option::Some(value) => value,
                    #rt::core::option::Option::None => #generated,
                }
            }
        }
    });
    let lazy_fields: Vec<(&Field, &Callback)> = m
        .fields
        .iter()
        .filter_map(|f| match &f.source {
            Source::Lazy(cb) => Some((f, cb)),
            _ => None,
        })
        .collect();
    let lazy_flags = lazy_fields.iter().map(|(f, _)| {
        let pending = format_ident!("__factory_lazy_{}", f.ident);
        quote!(let mut #pending = false;)
    });
    let lazy_evals = lazy_fields.iter().map(|(f, cb)| {
        let (ident, ty) = (&f.ident, &f.ty);
        let pending = format_ident!("__factory_lazy_{}", ident);
        let expr = &cb.expr;
        let call = if cb.with_transients {
            quote_spanned!(expr.span()=> #rt::lazy_with::<#model, #transients, #ty>(#expr, &__factory_model, &__factory_transients))
        } else {
            quote_spanned!(expr.span()=> #rt::lazy::<#model, #ty>(#expr, &__factory_model))
        };
        quote!(if #pending { __factory_model.#ident = #call; })
    });
    let after_build = m.after_build.as_ref().map(|cb| {
        let expr = &cb.expr;
        if cb.with_transients {
            quote_spanned!(expr.span()=> #rt::after_build_with::<#model, #transients>(#expr, &mut __factory_model, &__factory_transients);)
        } else {
            quote_spanned!(expr.span()=> #rt::after_build::<#model>(#expr, &mut __factory_model);)
        }
    });

    // Insert: attributes struct, its row tuple, and Diesel's Insertable.
    let attr_fields = inserted.iter().map(|f| {
        let (ident, ty) = (&f.ident, &f.ty);
        let doc = format!("The value for column `{}`.", f.column);
        quote!(#[doc = #doc] pub #ident: #ty)
    });
    let attr_idents: Vec<&syn::Ident> = inserted.iter().map(|f| &f.ident).collect();
    let row_types = inserted.iter().map(|f| {
        let (column, ty) = (&f.column, &f.ty);
        quote_spanned!(ty.span()=> #rt::diesel::dsl::Eq<#table::#column, #ty>)
    });
    let row_values = inserted.iter().map(|f| {
        let (ident, column) = (&f.ident, &f.column);
        quote!(#rt::diesel::ExpressionMethods::eq(#table::#column, attributes.#ident))
    });

    // The primary key, for backends that must read a row back by key (MySQL).
    let key_fields: Vec<&Field> = m.primary_key.iter().map(|&i| &m.fields[i]).collect();
    let key_types = key_fields.iter().map(|f| &f.ty);
    let key_type = match key_fields.as_slice() {
        [one] => {
            let ty = &one.ty;
            quote!(#ty)
        }
        _ => quote!((#(#key_types,)*)),
    };
    let key_of_attributes = if key_fields.is_empty() || key_fields.iter().any(|f| !f.is_inserted()) {
        quote!(#rt::core::option::Option::None)
    } else {
        let parts = key_fields.iter().map(|f| {
            let ident = &f.ident;
            quote!(#rt::core::clone::Clone::clone(&attributes.#ident))
        });
        match key_fields.as_slice() {
            [_] => quote!(#rt::core::option::Option::Some(#(#parts)*)),
            _ => quote!(#rt::core::option::Option::Some((#(#parts,)*))),
        }
    };
    let key_from_insert_id = match key_fields.as_slice() {
        [one] if !one.is_inserted() && is_integer(&one.ty) => {
            let ty = &one.ty;
            quote!(<#ty as #rt::core::convert::TryFrom<u64>>::try_from(id).ok())
        }
        _ => quote!({ let _ = id; #rt::core::option::Option::None }),
    };

    let factory_doc = format!(
        "Factory for [`{model}`] rows in `{table_name}`, generated by `#[derive(Factory)]`.\n\n\
         Start one with [`{model}::factory()`]; every setter and trait returns a new factory."
    );
    let attributes_doc = format!(
        "The values a [`{factory}`] inserts into `{table_name}`: every field of [`{model}`] but the \
         `db_generated` ones. Implements Diesel's `Insertable`."
    );
    let transients_doc = format!(
        "Transient parameters of [`{factory}`]: inputs to lazy fields and hooks, not columns."
    );
    let fn_doc = format!("A [`{factory}`] with every field at its declared source.");

    quote! {
        #[doc = #factory_doc]
        #[derive(Clone, Debug)]
        #[must_use]
        #vis struct #factory {
            #(#override_fields,)*
            #(#transient_overrides,)*
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

        #[allow(clippy::all, clippy::pedantic, unused_qualifications)]
        const _: () = {
            #(#seq_statics)*

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
                /// A factory with no overrides: every field comes from its declared source.
                pub fn new() -> Self {
                    Self { #(#all_override_idents: #rt::core::option::Option::None,)* }
                }

                #(#setters)*
                #(#transient_setters)*
                #(#trait_methods)*

                /// Builds the model in memory. Never touches a database; `db_generated`
                /// fields get distinct stub values.
                pub fn build(self) -> #model {
                    let Self { #(#all_override_idents,)* } = self;
                    let __factory_transients = #transients { #(#transient_values,)* };
                    #(#lazy_flags)*
                    #[allow(unused_mut)]
                    let mut __factory_model = #model { #(#field_values,)* };
                    #(#lazy_evals)*
                    #after_build
                    let _ = &__factory_transients;
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
                    mut customise: impl FnMut(usize, Self) -> Self,
                ) -> ::std::vec::Vec<#model> {
                    (0..n).map(|i| customise(i, self.clone()).build()).collect()
                }

                /// The values an insert would write: the built model without its
                /// `db_generated` fields.
                pub fn attributes(self) -> #attributes {
                    let #model { #(#attr_idents,)* .. } = self.build();
                    #attributes { #(#attr_idents,)* }
                }

                /// Inserts the row and returns it as stored.
                ///
                /// # Panics
                /// If the insert fails; the message names the factory, the table and the
                /// constraint. Use `try_create` to get the error instead.
                #[track_caller]
                pub fn create<C: #rt::InsertRows<Self>>(self, conn: &mut C) -> #model {
                    match <Self as #rt::Factory>::try_create(self, conn) {
                        #rt::core::result::Result::Ok(model) => model,
                        #rt::core::result::Result::Err(error) => #rt::create_failed(error),
                    }
                }

                /// Inserts the row and returns it as stored, or why the database refused it.
                pub fn try_create<C: #rt::InsertRows<Self>>(
                    self,
                    conn: &mut C,
                ) -> #rt::core::result::Result<#model, #rt::FactoryError> {
                    <Self as #rt::Factory>::try_create(self, conn)
                }

                /// Inserts `n` rows in one transaction, as multi-row `INSERT`s.
                ///
                /// # Panics
                /// If the insert fails (no row of the batch remains).
                #[track_caller]
                pub fn create_batch<C: #rt::InsertRows<Self>>(
                    self,
                    n: usize,
                    conn: &mut C,
                ) -> ::std::vec::Vec<#model> {
                    self.create_batch_with(n, |_, f| f, conn)
                }

                /// Inserts `n` rows, the `i`th from `customise(i, factory)`, in one transaction.
                ///
                /// # Panics
                /// If the insert fails (no row of the batch remains).
                #[track_caller]
                pub fn create_batch_with<C: #rt::InsertRows<Self>>(
                    self,
                    n: usize,
                    customise: impl FnMut(usize, Self) -> Self,
                    conn: &mut C,
                ) -> ::std::vec::Vec<#model> {
                    match <Self as #rt::Factory>::try_create_batch_with(self, n, customise, conn) {
                        #rt::core::result::Result::Ok(models) => models,
                        #rt::core::result::Result::Err(error) => #rt::create_failed(error),
                    }
                }

                /// Inserts `n` rows in one transaction, or says why none were kept.
                pub fn try_create_batch<C: #rt::InsertRows<Self>>(
                    self,
                    n: usize,
                    conn: &mut C,
                ) -> #rt::core::result::Result<::std::vec::Vec<#model>, #rt::FactoryError> {
                    <Self as #rt::Factory>::try_create_batch_with(self, n, |_, f| f, conn)
                }

                /// Starts every sequence of this factory again at 1.
                pub fn reset_sequences() {
                    #(#seq_resets)*
                }
            }

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

                fn key(attributes: &#attributes) -> #rt::core::option::Option<Self::Key> {
                    let _ = attributes;
                    #key_of_attributes
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
        };
    }
}

/// Integer key types, whose values MySQL's `LAST_INSERT_ID()` reports.
fn is_integer(ty: &syn::Type) -> bool {
    const INTEGERS: &[&str] = &["i16", "i32", "i64", "u16", "u32", "u64"];
    matches!(ty, syn::Type::Path(p) if p.qself.is_none()
        && p.path.segments.last().is_some_and(|s| INTEGERS.contains(&s.ident.to_string().as_str())))
}

/// After a compile error: the factory's name still resolves, so the user sees the real error
/// rather than a screen of "cannot find `UserFactory`".
pub fn fallback(ident: &syn::Ident, vis: &syn::Visibility) -> TokenStream {
    let factory = format_ident!("{}Factory", ident);
    quote_spanned! {Span::call_site()=>
        #vis struct #factory;
        const _: () = {
            impl #ident {
                pub fn factory() -> #factory {
                    #factory
                }
            }
        };
    }
}
