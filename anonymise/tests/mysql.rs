//! MariaDB/MySQL to MariaDB/MySQL end to end: nothing personal survives (not even hashed), joins
//! and unique columns survive, kept values of every type arrive exactly, tables load in
//! dependency order with the target's foreign keys checked, and a run that cannot finish leaves
//! the target as it was.
//!
//! The server is `ANONYMISE_TEST_MYSQL` (default `mysql://root@127.0.0.1:3306`). Without one the
//! tests say so and pass, except under `CI=true`, where they fail.

#![cfg(feature = "mysql")]

mod common;

use anonymise::mysql::{self as my, Options};
use anonymise::transform::TransformError;
use anonymise::{Config, DbError, Transformer};
use common::{
    assert_no_leak, cli, originals, person, run_cli, run_lib, text, write_config, Anonymise,
    Server, CONFIG, KEY, PEOPLE,
};
use mysql::prelude::Queryable;
use mysql::{Conn, Opts, Value};

const SCHEMA: &str = "
CREATE TABLE users (
    id BIGINT PRIMARY KEY,
    email VARCHAR(255) NOT NULL UNIQUE,
    name VARCHAR(255) NOT NULL,
    phone VARCHAR(64),
    address VARCHAR(255),
    postcode VARCHAR(16),
    birth_date DATE,
    gender VARCHAR(1) NOT NULL,
    national_id VARCHAR(64) UNIQUE,
    notes TEXT
) ENGINE = InnoDB;
CREATE TABLE orders (
    id BIGINT PRIMARY KEY,
    user_id BIGINT NOT NULL,
    user_email VARCHAR(255) NOT NULL,
    total DECIMAL(10, 2) NOT NULL,
    FOREIGN KEY (user_id) REFERENCES users (id),
    FOREIGN KEY (user_email) REFERENCES users (email)
) ENGINE = InnoDB;
CREATE TABLE audit (
    id BIGINT AUTO_INCREMENT PRIMARY KEY,
    actor_email VARCHAR(255),
    action VARCHAR(32) NOT NULL
) ENGINE = InnoDB;
";

/// Runs `sql`, one statement or several, failing on the first error (`query_drop` would not
/// report an error of a statement after the first).
fn run_all(conn: &mut impl Queryable, sql: &str) {
    let mut result = conn.query_iter(sql).unwrap();
    while let Some(set) = result.iter() {
        for row in set {
            row.unwrap();
        }
    }
}

/// The MariaDB/MySQL server of the tests.
struct MariaDb;

impl Server for MariaDb {
    const NAME: &'static str = "MariaDB/MySQL";
    const URL_ENV: &'static str = "ANONYMISE_TEST_MYSQL";
    const DEFAULT_URL: &'static str = "mysql://root@127.0.0.1:3306";
    type Options = Options;
    const ANONYMISE: Anonymise<Options> = my::anonymise;

    fn reach(url: &str) -> Result<(), String> {
        Conn::new(Opts::from_url(&format!("{url}/mysql")).unwrap())
            .map(drop)
            .map_err(|e| e.to_string())
    }

    fn create(server: &str, name: &str) {
        admin(server)
            .unwrap()
            .query_drop(format!(
                "DROP DATABASE IF EXISTS {name}; CREATE DATABASE {name} CHARACTER SET utf8mb4"
            ))
            .unwrap();
    }

    fn remove(server: &str, name: &str) {
        if let Ok(mut admin) = admin(server) {
            let _ = admin.query_drop(format!("DROP DATABASE IF EXISTS {name}"));
        }
    }

    fn column(url: &str, sql: &str) -> Vec<Option<String>> {
        connect(url).query(sql).unwrap()
    }

    fn as_text(column: &str) -> String {
        format!("CAST({column} AS CHAR)")
    }
}

/// The server's URL, if it answers (see [`Server::server`]).
fn server() -> Option<String> {
    MariaDb::server()
}

/// A connection to the server's own database, `mysql`.
fn admin(server: &str) -> Result<Conn, mysql::Error> {
    Opts::from_url(&format!("{server}/mysql"))
        .map_err(mysql::Error::from)
        .and_then(Conn::new)
}

fn connect(url: &str) -> Conn {
    Conn::new(Opts::from_url(url).unwrap()).unwrap()
}

/// A database of this test, dropped at the end.
type Db = common::Db<MariaDb>;

impl Db {
    /// A database with [`SCHEMA`]'s tables.
    fn new(server: &str, test: &str, role: &str) -> Self {
        Self::with_schema(server, test, role, SCHEMA)
    }

