//! What a column's declared type holds, and which rules a run can apply to it: the one notion
//! the config check and `plan` share, so that what the check accepts a run can write, and what
//! `plan` suggests the check accepts.
//!
//! A type is known by its base name (`character varying(80)` is `character varying`,
//! `int(10) unsigned` is `int`), never by words found inside the whole declaration: a MariaDB
//! `enum('text','char')` or a PostgreSQL enum named `context` is no text type. A type this
//! module does not know (a PostgreSQL enum, `uuid`, `inet`, `json`, an array) is
//! [`ColumnKind::Other`]: only `keep`, `null` and `map` apply to it.

use super::{ColumnSchema, Generalisation, Rule};
use crate::transform::generalisation_name;

/// What a column holds, as far as rules go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ColumnKind {
    /// Any text: CSV, SQLite columns that are not STRICT, text types. `max_chars` and
    /// `max_bytes` are the longest text the type holds, where it says.
    Text {
        /// At most this many characters (`varchar(80)`).
        max_chars: Option<u64>,
        /// At most this many bytes (MariaDB `tinytext`, PostgreSQL `name`).
        max_bytes: Option<u64>,
    },
    /// PostgreSQL's one-byte `"char"`, which silently cuts a longer text to its first byte.
    OneByte,
    /// Bytes (pictures, documents). `as_text`: PostgreSQL's `bytea`, which a run reads and
    /// writes in its text form; MariaDB, MySQL and SQLite pass bytes as they are, which only
    /// `keep` and `null` take.
    Binary {
        /// Whether a run reads the bytes as text.
        as_text: bool,
    },
    /// A PostgreSQL text search vector.
    Search,
    /// PostgreSQL's `boolean`.
    Bool,
    /// A number; `whole` for integer types.
    Number {
        /// Whether the type holds whole numbers only.
        whole: bool,
    },
    /// A date or a timestamp.
    Date,
    /// A MariaDB/MySQL `enum` (one of `values`) or `set` (a comma-separated few of them).
    Enum {
        /// The values the type lists.
        values: Vec<String>,
        /// Whether it is a `set`.
        set: bool,
    },
    /// Anything else: enums known by name only, `uuid`, `inet`, `json`, arrays, intervals, ..
    Other,
}

/// Base type names (lowercase) of each kind. A text type's length limit is read separately.
const TEXT: [&str; 9] = [
    "text",
    "varchar",
    "char",
    "character",
    "bpchar",
    "citext",
    "mediumtext",
    "longtext",
    "any",
];
const BINARY: [&str; 15] = [
    "blob",
    "tinyblob",
    "mediumblob",
    "longblob",
    "binary",
    "varbinary",
    "bit",
    "geometry",
    "point",
    "linestring",
    "polygon",
    "multipoint",
    "multilinestring",
    "multipolygon",
    "geometrycollection",
];
const WHOLE: [&str; 14] = [
    "int",
    "integer",
    "bigint",
    "smallint",
    "tinyint",
    "mediumint",
    "serial",
    "bigserial",
    "smallserial",
    "int2",
    "int4",
    "int8",
    "year",
    "number",
];
const FRACTIONAL: [&str; 9] = [
    "numeric", "decimal", "dec", "fixed", "real", "double", "float", "float4", "float8",
];
const DATE: [&str; 4] = ["date", "timestamp", "timestamptz", "datetime"];

/// The longest output of the rules whose outputs have one length: a column that holds less
/// cannot take them.
const PSEUDONYM_LEN: u64 = 26;
const EMAIL_PSEUDONYM_LEN: u64 = 1 + 26 + 1 + crate::transform::EMAIL_DOMAIN.len() as u64;
const DATE_LEN: u64 = "1987-01-01".len() as u64;

impl ColumnKind {
    /// The kind of `column`: [`ColumnKind::Text`] without a declared type.
    pub fn of(column: &ColumnSchema) -> Self {
        match column.type_name.as_deref() {
            None => Self::any_text(),
            Some(declared) => Self::of_type(declared),
        }
    }

    fn any_text() -> Self {
        Self::Text {
            max_chars: None,
            max_bytes: None,
        }
    }

