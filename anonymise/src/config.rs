//! The TOML config that classifies every column of every table, and the fail-closed check of it
//! against the schema it is run on.
//!
//! ```toml
//! key_env = "ANONYMISE_KEY"          # the environment variable holding the secret key
//!
//! [tables.users]
//! quasi_identifiers = ["postcode", "birth_date", "gender"]
//!
//! [tables.users.columns]
//! id = "keep"
//! email = "email_pseudonym"          # u3f9c..@anonymised.invalid: same input, same output
//! national_id = "pseudonym"          # keyed HMAC-SHA256: joins survive, md5 tables do not
//! name = { rule = "fake", kind = "name" }
//! postcode = { rule = "generalise", to = "postcode_district" }
//! birth_date = { rule = "generalise", to = "year" }
//! age = { rule = "generalise", to = "age_band", width = 10, top = 90 }
//! salary = { rule = "generalise", to = "round", step = 1000 }
//! status = { rule = "map", values = { active = "A", closed = "C" } }
//! notes = "null"
//!
//! [[virtual_keys]]                   # a reference the database does not declare
//! from = "audit.user_email"
//! to = "users.email"
//! ```

use serde::Deserialize;
use std::collections::BTreeMap;
use std::fmt;

mod kind;
pub(crate) mod read;

pub use kind::ColumnKind;

/// The whole config file.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// The environment variable that holds the secret key of the pseudonyms.
    pub key_env: String,
    /// Each table's columns and quasi-identifiers, by table name.
    pub tables: BTreeMap<String, TableConfig>,
    /// References the database does not declare as foreign keys.
    pub virtual_keys: Vec<VirtualKey>,
}

fn default_key_env() -> String {
    "ANONYMISE_KEY".to_owned()
}

/// The file as TOML gives it: rules are read after, column by column (see [`Config::parse`]).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default = "default_key_env")]
    key_env: String,
    #[serde(default)]
    tables: BTreeMap<String, RawTable>,
    #[serde(default)]
    virtual_keys: Vec<VirtualKey>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTable {
    #[serde(default)]
    columns: BTreeMap<String, toml::Spanned<toml::Value>>,
    #[serde(default)]
    quasi_identifiers: Vec<String>,
}

/// One table of the config.
#[derive(Debug, Clone, PartialEq)]
pub struct TableConfig {
    /// Every column, classified.
    pub columns: BTreeMap<String, RuleSpec>,
    /// The columns that together could single a person out (for the k-anonymity report).
    pub quasi_identifiers: Vec<String>,
}

/// `from = "table.column"` references `to = "table.column"`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct VirtualKey {
    /// The referencing column.
    pub from: String,
    /// The referenced column.
    pub to: String,
}

/// A column's rule as written: a bare name (`"keep"`, resolved by [`Config::check`]) or a
/// table with parameters (read by [`Config::parse`]).
#[derive(Debug, Clone, PartialEq)]
pub enum RuleSpec {
    /// `"keep"`, `"null"`, `"pseudonym"`, `"email_pseudonym"`.
    Name(String),
    /// `{ rule = "..", .. }`.
    Full(Rule),
}

/// What happens to a column's values.
#[derive(Debug, Clone, PartialEq)]
pub enum Rule {
    /// Copied as they are.
    Keep,
    /// Replaced by NULL (an empty CSV field).
    Null,
    /// Replaced by a keyed HMAC-SHA256 pseudonym: the same input gives the same output in every
    /// table and every run with the same key.
    Pseudonym,
    /// An email whose local part is a keyed pseudonym, at a reserved domain.
    EmailPseudonym,
    /// A realistic fake value of `kind`, the same for the same input and key.
    Fake {
        /// What to make up.
        kind: FakeKind,
        /// The `fake` crate locale (default `en`).
        locale: Option<String>,
    },
    /// A coarser value.
    Generalise {
        /// How.
        to: Generalisation,
        /// `age_band`: the band width (default 10).
        width: Option<u32>,
        /// `age_band`: ages at or above this share one band (default 90).
        top: Option<u32>,
        /// `round`: the step numbers are rounded to (default 10).
        step: Option<f64>,
    },
    /// A fixed mapping; a value not in it is an error (fail closed) unless `default` is given.
    Map {
        /// Input value to output value.
        values: BTreeMap<String, String>,
        /// The output for values not in the map.
        default: Option<String>,
    },
}

