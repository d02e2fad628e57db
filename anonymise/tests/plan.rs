//! `anonymise plan` then `anonymise check`, with no edit in between, on every kind of schema the
//! tests know: CSV files, SQLite, PostgreSQL (partitioned tables, enums, domains, arrays,
//! `tsvector`, `bytea`, integer keys with personal-looking names) and MariaDB (enums, blobs,
//! JSON). The suggestion must pass the check, flag binary columns instead of keeping them, and
//! suggest quasi-identifiers for the report.
//!
//! The servers are `ANONYMISE_TEST_POSTGRES` and `ANONYMISE_TEST_MYSQL` (see
//! `common::server`); one that cannot be reached fails its tests: nothing is skipped.

mod common;

use common::{cli, email, scratch, text, write_config, write_people};
use std::path::Path;

/// `anonymise plan` of `source` (with `extra` arguments): the suggested config. Panics unless
/// it succeeds.
fn plan(source: &[&str]) -> String {
    let mut args = vec!["plan"];
    args.extend_from_slice(source);
    let out = cli(&args, None);
    assert!(out.status.success(), "{}", text(&out));
    String::from_utf8(out.stdout).unwrap()
}

/// `anonymise plan` of `source`, then `anonymise check` of its output, unmodified, against the
/// same source. Panics unless both succeed; returns the suggestion.
fn plan_then_check(test: &str, source: &[&str]) -> String {
    let suggested = plan(source);
    let (_dir, config) = write_config(&format!("a1-plan-{test}"), &suggested);
    let mut args = vec!["check", "--config", config.to_str().unwrap()];
    args.extend_from_slice(source);
    let check = cli(&args, None);
    assert!(
        check.status.success(),
        "check refused plan's own suggestion:\n{}\n--- suggestion ---\n{suggested}",
        text(&check)
    );
    suggested
}

/// The rule line of `column` in `[tables.<table>.columns]` of `config` (the line, comment
/// included), if there is one.
fn rule_line<'a>(config: &'a str, table: &str, column: &str) -> Option<&'a str> {
    let header = format!("[tables.{table}.columns]");
    let start = config.find(&header)? + header.len();
    let section = &config[start..];
    let section = &section[..section.find("\n[").unwrap_or(section.len())];
    let prefix = format!("{column} = ");
    section.lines().find(|l| l.starts_with(&prefix))
}

/// The quasi-identifiers `config` suggests for `table`.
fn quasi_identifiers(config: &str, table: &str) -> Vec<String> {
    let parsed = anonymise::Config::parse(config).unwrap();
    parsed
        .tables
        .get(table)
        .map(|t| t.quasi_identifiers.clone())
        .unwrap_or_default()
}

/// Panics unless `column` of `table` is flagged and not kept (a binary column: pictures,
/// documents).
fn assert_flagged_not_kept(config: &str, table: &str, column: &str) {
    let line = rule_line(config, table, column)
        .unwrap_or_else(|| panic!("no rule for {table}.{column}:\n{config}"));
    assert!(
        !line.contains("\"keep\"") && line.contains("# PII?"),
        "{table}.{column}: {line}"
    );
}

/// Panics unless `column` of `table` is kept only because no other rule can be run on it (a
/// NOT NULL blob of MariaDB or SQLite, which only keep and null take), and flagged so.
fn assert_flagged_kept_for_review(config: &str, table: &str, column: &str) {
    let line = rule_line(config, table, column)
        .unwrap_or_else(|| panic!("no rule for {table}.{column}:\n{config}"));
    assert!(
        line.contains("\"keep\"") && line.contains("# PII?") && line.ends_with(": review"),
        "{table}.{column}: {line}"
    );
}

/// Panics unless `column` of `table` is kept (an integer key says nothing about anyone).
fn assert_kept(config: &str, table: &str, column: &str) {
    let line = rule_line(config, table, column)
        .unwrap_or_else(|| panic!("no rule for {table}.{column}:\n{config}"));
    assert!(
        line.starts_with(&format!("{column} = \"keep\"")),
        "{table}.{column}: {line}"
    );
}

