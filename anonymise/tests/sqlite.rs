//! SQLite runs end to end: nothing personal survives in the copy's bytes (not even hashed),
//! joins, uniqueness and storage classes survive, the same key gives the same copy, and a run
//! that cannot finish leaves no file at all.

mod common;

use anonymise::config::Config;
use anonymise::run::{DbError, Progress, Side, Unit};
use anonymise::sqlite;
use anonymise::transform::{TransformError, Transformer};
use common::{
    assert_no_leak, cli, email, file_names, first_leak, one_rule, person, scratch, text, word, KEY,
    KEY_ENV, READ_VALUES, RULES,
};
use diesel::connection::SimpleConnection;
use diesel::sql_types::{BigInt, Nullable, Text};
use diesel::{Connection, QueryableByName, RunQueryDsl, SqliteConnection};
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// The key of the pinned test vector (`alice@example.com` -> `o3prswyu57qbfdzez7uwmpdgty`).
const PINNED_KEY: &[u8] = b"0123456789abcdef0123456789abcdef";

fn transformer() -> Transformer {
    Transformer::new(PINNED_KEY).unwrap()
}

fn connect(path: &Path) -> SqliteConnection {
    SqliteConnection::establish(path.to_str().unwrap()).unwrap()
}

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct Value {
    #[diesel(sql_type = Nullable<Text>)]
    v: Option<String>,
}

fn count(path: &Path, sql: &str) -> i64 {
    diesel::sql_query(sql)
        .get_result::<Count>(&mut connect(path))
        .unwrap()
        .n
}

fn texts(path: &Path, sql: &str) -> Vec<Option<String>> {
    diesel::sql_query(sql)
        .load::<Value>(&mut connect(path))
        .unwrap()
        .into_iter()
        .map(|r| r.v)
        .collect()
}

/// `'text'`, quotes doubled.
fn lit(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

const USERS: &str = "CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    name TEXT,
    phone TEXT,
    postcode TEXT,
    birth_date TEXT,
    notes TEXT
);";

const ORDERS: &str = "CREATE TABLE orders (
    id INTEGER PRIMARY KEY,
    user_id INTEGER REFERENCES users(id),
    user_email TEXT REFERENCES users(email),
    amount INTEGER
);";

/// Inserts `n` rows into `table` in one transaction, `row(i)` the values of the `i`th (as SQL),
/// 500 to a statement.
fn insert(conn: &mut SqliteConnection, table: &str, n: u64, row: impl Fn(u64) -> String) {
    conn.batch_execute("BEGIN;").unwrap();
    for chunk in (0..n).collect::<Vec<_>>().chunks(500) {
        let rows: Vec<String> = chunk.iter().map(|&i| format!("({})", row(i))).collect();
        conn.batch_execute(&format!("INSERT INTO {table} VALUES {};", rows.join(", ")))
            .unwrap();
    }
    conn.batch_execute("COMMIT;").unwrap();
}

/// People and their orders, as production might hold them: `n` users, `2n` orders. With
/// `orders_first`, the orders table is created first (its references point forward).
fn people(path: &Path, n: u64, orders_first: bool) {
    let mut conn = connect(path);
    let (first, second) = if orders_first {
        (ORDERS, USERS)
    } else {
        (USERS, ORDERS)
    };
    conn.batch_execute(&format!("{first}\n{second}")).unwrap();
    insert(&mut conn, "users", n, |i| {
        let p = person(i);
        let notes = if i % 5 == 0 {
            "NULL".to_owned()
        } else {
            lit(&format!("Called about {} on {}day", word(i, 6), word(i, 7)))
        };
        format!(
            "{}, {}, {}, {}, {}, {}, {notes}",
            i + 1,
            lit(&p.email),
            lit(&p.name),
            lit(&p.phone),
            lit(&p.postcode),
            lit(&p.birth_date),
        )
    });
    insert(&mut conn, "orders", n * 2, |i| {
        let u = (i * 31) % n;
        format!("{}, {}, {}, {}", i + 1, u + 1, lit(&email(u)), 5 + i % 500)
    });
}

const CONFIG: &str = r#"
[tables.users]
quasi_identifiers = ["postcode", "birth_date"]

[tables.users.columns]
id = "keep"
email = "email_pseudonym"
name = { rule = "fake", kind = "name" }
phone = { rule = "fake", kind = "phone" }
postcode = { rule = "generalise", to = "postcode_district" }
birth_date = { rule = "generalise", to = "year" }
notes = "null"

[tables.orders.columns]
id = "keep"
user_id = "keep"
amount = { rule = "generalise", to = "round", step = 10 }
"#;

/// The transformed columns of [`people`] (`orders.user_email` inherits `users.email`'s rule).
const TRANSFORMED: [&str; 7] = [
    "users.email",
    "users.name",
    "users.phone",
    "users.postcode",
    "users.birth_date",
    "users.notes",
    "orders.user_email",
];

fn run(config: &str, source: &Path, target: &Path) -> Result<Vec<anonymise::Summary>, DbError> {
    sqlite::anonymise(
        &Config::parse(config).unwrap(),
        &transformer(),
        source,
        target,
        &mut |_: &Progress| {},
    )
}

fn partial(target: &Path) -> PathBuf {
    let mut name = target.as_os_str().to_owned();
    name.push(".partial");
    PathBuf::from(name)
}

