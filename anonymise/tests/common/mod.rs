//! What the end-to-end tests share: made-up people whose values no faker word list holds, the
//! leak check, scratch directories, the command line, and ([`server`]) what the tests of the
//! database servers (PostgreSQL, MariaDB/MySQL) have in common.

#![allow(dead_code)]

#[cfg(feature = "mysql")]
pub mod mariadb;
#[cfg(feature = "postgres")]
pub mod postgresql;
pub mod server;

use md5::{Digest as _, Md5};
use sha2::Sha256;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The key every test run uses (not a secret).
pub const KEY: &str = "test-key-0123456789abcdef-not-secret";

/// The environment variable the tests' configs name for the key (`key_env`).
pub const KEY_ENV: &str = "ANONYMISE_TEST_KEY";

/// Runs the `anonymise` binary with `args`, the key in [`KEY_ENV`] only when given, its
/// progress drawn on stderr (`ANONYMISE_PROGRESS=always`, as lines: stderr is a pipe here).
pub fn cli(args: &[&str], key: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_anonymise"));
    // Progress drawn whatever stderr is, so that what a run shows is searched too.
    cmd.args(args)
        .env_remove(KEY_ENV)
        .env("ANONYMISE_PROGRESS", "always");
    if let Some(key) = key {
        cmd.env(KEY_ENV, key);
    }
    cmd.output().expect("run the anonymise binary")
}