#[test]
fn plan_output_passes_check_on_a_csv_set() {
    let dir = scratch("a1-plan-csv");
    let users = dir.join("users.csv");
    write_people(&users, 40);
    let orders = dir.join("orders.csv");
    let mut w = csv::Writer::from_path(&orders).unwrap();
    w.write_record([
        "id",
        "user_email",
        "address_id",
        "phone_id",
        "city",
        "total",
    ])
    .unwrap();
    for i in 0..80u64 {
        w.write_record([
            i.to_string(),
            email(i % 40),
            (i % 13).to_string(),
            String::new(),
            ["Leeds", "York"][(i % 2) as usize].to_owned(),
            (i % 500).to_string(),
        ])
        .unwrap();
    }
    w.flush().unwrap();
    let suggested = plan_then_check("csv", &[users.to_str().unwrap(), orders.to_str().unwrap()]);
    assert_kept(&suggested, "orders", "address_id");
    assert_kept(&suggested, "orders", "phone_id");
    assert_eq!(
        quasi_identifiers(&suggested, "users"),
        ["postcode", "birth_date", "gender"]
    );
    assert_eq!(quasi_identifiers(&suggested, "orders"), ["city"]);
}

/// A shop as SQLite holds it: typed STRICT tables and loose ones, integer keys with personal
/// names referencing other tables, a picture.
const SQLITE_SHOP: &str = "
CREATE TABLE people (
    id INTEGER PRIMARY KEY,
    email TEXT NOT NULL UNIQUE,
    first_name TEXT NOT NULL,
    last_name TEXT,
    phone TEXT UNIQUE,
    birth_date TEXT,
    gender TEXT,
    notes TEXT NOT NULL,
    password_hash TEXT NOT NULL
);
CREATE TABLE addresses (
    id INTEGER PRIMARY KEY,
    person_id INTEGER NOT NULL REFERENCES people(id),
    street TEXT NOT NULL,
    city TEXT,
    postcode TEXT
);
CREATE TABLE phones (
    id INTEGER PRIMARY KEY,
    person_id INTEGER REFERENCES people(id),
    number TEXT NOT NULL
);
CREATE TABLE orders (
    id INTEGER PRIMARY KEY,
    address_id INTEGER NOT NULL REFERENCES addresses(id),
    person_id INTEGER NOT NULL REFERENCES people(id),
    phone_id INTEGER REFERENCES phones(id),
    customer_email TEXT NOT NULL REFERENCES people(email),
    total REAL
);
CREATE TABLE profiles (
    id INTEGER PRIMARY KEY,
    person_id INTEGER NOT NULL,
    address_id INTEGER,
    photo BLOB,
    scan BLOB NOT NULL,
    age INTEGER,
    latitude REAL NOT NULL,
    home_phone INTEGER,
    signup_ip INTEGER
) STRICT;
INSERT INTO people VALUES (1, 'zor.vak1@mailhost1.example', 'Zor', 'Vak', '+44 7700 900001',
    '1980-01-02', 'F', '', 'x');
INSERT INTO addresses VALUES (1, 1, '12 Zor Street', 'Leeds', 'SW1 1AB');
INSERT INTO phones VALUES (1, 1, '+44 7700 900001');
INSERT INTO orders VALUES (1, 1, 1, 1, 'zor.vak1@mailhost1.example', 12.5);
INSERT INTO profiles VALUES (1, 1, 1, x'00ff', x'01', 44, 51.5, 7700900001, 3232235777);
";

