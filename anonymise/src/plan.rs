//! `anonymise plan`: a starting config for a schema, every column classified by a guess from
//! its name and sample values, the personal-looking ones flagged. A person reviews it; the run
//! itself never guesses.

use crate::config::{
    resolve, ColumnKind, ColumnSchema, FakeKind, Generalisation, Rule, TableSchema,
};
use std::fmt::Write;

/// A guess for one column, from its name and sample values only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suggestion {
    /// The rule, as TOML.
    pub rule: &'static str,
    /// Why, for the comment; `None` for columns that look harmless.
    pub flag: Option<&'static str>,
    /// Whether it looks like a quasi-identifier.
    pub quasi_identifier: bool,
    /// Rules to try, in order, when `rule` does not fit the column (its type, NOT NULL,
    /// unique); after them come pseudonym, null and keep.
    pub fallbacks: &'static [&'static str],
}

const KEEP: &str = "\"keep\"";
const NULL: &str = "\"null\"";
const PSEUDONYM: &str = "\"pseudonym\"";
/// Every value emptied: for a NOT NULL column that must not keep its values.
const EMPTY: &str = "{ rule = \"map\", values = {}, default = \"\" }";
/// Every value made an empty JSON object: for a NOT NULL `json`/`jsonb` column.
const EMPTY_JSON: &str = "{ rule = \"map\", values = {}, default = \"{}\" }";

/// One kind of personal-looking column: the names that find it, its rule and why.
struct Category {
    /// Found anywhere in the lowercased name.
    parts: &'static [&'static str],
    /// Found as a whole word of the name (see [`words`]).
    whole: &'static [&'static str],
    /// The whole name, or its end after a `_` (`age`, `customer_age`).
    ending: &'static [&'static str],
    /// Parts that, found too, mean something else (`product_name` names no person).
    unless: &'static [&'static str],
    /// The column's sample values, mostly email addresses, find it too.
    emails: bool,
    rule: &'static str,
    flag: &'static str,
    quasi_identifier: bool,
    fallbacks: &'static [&'static str],
}

impl Category {
    const fn new(rule: &'static str, flag: &'static str) -> Self {
        Self {
            parts: &[],
            whole: &[],
            ending: &[],
            unless: &[],
            emails: false,
            rule,
            flag,
            quasi_identifier: false,
            fallbacks: &[],
        }
    }

    /// A quasi-identifier: kept when its rule does not fit, for the report to count.
    const fn qi(rule: &'static str, flag: &'static str) -> Self {
        Self {
            quasi_identifier: true,
            fallbacks: &[KEEP],
            ..Self::new(rule, flag)
        }
    }

    fn finds(&self, name: &str, words: &[String], emails: bool) -> bool {
        let found = self.parts.iter().any(|p| name.contains(p))
            || self.whole.iter().any(|w| words.iter().any(|x| x == w))
            || self
                .ending
                .iter()
                .any(|e| name == *e || name.ends_with(&format!("_{e}")))
            || (self.emails && emails);
        found && !self.unless.iter().any(|u| name.contains(u))
    }
}

/// The number of an identity document or account: not a key, whatever its name ends with.
const IDENTIFIER: Category = Category {
    parts: &[
        "national",
        "passport",
        "tax",
        "iban",
        "account",
        "licence",
        "license",
        "creditcard",
        "debitcard",
        "cardnumber",
        "card_number",
        "card_no",
        "routing_number",
        "sort_code",
        "insurance_number",
    ],
    whole: &["ssn", "nhs", "nino", "sin", "bsn", "card", "pan"],
    ..Category::new(PSEUDONYM, "an identifier of a person")
};

