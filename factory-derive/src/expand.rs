//! Expansion: generated code for a validated [`Model`].
//!
//! Everything the generated code names goes through `::factory_core::__private_v1` (imported as
//! `__rt` in each model's block), so it works whatever the user imported. Every generated
//! function is generic or `#[inline]`: a crate that never calls one (the application's own
//! build of its models) does not compile its code; a test crate compiles what it calls. Code that involves a user's tokens carries their span, so a
//! type error lands on the attribute that caused it.

use crate::valid::{is_integer, is_option, Callback, Field, Model, Parent, Source};
use proc_macro2::TokenStream;
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::Ident;

/// Paths into the runtime crate.
fn rt() -> TokenStream {
    quote!(__rt)
}

/// The runtime's path, for code outside the block that imports it as `__rt`.
fn rt_path() -> TokenStream {
    quote!(::factory_core::__private_v1)
}

/// The names of the generated items for a model.
struct Names {
    model: Ident,
    factory: Ident,
    /// The transients' type: the generated struct, or `()` when the model declares none.
    transients: TokenStream,
    table_name: String,
}

impl Names {
    fn new(m: &Model) -> Self {
        Self {
            model: m.ident.clone(),
            factory: format_ident!("{}Factory", m.ident),
            transients: if !has_transients_struct(m) {
                quote!(())
            } else {
                let name = format_ident!("{}FactoryTransients", m.ident);
                quote!(#name)
            },
            table_name: m
                .table
                .segments
                .last()
                .map(|s| s.ident.to_string())
                .unwrap_or_default(),
        }
    }
}

/// Every `sub` parent, with its key field.
fn parents(m: &Model) -> impl Iterator<Item = (&Field, &Parent)> {
    m.fields.iter().flat_map(|f| {
        let parents: &[Parent] = match &f.source {
            Source::Sub { parents, .. } => parents,
            _ => &[],
        };
        parents.iter().map(move |p| (f, p))
    })
}

/// Whether the model needs a transients struct: declared transients, `insert_only` columns, or
/// `db_default` fields (whose "was it set" the insert needs).
fn has_transients_struct(m: &Model) -> bool {
    !m.transients.is_empty()
        || m.fields
            .iter()
            .any(|f| matches!(f.source, Source::DbDefault))
}

/// The transients' flag saying a `db_default` field was set.
fn set_flag(f: &Field) -> Ident {
    format_ident!("__factory_set_{}", syn::ext::IdentExt::unraw(&f.ident))
}

/// The setter of the field (or transient) `name`, at `name`'s span (an error in the value
/// points at where the user wrote it).
fn setter(m: &Model, name: &Ident) -> Ident {
    let mut setter = m
        .fields
        .iter()
        .find(|f| f.ident == *name)
        .map_or(name, |f| &f.setter)
        .clone();
    setter.set_span(name.span());
    setter
}

fn sub_state(name: &Ident) -> Ident {
    format_ident!("__factory_sub_{}", name)
}

fn related_state(name: &Ident) -> Ident {
    format_ident!("__factory_related_{}", name)
}

/// The model's sequence `f` uses: an element of one static array per model.
fn sequence_static(m: &Model, f: &Field) -> TokenStream {
    let index = m
        .fields
        .iter()
        .filter(|g| has_sequence(g))
        .position(|g| g.ident == f.ident)
        .unwrap_or_default();
    let name = sequences_static(m);
    quote!(#name[#index])
}

/// The model's static array of sequences.
fn sequences_static(m: &Model) -> Ident {
    format_ident!("__FACTORY_SEQUENCES_{}", m.ident)
}

pub fn model(m: &Model) -> TokenStream {
    let names = Names::new(m);
    let declarations = declarations(m, &names);
    let builder = builder_methods(m);
    let factory_impl = factory_impl(&names);
    let record_impl = record_impl(m, &names);
    let graph_impl = graph_impl(m, &names);
    let persist_impls = persist_impls(m, &names);
    let lookup_impls = lookup_impls(m, &names);
    let rt = rt();
    let (model, factory) = (&names.model, &names.factory);
    let sequences = m.fields.iter().filter(|f| has_sequence(f)).count();
    let statics = (sequences > 0).then(|| {
        let name = sequences_static(m);
        quote! {
            #[allow(non_upper_case_globals)]
            static #name: [#rt::Sequence; #sequences] = [const { #rt::Sequence::new() }; #sequences];
        }
    });
    let fn_doc = format!("A new [`{factory}`].");

    // The structs at the top level, where the user names them; the rest in a block that
    // imports the runtime under a short name (shorter code to expand and to read).
    let rt_path = rt_path();
    quote! {
        #declarations

        const _: () = {
            use #rt_path as __rt;

            #statics

            impl #model {
                #[doc = #fn_doc]
                #[inline]
                pub fn factory() -> #factory {
                    #factory::new()
                }
            }

            #[automatically_derived]
            impl #rt::Default for #factory {
                #[inline]
                fn default() -> Self {
                    Self::new()
                }
            }

            #[allow(clippy::all, clippy::pedantic)]
            impl #factory {
                #builder
            }