#[test]
fn plan_output_passes_check_on_a_sqlite_shop() {
    let dir = scratch("a1-plan-sqlite");
    let path = dir.join("shop.sqlite");
    sqlite_exec(&path, SQLITE_SHOP);
    let suggested = plan_then_check("sqlite", &[path.to_str().unwrap()]);
    for (table, column) in [
        ("orders", "address_id"),
        ("orders", "person_id"),
        ("orders", "phone_id"),
        ("profiles", "address_id"),
        ("profiles", "person_id"),
    ] {
        assert_kept(&suggested, table, column);
    }
    assert_flagged_not_kept(&suggested, "profiles", "photo");
    assert_flagged_kept_for_review(&suggested, "profiles", "scan");
    assert_flagged_not_kept(&suggested, "phones", "number");
    assert_eq!(
        quasi_identifiers(&suggested, "addresses"),
        ["city", "postcode"]
    );
    assert_eq!(
        quasi_identifiers(&suggested, "people"),
        ["birth_date", "gender"]
    );
    // The suggestion runs as it is, too (the key in the variable it names).
    let (_config_dir, config) = write_config("a1-plan-sqlite-run", &suggested);
    let target = dir.join("anonymised.sqlite");
    let run = std::process::Command::new(env!("CARGO_BIN_EXE_anonymise"))
        .args(["run", "--config", config.to_str().unwrap()])
        .args([
            "--from",
            path.to_str().unwrap(),
            "--to",
            target.to_str().unwrap(),
        ])
        .env("ANONYMISE_KEY", common::KEY)
        .output()
        .unwrap();
    assert!(run.status.success(), "{}\n{suggested}", text(&run));
}

/// The tables the SQLite tests build (tests/sqlite.rs: `users`, `orders` referencing them by
/// id and by email).
#[test]
fn plan_output_passes_check_on_the_sqlite_tests_schema() {
    let dir = scratch("a1-plan-sqlite-tests");
    let path = dir.join("source.sqlite");
    sqlite_exec(
        &path,
        "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE, name TEXT,
            phone TEXT, postcode TEXT, birth_date TEXT, notes TEXT);
         CREATE TABLE orders (id INTEGER PRIMARY KEY, user_id INTEGER REFERENCES users(id),
            user_email TEXT REFERENCES users(email), amount INTEGER);
         INSERT INTO users VALUES (1, 'a.b@c.example', 'Zor Vak', '+44 7700 900001', 'SW1 1AB',
            '1980-01-02', 'Called about it');
         INSERT INTO orders VALUES (1, 1, 'a.b@c.example', 5);",
    );
    plan_then_check("sqlite-tests", &[path.to_str().unwrap()]);
}

fn sqlite_exec(path: &Path, sql: &str) {
    use diesel::connection::SimpleConnection;
    use diesel::Connection;
    let mut conn = diesel::SqliteConnection::establish(path.to_str().unwrap()).unwrap();
    conn.batch_execute(sql).unwrap();
}

#[cfg(feature = "postgres")]
mod postgres_plan {
    use super::*;
    use common::postgresql::{Db, Postgres};
    use common::server::Server;
    use postgres::{Client, NoTls};

    /// A database of one test holding `sql`'s tables, dropped at the end.
    fn db(test: &str, sql: &str) -> Db {
        Db::with_schema(&Postgres::server(), "plan", test, sql)
    }