/// The categories, first found first: the most sensitive come first.
const CATEGORIES: &[Category] = &[
    Category {
        parts: &[
            "password",
            "passwd",
            "passphrase",
            "passcode",
            "secret",
            "token",
            "credential",
            "apikey",
            "api_key",
            "private_key",
            "access_key",
            "signing_key",
            "encryption_key",
        ],
        whole: &["pwd", "pin", "otp", "cvv", "cvc", "salt", "mfa", "totp"],
        fallbacks: &[PSEUDONYM],
        ..Category::new(NULL, "a secret or credential")
    },
    Category {
        parts: &[
            "diagnos",
            "medical",
            "medication",
            "prescription",
            "disabilit",
            "allerg",
            "symptom",
            "disease",
            "illness",
            "blood_type",
            "blood_group",
        ],
        whole: &["health", "hiv"],
        fallbacks: &[EMPTY],
        ..Category::new(NULL, "health data: a special category")
    },
    Category {
        parts: &[
            "ethnic",
            "religio",
            "sexual",
            "political",
            "trade_union",
            "biometric",
        ],
        whole: &["race", "faith", "belief", "beliefs"],
        fallbacks: &[EMPTY],
        ..Category::new(NULL, "ethnicity, beliefs or the like: a special category")
    },
    Category {
        parts: &["email", "e_mail", "mail"],
        emails: true,
        ..Category::new("\"email_pseudonym\"", "an email address")
    },
    Category {
        parts: &["ip_addr", "ipaddr", "mac_addr", "macaddr"],
        whole: &["ip", "ipv4", "ipv6", "ipaddr", "ipaddress"],
        ..Category::new(PSEUDONYM, "an IP address: it identifies a device")
    },
    IDENTIFIER,
    Category {
        parts: &[
            "photo",
            "picture",
            "avatar",
            "portrait",
            "selfie",
            "signature",
        ],
        whole: &["image", "scan"],
        fallbacks: &[EMPTY],
        ..Category::new(NULL, "a picture or a scan: it may show a person")
    },
    Category {
        parts: &["first_name", "firstname", "given"],
        ..Category::new("{ rule = \"fake\", kind = \"first_name\" }", "a name")
    },
    Category {
        parts: &["last_name", "lastname", "surname", "family"],
        ..Category::new("{ rule = \"fake\", kind = \"last_name\" }", "a name")
    },
    Category {
        parts: &["name"],
        unless: &[
            "product",
            "company",
            "file",
            "table",
            "user_name",
            "username",
        ],
        ..Category::new("{ rule = \"fake\", kind = \"name\" }", "a name")
    },
    Category {
        parts: &["username", "user_name", "login", "handle"],
        ..Category::new(PSEUDONYM, "a login")
    },
    Category {
        parts: &["phone", "mobile", "tel", "fax"],
        ..Category::new("{ rule = \"fake\", kind = \"phone\" }", "a phone number")
    },
    Category {
        parts: &["address", "street", "addr"],
        ..Category::new("{ rule = \"fake\", kind = \"address\" }", "an address")
    },
    Category {
        parts: &["postcode", "post_code", "zip", "postal"],
        ..Category::qi(
            "{ rule = \"generalise\", to = \"postcode_district\" }",
            "a postcode: a quasi-identifier",
        )
    },
    Category {
        parts: &["birth", "dob"],
        ..Category::qi(
            "{ rule = \"generalise\", to = \"year\" }",
            "a birth date: a quasi-identifier",
        )
    },
    Category {
        ending: &["age"],
        ..Category::qi(
            "{ rule = \"generalise\", to = \"age_band\", width = 10, top = 90 }",
            "an age: a quasi-identifier",
        )
    },
    Category {
        parts: &["gender", "sex"],
        ..Category::qi(KEEP, "a quasi-identifier")
    },
    Category {
        parts: &["hometown", "marital", "job_title", "jobtitle"],
        whole: &[
            "city",
            "town",
            "county",
            "nationality",
            "occupation",
            "profession",
        ],
        ..Category::qi(KEEP, "a place, nationality or trade: a quasi-identifier")
    },
    Category {
        parts: &["salary", "income", "wage", "earning", "payroll"],
        ..Category::new(
            "{ rule = \"generalise\", to = \"round\", step = 1000 }",
            "an income",
        )
    },
    Category {
        parts: &["latitude", "longitude", "coordinate", "geolocation"],
        whole: &["lat", "lng", "lon", "gps", "geo"],
        ending: &["long"],
        fallbacks: &["{ rule = \"generalise\", to = \"round\", step = 1 }"],
        ..Category::new(NULL, "a location: coordinates can point at a home")
    },
    Category {
        parts: &["note", "comment", "description", "bio", "message"],
        fallbacks: &["{ rule = \"fake\", kind = \"sentence\" }"],
        ..Category::new(NULL, "free text that may hold personal data")
    },
];