/// What a `fake` rule makes up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FakeKind {
    /// A full name.
    Name,
    /// A first name.
    FirstName,
    /// A last name.
    LastName,
    /// A phone number.
    Phone,
    /// A street address.
    Address,
    /// A city.
    City,
    /// A company name.
    Company,
    /// A short sentence.
    Sentence,
}

/// What a `generalise` rule coarsens to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Generalisation {
    /// A postcode's outward part (`SW1A 1AA` to `SW1A`), or its first three characters.
    PostcodeDistrict,
    /// A date's year (`1987-04-12` to `1987-01-01`, still a date).
    Year,
    /// A date's month (`1987-04-12` to `1987-04-01`).
    Month,
    /// An age's band's lower bound, with a top code (`37` to `30`, `95` to `90`).
    AgeBand,
    /// A number rounded to `step`.
    Round,
}

impl RuleSpec {
    /// The rule, a bare name resolved; `None` for a name that is not a rule.
    pub fn rule(&self) -> Option<Rule> {
        match self {
            Self::Full(rule) => Some(rule.clone()),
            Self::Name(name) => match name.as_str() {
                "keep" => Some(Rule::Keep),
                "null" => Some(Rule::Null),
                "pseudonym" => Some(Rule::Pseudonym),
                "email_pseudonym" => Some(Rule::EmailPseudonym),
                _ => None,
            },
        }
    }
}

/// The columns of the data a run reads: what the config is checked against.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Schema {
    /// Tables in dependency order (referenced tables first) when known.
    pub tables: Vec<TableSchema>,
}

/// One table of the data.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TableSchema {
    /// Its name.
    pub name: String,
    /// Its columns, in order.
    pub columns: Vec<ColumnSchema>,
}

/// One column of the data.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ColumnSchema {
    /// Its name.
    pub name: String,
    /// Whether a unique index covers it alone (its values must stay distinct).
    pub unique: bool,
    /// `table.column` it references, if it does.
    pub references: Option<String>,
    /// Its declared type, for a database column that keeps to it: `None` for CSV and for the
    /// columns of a SQLite table that is not STRICT (both hold any text).
    pub type_name: Option<String>,
    /// Whether it refuses NULL.
    pub not_null: bool,
}

impl ColumnSchema {
    /// What the column holds, as far as rules go: known from its type's base name.
    pub fn kind(&self) -> ColumnKind {
        ColumnKind::of(self)
    }

    /// Whether the column takes any text: untyped columns, text types, and STRICT SQLite
    /// columns of type ANY.
    pub fn takes_text(&self) -> bool {
        matches!(self.kind(), ColumnKind::Text { .. })
    }
}

/// Why a config cannot be used: every problem found, so one run shows them all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigError {
    /// Columns of the data the config does not classify (`table.column`).
    pub unclassified: Vec<String>,
    /// Config entries for tables or columns the data does not have.
    pub stale: Vec<String>,
    /// Entries whose rule cannot be used, with why.
    pub invalid: Vec<String>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message(""))
    }
}

impl ConfigError {
    /// The message, `claim` at the end of its first line (a run's "; nothing was written").
    pub(crate) fn message(&self, claim: &str) -> String {
        use std::fmt::Write as _;
        let mut f = format!("the config does not match the data{claim}\n");
        if !self.unclassified.is_empty() {
            f.push_str("  columns the config does not classify (add a rule for each, \"keep\" if it holds nothing personal):\n");
            for c in &self.unclassified {
                let _ = writeln!(f, "    {c}");
            }
        }
        if !self.stale.is_empty() {
            // The schema readers leave generated columns out (a copy recomputes them), and a
            // CSV run knows only the files it is given: which of these it is, only the user
            // can tell.
            f.push_str("  config entries for columns or tables not in the source (a dropped column, a generated one, which the copy recomputes, or a CSV file not given): remove them, or give the file:\n");
            for c in &self.stale {
                let _ = writeln!(f, "    {c}");
            }
        }
        for problem in &self.invalid {
            let _ = writeln!(f, "  {problem}");
        }
        f
    }
}

/// A config checked against a schema: a rule for every column.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// Per table, in the schema's order: the table and each column's rule, in column order.
    pub tables: Vec<(String, Vec<(String, Rule)>)>,
}

