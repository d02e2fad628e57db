//! MariaDB/MySQL to MariaDB/MySQL end to end: nothing personal survives (not even hashed), joins
//! and unique columns survive, kept values of every type arrive exactly, tables load in
//! dependency order with the target's foreign keys checked, and a run that cannot finish leaves
//! the target as it was.
//!
//! The server is `ANONYMISE_TEST_MYSQL` (default `mysql://root@127.0.0.1:3306`). A server that
//! cannot be reached fails the tests: nothing is skipped.

#![cfg(feature = "mysql")]

mod common;

use anonymise::mysql::{self as my, Options};
use anonymise::DbError;
use common::mariadb::{admin, server, source, Db, MariaDb};
use common::server::{self, assert_empty, failure, run_lib, CONFIG, PEOPLE};
use common::{cli, text, write_config, KEY};
use mysql::prelude::Queryable;
use mysql::Opts;

// The tests both servers run alike (see `common::server`).
server::server_tests!(MariaDb:
    nothing_personal_survives_in_the_copy_its_logs_or_its_report,
    an_unclassified_column_or_an_entry_for_a_dropped_one_writes_nothing,
    a_missing_key_writes_nothing,
    a_value_refused_in_the_last_table_leaves_the_earlier_tables_unwritten,
    a_target_that_holds_rows_is_refused_unless_truncate_is_asked,
    two_runs_into_one_target_load_it_once,
    a_virtual_key_orders_the_load_as_a_foreign_key_would,
    the_source_is_read_in_one_snapshot_whatever_commits_meanwhile,
);

#[test]
fn a_row_the_target_refuses_is_named_without_its_values() {
    server::a_row_the_target_refuses_is_named_without_its_values::<MariaDb>(&[
        // The server's message quotes the value.
        ("ALTER TABLE users MODIFY name BIGINT NOT NULL", &["1366"]),
        (
            "ALTER TABLE users MODIFY name VARCHAR(5) NOT NULL",
            &["1406"],
        ),
    ]);
}

#[test]
fn joins_counts_and_unique_columns_survive_and_the_same_key_gives_the_same_copy() {
    let Some((src, copy)) =
        server::joins_counts_and_unique_columns_survive_and_the_same_key_gives_the_same_copy::<
            MariaDb,
        >()
    else {
        return;
    };
    let total = "SELECT CAST(SUM(total) * 100 AS SIGNED) FROM orders";
    assert_eq!(copy.count(total), src.count(total), "{total}");
    assert_eq!(
        copy.count("SELECT COUNT(*) FROM audit WHERE id = 0"),
        1,
        "a copied key 0 stays 0"
    );
    // AUTO_INCREMENT continues after the copied keys.
    let mut conn = copy.conn();
    conn.query_drop("INSERT INTO audit (action) VALUES ('next')")
        .unwrap();
    assert_eq!(conn.last_insert_id(), PEOPLE - 1);
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
    let server = server();
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
    let server = server();
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

    // A rule that reads text on a binary column: refused by the check, for the column, before
    // anything is read.
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
        matches!(&error, DbError::Config(e) if e.invalid.iter().any(|p| {
            p.starts_with("kinds.blob_: ") && p.contains("only keep and null apply to binary values")
        })),
        "{error}"
    );
    assert_empty(&other, &["kinds"]);
}