/// Nothing at the target path, nor a partial file, nor a journal of either.
fn assert_no_output(target: &Path) {
    let name = target.file_name().unwrap().to_string_lossy().into_owned();
    let left: Vec<String> = std::fs::read_dir(target.parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|file| file.starts_with(&name))
        .collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

/// Every value of the [`TRANSFORMED`] columns of `source`, labelled `table.column`.
fn originals(source: &Path) -> Vec<(&'static str, String)> {
    let mut values = Vec::new();
    for qualified in TRANSFORMED {
        let (table, column) = qualified.split_once('.').unwrap();
        sqlite::scan(source, table, &[column.to_owned()], &mut |row| {
            values.extend(row[0].clone().map(|v| (qualified, v)));
        })
        .unwrap();
    }
    values
}

fn bytes(path: &Path) -> Vec<u8> {
    std::fs::read(path).unwrap()
}

#[test]
fn no_original_value_nor_its_md5_or_sha256_survives_in_the_copy() {
    let dir = scratch("sqlite-leak");
    let source = dir.join("source.sqlite");
    people(&source, 2_000, false);
    let target = dir.join("anonymised.sqlite");
    let summaries = run(CONFIG, &source, &target).unwrap();
    assert_eq!(
        summaries
            .iter()
            .map(|s| (s.table.as_str(), s.rows, s.transformed_columns))
            .collect::<Vec<_>>(),
        [("users", 2_000, 6), ("orders", 4_000, 2)]
    );
    let originals = originals(&source);
    let mut haystack = bytes(&target);
    haystack.extend(file_names(&dir));
    let checked = assert_no_leak(originals.clone(), &haystack);
    assert!(checked > 10_000, "checked {checked} values");
    assert!(!partial(&target).exists());

    // The search does find a leak: the same run with names kept.
    let leaky = dir.join("leaky.sqlite");
    let config = CONFIG.replace(
        "name = { rule = \"fake\", kind = \"name\" }",
        "name = \"keep\"",
    );
    run(&config, &source, &leaky).unwrap();
    assert_eq!(
        first_leak(originals, &bytes(&leaky)),
        Err("users.name: the value".to_owned())
    );
}

#[test]
fn the_command_line_runs_reports_plans_and_checks_a_sqlite_copy_and_shows_no_value() {
    let dir = scratch("sqlite-cli");
    let source = dir.join("source.sqlite");
    people(&source, 1_000, false);
    let config = dir.join("anonymise.toml");
    std::fs::write(&config, format!("key_env = \"{KEY_ENV}\"\n{CONFIG}")).unwrap();
    let target = dir.join("anonymised.sqlite");
    let (config, from, to) = (
        config.to_str().unwrap(),
        source.to_str().unwrap(),
        target.to_str().unwrap(),
    );
    let run = cli(
        &["run", "--config", config, "--from", from, "--to", to],
        Some(KEY),
    );
    assert!(run.status.success(), "{}", text(&run));
    assert!(target.exists() && !partial(&target).exists());
    // The summary: a line per table, then the total and the peak memory.
    let summary = String::from_utf8_lossy(&run.stdout).into_owned();
    let lines: Vec<Vec<&str>> = summary
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    for (table, rows, transformed) in [("users", "1000", "6"), ("orders", "2000", "2")] {
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with(&[table, rows, transformed, "columns"])),
            "{summary}"
        );
    }
    let total = summary.lines().last().unwrap();
    assert!(
        total.starts_with("2 tables, 3000 rows in ")
            && total.contains(&format!(" s -> {to}"))
            && total.contains("peak memory"),
        "{summary}"
    );

    let report = cli(
        &[
            "report", "--config", config, "--k", "2", to, "--table", "users",
        ],
        None,
    );
    assert!(
        matches!(report.status.code(), Some(0 | 1)),
        "{}",
        text(&report)
    );
    let report_text = String::from_utf8_lossy(&report.stdout).into_owned();
    assert!(
        report_text.contains("k-anonymity over (postcode, birth_date), k = 2")
            && report_text.contains("smallest group"),
        "{report_text}"
    );

    let plan = cli(&["plan", from], None);
    assert!(plan.status.success(), "{}", text(&plan));
    let suggested = String::from_utf8_lossy(&plan.stdout).into_owned();
    assert!(
        suggested.contains("[tables.users.columns]")
            && suggested.contains("[tables.orders.columns]")
            && suggested
                .lines()
                .any(|l| l.starts_with("email = \"email_pseudonym\"")),
        "{suggested}"
    );
    // The suggestion is a config the check accepts.
    let planned = dir.join("planned.toml");
    std::fs::write(&planned, &suggested).unwrap();
    let check = cli(
        &["check", "--config", planned.to_str().unwrap(), from],
        None,
    );
    assert!(check.status.success(), "{}", text(&check));

    // Nothing personal in the copy, the files' names, nor in anything the command line printed
    // (its progress included).
    let mut haystack = bytes(&target);
    haystack.extend(file_names(&dir));
    for out in [&run, &report, &plan, &check] {
        haystack.extend_from_slice(&out.stdout);
        haystack.extend_from_slice(&out.stderr);
    }
    let checked = assert_no_leak(originals(&source), &haystack);
    assert!(checked > 5_000, "checked {checked} values");
}

