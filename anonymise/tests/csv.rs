//! CSV runs end to end: nothing personal survives (not even hashed), joins survive, and a run
//! that cannot classify everything writes nothing.

use md5::{Digest as _, Md5};
use sha2::Sha256;
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Command;

const KEY: &str = "test-key-0123456789abcdef-not-secret";

/// A scratch directory of this test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("anonymise-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Names made of syllables no faker word list holds, so an original cannot reappear by chance.
fn word(i: u64, salt: u64) -> String {
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

/// People and their orders, as production might hold them.
fn people(dir: &Path, n: u64) -> (PathBuf, PathBuf) {
    let users = dir.join("users.csv");
    let mut w = csv::Writer::from_path(&users).unwrap();
    w.write_record([
        "id",
        "email",
        "name",
        "phone",
        "address",
        "postcode",
        "birth_date",
        "gender",
    ])
    .unwrap();
    for i in 0..n {
        w.write_record([
            i.to_string(),
            format!(
                "{}.{}{i}@mailhost{}.example",
                word(i, 1).to_lowercase(),
                word(i, 2).to_lowercase(),
                i % 7
            ),
            format!("{} {}", word(i, 3), word(i, 4)),
            format!("+44 7700 {:06}", (i * 7919) % 1_000_000),
            format!("{} {} Street", 10 + i % 90, word(i, 5)),
            format!(
                "{}{} {}{}",
                ["SW", "NW", "EC", "SE"][(i % 4) as usize],
                1 + i % 9,
                i % 10,
                ["AB", "CD", "EF"][(i % 3) as usize]
            ),
            format!("19{:02}-{:02}-{:02}", 40 + i % 60, 1 + i % 12, 2 + i % 27),
            ["F", "M", "X"][(i % 3) as usize].to_owned(),
        ])
        .unwrap();
    }
    w.flush().unwrap();
    let orders = dir.join("orders.csv");
    let mut w = csv::Writer::from_path(&orders).unwrap();
    w.write_record(["id", "user_email", "total"]).unwrap();
    for i in 0..n * 2 {
        let u = (i * 31) % n;
        w.write_record([
            i.to_string(),
            format!(
                "{}.{}{u}@mailhost{}.example",
                word(u, 1).to_lowercase(),
                word(u, 2).to_lowercase(),
                u % 7
            ),
            (i % 500).to_string(),
        ])
        .unwrap();
    }
    w.flush().unwrap();
    (users, orders)
}

const CONFIG: &str = r#"
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

[tables.orders.columns]
id = "keep"
total = "keep"

[[virtual_keys]]
from = "orders.user_email"
to = "users.email"
"#;

fn run_cli(dir: &Path, config: &str, inputs: &[&Path], key: Option<&str>) -> std::process::Output {
    let config_path = dir.join("anonymise.toml");
    std::fs::write(&config_path, config).unwrap();
    let out = dir.join("out");
    std::fs::create_dir_all(&out).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_anonymise"));
    cmd.arg("run")
        .arg("--config")
        .arg(&config_path)
        .arg("--out-dir")
        .arg(&out);
    for input in inputs {
        cmd.arg(input);
    }
    cmd.env_remove("ANONYMISE_TEST_KEY");
    if let Some(key) = key {
        cmd.env("ANONYMISE_TEST_KEY", key);
    }
    cmd.output().expect("run the anonymise binary")
}

fn column(path: &Path, name: &str) -> Vec<String> {
    let mut r = csv::Reader::from_path(path).unwrap();
    let at = r.headers().unwrap().iter().position(|h| h == name).unwrap();
    r.records().map(|rec| rec.unwrap()[at].to_owned()).collect()
}

#[test]
fn no_original_value_nor_its_md5_or_sha256_survives_in_output_logs_or_report() {
    let dir = scratch("leak");
    let (users, orders) = people(&dir, 2_000);
    let run = run_cli(&dir, CONFIG, &[&users, &orders], Some(KEY));
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let out = dir.join("out");
    let report = Command::new(env!("CARGO_BIN_EXE_anonymise"))
        .args(["report", "--k", "2", "--config"])
        .arg(dir.join("anonymise.toml"))
        .arg(out.join("users.csv"))
        .output()
        .unwrap();
    let mut haystack = std::fs::read(out.join("users.csv")).unwrap();
    haystack.extend(std::fs::read(out.join("orders.csv")).unwrap());
    for stream in [&run.stdout, &run.stderr, &report.stdout, &report.stderr] {
        haystack.extend_from_slice(stream);
    }
    // Every original, its md5 and its sha256 as patterns, searched in one pass.
    let mut patterns: Vec<String> = Vec::new();
    let mut labels: Vec<String> = Vec::new();
    let mut checked = 0;
    for (file, col) in [
        (&users, "email"),
        (&users, "name"),
        (&users, "phone"),
        (&users, "address"),
        (&users, "postcode"),
        (&users, "birth_date"),
        (&orders, "user_email"),
    ] {
        for value in column(file, col).into_iter().filter(|v| v.len() >= 6) {
            let md5 = format!("{:x}", Md5::digest(value.as_bytes()));
            let sha = format!("{:x}", Sha256::digest(value.as_bytes()));
            for (what, pattern) in [("the value", value), ("its md5", md5), ("its sha256", sha)] {
                labels.push(format!("{col}: {what}"));
                patterns.push(pattern);
            }
            checked += 1;
        }
    }
    let found = aho_corasick::AhoCorasick::new(&patterns)
        .unwrap()
        .find(&haystack[..]);
    if let Some(m) = found {
        panic!("an original survived: {}", labels[m.pattern().as_usize()]);
    }
    assert!(checked > 10_000, "checked {checked} values");
}

#[test]
fn joins_and_unique_columns_survive() {
    let dir = scratch("joins");
    let (users, orders) = people(&dir, 1_000);
    let run = run_cli(&dir, CONFIG, &[&users, &orders], Some(KEY));
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let out = dir.join("out");
    let join_count = |users: &Path, orders: &Path| {
        let emails: HashSet<String> = column(users, "email").into_iter().collect();
        column(orders, "user_email")
            .iter()
            .filter(|e| emails.contains(*e))
            .count()
    };
    assert_eq!(join_count(&users, &orders), 2_000);
    assert_eq!(
        join_count(&out.join("users.csv"), &out.join("orders.csv")),
        2_000,
        "every order still finds its user"
    );
    let emails = column(&out.join("users.csv"), "email");
    let distinct: HashSet<&String> = emails.iter().collect();
    assert_eq!(distinct.len(), emails.len(), "unique emails stay unique");
    // The same key gives the same pseudonyms in another run.
    let again = scratch("joins-again");
    let (u2, o2) = people(&again, 1_000);
    assert!(run_cli(&again, CONFIG, &[&u2, &o2], Some(KEY))
        .status
        .success());
    assert_eq!(column(&again.join("out/users.csv"), "email"), emails);
}

#[test]
fn an_unclassified_column_writes_nothing() {
    let dir = scratch("unclassified");
    let (users, orders) = people(&dir, 50);
    let config = CONFIG.replace("phone = { rule = \"fake\", kind = \"phone\" }\n", "");
    let run = run_cli(&dir, &config, &[&users, &orders], Some(KEY));
    assert!(!run.status.success());
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        stderr.contains("users.phone") && stderr.contains("nothing was written"),
        "{stderr}"
    );
    assert_eq!(std::fs::read_dir(dir.join("out")).unwrap().count(), 0);
}

#[test]
fn a_config_entry_for_a_dropped_column_writes_nothing() {
    let dir = scratch("dropped");
    let (users, orders) = people(&dir, 50);
    let config = CONFIG.replace(
        "gender = \"keep\"",
        "gender = \"keep\"\nmiddle_name = \"null\"",
    );
    let run = run_cli(&dir, &config, &[&users, &orders], Some(KEY));
    assert!(!run.status.success());
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains("users.middle_name"), "{stderr}");
    assert_eq!(std::fs::read_dir(dir.join("out")).unwrap().count(), 0);
}

#[test]
fn a_missing_key_writes_nothing() {
    let dir = scratch("nokey");
    let (users, orders) = people(&dir, 50);
    let run = run_cli(&dir, CONFIG, &[&users, &orders], None);
    assert!(!run.status.success());
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(stderr.contains("ANONYMISE_TEST_KEY"), "{stderr}");
    assert_eq!(std::fs::read_dir(dir.join("out")).unwrap().count(), 0);
}