#[test]
fn values_the_target_refuses_write_nothing_and_the_errors_show_no_value() {
    let server = server();
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
fn a_target_without_the_sources_columns_or_that_cannot_roll_back_or_that_is_the_source_is_refused()
{
    let server = server();
    let src = source(&server, "unfit");
    server::a_target_without_the_sources_columns_is_refused(&server, "unfit", &src);

    let myisam = Db::new(&server, "unfit", "myisam");
    myisam.exec("ALTER TABLE audit ENGINE = MyISAM");
    let (error, message) = failure(CONFIG, &src, &myisam);
    assert!(
        matches!(&error, DbError::Refused(m) if m.contains("audit (MyISAM) cannot roll back")),
        "{message}"
    );

    server::the_same_database_as_source_and_target_is_refused(&src, &Options { truncate: true });
}

#[test]
fn plan_and_check_read_a_mariadb_source_and_show_no_value() {
    server::plan_and_check_read_the_source_and_show_no_value::<MariaDb>();
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
    let server = server();
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

/// Two tables the source does not link, and a target that declares the link.
const UNCHECKED: &str = "
CREATE TABLE a_parents (id INT PRIMARY KEY) ENGINE = InnoDB;
CREATE TABLE b_children (id INT PRIMARY KEY, parent_id INT NOT NULL) ENGINE = InnoDB;
";

/// Without a cycle, the target's foreign keys are checked as rows go in: a row of the source
/// that references nothing stops the run (writing nothing), named by the constraint the
/// target declares, which it would not be had the run turned the checks off.
#[test]
fn foreign_key_checks_stay_on_outside_cycles() {
    let server = server();
    let src = Db::with_schema(&server, "e_fkon", "src", UNCHECKED);
    let dst = Db::with_schema(&server, "e_fkon", "dst", UNCHECKED);
    dst.exec(
        "ALTER TABLE b_children ADD CONSTRAINT e_child_parent
         FOREIGN KEY (parent_id) REFERENCES a_parents (id)",
    );
    src.exec("INSERT INTO a_parents VALUES (1), (2); INSERT INTO b_children VALUES (1, 1), (2, 9)");
    let config = r#"
        [tables.a_parents.columns]
        id = "keep"
        [tables.b_children.columns]
        id = "keep"
        parent_id = "keep"
    "#;
    let error = run_lib(config, KEY.as_bytes(), &src, &dst).unwrap_err();
    let message = error.to_string();
    assert!(
        matches!(&error, DbError::Database { table: Some(t), .. } if t == "b_children"),
        "{message}"
    );
    assert!(
        message.contains("1452") && message.contains("e_child_parent"),
        "{message}"
    );
    assert_empty(&dst, &["a_parents", "b_children"]);
    // Without the orphan the same run goes through.
    src.exec("DELETE FROM b_children WHERE id = 2");
    run_lib(config, KEY.as_bytes(), &src, &dst).unwrap();
    assert_eq!(dst.count("SELECT COUNT(*) FROM b_children"), 1);
}

/// Rows of 8 KiB each, and (in the target) a log a trigger writes of the statement each row
/// came in: the run session's count of prepared statements executed so far, which a
/// statement's rows share.
const WIDE: &str = "CREATE TABLE e_wide (id INT PRIMARY KEY, body TEXT NOT NULL) ENGINE = InnoDB;";

/// 1,000 rows of 8 KiB (8 MB) go in several `INSERT`s, none past 4 MiB by more than the row
/// that reached it (a target's `max_allowed_packet` is 16 MiB by default on MariaDB).
#[test]
fn rows_go_in_statements_of_at_most_4_mib() {
    let server = server();
    let src = Db::with_schema(&server, "e_wide", "src", WIDE);
    let dst = Db::with_schema(&server, "e_wide", "dst", WIDE);
    dst.exec(
        "CREATE TABLE e_statements (id INT PRIMARY KEY, statement BIGINT NOT NULL, bytes INT NOT NULL) ENGINE = InnoDB;
         CREATE TRIGGER e_log BEFORE INSERT ON e_wide FOR EACH ROW
             INSERT INTO e_statements VALUES (NEW.id,
                 (SELECT VARIABLE_VALUE FROM information_schema.SESSION_STATUS
                  WHERE VARIABLE_NAME = 'COM_STMT_EXECUTE'),
                 LENGTH(NEW.id) + LENGTH(NEW.body))",
    );
    const ROWS: i64 = 1_000;
    const BODY: usize = 8 << 10;
    src.exec(&format!(
        "INSERT INTO e_wide WITH RECURSIVE n (i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {ROWS})
         SELECT i, REPEAT(CHAR(65 + i % 26), {BODY}) FROM n"
    ));
    let config = "[tables.e_wide.columns]\nid = \"keep\"\nbody = \"keep\"\n";
    run_lib(config, KEY.as_bytes(), &src, &dst).unwrap();
    assert_eq!(dst.count("SELECT COUNT(*) FROM e_wide"), ROWS);
    let statements: Vec<(i64, i64, i64)> = dst
        .conn()
        .query(
            "SELECT statement, COUNT(*), CAST(SUM(bytes) AS SIGNED) FROM e_statements
             GROUP BY statement ORDER BY statement",
        )
        .unwrap();
    assert_eq!(
        statements.iter().map(|s| s.1).sum::<i64>(),
        ROWS,
        "{statements:?}"
    );
    assert!(statements.len() >= 2, "{statements:?}");
    // A statement is sent once its values reach 4 MiB: the row that reaches it is its last.
    let row = (BODY + 4) as i64;
    for &(_, rows, bytes) in &statements {
        assert!(rows <= my::MAX_BATCH_ROWS as i64, "{statements:?}");
        assert!(
            bytes <= (4 << 20) + row,
            "{bytes} bytes in one statement: {statements:?}"
        );
    }
}

/// Waits until a session using `db` waits for a table's metadata lock (as the process list
/// shows it): what another session holds, not the clock, says when to go on.
fn wait_for_a_lock_wait(db: &Db) {
    let mut admin = admin(&db.server).unwrap();
    server::wait_for_a_lock_wait(&db.name, || {
        let waiting: Option<i64> = admin
            .exec_first(
                "SELECT COUNT(*) FROM information_schema.PROCESSLIST
                 WHERE DB = ? AND STATE = 'Waiting for table metadata lock'",
                (&db.name,),
            )
            .unwrap();
        waiting.unwrap_or(0)
    });
}

/// A run that waits for a table another session holds (`LOCK TABLES orders WRITE`), after its
/// snapshot was taken and the tables before it were read, copies the table as the snapshot
/// holds it: an order committed during the wait is not copied.
#[test]
fn a_table_the_run_waits_for_is_read_in_the_runs_snapshot() {
    let server = server();
    let src = source(&server, "e_waits");
    let dst = Db::new(&server, "e_waits", "dst");
    let email = src.column("SELECT email FROM users WHERE id = 1")[0]
        .clone()
        .unwrap();
    let mut locker = src.conn();
    locker.query_drop("LOCK TABLES orders WRITE").unwrap();
    let run = std::thread::spawn({
        let (src_url, dst_url) = (src.url(), dst.url());
        move || {
            my::anonymise(
                &anonymise::Config::parse(CONFIG).unwrap(),
                &anonymise::Transformer::new(KEY.as_bytes()).unwrap(),
                &src_url,
                &dst_url,
                &Options::default(),
                &mut |_| {},
            )
        }
    });
    wait_for_a_lock_wait(&src);
    // An order of an existing user, by the session that holds the table (a new user would
    // wait for it too: the server locks a parent's children for the foreign keys' sake).
    locker
        .query_drop(format!(
            "INSERT INTO orders VALUES ({}, 1, '{email}', 1.99)",
            2 * PEOPLE
        ))
        .unwrap();
    locker.query_drop("UNLOCK TABLES").unwrap();
    let summaries = run.join().unwrap().unwrap();
    let order: Vec<&str> = summaries.iter().map(|s| s.table.as_str()).collect();
    assert_eq!(order, ["users", "audit", "orders"]);
    assert_eq!(
        src.count("SELECT COUNT(*) FROM orders"),
        2 * PEOPLE as i64 + 1
    );
    assert_eq!(
        dst.count("SELECT COUNT(*) FROM orders"),
        2 * PEOPLE as i64,
        "the orders as the run's snapshot holds them"
    );
}