impl Plan {
    /// The rules of `table`'s columns, in order.
    pub fn table(&self, table: &str) -> Option<&[(String, Rule)]> {
        self.tables
            .iter()
            .find(|(t, _)| t == table)
            .map(|(_, columns)| columns.as_slice())
    }
}

/// Why a config file cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Not TOML, or not a config outside its rules (toml's message, with the line).
    #[error("{0}")]
    Toml(String),
    /// Rules that cannot be read: every one, each with its line, `table.column` and what the
    /// rule allows.
    #[error("the config's rules cannot be read:\n{}", .0.join("\n"))]
    Rules(Vec<String>),
}

impl Config {
    /// Parses a config file's text: the file as TOML, then each column's rule, so that a
    /// mistake in a rule is named by its line, table and column, with what is allowed there.
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        let raw: RawConfig = toml::from_str(text).map_err(|e| ParseError::Toml(e.to_string()))?;
        let mut problems = Vec::new();
        let mut tables = BTreeMap::new();
        for (table_name, table) in raw.tables {
            let mut columns = BTreeMap::new();
            for (column, spanned) in table.columns {
                match read::rule(spanned.get_ref()) {
                    Ok(spec) => {
                        columns.insert(column, spec);
                    }
                    Err(found) => {
                        let line = text[..spanned.span().start.min(text.len())]
                            .matches('\n')
                            .count()
                            + 1;
                        problems.extend(
                            found.into_iter().map(|p| {
                                (line, format!("  line {line}, {table_name}.{column}: {p}"))
                            }),
                        );
                    }
                }
            }
            tables.insert(
                table_name,
                TableConfig {
                    columns,
                    quasi_identifiers: table.quasi_identifiers,
                },
            );
        }
        if !problems.is_empty() {
            // In the file's order (tables come sorted by name).
            problems.sort_by_key(|(line, _)| *line);
            return Err(ParseError::Rules(
                problems.into_iter().map(|(_, p)| p).collect(),
            ));
        }
        Ok(Config {
            key_env: raw.key_env,
            tables,
            virtual_keys: raw.virtual_keys,
        })
    }

    /// Checks the config against `schema`, failing closed: a column without a rule, an entry
    /// for a column that does not exist, an unknown rule name, a quasi-identifier that is not a
    /// column, a referencing column whose rule differs from the column it references, or a rule
    /// a run could not apply to the column's type, NOT NULL or uniqueness (see [`ColumnKind`]).
    /// A referencing column the config leaves out takes the referenced column's rule, so joins
    /// survive.
    pub fn check(&self, schema: &Schema) -> Result<Plan, ConfigError> {
        let mut error = ConfigError {
            unclassified: Vec::new(),
            stale: Vec::new(),
            invalid: Vec::new(),
        };
        // References by (table, column): names may hold dots, so `table.column` strings are
        // resolved against the schema's own pairs, never split.
        type Column = (String, String);
        let show = |(t, c): &Column| format!("{t}.{c}");
        let mut references: BTreeMap<Column, Column> = BTreeMap::new();
        for table in &schema.tables {
            for column in &table.columns {
                let Some(target) = &column.references else {
                    continue;
                };
                match resolve(&schema.tables, target).as_slice() {
                    [(t, c)] => {
                        references.insert(
                            (table.name.clone(), column.name.clone()),
                            (t.to_string(), c.to_string()),
                        );
                    }
                    // A parent outside the data (another schema): nothing to inherit.
                    [] => {}
                    _ => error.invalid.push(format!(
                        "{}.{} references {target}, which names more than one column (table and column names with dots)",
                        table.name, column.name
                    )),
                }
            }
        }
        for key in &self.virtual_keys {
            let mut ends = Vec::new();
            for end in [&key.from, &key.to] {
                match resolve(&schema.tables, end).as_slice() {
                    [(t, c)] => ends.push((t.to_string(), c.to_string())),
                    [] => error.stale.push(format!(
                        "virtual key {} -> {}: no column {end}",
                        key.from, key.to
                    )),
                    _ => error.invalid.push(format!(
                        "virtual key {} -> {}: {end} names more than one column (table and column names with dots)",
                        key.from, key.to
                    )),
                }
            }
            if let [from, to] = ends.as_slice() {
                references.insert(from.clone(), to.clone());
            }
        }
        let rule_of = |(t, c): &Column| -> Option<Result<Rule, String>> {
            let spec = self.tables.get(t)?.columns.get(c)?;
            Some(spec.rule().ok_or_else(|| match spec {
                RuleSpec::Name(name) => format!(
                    "{t}.{c}: unknown rule \"{name}\" (keep, null, pseudonym, email_pseudonym, or a table with rule = fake | generalise | map)"
                ),
                RuleSpec::Full(_) => format!("{t}.{c}: unusable rule"),
            }))
        };
        let mut plan = Plan { tables: Vec::new() };
        for table in &schema.tables {
            let mut columns = Vec::new();
            for column in &table.columns {
                let here: Column = (table.name.clone(), column.name.clone());
                let qualified = show(&here);
                // The rule: the column's own, else (for a reference) its target's.
                let mut chain = vec![here.clone()];
                let mut resolved = rule_of(&here);
                while resolved.is_none() {
                    let Some(target) = references.get(chain.last().expect("non-empty")) else {
                        break;
                    };
                    if chain.contains(target) {
                        break;
                    }
                    chain.push(target.clone());
                    resolved = rule_of(target);
                }
                match resolved {
                    None => error.unclassified.push(qualified.clone()),
                    Some(Err(problem)) => error.invalid.push(problem),
                    Some(Ok(rule)) => {
                        if let Err(problem) = crate::transform::check(&rule) {
                            error.invalid.push(format!("{qualified}: {problem}"));
                        }
                        // A declared rule on a referencing column must agree with its target's.
                        if let (Some(target), true) = (references.get(&here), chain.len() == 1) {
                            if let Some(Ok(target_rule)) = rule_of(target) {
                                if target_rule != rule {
                                    error.invalid.push(format!(
                                        "{qualified} references {} but has another rule: joins would break (give both the same rule, or leave {qualified} out to inherit it)",
                                        show(target)
                                    ));
                                }
                            }
                        }
                        error
                            .invalid
                            .extend(column_problems(&qualified, column, &rule));
                        columns.push((column.name.clone(), rule));
                    }
                }
            }
            plan.tables.push((table.name.clone(), columns));
        }
        for (name, table) in &self.tables {
            let Some(found) = schema.tables.iter().find(|t| t.name == *name) else {
                error.stale.push(format!("{name} (the whole table)"));
                continue;
            };
            for column in table.columns.keys() {
                if !found.columns.iter().any(|c| c.name == *column) {
                    error.stale.push(format!("{name}.{column}"));
                }
            }
            for qi in &table.quasi_identifiers {
                if !found.columns.iter().any(|c| c.name == *qi) {
                    error
                        .invalid
                        .push(format!("{name}: quasi-identifier {qi} is not a column"));
                }
            }
        }
        if error.unclassified.is_empty() && error.stale.is_empty() && error.invalid.is_empty() {
            Ok(plan)
        } else {
            Err(error)
        }
    }
}

