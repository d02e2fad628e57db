//! PostgreSQL to PostgreSQL end to end: nothing personal survives (not even hashed), joins and
//! unique columns survive, tables load in dependency order, and a run that cannot finish
//! leaves the target as it was.
//!
//! The server is `ANONYMISE_TEST_POSTGRES` (default `postgres://postgres@127.0.0.1:5432`).
//! A server that cannot be reached fails the tests: nothing is skipped.

#![cfg(feature = "postgres")]

mod common;

use anonymise::postgres::{self as pg, Options};
use anonymise::run::Side;
use anonymise::{Config, DbError, Transformer};
use common::postgresql::{admin, server, source, Db, Postgres};
use common::server::{self, run_lib, Server, CONFIG, PEOPLE};
use common::KEY;

// The tests both servers run alike (see `common::server`).
server::server_tests!(Postgres:
    nothing_personal_survives_in_the_copy_its_logs_or_its_report,
    joins_counts_and_unique_columns_survive_and_the_same_key_gives_the_same_copy,
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
    server::a_row_the_target_refuses_is_named_without_its_values::<Postgres>(&[
        // The server's message quotes the value, and its context the line.
        (
            "ALTER TABLE users ALTER COLUMN name TYPE bigint USING 0",
            &["SQLSTATE 22P02"],
        ),
        (
            "ALTER TABLE users ALTER COLUMN name TYPE varchar(5)",
            &["SQLSTATE 22001"],
        ),
    ]);
}

/// A duplicate the target's unique index refuses is named by SQLSTATE and index, without the
/// detail that quotes the key (`Key (total)=(0.99) already exists`); a value too long for its
/// column likewise. Nothing is written.
#[test]
fn values_the_target_refuses_write_nothing_and_the_errors_show_no_value() {
    let server = server();
    let src = source(&server, "e_refused");
    let dup = Db::new(&server, "e_refused", "dup");
    dup.exec("CREATE UNIQUE INDEX e_one_total ON orders (total)");
    let (error, message) = server::failure(CONFIG, &src, &dup);
    assert!(
        matches!(&error, DbError::Database { side: Side::Target, table: Some(t), .. } if t == "orders"),
        "{message}"
    );
    assert!(
        message.contains("SQLSTATE 23505") && message.contains("e_one_total"),
        "{message}"
    );
    for quoted in ["Key (", "=(", ".99"] {
        assert!(!message.contains(quoted), "{quoted}: {message}");
    }

    let narrow = Db::new(&server, "e_refused", "narrow");
    narrow.exec("ALTER TABLE audit ALTER COLUMN action TYPE varchar(3)");
    let (_, message) = server::failure(CONFIG, &src, &narrow);
    assert!(
        message.contains("SQLSTATE 22001") && message.contains("table `audit`"),
        "{message}"
    );
    assert!(!message.contains("login"), "{message}");
}

/// `url` with `password` as its user's password (the user `postgres` when it names none).
fn with_password(url: &str, password: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap();
    match rest.split_once('@') {
        Some((user, host)) => {
            let user = user.split(':').next().unwrap();
            format!("{scheme}://{user}:{password}@{host}")
        }
        None => format!("{scheme}://postgres:{password}@{rest}"),
    }
}

/// A password in a PostgreSQL URL is never printed: not when the server cannot be reached
/// (`plan`, `check`, `run`), not in the summary of a run that went through, which shows the
/// target as `user:***@`. (The tests' server takes any password.)
#[test]
fn a_password_in_a_url_is_never_printed() {
    const PASSWORD: &str = "Sekr1t";
    let closed = format!("postgres://postgres:{PASSWORD}@127.0.0.1:1/x");
    let (_dir, config) = common::write_config("pg-e-password", CONFIG);
    let config = config.to_str().unwrap();
    for args in [
        vec!["plan", closed.as_str()],
        vec!["check", "--config", config, closed.as_str()],
        vec![
            "run", "--config", config, "--from", &closed, "--to", &closed,
        ],
    ] {
        let out = common::cli(&args, Some(KEY));
        let message = common::text(&out);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {message}");
        assert!(!message.contains(PASSWORD), "{args:?}: {message}");
    }

    let server = server();
    let src = source(&server, "e_password");
    let dst = Db::new(&server, "e_password", "dst");
    let (from, to) = (
        with_password(&src.url(), PASSWORD),
        with_password(&dst.url(), PASSWORD),
    );
    let run = common::cli(
        &["run", "--config", config, "--from", &from, "--to", &to],
        Some(KEY),
    );
    let summary = common::text(&run);
    assert!(run.status.success(), "{summary}");
    assert!(summary.contains(":***@"), "{summary}");
    assert!(!summary.contains(PASSWORD), "{summary}");
    assert_eq!(dst.count("SELECT count(*) FROM users"), PEOPLE as i64);
}

