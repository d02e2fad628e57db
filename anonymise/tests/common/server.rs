//! What the tests of the database servers (PostgreSQL, MariaDB/MySQL) have in common: their
//! config, finding the server, a test's own database and its source, runs of the copy, and the
//! bodies of the tests both servers run (each `tests/<server>.rs` names them as its own tests).
//! A test body returns `None`, having done nothing, when the server is unreachable (see
//! [`Server::server`]).

use super::{assert_no_leak, cli, text, users_columns, write_config, KEY};
use anonymise::{Config, DbError, Progress, Summary, Transformer};
use std::marker::PhantomData;
use std::process::Output;

/// The config of the database servers' tests: [`super::person`]s in `users`, their `orders`
/// (which reference them by id and by email) and an `audit` log naming them by email.
pub const CONFIG: &str = concat!(
    r#"
key_env = "ANONYMISE_TEST_KEY"

[tables.users]
quasi_identifiers = ["postcode", "birth_date", "gender"]

"#,
    users_columns!(),
    r#"national_id = "pseudonym"
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
"#
);

/// The people of a database server's test source.
pub const PEOPLE: u64 = 2_000;

/// The tables of [`Server::SCHEMA`].
pub const TABLES: [&str; 3] = ["users", "orders", "audit"];

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
/// filled, read and dropped, and how the library copies one database into another.
pub trait Server {
    /// What messages call it.
    const NAME: &'static str;
    /// What the names of its tests' scratch directories start with.
    const SHORT: &'static str;
    /// The environment variable holding its URL (without a database).
    const URL_ENV: &'static str;
    /// Its URL when the variable is not set.
    const DEFAULT_URL: &'static str;
    /// The tables of [`CONFIG`]: `users`, `orders` referencing them, `audit`.
    const SCHEMA: &'static str;
    /// Sets the total of the order with the highest id to 12345.67, which [`totals_mapped`]
    /// does not map.
    const UNMAPPED_LAST_TOTAL: &'static str;
    /// Whether the copy reads a table in key order (so a value refused in the last row is
    /// reported in the row numbered as many as the table holds).
    const READS_IN_KEY_ORDER: bool;
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
    /// Runs `sql`, one statement or several, in the database at `url`.
    fn execute(url: &str, sql: &str);
    /// The one number `sql` selects, in the database at `url`.
    fn count(url: &str, sql: &str) -> i64;
    /// The values of the one column `sql` selects, in the database at `url`.
    fn column(url: &str, sql: &str) -> Vec<Option<String>>;
    /// Every table of the database at `url`, every value: what a copy holds.
    fn dump(url: &str) -> Vec<u8>;
    /// Fills the [`Self::SCHEMA`] database at `url` as a test source: [`PEOPLE`] people, twice
    /// as many orders, and audit rows naming them.
    fn fill(url: &str);
    /// `column` as text, in a `SELECT` list.
    fn as_text(column: &str) -> String;
    /// `parts` joined into one text, in a `SELECT` list.
    fn concat(parts: &[&str]) -> String;

    /// The URL of the server the tests use. A server that cannot be reached fails the test:
    /// nothing is skipped (as in the workspace's own backend tests).
    fn server() -> String {
        let url = std::env::var(Self::URL_ENV).unwrap_or_else(|_| Self::DEFAULT_URL.to_owned());
        if let Err(e) = Self::reach(&url) {
            panic!(
                "{} is unreachable at {url} (set {} to another server): {e}",
                Self::NAME,
                Self::URL_ENV
            );
        }
        url
    }
}

/// A database of this test on an `S` server, dropped at the end.
pub struct Db<S: Server> {
    /// The server's URL (without a database).
    pub server: String,
    /// The database's name.
    pub name: String,
    server_kind: PhantomData<fn() -> S>,
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

    /// A new database with [`Server::SCHEMA`]'s tables.
    pub fn new(server: &str, test: &str, role: &str) -> Self {
        Self::with_schema(server, test, role, S::SCHEMA)
    }