    /// A shop: a partitioned table whose foreign keys are declared on its partitions, enums, a
    /// domain over text and one over integer, a text array, a `tsvector`, `bytea` pictures
    /// and documents, integer keys with personal names referencing other tables.
    const SHOP: &str = "
        CREATE TYPE mood AS ENUM ('happy', 'sad');
        CREATE TYPE address_kind AS ENUM ('home', 'work');
        CREATE TYPE gender_kind AS ENUM ('f', 'm', 'x');
        CREATE DOMAIN contact_email AS text CHECK (VALUE LIKE '%@%');
        CREATE DOMAIN street_number AS integer CHECK (VALUE > 0);
        CREATE TABLE people (
            id bigint PRIMARY KEY,
            email contact_email NOT NULL UNIQUE,
            first_name text NOT NULL,
            last_name text,
            phone text UNIQUE,
            birth_date date,
            gender gender_kind,
            mood mood,
            notes text NOT NULL,
            password_hash text NOT NULL,
            photo bytea,
            passport_scan bytea NOT NULL,
            tags text[],
            search tsvector,
            age integer,
            salary numeric(10, 2),
            latitude double precision NOT NULL,
            signup_ip inet,
            national_id uuid,
            phone_verified boolean NOT NULL DEFAULT false,
            name_changes integer NOT NULL DEFAULT 0
        );
        CREATE TABLE addresses (
            id serial PRIMARY KEY,
            person_id bigint NOT NULL REFERENCES people (id),
            kind address_kind NOT NULL,
            house street_number,
            street text NOT NULL,
            city text,
            zip text
        );
        CREATE TABLE phones (
            id integer PRIMARY KEY,
            person_id bigint REFERENCES people (id),
            number text NOT NULL
        );
        CREATE TABLE deliveries (
            id bigint PRIMARY KEY,
            address_id integer NOT NULL REFERENCES addresses (id),
            person_id bigint NOT NULL REFERENCES people (id),
            phone_id integer REFERENCES phones (id),
            contact contact_email REFERENCES people (email)
        );
        CREATE TABLE orders (
            id bigint NOT NULL,
            placed date NOT NULL,
            address_id integer NOT NULL,
            person_id bigint NOT NULL,
            phone_id integer,
            postal_code integer,
            total numeric(10, 2)
        ) PARTITION BY RANGE (placed);
        CREATE TABLE orders_2025 PARTITION OF orders
            FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
        CREATE TABLE orders_2026 PARTITION OF orders
            FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
        ALTER TABLE orders_2025 ADD FOREIGN KEY (address_id) REFERENCES addresses (id),
            ADD FOREIGN KEY (person_id) REFERENCES people (id),
            ADD FOREIGN KEY (phone_id) REFERENCES phones (id);
        ALTER TABLE orders_2026 ADD FOREIGN KEY (address_id) REFERENCES addresses (id),
            ADD FOREIGN KEY (person_id) REFERENCES people (id),
            ADD FOREIGN KEY (phone_id) REFERENCES phones (id);
        INSERT INTO people VALUES (1, 'zor.vak1@mailhost1.example', 'Zor', 'Vak',
            '+44 7700 900001', '1980-01-02', 'f', 'happy', '', 'x', '\\x00ff', '\\x01',
            ARRAY['vip'], to_tsvector('Zor Vak'), 44, 1234.5, 51.5, '10.0.0.1',
            gen_random_uuid(), true, 0);
        INSERT INTO addresses VALUES (1, 1, 'home', 12, 'Zor Street', 'Leeds', 'SW1 1AB');
        INSERT INTO phones VALUES (1, 1, '+44 7700 900001');
        INSERT INTO deliveries VALUES (1, 1, 1, 1, 'zor.vak1@mailhost1.example');
        INSERT INTO orders VALUES (1, '2025-03-01', 1, 1, 1, 90210, 12.5);
    ";

    #[test]
    fn plan_output_passes_check_on_a_postgres_shop() {
        let db = db("shop", SHOP);
        let suggested = plan_then_check("pg-shop", &[&db.url()]);
        for (table, column) in [
            ("orders", "address_id"),
            ("orders", "person_id"),
            ("orders", "phone_id"),
            ("deliveries", "address_id"),
            ("deliveries", "person_id"),
            ("deliveries", "phone_id"),
            ("addresses", "person_id"),
            ("addresses", "house"),
        ] {
            assert_kept(&suggested, table, column);
        }
        for column in ["photo", "passport_scan", "search"] {
            assert_flagged_not_kept(&suggested, "people", column);
        }
        assert_flagged_not_kept(&suggested, "phones", "number");
        assert!(
            !suggested.contains("orders_2025") && !suggested.contains("orders_2026"),
            "partitions are not tables of their own:\n{suggested}"
        );
        assert_eq!(
            quasi_identifiers(&suggested, "people"),
            ["birth_date", "gender", "age"]
        );
        assert_eq!(quasi_identifiers(&suggested, "addresses"), ["city", "zip"]);
    }

