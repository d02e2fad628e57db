//! What the end-to-end tests share: made-up people whose values no faker word list holds, the
//! leak check, scratch directories, the command line, and what the tests of the database servers
//! (PostgreSQL, MariaDB/MySQL) have in common: their config, finding the server, a test's own
//! database, and runs of the copy.

#![allow(dead_code)]

use anonymise::{Config, DbError, Progress, Summary, Transformer};
use md5::{Digest as _, Md5};
use sha2::Sha256;
use std::marker::PhantomData;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

/// The key every test run uses (not a secret).
pub const KEY: &str = "test-key-0123456789abcdef-not-secret";

/// The environment variable the tests' configs name for the key (`key_env`).
pub const KEY_ENV: &str = "ANONYMISE_TEST_KEY";

/// Runs the `anonymise` binary with `args`, the key in [`KEY_ENV`] only when given.
pub fn cli(args: &[&str], key: Option<&str>) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_anonymise"));
    cmd.args(args).env_remove(KEY_ENV);
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

/// The `i`th person's email.
pub fn email(i: u64) -> String {
    format!(
        "{}.{}{i}@mailhost{}.example",
        word(i, 1).to_lowercase(),
        word(i, 2).to_lowercase(),
        i % 7
    )
}

/// Panics if any original value (6 characters or longer), its unsalted md5 or its sha256 (hex)
/// occurs in `haystack`; returns how many values were checked. `originals` are `(column,
/// value)` pairs.
pub fn assert_no_leak<'a>(
    originals: impl IntoIterator<Item = (&'a str, String)>,
    haystack: &[u8],
) -> usize {
    first_leak(originals, haystack).unwrap_or_else(|label| panic!("an original survived: {label}"))
}

/// The search of [`assert_no_leak`]: how many values were checked, or what was found first
/// (`column: the value`, `column: its md5` or `column: its sha256`).
pub fn first_leak<'a>(
    originals: impl IntoIterator<Item = (&'a str, String)>,
    haystack: &[u8],
) -> Result<usize, String> {
    let mut patterns: Vec<String> = Vec::new();
    let mut labels: Vec<String> = Vec::new();
    let mut checked = 0;
    for (column, value) in originals {
        if value.len() < 6 {
            continue;
        }
        let md5 = format!("{:x}", Md5::digest(value.as_bytes()));
        let sha = format!("{:x}", Sha256::digest(value.as_bytes()));
        for (what, pattern) in [("the value", value), ("its md5", md5), ("its sha256", sha)] {
            labels.push(format!("{column}: {what}"));
            patterns.push(pattern);
        }
        checked += 1;
    }
    let found = aho_corasick::AhoCorasick::new(&patterns)
        .unwrap()
        .find(haystack);
    match found {
        Some(m) => Err(labels.swap_remove(m.pattern().as_usize())),
        None => Ok(checked),
    }
}

/// `text` in a config file of a scratch directory (removed with it).
pub fn write_config(test: &str, text: &str) -> (Scratch, PathBuf) {
    let dir = scratch(test);
    let path = dir.join("anonymise.toml");
    std::fs::write(&path, text).unwrap();
    (dir, path)
}

/// The config of the database servers' tests: [`person`]s in `users`, their `orders` (which
/// reference them by id and by email) and an `audit` log naming them by email.
pub const CONFIG: &str = r#"
key_env = "ANONYMISE_TEST_KEY"

[tables.users]
quasi_identifiers = ["postcode", "birth_date", "gender"]

[tables.users.columns]
id = "keep"
email = "email_pseudonym"
name = { rule = "fake", kind = "name" }
phone = { rule = "fake", kind = "phone" }
address = { rule = "fake", kind = "address" }
postcode = { rule = "generalise", to = "postcode_district" }
birth_date = { rule = "generalise", to = "year" }
gender = "keep"
national_id = "pseudonym"
notes = "null"

[tables.orders.columns]
id = "keep"
total = "keep"

[tables.audit.columns]
id = "keep"
action = "keep"

[[virtual_keys]]
from = "audit.actor_email"
to = "users.email"
"#;

/// The people of a database server's test source.
pub const PEOPLE: u64 = 2_000;

/// A library copy of one database into another: `anonymise(config, transformer, from, to,
/// options, progress)`.
pub type Anonymise<O> = fn(
    &Config,
    &Transformer,
    &str,
    &str,
    &O,
    &mut dyn FnMut(&Progress),
) -> Result<Vec<Summary>, DbError>;