    /// The kind of a declared type, as the databases write it (`information_schema`,
    /// `format_type`, SQLite's declared types).
    pub fn of_type(declared: &str) -> Self {
        let t = declared.trim().to_ascii_lowercase();
        if t.is_empty() {
            // A STRICT SQLite column cannot lack a type; anywhere else, no type holds anything.
            return Self::any_text();
        }
        if t.ends_with(']') {
            // An array of anything: a rule's text is not an array literal.
            return Self::Other;
        }
        if t == "\"char\"" {
            return Self::OneByte;
        }
        let base = t.split(['(', ' ']).next().unwrap_or_default();
        let length = t
            .split_once('(')
            .and_then(|(_, rest)| rest.split_once(')'))
            .and_then(|(inside, _)| inside.trim().parse::<u64>().ok());
        let is = |names: &[&str]| names.contains(&base);
        if base == "enum" || base == "set" {
            return enum_values(declared).map_or(Self::Other, |values| Self::Enum {
                values,
                set: base == "set",
            });
        }
        if base == "bytea" {
            Self::Binary { as_text: true }
        } else if is(&BINARY) {
            Self::Binary { as_text: false }
        } else if base == "tsvector" {
            Self::Search
        } else if base == "boolean" || base == "bool" {
            Self::Bool
        } else if is(&WHOLE) {
            Self::Number { whole: true }
        } else if is(&FRACTIONAL) {
            Self::Number { whole: false }
        } else if is(&DATE) {
            Self::Date
        } else if is(&TEXT) {
            // `character(4)`, `character varying(80)`, `varchar(80)`: at most that many
            // characters.
            Self::Text {
                max_chars: length,
                max_bytes: None,
            }
        } else if base == "tinytext" {
            Self::Text {
                max_chars: None,
                max_bytes: Some(255),
            }
        } else if base == "name" {
            // PostgreSQL's identifier type: 63 bytes.
            Self::Text {
                max_chars: None,
                max_bytes: Some(63),
            }
        } else if t.rsplit('.').next() == Some("citext") {
            // The extension's type, qualified by the schema it lives in.
            Self::any_text()
        } else {
            Self::Other
        }
    }
}

/// The values of a MariaDB/MySQL `enum('a','it''s')` or `set(..)`, as `COLUMN_TYPE` writes
/// them; `None` if the list cannot be read.
fn enum_values(declared: &str) -> Option<Vec<String>> {
    let (_, list) = declared.split_once('(')?;
    let list = list.trim_end().strip_suffix(')')?;
    let mut values = Vec::new();
    let mut chars = list.chars().peekable();
    loop {
        if chars.next()? != '\'' {
            return None;
        }
        let mut value = String::new();
        loop {
            match chars.next()? {
                '\'' if chars.peek() == Some(&'\'') => {
                    chars.next();
                    value.push('\'');
                }
                '\'' => break,
                c => value.push(c),
            }
        }
        values.push(value);
        match chars.next() {
            None => return Some(values),
            Some(',') => {}
            Some(_) => return None,
        }
    }
}

/// Whether a `map` output fits a column of `kind`: `Some(false)` when it cannot be stored,
/// `Some(true)` when it can, `None` when only the database can tell (a type this module does
/// not know).
pub(super) fn output_fits(kind: &ColumnKind, output: &str) -> Option<bool> {
    match kind {
        ColumnKind::Text {
            max_chars,
            max_bytes,
        } => Some(
            max_chars.is_none_or(|n| output.chars().count() as u64 <= n)
                && max_bytes.is_none_or(|n| output.len() as u64 <= n),
        ),
        ColumnKind::OneByte => Some(output.len() <= 1),
        // Bytes a run cannot read as text: no map applies (see `problem`).
        ColumnKind::Binary { as_text: false } => Some(false),
        // Without a backslash, `bytea` takes a text as its bytes.
        ColumnKind::Binary { as_text: true } => (!output.contains('\\')).then_some(true),
        ColumnKind::Search => output.trim().is_empty().then_some(true),
        ColumnKind::Bool => Some(is_bool(output)),
        // As Rust reads them, blanks refused: a strict MariaDB refuses `' 5'` too.
        ColumnKind::Number { whole: true } => Some(output.parse::<i128>().is_ok()),
        ColumnKind::Number { whole: false } => {
            Some(output.parse::<f64>().is_ok_and(f64::is_finite))
        }
        ColumnKind::Enum { values, set: false } => Some(values.iter().any(|v| v == output)),
        ColumnKind::Enum { values, set: true } => Some(
            output.is_empty()
                || output
                    .split(',')
                    .all(|part| values.iter().any(|v| v == part)),
        ),
        // ISO dates only: the forms both databases read alike.
        ColumnKind::Date => Some(is_iso_date(output)),
        ColumnKind::Other => None,
    }
}