/// Guesses a rule for a column from its name and a few of its values. Long, distinctive words
/// are found anywhere in the name; short ones (`ip`, `lat`, `ssn`, ..) only as a whole word of
/// it (`client_ip`, `ipAddress`, not `zip` nor `template`). A key (`id`, `address_id`,
/// `personId`) is kept: it names a row, not a person; an identity document's number
/// (`national_id`, `tax_id`) is not a key.
pub fn suggest(column: &str, samples: &[&str]) -> Suggestion {
    let name = column.to_ascii_lowercase();
    let words = words(column);
    let emails = !samples.is_empty()
        && samples
            .iter()
            .filter(|v| v.contains('@') && v.contains('.'))
            .count()
            * 2
            > samples.len();
    let key = words.last().is_some_and(|w| w == "id");
    let harmless = Suggestion {
        rule: KEEP,
        flag: None,
        quasi_identifier: false,
        fallbacks: &[],
    };
    if key && !emails && !IDENTIFIER.finds(&name, &words, false) {
        return harmless;
    }
    CATEGORIES
        .iter()
        .find(|c| c.finds(&name, &words, emails))
        .map_or(harmless, |c| Suggestion {
            rule: c.rule,
            flag: Some(c.flag),
            quasi_identifier: c.quasi_identifier,
            fallbacks: c.fallbacks,
        })
}

/// The words of a column name, lowercased: split at anything not a letter or digit and where a
/// lowercase letter or digit meets an uppercase one (`clientIP` and `client_ip` are `client`,
/// `ip`; `IPAddress` is `ip`, `address`).
fn words(column: &str) -> Vec<String> {
    let chars: Vec<char> = column.chars().collect();
    let mut words = Vec::new();
    let mut current = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_alphanumeric() {
            if !current.is_empty() {
                words.push(std::mem::take(&mut current));
            }
            continue;
        }
        let before = i.checked_sub(1).map(|j| chars[j]);
        let after = chars.get(i + 1);
        let boundary = c.is_uppercase()
            && !current.is_empty()
            && (before.is_some_and(|b| b.is_lowercase() || b.is_numeric())
                || after.is_some_and(|a| a.is_lowercase()));
        if boundary {
            words.push(std::mem::take(&mut current));
        }
        current.extend(c.to_lowercase());
    }
    if !current.is_empty() {
        words.push(current);
    }
    words
}

/// Whether `column` holds a flag: a boolean, or MariaDB's `tinyint(1)` or `bit(1)`. A name
/// like `email_confirmed` says nothing about what such a column holds.
fn is_flag(column: &ColumnSchema) -> bool {
    column.kind() == ColumnKind::Bool
        || column
            .type_name
            .as_deref()
            .is_some_and(|t| ["tinyint(1)", "bit(1)"].contains(&t.to_ascii_lowercase().as_str()))
}

/// `text` (a rule as TOML, one of [`suggest`]'s) as the rule the config check reads, through
/// the same reader as a config file's rules.
fn parse_rule(text: &str) -> Rule {
    toml::from_str::<toml::Table>(&format!("rule = {text}"))
        .ok()
        .and_then(|entry| crate::config::read::rule(entry.get("rule")?).ok())
        .and_then(|spec| spec.rule())
        .expect("plan's rules are valid TOML rules")
}

/// Whether the config check accepts `rule` (as TOML) on `column` (see
/// [`crate::config::column_problems`]), and a map's outputs are known to fit it: `plan`
/// suggests no output only the database could judge.
fn fits(column: &ColumnSchema, text: &str) -> bool {
    let rule = parse_rule(text);
    // The check leaves a map's outputs on these types to the database; their empty values
    // are known to fit.
    let empties_structured = structured_empty(column) == Some(text);
    crate::config::column_problems(&column.name, column, &rule).is_empty()
        && (empties_structured || crate::config::map_outputs_known_to_fit(column, &rule))
        && fake_has_room(column, &rule)
}

/// The empty value of a column of structured data (JSON, XML, hstore: what an application put
/// there, names and addresses included), which a NOT NULL one is emptied to; `None` for other
/// columns. Arrays of them are not: their elements are.
fn structured_empty(column: &ColumnSchema) -> Option<&'static str> {
    let declared = column.type_name.as_deref()?.trim().to_ascii_lowercase();
    // `public.hstore`: an extension's type, qualified by its schema.
    match declared.rsplit('.').next()? {
        "json" | "jsonb" => Some(EMPTY_JSON),
        "xml" | "hstore" => Some(EMPTY),
        _ => None,
    }
}