    /// A new database with the tables of `schema`.
    pub fn with_schema(server: &str, test: &str, role: &str, schema: &str) -> Self {
        let db = Self::create(server, test, role);
        db.exec(schema);
        db
    }

    /// The database's URL.
    pub fn url(&self) -> String {
        format!("{}/{}", self.server, self.name)
    }

    /// Runs `sql`, one statement or several.
    pub fn exec(&self, sql: &str) {
        S::execute(&self.url(), sql);
    }

    /// The one number `sql` selects.
    pub fn count(&self, sql: &str) -> i64 {
        S::count(&self.url(), sql)
    }

    /// The values of the one column `sql` selects.
    pub fn column(&self, sql: &str) -> Vec<Option<String>> {
        S::column(&self.url(), sql)
    }

    /// Every table's every value: what the copy holds.
    pub fn dump(&self) -> Vec<u8> {
        S::dump(&self.url())
    }
}

impl<S: Server> Drop for Db<S> {
    fn drop(&mut self) {
        S::remove(&self.server, &self.name);
    }
}

/// A source of `test` on `server`: [`Server::SCHEMA`]'s tables, filled by [`Server::fill`].
pub fn source<S: Server>(server: &str, test: &str) -> Db<S> {
    let db = Db::new(server, test, "src");
    S::fill(&db.url());
    db
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
    run_lib_with(config, key, src, dst, &S::Options::default(), &mut |_| {})
}

/// The library's run of `config` with `key` from `src` into `dst`, with `options`, telling
/// `progress`.
pub fn run_lib_with<S: Server>(
    config: &str,
    key: &[u8],
    src: &Db<S>,
    dst: &Db<S>,
    options: &S::Options,
    progress: &mut dyn FnMut(&Progress),
) -> Result<Vec<Summary>, DbError> {
    S::ANONYMISE(
        &Config::parse(config).unwrap(),
        &Transformer::new(key).unwrap(),
        &src.url(),
        &dst.url(),
        options,
        progress,
    )
}

/// A config file of `text` for test `test` (see [`write_config`]), named for the server.
fn config_file<S: Server>(test: &str, text: &str) -> (super::Scratch, std::path::PathBuf) {
    write_config(&format!("{}-{test}", S::SHORT), text)
}

/// Panics unless every table of `tables` in `db` is empty.
pub fn assert_empty<S: Server>(db: &Db<S>, tables: &[&str]) {
    for table in tables {
        assert_eq!(
            db.count(&format!("SELECT COUNT(*) FROM {table}")),
            0,
            "{table}"
        );
    }
}

/// The error of a library run that must fail, and its message; the target's tables are still
/// empty.
pub fn failure<S: Server>(config: &str, src: &Db<S>, dst: &Db<S>) -> (DbError, String) {
    let error = run_lib(config, KEY.as_bytes(), src, dst).unwrap_err();
    assert_empty(dst, &TABLES);
    let message = error.to_string();
    (error, message)
}

/// [`CONFIG`] with the orders' totals mapped, fail closed: the one total
/// [`Server::UNMAPPED_LAST_TOTAL`] sets stops the run in its last table.
pub fn totals_mapped() -> String {
    let mut values = String::from("total = { rule = \"map\", values = { ");
    let totals: Vec<String> = (0..500).map(|t| format!("\"{t}.99\" = \"{t}\"")).collect();
    values.push_str(&totals.join(", "));
    values.push_str(" } }");
    CONFIG.replace("total = \"keep\"", &values)
}

/// Declares, for the server `$server`, a test of each of `$name`s, the shared test body of
/// that name: `#[test] fn $name() { server::$name::<$server>(); }`.
#[allow(unused_macros)] // unused by tests/csv.rs and tests/sqlite.rs, which include this module too
macro_rules! server_tests {
    ($server:ty: $($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                $crate::common::server::$name::<$server>();
            }
        )*
    };
}
#[allow(unused_imports)] // likewise
pub(crate) use server_tests;

