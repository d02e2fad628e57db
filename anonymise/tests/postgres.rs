//! PostgreSQL to PostgreSQL end to end: nothing personal survives (not even hashed), joins and
//! unique columns survive, tables load in dependency order, and a run that cannot finish
//! leaves the target as it was.
//!
//! The server is `ANONYMISE_TEST_POSTGRES` (default `postgres://postgres@127.0.0.1:5432`).
//! Without one the tests say so and pass, except under `CI=true`, where they fail.

#![cfg(feature = "postgres")]

mod common;

use anonymise::postgres::{self as pg, Options};
use anonymise::{Config, DbError, Transformer};
use common::{
    assert_no_leak, cli, originals, person, run_cli, run_lib, text, write_config, Anonymise,
    Server, CONFIG, KEY, PEOPLE,
};
use postgres::{Client, NoTls};

const SCHEMA: &str = "
CREATE TABLE users (
    id bigint PRIMARY KEY,
    email text NOT NULL UNIQUE,
    name text NOT NULL,
    phone text,
    address text,
    postcode text,
    birth_date date,
    gender text NOT NULL,
    national_id text UNIQUE,
    notes text
);
CREATE TABLE orders (
    id bigint PRIMARY KEY,
    user_id bigint NOT NULL REFERENCES users (id),
    user_email text NOT NULL REFERENCES users (email),
    total numeric(10, 2) NOT NULL
);
CREATE TABLE audit (
    id bigserial PRIMARY KEY,
    actor_email text,
    action text NOT NULL
);
";

/// The PostgreSQL server of the tests.
struct Postgres;

impl Server for Postgres {
    const NAME: &'static str = "PostgreSQL";
    const URL_ENV: &'static str = "ANONYMISE_TEST_POSTGRES";
    const DEFAULT_URL: &'static str = "postgres://postgres@127.0.0.1:5432";
    type Options = Options;
    const ANONYMISE: Anonymise<Options> = pg::anonymise;

    fn reach(url: &str) -> Result<(), String> {
        admin(url).map(drop).map_err(|e| e.to_string())
    }

    fn create(server: &str, name: &str) {
        let mut admin = admin(server).unwrap();
        admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .unwrap();
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .unwrap();
    }

    fn remove(server: &str, name: &str) {
        if let Ok(mut admin) = admin(server) {
            let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        }
    }

    fn column(url: &str, sql: &str) -> Vec<Option<String>> {
        connect(url)
            .query(sql, &[])
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect()
    }

    fn as_text(column: &str) -> String {
        format!("{column}::text")
    }
}

/// The server's URL, if it answers (see [`Server::server`]).
fn server() -> Option<String> {
    Postgres::server()
}

/// A connection to the server's own database, `postgres`.
fn admin(server: &str) -> Result<Client, postgres::Error> {
    Client::connect(&format!("{server}/postgres"), NoTls)
}

fn connect(url: &str) -> Client {
    Client::connect(url, NoTls).unwrap()
}

/// A database of this test, with [`SCHEMA`]'s tables, dropped at the end.
type Db = common::Db<Postgres>;

impl Db {
    fn new(server: &str, test: &str, role: &str) -> Self {
        let db = Db::create(server, test, role);
        db.client().batch_execute(SCHEMA).unwrap();
        db
    }

    fn client(&self) -> Client {
        connect(&self.url())
    }

    fn count(&self, sql: &str) -> i64 {
        self.client().query_one(sql, &[]).unwrap().get(0)
    }

    /// Every table as `COPY` text: what the copy holds, byte for byte.
    fn dump(&self) -> Vec<u8> {
        use std::io::Read;
        let mut client = self.client();
        let mut bytes = Vec::new();
        for table in ["users", "orders", "audit"] {
            client
                .copy_out(format!("COPY {table} TO STDOUT").as_str())
                .unwrap()
                .read_to_end(&mut bytes)
                .unwrap();
        }
        bytes
    }
}

/// A source holding `PEOPLE` people, twice as many orders, and audit rows naming them.
fn source(server: &str, test: &str) -> Db {
    let db = Db::new(server, test, "src");
    let mut client = db.client();
    let mut tx = client.transaction().unwrap();
    for i in 0..PEOPLE {
        let p = person(i);
        tx.execute(
            "INSERT INTO users VALUES ($1, $2, $3, $4, $5, $6, $7::text::date, $8, $9, $10)",
            &[
                &(i as i64),
                &p.email,
                &p.name,
                &p.phone,
                &p.address,
                &p.postcode,
                &p.birth_date,
                &p.gender,
                &format!(
                    "QZ{:06}{}",
                    i * 37 % 1_000_000,
                    ["A", "B", "C"][(i % 3) as usize]
                ),
                &format!("called {} about {}", p.name, p.address),
            ],
        )
        .unwrap();
    }
    tx.batch_execute(&format!(
        "INSERT INTO orders SELECT o, u.id, u.email, (o % 500) + 0.99
         FROM generate_series(0, {}) AS o JOIN users u ON u.id = (o * 31) % {PEOPLE};
         INSERT INTO audit SELECT u.id, CASE WHEN u.id % 10 = 0 THEN NULL ELSE u.email END, 'login'
         FROM users u WHERE u.id % 2 = 0",
        PEOPLE * 2 - 1
    ))
    .unwrap();
    tx.commit().unwrap();
    db
}