    /// The tables the PostgreSQL tests build (tests/postgres.rs: `users`, `orders` referencing
    /// them by id and by email, `audit`, partitioned `visits`, `invoices` with a domain, a
    /// sequence and an array).
    #[test]
    fn plan_output_passes_check_on_the_postgres_tests_schema() {
        let db = db(
            "tests",
            "CREATE TABLE users (id bigint PRIMARY KEY, email text NOT NULL UNIQUE,
                name text NOT NULL, phone text, address text, postcode text, birth_date date,
                gender text NOT NULL, national_id text UNIQUE, notes text);
             CREATE TABLE orders (id bigint PRIMARY KEY,
                user_id bigint NOT NULL REFERENCES users (id),
                user_email text NOT NULL REFERENCES users (email), total numeric(10, 2) NOT NULL);
             CREATE TABLE audit (id bigserial PRIMARY KEY, actor_email text, action text NOT NULL);
             CREATE TABLE visits (id bigint NOT NULL, email text NOT NULL, day date NOT NULL)
                PARTITION BY RANGE (day);
             CREATE TABLE visits_2025 PARTITION OF visits
                FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
             CREATE DOMAIN contact_email AS text CHECK (VALUE LIKE '%@%');
             CREATE SEQUENCE invoice_no_seq;
             CREATE TABLE invoices (no bigint PRIMARY KEY DEFAULT nextval('invoice_no_seq'),
                contact contact_email NOT NULL, tags text[], code text);
             CREATE UNIQUE INDEX invoices_live_code ON invoices (code) WHERE no > 0;",
        );
        plan_then_check("pg-tests", &[&db.url()]);
    }

    /// JSON, XML and hstore columns, which hold whatever the application put there (names,
    /// here): flagged, nulled when nullable, emptied when NOT NULL; the suggestion runs and no
    /// name reaches the copy.
    #[test]
    fn plan_flags_and_hides_json_xml_and_hstore_columns() {
        let schema = "CREATE EXTENSION IF NOT EXISTS hstore;
            CREATE TABLE audit_log (id bigint PRIMARY KEY, details jsonb, payload json NOT NULL,
                body jsonb NOT NULL, doc xml, page xml NOT NULL, attrs hstore NOT NULL,
                extra hstore);";
        let rows = "INSERT INTO audit_log VALUES (1, '{\"by\": \"Grace Wojciechowski\"}',
                '{\"by\": \"Grace Wojciechowski\"}', '[\"Grace Wojciechowski\"]',
                '<by>Grace Wojciechowski</by>', '<by>Grace Wojciechowski</by>',
                'by => \"Grace Wojciechowski\"', 'by => \"Grace Wojciechowski\"');";
        let src = db("hg_json_src", &format!("{schema}{rows}"));
        let dst = db("hg_json_dst", schema);
        let suggested = plan_then_check("pg-json", &[&src.url()]);
        for column in [
            "details", "payload", "body", "doc", "page", "attrs", "extra",
        ] {
            assert_flagged_not_kept(&suggested, "audit_log", column);
        }
        for column in ["details", "doc", "extra"] {
            let line = rule_line(&suggested, "audit_log", column).unwrap();
            assert!(line.starts_with(&format!("{column} = \"null\"")), "{line}");
        }
        let (_dir, config) = write_config("hg-plan-pg-json-run", &suggested);
        let run = std::process::Command::new(env!("CARGO_BIN_EXE_anonymise"))
            .args(["run", "--config", config.to_str().unwrap()])
            .args(["--from", &src.url(), "--to", &dst.url()])
            .env("ANONYMISE_KEY", common::KEY)
            .output()
            .unwrap();
        assert!(run.status.success(), "{}\n{suggested}", text(&run));
        let copied: String = Client::connect(&dst.url(), NoTls)
            .unwrap()
            .query_one("SELECT string_agg(t::text, ' ') FROM audit_log t", &[])
            .unwrap()
            .get(0);
        assert!(!copied.contains("Wojciechowski"), "{copied}");
    }

    #[test]
    fn plan_of_a_missing_or_empty_schema_is_an_error_naming_it() {
        let db = db("schemas", "CREATE SCHEMA hollow; CREATE TABLE t (id int);");
        for schema in ["a1_missing", "hollow"] {
            let out = cli(&["plan", &db.url(), "--schema", schema], None);
            assert_eq!(out.status.code(), Some(2), "{schema}: {}", text(&out));
            assert!(out.stdout.is_empty(), "{schema}: {}", text(&out));
            assert!(text(&out).contains(schema), "{}", text(&out));
        }
    }
}