/// Nothing personal survives in the copy, the run's output or the report of the copy, not even
/// hashed; and the check finds a leak when there is one.
pub fn nothing_personal_survives_in_the_copy_its_logs_or_its_report<S: Server>() {
    let server = S::server();
    let src = source::<S>(&server, "leak");
    let dst = Db::new(&server, "leak", "dst");
    let (_dir, config) = config_file::<S>("leak", CONFIG);
    let config = config.to_str().unwrap();
    let run = run_cli(config, &src, &dst, &[], Some(KEY));
    assert!(run.status.success(), "{}", text(&run));
    let summary = text(&run);
    assert!(
        summary.contains("3 tables, 7000 rows") && summary.contains("peak memory"),
        "{summary}"
    );
    let report = cli(
        &[
            "report",
            "--config",
            config,
            "--k",
            "2",
            &dst.url(),
            "--table",
            "users",
        ],
        None,
    );
    assert!(report.status.code().is_some(), "{}", text(&report));
    assert!(
        String::from_utf8_lossy(&report.stdout).contains("2000"),
        "the report read every row: {}",
        text(&report)
    );
    let mut haystack = dst.dump();
    for out in [&run, &report] {
        haystack.extend_from_slice(&out.stdout);
        haystack.extend_from_slice(&out.stderr);
    }
    let checked = assert_no_leak(originals(&src), &haystack);
    assert!(checked > 15_000, "checked {checked} values");

    // The check finds a leak when there is one: the same copy with names kept.
    let leaky = Db::new(&server, "leak", "leaky");
    let keep_names = CONFIG.replace(
        r#"name = { rule = "fake", kind = "name" }"#,
        r#"name = "keep""#,
    );
    run_lib(&keep_names, KEY.as_bytes(), &src, &leaky).unwrap();
    let caught = std::panic::catch_unwind(|| assert_no_leak(originals(&src), &leaky.dump()));
    assert!(caught.is_err(), "a kept name column must be caught");
}

/// Joins, counts and unique columns survive, tables load in dependency order, the pinned test
/// vector holds, and the same key gives the same copy (another key, other pseudonyms). Returns
/// the source and its copy, for what a server checks besides.
pub fn joins_counts_and_unique_columns_survive_and_the_same_key_gives_the_same_copy<S: Server>(
) -> Option<(Db<S>, Db<S>)> {
    let server = S::server();
    let src = source::<S>(&server, "joins");
    // The pinned test vector, in a pseudonym column.
    src.exec("UPDATE users SET national_id = 'alice@example.com' WHERE id = 7");
    let (a, b) = (
        Db::new(&server, "joins", "a"),
        Db::new(&server, "joins", "b"),
    );
    let pinned = b"0123456789abcdef0123456789abcdef";
    let mut reports = Vec::new();
    let summaries = run_lib_with(CONFIG, pinned, &src, &a, &S::Options::default(), &mut |p| {
        reports.push(p.clone())
    })
    .unwrap();
    // Dependency order: users before the tables that reference it, by a foreign key or the
    // config's virtual key, whatever their names (the target's foreign keys are checked as rows
    // go in).
    let order: Vec<&str> = summaries.iter().map(|s| s.table.as_str()).collect();
    assert_eq!(order, ["users", "audit", "orders"]);
    let users = summaries.iter().find(|s| s.table == "users").unwrap();
    assert_eq!((users.rows, users.transformed_columns), (PEOPLE, 8));
    assert!(reports
        .iter()
        .any(|p| p.table == "orders" && p.done && p.rows == 2 * PEOPLE));
    run_lib(CONFIG, pinned, &src, &b).unwrap();

    for sql in [
        "SELECT COUNT(*) FROM users",
        "SELECT COUNT(*) FROM orders",
        "SELECT COUNT(*) FROM audit",
        "SELECT COUNT(*) FROM orders o JOIN users u ON u.id = o.user_id",
        "SELECT COUNT(*) FROM orders o JOIN users u ON u.email = o.user_email AND u.id = o.user_id",
        "SELECT COUNT(*) FROM audit a JOIN users u ON u.email = a.actor_email AND u.id = a.id",
        "SELECT COUNT(DISTINCT email) FROM users",
        "SELECT COUNT(DISTINCT national_id) FROM users",
    ] {
        assert_eq!(a.count(sql), src.count(sql), "{sql}");
    }
    assert_eq!(
        a.count("SELECT COUNT(*) FROM users WHERE notes IS NULL"),
        PEOPLE as i64
    );
    assert_eq!(
        a.column("SELECT national_id FROM users WHERE id = 7"),
        [Some("o3prswyu57qbfdzez7uwmpdgty".to_owned())]
    );
    assert_eq!(
        a.column(&format!(
            "SELECT {} FROM users WHERE id = 1",
            S::as_text("birth_date")
        )),
        [Some("1941-01-01".to_owned())],
        "a date generalised to its year stays a date"
    );
    let all = format!(
        "SELECT {} FROM users ORDER BY id",
        S::concat(&["email", "name", "COALESCE(phone, '')", "national_id"])
    );
    assert_eq!(a.column(&all), b.column(&all), "same key, same copy");
    let other = Db::new(&server, "joins", "c");
    run_lib(CONFIG, b"another-key-0123456789abcdef-xyz", &src, &other).unwrap();
    let emails = "SELECT email FROM users ORDER BY id";
    assert!(
        a.column(emails)
            .iter()
            .zip(other.column(emails))
            .all(|(x, y)| *x != y),
        "another key, other pseudonyms"
    );
    Some((src, a))
}