/// `report` of a PostgreSQL copy exits 1 when a group of its quasi-identifiers is smaller than
/// `--k` (here one person born in 1900 is alone), 0 when none is.
#[test]
fn report_exits_1_below_k_and_0_at_it() {
    let server = server();
    let src = source(&server, "e_report");
    src.exec(&format!(
        "INSERT INTO users (id, email, name, postcode, birth_date, gender)
         VALUES ({PEOPLE}, 'e.alone@example.org', 'Alone Person', 'ZZ9 9ZZ', '1900-01-01', 'X')"
    ));
    let dst = Db::new(&server, "e_report", "dst");
    run_lib(CONFIG, KEY.as_bytes(), &src, &dst).unwrap();
    let (_dir, config) = common::write_config("pg-e-report", CONFIG);
    let report = |k: &str| {
        common::cli(
            &[
                "report",
                "--config",
                config.to_str().unwrap(),
                "--k",
                k,
                &dst.url(),
                "--table",
                "users",
            ],
            None,
        )
    };
    let below = report("2");
    assert_eq!(below.status.code(), Some(1), "{}", common::text(&below));
    assert!(
        String::from_utf8_lossy(&below.stdout).contains("2001"),
        "every row read: {}",
        common::text(&below)
    );
    let at = report("1");
    assert_eq!(at.status.code(), Some(0), "{}", common::text(&at));
}

