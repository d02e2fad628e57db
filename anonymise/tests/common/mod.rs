//! What the end-to-end tests share: made-up people whose values no faker word list holds, the
//! leak check, scratch directories, the command line, and ([`server`]) what the tests of the
//! database servers (PostgreSQL, MariaDB/MySQL) have in common.

#![allow(dead_code)]

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