/// The `(table, column)` pairs of `tables` that `reference` (`table.column`) names: one, or
/// none, or (only when names hold dots) several.
pub fn resolve<'a>(tables: &'a [TableSchema], reference: &str) -> Vec<(&'a str, &'a str)> {
    tables
        .iter()
        .filter_map(|t| {
            let column = reference.strip_prefix(t.name.as_str())?.strip_prefix('.')?;
            t.columns
                .iter()
                .find(|c| c.name == column)
                .map(|c| (t.name.as_str(), c.name.as_str()))
        })
        .collect()
}

/// Why `rule` cannot be applied to `column` (named `qualified` in the messages): what the
/// rule reads or makes does not fit the column's type (see [`ColumnKind`]), NULL for a NOT NULL
/// column, or values that would collide in a unique one. The config check and `plan` both ask
/// this, so that `plan` suggests only what the check accepts.
pub(crate) fn column_problems(qualified: &str, column: &ColumnSchema, rule: &Rule) -> Vec<String> {
    let mut problems = Vec::new();
    let type_name = column.type_name.as_deref().unwrap_or("text");
    if let Some(problem) = kind::problem(type_name, &column.kind(), rule) {
        problems.push(format!("{qualified}: {problem}"));
    }
    if column.not_null && *rule == Rule::Null {
        problems.push(format!("{qualified}: the column is NOT NULL and its rule is null: use keep, pseudonym, fake, generalise or map"));
    }
    if column.unique && !keeps_distinct(rule) {
        problems.push(format!(
            "{qualified} is unique, and its rule would make values collide: use keep, pseudonym or email_pseudonym"
        ));
    }
    problems
}

