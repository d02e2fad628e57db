//! Reading one column's rule from its TOML value, into a typed [`Rule`]: every mistake named
//! with what is allowed there (the rule names, a rule's parameters, a parameter's type or
//! choices), never serde's "did not match any variant".

use super::{FakeKind, Generalisation, Rule, RuleSpec};
use std::collections::BTreeMap;
use toml::Value;

/// Every rule, as a config names it.
const RULES: &str = "keep, null, pseudonym, email_pseudonym, fake, generalise, map";

const FAKE_KINDS: [(&str, FakeKind); 8] = [
    ("name", FakeKind::Name),
    ("first_name", FakeKind::FirstName),
    ("last_name", FakeKind::LastName),
    ("phone", FakeKind::Phone),
    ("address", FakeKind::Address),
    ("city", FakeKind::City),
    ("company", FakeKind::Company),
    ("sentence", FakeKind::Sentence),
];

const GENERALISATIONS: [(&str, Generalisation); 5] = [
    ("postcode_district", Generalisation::PostcodeDistrict),
    ("year", Generalisation::Year),
    ("month", Generalisation::Month),
    ("age_band", Generalisation::AgeBand),
    ("round", Generalisation::Round),
];

/// A column's rule: a bare name (one of the rules without parameters) or a table whose rule,
/// parameters and their types are read here. The problems, when there are
/// any, name no column: the caller adds it.
pub(crate) fn rule(value: &Value) -> Result<RuleSpec, Vec<String>> {
    let table = match value {
        Value::String(name) => {
            // Unknown names are refused here, where the caller knows the line, as in a table.
            let spec = RuleSpec::Name(name.clone());
            return match spec.rule() {
                Some(_) => Ok(spec),
                None => Err(vec![format!(
                    "unknown rule \"{name}\" (keep, null, pseudonym, email_pseudonym, or a table with rule = fake | generalise | map)"
                )]),
            };
        }
        Value::Table(table) => table,
        other => {
            return Err(vec![format!(
                "a rule is a name (\"keep\") or a table ({{ rule = \"fake\", kind = \"name\" }}), not {}",
                describe(other)
            )])
        }
    };
    let name = match table.get("rule") {
        Some(Value::String(name)) => name.as_str(),
        Some(other) => {
            return Err(vec![format!(
                "rule must be the name of a rule ({RULES}), not {}",
                describe(other)
            )])
        }
        None => {
            return Err(vec![format!(
                "a rule table needs rule = \"..\", one of {RULES}"
            )])
        }
    };
    let mut params = Params {
        rule: name,
        table,
        problems: Vec::new(),
    };
    let rule = match name {
        "keep" => params.none(Rule::Keep),
        "null" => params.none(Rule::Null),
        "pseudonym" => params.none(Rule::Pseudonym),
        "email_pseudonym" => params.none(Rule::EmailPseudonym),
        "fake" => fake(&mut params),
        "generalise" => generalise(&mut params),
        "map" => map(&mut params),
        unknown => {
            return Err(vec![format!(
                "unknown rule \"{unknown}\" (the rules: {RULES})"
            )])
        }
    };
    match (rule, params.problems.is_empty()) {
        (Some(rule), true) => Ok(RuleSpec::Full(rule)),
        _ => Err(params.problems),
    }
}

fn fake(params: &mut Params) -> Option<Rule> {
    params.allow(&["kind", "locale"]);
    let kind = params.choice("kind", &FAKE_KINDS, true);
    let locale = params.text("locale");
    Some(Rule::Fake {
        kind: kind?,
        locale,
    })
}

fn generalise(params: &mut Params) -> Option<Rule> {
    params.allow(&["to", "width", "top", "step"]);
    let to = params.choice("to", &GENERALISATIONS, true);
    let width = params.whole("width");
    let top = params.whole("top");
    let step = params.number("step");
    Some(Rule::Generalise {
        to: to?,
        width,
        top,
        step,
    })
}

fn map(params: &mut Params) -> Option<Rule> {
    params.allow(&["values", "default"]);
    let values = params.texts("values");
    let default = params.text("default");
    Some(Rule::Map {
        values: values?,
        default,
    })
}

