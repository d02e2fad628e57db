//! What the command line itself promises, whatever the source: output into a pipe closed early
//! ends quietly, errors outside a run do not claim a write they never attempted, a connection
//! string that is not a URL is refused as one, and `report` refuses what it cannot answer.

mod common;

use common::{cli, scratch, text, Scratch};
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// A scratch directory with `users.csv` (an id, a name, a gender) of `n` rows, and the path.
fn users(name: &str, n: usize) -> (Scratch, PathBuf) {
    let dir = scratch(name);
    let path = dir.join("users.csv");
    let mut w = csv::Writer::from_path(&path).unwrap();
    w.write_record(["id", "name", "gender"]).unwrap();
    for i in 0..n {
        w.write_record([i.to_string(), common::word(i as u64, 9), "F".into()])
            .unwrap();
    }
    w.flush().unwrap();
    (dir, path)
}

/// `text` written to `dir/name`, and its path.
fn file(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

const USERS_CONFIG: &str = r#"
key_env = "ANONYMISE_TEST_KEY"
[tables.users]
quasi_identifiers = ["gender"]
[tables.users.columns]
id = "keep"
name = "null"
gender = "keep"
"#;

/// Panics unless `out` ended without a panic, and not with Rust's panic status (101).
fn assert_no_panic(out: &std::process::Output) {
    let said = text(out);
    assert_ne!(out.status.code(), Some(101), "{said}");
    assert!(
        !said.contains("panicked") && !said.contains("Broken pipe"),
        "{said}"
    );
}

#[test]
fn output_into_a_pipe_closed_early_ends_the_command_quietly() {
    // `plan` of a file of 6,000 columns writes more than a pipe holds: whenever the reader
    // goes, the writer meets the closed pipe.
    let dir = scratch("hg-cli-pipe");
    let wide = dir.join("wide.csv");
    let header: Vec<String> = (0..6_000).map(|i| format!("column_{i:05}")).collect();
    let row: Vec<String> = (0..6_000).map(|i| i.to_string()).collect();
    std::fs::write(&wide, format!("{}\n{}\n", header.join(","), row.join(","))).unwrap();
    let mut plan = Command::new(env!("CARGO_BIN_EXE_anonymise"))
        .args(["plan", wide.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(plan.stdout.take());
    let out = plan.wait_with_output().unwrap();
    assert_no_panic(&out);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    // `report` reads its CSV from stdin, given only once its stdout is closed: it writes into
    // the closed pipe, and keeps its verdict's status (1: below k).
    let config = file(
        &dir,
        "anonymise.toml",
        &USERS_CONFIG.replace("users", "stdin"),
    );
    let mut report = Command::new(env!("CARGO_BIN_EXE_anonymise"))
        .args(["report", "--k", "5", "--config", config.to_str().unwrap()])
        .arg("/dev/stdin")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(report.stdout.take());
    let mut stdin = report.stdin.take().unwrap();
    stdin.write_all(b"id,name,gender\n1,x,F\n2,y,M\n").unwrap();
    drop(stdin);
    let out = report.wait_with_output().unwrap();
    assert_no_panic(&out);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
}

#[test]
fn check_plan_and_report_failures_do_not_claim_nothing_was_written() {
    let (dir, users) = users("hg-cli-claim", 5);
    let users = users.to_str().unwrap();
    let unclassified = file(
        &dir,
        "unclassified.toml",
        &USERS_CONFIG.replace("gender = \"keep\"\n", ""),
    );
    let unclassified = unclassified.to_str().unwrap();
    let not_a_database = file(&dir, "shop.db", "not a database");
    let empty_db = dir.join("empty.sqlite");
    {
        use diesel::connection::SimpleConnection;
        use diesel::Connection;
        diesel::SqliteConnection::establish(empty_db.to_str().unwrap())
            .unwrap()
            .batch_execute("CREATE TABLE other (id INTEGER)")
            .unwrap();
    }
    let config = file(&dir, "anonymise.toml", USERS_CONFIG);
    let config = config.to_str().unwrap();
    let failures = [
        cli(&["check", "--config", unclassified, users], None),
        cli(&["plan", not_a_database.to_str().unwrap()], None),
        cli(
            &["plan", dir.join("missing.sqlite").to_str().unwrap()],
            None,
        ),
        cli(
            &[
                "report",
                "--config",
                config,
                empty_db.to_str().unwrap(),
                "--table",
                "users",
            ],
            None,
        ),
    ];
    for out in &failures {
        let said = text(out);
        assert_eq!(out.status.code(), Some(2), "{said}");
        assert!(!said.contains("nothing was written"), "{said}");
    }
    // The run says it: there, it is the promise kept.
    let out_dir = dir.join("out");
    let run = cli(
        &[
            "run",
            "--config",
            unclassified,
            "--out-dir",
            out_dir.to_str().unwrap(),
            users,
        ],
        Some(common::KEY),
    );
    assert_eq!(run.status.code(), Some(2), "{}", text(&run));
    assert!(text(&run).contains("nothing was written"), "{}", text(&run));
}

#[test]
fn a_libpq_connection_string_is_refused_with_the_url_form_and_no_password() {
    let (dir, _) = users("hg-cli-libpq", 1);
    let config = file(&dir, "anonymise.toml", USERS_CONFIG);
    let libpq = "host=127.0.0.1 port=5432 dbname=shop user=app password=s3cret";
    for args in [
        vec!["plan", libpq],
        vec!["check", "--config", config.to_str().unwrap(), libpq],
        vec![
            "report",
            "--config",
            config.to_str().unwrap(),
            libpq,
            "--table",
            "users",
        ],
        vec![
            "run",
            "--config",
            config.to_str().unwrap(),
            "--from",
            libpq,
            "--to",
            "postgres://localhost/copy",
        ],
    ] {
        let out = cli(&args, Some(common::KEY));
        let said = text(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {said}");
        assert!(
            said.contains("postgres://") && !said.contains("No such file"),
            "{args:?}: {said}"
        );
        assert!(!said.contains("s3cret"), "{said}");
    }
}

/// A database nobody listens for: loopback port 1.
#[cfg(any(feature = "postgres", feature = "mysql"))]
#[test]
fn a_database_that_cannot_be_reached_is_named_by_host_and_port_without_the_password() {
    let (dir, _) = users("hg-cli-unreachable", 1);
    let config = file(&dir, "anonymise.toml", USERS_CONFIG);
    let config = config.to_str().unwrap();
    let mut urls = Vec::new();
    if cfg!(feature = "postgres") {
        urls.push("postgres://app:s3cret@127.0.0.1:1/shop");
    }
    if cfg!(feature = "mysql") {
        urls.push("mysql://app:s3cret@127.0.0.1:1/shop");
    }
    for url in urls {
        for args in [
            vec!["plan", url],
            vec!["check", "--config", config, url],
            vec!["report", "--config", config, url, "--table", "users"],
        ] {
            let out = cli(&args, None);
            let said = text(&out);
            assert_eq!(out.status.code(), Some(2), "{args:?}: {said}");
            assert!(
                said.contains("127.0.0.1:1") && !said.contains("s3cret"),
                "{args:?}: {said}"
            );
            // Why, in the socket's words, not the driver's Debug form.
            assert!(
                said.contains("Connection refused") && !said.contains("DriverError"),
                "{args:?}: {said}"
            );
        }
    }
}

#[test]
fn report_refuses_k_below_one_and_a_table_the_config_lacks() {
    let (dir, users) = users("hg-cli-report", 12);
    let config = file(&dir, "anonymise.toml", USERS_CONFIG);
    let config = config.to_str().unwrap();
    let users = users.to_str().unwrap();
    let out = cli(&["report", "--k", "0", "--config", config, users], None);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("--k"), "{}", text(&out));
    assert!(out.stdout.is_empty(), "{}", text(&out));

    let db = dir.join("shop.sqlite");
    {
        use diesel::connection::SimpleConnection;
        use diesel::Connection;
        diesel::SqliteConnection::establish(db.to_str().unwrap())
            .unwrap()
            .batch_execute("CREATE TABLE users (id INTEGER, name TEXT, gender TEXT)")
            .unwrap();
    }
    let db = db.to_str().unwrap();
    let args = [
        "report",
        "--config",
        config,
        db,
        "--table",
        "billing.invoices",
    ];
    let out = cli(&args, None);
    let said = text(&out);
    assert_eq!(out.status.code(), Some(2), "{said}");
    assert!(
        said.contains("billing.invoices")
            && said.contains("no table")
            && said.contains("--schema")
            && !said.contains("quasi_identifiers"),
        "{said}"
    );
    // A table of the config without quasi-identifiers says that.
    let no_qis = file(
        &dir,
        "no-qis.toml",
        &USERS_CONFIG.replace("quasi_identifiers = [\"gender\"]", ""),
    );
    let args = [
        "report",
        "--config",
        no_qis.to_str().unwrap(),
        db,
        "--table",
        "users",
    ];
    let said = text(&cli(&args, None));
    assert!(said.contains("quasi_identifiers"), "{said}");
}

#[test]
fn counts_of_one_are_singular_in_the_report_and_the_summary() {
    // 12 people: 11 women and 1 man, so one record in one group under k = 2.
    let (dir, users) = users("hg-cli-grammar", 11);
    let mut text_of = std::fs::read_to_string(&users).unwrap();
    text_of.push_str("11,Zorvak,M\n");
    std::fs::write(&users, text_of).unwrap();
    let config = file(&dir, "anonymise.toml", USERS_CONFIG);
    let config = config.to_str().unwrap();
    let users = users.to_str().unwrap();
    let report = cli(&["report", "--k", "2", "--config", config, users], None);
    let said = String::from_utf8_lossy(&report.stdout).into_owned();
    assert_eq!(report.status.code(), Some(1), "{said}");
    assert!(said.contains("in 1 group\n"), "{said}");
    assert!(!said.contains(" 1 groups"), "{said}");

    let out_dir = dir.join("out");
    let run = cli(
        &[
            "run",
            "--config",
            config,
            "--out-dir",
            out_dir.to_str().unwrap(),
            users,
        ],
        Some(common::KEY),
    );
    let summary = String::from_utf8_lossy(&run.stdout).into_owned();
    assert!(run.status.success(), "{}", text(&run));
    assert!(
        summary.contains(" 1 column ") && !summary.contains("1 columns"),
        "{summary}"
    );
    assert!(summary.contains("\n1 table, 12 rows"), "{summary}");
}

#[test]
fn plain_progress_lines_show_each_state_once_aligned_and_never_a_rate_the_summary_lacks() {
    let dir = scratch("hg-cli-progress");
    let short = dir.join("users.csv");
    let long = dir.join("CustomerNotesArchive.csv");
    for (path, n) in [(&short, 3_000), (&long, 20)] {
        let mut w = csv::Writer::from_path(path).unwrap();
        w.write_record(["id", "gender"]).unwrap();
        for i in 0..n {
            w.write_record([i.to_string(), "F".into()]).unwrap();
        }
        w.flush().unwrap();
    }
    let config = file(
        &dir,
        "anonymise.toml",
        "key_env = \"ANONYMISE_TEST_KEY\"\n\
         [tables.users.columns]\nid = \"keep\"\ngender = \"null\"\n\
         [tables.CustomerNotesArchive.columns]\nid = \"keep\"\ngender = \"keep\"\n",
    );
    let out_dir = dir.join("out");
    let run = cli(
        &[
            "run",
            "--config",
            config.to_str().unwrap(),
            "--out-dir",
            out_dir.to_str().unwrap(),
            short.to_str().unwrap(),
            long.to_str().unwrap(),
        ],
        Some(common::KEY),
    );
    assert!(run.status.success(), "{}", text(&run));
    let progress = String::from_utf8_lossy(&run.stderr).into_owned();
    let lines: Vec<&str> = progress.lines().collect();
    assert!(lines.len() >= 2, "{progress}");
    for pair in lines.windows(2) {
        assert_ne!(pair[0], pair[1], "a state printed twice:\n{progress}");
    }
    for table in ["users", "CustomerNotesArchive"] {
        let of_table: Vec<&&str> = lines
            .iter()
            .filter(|l| l.trim_start().starts_with(&format!("{table} ")))
            .collect();
        let last = of_table
            .last()
            .unwrap_or_else(|| panic!("{table}:\n{progress}"));
        assert!(
            last.contains("3000 rows") || last.contains("20 rows"),
            "{progress}"
        );
        assert_eq!(
            of_table.iter().filter(|l| l == &last).count(),
            1,
            "{table}:\n{progress}"
        );
    }
    // Every line's bar starts in the same column, whatever the table's name.
    let columns: std::collections::BTreeSet<Option<usize>> =
        lines.iter().map(|l| l.find(" [")).collect();
    assert_eq!(columns.len(), 1, "{progress}");
    // A table the summary gives no rate ("-") gets none in its progress either.
    let summary = String::from_utf8_lossy(&run.stdout).into_owned();
    for line in summary.lines().skip(1) {
        let words: Vec<&str> = line.split_whitespace().collect();
        if words.last() == Some(&"-") {
            let table = words[0];
            assert!(
                lines
                    .iter()
                    .filter(|l| l.trim_start().starts_with(&format!("{table} ")))
                    .all(|l| !l.contains("rows/s")),
                "{table}:\n{progress}\n{summary}"
            );
        }
    }
}