    fn with_schema(server: &str, test: &str, role: &str, schema: &str) -> Self {
        let db = Db::create(server, test, role);
        run_all(&mut db.conn(), schema);
        db
    }

    fn conn(&self) -> Conn {
        connect(&self.url())
    }

    fn exec(&self, sql: &str) {
        run_all(&mut self.conn(), sql);
    }

    fn count(&self, sql: &str) -> i64 {
        self.conn().query_first(sql).unwrap().unwrap()
    }

    /// Every table's every value, as the server sends them: what the copy holds.
    fn dump(&self) -> Vec<u8> {
        let mut conn = self.conn();
        let tables: Vec<String> = conn
            .query(
                "SELECT TABLE_NAME FROM information_schema.TABLES WHERE TABLE_SCHEMA = DATABASE()",
            )
            .unwrap();
        let mut bytes = Vec::new();
        for table in tables {
            for row in conn.query_iter(format!("SELECT * FROM `{table}`")).unwrap() {
                for value in row.unwrap().unwrap() {
                    if let Value::Bytes(b) = value {
                        bytes.extend_from_slice(&b);
                        bytes.push(b'\t');
                    }
                }
                bytes.push(b'\n');
            }
        }
        bytes
    }
}

/// A source holding `PEOPLE` people, twice as many orders, and audit rows naming them (the
/// first with key 0, which `AUTO_INCREMENT` takes for "the next one" unless told otherwise).
fn source(server: &str, test: &str) -> Db {
    let db = Db::new(server, test, "src");
    let mut conn = db.conn();
    conn.query_drop("SET SESSION sql_mode = CONCAT(@@sql_mode, ',NO_AUTO_VALUE_ON_ZERO')")
        .unwrap();
    let mut tx = conn.start_transaction(mysql::TxOpts::default()).unwrap();
    tx.exec_batch(
        "INSERT INTO users VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (0..PEOPLE).map(|i| {
            let p = person(i);
            let national_id = format!(
                "QZ{:06}{}",
                i * 37 % 1_000_000,
                ["A", "B", "C"][(i % 3) as usize]
            );
            let notes = format!("called {} about {}", p.name, p.address);
            let values: Vec<Value> = vec![
                i.into(),
                p.email.into(),
                p.name.into(),
                p.phone.into(),
                p.address.into(),
                p.postcode.into(),
                p.birth_date.into(),
                p.gender.into(),
                national_id.into(),
                notes.into(),
            ];
            values
        }),
    )
    .unwrap();
    run_all(
        &mut tx,
        &format!(
            "INSERT INTO orders
         SELECT o.o, u.id, u.email, (o.o % 500) + 0.99
         FROM (SELECT id + {PEOPLE} * k AS o FROM users
               CROSS JOIN (SELECT 0 AS k UNION ALL SELECT 1) AS two) AS o
         JOIN users u ON u.id = (o.o * 31) % {PEOPLE};
         INSERT INTO audit
         SELECT id, CASE WHEN id % 10 = 0 THEN NULL ELSE email END, 'login'
         FROM users WHERE id % 2 = 0"
        ),
    );
    tx.commit().unwrap();
    db
}

/// The error of a run that must fail, and its message; the target's tables are still empty.
fn failure(config: &str, src: &Db, dst: &Db) -> (DbError, String) {
    let error = run_lib(config, KEY.as_bytes(), src, dst).unwrap_err();
    assert_empty(dst, &["users", "orders", "audit"]);
    let message = error.to_string();
    (error, message)
}

fn assert_empty(db: &Db, tables: &[&str]) {
    for table in tables {
        assert_eq!(
            db.count(&format!("SELECT COUNT(*) FROM {table}")),
            0,
            "{table}"
        );
    }
}