/// What a run printed: stdout, then stderr.
pub fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A scratch directory of a test, empty; removed when the test passes (kept to look at when it
/// fails).
pub struct Scratch(PathBuf);

impl std::ops::Deref for Scratch {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// A new scratch directory, named after `name`, this process and a counter.
pub fn scratch(name: &str) -> Scratch {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "anonymise-{name}-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    Scratch(dir)
}

/// Names made of syllables no faker word list holds, so an original cannot reappear by chance.
pub fn word(i: u64, salt: u64) -> String {
    const SYL: [&str; 16] = [
        "zor", "vak", "quil", "mebb", "trav", "xun", "plo", "dre", "kesh", "wim", "yup", "brag",
        "snoo", "fip", "glen", "hux",
    ];
    let mut n = i.wrapping_mul(2_654_435_761).wrapping_add(salt);
    let mut out = String::new();
    for _ in 0..3 {
        out.push_str(SYL[(n % 16) as usize]);
        n /= 16;
    }
    let mut chars = out.chars();
    let first = chars.next().unwrap().to_ascii_uppercase();
    format!("{first}{}", chars.as_str())
}

/// One made-up person, as production might hold them (serialized: a record whose columns are
/// the fields' names, in order).
#[derive(serde::Serialize)]
pub struct Person {
    pub id: u64,
    pub email: String,
    pub name: String,
    pub phone: String,
    pub address: String,
    pub postcode: String,
    pub birth_date: String,
    pub gender: &'static str,
}

/// The rules of [`Person`]'s columns, a `[tables.users.columns]` table, as the tests' configs
/// give them: a literal, for `concat!`.
macro_rules! users_columns {
    () => {
        r#"[tables.users.columns]
id = "keep"
email = "email_pseudonym"
name = { rule = "fake", kind = "name" }
phone = { rule = "fake", kind = "phone" }
address = { rule = "fake", kind = "address" }
postcode = { rule = "generalise", to = "postcode_district" }
birth_date = { rule = "generalise", to = "year" }
gender = "keep"
"#
    };
}
pub(crate) use users_columns;

/// The `i`th person (the same every time).
pub fn person(i: u64) -> Person {
    Person {
        id: i,
        email: email(i),
        name: format!("{} {}", word(i, 3), word(i, 4)),
        phone: format!("+44 7700 {:06}", (i * 7919) % 1_000_000),
        address: format!("{} {} Street", 10 + i % 90, word(i, 5)),
        postcode: format!(
            "{}{} {}{}",
            ["SW", "NW", "EC", "SE"][(i % 4) as usize],
            1 + i % 9,
            i % 10,
            ["AB", "CD", "EF"][(i % 3) as usize]
        ),
        birth_date: format!("19{:02}-{:02}-{:02}", 40 + i % 60, 1 + i % 12, 2 + i % 27),
        gender: ["F", "M", "X"][(i % 3) as usize],
    }
}

/// The first `n` [`person`]s, as a CSV file at `path` with a header row.
pub fn write_people(path: &Path, n: u64) {
    let mut w = csv::Writer::from_path(path).unwrap();
    for i in 0..n {
        w.serialize(person(i)).unwrap();
    }
    w.flush().unwrap();
}

/// The `i`th person's email.
pub fn email(i: u64) -> String {
    format!(
        "{}.{}{i}@mailhost{}.example",
        word(i, 1).to_lowercase(),
        word(i, 2).to_lowercase(),
        i % 7
    )
}

/// Panics if any original value, or any form of it that says who it was, occurs in `haystack`
/// (see [`first_leak`]); returns how many values of 6 characters or more were checked.
/// `originals` are `(column, value)` pairs.
pub fn assert_no_leak<'a>(
    originals: impl IntoIterator<Item = (&'a str, String)>,
    haystack: &[u8],
) -> usize {
    first_leak(originals, haystack).unwrap_or_else(|label| panic!("an original survived: {label}"))
}

/// The search of [`assert_no_leak`], in one pass, ASCII case ignored (`ALICE@` is `alice@`):
/// how many values of 6 characters or more were checked, or what was found first (`column:
/// the form`). The forms, each searched only where it differs from those before:
/// - a value of 6 characters or more: itself; JSON-, CSV- and SQL-escaped and URL-encoded;
///   the md5 and sha256 (hex) of it and of it trimmed and lowercased, whole and their first 8
///   characters (`md5(e)[:8]`, what the seed document's script writes);
/// - an email's local part (4 characters or more), and the parts of it between `.`, `_`,
///   `-` and `+`;
/// - each word of 4 characters or more that holds a letter (a first or last name alone, a
///   street's name), unless at least 10 values of its column and a twentieth of them share it
///   (`Street`: the template's words name no one).
pub fn first_leak<'a>(
    originals: impl IntoIterator<Item = (&'a str, String)>,
    haystack: &[u8],
) -> Result<usize, String> {
    let originals: Vec<(&str, String)> = originals.into_iter().collect();
    let shared = template_words(&originals);
    let mut patterns: Vec<String> = Vec::new();
    let mut labels: Vec<String> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    let mut checked = 0;
    for (column, value) in &originals {
        if value.len() >= 6 {
            checked += 1;
        }
        for (what, pattern) in forms(value, |word| {
            !shared.contains(&(column.to_string(), word.to_ascii_lowercase()))
        }) {
            if seen.insert(pattern.to_ascii_lowercase()) {
                labels.push(format!("{column}: {what}"));
                patterns.push(pattern);
            }
        }
    }
    let found = aho_corasick::AhoCorasick::builder()
        .ascii_case_insensitive(true)
        .match_kind(aho_corasick::MatchKind::LeftmostLongest)
        .build(&patterns)
        .unwrap()
        .find(haystack);
    match found {
        Some(m) => Err(labels.swap_remove(m.pattern().as_usize())),
        None => Ok(checked),
    }
}

/// The words (lowercased) that at least 10 values of a column, and a twentieth of them, share.
fn template_words(originals: &[(&str, String)]) -> std::collections::HashSet<(String, String)> {
    use std::collections::{HashMap, HashSet};
    let mut values: HashMap<&str, usize> = HashMap::new();
    let mut counts: HashMap<(&str, String), usize> = HashMap::new();
    for (column, value) in originals {
        *values.entry(column).or_default() += 1;
        let words: HashSet<String> = words(value).map(|w| w.to_ascii_lowercase()).collect();
        for word in words {
            *counts.entry((column, word)).or_default() += 1;
        }
    }
    counts
        .into_iter()
        .filter(|((column, _), n)| *n >= 10 && *n * 20 >= values[column])
        .map(|((column, word), _)| (column.to_owned(), word))
        .collect()
}

/// The words of a value a person could be found by: 4 characters or more, with a letter; an
/// email's local part is split at `.`, `_`, `-` and `+` too.
fn words(value: &str) -> impl Iterator<Item = &str> {
    value
        .split(|c: char| c.is_whitespace() || (value.contains('@') && "@._-+".contains(c)))
        .filter(|w| w.chars().count() >= 4 && w.chars().any(char::is_alphabetic))
}

/// Every form of `value` [`first_leak`] searches, labelled; `searched` says which words are.
fn forms(value: &str, searched: impl Fn(&str) -> bool) -> Vec<(&'static str, String)> {
    let mut forms: Vec<(&'static str, String)> = Vec::new();
    let mut add = |what: &'static str, form: String| {
        if !forms.iter().any(|(_, f)| f.eq_ignore_ascii_case(&form)) {
            forms.push((what, form));
        }
    };
    if value.len() >= 6 {
        add("the value", value.to_owned());
        add("the value, JSON-escaped", json_escaped(value, false));
        add(
            "the value, JSON-escaped to ASCII",
            json_escaped(value, true),
        );
        add("the value, CSV-quoted", value.replace('"', "\"\""));
        add("the value, SQL-quoted", value.replace('\'', "''"));
        add("the value, URL-encoded", url_encoded(value, false));
        add("the value, form-encoded", url_encoded(value, true));
        let folded = value.trim().to_lowercase();
        for (hashed, md5, sha) in [
            (value, "its md5", "its sha256"),
            (&folded, "its lowercase's md5", "its lowercase's sha256"),
        ] {
            let md5_hex = format!("{:x}", Md5::digest(hashed.as_bytes()));
            let sha_hex = format!("{:x}", Sha256::digest(hashed.as_bytes()));
            add(md5, md5_hex.clone());
            add(sha, sha_hex.clone());
            add("the first 8 of its md5", md5_hex[..8].to_owned());
            add("the first 8 of its sha256", sha_hex[..8].to_owned());
        }
    }
    if let Some((local, _)) = value.rsplit_once('@') {
        if local.chars().count() >= 4 {
            add("its local part", local.to_owned());
        }
    }
    for word in words(value).filter(|w| searched(w)) {
        add("a word of it", word.to_owned());
    }
    forms
}

/// `value` as a JSON string's content: quotes, backslashes and controls escaped; with `ascii`,
/// everything past ASCII as `\uXXXX` too (Python's `json.dumps` default).
fn json_escaped(value: &str, ascii: bool) -> String {
    let mut out = String::new();
    for c in value.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() || (ascii && !c.is_ascii()) => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    out.push_str(&format!("\\u{unit:04x}"));
                }
            }
            c => out.push(c),
        }
    }
    out
}