/// Whether a length-limited text column has room for any `fake` value `rule` makes (true
/// for other rules). A fake value's length varies, so the check takes a fake rule on any text
/// column and a run fails on a value too long; `plan` suggests one only where there is twice
/// the room (about) the longest value of 20 000 draws in every locale took (names 32 characters,
/// addresses 34, cities and companies 48, sentences 91).
fn fake_has_room(column: &ColumnSchema, rule: &Rule) -> bool {
    let Rule::Fake { kind, .. } = rule else {
        return true;
    };
    let ColumnKind::Text {
        max_chars,
        max_bytes,
    } = column.kind()
    else {
        return true;
    };
    let room = match kind {
        FakeKind::FirstName => 24,
        FakeKind::LastName | FakeKind::Phone => 42,
        FakeKind::Name | FakeKind::Address => 68,
        FakeKind::City | FakeKind::Company => 102,
        FakeKind::Sentence => 182,
    };
    max_chars
        .into_iter()
        .chain(max_bytes)
        .all(|limit| limit >= room)
}

/// Whether `rule` makes text whatever it reads (so only a text column can hold it).
fn makes_text(rule: &Rule) -> bool {
    matches!(
        rule,
        Rule::Pseudonym
            | Rule::EmailPseudonym
            | Rule::Fake { .. }
            | Rule::Generalise {
                to: Generalisation::PostcodeDistrict,
                ..
            }
    )
}

/// The rule written for one column, and its comment.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Choice {
    rule: &'static str,
    comment: Option<String>,
    quasi_identifier: bool,
}

/// The rule for `column` of `table`: [`suggest`]'s guess, or its first fallback the column takes (see
/// [`fits`]). Bytes, search vectors and structured data (JSON, XML, hstore) are flagged
/// whatever their name; a date or a boolean
/// cannot hold the text a name like `email_confirmed_at` suggests, and is kept.
fn choose(table: &str, column: &ColumnSchema, samples: &[&str]) -> Choice {
    let kind = column.kind();
    let mut guess = suggest(&column.name, samples);
    // `phones.number`, `emails.value`: a column named for nothing says what it is in its
    // table's name.
    let generic = ["number", "value", "line1", "line2", "line_1", "line_2"];
    if guess.flag.is_none() && generic.contains(&column.name.to_ascii_lowercase().as_str()) {
        let qualified = suggest(&format!("{table}_{}", column.name), samples);
        if qualified.flag.is_some() {
            guess = qualified;
        }
    }
    let makes_text = makes_text(&parse_rule(guess.rule));
    match kind {
        ColumnKind::Binary { .. } if guess.rule == KEEP || makes_text => {
            guess.rule = NULL;
            guess.flag = Some("bytes (a picture, a document?): they may show or name a person");
            guess.fallbacks = &[EMPTY];
        }
        ColumnKind::Search => {
            guess.rule = NULL;
            guess.flag = Some("a text search vector: it holds the words of the text it indexes");
            guess.fallbacks = &[EMPTY];
        }
        _ if structured_empty(column).is_some() => {
            // A name that says more (a secret, health data) keeps its flag.
            if guess.rule != NULL {
                guess.rule = NULL;
                guess.flag = Some(
                    "structured data (JSON, XML, hstore): it may hold names, emails or addresses",
                );
            }
            guess.fallbacks = match structured_empty(column) {
                Some(EMPTY_JSON) => &[EMPTY_JSON],
                _ => &[EMPTY],
            };
            guess.quasi_identifier = false;
        }
        ColumnKind::Date if makes_text => {
            guess = suggest("", &[]);
        }
        _ if makes_text && is_flag(column) => {
            guess = suggest("", &[]);
        }
        _ => {}
    }
    let rule = [guess.rule]
        .iter()
        .chain(guess.fallbacks)
        .chain(&[PSEUDONYM, NULL, KEEP])
        .copied()
        .find(|rule| fits(column, rule))
        .unwrap_or(KEEP);
    let mut comment = guess.flag.map(|flag| format!("PII? {flag}"));
    if let (Some(comment), true) = (&mut comment, rule == KEEP && guess.rule != KEEP) {
        let _ = write!(
            comment,
            "; kept, as no rule that hides it fits the column ({}{}{}): review",
            column.type_name.as_deref().unwrap_or("text"),
            if column.not_null { ", NOT NULL" } else { "" },
            if column.unique { ", unique" } else { "" },
        );
    }
    Choice {
        rule,
        comment,
        quasi_identifier: guess.quasi_identifier && rule != NULL,
    }
}