#[test]
fn nothing_personal_survives_in_the_copy_its_logs_or_its_report() {
    let Some(server) = server() else { return };
    let src = source(&server, "leak");
    let dst = Db::new(&server, "leak", "dst");
    let (_dir, config) = write_config("my-leak", CONFIG);
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

#[test]
fn joins_counts_and_unique_columns_survive_and_the_same_key_gives_the_same_copy() {
    let Some(server) = server() else { return };
    let src = source(&server, "joins");
    // The pinned test vector, in a pseudonym column.
    src.exec("UPDATE users SET national_id = 'alice@example.com' WHERE id = 7");
    let (a, b) = (
        Db::new(&server, "joins", "a"),
        Db::new(&server, "joins", "b"),
    );
    let pinned = b"0123456789abcdef0123456789abcdef";
    let mut reports = Vec::new();
    let summaries = my::anonymise(
        &Config::parse(CONFIG).unwrap(),
        &Transformer::new(pinned).unwrap(),
        &src.url(),
        &a.url(),
        &Options::default(),
        &mut |p| reports.push(p.clone()),
    )
    .unwrap();
    // Dependency order: users before the tables that reference it, whatever their names (the
    // target's foreign keys are checked as rows go in).
    let order: Vec<&str> = summaries.iter().map(|s| s.table.as_str()).collect();
    assert_eq!(order, ["audit", "users", "orders"]);
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
        "SELECT CAST(SUM(total) * 100 AS SIGNED) FROM orders",
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
        a.column("SELECT CAST(birth_date AS CHAR) FROM users WHERE id = 1"),
        [Some("1941-01-01".to_owned())],
        "a date generalised to its year stays a date"
    );
    assert_eq!(
        a.count("SELECT COUNT(*) FROM audit WHERE id = 0"),
        1,
        "a copied key 0 stays 0"
    );
    // AUTO_INCREMENT continues after the copied keys.
    let mut conn = a.conn();
    conn.query_drop("INSERT INTO audit (action) VALUES ('next')")
        .unwrap();
    assert_eq!(conn.last_insert_id(), PEOPLE - 1);
    let all = "SELECT CONCAT(email, name, COALESCE(phone, ''), national_id) FROM users ORDER BY id";
    assert_eq!(a.column(all), b.column(all), "same key, same copy");
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
}

/// A table whose rows reference later rows of itself, and two tables that reference each other:
/// no order of rows satisfies their foreign keys one row at a time.
const CYCLES: &str = "
CREATE TABLE staff (
    id INT PRIMARY KEY,
    email VARCHAR(255) NOT NULL UNIQUE,
    manager_id INT,
    FOREIGN KEY (manager_id) REFERENCES staff (id)
) ENGINE = InnoDB;
CREATE TABLE teams (id INT PRIMARY KEY, lead_id INT) ENGINE = InnoDB;
CREATE TABLE members (
    id INT PRIMARY KEY,
    team_id INT NOT NULL,
    FOREIGN KEY (team_id) REFERENCES teams (id)
) ENGINE = InnoDB;
ALTER TABLE teams ADD FOREIGN KEY (lead_id) REFERENCES members (id);
";

#[test]
fn self_references_and_cycles_load_and_the_copys_foreign_keys_hold() {
    let Some(server) = server() else { return };
    let src = Db::with_schema(&server, "cycles", "src", CYCLES);
    let dst = Db::with_schema(&server, "cycles", "dst", CYCLES);
    src.exec(
        "SET SESSION foreign_key_checks = 0;
         INSERT INTO staff VALUES (1, 'ann.zorvak@example.org', 3), (2, 'bo.quilmebb@example.org', 3),
             (3, 'cy.travxun@example.org', NULL);
         INSERT INTO teams VALUES (1, 10), (2, 20);
         INSERT INTO members VALUES (10, 1), (20, 2), (30, 1);",
    );
    let config = r#"
        [tables.staff.columns]
        id = "keep"
        email = "email_pseudonym"
        manager_id = "keep"
        [tables.teams.columns]
        id = "keep"
        lead_id = "keep"
        [tables.members.columns]
        id = "keep"
        team_id = "keep"
    "#;
    let summaries = run_lib(config, KEY.as_bytes(), &src, &dst).unwrap();
    let order: Vec<&str> = summaries.iter().map(|s| s.table.as_str()).collect();
    assert_eq!(order, ["staff", "members", "teams"]);
    assert_eq!(
        dst.count("SELECT COUNT(*) FROM staff s JOIN staff m ON m.id = s.manager_id"),
        2
    );
    assert_eq!(
        dst.count(
            "SELECT COUNT(*) FROM teams t JOIN members m ON m.id = t.lead_id AND m.team_id = t.id"
        ),
        2
    );
    // The target's foreign keys are in force again for the application.
    let refused = dst
        .conn()
        .query_drop("INSERT INTO members VALUES (40, 9)")
        .unwrap_err();
    assert!(refused.to_string().contains("1452"), "{refused}");
}