/// `value` percent-encoded (all but `A-Za-z0-9-._~`); with `form`, spaces as `+`.
fn url_encoded(value: &str, form: bool) -> String {
    let mut out = String::new();
    for byte in value.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(char::from(byte))
            }
            b' ' if form => out.push('+'),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// The names of every file and directory under `dir` (relative, one a line): for the leak
/// check, since a file named after a value leaks it too.
pub fn file_names(dir: &Path) -> Vec<u8> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let entry = entry.unwrap();
        names.extend_from_slice(entry.file_name().as_encoded_bytes());
        names.push(b'\n');
        if entry.file_type().unwrap().is_dir() {
            names.extend(file_names(&entry.path()));
        }
    }
    names
}

/// `text` in a config file of a scratch directory (removed with it).
pub fn write_config(test: &str, text: &str) -> (Scratch, PathBuf) {
    let dir = scratch(test);
    let path = dir.join("anonymise.toml");
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

/// Rules of every kind, by a short name, for the tests of what the check accepts and the run
/// carries out.
pub const RULES: [(&str, &str); 14] = [
    ("keep", r#""keep""#),
    ("null", r#""null""#),
    ("pseudonym", r#""pseudonym""#),
    ("email", r#""email_pseudonym""#),
    ("fake", r#"{ rule = "fake", kind = "name" }"#),
    (
        "postcode",
        r#"{ rule = "generalise", to = "postcode_district" }"#,
    ),
    ("year", r#"{ rule = "generalise", to = "year" }"#),
    ("age", r#"{ rule = "generalise", to = "age_band" }"#),
    (
        "round",
        r#"{ rule = "generalise", to = "round", step = 10 }"#,
    ),
    (
        "half",
        r#"{ rule = "generalise", to = "round", step = 0.5 }"#,
    ),
    ("map A", r#"{ rule = "map", values = {}, default = "A" }"#),
    ("map 7", r#"{ rule = "map", values = {}, default = "7" }"#),
    (
        "map empty",
        r#"{ rule = "map", values = {}, default = "" }"#,
    ),
    (
        "map text",
        r#"{ rule = "map", values = {}, default = "text" }"#,
    ),
];

/// Rules whose success on a text column depends on its values (a date, a number), not its
/// type: not tried there.
pub const READ_VALUES: &[&str] = &["year", "age", "round", "half"];

/// Config lines (`column = rule`, one a line) giving `column` `rule` and each other of
/// `columns` `"keep"`.
pub fn one_rule(columns: &[&str], column: &str, rule: &str) -> String {
    columns
        .iter()
        .map(|c| format!("{c} = {}", if *c == column { rule } else { "\"keep\"" }))
        .collect::<Vec<_>>()
        .join("\n")
}
