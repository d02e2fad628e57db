//! The MariaDB/MySQL server of the tests (see [`Server`]) and what its tests use of it.

use super::person;
use super::server::{self, Anonymise, Server, PEOPLE};
use anonymise::mysql::{self as my, Options};
use mysql::prelude::Queryable;
use mysql::{Conn, Opts, Value};

/// Runs `sql`, one statement or several, failing on the first error (`query_drop` would not
/// report an error of a statement after the first).
pub fn run_all(conn: &mut impl Queryable, sql: &str) {
    let mut result = conn.query_iter(sql).unwrap();
    while let Some(set) = result.iter() {
        for row in set {
            row.unwrap();
        }
    }
}

/// The MariaDB/MySQL server of the tests.
pub struct MariaDb;

impl Server for MariaDb {
    const NAME: &'static str = "MariaDB/MySQL";
    const SHORT: &'static str = "my";
    const URL_ENV: &'static str = "ANONYMISE_TEST_MYSQL";
    const DEFAULT_URL: &'static str = "mysql://root@127.0.0.1:3306";
    const SCHEMA: &'static str = "
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
    const UNMAPPED_LAST_TOTAL: &'static str =
        "UPDATE orders SET total = 12345.67 ORDER BY id DESC LIMIT 1";
    const READS_IN_KEY_ORDER: bool = true;
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

    fn execute(url: &str, sql: &str) {
        run_all(&mut connect(url), sql);
    }

    fn count(url: &str, sql: &str) -> i64 {
        connect(url).query_first(sql).unwrap().unwrap()
    }

    fn column(url: &str, sql: &str) -> Vec<Option<String>> {
        connect(url).query(sql).unwrap()
    }

    /// Every table's every value, as the server sends them: what the copy holds.
    fn dump(url: &str) -> Vec<u8> {
        let mut conn = connect(url);
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

    /// The audit rows' first key is 0, which `AUTO_INCREMENT` takes for "the next one" unless
    /// told otherwise.
    fn fill(url: &str) {
        let mut conn = connect(url);
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
    }

    fn as_text(column: &str) -> String {
        format!("CAST({column} AS CHAR)")
    }

    fn concat(parts: &[&str]) -> String {
        format!("CONCAT({})", parts.join(", "))
    }
}

/// The server's URL, if it answers (see [`Server::server`]).
pub fn server() -> String {
    MariaDb::server()
}

/// A connection to the server's own database, `mysql`.
pub fn admin(server: &str) -> Result<Conn, mysql::Error> {
    Opts::from_url(&format!("{server}/mysql"))
        .map_err(mysql::Error::from)
        .and_then(Conn::new)
}

pub fn connect(url: &str) -> Conn {
    Conn::new(Opts::from_url(url).unwrap()).unwrap()
}

/// A database of this test, dropped at the end.
pub type Db = server::Db<MariaDb>;

impl Db {
    pub fn conn(&self) -> Conn {
        connect(&self.url())
    }
}

/// A source of `test` (see [`Server::fill`]).
pub fn source(server: &str, test: &str) -> Db {
    server::source(server, test)
}