/// The choices for every column of `tables`; a column that references another (in `tables`)
/// takes the rule of the column at the end of its references, so joins survive and the check
/// finds both rules the same.
fn choices(tables: &[(TableSchema, Vec<Vec<String>>)]) -> Vec<Vec<Choice>> {
    let own: Vec<Vec<Choice>> = tables
        .iter()
        .map(|(table, rows)| {
            table
                .columns
                .iter()
                .enumerate()
                .map(|(i, c)| {
                    let samples: Vec<&str> = rows
                        .iter()
                        .filter_map(|r| r.get(i).map(String::as_str))
                        .filter(|v| !v.is_empty())
                        .collect();
                    choose(&table.name, c, &samples)
                })
                .collect()
        })
        .collect();
    let schema: Vec<TableSchema> = tables.iter().map(|(t, _)| t.clone()).collect();
    // (table, column) positions of what a column references, when it is one column of `tables`.
    let target = |t: usize, c: usize| -> Option<(usize, usize)> {
        let reference = schema[t].columns[c].references.as_deref()?;
        let [(table, column)] = resolve(&schema, reference)[..] else {
            return None;
        };
        let t = schema.iter().position(|x| x.name == table)?;
        let c = schema[t].columns.iter().position(|x| x.name == column)?;
        Some((t, c))
    };
    let mut chosen = own.clone();
    for (t, table) in schema.iter().enumerate() {
        for (c, column) in table.columns.iter().enumerate() {
            let mut seen = vec![(t, c)];
            while let Some(next) = target(seen[seen.len() - 1].0, seen[seen.len() - 1].1) {
                if seen.contains(&next) {
                    break;
                }
                seen.push(next);
            }
            let &(rt, rc) = seen.last().expect("non-empty");
            if seen.len() == 1 {
                continue;
            }
            let end = &own[rt][rc];
            if fits(column, end.rule) {
                chosen[t][c] = Choice {
                    rule: end.rule,
                    comment: Some(format!(
                        "references {}.{}: its rule, so joins survive",
                        schema[rt].name, schema[rt].columns[rc].name
                    )),
                    quasi_identifier: false,
                };
            }
        }
    }
    chosen
}

/// A config text for `tables`, each with a few sample values per column. Each column's rule
/// fits its type (see `choose`), so the check accepts the text as it is.
pub fn config_text(tables: &[(TableSchema, Vec<Vec<String>>)]) -> String {
    let mut out = String::from(
        "# Suggested by `anonymise plan`: review every line. Columns flagged PII look personal.\n\
         key_env = \"ANONYMISE_KEY\"\n",
    );
    for ((table, _), choices) in tables.iter().zip(choices(tables)) {
        let qis: Vec<String> = table
            .columns
            .iter()
            .zip(&choices)
            .filter(|(_, s)| s.quasi_identifier)
            .map(|(c, _)| toml_string(&c.name))
            .collect();
        let table_key = toml_key(&table.name);
        let _ = writeln!(out, "\n[tables.{table_key}]");
        let _ = writeln!(
            out,
            "# The columns that together could single a person out, for `anonymise report`."
        );
        let _ = writeln!(out, "quasi_identifiers = [{}]", qis.join(", "));
        let _ = writeln!(out, "\n[tables.{table_key}.columns]");
        for (column, choice) in table.columns.iter().zip(choices) {
            let column = toml_key(&column.name);
            match choice.comment {
                Some(comment) => {
                    let _ = writeln!(out, "{column} = {}  # {comment}", choice.rule);
                }
                None => {
                    let _ = writeln!(out, "{column} = {}", choice.rule);
                }
            }
        }
    }
    out
}

/// `name` as a TOML key: bare when it is made of `A-Za-z0-9_-` only, else a basic string.
fn toml_key(name: &str) -> String {
    let bare = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if bare {
        name.to_owned()
    } else {
        toml_string(name)
    }
}