/// A column the config does not classify, or an entry for a column the source no longer has,
/// stops the run before it writes anything, and the message names both.
pub fn an_unclassified_column_or_an_entry_for_a_dropped_one_writes_nothing<S: Server>() {
    let server = S::server();
    let src = source::<S>(&server, "closed");
    let dst = Db::new(&server, "closed", "dst");
    src.exec("ALTER TABLE users ADD COLUMN twitter TEXT; ALTER TABLE users DROP COLUMN notes");
    dst.exec("ALTER TABLE users ADD COLUMN twitter TEXT");
    let (_dir, config) = config_file::<S>("closed", CONFIG);
    let run = run_cli(config.to_str().unwrap(), &src, &dst, &[], Some(KEY));
    assert_eq!(run.status.code(), Some(2), "{}", text(&run));
    let message = text(&run);
    assert!(
        message.contains("users.twitter") && message.contains("users.notes"),
        "{message}"
    );
    assert!(message.contains("nothing was written"), "{message}");
    assert_empty(&dst, &TABLES);
}

/// Without the key in the environment the run writes nothing and names the variable.
pub fn a_missing_key_writes_nothing<S: Server>() {
    let server = S::server();
    let src = source::<S>(&server, "nokey");
    let dst = Db::new(&server, "nokey", "dst");
    let (_dir, config) = config_file::<S>("nokey", CONFIG);
    let run = run_cli(config.to_str().unwrap(), &src, &dst, &[], None);
    assert_eq!(run.status.code(), Some(2), "{}", text(&run));
    assert!(text(&run).contains("ANONYMISE_TEST_KEY"), "{}", text(&run));
    assert_empty(&dst, &TABLES);
}

/// A value refused in the last table, after the earlier ones went in, leaves every table of
/// the target empty, and the error names where it was but not the value.
pub fn a_value_refused_in_the_last_table_leaves_the_earlier_tables_unwritten<S: Server>() {
    let server = S::server();
    let src = source::<S>(&server, "midway");
    let dst = Db::new(&server, "midway", "dst");
    src.exec(S::UNMAPPED_LAST_TOTAL);
    let (error, message) = failure(&totals_mapped(), &src, &dst);
    assert!(
        matches!(&error, DbError::Transform { table, row, column, .. }
            if table == "orders" && column == "total"
                && if S::READS_IN_KEY_ORDER { *row == 2 * PEOPLE } else { *row >= 1 }),
        "{message}"
    );
    assert!(!message.contains("12345"), "{message}");
}