#[test]
fn joins_row_counts_uniqueness_and_storage_classes_survive() {
    let dir = scratch("sqlite-joins");
    let source = dir.join("source.sqlite");
    people(&source, 1_000, false);
    let target = dir.join("anonymised.sqlite");
    run(CONFIG, &source, &target).unwrap();
    for sql in [
        "SELECT count(*) AS n FROM users",
        "SELECT count(*) AS n FROM orders",
        "SELECT count(*) AS n FROM orders JOIN users ON orders.user_id = users.id",
        "SELECT count(*) AS n FROM orders JOIN users ON orders.user_email = users.email",
        "SELECT count(DISTINCT email) AS n FROM users",
    ] {
        assert_eq!(count(&source, sql), count(&target, sql), "{sql}");
    }
    assert_eq!(
        count(
            &target,
            "SELECT count(*) AS n FROM orders JOIN users ON orders.user_email = users.email"
        ),
        2_000
    );
    assert_eq!(
        count(
            &target,
            "SELECT count(*) AS n FROM users WHERE notes IS NOT NULL"
        ),
        0
    );
    // Integers stay integers (kept, or made by a rule into an INTEGER column); text is text.
    assert_eq!(
        texts(
            &target,
            "SELECT DISTINCT typeof(id) || ',' || typeof(user_id) || ',' || typeof(amount) AS v FROM orders"
        ),
        [Some("integer,integer,integer".to_owned())]
    );
    assert_eq!(
        texts(
            &target,
            "SELECT DISTINCT typeof(id) || ',' || typeof(email) AS v FROM users"
        ),
        [Some("integer,text".to_owned())]
    );
    // The rules did what they say.
    let sample = texts(
        &target,
        "SELECT email || '|' || postcode || '|' || birth_date AS v FROM users WHERE id = 2",
    );
    let sample = sample[0].as_deref().unwrap();
    let parts: Vec<&str> = sample.split('|').collect();
    assert!(parts[0].ends_with("@anonymised.invalid"), "{sample}");
    assert_eq!(parts[1], "NW2");
    assert_eq!(parts[2], "1941-01-01");
    assert_eq!(
        texts(
            &target,
            "SELECT CAST(amount AS TEXT) AS v FROM orders WHERE id = 8"
        ),
        [Some("10".to_owned())]
    );
}

#[test]
fn the_same_key_gives_the_same_copy_and_the_pinned_pseudonym() {
    let dir = scratch("sqlite-same");
    let source = dir.join("source.sqlite");
    people(&source, 300, false);
    {
        let mut conn = connect(&source);
        conn.batch_execute(
            "CREATE TABLE accounts (id INTEGER PRIMARY KEY, login TEXT);
             INSERT INTO accounts VALUES (1, 'alice@example.com'), (2, NULL);
             CREATE TABLE tags (code TEXT PRIMARY KEY, label TEXT NOT NULL) WITHOUT ROWID;
             INSERT INTO tags VALUES ('b', 'alice@example.com'), ('a', 'second');",
        )
        .unwrap();
    }
    let config = format!(
        "{CONFIG}
[tables.accounts.columns]
id = \"keep\"
login = \"pseudonym\"

[tables.tags.columns]
code = \"keep\"
label = \"pseudonym\"
"
    );
    let first = dir.join("first.sqlite");
    let second = dir.join("second.sqlite");
    run(&config, &source, &first).unwrap();
    run(&config, &source, &second).unwrap();
    let emails = "SELECT email AS v FROM users ORDER BY id";
    assert_eq!(texts(&first, emails).len(), 300);
    assert_eq!(texts(&first, emails), texts(&second, emails));
    let names = "SELECT name AS v FROM users ORDER BY id";
    assert_eq!(texts(&first, names), texts(&second, names));
    assert_eq!(
        texts(&first, "SELECT login AS v FROM accounts ORDER BY id"),
        [Some("o3prswyu57qbfdzez7uwmpdgty".to_owned()), None]
    );
    // A WITHOUT ROWID table is copied too.
    assert_eq!(
        texts(
            &first,
            "SELECT code || '=' || label AS v FROM tags ORDER BY code"
        ),
        [
            Some(format!("a={}", transformer().pseudonym("second"))),
            Some("b=o3prswyu57qbfdzez7uwmpdgty".to_owned())
        ]
    );
    // Another key, other pseudonyms.
    let other = dir.join("other.sqlite");
    sqlite::anonymise(
        &Config::parse(&config).unwrap(),
        &Transformer::new(b"another key, 0123456789abcdef").unwrap(),
        &source,
        &other,
        &mut |_: &Progress| {},
    )
    .unwrap();
    assert_ne!(
        texts(&other, "SELECT login AS v FROM accounts WHERE id = 1"),
        [Some("o3prswyu57qbfdzez7uwmpdgty".to_owned())]
    );
}

#[test]
fn an_unclassified_column_writes_nothing() {
    let dir = scratch("sqlite-unclassified");
    let source = dir.join("source.sqlite");
    people(&source, 50, false);
    let target = dir.join("anonymised.sqlite");
    let config = CONFIG.replace("phone = { rule = \"fake\", kind = \"phone\" }\n", "");
    let error = run(&config, &source, &target).unwrap_err();
    match &error {
        DbError::Config(e) => assert_eq!(e.unclassified, ["users.phone"]),
        other => panic!("{other}"),
    }
    assert!(error.to_string().contains("nothing was written"));
    assert_no_output(&target);
}

#[test]
fn a_config_entry_for_a_dropped_column_writes_nothing() {
    let dir = scratch("sqlite-dropped");
    let source = dir.join("source.sqlite");
    people(&source, 50, false);
    let target = dir.join("anonymised.sqlite");
    let config = CONFIG.replace(
        "notes = \"null\"",
        "notes = \"null\"\nmiddle_name = \"null\"",
    );
    match run(&config, &source, &target).unwrap_err() {
        DbError::Config(e) => assert_eq!(e.stale, ["users.middle_name"]),
        other => panic!("{other}"),
    }
    assert_no_output(&target);
}

