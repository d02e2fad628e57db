//! `anonymise plan`: a starting config for a schema, every column classified by a guess from
//! its name and sample values, the personal-looking ones flagged. A person reviews it; the run
//! itself never guesses.

use crate::config::TableSchema;
use std::fmt::Write;

/// A guess for one column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suggestion {
    /// The rule, as TOML.
    pub rule: &'static str,
    /// Why, for the comment; `None` for columns that look harmless.
    pub flag: Option<&'static str>,
    /// Whether it looks like a quasi-identifier.
    pub quasi_identifier: bool,
}

/// Guesses a rule for a column from its name and a few of its values.
pub fn suggest(column: &str, samples: &[&str]) -> Suggestion {
    let name = column.to_ascii_lowercase();
    let has = |words: &[&str]| words.iter().any(|w| name.contains(w));
    let pii = |rule, flag| Suggestion {
        rule,
        flag: Some(flag),
        quasi_identifier: false,
    };
    let qi = |rule, flag| Suggestion {
        rule,
        flag: Some(flag),
        quasi_identifier: true,
    };
    let looks_like_email = !samples.is_empty()
        && samples
            .iter()
            .filter(|v| v.contains('@') && v.contains('.'))
            .count()
            * 2
            > samples.len();
    if has(&["email", "e_mail", "mail"]) || looks_like_email {
        pii("\"email_pseudonym\"", "an email address")
    } else if has(&[
        "ssn", "national", "passport", "tax", "iban", "account", "licence", "license",
    ]) {
        pii("\"pseudonym\"", "an identifier of a person")
    } else if has(&["first_name", "firstname", "given"]) {
        pii("{ rule = \"fake\", kind = \"first_name\" }", "a name")
    } else if has(&["last_name", "lastname", "surname", "family"]) {
        pii("{ rule = \"fake\", kind = \"last_name\" }", "a name")
    } else if has(&["name"])
        && !has(&[
            "product",
            "company",
            "file",
            "table",
            "user_name",
            "username",
        ])
    {
        pii("{ rule = \"fake\", kind = \"name\" }", "a name")
    } else if has(&["username", "user_name", "login", "handle"]) {
        pii("\"pseudonym\"", "a login")
    } else if has(&["phone", "mobile", "tel", "fax"]) {
        pii("{ rule = \"fake\", kind = \"phone\" }", "a phone number")
    } else if has(&["address", "street", "addr"]) {
        pii("{ rule = \"fake\", kind = \"address\" }", "an address")
    } else if has(&["postcode", "post_code", "zip", "postal"]) {
        qi(
            "{ rule = \"generalise\", to = \"postcode_district\" }",
            "a postcode: a quasi-identifier",
        )
    } else if has(&["birth", "dob"]) {
        qi(
            "{ rule = \"generalise\", to = \"year\" }",
            "a birth date: a quasi-identifier",
        )
    } else if name == "age" || name.ends_with("_age") {
        qi(
            "{ rule = \"generalise\", to = \"age_band\", width = 10, top = 90 }",
            "an age: a quasi-identifier",
        )
    } else if has(&["gender", "sex"]) {
        qi("\"keep\"", "a quasi-identifier")
    } else if has(&["ip", "note", "comment", "description", "bio", "message"]) {
        pii(
            "\"null\"",
            "free text or an address that may hold personal data",
        )
    } else {
        Suggestion {
            rule: "\"keep\"",
            flag: None,
            quasi_identifier: false,
        }
    }
}

/// A config text for `tables`, each with a few sample values per column.
pub fn config_text(tables: &[(TableSchema, Vec<Vec<String>>)]) -> String {
    let mut out = String::from(
        "# Suggested by `anonymise plan`: review every line. Columns flagged PII look personal.\n\
         key_env = \"ANONYMISE_KEY\"\n",
    );
    for (table, rows) in tables {
        let suggestions: Vec<(String, Suggestion)> = table
            .columns
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let samples: Vec<&str> = rows
                    .iter()
                    .filter_map(|r| r.get(i).map(String::as_str))
                    .filter(|v| !v.is_empty())
                    .collect();
                (c.name.clone(), suggest(&c.name, &samples))
            })
            .collect();
        let qis: Vec<String> = suggestions
            .iter()
            .filter(|(_, s)| s.quasi_identifier)
            .map(|(c, _)| format!("{c:?}"))
            .collect();
        let _ = writeln!(out, "\n[tables.{}]", table.name);
        let _ = writeln!(out, "quasi_identifiers = [{}]", qis.join(", "));
        let _ = writeln!(out, "\n[tables.{}.columns]", table.name);
        for (column, s) in suggestions {
            match s.flag {
                Some(flag) => {
                    let _ = writeln!(out, "{column} = {}  # PII? {flag}", s.rule);
                }
                None => {
                    let _ = writeln!(out, "{column} = {}", s.rule);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{ColumnSchema, Config, Schema};

    #[test]
    fn personal_looking_columns_are_flagged_and_the_text_is_a_valid_config() {
        assert_eq!(suggest("email", &[]).rule, "\"email_pseudonym\"");
        assert!(suggest("contact", &["a@b.co", "c@d.org"]).flag.is_some());
        assert!(suggest("postcode", &[]).quasi_identifier);
        assert_eq!(suggest("product_name", &[]).flag, None);
        let table = TableSchema {
            name: "people".into(),
            columns: ["id", "email", "full_name", "postcode", "birth_date", "plan"]
                .iter()
                .map(|c| ColumnSchema {
                    name: (*c).into(),
                    ..Default::default()
                })
                .collect(),
        };
        let text = config_text(&[(table.clone(), vec![])]);
        let config = Config::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        let plan = config
            .check(&Schema {
                tables: vec![table],
            })
            .unwrap();
        assert_eq!(plan.table("people").unwrap().len(), 6);
        assert_eq!(
            config.tables["people"].quasi_identifiers,
            ["postcode", "birth_date"]
        );
    }
}