/// A target whose tables hold rows is refused, and left as it was; with `--truncate` it is
/// emptied first, unless the run fails.
pub fn a_target_that_holds_rows_is_refused_unless_truncate_is_asked<S: Server>() {
    let server = S::server();
    let src = source::<S>(&server, "occupied");
    let dst = Db::new(&server, "occupied", "dst");
    dst.exec("INSERT INTO audit VALUES (1, NULL, 'kept')");
    let (_dir, config) = config_file::<S>("occupied", CONFIG);
    let config = config.to_str().unwrap();
    let run = run_cli(config, &src, &dst, &[], Some(KEY));
    assert_eq!(run.status.code(), Some(2), "{}", text(&run));
    assert!(
        text(&run).contains("audit already hold rows"),
        "{}",
        text(&run)
    );
    assert_eq!(
        dst.count("SELECT COUNT(*) FROM audit WHERE action = 'kept'"),
        1
    );
    assert_empty(&dst, &["users", "orders"]);

    // A run with --truncate that fails leaves the rows it would have deleted.
    let (_dir2, failing) = config_file::<S>("occupied-failing", &totals_mapped());
    src.exec(S::UNMAPPED_LAST_TOTAL);
    let run = run_cli(
        failing.to_str().unwrap(),
        &src,
        &dst,
        &["--truncate"],
        Some(KEY),
    );
    assert_eq!(run.status.code(), Some(2), "{}", text(&run));
    assert_eq!(
        dst.count("SELECT COUNT(*) FROM audit WHERE action = 'kept'"),
        1
    );
    assert_empty(&dst, &["users", "orders"]);

    let run = run_cli(config, &src, &dst, &["--truncate"], Some(KEY));
    assert!(run.status.success(), "{}", text(&run));
    assert_eq!(
        dst.count("SELECT COUNT(*) FROM audit WHERE action = 'kept'"),
        0
    );
    assert_eq!(dst.count("SELECT COUNT(*) FROM users"), PEOPLE as i64);
    // Again over a full copy: the children's rows go before their parents'.
    let run = run_cli(config, &src, &dst, &["--truncate"], Some(KEY));
    assert!(run.status.success(), "{}", text(&run));
    assert_eq!(dst.count("SELECT COUNT(*) FROM orders"), 2 * PEOPLE as i64);
}

/// A target of `test` on `server` without a column of `src` is refused, and left empty.
pub fn a_target_without_the_sources_columns_is_refused<S: Server>(
    server: &str,
    test: &str,
    src: &Db<S>,
) {
    let dst = Db::new(server, test, "dst");
    dst.exec("ALTER TABLE users DROP COLUMN national_id");
    let (_, message) = failure(CONFIG, src, &dst);
    assert!(message.contains("users.national_id"), "{message}");
}

/// `src` as its own target is refused, even with `options`, and left whole.
pub fn the_same_database_as_source_and_target_is_refused<S: Server>(
    src: &Db<S>,
    options: &S::Options,
) {
    let same = run_lib_with(CONFIG, KEY.as_bytes(), src, src, options, &mut |_| {}).unwrap_err();
    assert!(same.to_string().contains("the same database"), "{same}");
    assert_eq!(src.count("SELECT COUNT(*) FROM users"), PEOPLE as i64);
}