/// `text` as a TOML basic string: `"` and `\\` escaped, and every control character.
fn toml_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04X}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
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

    #[test]
    fn typed_columns_get_rules_their_type_takes_and_the_check_accepts() {
        let col = |name: &str, type_name: &str, not_null: bool, unique: bool| ColumnSchema {
            name: name.into(),
            type_name: Some(type_name.into()),
            not_null,
            unique,
            ..Default::default()
        };
        let sentence = "{ rule = \"fake\", kind = \"sentence\" }";
        let cases = [
            (col("id", "bigint", true, true), KEEP),
            (col("address_id", "integer", true, false), KEEP),
            (
                col(
                    "email_confirmed_at",
                    "timestamp with time zone",
                    false,
                    false,
                ),
                KEEP,
            ),
            (col("phone_verified", "boolean", true, false), KEEP),
            (col("phone", "text", false, true), PSEUDONYM),
            (col("notes", "text", true, false), sentence),
            (
                col("password_hash", "character varying(255)", true, false),
                PSEUDONYM,
            ),
            (col("document", "bytea", true, false), EMPTY),
            (col("contract", "bytea", false, false), NULL),
            (col("avatar", "longblob", true, false), KEEP),
            (col("search", "tsvector", false, false), NULL),
            (col("emails", "text[]", false, false), NULL),
            (col("signup_ip", "inet", false, false), NULL),
            (col("postcode", "integer", false, false), KEEP),
            (col("birth_year", "integer", false, false), KEEP),
            (
                col("birth_date", "date", false, false),
                "{ rule = \"generalise\", to = \"year\" }",
            ),
            (col("mood", "enum('text','char')", true, false), KEEP),
            // A name is made up where any fake name fits, else pseudonymised.
            (
                col("full_name", "varchar(80)", false, false),
                "{ rule = \"fake\", kind = \"name\" }",
            ),
            (col("contact_name", "varchar(30)", false, false), PSEUDONYM),
            (col("customer_name", "varchar(20)", false, false), NULL),
            (col("email", "context", false, false), NULL),
            (col("backup_email", "\"char\"", false, false), NULL),
            // Structured data holds whatever the application put there: hidden like free text,
            // emptied to the type's empty value when NOT NULL.
            (col("preferences", "jsonb", false, false), NULL),
            (col("details", "json", true, false), EMPTY_JSON),
            (col("doc", "xml", true, false), EMPTY),
            (col("attrs", "public.hstore", true, false), EMPTY),
            (col("extra", "hstore", false, false), NULL),
            (col("settings", "jsonb", true, true), KEEP),
        ];
        for (column, rule) in &cases {
            let choice = choose("people", column, &[]);
            assert_eq!(choice.rule, *rule, "{column:?}: {choice:?}");
        }
        assert!(choose("people", &cases[9].0, &[])
            .comment
            .unwrap()
            .ends_with(
                "kept, as no rule that hides it fits the column (longblob, NOT NULL): review"
            ));
        assert!(choose("people", &cases[13].0, &[]).quasi_identifier);
        for (column, _) in &cases[cases.len() - 6..] {
            let comment = choose("people", column, &[]).comment.unwrap_or_default();
            assert!(comment.starts_with("PII? "), "{column:?}: {comment}");
        }
        let table = TableSchema {
            name: "people".into(),
            columns: cases.iter().skip(1).map(|(c, _)| c.clone()).collect(),
        };
        let text = config_text(&[(table.clone(), vec![])]);
        let config = Config::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        config
            .check(&Schema {
                tables: vec![table],
            })
            .unwrap_or_else(|e| panic!("{e}\n{text}"));
    }

    #[test]
    fn a_referencing_column_takes_its_targets_rule() {
        let people = TableSchema {
            name: "people".into(),
            columns: vec![ColumnSchema {
                name: "email".into(),
                unique: true,
                ..Default::default()
            }],
        };
        let orders = TableSchema {
            name: "orders".into(),
            columns: vec![ColumnSchema {
                name: "contact".into(),
                references: Some("people.email".into()),
                ..Default::default()
            }],
        };
        let text = config_text(&[(people, vec![]), (orders, vec![])]);
        assert!(
            text.contains("\ncontact = \"email_pseudonym\"  # references people.email"),
            "{text}"
        );
    }

    #[test]
    fn names_that_need_quoting_come_back_from_the_text_as_the_same_tables_and_columns() {
        use crate::config::Rule;
        let odd_tables = ["my.table", "a b", "quote\"d [x] = #1", "naïve\\tab\t"];
        let odd_columns = [
            "a b",
            "my.col",
            "quote\"d",
            "back\\slash",
            "tab\tname",
            "new\nline",
            "zip\u{7}del\u{7f}\u{85}",
            "naïve",
            "",
            "#hash",
            "=eq",
            "[x]",
            "zip code",
            "birth date \"dob\"",
            "plain_Name-2",
        ];
        let tables: Vec<(TableSchema, Vec<Vec<String>>)> = odd_tables
            .iter()
            .map(|t| {
                let table = TableSchema {
                    name: (*t).into(),
                    columns: odd_columns
                        .iter()
                        .map(|c| ColumnSchema {
                            name: (*c).into(),
                            ..Default::default()
                        })
                        .collect(),
                };
                (table, vec![])
            })
            .collect();
        let text = config_text(&tables);
        assert!(text.contains("\nplain_Name-2 = "), "{text}");
        let config = Config::parse(&text).unwrap_or_else(|e| panic!("{e}\n{text}"));
        let schema = Schema {
            tables: tables.iter().map(|(t, _)| t.clone()).collect(),
        };
        let plan = config
            .check(&schema)
            .unwrap_or_else(|e| panic!("{e}\n{text}"));
        assert_eq!(
            config.tables.keys().collect::<Vec<_>>().len(),
            odd_tables.len()
        );
        for table in odd_tables {
            let columns = &config.tables[table];
            assert_eq!(
                columns.quasi_identifiers,
                ["zip\u{7}del\u{7f}\u{85}", "zip code", "birth date \"dob\""],
                "{table}"
            );
            let rules = plan.table(table).unwrap();
            for (i, column) in odd_columns.iter().enumerate() {
                assert_eq!(rules[i].0, *column);
                assert!(columns.columns.contains_key(*column), "{column:?}");
            }
            let rule = |column: &str| rules.iter().find(|(c, _)| c == column).unwrap().1.clone();
            assert!(matches!(rule("zip code"), Rule::Generalise { .. }));
            assert!(matches!(
                rule("birth date \"dob\""),
                Rule::Generalise { .. }
            ));
            assert_eq!(rule("a b"), Rule::Keep);
        }
    }

    #[test]
    fn secrets_identifiers_health_beliefs_money_and_places_are_flagged() {
        let null = "\"null\"";
        let pseudonym = "\"pseudonym\"";
        let round = "{ rule = \"generalise\", to = \"round\", step = 1000 }";
        for (column, rule) in [
            ("password_hash", null),
            ("passwd", null),
            ("api_token", null),
            ("apiKey", null),
            ("secret", null),
            ("client_secret", null),
            ("reset_token", null),
            ("email_verification_token", null),
            ("diagnosis", null),
            ("medical_notes", null),
            ("ethnicity", null),
            ("ethnic_group", null),
            ("religion", null),
            ("religious_belief", null),
            ("latitude", null),
            ("longitude", null),
            ("lat", null),
            ("lng", null),
            ("home_lat", null),
            ("long", null),
            ("card_number", pseudonym),
            ("cardNumber", pseudonym),
            ("credit_card", pseudonym),
            ("iban", pseudonym),
            ("account_number", pseudonym),
            ("nhs_number", pseudonym),
            ("ssn", pseudonym),
            ("customer_ssn", pseudonym),
            ("passport", pseudonym),
            ("passport_no", pseudonym),
            ("national_id", pseudonym),
            ("ip", pseudonym),
            ("ip_address", pseudonym),
            ("ipAddress", pseudonym),
            ("IPAddress", pseudonym),
            ("client_ip", pseudonym),
            ("last_login_ip", pseudonym),
            ("ipv6", pseudonym),
            ("salary", round),
            ("annual_income", round),
        ] {
            let s = suggest(column, &[]);
            assert_eq!((column, s.rule), (column, rule));
            assert!(s.flag.is_some(), "{column} is not flagged");
        }
        // The address rule is for street addresses; short words match only as whole words.
        assert_eq!(
            suggest("street_address", &[]).rule,
            "{ rule = \"fake\", kind = \"address\" }"
        );
        assert_eq!(
            suggest("shipping_address", &[]).rule,
            "{ rule = \"fake\", kind = \"address\" }"
        );
        assert!(suggest("zip", &[]).quasi_identifier);
        for harmless in [
            "template",
            "related_id",
            "translation",
            "plate",
            "status",
            "created_at",
            "quantity",
        ] {
            let s = suggest(harmless, &[]);
            assert_eq!(s.rule, "\"keep\"", "{harmless}: {s:?}");
        }
        assert_eq!(
            words("clientIP_v2 lastLoginIPAddress"),
            ["client", "ip", "v2", "last", "login", "ip", "address"]
        );
    }
}