#[test]
fn nothing_personal_survives_in_the_copy_its_logs_or_its_report() {
    let Some(server) = server() else { return };
    let src = source(&server, "leak");
    let dst = Db::new(&server, "leak", "dst");
    let (_dir, config) = write_config("pg-leak", CONFIG);
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
    src.client()
        .execute(
            "UPDATE users SET national_id = 'alice@example.com' WHERE id = 7",
            &[],
        )
        .unwrap();
    let (a, b) = (
        Db::new(&server, "joins", "a"),
        Db::new(&server, "joins", "b"),
    );
    let pinned = b"0123456789abcdef0123456789abcdef";
    let summaries = run_lib(CONFIG, pinned, &src, &a).unwrap();
    // Dependency order: users before the tables that reference it, whatever their names.
    let order: Vec<&str> = summaries.iter().map(|s| s.table.as_str()).collect();
    assert_eq!(order, ["audit", "users", "orders"]);
    run_lib(CONFIG, pinned, &src, &b).unwrap();

    for sql in [
        "SELECT count(*) FROM users",
        "SELECT count(*) FROM orders",
        "SELECT count(*) FROM audit",
        "SELECT count(*) FROM orders o JOIN users u ON u.id = o.user_id",
        "SELECT count(*) FROM orders o JOIN users u ON u.email = o.user_email AND u.id = o.user_id",
        "SELECT count(*) FROM audit a JOIN users u ON u.email = a.actor_email AND u.id = a.id",
        "SELECT count(DISTINCT email) FROM users",
        "SELECT count(DISTINCT national_id) FROM users",
    ] {
        assert_eq!(a.count(sql), src.count(sql), "{sql}");
    }
    assert_eq!(
        a.count("SELECT count(*) FROM users WHERE notes IS NULL"),
        PEOPLE as i64
    );
    assert_eq!(
        a.column("SELECT national_id FROM users WHERE id = 7"),
        [Some("o3prswyu57qbfdzez7uwmpdgty".to_owned())]
    );
    assert_eq!(
        a.column("SELECT birth_date::text FROM users WHERE id = 1"),
        [Some("1941-01-01".to_owned())],
        "a date generalised to its year stays a date"
    );
    let all = "SELECT email || name || coalesce(phone, '') || national_id FROM users ORDER BY id";
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

#[test]
fn an_unclassified_column_or_an_entry_for_a_dropped_one_writes_nothing() {
    let Some(server) = server() else { return };
    let src = source(&server, "closed");
    let dst = Db::new(&server, "closed", "dst");
    src.client()
        .batch_execute(
            "ALTER TABLE users ADD COLUMN twitter text; ALTER TABLE users DROP COLUMN notes",
        )
        .unwrap();
    dst.client()
        .batch_execute("ALTER TABLE users ADD COLUMN twitter text")
        .unwrap();
    let (_dir, config) = write_config("pg-closed", CONFIG);
    let run = run_cli(config.to_str().unwrap(), &src, &dst, &[], Some(KEY));
    assert_eq!(run.status.code(), Some(2), "{}", text(&run));
    let message = text(&run);
    assert!(
        message.contains("users.twitter") && message.contains("users.notes"),
        "{message}"
    );
    assert!(message.contains("nothing was written"), "{message}");
    assert_eq!(dst.count("SELECT count(*) FROM users"), 0);
}

#[test]
fn a_missing_key_writes_nothing() {
    let Some(server) = server() else { return };
    let src = source(&server, "nokey");
    let dst = Db::new(&server, "nokey", "dst");
    let (_dir, config) = write_config("pg-nokey", CONFIG);
    let run = run_cli(config.to_str().unwrap(), &src, &dst, &[], None);
    assert_eq!(run.status.code(), Some(2), "{}", text(&run));
    assert!(text(&run).contains("ANONYMISE_TEST_KEY"), "{}", text(&run));
    assert_eq!(dst.count("SELECT count(*) FROM users"), 0);
}

#[test]
fn a_value_refused_in_the_last_table_leaves_the_earlier_tables_unwritten() {
    let Some(server) = server() else { return };
    let src = source(&server, "midway");
    let dst = Db::new(&server, "midway", "dst");
    src.client()
        .execute(
            "UPDATE orders SET total = 12345.67 WHERE id = (SELECT max(id) FROM orders)",
            &[],
        )
        .unwrap();
    // Totals mapped, fail closed: the one unmapped total stops the run after users went in.
    let mut values = String::from("total = { rule = \"map\", values = { ");
    let totals: Vec<String> = (0..500).map(|t| format!("\"{t}.99\" = \"{t}\"")).collect();
    values.push_str(&totals.join(", "));
    values.push_str(" } }");
    let config = CONFIG.replace("total = \"keep\"", &values);
    let error = run_lib(&config, KEY.as_bytes(), &src, &dst).unwrap_err();
    let message = error.to_string();
    assert!(
        matches!(&error, DbError::Transform { table, row, column, .. }
            if table == "orders" && *row >= 1 && column == "total"),
        "{message}"
    );
    assert!(!message.contains("12345"), "{message}");
    for table in ["users", "orders", "audit"] {
        assert_eq!(
            dst.count(&format!("SELECT count(*) FROM {table}")),
            0,
            "{table}"
        );
    }
}

#[test]
fn a_target_that_holds_rows_is_refused_unless_truncate_is_asked() {
    let Some(server) = server() else { return };
    let src = source(&server, "occupied");
    let dst = Db::new(&server, "occupied", "dst");
    dst.client()
        .execute("INSERT INTO audit VALUES (1, NULL, 'kept')", &[])
        .unwrap();
    let (_dir, config) = write_config("pg-occupied", CONFIG);
    let config = config.to_str().unwrap();
    let run = run_cli(config, &src, &dst, &[], Some(KEY));
    assert_eq!(run.status.code(), Some(2), "{}", text(&run));
    assert!(
        text(&run).contains("audit already hold rows"),
        "{}",
        text(&run)
    );
    assert_eq!(
        dst.count("SELECT count(*) FROM audit WHERE action = 'kept'"),
        1
    );
    assert_eq!(dst.count("SELECT count(*) FROM users"), 0);

    let run = run_cli(config, &src, &dst, &["--truncate"], Some(KEY));
    assert!(run.status.success(), "{}", text(&run));
    assert_eq!(
        dst.count("SELECT count(*) FROM audit WHERE action = 'kept'"),
        0
    );
    assert_eq!(dst.count("SELECT count(*) FROM users"), PEOPLE as i64);
}

#[test]
fn a_target_without_the_sources_columns_is_refused() {
    let Some(server) = server() else { return };
    let src = source(&server, "unmigrated");
    let dst = Db::new(&server, "unmigrated", "dst");
    dst.client()
        .batch_execute("ALTER TABLE users DROP COLUMN national_id")
        .unwrap();
    let error = run_lib(CONFIG, KEY.as_bytes(), &src, &dst).unwrap_err();
    assert!(error.to_string().contains("users.national_id"), "{error}");
}

#[test]
fn plan_reads_the_schema_and_flags_personal_columns() {
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
    let (_dir, path) = write_config("pg-plan", &suggested);
    let check = cli(
        &["check", "--config", path.to_str().unwrap(), &src.url()],
        None,
    );
    assert!(check.status.success(), "{}", text(&check));
    assert_no_leak(originals(&src), suggested.as_bytes());
}

#[test]
fn partitioned_tables_are_read_through_their_parent_and_written_back_to_their_partitions() {
    let Some(server) = server() else { return };
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
    let Some(server) = server() else { return };
    let src = source(&server, "same");
    let error = run_lib(CONFIG, KEY.as_bytes(), &src, &src).unwrap_err();
    assert!(error.to_string().contains("the same database"), "{error}");
    assert_eq!(src.count("SELECT count(*) FROM users"), PEOPLE as i64);
}

#[test]
fn a_table_rewritten_while_the_run_waits_for_it_is_copied_whole() {
    let Some(server) = server() else { return };
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
    // The run waits for the lock; the table is rewritten (a new file) and committed meanwhile.
    std::thread::sleep(std::time::Duration::from_millis(1500));
    other
        .batch_execute("ALTER TABLE orders ALTER COLUMN total TYPE numeric(10, 3); COMMIT")
        .unwrap();
    let summaries = run.join().unwrap().unwrap();
    let orders = summaries.iter().find(|s| s.table == "orders").unwrap();
    assert_eq!(orders.rows, PEOPLE * 2, "every row of the rewritten table");
    assert_eq!(
        dst.count("SELECT count(*) FROM orders"),
        (PEOPLE * 2) as i64
    );
}

#[test]
fn sequences_domains_arrays_and_partial_unique_indexes_are_read_as_they_are() {
    let Some(server) = server() else { return };
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
