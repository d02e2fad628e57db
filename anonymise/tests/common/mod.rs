//! What the end-to-end tests share: made-up people whose values no faker word list holds, and
//! the leak check.

#![allow(dead_code)]

use md5::{Digest as _, Md5};
use sha2::Sha256;

/// The key every test run uses (not a secret).
pub const KEY: &str = "test-key-0123456789abcdef-not-secret";

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

/// One made-up person, as production might hold them.
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
    if let Some(m) = found {
        panic!("an original survived: {}", labels[m.pattern().as_usize()]);
    }
    checked
}