#[cfg(feature = "mysql")]
mod mysql_plan {
    use super::*;
    use common::mariadb::{connect, Db, MariaDb};
    use common::server::Server;
    use mysql::prelude::Queryable;

    /// A database of one test holding `sql`'s tables, dropped at the end.
    fn db(test: &str, sql: &str) -> Db {
        Db::with_schema(&MariaDb::server(), "plan", test, sql)
    }

    const SHOP: &str = "
        CREATE TABLE people (
            id BIGINT PRIMARY KEY,
            email VARCHAR(255) NOT NULL UNIQUE,
            first_name VARCHAR(64) NOT NULL,
            last_name VARCHAR(64),
            phone VARCHAR(32) UNIQUE,
            birth_date DATE,
            gender ENUM('f', 'm', 'x'),
            title ENUM('text', 'char', 'mr', 'ms'),
            notes TEXT NOT NULL,
            password_hash VARCHAR(255) NOT NULL,
            photo BLOB,
            passport_scan LONGBLOB NOT NULL,
            preferences JSON,
            age INT,
            salary DECIMAL(10, 2),
            latitude DOUBLE NOT NULL,
            signup_ip INT UNSIGNED,
            phone_verified TINYINT(1) NOT NULL DEFAULT 0
        ) ENGINE = InnoDB;
        CREATE TABLE addresses (
            id INT AUTO_INCREMENT PRIMARY KEY,
            person_id BIGINT NOT NULL,
            kind ENUM('home', 'work') NOT NULL,
            street VARCHAR(255) NOT NULL,
            city VARCHAR(64),
            zip VARCHAR(16),
            FOREIGN KEY (person_id) REFERENCES people (id)
        ) ENGINE = InnoDB;
        CREATE TABLE phones (
            id INT PRIMARY KEY,
            person_id BIGINT,
            number VARCHAR(32) NOT NULL,
            FOREIGN KEY (person_id) REFERENCES people (id)
        ) ENGINE = InnoDB;
        CREATE TABLE orders (
            id BIGINT PRIMARY KEY,
            address_id INT NOT NULL,
            person_id BIGINT NOT NULL,
            phone_id INT,
            customer_email VARCHAR(255) NOT NULL,
            total DECIMAL(10, 2),
            FOREIGN KEY (address_id) REFERENCES addresses (id),
            FOREIGN KEY (person_id) REFERENCES people (id),
            FOREIGN KEY (phone_id) REFERENCES phones (id),
            FOREIGN KEY (customer_email) REFERENCES people (email)
        ) ENGINE = InnoDB;
        INSERT INTO people VALUES (1, 'zor.vak1@mailhost1.example', 'Zor', 'Vak',
            '+44 7700 900001', '1980-01-02', 'f', 'mr', '', 'x', x'00ff', x'01',
            '{\"newsletter\": true}', 44, 1234.5, 51.5, 167772161, 1);
        INSERT INTO addresses VALUES (1, 1, 'home', '12 Zor Street', 'Leeds', 'SW1 1AB');
        INSERT INTO phones VALUES (1, 1, '+44 7700 900001');
        INSERT INTO orders VALUES (1, 1, 1, 1, 'zor.vak1@mailhost1.example', 12.5);
    ";