#[test]
fn an_existing_target_is_left_alone() {
    let dir = scratch("sqlite-exists");
    let source = dir.join("source.sqlite");
    people(&source, 50, false);
    let target = dir.join("anonymised.sqlite");
    std::fs::write(&target, "not ours").unwrap();
    let error = run(CONFIG, &source, &target).unwrap_err();
    assert!(
        matches!(&error, DbError::Refused(m) if m.contains("already exists")),
        "{error}"
    );
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "not ours");
    assert!(!partial(&target).exists());
    // The source is refused as a target too.
    assert!(matches!(
        run(CONFIG, &source, &source).unwrap_err(),
        DbError::Refused(_)
    ));
    // A partial file of another run is neither used nor removed.
    std::fs::remove_file(&target).unwrap();
    std::fs::write(partial(&target), "another run").unwrap();
    let error = run(CONFIG, &source, &target).unwrap_err();
    assert!(
        matches!(&error, DbError::Refused(m) if m.contains(".partial")),
        "{error}"
    );
    assert_eq!(
        std::fs::read_to_string(partial(&target)).unwrap(),
        "another run"
    );
    assert!(!target.exists());
}

#[test]
fn a_value_refused_in_the_last_row_writes_nothing_and_shows_no_value() {
    let dir = scratch("sqlite-midway");
    let source = dir.join("source.sqlite");
    people(&source, 500, false);
    {
        let mut conn = connect(&source);
        conn.batch_execute(
            "CREATE TABLE statuses (id INTEGER PRIMARY KEY, status TEXT);
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 20000)
             INSERT INTO statuses SELECT i, CASE i % 2 WHEN 0 THEN 'active' ELSE 'closed' END FROM n;
             UPDATE statuses SET status = 'Secret-Unmapped-4711' WHERE id = 20000;",
        )
        .unwrap();
    }
    let config = format!(
        "{CONFIG}
[tables.statuses.columns]
id = \"keep\"
status = {{ rule = \"map\", values = {{ active = \"A\", closed = \"C\" }} }}
"
    );
    let target = dir.join("anonymised.sqlite");
    let error = run(&config, &source, &target).unwrap_err();
    let text = error.to_string();
    match error {
        DbError::Transform {
            table,
            row,
            column,
            source,
        } => {
            assert_eq!(
                (table.as_str(), row, column.as_str()),
                ("statuses", 20_000, "status")
            );
            let source: &TransformError = &source;
            assert!(
                matches!(source, TransformError::Unmapped { length: 20, .. }),
                "{source}"
            );
        }
        other => panic!("{other}"),
    }
    assert!(!text.contains("Secret") && !text.contains("4711"), "{text}");
    assert!(text.contains("nothing was written"), "{text}");
    assert_no_output(&target);
}

#[test]
fn blobs_are_kept_byte_for_byte_and_refused_by_other_rules() {
    let dir = scratch("sqlite-blobs");
    let source = dir.join("source.sqlite");
    {
        let mut conn = connect(&source);
        conn.batch_execute(
            "CREATE TABLE files (id INTEGER PRIMARY KEY, data BLOB, score REAL, age INTEGER, note);
             INSERT INTO files VALUES
               (1, x'00ff10807f', 1.5, 37, 12),
               (2, zeroblob(3), 2.0, 95, x'01'),
               (3, NULL, NULL, NULL, 'text');",
        )
        .unwrap();
    }
    let config = r#"
[tables.files.columns]
id = "keep"
data = "keep"
score = "keep"
age = { rule = "generalise", to = "age_band" }
note = "keep"
"#;
    let target = dir.join("anonymised.sqlite");
    run(config, &source, &target).unwrap();
    let shape = "SELECT quote(data) || ' ' || typeof(score) || ' ' || quote(score) || ' ' \
                 || typeof(age) || ' ' || quote(age) || ' ' || quote(note) AS v FROM files ORDER BY id";
    assert_eq!(
        texts(&target, shape),
        [
            Some("X'00FF10807F' real 1.5 integer 30 12".to_owned()),
            Some("X'000000' real 2.0 integer 90 X'01'".to_owned()),
            Some("NULL null NULL null NULL 'text'".to_owned()),
        ]
    );
    // A blob under a rule that reads text is refused, naming the place, not the value.
    let target = dir.join("refused.sqlite");
    let error = run(
        &config.replace("note = \"keep\"", "note = \"pseudonym\""),
        &source,
        &target,
    )
    .unwrap_err();
    assert!(
        matches!(&error, DbError::Transform { table, row: 2, column, source }
            if table == "files" && column == "note" && matches!(**source, TransformError::NotText { bytes: 1 })),
        "{error}"
    );
    assert_no_output(&target);
}

#[test]
fn a_strict_integer_column_refuses_a_text_rule_and_a_column_that_is_not_strict_takes_it() {
    let dir = scratch("sqlite-strict");
    let source = dir.join("source.sqlite");
    connect(&source)
        .batch_execute(
            "CREATE TABLE tight (id INTEGER PRIMARY KEY, code INTEGER, label TEXT) STRICT;
             CREATE TABLE loose (id INTEGER PRIMARY KEY, code INTEGER, label TEXT);
             INSERT INTO tight VALUES (1, 4711, 'a'), (2, 4712, 'b');
             INSERT INTO loose VALUES (1, 4711, 'a'), (2, 4712, 'b');",
        )
        .unwrap();
    // Only a STRICT table's columns, and the rowid of any table, keep their type for the check.
    let schema = sqlite::schema(&source).unwrap();
    let types = |table: &str| -> Vec<Option<&str>> {
        let table = schema.tables.iter().find(|t| t.name == table).unwrap();
        table
            .columns
            .iter()
            .map(|c| c.type_name.as_deref())
            .collect()
    };
    assert_eq!(
        types("tight"),
        [Some("INTEGER"), Some("INTEGER"), Some("TEXT")]
    );
    assert_eq!(types("loose"), [Some("INTEGER"), None, None]);

    let config = r#"
[tables.tight.columns]
id = "keep"
code = "pseudonym"
label = "keep"

[tables.loose.columns]
id = "pseudonym"
code = "pseudonym"
label = "keep"
"#;
    let error = Config::parse(config).unwrap().check(&schema).unwrap_err();
    assert!(error.unclassified.is_empty() && error.stale.is_empty());
    let named: Vec<&str> = error
        .invalid
        .iter()
        .map(|problem| problem.split(':').next().unwrap())
        .collect();
    assert_eq!(named, ["tight.code", "loose.id"], "{error}");
    assert!(
        error.invalid.iter().all(|p| p.contains("makes text")),
        "{error}"
    );
    // The run and the command line refuse it too, writing nothing.
    let target = dir.join("anonymised.sqlite");
    match run(config, &source, &target).unwrap_err() {
        DbError::Config(e) => assert_eq!(*e, error),
        other => panic!("{other}"),
    }
    assert_no_output(&target);
    let path = dir.join("anonymise.toml");
    std::fs::write(&path, config).unwrap();
    let check = cli(
        &[
            "check",
            "--config",
            path.to_str().unwrap(),
            source.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(check.status.code(), Some(2), "{}", text(&check));
    assert!(
        text(&check).contains("tight.code: the column is INTEGER and its rule makes text"),
        "{}",
        text(&check)
    );

    // With those two kept, the same rule on the column of the table that is not STRICT is
    // accepted, and makes text there.
    let config = config
        .replacen("code = \"pseudonym\"", "code = \"keep\"", 1)
        .replace("id = \"pseudonym\"", "id = \"keep\"");
    run(&config, &source, &target).unwrap();
    assert_eq!(
        texts(
            &target,
            "SELECT typeof(code) || ' ' || code AS v FROM loose ORDER BY id"
        ),
        [
            Some(format!("text {}", transformer().pseudonym("4711"))),
            Some(format!("text {}", transformer().pseudonym("4712"))),
        ]
    );
    assert_eq!(
        texts(
            &target,
            "SELECT typeof(code) || ' ' || code AS v FROM tight ORDER BY id"
        ),
        [
            Some("integer 4711".to_owned()),
            Some("integer 4712".to_owned())
        ]
    );
}

#[test]
fn every_rule_the_check_accepts_on_a_strict_column_runs_and_bytes_take_keep_and_null_only() {
    let dir = scratch("sqlite-agree");
    let source = dir.join("source.sqlite");
    connect(&source)
        .batch_execute(
            "CREATE TABLE typed (id INTEGER PRIMARY KEY, n INTEGER, r REAL, t TEXT, b BLOB) STRICT;
             INSERT INTO typed VALUES (1, 37, 37.5, 'SW1A 1AA', x'ff00');",
        )
        .unwrap();
    let schema = sqlite::schema(&source).unwrap();
    let columns = ["n", "r", "t", "b"];
    // What the check accepts on each column; each of them must then run.
    let expected = [
        ("n", &["keep", "null", "age", "round", "map 7"][..]),
        ("r", &["keep", "null", "age", "round", "half", "map 7"]),
        (
            "t",
            &[
                "keep",
                "null",
                "pseudonym",
                "email",
                "fake",
                "postcode",
                "map A",
                "map 7",
                "map empty",
            ],
        ),
        ("b", &["keep", "null"]),
    ];
    for (column, accepted) in expected {
        let mut found = Vec::new();
        // A map to a word is for the servers' enums: not tried here.
        let rules = RULES
            .iter()
            .enumerate()
            .filter(|(_, (n, _))| *n != "map text");
        for (i, (name, rule)) in rules {
            // A text column takes the rules that read dates or numbers, and its values decide
            // whether they can: not a question of its type.
            if column == "t" && READ_VALUES.contains(name) {
                continue;
            }
            let config = format!(
                "[tables.typed.columns]\nid = \"keep\"\n{}\n",
                one_rule(&columns, column, rule)
            );
            let checked = Config::parse(&config).unwrap().check(&schema);
            let target = dir.join(format!("{column}-{i}.sqlite"));
            match (checked, run(&config, &source, &target)) {
                (Ok(_), Ok(_)) => found.push(*name),
                (Err(refused), Err(DbError::Config(_))) => {
                    let refused = refused.to_string();
                    assert!(refused.contains(&format!("typed.{column}: ")), "{refused}");
                    if column == "b" {
                        assert!(
                            refused.contains("only keep and null apply to binary values"),
                            "{refused}"
                        );
                    }
                    assert_no_output(&target);
                }
                (Ok(_), Err(error)) => panic!("typed.{column} = {rule}: checked, then {error}"),
                (checked, ran) => panic!("typed.{column} = {rule}: {checked:?}, {ran:?}"),
            }
        }
        assert_eq!(found, accepted, "typed.{column}");
    }
}

#[test]
fn the_schema_is_in_dependency_order_and_the_copy_passes_the_foreign_key_check() {
    let dir = scratch("sqlite-order");
    let source = dir.join("source.sqlite");
    people(&source, 200, true);
    {
        let mut conn = connect(&source);
        conn.batch_execute(
            "CREATE TABLE audit (id INTEGER PRIMARY KEY AUTOINCREMENT, what TEXT);
             CREATE TABLE notes (id INTEGER PRIMARY KEY, owner REFERENCES Users, body TEXT);
             INSERT INTO notes VALUES (1, 1, 'hello there'), (2, 2, NULL);
             CREATE INDEX orders_by_amount ON orders (amount);
             CREATE VIEW big_orders AS SELECT * FROM orders WHERE user_id > 100;
             CREATE TRIGGER audit_orders AFTER INSERT ON orders BEGIN
               INSERT INTO audit (what) VALUES ('order');
             END;
             INSERT INTO orders VALUES (100000, 1, NULL, 450);
             DELETE FROM orders WHERE id = 100000;
             PRAGMA user_version = 42;",
        )
        .unwrap();
    }
    let schema = sqlite::schema(&source).unwrap();
    let names: Vec<&str> = schema.tables.iter().map(|t| t.name.as_str()).collect();
    let at = |name: &str| names.iter().position(|n| *n == name).unwrap();
    assert!(
        at("users") < at("orders") && at("users") < at("notes"),
        "{names:?}"
    );
    let users = &schema.tables[at("users")];
    let orders = &schema.tables[at("orders")];
    let email = &users.columns[1];
    assert_eq!(
        (
            email.name.as_str(),
            email.unique,
            email.not_null,
            email.type_name.as_deref()
        ),
        ("email", true, true, None),
        "a column of a table that is not STRICT holds any text: no type to check"
    );
    assert!(
        users.columns[0].unique,
        "a single-column primary key is unique"
    );
    assert_eq!(
        users.columns[0].type_name.as_deref(),
        Some("INTEGER"),
        "the rowid holds integers only"
    );
    assert!(!users.columns[2].unique && !users.columns[2].not_null);
    assert_eq!(
        orders
            .columns
            .iter()
            .map(|c| c.references.as_deref())
            .collect::<Vec<_>>(),
        [None, Some("users.id"), Some("users.email"), None]
    );
    let notes = &schema.tables[at("notes")];
    assert_eq!(notes.columns[1].references.as_deref(), Some("users.id"));
    assert_eq!(notes.columns[1].type_name, None);

    let config = format!(
        "{CONFIG}
[tables.audit.columns]
id = \"keep\"
what = \"keep\"

[tables.notes.columns]
id = \"keep\"
body = {{ rule = \"fake\", kind = \"sentence\" }}
"
    );
    let target = dir.join("anonymised.sqlite");
    let mut reports: Vec<Progress> = Vec::new();
    let summaries = sqlite::anonymise(
        &Config::parse(&config).unwrap(),
        &transformer(),
        &source,
        &target,
        &mut |p: &Progress| reports.push(p.clone()),
    )
    .unwrap();
    assert_eq!(
        summaries
            .iter()
            .map(|s| s.table.as_str())
            .collect::<Vec<_>>(),
        names
    );
    assert!(reports.iter().all(|p| p.unit == Unit::Rows));
    let done: Vec<(&str, u64, u64)> = reports
        .iter()
        .filter(|p| p.done)
        .map(|p| (p.table.as_str(), p.rows, p.total))
        .collect();
    assert_eq!(done.len(), names.len());
    assert!(done.contains(&("orders", 400, 400)), "{done:?}");
    // The copy checks out, and has the source's indexes, views, triggers and settings; the
    // trigger did not fire during the load.
    assert_eq!(
        count(
            &target,
            "SELECT count(*) AS n FROM pragma_foreign_key_check"
        ),
        0
    );
    let objects = "SELECT type || ' ' || name AS v FROM sqlite_master ORDER BY type, name";
    assert_eq!(texts(&source, objects), texts(&target, objects));
    assert_eq!(count(&target, "SELECT count(*) AS n FROM audit"), 1);
    assert_eq!(
        count(&target, "SELECT count(*) AS n FROM big_orders"),
        count(&source, "SELECT count(*) AS n FROM big_orders")
    );
    assert_eq!(
        count(
            &target,
            "SELECT seq AS n FROM sqlite_sequence WHERE name = 'audit'"
        ),
        1
    );
    assert_eq!(
        count(&target, "SELECT user_version AS n FROM pragma_user_version"),
        42
    );
    assert_eq!(
        texts(&target, "SELECT body AS v FROM notes ORDER BY id")[1],
        None
    );
}

#[test]
fn large_tables_go_in_chunks_keeping_rowids() {
    let dir = scratch("sqlite-chunks");
    let source = dir.join("source.sqlite");
    {
        let mut conn = connect(&source);
        conn.batch_execute(
            "PRAGMA page_size = 8192;
             CREATE TABLE events (kind TEXT, who TEXT);
             WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 40000)
             INSERT INTO events (rowid, kind, who) SELECT i * 3, 'k' || (i % 7), 'person-' || i FROM n;
             DELETE FROM events WHERE rowid % 2 = 0;",
        )
        .unwrap();
    }
    let config = r#"
[tables.events.columns]
kind = "keep"
who = "pseudonym"
"#;
    let target = dir.join("anonymised.sqlite");
    let mut reports: Vec<Progress> = Vec::new();
    let summaries = sqlite::anonymise(
        &Config::parse(config).unwrap(),
        &transformer(),
        &source,
        &target,
        &mut |p: &Progress| reports.push(p.clone()),
    )
    .unwrap();
    assert_eq!(summaries[0].rows, 20_000);
    assert_eq!(
        count(&target, "SELECT page_size AS n FROM pragma_page_size"),
        8192
    );
    let positions: Vec<u64> = reports.iter().map(|p| p.position).collect();
    assert_eq!(positions, [0, 16_384, 20_000]);
    assert!(reports.iter().all(|p| p.total == 20_000));
    let rowids = "SELECT group_concat(rowid) AS v FROM (SELECT rowid FROM events ORDER BY rowid)";
    assert_eq!(texts(&source, rowids), texts(&target, rowids));
    let t = transformer();
    assert_eq!(
        texts(&target, "SELECT who AS v FROM events WHERE rowid = 3"),
        [Some(t.pseudonym("person-1"))]
    );
    assert_eq!(
        texts(&target, "SELECT who AS v FROM events WHERE rowid = 119997"),
        [Some(t.pseudonym("person-39999"))]
    );
}

#[test]
fn sample_and_scan_read_rows_as_text() {
    let dir = scratch("sqlite-sample");
    let source = dir.join("source.sqlite");
    people(&source, 30, false);
    let rows = sqlite::sample(&source, "users", 5).unwrap();
    assert_eq!(rows.len(), 5);
    assert_eq!(rows[0].len(), 7);
    assert_eq!(rows[0][0], "1");
    assert_eq!(rows[0][1], email(0));
    assert_eq!(rows[0][6], "", "NULL as an empty string");
    let mut seen = Vec::new();
    let n = sqlite::scan(
        &source,
        "orders",
        &["amount".to_owned(), "user_email".to_owned()],
        &mut |row| seen.push(row.to_vec()),
    )
    .unwrap();
    assert_eq!(n, 60);
    assert_eq!(seen[0], [Some("5".to_owned()), Some(email(0))]);
    let distinct: HashSet<_> = seen.iter().map(|r| r[1].clone()).collect();
    assert_eq!(distinct.len(), 30);
    assert!(matches!(
        sqlite::schema(&dir.join("missing.sqlite")).unwrap_err(),
        DbError::Refused(_)
    ));
    assert!(
        !dir.join("missing.sqlite").exists(),
        "a missing source is not created"
    );
}

#[test]
fn a_join_the_copy_would_break_writes_nothing_and_dangling_references_of_the_source_are_copied() {
    // A parent key compared without case: the source's references match it, their pseudonyms
    // (of differently cased text) do not.
    let dir = scratch("sqlite-broken-join");
    let source = dir.join("source.sqlite");
    connect(&source)
        .batch_execute(
            "CREATE TABLE members (login TEXT PRIMARY KEY COLLATE NOCASE);
             CREATE TABLE posts (id INTEGER PRIMARY KEY, author TEXT REFERENCES members(login));
             INSERT INTO members VALUES ('alice'), ('bob');
             INSERT INTO posts VALUES (1, 'alice'), (2, 'BOB');",
        )
        .unwrap();
    let config = r#"
[tables.members.columns]
login = "pseudonym"

[tables.posts.columns]
id = "keep"
"#;
    let target = dir.join("anonymised.sqlite");
    let error = run(config, &source, &target).unwrap_err();
    let text = error.to_string();
    assert!(
        matches!(&error, DbError::Database { table: Some(t), message, .. } if t == "posts" && message.contains("foreign key check failed: 1 rows reference no row of `members` (the source has 0)")),
        "{text}"
    );
    assert!(!text.contains("BOB") && !text.contains("bob"), "{text}");
    assert_no_output(&target);

    // References the source itself leaves dangling (SQLite does not enforce foreign keys unless
    // asked) are copied as they are; a cycle of references is fine too.
    let source = dir.join("dangling.sqlite");
    connect(&source)
        .batch_execute(
            "PRAGMA foreign_keys = OFF;
             CREATE TABLE a (id INTEGER PRIMARY KEY, b_id INTEGER REFERENCES b(id));
             CREATE TABLE b (id INTEGER PRIMARY KEY, a_id INTEGER REFERENCES a(id));
             INSERT INTO a VALUES (1, 1), (2, 99);
             INSERT INTO b VALUES (1, 2);",
        )
        .unwrap();
    let config = r#"
[tables.a.columns]
id = "keep"

[tables.b.columns]
id = "keep"
"#;
    let target = dir.join("dangling-anonymised.sqlite");
    run(config, &source, &target).unwrap();
    assert_eq!(
        count(
            &target,
            "SELECT count(*) AS n FROM pragma_foreign_key_check"
        ),
        1
    );
    assert_eq!(count(&target, "SELECT count(*) AS n FROM a"), 2);
}

#[test]
fn odd_paths_utf16_sources_and_generated_columns_work_and_virtual_tables_are_refused() {
    let root = scratch("sqlite-odd");
    let dir = root.join("a dir ?#%' \"named\" oddly");
    std::fs::create_dir_all(&dir).unwrap();
    let source = dir.join("source ?x=1#y.sqlite");
    connect(&source)
        .batch_execute(
            "PRAGMA encoding = 'UTF-16le';
             CREATE TABLE \"the \"\"people\"\"\" (
               id INTEGER PRIMARY KEY,
               \"first name\" TEXT,
               last TEXT,
               full TEXT GENERATED ALWAYS AS (\"first name\" || ' ' || last) STORED
             );
             INSERT INTO \"the \"\"people\"\"\" (id, \"first name\", last)
               VALUES (1, 'Zorvakquil', 'Mebbtravxun'), (2, 'Plodrekesh', 'Wimyupbrag');",
        )
        .unwrap();
    let schema = sqlite::schema(&source).unwrap();
    let columns: Vec<&str> = schema.tables[0]
        .columns
        .iter()
        .map(|c| c.name.as_str())
        .collect();
    assert_eq!(
        columns,
        ["id", "first name", "last"],
        "generated columns are left out"
    );
    let config = r#"
[tables.'the "people"'.columns]
id = "keep"
"first name" = { rule = "fake", kind = "first_name" }
last = { rule = "fake", kind = "last_name" }
"#;
    let target = dir.join("anonymised #1?.sqlite");
    run(config, &source, &target).unwrap();
    assert_eq!(
        texts(&target, "SELECT encoding AS v FROM pragma_encoding"),
        [Some("UTF-16le".to_owned())]
    );
    let full = texts(
        &target,
        "SELECT full AS v FROM \"the \"\"people\"\"\" ORDER BY id",
    );
    let expected = texts(
        &target,
        "SELECT \"first name\" || ' ' || last AS v FROM \"the \"\"people\"\"\" ORDER BY id",
    );
    assert_eq!(
        full, expected,
        "generated columns are computed from the copy"
    );
    let utf16 = |s: &str| -> Vec<u8> { s.encode_utf16().flat_map(u16::to_le_bytes).collect() };
    let holds = |path: &Path, text: &str| {
        let pattern = utf16(text);
        std::fs::read(path)
            .unwrap()
            .windows(pattern.len())
            .any(|w| w == pattern)
    };
    for original in ["Zorvakquil", "Mebbtravxun", "Plodrekesh", "Wimyupbrag"] {
        assert!(
            holds(&source, original),
            "the search looks for what the source holds"
        );
        assert!(!holds(&target, original), "{original} survived");
    }

    // A full-text index holds the original text in its shadow tables: refused.
    let source = dir.join("fts.sqlite");
    connect(&source)
        .batch_execute(
            "CREATE TABLE docs (id INTEGER PRIMARY KEY, body TEXT);
             CREATE VIRTUAL TABLE docs_fts USING fts5(body);
             INSERT INTO docs VALUES (1, 'secret words');
             INSERT INTO docs_fts VALUES ('secret words');",
        )
        .unwrap();
    let names: Vec<String> = sqlite::schema(&source)
        .unwrap()
        .tables
        .into_iter()
        .map(|t| t.name)
        .collect();
    assert_eq!(names, ["docs"]);
    let config = r#"
[tables.docs.columns]
id = "keep"
body = "null"
"#;
    let target = dir.join("fts-anonymised.sqlite");
    let error = run(config, &source, &target).unwrap_err();
    assert!(
        matches!(&error, DbError::Refused(m) if m.contains("`docs_fts` is a virtual table")),
        "{error}"
    );
    assert_no_output(&target);
}

#[test]
fn a_conflict_clause_that_would_drop_rows_fails_the_run_and_shows_no_value() {
    // Two visits of one person to two postcodes of one district: generalised, they collide, and
    // `ON CONFLICT REPLACE` / `IGNORE` would keep one of them while the summary counted both.
    let tables = [
        "CREATE TABLE visits (id INTEGER PRIMARY KEY, person TEXT, postcode TEXT,
             UNIQUE (person, postcode) ON CONFLICT REPLACE)",
        "CREATE TABLE visits (id INTEGER PRIMARY KEY, person TEXT, postcode TEXT,
             UNIQUE (person, postcode) ON CONFLICT IGNORE)",
        "CREATE TABLE visits (id INTEGER NOT NULL, person TEXT, postcode TEXT,
             PRIMARY KEY (person, postcode) ON CONFLICT REPLACE) WITHOUT ROWID",
    ];
    let values = [
        ("Zorvakquil Mebbtrav", "SW1A 1AA"),
        ("Zorvakquil Mebbtrav", "SW1A 2BB"),
        ("Xunplodre Keshwim", "NW3 4CD"),
    ];
    let config = r#"
[tables.visits.columns]
id = "keep"
person = "pseudonym"
postcode = { rule = "generalise", to = "postcode_district" }
"#;
    for (i, create) in tables.iter().enumerate() {
        let dir = scratch("sqlite-conflict");
        let source = dir.join("source.sqlite");
        let rows: Vec<String> = values
            .iter()
            .enumerate()
            .map(|(id, (person, postcode))| format!("({id}, {}, {})", lit(person), lit(postcode)))
            .collect();
        connect(&source)
            .batch_execute(&format!(
                "{create}; INSERT INTO visits (id, person, postcode) VALUES {};",
                rows.join(", ")
            ))
            .unwrap();
        let target = dir.join("anonymised.sqlite");
        let error = run(config, &source, &target).unwrap_err();
        let text = error.to_string();
        match &error {
            DbError::Database {
                side: Side::Target,
                table: Some(table),
                message,
            } => {
                assert_eq!(table, "visits", "table {i}: {text}");
                assert!(
                    message.contains("UNIQUE") && message.contains("visits.postcode"),
                    "table {i}: {text}"
                );
            }
            other => panic!("table {i}: {other}"),
        }
        assert!(text.contains("nothing was written"), "{text}");
        let originals = values
            .iter()
            .flat_map(|(person, postcode)| {
                [
                    ("person", person.to_string()),
                    ("postcode", postcode.to_string()),
                ]
            })
            .chain([("district", "SW1A".to_owned())]);
        first_leak(originals, text.as_bytes()).unwrap();
        assert!(!text.contains("SW1A"), "{text}");
        assert_no_output(&target);
    }
}