/// Whether `text` is a date `YYYY-MM-DD` whose day exists, alone or followed by a time (after
/// a space or `T`, made of digits, `:`, `.`, a zone); or PostgreSQL's `infinity`, `-infinity`.
fn is_iso_date(text: &str) -> bool {
    if text == "infinity" || text == "-infinity" {
        return true;
    }
    let b = text.as_bytes();
    let number = |range: std::ops::Range<usize>| -> Option<u32> {
        let digits = b.get(range)?;
        digits
            .iter()
            .all(u8::is_ascii_digit)
            .then(|| std::str::from_utf8(digits).ok()?.parse().ok())?
    };
    let (Some(year), Some(month), Some(day)) = (number(0..4), number(5..7), number(8..10)) else {
        return false;
    };
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => 0,
    };
    let time = |rest: &[u8]| {
        rest.len() >= 5
            && rest[..5].iter().enumerate().all(|(i, c)| {
                if i == 2 {
                    *c == b':'
                } else {
                    c.is_ascii_digit()
                }
            })
            && rest
                .iter()
                .all(|c| c.is_ascii_digit() || b":.+-Z ".contains(c))
    };
    b[4] == b'-'
        && b[7] == b'-'
        && (1..=days).contains(&day)
        && match b.get(10) {
            None => true,
            Some(b' ' | b'T') => time(&b[11..]),
            Some(_) => false,
        }
}

/// Whether `text` is a PostgreSQL boolean: a prefix of `true`, `false`, `yes`, `no`, or `on`,
/// `off`, `1`, `0`, in any case, blanks around.
fn is_bool(text: &str) -> bool {
    let t = text.trim().to_ascii_lowercase();
    let prefix_of = |word: &str| !t.is_empty() && word.starts_with(t.as_str());
    ["true", "false", "yes", "no"].iter().any(|w| prefix_of(w))
        || ["on", "off", "1", "0"].contains(&t.as_str())
}

/// What a rule reads, for messages.
fn reads(to: Generalisation) -> &'static str {
    match to {
        Generalisation::Year | Generalisation::Month => "dates",
        Generalisation::AgeBand | Generalisation::Round => "numbers",
        Generalisation::PostcodeDistrict => "text",
    }
}

/// Why a run cannot apply `rule` to a column of type `type_name` and `kind` (its values or
/// what it makes), if it cannot; NOT NULL and uniqueness aside. The message names no column.
pub(crate) fn problem(type_name: &str, kind: &ColumnKind, rule: &Rule) -> Option<String> {
    let makes_text = |length: Option<u64>, what: &str| -> Option<String> {
        match kind {
            ColumnKind::Text {
                max_chars,
                max_bytes,
            } => {
                let limit = max_chars.or(*max_bytes)?;
                // Every rule's text is ASCII: its characters are its bytes.
                let length = length?;
                (length > limit).then(|| {
                    format!(
                        "the column is {type_name}, at most {limit} {}, and {what} makes {length}: choose a rule whose values fit, null it, or widen the column",
                        if max_chars.is_some() { "characters" } else { "bytes" }
                    )
                })
            }
            ColumnKind::Binary { as_text: false } => Some(binary(type_name)),
            ColumnKind::OneByte => Some(one_byte(what)),
            _ => Some(format!(
                "the column is {type_name} and its rule makes text: keep a surrogate key (it says nothing about anyone), null it, or choose a rule that makes {type_name}"
            )),
        }
    };
    match rule {
        Rule::Keep | Rule::Null => None,
        Rule::Pseudonym => makes_text(Some(PSEUDONYM_LEN), "pseudonym"),
        Rule::EmailPseudonym => makes_text(Some(EMAIL_PSEUDONYM_LEN), "email_pseudonym"),
        // A fake value's length varies: a column with a limit takes what fits, and a longer
        // value fails the run, naming the column.
        Rule::Fake { .. } => makes_text(None, "fake"),
        Rule::Generalise { to, step, .. } => generalise_problem(type_name, kind, *to, *step)
            .or_else(|| match to {
                Generalisation::PostcodeDistrict => makes_text(None, "generalise"),
                Generalisation::Year | Generalisation::Month => {
                    if matches!(kind, ColumnKind::Date) {
                        None
                    } else {
                        makes_text(Some(DATE_LEN), "generalise")
                    }
                }
                _ => None,
            }),
        Rule::Map { values, default } => {
            if *kind == (ColumnKind::Binary { as_text: false }) {
                return Some(binary(type_name));
            }
            let wrong: Vec<String> = values
                .values()
                .chain(default)
                .filter(|output| output_fits(kind, output) == Some(false))
                .map(|output| format!("\"{}\"", output.escape_debug()))
                .collect::<std::collections::BTreeSet<_>>()
                .into_iter()
                .collect();
            (!wrong.is_empty()).then(|| {
                format!(
                    "the column is {type_name}, which cannot hold the map's output {}: map to values the column takes",
                    wrong.join(", ")
                )
            })
        }
    }
}