/// The peak memory the summary of a run of `anonymise` reports, in MiB.
fn peak_memory_mib(run: &std::process::Output) -> f64 {
    let summary = String::from_utf8_lossy(&run.stdout);
    summary
        .split("peak memory ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|mib| mib.parse().ok())
        .unwrap_or_else(|| panic!("no peak memory in {}", common::text(run)))
}

/// Memory stays the same whatever a table's size: a run of ten times the rows (200,000 rows,
/// some 50 MB) peaks within a few MiB of the smaller run's.
#[test]
fn memory_stays_the_same_at_ten_times_the_rows() {
    const ROWS: u64 = 20_000;
    let server = server();
    let table =
        "CREATE TABLE e_rows (id bigint PRIMARY KEY, email text NOT NULL, note text NOT NULL);";
    let config = "key_env = \"ANONYMISE_TEST_KEY\"\n[tables.e_rows.columns]\nid = \"keep\"\nemail = \"email_pseudonym\"\nnote = \"keep\"\n";
    let (_dir, config) = common::write_config("pg-e-memory", config);
    let peaks = [ROWS, 10 * ROWS].map(|rows| {
        let src = Db::with_schema(&server, "e_memory", "src", table);
        let dst = Db::with_schema(&server, "e_memory", "dst", table);
        src.exec(&format!(
            "INSERT INTO e_rows SELECT i, 'zorvak' || i || '@quil.example', repeat(md5(i::text), 6)
             FROM generate_series(1, {rows}) i"
        ));
        let run = server::run_cli(config.to_str().unwrap(), &src, &dst, &[], Some(KEY));
        assert!(run.status.success(), "{}", common::text(&run));
        assert_eq!(dst.count("SELECT count(*) FROM e_rows"), rows as i64);
        peak_memory_mib(&run)
    });
    assert!(
        peaks[1] <= peaks[0] + 4.0,
        "{ROWS} rows peaked at {} MiB, {} rows at {} MiB",
        peaks[0],
        10 * ROWS,
        peaks[1]
    );
}

/// Orders partitioned by range whose foreign keys are declared on each partition, not on the
/// parent, as many schemas do; by name, they would load before the customers they reference.
/// One partition is attached with its columns in another order.
const KEYS_ON_PARTITIONS: &str = "
CREATE TABLE z_customers (id bigint PRIMARY KEY, email text NOT NULL UNIQUE);
CREATE TABLE a_orders (
    id bigint NOT NULL, customer_id bigint NOT NULL, customer_email text NOT NULL, day date NOT NULL
) PARTITION BY RANGE (day);
CREATE TABLE a_orders_2025 PARTITION OF a_orders (
    FOREIGN KEY (customer_id) REFERENCES z_customers (id),
    FOREIGN KEY (customer_email) REFERENCES z_customers (email)
) FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
CREATE TABLE a_orders_2026 PARTITION OF a_orders (
    FOREIGN KEY (customer_id) REFERENCES z_customers (id),
    FOREIGN KEY (customer_email) REFERENCES z_customers (email)
) FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
CREATE TABLE a_orders_old (
    day date NOT NULL,
    customer_email text NOT NULL REFERENCES z_customers (email),
    customer_id bigint NOT NULL REFERENCES z_customers (id),
    id bigint NOT NULL
);
ALTER TABLE a_orders ATTACH PARTITION a_orders_old FOR VALUES FROM ('2000-01-01') TO ('2025-01-01');
";

#[test]
fn foreign_keys_declared_on_partitions_are_their_parents() {
    let server = server();
    let src = Db::with_schema(&server, "b_partkeys", "src", KEYS_ON_PARTITIONS);
    let dst = Db::with_schema(&server, "b_partkeys", "dst", KEYS_ON_PARTITIONS);
    src.exec(
        "INSERT INTO z_customers SELECT i, 'zorvak' || i || '@quil.example' FROM generate_series(1, 100) i;
         INSERT INTO a_orders SELECT i, 1 + i % 100, 'zorvak' || (1 + i % 100) || '@quil.example',
             DATE '2024-06-01' + (i * 3)
         FROM generate_series(1, 300) i",
    );
    let mut client = src.client();
    let schema = pg::schema(&mut client, "public").unwrap();
    let names: Vec<&str> = schema.tables.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["z_customers", "a_orders"]);
    // The orders' email is left out of the config: it takes the customers' rule, as the
    // partitions' foreign key says.
    let config = r#"
        [tables.z_customers.columns]
        id = "keep"
        email = "email_pseudonym"
        [tables.a_orders.columns]
        id = "keep"
        customer_id = "keep"
        day = "keep"
    "#;
    let summaries = run_lib(config, KEY.as_bytes(), &src, &dst).unwrap();
    let order: Vec<&str> = summaries.iter().map(|s| s.table.as_str()).collect();
    assert_eq!(order, ["z_customers", "a_orders"]);
    for table in [
        "z_customers",
        "a_orders_old",
        "a_orders_2025",
        "a_orders_2026",
    ] {
        let sql = format!("SELECT count(*) FROM {table}");
        assert!(src.count(&sql) > 0, "{sql}");
        assert_eq!(dst.count(&sql), src.count(&sql), "{sql}");
    }
    assert_eq!(
        dst.count(
            "SELECT count(*) FROM a_orders o
             JOIN z_customers c ON c.id = o.customer_id AND c.email = o.customer_email
             WHERE c.email NOT LIKE '%quil.example'"
        ),
        300
    );
}

#[test]
fn a_target_without_the_sources_columns_is_refused() {
    let server = server();
    let src = source(&server, "unmigrated");
    server::a_target_without_the_sources_columns_is_refused::<Postgres>(
        &server,
        "unmigrated",
        &src,
    );
}

#[test]
fn plan_reads_the_schema_and_flags_personal_columns() {
    server::plan_and_check_read_the_source_and_show_no_value::<Postgres>();
}

