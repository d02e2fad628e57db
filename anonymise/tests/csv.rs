//! CSV runs end to end: nothing personal survives (not even hashed), joins survive, and a run
//! that cannot classify everything writes nothing.

mod common;

use common::{assert_no_leak, cli, email, first_leak, person, scratch, text, Scratch, KEY};
use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::Output;

/// People and their orders, as production might hold them: `n` users (the columns of
/// [`common::Person`]), `2n` orders.
fn people(dir: &Path, n: u64) -> (PathBuf, PathBuf) {
    let users = dir.join("users.csv");
    let mut w = csv::Writer::from_path(&users).unwrap();
    for i in 0..n {
        w.serialize(person(i)).unwrap();
    }
    w.flush().unwrap();
    let orders = dir.join("orders.csv");
    let mut w = csv::Writer::from_path(&orders).unwrap();
    w.write_record(["id", "user_email", "total"]).unwrap();
    for i in 0..n * 2 {
        w.write_record([i.to_string(), email((i * 31) % n), (i % 500).to_string()])
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

/// `anonymise run` of `inputs` into `dir/out`, with `config` written to `dir/anonymise.toml`.
fn run_cli(dir: &Path, config: &str, inputs: &[&Path], key: Option<&str>) -> Output {
    let config_path = dir.join("anonymise.toml");
    std::fs::write(&config_path, config).unwrap();
    let out = dir.join("out");
    std::fs::create_dir_all(&out).unwrap();
    let mut args = vec![
        "run",
        "--config",
        config_path.to_str().unwrap(),
        "--out-dir",
        out.to_str().unwrap(),
    ];
    args.extend(inputs.iter().map(|input| input.to_str().unwrap()));
    cli(&args, key)
}

/// A scratch directory holding [`people`] (`n` of them), and the run of `config` over them.
fn people_run(
    name: &str,
    n: u64,
    config: &str,
    key: Option<&str>,
) -> (Scratch, PathBuf, PathBuf, Output) {
    let dir = scratch(name);
    let (users, orders) = people(&dir, n);
    let run = run_cli(&dir, config, &[&users, &orders], key);
    (dir, users, orders, run)
}

/// The run of `config` over 50 people, refused without writing anything: what it said.
fn refused(name: &str, config: &str, key: Option<&str>) -> String {
    let (dir, _, _, run) = people_run(name, 50, config, key);
    assert!(!run.status.success());
    assert_eq!(std::fs::read_dir(dir.join("out")).unwrap().count(), 0);
    String::from_utf8_lossy(&run.stderr).into_owned()
}

fn column(path: &Path, name: &str) -> Vec<String> {
    let mut r = csv::Reader::from_path(path).unwrap();
    let at = r.headers().unwrap().iter().position(|h| h == name).unwrap();
    r.records().map(|rec| rec.unwrap()[at].to_owned()).collect()
}

#[test]
fn no_original_value_nor_its_md5_or_sha256_survives_in_output_logs_or_report() {
    let (dir, users, orders, run) = people_run("csv-leak", 2_000, CONFIG, Some(KEY));
    assert!(run.status.success(), "{}", text(&run));
    let out = dir.join("out");
    let config = dir.join("anonymise.toml");
    let report = cli(
        &[
            "report",
            "--k",
            "2",
            "--config",
            config.to_str().unwrap(),
            out.join("users.csv").to_str().unwrap(),
        ],
        None,
    );
    let mut haystack = std::fs::read(out.join("users.csv")).unwrap();
    haystack.extend(std::fs::read(out.join("orders.csv")).unwrap());
    for stream in [&run.stdout, &run.stderr, &report.stdout, &report.stderr] {
        haystack.extend_from_slice(stream);
    }
    // Every original, its md5 and its sha256 as patterns, searched in one pass.
    let mut originals: Vec<(&str, String)> = Vec::new();
    for (file, col) in [
        (&users, "email"),
        (&users, "name"),
        (&users, "phone"),
        (&users, "address"),
        (&users, "postcode"),
        (&users, "birth_date"),
        (&orders, "user_email"),
    ] {
        originals.extend(column(file, col).into_iter().map(|v| (col, v)));
    }
    let checked = assert_no_leak(originals.clone(), &haystack);
    assert!(checked > 10_000, "checked {checked} values");

    // The search does find a leak: the same run with names kept.
    let keep_names = CONFIG.replace(
        "name = { rule = \"fake\", kind = \"name\" }",
        "name = \"keep\"",
    );
    let (leaky, _, _, run) = people_run("csv-leaky", 2_000, &keep_names, Some(KEY));
    assert!(run.status.success(), "{}", text(&run));
    let kept = std::fs::read(leaky.join("out/users.csv")).unwrap();
    assert_eq!(
        first_leak(originals, &kept),
        Err("name: the value".to_owned())
    );
}

#[test]
fn joins_and_unique_columns_survive() {
    let (dir, users, orders, run) = people_run("csv-joins", 1_000, CONFIG, Some(KEY));
    assert!(run.status.success(), "{}", text(&run));
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
    let (again, _, _, run) = people_run("csv-joins-again", 1_000, CONFIG, Some(KEY));
    assert!(run.status.success(), "{}", text(&run));
    assert_eq!(column(&again.join("out/users.csv"), "email"), emails);
}

#[test]
fn an_unclassified_column_writes_nothing() {
    let config = CONFIG.replace("phone = { rule = \"fake\", kind = \"phone\" }\n", "");
    let stderr = refused("csv-unclassified", &config, Some(KEY));
    assert!(
        stderr.contains("users.phone") && stderr.contains("nothing was written"),
        "{stderr}"
    );
}

#[test]
fn a_config_entry_for_a_dropped_column_writes_nothing() {
    let config = CONFIG.replace(
        "gender = \"keep\"",
        "gender = \"keep\"\nmiddle_name = \"null\"",
    );
    let stderr = refused("csv-dropped", &config, Some(KEY));
    assert!(stderr.contains("users.middle_name"), "{stderr}");
}

#[test]
fn a_missing_key_writes_nothing() {
    let stderr = refused("csv-nokey", CONFIG, None);
    assert!(stderr.contains("ANONYMISE_TEST_KEY"), "{stderr}");
}