/// Why a `generalise` rule cannot read or write a column of `kind`, if it cannot.
fn generalise_problem(
    type_name: &str,
    kind: &ColumnKind,
    to: Generalisation,
    step: Option<f64>,
) -> Option<String> {
    let what = generalisation_name(to);
    let fits = match kind {
        ColumnKind::Text { .. } => true,
        ColumnKind::Date => matches!(to, Generalisation::Year | Generalisation::Month),
        ColumnKind::Number { whole } => {
            if to == Generalisation::Round && *whole && step.is_some_and(|s| s.fract() != 0.0) {
                return Some(format!(
                    "the column is {type_name}, whole numbers, and generalise to round with a step of {} makes fractions: give a whole step",
                    step.unwrap_or_default()
                ));
            }
            matches!(to, Generalisation::AgeBand | Generalisation::Round)
        }
        ColumnKind::Binary { as_text: false } => return Some(binary(type_name)),
        ColumnKind::OneByte => return Some(one_byte(&format!("generalise to {what}"))),
        _ => false,
    };
    (!fits).then(|| {
        format!(
            "the column is {type_name} and generalise to {what} reads {}: use keep, null or map",
            reads(to)
        )
    })
}

fn binary(type_name: &str) -> String {
    format!(
        "the column is {type_name}, bytes: only keep and null apply to binary values (a run reads no text from them)"
    )
}

fn one_byte(what: &str) -> String {
    format!("the column is \"char\", one byte, which would silently cut what {what} makes: use keep, null or a map to single characters")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_are_known_by_their_base_name_and_their_limits_read() {
        let text = |max_chars, max_bytes| ColumnKind::Text {
            max_chars,
            max_bytes,
        };
        for (declared, kind) in [
            ("character varying(80)", text(Some(80), None)),
            ("character varying", text(None, None)),
            ("VARCHAR(12)", text(Some(12), None)),
            ("tinytext", text(None, Some(255))),
            ("ext.citext", text(None, None)),
            ("\"char\"", ColumnKind::OneByte),
            ("context", ColumnKind::Other),
            ("public.text", ColumnKind::Other),
            (
                "bigint(20) unsigned zerofill",
                ColumnKind::Number { whole: true },
            ),
            ("timestamp without time zone", ColumnKind::Date),
            ("time without time zone", ColumnKind::Other),
            ("character varying(80)[]", ColumnKind::Other),
            (
                "enum('it''s','a,b','(x)')",
                ColumnKind::Enum {
                    values: vec!["it's".into(), "a,b".into(), "(x)".into()],
                    set: false,
                },
            ),
            ("enum('unclosed", ColumnKind::Other),
        ] {
            assert_eq!(ColumnKind::of_type(declared), kind, "{declared}");
        }
    }

    #[test]
    fn map_outputs_are_judged_by_what_the_column_reads() {
        let date = ColumnKind::Date;
        for (output, fits) in [
            ("1990-05-06", true),
            ("2024-02-29 10:00:00.5+01", true),
            ("1990-05-06T10:00", true),
            ("infinity", true),
            ("2023-02-29", false),
            ("1990-13-01", false),
            ("1990-05-06x", false),
            ("", false),
        ] {
            assert_eq!(output_fits(&date, output), Some(fits), "{output}");
        }
        for (output, fits) in [("t", true), ("FALSE", true), ("on", true), ("o", false)] {
            assert_eq!(
                output_fits(&ColumnKind::Bool, output),
                Some(fits),
                "{output}"
            );
        }
        let set = ColumnKind::of_type("set('a','b')");
        assert_eq!(output_fits(&set, "a,b"), Some(true));
        assert_eq!(output_fits(&set, "a,c"), Some(false));
        assert_eq!(output_fits(&ColumnKind::Other, "x"), None);
    }
}