/// A rule table's parameters, read one by one; each problem is kept, so one run shows them all.
struct Params<'a> {
    rule: &'a str,
    table: &'a toml::Table,
    problems: Vec<String>,
}

impl Params<'_> {
    /// A rule without parameters.
    fn none(&mut self, rule: Rule) -> Option<Rule> {
        self.allow(&[]);
        Some(rule)
    }

    /// Keys other than `rule` and `allowed` are problems.
    fn allow(&mut self, allowed: &[&str]) {
        let takes = if allowed.is_empty() {
            "it takes no parameters".to_owned()
        } else {
            format!("it takes: {}", allowed.join(", "))
        };
        for key in self.table.keys() {
            if key != "rule" && !allowed.contains(&key.as_str()) {
                self.problems.push(format!(
                    "{} has no parameter \"{key}\" ({takes})",
                    self.rule
                ));
            }
        }
    }

    fn wrong(&mut self, key: &str, wanted: &str, found: &Value) {
        self.problems.push(format!(
            "{}: {key} must be {wanted}, not {}",
            self.rule,
            describe(found)
        ));
    }

    /// One of `choices` by name.
    fn choice<T: Copy>(&mut self, key: &str, choices: &[(&str, T)], required: bool) -> Option<T> {
        let names = choices
            .iter()
            .map(|(n, _)| *n)
            .collect::<Vec<_>>()
            .join(", ");
        match self.table.get(key) {
            None if required => {
                self.problems
                    .push(format!("{} needs {key} = one of {names}", self.rule));
                None
            }
            None => None,
            Some(Value::String(given)) => {
                let found = choices.iter().find(|(n, _)| n == given).map(|(_, t)| *t);
                if found.is_none() {
                    self.problems.push(format!(
                        "{}: {key} \"{given}\" is not one of {names}",
                        self.rule
                    ));
                }
                found
            }
            Some(other) => {
                self.wrong(key, &format!("one of {names}"), other);
                None
            }
        }
    }

    fn text(&mut self, key: &str) -> Option<String> {
        match self.table.get(key)? {
            Value::String(text) => Some(text.clone()),
            other => {
                self.wrong(key, "text", other);
                None
            }
        }
    }

    /// A whole number that fits a `u32` (`check` judges its size).
    fn whole(&mut self, key: &str) -> Option<u32> {
        let value = self.table.get(key)?;
        let whole = value.as_integer().and_then(|n| u32::try_from(n).ok());
        if whole.is_none() {
            self.wrong(
                key,
                &format!("a whole number from 0 to {}", u32::MAX),
                value,
            );
        }
        whole
    }

    /// A number, written as an integer or not (`check` judges its size).
    fn number(&mut self, key: &str) -> Option<f64> {
        match self.table.get(key)? {
            Value::Integer(n) => Some(*n as f64),
            Value::Float(x) => Some(*x),
            other => {
                self.wrong(key, "a number", other);
                None
            }
        }
    }

    /// A table of texts (required).
    fn texts(&mut self, key: &str) -> Option<BTreeMap<String, String>> {
        let Some(value) = self.table.get(key) else {
            self.problems.push(format!(
                "{} needs {key} = {{ \"input\" = \"output\", .. }}",
                self.rule
            ));
            return None;
        };
        let Value::Table(table) = value else {
            self.wrong(key, "a table of texts ({ \"input\" = \"output\" })", value);
            return None;
        };
        let mut texts = BTreeMap::new();
        for (input, output) in table {
            match output {
                Value::String(output) => {
                    texts.insert(input.clone(), output.clone());
                }
                // The input is the config's own text, not data read from a source.
                other => self.wrong(&format!("{key}.{input}"), "text", other),
            }
        }
        Some(texts)
    }
}

/// What a TOML value is, for a message (its type; a table's or array's content is not shown).
fn describe(value: &Value) -> String {
    match value {
        Value::String(s) => format!("the text \"{s}\""),
        Value::Integer(n) => format!("the integer {n}"),
        Value::Float(x) => format!("the number {x}"),
        Value::Boolean(b) => format!("{b}"),
        Value::Datetime(d) => format!("the date {d}"),
        Value::Array(_) => "an array".to_owned(),
        Value::Table(_) => "a table".to_owned(),
    }
}
