//! The expansion never panics: malformed input comes back as `compile_error!`.

use super::derive;
use quote::quote;

fn errors_of(input: proc_macro2::TokenStream) -> String {
    let out = derive(input).to_string();
    assert!(
        out.contains("compile_error"),
        "expected a compile error, got: {out}"
    );
    out
}

#[test]
fn malformed_attributes_are_errors_not_panics() {
    let cases = [
        quote!(
            #[diesel(table_name = users)]
            struct U {
                #[factory()]
                a: i32,
                #[factory(=)]
                b: i32,
            }
        ),
        quote!(
            #[diesel(table_name = users)]
            struct U {
                #[factory(default)]
                a: i32,
            }
        ),
        quote!(
            #[diesel(table_name = users)]
            struct U {
                #[factory(default = )]
                a: i32,
            }
        ),
        quote!(
            #[diesel(table_name = users)]
            struct U {
                #[factory(sequence = 1)]
                a: i32,
            }
        ),
        quote!(
            #[diesel(table_name = users)]
            struct U {
                #[factory(sequence = "x")]
                a: String,
            }
        ),
        quote!(
            #[diesel(table_name = users)]
            struct U {
                #[factory(sequence = || 1)]
                a: i32,
            }
        ),
        quote!(
            #[diesel(table_name = users)]
            struct U {
                #[factory(lazy = 3)]
                a: i32,
            }
        ),
        quote!(
            #[diesel(table_name = users)]
            struct U {
                #[factory(lazy = |a, b, c| 1)]
                a: i32,
            }
        ),
        quote!(
            #[diesel(table_name = users)]
            struct U {
                #[factory(db_generated = 1)]
                a: i32,
            }
        ),
        quote!(
            #[diesel(table_name = users)]
            struct U {
                #[factory(db_generated, default = 1)]
                a: i32,
            }
        ),
        quote!(
            #[diesel(table_name = users)]
            struct U {
                #[factory(locale = FR_FR)]
                a: String,
            }
        ),
        quote!(
            #[diesel(table_name = users)]
            struct U {
                #[factory(faker = X(), locale = FR_FR)]
                a: String,
            }
        ),
        quote!(
            #[diesel(table_name = users)]
            #[factory(traits)]
            struct U {
                a: i32,
            }
        ),
        quote!(
            #[diesel(table_name = users)]
            #[factory(traits = 1)]
            struct U {
                a: i32,
            }
        ),
        quote!(
            #[diesel(table_name = users)]
            #[factory(traits(x))]
            struct U {
                a: i32,
            }
        ),
        quote!(
            #[diesel(table_name = users)]
            #[factory(traits(x(y)))]
            struct U {
                a: i32,
            }
        ),
        quote!(
            #[diesel(table_name = users)]
            #[factory(traits(x(a = )))]
            struct U {
                a: i32,
            }
        ),
        quote!(
            #[diesel(table_name = users)]
            #[factory(traits(x(includes(1))))]
            struct U {
                a: i32,
            }
        ),
        quote!(
            #[diesel(table_name = users)]
            #[factory(traits(x(includes(x))))]
            struct U {
                a: i32,
            }
        ),
        quote!(
            #[diesel(table_name = users)]
            #[factory(transient)]
            struct U {
                a: i32,
            }
        ),
        quote!(
            #[diesel(table_name = users)]
            #[factory(transient(n))]
            struct U {
                a: i32,
            }
        ),
        quote!(
            #[diesel(table_name = users)]
            #[factory(transient(n: ))]
            struct U {
                a: i32,
            }
        ),
        quote!(
            #[diesel(table_name = users)]
            #[factory(transient(n: u8 = ))]
            struct U {
                a: i32,
            }
        ),
        quote!(
            #[diesel(table_name = users)]
            #[factory(after_build = 5)]
            struct U {
                a: i32,
            }
        ),
        quote!(
            #[diesel(table_name)]
            struct U {
                a: i32,
            }
        ),
        quote!(
            #[diesel(table_name = )]
            struct U {
                a: i32,
            }
        ),
        quote!(
            #[diesel(column_name)]
            struct U {
                a: i32,
            }
        ),
        quote!(
            #[diesel]
            struct U {
                a: i32,
            }
        ),
        quote!(
            #[diesel(table_name = users)]
            struct U {
                #[diesel(column_name = 1)]
                a: i32,
            }
        ),
        quote!(
            struct U {
                a: i32,
            }
        ),
        quote!(
            #[diesel(table_name = users)]
            struct U<T> {
                a: T,
            }
        ),
        quote!(
            #[diesel(table_name = users)]
            struct U(i32);
        ),
        quote!(
            #[diesel(table_name = users)]
            struct U;
        ),
        quote!(
            #[diesel(table_name = users)]
            enum U {
                A,
            }
        ),
        quote!(#[diesel(table_name = users)] union U { a: i32 }),
        quote!(
            #[diesel(table_name = t)]
            struct U {
                #[factory(sub = P)]
                r#_id: i32,
                b: i32,
            }
        ),
        quote!(
            #[diesel(table_name = t)]
            struct U {
                #[factory(sub = P)]
                _id: i32,
                b: i32,
            }
        ),
        quote!(
            #[diesel(table_name = t)]
            struct U {
                #[factory(sub = P)]
                self_id: i32,
                b: i32,
            }
        ),
        quote!(
            #[diesel(table_name = t)]
            struct U {
                #[factory(sub = P)]
                crate_id: i32,
                b: i32,
            }
        ),
        quote!(struct),
        quote!(),
    ];
    let accepted: Vec<String> = cases
        .into_iter()
        .map(|case| (case.to_string(), derive(case).to_string()))
        .filter(|(_, out)| !out.contains("compile_error"))
        .map(|(case, _)| case)
        .collect();
    assert!(
        accepted.is_empty(),
        "accepted without an error: {accepted:#?}"
    );
}

#[test]
fn every_mistake_is_reported_not_just_the_first() {
    let out = errors_of(quote! {
        #[diesel(table_name = users)]
        #[factory(traits(admin(nope = 1)))]
        struct U {
            #[factory(sequence = "no placeholder")]
            a: String,
            #[factory(default = 1, faker = Name())]
            b: i32,
        }
    });
    assert_eq!(out.matches("compile_error").count(), 3, "{out}");
}

#[test]
fn valid_model_expands_to_a_factory() {
    let out = derive(quote! {
        #[diesel(table_name = users)]
        #[factory(traits(admin(role = "admin")))]
        pub struct User {
            #[factory(db_generated)]
            pub id: i32,
            #[factory(sequence = "u<n>{x}")]
            pub email: String,
            #[factory(default = "customer")]
            pub role: String,
        }
    })
    .to_string();
    assert!(!out.contains("compile_error"), "{out}");
    assert!(out.contains("pub struct UserFactory"));
    assert!(out.contains("pub fn admin"));
    // Braces in a template are literal text, `<n>` where the number goes.
    assert!(out.contains(r#"["u" , "{x}"]"#), "{out}");
}

#[test]
fn a_key_named_after_a_keyword_gets_raw_methods() {
    let out = derive(quote! {
        #[diesel(table_name = items)]
        pub struct Item {
            #[factory(db_generated)]
            pub id: i32,
            #[factory(sub = KindFactory)]
            pub type_id: i32,
        }
    })
    .to_string();
    assert!(!out.contains("compile_error"), "{out}");
    assert!(out.contains("pub fn r#type ("), "{out}");
    assert!(out.contains("pub fn type_with ("), "{out}");
}