#[test]
fn partitioned_tables_are_read_through_their_parent_and_written_back_to_their_partitions() {
    let server = server();
    let partitioned = "
        CREATE TABLE visits (id bigint NOT NULL, email text NOT NULL, day date NOT NULL)
            PARTITION BY RANGE (day);
        CREATE TABLE visits_2025 PARTITION OF visits FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
        CREATE TABLE visits_2026 PARTITION OF visits FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
    ";
    let src = source(&server, "parts");
    let dst = Db::new(&server, "parts", "dst");
    src.client().batch_execute(partitioned).unwrap();
    dst.client().batch_execute(partitioned).unwrap();
    src.client()
        .batch_execute(
            "INSERT INTO visits SELECT id, email, DATE '2025-06-01' + (id % 400)::int FROM users",
        )
        .unwrap();
    let config = format!(
        "{CONFIG}\n[tables.visits.columns]\nid = \"keep\"\nemail = \"email_pseudonym\"\nday = \"keep\"\n"
    );
    let summaries = run_lib(&config, KEY.as_bytes(), &src, &dst).unwrap();
    let visits = summaries.iter().find(|s| s.table == "visits").unwrap();
    assert_eq!(visits.rows, PEOPLE);
    assert!(
        summaries.iter().all(|s| !s.table.starts_with("visits_")),
        "partitions are not tables of their own here"
    );
    for sql in [
        "SELECT count(*) FROM visits_2025",
        "SELECT count(*) FROM visits_2026",
    ] {
        assert_eq!(dst.count(sql), src.count(sql), "{sql}");
    }
    assert_eq!(
        dst.count(
            "SELECT count(*) FROM visits v JOIN users u ON u.email = v.email AND u.id = v.id"
        ),
        PEOPLE as i64,
        "the visits' emails join the users' pseudonymised ones"
    );
}

#[test]
fn the_same_database_as_source_and_target_is_refused() {
    let server = server();
    let src = source(&server, "same");
    server::the_same_database_as_source_and_target_is_refused::<Postgres>(
        &src,
        &Options::default(),
    );
}

/// Waits until a session connected to `db` waits for a lock (as `pg_stat_activity` shows it):
/// what another session holds, not the clock, says when to go on.
fn wait_for_a_lock_wait(db: &Db) {
    let mut admin = admin(&db.server).unwrap();
    server::wait_for_a_lock_wait(&db.name, || {
        admin
            .query_one(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock'",
                &[&db.name],
            )
            .unwrap()
            .get(0)
    });
}

/// The run locks the source's tables before it takes its snapshot: a table rewritten (a new
/// file) while the run waits for it is copied whole, and rows committed meanwhile are in the
/// copy with what they reference.
#[test]
fn a_table_rewritten_while_the_run_waits_for_it_is_copied_whole() {
    let server = server();
    let src = source(&server, "rewrite");
    let dst = Db::new(&server, "rewrite", "dst");
    let mut other = src.client();
    other
        .batch_execute("BEGIN; LOCK TABLE orders IN ACCESS EXCLUSIVE MODE")
        .unwrap();
    let run = std::thread::spawn({
        let (src_url, dst_url) = (src.url(), dst.url());
        move || {
            pg::anonymise(
                &Config::parse(CONFIG).unwrap(),
                &Transformer::new(KEY.as_bytes()).unwrap(),
                &src_url,
                &dst_url,
                &Options::default(),
                &mut |_| {},
            )
        }
    });
    wait_for_a_lock_wait(&src);
    other
        .batch_execute(&format!(
            "ALTER TABLE orders ALTER COLUMN total TYPE numeric(10, 3);
             INSERT INTO users (id, email, name, gender) VALUES ({PEOPLE}, 'e.late@example.org', 'Late Comer', 'F');
             INSERT INTO orders VALUES ({}, {PEOPLE}, 'e.late@example.org', 1.99);
             COMMIT",
            2 * PEOPLE
        ))
        .unwrap();
    let summaries = run.join().unwrap().unwrap();
    let orders = summaries.iter().find(|s| s.table == "orders").unwrap();
    assert_eq!(
        orders.rows,
        PEOPLE * 2 + 1,
        "every row of the rewritten table"
    );
    for table in ["users", "orders", "audit"] {
        let sql = format!("SELECT count(*) FROM {table}");
        assert_eq!(dst.count(&sql), src.count(&sql), "{sql}");
    }
    assert_eq!(
        dst.count("SELECT count(*) FROM orders o JOIN users u ON u.id = o.user_id AND u.email = o.user_email"),
        (PEOPLE * 2 + 1) as i64
    );
}