    #[test]
    fn plan_output_passes_check_on_a_mariadb_shop() {
        let db = db("shop", SHOP);
        let suggested = plan_then_check("my-shop", &[&db.url()]);
        for (table, column) in [
            ("orders", "address_id"),
            ("orders", "person_id"),
            ("orders", "phone_id"),
            ("addresses", "person_id"),
            ("phones", "person_id"),
        ] {
            assert_kept(&suggested, table, column);
        }
        assert_flagged_not_kept(&suggested, "people", "photo");
        assert_flagged_kept_for_review(&suggested, "people", "passport_scan");
        assert_flagged_not_kept(&suggested, "phones", "number");
        assert_eq!(
            quasi_identifiers(&suggested, "people"),
            ["birth_date", "gender", "age"]
        );
    }

    /// JSON columns (MariaDB's are longtext checked by json_valid): flagged, nulled when
    /// nullable, emptied to `{}` when NOT NULL; the suggestion runs and no name reaches the copy.
    #[test]
    fn plan_flags_and_hides_json_columns_of_mariadb() {
        let schema = "CREATE TABLE audit_log (id BIGINT PRIMARY KEY, details JSON,
            payload JSON NOT NULL) ENGINE = InnoDB;";
        let src = db(
            "hg_json_src",
            &format!(
                "{schema} INSERT INTO audit_log VALUES (1, '{{\"by\": \"Grace Wojciechowski\"}}',
                    '{{\"by\": \"Grace Wojciechowski\"}}');"
            ),
        );
        let dst = db("hg_json_dst", schema);
        let suggested = plan_then_check("my-json", &[&src.url()]);
        for column in ["details", "payload"] {
            assert_flagged_not_kept(&suggested, "audit_log", column);
        }
        let line = rule_line(&suggested, "audit_log", "details").unwrap();
        assert!(line.starts_with("details = \"null\""), "{line}");
        let (_dir, config) = write_config("hg-plan-my-json-run", &suggested);
        let run = std::process::Command::new(env!("CARGO_BIN_EXE_anonymise"))
            .args(["run", "--config", config.to_str().unwrap()])
            .args(["--from", &src.url(), "--to", &dst.url()])
            .env("ANONYMISE_KEY", common::KEY)
            .output()
            .unwrap();
        assert!(run.status.success(), "{}\n{suggested}", text(&run));
        let copied: Vec<(u64, Option<String>, String)> = connect(&dst.url())
            .query("SELECT id, details, payload FROM audit_log")
            .unwrap();
        assert_eq!(copied, [(1, None, "{}".to_owned())]);
    }

    /// The tables the MariaDB tests build (tests/mysql.rs: `users`, `orders` referencing them
    /// by id and by email, `audit`).
    #[test]
    fn plan_output_passes_check_on_the_mariadb_tests_schema() {
        let db = db(
            "tests",
            "CREATE TABLE users (id BIGINT PRIMARY KEY, email VARCHAR(255) NOT NULL UNIQUE,
                name VARCHAR(255) NOT NULL, phone VARCHAR(64), address VARCHAR(255),
                postcode VARCHAR(16), birth_date DATE, gender VARCHAR(1) NOT NULL,
                national_id VARCHAR(64) UNIQUE, notes TEXT) ENGINE = InnoDB;
             CREATE TABLE orders (id BIGINT PRIMARY KEY, user_id BIGINT NOT NULL,
                user_email VARCHAR(255) NOT NULL, total DECIMAL(10, 2) NOT NULL,
                FOREIGN KEY (user_id) REFERENCES users (id),
                FOREIGN KEY (user_email) REFERENCES users (email)) ENGINE = InnoDB;
             CREATE TABLE audit (id BIGINT AUTO_INCREMENT PRIMARY KEY,
                actor_email VARCHAR(255), action VARCHAR(32) NOT NULL) ENGINE = InnoDB;",
        );
        plan_then_check("my-tests", &[&db.url()]);
    }
}