            #factory_impl
            #record_impl
            #graph_impl
            #persist_impls
            #lookup_impls
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
        Source::Template(_) | Source::SequenceFn(_) | Source::DbGenerated | Source::DbDefault
    )
}

/// The factory and transients structs.
fn declarations(m: &Model, n: &Names) -> TokenStream {
    let vis = &m.vis;
    let Names {
        model,
        factory,
        transients,
        table_name,
    } = n;

    // One optional override per settable field and transient; a customised parent factory per
    // sub; the children per related.
    let overrides = m.fields.iter().filter(|f| f.is_inserted()).map(|f| {
        let (ident, ty) = (&f.ident, &f.ty);
        quote_spanned!(ty.span()=> #ident: ::core::option::Option<#ty>)
    });
    let transient_overrides = m.transients.iter().map(|t| {
        let (ident, ty) = (&t.name, &t.ty);
        quote_spanned!(ty.span()=> #ident: ::core::option::Option<#ty>)
    });
    // Boxed: a model may point at itself (`parent_id`), and models at each other.
    let subs = parents(m).map(|(_, p)| {
        let (state, factory) = (sub_state(&p.name), &p.factory);
        quote_spanned!(factory.span()=> #state: ::core::option::Option<::std::boxed::Box<#factory>>)
    });
    let related = m.related.iter().map(|r| {
        let (state, child) = (related_state(&r.name), &r.factory);
        quote_spanned!(child.span()=> #state: ::core::option::Option<::std::vec::Vec<#child>>)
    });
    let transient_fields = m
        .transients
        .iter()
        .map(|t| {
            let (ident, ty) = (&t.name, &t.ty);
            quote_spanned!(ty.span()=> pub #ident: #ty)
        })
        .chain(
            m.fields
                .iter()
                .filter(|f| matches!(f.source, Source::DbDefault))
                .map(|f| {
                    let flag = set_flag(f);
                    quote!(#[doc(hidden)] pub #flag: bool)
                }),
        );

    let factory_doc = format!(
        "Factory for [`{model}`] rows in `{table_name}`, generated by `#[derive(Factory)]`.\n\n\
         Start one with [`{model}::factory()`]. It has a setter for each field the insert \
         writes (`.email(\"a@b.c\")`: that value instead of the field's source), a method per \
         trait, and for each `sub` field `.user(&parent)` and `.user_with(|f| ..)`; each \
         returns a new factory. Build and create with the [`Factory`](::factory_core::Factory) \
         trait's methods."
    );
    let transients_doc = format!(
        "Transient parameters of [`{factory}`]: inputs to lazy fields and hooks, not columns."
    );
    let transients_struct = has_transients_struct(m).then(|| {
        quote! {
            #[doc = #transients_doc]
            #[derive(Clone, Debug)]
            #vis struct #transients {
                #(#transient_fields,)*
            }
        }
    });
    quote! {
        #[doc = #factory_doc]
        #[derive(Clone)]
        #[must_use]
        #vis struct #factory {
            #(#overrides,)*
            #(#transient_overrides,)*
            #(#subs,)*
            #(#related,)*
        }

        #transients_struct
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
    out.extend(parents(m).map(|(_, p)| sub_state(&p.name)));
    out.extend(m.related.iter().map(|r| related_state(&r.name)));
    out
}

/// `new`, setters, trait methods, sub and related methods.
fn builder_methods(m: &Model) -> TokenStream {
    let rt = rt();
    let state = state_idents(m);
    // One setter per field and transient; the factory's own doc says what they do.
    let setters = m
        .fields
        .iter()
        .filter(|f| f.is_inserted())
        .map(|f| (&f.setter, &f.ident, &f.ty))
        .chain(m.transients.iter().map(|t| (&t.name, &t.name, &t.ty)))
        .map(|(setter, ident, ty)| {
            quote! {
                pub fn #setter(mut self, value: impl #rt::Into<#ty>) -> Self {
                    self.#ident = #rt::Option::Some(value.into());
                    self
                }
            }
        });
    let traits = m.traits.iter().map(|t| {
        let name = &t.name;
        let includes = &t.includes;
        let sets = t.sets.iter().map(|(k, v)| {
            let k = setter(m, k);
            quote!(.#k(#v))
        });
        let doc = format!("Applies the `{name}` trait (later calls override it).");
        quote! {
            #[doc = #doc]
            #[inline]
            pub fn #name(self) -> Self {
                self #(.#includes())* #(#sets)*
            }
        }
    });
    let subs = parents(m).map(|(f, p)| {
        let Parent {
            factory,
            name,
            sets,
        } = p;
        let (key, state) = (&f.ident, sub_state(name));
        let with = format_ident!("{}_with", name);
        // Choosing one of several parents forgets the others and sets what marks the choice.
        let others = match &f.source {
            Source::Sub { parents, .. } => parents
                .iter()
                .filter(|o| o.name != *name)
                .map(|o| sub_state(&o.name))
                .collect(),
            _ => Vec::new(),
        };
        let sets: Vec<TokenStream> = sets
            .iter()
            .map(|(k, v)| {
                let k = setter(m, k);
                quote!(.#k(#v))
            })
            .collect();
        let key_setter = &f.setter;
        let doc = format!("Points `{key}` at an existing row (no parent is created).");
        let with_doc = format!(
            "Customises the parent that creating this row creates for `{key}` (when `{key}` is not set)."
        );
        quote_spanned! {factory.span()=>
            #[doc = #doc]
            #[inline]
            pub fn #name(self, parent: &<#factory as #rt::Factory>::Model) -> Self {
                self.#key_setter(<#factory as #rt::Record>::key_of(parent)) #(#sets)*
            }

            #[doc = #with_doc]
            pub fn #with(mut self, customise: impl #rt::FnOnce(#factory) -> #factory) -> Self {
                let parent = *self.#state.take().unwrap_or_default();
                self.#state = #rt::Option::Some(#rt::Box::new(customise(parent)));
                #(self.#others = #rt::Option::None;)*
                self #(#sets)*
            }
        }
    });
    let related = m.related.iter().map(|r| {
        let (child, state) = (&r.factory, related_state(&r.name));
        let with = format_ident!("with_{}", r.name);
        let with_from = format_ident!("with_{}_from", r.name);
        let doc = format!(
            "Creates `n` {} with the row (replacing the default number).",
            r.name
        );
        let from_doc = format!("Creates these {} with the row, each pointed at it.", r.name);
        quote_spanned! {child.span()=>
            #[doc = #doc]
            #[inline]
            pub fn #with(mut self, n: usize) -> Self {
                self.#state = #rt::Option::Some(
                    (0..n).map(|_| <#child as #rt::Default>::default()).collect(),
                );
                self
            }

            #[doc = #from_doc]
            pub fn #with_from(mut self, children: impl #rt::IntoIterator<Item = #child>) -> Self {
                self.#state = #rt::Option::Some(children.into_iter().collect());
                self
            }
        }
    });
    let seq_resets = m.fields.iter().any(has_sequence).then(|| {
        let name = sequences_static(m);
        quote!(for sequence in &#name { sequence.reset(); })
    });
    quote! {
        /// A factory with no overrides.
        #[inline]
        pub fn new() -> Self {
            Self { #(#state: #rt::Option::None,)* }
        }

        #(#setters)*
        #(#traits)*
        #(#subs)*
        #(#related)*

        /// Restarts this factory's sequences at 1.
        #[inline]
        pub fn reset_sequences() {
            #seq_resets
        }

    }
}

/// `Record::transients`: the transient parameters, the values set, else their defaults.
fn transients_fn(m: &Model, n: &Names) -> TokenStream {
    let rt = rt();
    let transients = &n.transients;
    let transient_values: Vec<TokenStream> = m
        .transients
        .iter()
        .map(|t| {
            let (ident, ty) = (&t.name, &t.ty);
            let fallback = match &t.default {
                Some(expr) => {
                    quote_spanned!(expr.span()=> #rt::Into::<#ty>::into(#expr))
                }
                None => quote_spanned!(ty.span()=> <#ty as #rt::Default>::default()),
            };
            quote! {
                #ident: match &self.#ident {
                    #rt::Option::Some(value) => #rt::Clone::clone(value),
                    #rt::Option::None => #fallback,
                }
            }
        })
        .collect();
    let flags = m
        .fields
        .iter()
        .filter(|f| matches!(f.source, Source::DbDefault))
        .map(|f| {
            let (flag, ident) = (set_flag(f), &f.ident);
            quote!(#flag: self.#ident.is_some())
        });
    let transients_value = if has_transients_struct(m) {
        quote!(#transients { #(#transient_values,)* #(#flags,)* })
    } else {
        quote!(())
    };
    let transients = &n.transients;
    quote! {
        #[inline]
        fn transients(&self) -> #transients {
            #transients_value
        }
    }
}

/// `build`, `build_list`, `build_list_with`, `attributes`.
fn build_methods(m: &Model, n: &Names) -> TokenStream {
    let rt = rt();
    let model = &n.model;
    let lazy_flag = |f: &Field| format_ident!("__factory_lazy_{}", f.ident);

    // Every field but the lazy ones, in declaration order; lazy fields hold a placeholder.
    let values = m.fields.iter().map(|f| {
        let (ident, ty) = (&f.ident, &f.ty);
        let generated = match &f.source {
            Source::DbGenerated => {
                let s = sequence_static(m, f);
                return quote_spanned!(ty.span()=> #ident: <#ty as #rt::Stub>::stub(#s.next()));
            }
            Source::DbDefault => {
                let s = sequence_static(m, f);
                quote_spanned!(ty.span()=> <#ty as #rt::Stub>::stub(#s.next()))
            }
            Source::TypeDefault | Source::Lazy(_) => {
                quote_spanned!(ty.span()=> <#ty as #rt::Default>::default())
            }
            Source::Default(expr) => {
                quote_spanned!(expr.span()=> #rt::Into::<#ty>::into(#expr))
            }
            Source::Template(lit) => {
                let s = sequence_static(m, f);
                let parts = lit.value();
                let parts = parts.split("<n>").map(|p| syn::LitStr::new(p, lit.span()));
                // `<n>` is the number and the process token (or the plain number, by the
                // runtime's scope setting), written by the runtime.
                quote_spanned!(lit.span()=> #rt::template::<#ty>(&[#(#parts),*], #s.next()))
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
                // Bare faker names resolve in the runtime's list of the `fake` crate's fakers,
                // so the user's file need not import them.
                if names_a_faker(expr) {
                    quote_spanned!(at=> #rt::fake_value::<#ty_at, _>(&{ use #rt::fakers::*; #expr }))
                } else {
                    quote_spanned!(at=> #rt::fake_value::<#ty_at, _>(&(#expr)))
                }
            }
            Source::Sub { parents, nullable } => {
                // In memory the parent is built, never inserted; its key is a stub.
                let state = |p: &Parent| {
                    let state = sub_state(&p.name);
                    quote!(#state)
                };
                let key = choose_parent(parents, state, |p, chosen| {
                    let factory = &p.factory;
                    quote_spanned! {factory.span()=>
                        #rt::Into::into(<#factory as #rt::Record>::key_of(
                            &<#factory as #rt::Factory>::build(#chosen.unwrap_or_default()),
                        ))
                    }
                });
                if *nullable {
                    let states = parents.iter().map(state);
                    quote!(if false #(|| #states.is_some())* { #key } else { #rt::Option::None })
                } else {
                    key
                }
            }
        };
        if matches!(f.source, Source::Lazy(_)) {
            let flag = lazy_flag(f);
            quote! {
                #ident: match self.#ident {
                    #rt::Option::Some(value) => value,
                    #rt::Option::None => { #flag = true; #generated }
                }
            }
        } else if matches!(f.source, Source::TypeDefault) {
            quote_spanned!(ty.span()=> #ident: self.#ident.unwrap_or_default())
        } else {
            quote!(#ident: match self.#ident { #rt::Some(value) => value, #rt::None => #generated })
        }
    });
    let sub_bindings = parents(m).map(|(_, p)| {
        let state = sub_state(&p.name);
        quote!(let #state = self.#state;)
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

    quote! {
        #[inline]
        fn build_with(self, __factory_transients: &#transients) -> #model {
            #(#sub_bindings)*
            #(#lazy_flags)*
            let mut __factory_model = #model { #(#values,)* };
            #(#lazy_evals)*
            #after_build
            __factory_model
        }

    }
}

/// `impl Factory`.
fn factory_impl(n: &Names) -> TokenStream {
    let rt = rt();
    let Names {
        model,
        factory,
        table_name,
        ..
    } = n;
    let factory_name = factory.to_string();
    quote! {
        #[automatically_derived]
        impl #rt::Factory for #factory {
            type Model = #model;

            const NAME: &'static str = #factory_name;
            const TABLE_NAME: &'static str = #table_name;

            #[inline]
            fn build(self) -> #model {
                let transients = #rt::Record::transients(&self);
                #rt::Record::build_with(self, &transients)
            }
        }

    }
}

/// `impl Record`: the table, the row tuple, the key, the transients and related rows.
fn record_impl(m: &Model, n: &Names) -> TokenStream {
    let rt = rt();
    let table = &m.table;
    let Names {
        model,
        factory,
        transients,
        ..
    } = n;
    // The written fields (a `db_default` one as an `Option`: `None` writes `DEFAULT`), in
    // Diesel's `serialize_as` type when it has one, then the `insert_only` columns.
    let written: Vec<&Field> = m.fields.iter().filter(|f| f.is_written()).collect();
    let insert_only: Vec<&crate::ast::TransientDef> =
        m.transients.iter().filter(|t| t.column).collect();
    let columns = written.len() + insert_only.len();
    // Each written type against its column's SQL type, at the field: one error there for a
    // wrong type.
    let write_checks = written
        .iter()
        .map(|f| (&f.column, f.serialize_as.as_ref().unwrap_or(&f.ty)))
        .chain(insert_only.iter().map(|t| (&t.name, &t.ty)))
        .map(|(column, ty)| quote_spanned!(ty.span()=> #rt::writes::<#table::#column, #ty>();));

    let row_types = written
        .iter()
        .map(|f| {
            let (column, ty) = (&f.column, f.serialize_as.as_ref().unwrap_or(&f.ty));
            if matches!(f.source, Source::DbDefault) {
                quote_spanned!(ty.span()=> #rt::SetOrDefault<#table::#column, #ty>)
            } else {
                quote_spanned!(ty.span()=> #rt::Set<#table::#column, #ty>)
            }
        })
        .chain(insert_only.iter().map(|t| {
            let (column, ty) = (&t.name, &t.ty);
            quote_spanned!(ty.span()=> #rt::Set<#table::#column, #ty>)
        }));
    let row_values = written
        .iter()
        .map(|f| {
            let (ident, column) = (&f.ident, &f.column);
            let value = match &f.serialize_as {
                Some(ty) => quote_spanned!(ty.span()=> #rt::Into::<#ty>::into(model.#ident)),
                None => quote!(model.#ident),
            };
            if matches!(f.source, Source::DbDefault) {
                let flag = set_flag(f);
                quote_spanned!(f.ty.span()=> #rt::set_or_default::<#table::#column, _>(
                    if transients.#flag { #rt::Some(#value) } else { #rt::None }
                ))
            } else {
                quote_spanned!(f.ty.span()=> #rt::set::<#table::#column, _>(#value))
            }
        })
        .chain(insert_only.iter().map(|t| {
            let column = &t.name;
            quote_spanned!(t.ty.span()=> #rt::set::<#table::#column, _>(#rt::Clone::clone(&transients.#column)))
        }));

    // The primary key, for foreign keys pointing here, for tracked cleanup and for backends
    // that read a row back by key (MySQL).
    let key_fields: Vec<&Field> = m.primary_key.iter().map(|&i| &m.fields[i]).collect();
    let key_types = key_fields.iter().map(|f| &f.ty);
    let clone_from = |from: TokenStream| {
        let parts: Vec<TokenStream> = key_fields
            .iter()
            .map(|f| {
                let ident = &f.ident;
                quote!(#rt::Clone::clone(&#from.#ident))
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
    let key_column_types = key_fields.iter().map(|f| {
        let column = &f.column;
        quote_spanned!(f.ty.span()=> #table::#column)
    });
    // The defaults say "not known before the insert" and "not one database-assigned integer".
    let key_written = (key_fields
        .iter()
        .all(|f| f.is_written() && !matches!(f.source, Source::DbDefault))
        && !key_fields.is_empty())
    .then(|| {
        quote!(
            const KEY_WRITTEN: bool = true;
        )
    });
    let key_from_insert_id = match key_fields.as_slice() {
        [one] if !one.is_inserted() && is_integer(&one.ty) => {
            let ty = &one.ty;
            Some(quote! {
                #[inline]
                fn key_from_insert_id(id: u64) -> #rt::Option<Self::Key> {
                    <#ty as #rt::TryFrom<u64>>::try_from(id).ok()
                }
            })
        }
        _ => None,
    };
    let related_types = m.related.iter().map(|r| {
        let child = &r.factory;
        quote!(#rt::Vec<#child>)
    });
    let related_take = m.related.iter().map(|r| {
        let (state, child) = (related_state(&r.name), &r.factory);
        let count = match &r.count {
            Some(count) => quote_spanned!(count.span()=> #count),
            None => quote!(0),
        };
        quote_spanned! {child.span()=>
            self.#state.take().unwrap_or_else(|| {
                (0..#count).map(|_| <#child as #rt::Default>::default()).collect()
            })
        }
    });
    let take_related = (!m.related.is_empty()).then(|| {
        quote! {
            #[inline]
            fn take_related(&mut self) -> Self::Related {
                (#(#related_take,)*)
            }
        }
    });
    // Several statements make one row: they succeed or fail together.
    let atomic = m
        .fields
        .iter()
        .any(|f| matches!(f.source, Source::Sub { .. }))
        || !m.related.is_empty()
        || m.after_create.is_some();

    // Required parents' depths: a cycle of them cannot be created, and evaluating this
    // constant (below) makes it a compile error naming the factories.
    let required: Vec<&syn::Path> = parents(m)
        .filter(|(f, _)| !is_option(&f.ty))
        .map(|(_, p)| &p.factory)
        .collect();
    // `sub` against Diesel's `belongs_to(..)`: the factory builds the model the key references.
    let parent_checks = parents(m).filter_map(|(f, p)| {
        let Source::Sub { parents, .. } = &f.source else {
            return None;
        };
        if parents.len() != 1 {
            return None;
        }
        let (declared, _) = m
            .belongs_to
            .iter()
            .find(|(_, key)| *key == f.ident || *key == f.column)?;
        let factory = &p.factory;
        Some(quote_spanned! {factory.span()=>
            #rt::references::<<#factory as #rt::Factory>::Model, #declared>();
        })
    });
    // The checks in one item (an item each costs more to compile than the check itself), as
    // calls of `const fn`s evaluated at compile time: no function is instantiated.
    let checks: Vec<TokenStream> = write_checks.chain(parent_checks).collect();
    let checks = quote!(const _: () = { #(#checks)* };);
    let (depth, depth_check) = if required.is_empty() {
        (None, None)
    } else {
        (
            Some(quote! {
                const REQUIRED_PARENT_DEPTH: usize =
                    1 + #rt::deepest([#(<#required as #rt::Record>::REQUIRED_PARENT_DEPTH,)*]);
            }),
            Some(quote!(const _: usize = <#factory as #rt::Record>::REQUIRED_PARENT_DEPTH;)),
        )
    };
    let build_with = build_methods(m, n);
    let transients_fn = transients_fn(m, n);
    quote! {
        #[automatically_derived]
        #[allow(unused_variables, unused_mut, unused_imports, clippy::all, clippy::pedantic)]
        impl #rt::Record for #factory {
            type Table = #table::table;
            type Row = (#(#row_types,)*);
            type Key = #key_type;
            type KeyColumns = (#(#key_column_types,)*);
            type Transients = #transients;
            type Related = (#(#related_types,)*);

            const COLUMNS: usize = #columns;
            const KEY_COLUMNS: &'static [&'static str] = &[#(#key_columns,)*];
            const ATOMIC: bool = #atomic;

            #[inline]
            fn row(model: #model, transients: &#transients) -> Self::Row {
                (#(#row_values,)*)
            }

            #[inline]
            fn key_of(model: &#model) -> Self::Key {
                #key_of_model
            }

            #key_written
            #depth


            #key_from_insert_id
            #take_related
            #transients_fn
            #build_with

        }

        #depth_check
        #checks
    }
}

/// `impl Graph<C>` (and, with the runtime's `async` feature, `impl GraphAsync<C>`): which
/// factories create the parents and related rows, and how their keys are set. Generic over the
/// connection; the bounds name the factories that must create on it.
fn graph_impl(m: &Model, n: &Names) -> TokenStream {
    let sync = graph(m, n, false);
    let asynchronous = graph(m, n, true);
    quote! {
        #sync
        ::factory_core::__if_async! { #asynchronous }
    }
}

/// The sync or the async `Graph` impl: the same steps, awaited in the async one.
fn graph(m: &Model, n: &Names, asynchronous: bool) -> TokenStream {
    let rt = rt();
    let Names { model, factory, .. } = n;
    let (trait_, create, module, parents_fn, related_fn) = if asynchronous {
        (
            quote!(#rt::asynchronous::GraphAsync),
            quote!(#rt::asynchronous::CreateAsync),
            quote!(#rt::asynchronous),
            format_ident!("create_parents_async"),
            format_ident!("create_related_async"),
        )
    } else {
        (
            quote!(#rt::Graph),
            quote!(#rt::Create),
            quote!(#rt),
            format_ident!("create_parents"),
            format_ident!("create_related"),
        )
    };
    let subs: Vec<(&Field, &[Parent], bool)> = m
        .fields
        .iter()
        .filter_map(|f| match &f.source {
            Source::Sub { parents, nullable } => Some((f, parents.as_slice(), *nullable)),
            _ => None,
        })
        .collect();
    if subs.is_empty() && m.related.is_empty() {
        return quote! {
            #[automatically_derived]
            impl<__C> #trait_<__C> for #factory {}
        };
    }
    let awaited = asynchronous.then(|| quote!(.await));
    let bounds = parents(m)
        .map(|(_, p)| {
            let parent = &p.factory;
            quote_spanned!(parent.span()=> #parent: #create<__C>)
        })
        .chain(m.related.iter().map(|r| {
            let child = &r.factory;
            quote_spanned!(child.span()=> #child: #create<__C>)
        }))
        .chain(asynchronous.then(|| quote!(__C: #rt::Send)));
    // Parents first: a sub-factory runs only when its key was not given.
    let parents = subs.iter().map(|(f, parents, nullable)| {
        let key = &f.ident;
        let state = |p: &Parent| {
            let state = sub_state(&p.name);
            quote!(self.#state.take())
        };
        let needed = if *nullable {
            let states = parents.iter().map(|p| sub_state(&p.name));
            quote!(&& (false #(|| self.#states.is_some())*))
        } else {
            quote!()
        };
        // The key carries the `sub` path's span, as in `build`: a key type that does not
        // convert is one error there, not a second one at the derive.
        let value = choose_parent(parents, state, |p, chosen| {
            let parent = &p.factory;
            quote_spanned! {parent.span()=>
                {
                    let key = #module::parent_key::<#parent, __C>(#chosen, conn) #awaited ?;
                    #rt::Into::into(key)
                }
            }
        });
        quote_spanned! {parents[0].factory.span()=>
            if self.#key.is_none() #needed {
                self.#key = #rt::Option::Some(#value);
            }
        }
    });
    let locals: Vec<Ident> = (0..m.related.len())
        .map(|i| format_ident!("__factory_related_{}", i))
        .collect();
    let children = m.related.iter().zip(&locals).map(|(r, local)| {
        let (child, key) = (&r.factory, &r.key);
        quote_spanned! {child.span()=>
            #module::create_children::<Self, #child, __C>(#local, model, |child, key| child.#key(key), conn) #awaited ?;
        }
    });
    let result = quote!(#rt::Result<(), #rt::FactoryError>);
    let (parents_sig, related_sig) = if asynchronous {
        (
            quote!(fn #parents_fn<'__a>(&'__a mut self, conn: &'__a mut __C) -> #rt::asynchronous::BoxFuture<'__a, #result>),
            quote!(fn #related_fn<'__a>(model: &'__a #model, related: <Self as #rt::Record>::Related, conn: &'__a mut __C) -> #rt::asynchronous::BoxFuture<'__a, #result>),
        )
    } else {
        (
            quote!(fn #parents_fn(&mut self, conn: &mut __C) -> #result),
            quote!(fn #related_fn(model: &#model, related: <Self as #rt::Record>::Related, conn: &mut __C) -> #result),
        )
    };
    let parents_body = wrap(
        asynchronous,
        quote! {
            #(#parents)*
            #rt::Result::Ok(())
        },
    );
    let related_body = wrap(
        asynchronous,
        quote! {
            let (#(#locals,)*) = related;
            #(#children)*
            #rt::Result::Ok(())
        },
    );
    quote! {
        #[automatically_derived]
        #[allow(unused_variables, clippy::all)]
        impl<__C> #trait_<__C> for #factory
        where
            #(#bounds,)*
        {
            #parents_sig {
                #parents_body
            }

            #related_sig {
                #related_body
            }
        }
    }
}

/// The key of the parent chosen (the first of several whose state is set, else the first),
/// `make` given the parent and its state as an `Option` of the factory.
fn choose_parent(
    parents: &[Parent],
    state: impl Fn(&Parent) -> TokenStream,
    make: impl Fn(&Parent, TokenStream) -> TokenStream,
) -> TokenStream {
    let rt = rt();
    let (first, rest) = parents.split_first().expect("a sub has a parent");
    let first_state = state(first);
    let mut out = make(first, quote!(#first_state.map(|b| *b)));
    for p in rest.iter().rev() {
        let this = state(p);
        let chosen = make(p, quote!(#rt::Some(*chosen)));
        out = quote!(if let #rt::Some(chosen) = #this { #chosen } else { #out });
    }
    out
}

/// `body` as a function body: itself, or a boxed `async move` block of it.
fn wrap(asynchronous: bool, body: TokenStream) -> TokenStream {
    let rt = rt();
    if asynchronous {
        quote!(#rt::Box::pin(async move { #body }))
    } else {
        body
    }
}

/// `impl Persist<Conn>` for each connection type `factory-core` was built with (or the
/// backends `check_for_backend(..)` names), and `impl PersistAsync<Conn>` for their async
/// connection types: empty but for the `after_create` hooks, typed against the concrete
/// connection. A model with a sync `after_create` hook and no `after_create_async` gets no
/// async impls: creating it asynchronously without its hook would be wrong, so it does not
/// compile (the error says why).
fn persist_impls(m: &Model, n: &Names) -> TokenStream {
    let rt = rt();
    let factory = &n.factory;
    // Empty: every backend the runtime was built with.
    let backends = &m.backends;
    let hook = |cb: &Callback, module: TokenStream, awaited: Option<TokenStream>| {
        let expr = &cb.expr;
        let call = if cb.with_transients {
            quote_spanned!(expr.span()=> #module::after_create_with(#expr, model, transients, conn))
        } else {
            quote_spanned!(expr.span()=> #module::after_create(#expr, model, conn))
        };
        quote!({ |model, transients, conn| #call #awaited })
    };
    let sync = m
        .after_create
        .as_ref()
        .map_or_else(|| quote!({}), |cb| hook(cb, rt.clone(), None));
    let asynchronous = match (&m.after_create, &m.after_create_async) {
        (Some(_), None) => quote!(none),
        (_, None) => quote!({}),
        (_, Some(cb)) => hook(cb, quote!(#rt::asynchronous), Some(quote!(.await))),
    };
    quote!(::factory_core::__persist!(#factory, [#(#backends)*], #sync, #asynchronous);)
}

/// `$each!(callback)`, or `$one!(callback, Backend)` for each backend `check_for_backend(..)`
/// names (a UUID column does not exist on SQLite).
fn for_connections(
    m: &Model,
    each: TokenStream,
    one: TokenStream,
    callback: &Ident,
) -> TokenStream {
    if m.backends.is_empty() {
        quote!(#each!(#callback);)
    } else {
        let backends = &m.backends;
        quote!(#(#one!(#callback, #backends);)*)
    }
}

/// `impl Pin` and `impl Lookup<Backend>` per backend, for a model with
/// `get_or_create(..)` columns: the values to pin and the condition to look a row up by.
fn lookup_impls(m: &Model, n: &Names) -> TokenStream {
    let rt = rt();
    let Names { model, factory, .. } = n;
    if m.get_or_create.is_empty() {
        return TokenStream::new();
    }
    let table = &m.table;
    let callback = format_ident!("__factory_lookup_{}", factory);
    let fields: Vec<&Field> = m.get_or_create.iter().map(|&i| &m.fields[i]).collect();
    let pins = fields.iter().map(|f| {
        let (ident, setter) = (&f.ident, &f.setter);
        quote!(.#setter(#rt::Clone::clone(&probe.#ident)))
    });
    // `col = NULL` matches nothing: a `None` is looked up with `IS NULL`. Each condition is
    // boxed as a non-null boolean, so they combine with `AND` whatever the columns' types.
    let conditions = fields.iter().map(|f| {
        let (ident, column) = (&f.ident, &f.column);
        if is_option(&f.ty) {
            quote! {
                match &probe.#ident {
                    #rt::Option::Some(value) => #rt::Box::new(
                        #rt::diesel::NullableExpressionMethods::assume_not_null(
                            #rt::diesel::ExpressionMethods::eq(#table::#column, #rt::Clone::clone(value)),
                        ),
                    ),
                    #rt::Option::None => #rt::Box::new(
                        #rt::diesel::ExpressionMethods::is_null(#table::#column),
                    ),
                }
            }
        } else {
            quote! {
                #rt::Box::new(
                    #rt::diesel::ExpressionMethods::eq(#table::#column, #rt::Clone::clone(&probe.#ident)),
                )
            }
        }
    });
    let mut conditions = conditions.collect::<Vec<_>>().into_iter();
    let first = conditions.next();
    let rest = conditions.map(|c| {
        quote! {
            let next: #rt::Condition<Self, $backend> = #c;
            condition = #rt::Box::new(#rt::diesel::BoolExpressionMethods::and(condition, next));
        }
    });
    let each = for_connections(
        m,
        quote!(::factory_core::__for_each_backend),
        quote!(::factory_core::__for_backend_type),
        &callback,
    );
    quote! {
        #[automatically_derived]
        impl #rt::Pin for #factory {
            #[inline]
            fn pin(self, probe: &#model) -> Self {
                self #(#pins)*
            }
        }

        macro_rules! #callback {
            ($backend:ty) => {
                #[automatically_derived]
                impl #rt::Lookup<$backend> for #factory {
                    #[inline]
                    fn condition(probe: &#model) -> #rt::Condition<Self, $backend> {
                        #[allow(unused_mut)]
                        let mut condition: #rt::Condition<Self, $backend> = #first;
                        #(#rest)*
                        condition
                    }
                }
            };
        }
        #each
    }
}

/// Whether a `faker = ..` expression names something (`FirstName()`, `raw::Name(EN)`) that
/// may be one of the `fake` crate's fakers the runtime lets it name bare; a literal or range
/// (`18..65`) needs no such scope.
fn names_a_faker(expr: &syn::Expr) -> bool {
    match expr {
        syn::Expr::Call(_) | syn::Expr::Path(_) => true,
        syn::Expr::Paren(inner) => names_a_faker(&inner.expr),
        _ => false,
    }
}

/// After a compile error: the factory's name still resolves and implements the traits other
/// models' `sub` and `related` need, so the user sees the real error rather than a screen of
/// follow-on ones. Nothing here runs: the crate does not compile.
pub fn fallback(input: &syn::DeriveInput) -> TokenStream {
    let rt = rt_path();
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
                const NAME: &'static str = #name;
                const TABLE_NAME: &'static str = "";
                fn build(self) -> #model { ::core::unreachable!() }
            }

            impl #rt::Record for #factory {
                type Table = #rt::fallback::unused::table;
                type Row = ();
                type Key = i32;
                type KeyColumns = ();
                type Transients = ();
                type Related = ();
                const COLUMNS: usize = 0;
                const KEY_COLUMNS: &'static [&'static str] = &[];
                const ATOMIC: bool = false;
                fn transients(&self) {}
                fn build_with(self, _: &()) -> #model { ::core::unreachable!() }
                fn row(_: #model, _: &()) {}
                fn key_of(_: &#model) -> i32 { ::core::unreachable!() }
            }

            macro_rules! #callback {
                ($conn:ty) => {
                    impl #rt::Create<$conn> for #factory {
                        fn create_in(self, _: &mut $conn) -> ::core::result::Result<#model, #rt::FactoryError> {
                            ::core::unreachable!()
                        }
                        fn create_batch_in(
                            self,
                            _: usize,
                            _: impl ::core::ops::FnMut(usize, Self) -> Self,
                            _: &mut $conn,
                        ) -> ::core::result::Result<::std::vec::Vec<#model>, #rt::FactoryError> {
                            ::core::unreachable!()
                        }
                    }
                };
            }
            ::factory_core::__for_each_connection!(#callback);
        };
    }
}