#[test]
fn kept_values_of_every_type_arrive_exactly_and_binary_values_refuse_text_rules() {
    let Some(server) = server() else { return };
    let types = "
        CREATE TABLE kinds (
            id INT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
            big BIGINT UNSIGNED, small TINYINT, amount DECIMAL(30, 10), f FLOAT, d DOUBLE,
            day DATE, moment DATETIME(6), stamp TIMESTAMP(6) NULL, span TIME(6), y YEAR,
            bits BIT(5), fixed BINARY(4), bytes VARBINARY(16), blob_ BLOB,
            choice ENUM('a', 'b c'), flags SET('x', 'y', 'z'), doc JSON,
            padded CHAR(5), latin VARCHAR(20) CHARACTER SET latin1, spot POINT,
            label VARCHAR(40), doubled INT AS (id * 2) VIRTUAL
        ) ENGINE = InnoDB;
    ";
    let src = Db::with_schema(&server, "types", "src", types);
    let dst = Db::with_schema(&server, "types", "dst", types);
    src.exec(
        "SET SESSION time_zone = '+05:30';
         INSERT INTO kinds (big, small, amount, f, d, day, moment, stamp, span, y, bits, fixed,
                            bytes, blob_, choice, flags, doc, padded, latin, spot, label)
         VALUES (18446744073709551615, -128, 12345678901234567890.0123456789, 0.1, 0.1 + 0.2,
                 '0000-00-00', '2024-02-29 23:59:59.999999', '2024-03-31 01:30:00.5',
                 '-838:59:59.000000', 2155, b'10101', x'00ff0010', x'ff00', x'deadbeef00ff',
                 'b c', 'x,z', '{\"k\": [1, 2.5, \"é\"]}', 'ab', 'Zoë Ångström',
                 ST_GeomFromText('POINT(1.5 -2.25)'), 'Quilmebb Travxun'),
                (NULL, NULL, NULL, 3.40282e38, -1.7976931348623157e308, NULL, NULL, NULL,
                 NULL, NULL, NULL, NULL, '', '', NULL, '', NULL, '', '', NULL, NULL),
                (0, 0, -0.0000000001, 1.17549435e-38, 4.9e-324, '9999-12-31',
                 '1000-01-01 00:00:00', '1970-01-01 05:30:01', '00:00:00.000001', 1901,
                 b'0', x'00000000', x'00', x'00', 'a', 'x,y,z', 'null', 'é', '', NULL,
                 'Snoofip Glenhux');",
    );
    let config = r#"
        [tables.kinds.columns]
        id = "keep"
        big = "keep"
        small = "keep"
        amount = "keep"
        f = "keep"
        d = "keep"
        day = "keep"
        moment = "keep"
        stamp = "keep"
        span = "keep"
        y = "keep"
        bits = "keep"
        fixed = "keep"
        bytes = "keep"
        blob_ = "keep"
        choice = "keep"
        flags = "keep"
        doc = "keep"
        padded = "keep"
        latin = "keep"
        spot = "keep"
        label = "pseudonym"
    "#;
    let summaries = run_lib(config, KEY.as_bytes(), &src, &dst).unwrap();
    assert_eq!(summaries[0].rows, 3);
    let kept = "SELECT CONCAT_WS('|', id, big, small, amount, f, d,
                    day, moment, UNIX_TIMESTAMP(stamp), span, y, HEX(bits), HEX(fixed),
                    HEX(bytes), HEX(blob_), choice, flags, doc, HEX(padded), HEX(latin),
                    HEX(spot), doubled)
                FROM kinds ORDER BY id";
    let expected = src.column(kept);
    assert_eq!(dst.column(kept), expected);
    assert!(
        expected[0].as_deref().unwrap().contains("|0000-00-00|"),
        "{expected:?}"
    );
    assert_eq!(
        dst.count("SELECT COUNT(*) FROM kinds WHERE label LIKE 'Quilmebb%'"),
        0
    );
    // The same rows' checksum, as the server computes it.
    let checksum = |db: &Db| -> Vec<Option<String>> {
        let mut conn = db.conn();
        conn.query_map(
            "CHECKSUM TABLE kinds",
            |(_, sum): (String, Option<String>)| sum,
        )
        .unwrap()
    };
    src.exec("UPDATE kinds SET label = NULL");
    dst.exec("UPDATE kinds SET label = NULL");
    assert_eq!(
        checksum(&src),
        checksum(&dst),
        "kept columns, byte for byte"
    );

    // A text rule on a binary column: refused for the column, shown as a length only.
    let other = Db::with_schema(&server, "types", "other", types);
    let error = run_lib(
        &config.replace(
            r#"blob_ = "keep""#,
            r#"blob_ = { rule = "map", values = {}, default = "x" }"#,
        ),
        KEY.as_bytes(),
        &src,
        &other,
    )
    .unwrap_err();
    assert!(
        matches!(&error, DbError::Transform { table, row: 1, column, source }
            if table == "kinds" && column == "blob_"
                && **source == TransformError::NotText { bytes: 6 }),
        "{error}"
    );
    assert_empty(&other, &["kinds"]);
}