/// Whether every output of `rule`, a `map`, is known to fit `column` (a text of the
/// column's length, a number, a date, one of an enum's values); true for other rules. The
/// check leaves outputs it cannot judge (a PostgreSQL enum, `uuid`, `json`) to the database.
pub(crate) fn map_outputs_known_to_fit(column: &ColumnSchema, rule: &Rule) -> bool {
    match rule {
        Rule::Map { values, default } => {
            let kind = column.kind();
            values
                .values()
                .chain(default)
                .all(|output| kind::output_fits(&kind, output) == Some(true))
        }
        _ => true,
    }
}

/// Whether a rule keeps distinct inputs distinct (so a unique column stays unique).
fn keeps_distinct(rule: &Rule) -> bool {
    matches!(rule, Rule::Keep | Rule::Pseudonym | Rule::EmailPseudonym)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schema() -> Schema {
        let col = |name: &str| ColumnSchema {
            name: name.into(),
            ..Default::default()
        };
        Schema {
            tables: vec![
                TableSchema {
                    name: "users".into(),
                    columns: vec![
                        ColumnSchema {
                            unique: true,
                            ..col("email")
                        },
                        col("name"),
                        col("postcode"),
                    ],
                },
                TableSchema {
                    name: "orders".into(),
                    columns: vec![
                        col("id"),
                        ColumnSchema {
                            references: Some("users.email".into()),
                            ..col("user_email")
                        },
                    ],
                },
            ],
        }
    }

    const GOOD: &str = r#"
        [tables.users]
        quasi_identifiers = ["postcode"]
        [tables.users.columns]
        email = "email_pseudonym"
        name = { rule = "fake", kind = "name" }
        postcode = { rule = "generalise", to = "postcode_district" }
        [tables.orders.columns]
        id = "keep"
    "#;

    #[test]
    fn a_full_config_gives_a_rule_for_every_column_and_references_inherit() {
        let plan = Config::parse(GOOD).unwrap().check(&schema()).unwrap();
        let orders = plan.table("orders").unwrap();
        assert_eq!(orders[1], ("user_email".to_owned(), Rule::EmailPseudonym));
        assert_eq!(plan.table("users").unwrap().len(), 3);
    }

    #[test]
    fn unclassified_and_stale_columns_are_all_listed() {
        let text = GOOD
            .replace("id = \"keep\"", "id = \"keep\"\nold_column = \"null\"")
            .replace("name = { rule = \"fake\", kind = \"name\" }\n", "");
        let error = Config::parse(&text).unwrap().check(&schema()).unwrap_err();
        assert_eq!(error.unclassified, ["users.name"]);
        assert_eq!(error.stale, ["orders.old_column"]);
        let text = error.to_string();
        assert!(text.contains("users.name"), "{text}");
        // A column the source lacks may have been dropped, or be a generated one (the readers
        // leave those out), or (CSV) be in a file not given: the message does not guess which.
        assert!(
            text.contains("not in the source") && text.contains("generated"),
            "{text}"
        );
        assert!(!text.contains("no longer exist"), "{text}");
        // A check writes nothing, so it does not say so; a run's error does (see `DbError`).
        assert!(!text.contains("nothing was written"), "{text}");
        let run = crate::run::DbError::from(error).to_string();
        assert!(
            run.lines()
                .next()
                .unwrap()
                .ends_with("; nothing was written"),
            "{run}"
        );
    }

    #[test]
    fn an_unknown_rule_name_is_refused_with_its_line_like_a_typo_in_a_rule_table() {
        let text = GOOD.replace("email = \"email_pseudonym\"", "email = \"pseudonymn\"");
        let line = text.lines().position(|l| l.contains("pseudonymn")).unwrap() + 1;
        let error = Config::parse(&text).unwrap_err().to_string();
        assert!(
            error.contains(&format!(
                "line {line}, users.email: unknown rule \"pseudonymn\""
            )) && error.contains("email_pseudonym"),
            "{error}"
        );
    }

    #[test]
    fn rules_that_break_joins_or_uniqueness_are_refused() {
        let text = GOOD.replace("id = \"keep\"", "id = \"keep\"\nuser_email = \"pseudonym\"");
        let error = Config::parse(&text).unwrap().check(&schema()).unwrap_err();
        assert!(error.invalid[0].contains("joins would break"), "{error}");
        let text = GOOD.replace("email = \"email_pseudonym\"", "email = \"null\"");
        let error = Config::parse(&text).unwrap().check(&schema()).unwrap_err();
        assert!(
            error.invalid.iter().any(|e| e.contains("is unique")),
            "{error}"
        );
        // A config built in code can hold a name no file could: the check refuses it too.
        let mut config = Config::parse(GOOD).unwrap();
        let users = config.tables.get_mut("users").unwrap();
        users
            .columns
            .insert("email".into(), RuleSpec::Name("hash".into()));
        let error = config.check(&schema()).unwrap_err();
        assert!(
            error.invalid[0].contains("unknown rule \"hash\""),
            "{error}"
        );
    }

    #[test]
    fn rules_that_make_text_or_null_for_typed_columns_are_refused() {
        let mut typed = schema();
        typed.tables[1].columns[0].type_name = Some("integer".into());
        typed.tables[1].columns[0].not_null = true;
        typed.tables[0].columns[1].type_name = Some("character varying(80)".into());
        let text = GOOD.replace("id = \"keep\"", "id = \"pseudonym\"");
        let error = Config::parse(&text).unwrap().check(&typed).unwrap_err();
        assert_eq!(error.invalid.len(), 1, "{error}");
        assert!(
            error.invalid[0]
                .starts_with("orders.id: the column is integer and its rule makes text"),
            "{error}"
        );
        let text = GOOD.replace("id = \"keep\"", "id = \"null\"");
        let error = Config::parse(&text).unwrap().check(&typed).unwrap_err();
        assert!(error.invalid[0].contains("NOT NULL"), "{error}");
        assert!(Config::parse(GOOD).unwrap().check(&typed).is_ok());
    }

    #[test]
    fn names_with_dots_get_their_own_rules_and_ambiguous_references_are_refused() {
        let col = |name: &str| ColumnSchema {
            name: name.into(),
            ..Default::default()
        };
        let table = |name: &str, columns: Vec<ColumnSchema>| TableSchema {
            name: name.into(),
            columns,
        };
        let mut schema = Schema {
            tables: vec![
                table("a", vec![col("b.c")]),
                table("a.b", vec![col("c")]),
                table("log", vec![col("who")]),
            ],
        };
        let text = r#"
            [tables.a.columns]
            "b.c" = "keep"
            [tables."a.b".columns]
            c = "email_pseudonym"
            [tables.log.columns]
            who = "null"
        "#;
        let plan = Config::parse(text).unwrap().check(&schema).unwrap();
        assert_eq!(plan.table("a").unwrap()[0].1, Rule::Keep);
        assert_eq!(plan.table("a.b").unwrap()[0].1, Rule::EmailPseudonym);
        // `log.who` references `a.b.c`, which both pairs spell: refused, not guessed.
        schema.tables[2].columns[0].references = Some("a.b.c".into());
        let error = Config::parse(text).unwrap().check(&schema).unwrap_err();
        assert!(
            error.invalid[0].contains("names more than one column"),
            "{error}"
        );
    }

    #[test]
    fn typos_in_rule_tables_name_the_column_the_key_and_what_is_allowed() {
        let name_rule = r#"name = { rule = "fake", kind = "name" }"#;
        for (rule, said) in [
            (
                r#"{ rule = "fak", kind = "name" }"#,
                &[
                    "users.name",
                    "\"fak\"",
                    "keep",
                    "email_pseudonym",
                    "generalise",
                    "map",
                ][..],
            ),
            (
                r#"{ rule = "fake", knd = "name" }"#,
                &["users.name", "fake", "\"knd\"", "kind", "locale"],
            ),
            (
                r#"{ rule = "fake", kind = "nam" }"#,
                &["users.name", "\"nam\"", "first_name", "sentence"],
            ),
            (r#"{ rule = "fake" }"#, &["users.name", "fake", "kind"]),
            (
                r#"{ kind = "name" }"#,
                &["users.name", "rule", "fake", "generalise"],
            ),
            (
                r#"{ rule = "generalise", to = "round", step = "5" }"#,
                &["users.name", "step", "number"],
            ),
            (
                r#"{ rule = "generalise", to = "age_band", width = -3 }"#,
                &["users.name", "width", "whole number"],
            ),
            (
                r#"{ rule = "generalise", to = "decade" }"#,
                &[
                    "users.name",
                    "\"decade\"",
                    "postcode_district",
                    "age_band",
                    "round",
                ],
            ),
            (
                r#"{ rule = "map", values = { a = 1 } }"#,
                &["users.name", "values", "text"],
            ),
            (
                r#"{ rule = "pseudonym", kind = "name" }"#,
                &["users.name", "pseudonym", "\"kind\""],
            ),
            ("42", &["users.name", "rule"]),
        ] {
            let text = GOOD.replace(name_rule, &format!("name = {rule}"));
            let error = Config::parse(&text)
                .err()
                .unwrap_or_else(|| panic!("{rule} accepted"))
                .to_string();
            for part in said {
                assert!(error.contains(part), "{rule}: {part} not in {error}");
            }
            assert!(!error.contains("untagged"), "{error}");
        }
        // Every typo of the file at once.
        let text = GOOD
            .replace(name_rule, r#"name = { rule = "fake", knd = "name" }"#)
            .replace("to = \"postcode_district\"", "to = \"postcode\"");
        let error = Config::parse(&text).err().unwrap().to_string();
        assert!(
            error.contains("users.name") && error.contains("users.postcode"),
            "{error}"
        );
        // Numbers of either TOML type are numbers.
        let text = GOOD.replace(
            name_rule,
            r#"name = { rule = "generalise", to = "round", step = 1000 }"#,
        );
        assert!(Config::parse(&text).is_ok());
    }

    #[test]
    fn parameters_that_cannot_work_are_refused_by_the_check_with_the_column() {
        let text = GOOD.replace(
            r#"name = { rule = "fake", kind = "name" }"#,
            r#"name = { rule = "generalise", to = "round", step = 5e-324 }"#,
        );
        let error = Config::parse(&text).unwrap().check(&schema()).unwrap_err();
        assert!(
            error
                .invalid
                .iter()
                .any(|e| e.starts_with("users.name: ") && e.contains("step")),
            "{error}"
        );
    }

    /// The rules of [`every_rule_on_every_kind_of_column_gets_the_verdict_a_run_gives`], in
    /// the order of its verdicts.
    const RULES: [&str; 14] = [
        r#""keep""#,
        r#""null""#,
        r#""pseudonym""#,
        r#""email_pseudonym""#,
        r#"{ rule = "fake", kind = "name" }"#,
        r#"{ rule = "generalise", to = "postcode_district" }"#,
        r#"{ rule = "generalise", to = "year" }"#,
        r#"{ rule = "generalise", to = "age_band" }"#,
        r#"{ rule = "generalise", to = "round", step = 10 }"#,
        r#"{ rule = "generalise", to = "round", step = 0.5 }"#,
        r#"{ rule = "map", values = {}, default = "A" }"#,
        r#"{ rule = "map", values = {}, default = "7" }"#,
        r#"{ rule = "map", values = {}, default = "" }"#,
        r#"{ rule = "map", values = { x = "other" }, default = "text" }"#,
    ];

    /// Whether the check accepts `rule` on a nullable column `c` of `type_name`.
    fn accepts(type_name: Option<&str>, rule: &str) -> Result<(), String> {
        let schema = Schema {
            tables: vec![TableSchema {
                name: "t".into(),
                columns: vec![ColumnSchema {
                    name: "c".into(),
                    type_name: type_name.map(str::to_owned),
                    ..Default::default()
                }],
            }],
        };
        let config = Config::parse(&format!("[tables.t.columns]\nc = {rule}")).unwrap();
        config.check(&schema).map(drop).map_err(|e| e.to_string())
    }

    #[test]
    fn every_rule_on_every_kind_of_column_gets_the_verdict_a_run_gives() {
        // One letter per rule of `RULES`: `y` accepted, `.` refused. The check accepts a rule
        // only where a run can read the column's values and store what the rule makes.
        #[rustfmt::skip]
        let verdicts: &[(Option<&str>, &str)] = &[
            //                                   k n p e f c y a r h A 7 _ t
            (None,                              "y y y y y y y y y y y y y y"),
            (Some("text"),                      "y y y y y y y y y y y y y y"),
            (Some("TEXT"),                      "y y y y y y y y y y y y y y"),
            (Some("ANY"),                       "y y y y y y y y y y y y y y"),
            (Some("citext"),                    "y y y y y y y y y y y y y y"),
            // Lengths: a pseudonym is 26 characters, an email pseudonym 46, a date 10.
            (Some("character varying(10)"),     "y y . . y y y y y y y y y y"),
            (Some("varchar(30)"),               "y y y . y y y y y y y y y y"),
            (Some("character(4)"),              "y y . . y y . y y y y y y ."),
            (Some("tinytext"),                  "y y y y y y y y y y y y y y"),
            // PostgreSQL's one-byte "char" cuts longer text silently.
            (Some("\"char\""),                  "y y . . . . . . . . y y y ."),
            // Enums are not free text, whatever their values or name are.
            (Some("enum('text','other')"),      "y y . . . . . . . . . . . y"),
            (Some("set('text','other')"),       "y y . . . . . . . . . . y y"),
            // The check cannot read a PostgreSQL enum's values: the database judges a map's.
            (Some("context"),                   "y y . . . . . . . . y y y y"),
            // Bytes read as bytes take keep and null only.
            (Some("blob"),                      "y y . . . . . . . . . . . ."),
            (Some("BLOB"),                      "y y . . . . . . . . . . . ."),
            (Some("varbinary(16)"),             "y y . . . . . . . . . . . ."),
            (Some("bit(1)"),                    "y y . . . . . . . . . . . ."),
            // PostgreSQL reads `bytea` as text: a map replaces it.
            (Some("bytea"),                     "y y . . . . . . . . y y y y"),
            (Some("tsvector"),                  "y y . . . . . . . . y y y y"),
            (Some("integer"),                   "y y . . . . . y y . . y . ."),
            (Some("int(10) unsigned"),          "y y . . . . . y y . . y . ."),
            (Some("tinyint(1)"),                "y y . . . . . y y . . y . ."),
            (Some("INTEGER"),                   "y y . . . . . y y . . y . ."),
            (Some("numeric(10,2)"),             "y y . . . . . y y y . y . ."),
            (Some("double precision"),          "y y . . . . . y y y . y . ."),
            (Some("REAL"),                      "y y . . . . . y y y . y . ."),
            // A map's outputs must be ISO dates.
            (Some("date"),                      "y y . . . . y . . . . . . ."),
            (Some("timestamp(3) with time zone"), "y y . . . . y . . . . . . ."),
            (Some("datetime(6)"),               "y y . . . . y . . . . . . ."),
            (Some("boolean"),                   "y y . . . . . . . . . . . ."),
            (Some("money"),                     "y y . . . . . . . . y y y y"),
            (Some("uuid"),                      "y y . . . . . . . . y y y y"),
            (Some("json"),                      "y y . . . . . . . . y y y y"),
            (Some("text[]"),                    "y y . . . . . . . . y y y y"),
            (Some("inet"),                      "y y . . . . . . . . y y y y"),
            (Some("time without time zone"),    "y y . . . . . . . . y y y y"),
        ];
        let mut wrong = Vec::new();
        for (type_name, expected) in verdicts {
            let expected: Vec<bool> = expected.split(' ').map(|v| v == "y").collect();
            assert_eq!(expected.len(), RULES.len());
            for (rule, expected) in RULES.iter().zip(expected) {
                let verdict = accepts(*type_name, rule);
                if verdict.is_ok() != expected {
                    wrong.push(format!("{type_name:?} {rule}: {verdict:?}"));
                }
            }
        }
        assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    }

    #[test]
    fn a_refused_rule_on_bytes_gives_the_runs_reason_with_the_column() {
        for rule in &RULES[2..] {
            let error = accepts(Some("longblob"), rule).unwrap_err();
            assert!(
                error.contains("t.c: ")
                    && error.contains("only keep and null apply to binary values"),
                "{rule}: {error}"
            );
        }
    }

    #[test]
    fn unknown_keys_in_the_file_are_errors() {
        assert!(Config::parse("key_env = \"K\"\nkey = \"secret\"").is_err());
        assert!(Config::parse(
            "[tables.t.columns]\nc = { rule = \"fake\", kind = \"name\", lang = \"fr\" }"
        )
        .is_err());
    }
}