#[test]
fn sequences_domains_arrays_and_partial_unique_indexes_are_read_as_they_are() {
    let server = server();
    let src = source(&server, "types");
    let dst = Db::new(&server, "types", "dst");
    let extra = "
        CREATE DOMAIN contact_email AS text CHECK (VALUE LIKE '%@%');
        CREATE SEQUENCE invoice_no_seq;
        CREATE TABLE invoices (
            no bigint PRIMARY KEY DEFAULT nextval('invoice_no_seq'),
            contact contact_email NOT NULL,
            tags text[],
            code text
        );
        CREATE UNIQUE INDEX invoices_live_code ON invoices (code) WHERE no > 0;
    ";
    src.client().batch_execute(extra).unwrap();
    dst.client().batch_execute(extra).unwrap();
    src.client()
        .batch_execute(
            "INSERT INTO invoices (contact, tags, code)
             SELECT email, ARRAY['vip'], 'C' || id FROM users WHERE id < 5",
        )
        .unwrap();
    let mut client = src.client();
    let schema = pg::schema(&mut client, "public").unwrap();
    let invoices = schema.tables.iter().find(|t| t.name == "invoices").unwrap();
    assert_eq!(
        invoices.columns[1].type_name.as_deref(),
        Some("text"),
        "a domain is its base type"
    );
    assert!(invoices.columns[1].takes_text());
    assert!(!invoices.columns[2].takes_text(), "an array takes no text");
    assert!(
        invoices.columns[3].unique,
        "a partial unique index keeps values distinct"
    );

    let with = |tags: &str, code: &str| {
        format!(
            "{CONFIG}\n[tables.invoices.columns]\nno = \"keep\"\ncontact = \"email_pseudonym\"\ntags = {tags}\ncode = {code}\n"
        )
    };
    let error = Config::parse(&with(
        "\"pseudonym\"",
        "{ rule = \"fake\", kind = \"name\" }",
    ))
    .unwrap()
    .check(&schema)
    .unwrap_err();
    let message = error.to_string();
    assert!(
        message.contains("invoices.tags: the column is text[]"),
        "{message}"
    );
    assert!(message.contains("invoices.code is unique"), "{message}");

    run_lib(
        &with("\"keep\"", "\"pseudonym\""),
        KEY.as_bytes(),
        &src,
        &dst,
    )
    .unwrap();
    assert_eq!(
        dst.count("INSERT INTO invoices (contact) VALUES ('x@y') RETURNING no"),
        6,
        "a sequence no column owns is set as the source's"
    );
}

/// `--truncate` into a target where a table of another schema, which the run does not copy,
/// references a copied one (TRUNCATE refuses to empty a referenced table alone): an empty
/// referencing table is emptied with the copy; one holding rows makes the run refuse, naming
/// it, and the target stays as it was.
#[test]
fn truncate_takes_empty_referencing_tables_of_other_schemas_along_and_refuses_full_ones() {
    let server = Postgres::server();
    let src = server::source::<Postgres>(&server, "trunc_other");
    let dst = server::Db::<Postgres>::new(&server, "trunc_other", "dst");
    dst.exec(
        "CREATE SCHEMA billing;
         CREATE TABLE billing.invoices (id int PRIMARY KEY, user_id bigint REFERENCES users (id))",
    );
    let (_dir, config) = common::write_config("pg-trunc-other", CONFIG);
    let config = config.to_str().unwrap();
    for attempt in ["first", "again, truncating"] {
        let extra: &[&str] = if attempt == "first" {
            &[]
        } else {
            &["--truncate"]
        };
        let run = server::run_cli(config, &src, &dst, extra, Some(KEY));
        assert!(run.status.success(), "{attempt}: {}", common::text(&run));
        assert_eq!(dst.count("SELECT COUNT(*) FROM users"), PEOPLE as i64);
    }
    dst.exec("INSERT INTO billing.invoices SELECT 1, min(id) FROM users");
    let run = server::run_cli(config, &src, &dst, &["--truncate"], Some(KEY));
    let said = common::text(&run);
    assert_eq!(run.status.code(), Some(2), "{said}");
    assert!(
        said.contains("`billing.invoices`") && said.contains("`users`"),
        "{said}"
    );
    assert_eq!(dst.count("SELECT COUNT(*) FROM billing.invoices"), 1);
    assert_eq!(dst.count("SELECT COUNT(*) FROM users"), PEOPLE as i64);
}