#[test]
fn an_unclassified_column_or_an_entry_for_a_dropped_one_writes_nothing() {
    let Some(server) = server() else { return };
    let src = source(&server, "closed");
    let dst = Db::new(&server, "closed", "dst");
    src.exec("ALTER TABLE users ADD COLUMN twitter TEXT, DROP COLUMN notes");
    dst.exec("ALTER TABLE users ADD COLUMN twitter TEXT");
    let (_dir, config) = write_config("my-closed", CONFIG);
    let run = run_cli(config.to_str().unwrap(), &src, &dst, &[], Some(KEY));
    assert_eq!(run.status.code(), Some(2), "{}", text(&run));
    let message = text(&run);
    assert!(
        message.contains("users.twitter") && message.contains("users.notes"),
        "{message}"
    );
    assert!(message.contains("nothing was written"), "{message}");
    assert_empty(&dst, &["users", "orders", "audit"]);
}

#[test]
fn a_missing_key_writes_nothing() {
    let Some(server) = server() else { return };
    let src = source(&server, "nokey");
    let dst = Db::new(&server, "nokey", "dst");
    let (_dir, config) = write_config("my-nokey", CONFIG);
    let run = run_cli(config.to_str().unwrap(), &src, &dst, &[], None);
    assert_eq!(run.status.code(), Some(2), "{}", text(&run));
    assert!(text(&run).contains("ANONYMISE_TEST_KEY"), "{}", text(&run));
    assert_empty(&dst, &["users", "orders", "audit"]);
}

/// Totals mapped, fail closed: the one unmapped total stops the run in its last table.
fn totals_mapped() -> String {
    let mut values = String::from("total = { rule = \"map\", values = { ");
    let totals: Vec<String> = (0..500).map(|t| format!("\"{t}.99\" = \"{t}\"")).collect();
    values.push_str(&totals.join(", "));
    values.push_str(" } }");
    CONFIG.replace("total = \"keep\"", &values)
}

#[test]
fn a_value_refused_in_the_last_table_leaves_the_earlier_tables_unwritten() {
    let Some(server) = server() else { return };
    let src = source(&server, "midway");
    let dst = Db::new(&server, "midway", "dst");
    src.exec("UPDATE orders SET total = 12345.67 ORDER BY id DESC LIMIT 1");
    let (error, message) = failure(&totals_mapped(), &src, &dst);
    assert!(
        matches!(&error, DbError::Transform { table, row, column, .. }
            if table == "orders" && *row == 2 * PEOPLE && column == "total"),
        "{message}"
    );
    assert!(!message.contains("12345"), "{message}");
}

#[test]
fn values_the_target_refuses_write_nothing_and_the_errors_show_no_value() {
    let Some(server) = server() else { return };
    let src = source(&server, "refused");
    // A unique index the source does not have: two orders' kept totals collide.
    let dup = Db::new(&server, "refused", "dup");
    dup.exec("CREATE UNIQUE INDEX one_total ON orders (total)");
    let (error, message) = failure(CONFIG, &src, &dup);
    assert!(
        matches!(&error, DbError::Database { table: Some(t), .. } if t == "orders"),
        "{message}"
    );
    assert!(
        message.contains("1062") && message.contains("one_total"),
        "{message}"
    );
    assert!(!message.contains(".99"), "{message}");

    // A column too narrow for a kept value.
    let narrow = Db::new(&server, "refused", "narrow");
    narrow.exec("ALTER TABLE audit MODIFY action VARCHAR(3) NOT NULL");
    let (_, message) = failure(CONFIG, &src, &narrow);
    assert!(
        message.contains("1406") && message.contains("column `action`"),
        "{message}"
    );
    assert!(!message.contains("login"), "{message}");
}

