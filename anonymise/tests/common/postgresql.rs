//! The PostgreSQL server of the tests (see [`Server`]) and what its tests use of it.

use super::person;
use super::server::{self, Anonymise, Server, PEOPLE};
use anonymise::postgres::{self as pg, Options};
use postgres::{Client, NoTls};

/// The PostgreSQL server of the tests.
pub struct Postgres;

impl Server for Postgres {
    const NAME: &'static str = "PostgreSQL";
    const SHORT: &'static str = "pg";
    const URL_ENV: &'static str = "ANONYMISE_TEST_POSTGRES";
    const DEFAULT_URL: &'static str = "postgres://postgres@127.0.0.1:5432";
    const SCHEMA: &'static str = "
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
    const UNMAPPED_LAST_TOTAL: &'static str =
        "UPDATE orders SET total = 12345.67 WHERE id = (SELECT max(id) FROM orders)";
    const READS_IN_KEY_ORDER: bool = false;
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

    fn execute(url: &str, sql: &str) {
        connect(url).batch_execute(sql).unwrap();
    }

    fn count(url: &str, sql: &str) -> i64 {
        connect(url).query_one(sql, &[]).unwrap().get(0)
    }

    fn column(url: &str, sql: &str) -> Vec<Option<String>> {
        connect(url)
            .query(sql, &[])
            .unwrap()
            .iter()
            .map(|r| r.get(0))
            .collect()
    }

    /// Every table as `COPY` text: what the copy holds, byte for byte.
    fn dump(url: &str) -> Vec<u8> {
        use std::io::Read;
        let mut client = connect(url);
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

    fn fill(url: &str) {
        let mut client = connect(url);
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
    }

    fn as_text(column: &str) -> String {
        format!("{column}::text")
    }

    fn concat(parts: &[&str]) -> String {
        parts.join(" || ")
    }
}

/// The server's URL, if it answers (see [`Server::server`]).
pub fn server() -> String {
    Postgres::server()
}

/// A connection to the server's own database, `postgres`.
pub fn admin(server: &str) -> Result<Client, postgres::Error> {
    Client::connect(&format!("{server}/postgres"), NoTls)
}

pub fn connect(url: &str) -> Client {
    Client::connect(url, NoTls).unwrap()
}

/// A database of this test, dropped at the end.
pub type Db = server::Db<Postgres>;

impl Db {
    pub fn client(&self) -> Client {
        connect(&self.url())
    }
}

/// A source of `test` (see [`Server::fill`]).
pub fn source(server: &str, test: &str) -> Db {
    server::source(server, test)
}