/// `plan` reads the source's schema and flags its personal columns; `check` accepts the
/// suggestion once a key is set; neither shows a value.
pub fn plan_and_check_read_the_source_and_show_no_value<S: Server>() {
    let server = S::server();
    let src = source::<S>(&server, "plan");
    let plan = cli(&["plan", &src.url()], None);
    assert!(plan.status.success(), "{}", text(&plan));
    let suggested = String::from_utf8_lossy(&plan.stdout).into_owned();
    for table in [
        "[tables.users.columns]",
        "[tables.orders.columns]",
        "[tables.audit.columns]",
    ] {
        assert!(suggested.contains(table), "{suggested}");
    }
    assert!(
        suggested.contains("email = \"email_pseudonym\""),
        "{suggested}"
    );
    // The suggestion is a config the check accepts once a key is set, and holds no value.
    let (_dir, path) = config_file::<S>("plan", &suggested);
    let check = cli(
        &["check", "--config", path.to_str().unwrap(), &src.url()],
        None,
    );
    assert!(check.status.success(), "{}", text(&check));
    assert!(text(&check).contains("3 tables"), "{}", text(&check));
    assert_no_leak(originals(&src), suggested.as_bytes());
}

/// Starts `anonymise run` of `config` from `src` into `dst` with `extra` arguments, as a child
/// process whose output is kept, held after its target check by the hook of
/// `anonymise::run::hold_after_target_check` in `hold`.
fn spawn_run<S: Server>(
    config: &str,
    src: &Db<S>,
    dst: &Db<S>,
    extra: &[&str],
    hold: &std::path::Path,
) -> std::process::Child {
    let (from, to) = (src.url(), dst.url());
    std::process::Command::new(env!("CARGO_BIN_EXE_anonymise"))
        .args(["run", "--config", config, "--from", &from, "--to", &to])
        .args(extra)
        .env(super::KEY_ENV, KEY)
        .env(anonymise::run::HOLD_AFTER_CHECK_ENV, hold)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start the anonymise binary")
}