#[test]
fn a_target_that_holds_rows_is_refused_unless_truncate_is_asked() {
    let Some(server) = server() else { return };
    let src = source(&server, "occupied");
    let dst = Db::new(&server, "occupied", "dst");
    dst.exec("INSERT INTO audit VALUES (1, NULL, 'kept')");
    let (_dir, config) = write_config("my-occupied", CONFIG);
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
    let (_dir2, failing) = write_config("my-occupied-failing", &totals_mapped());
    src.exec("UPDATE orders SET total = 12345.67 ORDER BY id DESC LIMIT 1");
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

#[test]
fn a_target_without_the_sources_columns_or_that_cannot_roll_back_or_that_is_the_source_is_refused()
{
    let Some(server) = server() else { return };
    let src = source(&server, "unfit");
    let dst = Db::new(&server, "unfit", "dst");
    dst.exec("ALTER TABLE users DROP COLUMN national_id");
    let (_, message) = failure(CONFIG, &src, &dst);
    assert!(message.contains("users.national_id"), "{message}");

    let myisam = Db::new(&server, "unfit", "myisam");
    myisam.exec("ALTER TABLE audit ENGINE = MyISAM");
    let (error, message) = failure(CONFIG, &src, &myisam);
    assert!(
        matches!(&error, DbError::Refused(m) if m.contains("audit (MyISAM) cannot roll back")),
        "{message}"
    );

    let same = my::anonymise(
        &Config::parse(CONFIG).unwrap(),
        &Transformer::new(KEY.as_bytes()).unwrap(),
        &src.url(),
        &src.url(),
        &Options { truncate: true },
        &mut |_| {},
    )
    .unwrap_err();
    assert!(same.to_string().contains("the same database"), "{same}");
    assert_eq!(src.count("SELECT COUNT(*) FROM users"), PEOPLE as i64);
}

#[test]
fn plan_and_check_read_a_mariadb_source_and_show_no_value() {
    let Some(server) = server() else { return };
    let src = source(&server, "plan");
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
    let (_dir, path) = write_config("my-plan", &suggested);
    let check = cli(
        &["check", "--config", path.to_str().unwrap(), &src.url()],
        None,
    );
    assert!(check.status.success(), "{}", text(&check));
    assert!(text(&check).contains("3 tables"), "{}", text(&check));
    assert_no_leak(originals(&src), suggested.as_bytes());
}

/// A user of this test, with a password, dropped at the end.
struct User {
    server: String,
    name: String,
}

impl Drop for User {
    fn drop(&mut self) {
        if let Ok(mut admin) = admin(&self.server) {
            let _ = admin.query_drop(format!("DROP USER IF EXISTS '{}'@'%'", self.name));
        }
    }
}

#[test]
fn a_password_in_a_url_is_never_printed() {
    let Some(server) = server() else { return };
    let src = source(&server, "password");
    let dst = Db::new(&server, "password", "dst");
    const PASSWORD: &str = "Sekr1tPassw0rd";
    let user = User {
        server: server.clone(),
        name: format!("anon_pw_{}", std::process::id()),
    };
    src.exec(&format!(
        "CREATE USER '{0}'@'%' IDENTIFIED BY '{PASSWORD}';
         GRANT ALL ON `{1}`.* TO '{0}'@'%'; GRANT ALL ON `{2}`.* TO '{0}'@'%'",
        user.name, src.name, dst.name
    ));
    let opts = Opts::from_url(&server).unwrap();
    let url = |db: &Db, password: &str| {
        format!(
            "mysql://{}:{password}@{}:{}/{}",
            user.name,
            opts.get_ip_or_hostname(),
            opts.get_tcp_port(),
            db.name
        )
    };
    let (_dir, config) = write_config("my-password", CONFIG);
    let config = config.to_str().unwrap();
    let (from, to) = (url(&src, PASSWORD), url(&dst, PASSWORD));
    let run = cli(
        &["run", "--config", config, "--from", &from, "--to", &to],
        Some(KEY),
    );
    assert!(run.status.success(), "{}", text(&run));
    let summary = text(&run);
    assert!(summary.contains(":***@"), "{summary}");
    assert!(!summary.contains(PASSWORD), "{summary}");

    // A wrong password: refused by the server, and neither password is shown.
    let wrong = url(&src, "Wr0ngPassw0rd");
    for args in [
        vec!["plan", wrong.as_str()],
        vec!["run", "--config", config, "--from", &wrong, "--to", &to],
    ] {
        let out = cli(&args, Some(KEY));
        assert_eq!(out.status.code(), Some(2), "{}", text(&out));
        let message = text(&out);
        assert!(message.contains("1045"), "{message}");
        assert!(
            !message.contains("Wr0ngPassw0rd") && !message.contains(PASSWORD),
            "{message}"
        );
    }
}