/// A database server the tests run against: how it is found, how a test's database is made,
/// read and dropped, and how the library copies one database into another.
pub trait Server {
    /// What messages call it.
    const NAME: &'static str;
    /// The environment variable holding its URL (without a database).
    const URL_ENV: &'static str;
    /// Its URL when the variable is not set.
    const DEFAULT_URL: &'static str;
    /// The options of the library's copy.
    type Options: Default;
    /// The library's copy.
    const ANONYMISE: Anonymise<Self::Options>;
    /// Whether the server at `url` answers (why not, when it does not).
    fn reach(url: &str) -> Result<(), String>;
    /// Makes database `name` of `server`, empty (dropping one an earlier run left behind).
    fn create(server: &str, name: &str);
    /// Drops database `name` of `server`, if it can.
    fn remove(server: &str, name: &str);
    /// The values of the one column `sql` selects, in the database at `url`.
    fn column(url: &str, sql: &str) -> Vec<Option<String>>;
    /// `column` as text, in a `SELECT` list.
    fn as_text(column: &str) -> String;

    /// The URL of the server the tests use, if it answers. Without one the tests say so and
    /// pass, except under `CI=true`, where they fail.
    fn server() -> Option<String> {
        let url = std::env::var(Self::URL_ENV).unwrap_or_else(|_| Self::DEFAULT_URL.to_owned());
        match Self::reach(&url) {
            Ok(()) => Some(url),
            Err(e) if std::env::var("CI").as_deref() == Ok("true") => {
                panic!("CI=true and {} is unreachable at {url}: {e}", Self::NAME)
            }
            Err(e) => {
                eprintln!("skipped: {} is unreachable at {url}: {e}", Self::NAME);
                None
            }
        }
    }
}

/// A database of this test on an `S` server, dropped at the end.
pub struct Db<S: Server> {
    /// The server's URL (without a database).
    pub server: String,
    /// The database's name.
    pub name: String,
    server_kind: PhantomData<S>,
}

impl<S: Server> Db<S> {
    /// A new empty database of `test` on `server`, named after the test, its `role` in it and
    /// this process.
    pub fn create(server: &str, test: &str, role: &str) -> Self {
        let name = format!("anon_{test}_{role}_{}", std::process::id());
        S::create(server, &name);
        Db {
            server: server.to_owned(),
            name,
            server_kind: PhantomData,
        }
    }

    /// The database's URL.
    pub fn url(&self) -> String {
        format!("{}/{}", self.server, self.name)
    }

    /// The values of the one column `sql` selects.
    pub fn column(&self, sql: &str) -> Vec<Option<String>> {
        S::column(&self.url(), sql)
    }
}

impl<S: Server> Drop for Db<S> {
    fn drop(&mut self) {
        S::remove(&self.server, &self.name);
    }
}

/// Every personal value of a source of [`CONFIG`]'s tables, labelled by its column.
pub fn originals<S: Server>(src: &Db<S>) -> Vec<(&'static str, String)> {
    let mut values = Vec::new();
    for column in [
        "email",
        "name",
        "phone",
        "address",
        "postcode",
        "birth_date",
        "national_id",
        "notes",
    ] {
        for value in src
            .column(&format!("SELECT {} FROM users", S::as_text(column)))
            .into_iter()
            .flatten()
        {
            values.push((column, value));
        }
    }
    for value in src
        .column("SELECT user_email FROM orders")
        .into_iter()
        .flatten()
    {
        values.push(("orders.user_email", value));
    }
    values
}

/// `anonymise run` of `config` from `src` into `dst`, with `extra` arguments.
pub fn run_cli<S: Server>(
    config: &str,
    src: &Db<S>,
    dst: &Db<S>,
    extra: &[&str],
    key: Option<&str>,
) -> Output {
    let (from, to) = (src.url(), dst.url());
    let mut args = vec!["run", "--config", config, "--from", &from, "--to", &to];
    args.extend_from_slice(extra);
    cli(&args, key)
}

/// The library's run of `config` with `key` from `src` into `dst`, with the default options.
pub fn run_lib<S: Server>(
    config: &str,
    key: &[u8],
    src: &Db<S>,
    dst: &Db<S>,
) -> Result<Vec<Summary>, DbError> {
    S::ANONYMISE(
        &Config::parse(config).unwrap(),
        &Transformer::new(key).unwrap(),
        &src.url(),
        &dst.url(),
        &S::Options::default(),
        &mut |_| {},
    )
}