/// Waits until `waiting` (how many sessions of database `name` wait for a lock, as the server
/// shows them) is above 0: what another session holds, not the clock, says when to go on. A
/// minute without one fails the test.
pub fn wait_for_a_lock_wait(name: &str, mut waiting: impl FnMut() -> i64) {
    let started = std::time::Instant::now();
    while waiting() <= 0 {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(60),
            "no session of {name} waited for a lock"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

/// Two runs of `config` from `src` into `dst` with `extra` arguments, started together: both
/// are held once past their target check, and let go when both got there (where, unguarded,
/// both would commit) or when one of them stopped. Their outputs, in the order started.
fn two_runs_at_once<S: Server>(
    test: &str,
    config: &str,
    src: &Db<S>,
    dst: &Db<S>,
    extra: &[&str],
) -> [Output; 2] {
    let dir = super::scratch(&format!("{}-{test}", S::SHORT));
    let mut runs = [0, 1].map(|_| spawn_run(config, src, dst, extra, &dir));
    loop {
        let checked = std::fs::read_dir(&*dir)
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .is_ok_and(|e| e.file_name().to_string_lossy().starts_with("checked-"))
            })
            .count();
        let stopped = runs.iter_mut().any(|r| r.try_wait().unwrap().is_some());
        if checked == 2 || stopped {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    std::fs::write(dir.join("go"), b"").unwrap();
    runs.map(|r| r.wait_with_output().unwrap())
}

/// A table without a key: nothing but the run itself keeps a second copy of its rows out.
const EVENTS: &str = "CREATE TABLE events (id INT NOT NULL, email VARCHAR(255) NOT NULL);";

/// Rows of [`EVENTS`] in the source.
const EVENT_ROWS: u64 = 5_000;

/// Of two runs at once into one target, one loads it and the other refuses, saying why; with
/// `--truncate` as well: the target holds one copy.
pub fn two_runs_into_one_target_load_it_once<S: Server>() {
    let server = S::server();
    let src = Db::<S>::with_schema(&server, "b_twice", "src", EVENTS);
    let dst = Db::<S>::with_schema(&server, "b_twice", "dst", EVENTS);
    let rows: Vec<String> = (0..EVENT_ROWS)
        .map(|i| format!("({i}, '{}')", super::email(i)))
        .collect();
    src.exec(&format!("INSERT INTO events VALUES {}", rows.join(", ")));
    let config = "key_env = \"ANONYMISE_TEST_KEY\"\n[tables.events.columns]\nid = \"keep\"\nemail = \"email_pseudonym\"\n";
    let (_dir, config) = config_file::<S>("twice", config);
    let config = config.to_str().unwrap();
    for extra in [&[][..], &["--truncate"][..]] {
        let runs = two_runs_at_once("twice", config, &src, &dst, extra);
        let (done, refused): (Vec<&Output>, Vec<&Output>) =
            runs.iter().partition(|r| r.status.success());
        let shown: Vec<String> = runs.iter().map(text).collect();
        assert_eq!(
            dst.count("SELECT COUNT(*) FROM events"),
            EVENT_ROWS as i64,
            "{extra:?}: {shown:#?}"
        );
        assert_eq!((done.len(), refused.len()), (1, 1), "{extra:?}: {shown:#?}");
        assert_eq!(refused[0].status.code(), Some(2), "{shown:#?}");
        assert!(
            text(refused[0]).contains("another run is writing to this target"),
            "{extra:?}: {shown:#?}"
        );
    }
}

/// Two tables only a virtual key links, whose names would load the referencing one first.
const UNLINKED: &str = "
CREATE TABLE z_customers (id INT PRIMARY KEY, email VARCHAR(255) NOT NULL UNIQUE);
CREATE TABLE a_visits (id INT PRIMARY KEY, customer_email VARCHAR(255) NOT NULL);
";

/// A virtual key orders the load as a declared foreign key would: a target that declares the
/// key the source lacks takes the referenced table first, and the copy joins.
pub fn a_virtual_key_orders_the_load_as_a_foreign_key_would<S: Server>() {
    let server = S::server();
    let src = Db::<S>::with_schema(&server, "b_virtual", "src", UNLINKED);
    let dst = Db::<S>::with_schema(&server, "b_virtual", "dst", UNLINKED);
    dst.exec(
        "ALTER TABLE a_visits ADD FOREIGN KEY (customer_email) REFERENCES z_customers (email)",
    );
    src.exec(
        "INSERT INTO z_customers VALUES (1, 'ann.zorvak@example.org'), (2, 'bo.quilmebb@example.org');
         INSERT INTO a_visits VALUES (1, 'ann.zorvak@example.org'), (2, 'ann.zorvak@example.org'),
             (3, 'bo.quilmebb@example.org')",
    );
    let config = r#"
        [tables.z_customers.columns]
        id = "keep"
        email = "email_pseudonym"
        [tables.a_visits.columns]
        id = "keep"
        [[virtual_keys]]
        from = "a_visits.customer_email"
        to = "z_customers.email"
    "#;
    let summaries = run_lib(config, KEY.as_bytes(), &src, &dst).unwrap();
    let order: Vec<&str> = summaries.iter().map(|s| s.table.as_str()).collect();
    assert_eq!(order, ["z_customers", "a_visits"]);
    assert_eq!(
        dst.count(
            "SELECT COUNT(*) FROM a_visits v JOIN z_customers c ON c.email = v.customer_email"
        ),
        3
    );
}

/// A run stops when the target refuses a row of users, with a CHECK constraint, a unique index
/// or each of `refusals` (SQL that makes the target refuse them, and what the message must
/// name); its output names the table but holds none of the values, not even those the server's
/// message or detail would quote. The users' names are kept, and two users share one, so the
/// rows the target refuses hold original values.
pub fn a_row_the_target_refuses_is_named_without_its_values<S: Server>(
    refusals: &[(&str, &[&str])],
) {
    let server = S::server();
    let src = source::<S>(&server, "b_refused");
    let name = src.column("SELECT name FROM users WHERE id = 0")[0]
        .clone()
        .unwrap();
    // The made-up names are letters and spaces only.
    src.exec(&format!("UPDATE users SET name = '{name}' WHERE id = 1"));
    let keep_names = CONFIG.replace(
        r#"name = { rule = "fake", kind = "name" }"#,
        r#"name = "keep""#,
    );
    let (_dir, config) = config_file::<S>("refused", &keep_names);
    let common: [(&str, &[&str]); 2] = [
        (
            "ALTER TABLE users ADD CONSTRAINT b_short_names CHECK (CHAR_LENGTH(name) < 10)",
            &["b_short_names"],
        ),
        (
            "CREATE UNIQUE INDEX b_unique_names ON users (name)",
            &["b_unique_names"],
        ),
    ];
    // Every message is searched, in one pass (the search is built once: it is the slow part).
    let mut messages = String::new();
    for (sql, named) in common.iter().chain(refusals) {
        let dst = Db::new(&server, "b_refused", "dst");
        dst.exec(sql);
        let run = run_cli(config.to_str().unwrap(), &src, &dst, &[], Some(KEY));
        let message = text(&run);
        assert_eq!(run.status.code(), Some(2), "{sql}: {message}");
        assert!(message.contains("table `users`"), "{sql}: {message}");
        for name in *named {
            assert!(message.contains(name), "{sql}: {name}: {message}");
        }
        assert_empty(&dst, &TABLES);
        messages.push_str(&message);
        messages.push('\n');
    }
    if let Err(leak) = super::first_leak(originals(&src), messages.as_bytes()) {
        panic!("an original survived: {leak}, in\n{messages}");
    }
}

/// The source is read in one snapshot: a user, an order of theirs and an audit row naming them,
/// committed to the source once the run has copied `users` and before it reads the tables that
/// reference it, are in none of the copy's tables. Read each in a snapshot of its own, the
/// order and the audit row would be copied without their user (the target's foreign key would
/// refuse the order) or the counts would differ from the source's when the run started.
pub fn the_source_is_read_in_one_snapshot_whatever_commits_meanwhile<S: Server>() {
    let server = S::server();
    let src = source::<S>(&server, "e_snapshot");
    let dst = Db::new(&server, "e_snapshot", "dst");
    let counts = |db: &Db<S>| TABLES.map(|t| db.count(&format!("SELECT COUNT(*) FROM {t}")));
    let before = counts(&src);
    let mut committed = 0;
    // Called on the run's own thread, between two tables: the run waits for the commit.
    let mut between_tables = |p: &Progress| {
        if p.table == "users" && p.done {
            src.exec(&format!(
                "INSERT INTO users (id, email, name, gender) VALUES ({PEOPLE}, 'e.late@example.org', 'Late Comer', 'F');
                 INSERT INTO orders VALUES ({}, {PEOPLE}, 'e.late@example.org', 1.99);
                 INSERT INTO audit (id, actor_email, action) VALUES (1000001, 'e.late@example.org', 'login')",
                2 * PEOPLE
            ));
            committed += 1;
        }
    };
    let summaries = run_lib_with(
        CONFIG,
        KEY.as_bytes(),
        &src,
        &dst,
        &S::Options::default(),
        &mut between_tables,
    )
    .unwrap();
    assert_eq!(
        committed, 1,
        "the rows were committed while the run went on"
    );
    let order: Vec<&str> = summaries.iter().map(|s| s.table.as_str()).collect();
    assert_eq!(order, ["users", "audit", "orders"], "users read first");
    assert_eq!(
        counts(&src).map(|n| n - 1),
        before,
        "the source took the rows"
    );
    assert_eq!(
        counts(&dst),
        before,
        "the copy is the source as the run found it"
    );
    assert_eq!(
        dst.count(
            "SELECT COUNT(*) FROM orders o JOIN users u ON u.id = o.user_id AND u.email = o.user_email"
        ),
        before[1],
        "every order copied joins its user"
    );
}
