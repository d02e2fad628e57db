//! Benchmark: anonymising a MariaDB/MySQL table of people into another database, against a plain
//! `mariadb-dump --no-create-info | mariadb` pipe of the same table, in the same run.
//!
//! ```text
//! cargo run --release -p factory-anonymise --features mysql --example bench_mysql [ROWS...]
//! ```
//!
//! `ROWS` defaults to `100000`. The table has eight columns, four of them personal: `email`
//! (email pseudonym, UNIQUE), `full_name` (fake name), `phone` (fake phone) and `birth_date`
//! (generalised to the year). Emails bear no relation to the order rows were inserted in, as in
//! a real table (`first.last.<n>@domain`, `n` a permutation of the keys). The last column pipes
//! the anonymised copy itself into a third database the same way: what loading the anonymiser's
//! output costs the target alone. Each anonymising run is a child process of its own, so its
//! peak resident memory (`VmHWM`) is its own. The server is `ANONYMISE_BENCH_MYSQL` (default
//! `mysql://root@127.0.0.1:3306`); the databases `anonymise_bench_src`, `anonymise_bench_dst`
//! and `anonymise_bench_out` are made afresh (and dropped at the end). The dump tools are
//! `mariadb-dump` and `mariadb` (or `mysqldump` and `mysql`, where those are what is installed).

#[path = "bench_common/mod.rs"]
mod bench_common;

use anonymise::mysql::{self as my, Options};
use bench_common::{server, url, Anonymise, Bench, DATABASES, SRC};
use mysql::prelude::Queryable;
use mysql::{Conn, Opts, Value};
use std::process::Command;
use std::time::Instant;

const TABLE: &str = "CREATE TABLE people (
    id BIGINT PRIMARY KEY,
    email VARCHAR(255) NOT NULL UNIQUE,
    full_name VARCHAR(255) NOT NULL,
    phone VARCHAR(64),
    birth_date DATE,
    plan VARCHAR(16) NOT NULL,
    balance DECIMAL(12, 2) NOT NULL,
    created_at DATETIME(6) NOT NULL
) ENGINE = InnoDB";

fn connect(database: &str) -> Conn {
    Conn::new(Opts::from_url(&url::<MariaDb>(database)).expect("a mysql:// URL")).expect("connect")
}

/// The MariaDB/MySQL server: a connection to its own database, `mysql`, and one to each of
/// [`DATABASES`].
struct MariaDb(Conn, [Conn; 3]);

impl Bench for MariaDb {
    const URL_ENV: &'static str = "ANONYMISE_BENCH_MYSQL";
    const DEFAULT_URL: &'static str = "mysql://root@127.0.0.1:3306";
    const PIPE: &'static str = "plain pipe (mariadb-dump \\| mariadb)";
    type Options = Options;
    const ANONYMISE: Anonymise<Options> = my::anonymise;

    fn setup() -> Self {
        let mut admin = connect("mysql");
        for db in DATABASES {
            admin
                .query_drop(format!("DROP DATABASE IF EXISTS {db}"))
                .and_then(|_| {
                    admin.query_drop(format!("CREATE DATABASE {db} CHARACTER SET utf8mb4"))
                })
                .expect("make the databases");
            connect(db).query_drop(TABLE).unwrap();
        }
        MariaDb(admin, DATABASES.map(connect))
    }

    fn fill(&mut self, rows: u64) {
        const FIRST: [&str; 16] = [
            "Ada",
            "Grace",
            "Alan",
            "Edsger",
            "Barbara",
            "Donald",
            "Frances",
            "John",
            "Margaret",
            "Ken",
            "Radia",
            "Tim",
            "Sophie",
            "Niklaus",
            "Katherine",
            "Dennis",
        ];
        const LAST: [&str; 16] = [
            "Lovelace",
            "Hopper",
            "Turing",
            "Dijkstra",
            "Liskov",
            "Knuth",
            "Allen",
            "Backus",
            "Hamilton",
            "Thompson",
            "Perlman",
            "Berners-Lee",
            "Wilson",
            "Wirth",
            "Johnson",
            "Ritchie",
        ];
        const DOMAINS: [&str; 3] = ["example.org", "example.com", "example.net"];
        const PLANS: [&str; 3] = ["free", "pro", "team"];
        const BATCH: u64 = 1000;
        let src = &mut self.1[SRC];
        src.query_drop("TRUNCATE people").unwrap();
        let mut tx = src.start_transaction(mysql::TxOpts::default()).unwrap();
        let row = "(?, ?, ?, ?, ?, ?, ?, ?)";
        let mut start = 1;
        while start <= rows {
            let end = (start + BATCH - 1).min(rows);
            let mut values: Vec<Value> = Vec::with_capacity(8 * BATCH as usize);
            for i in start..=end {
                let h = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 17;
                let (first, last) = (FIRST[(h % 16) as usize], LAST[(h / 16 % 16) as usize]);
                let domain = DOMAINS[(h / 256 % 3) as usize];
                let day = h % 22_000;
                values.extend([
                    Value::from(i),
                    Value::from(format!(
                        "{}.{}.{}@{domain}",
                        first.to_lowercase(),
                        last.to_lowercase(),
                        (i * 7919) % rows
                    )),
                    Value::from(format!("{first} {last}")),
                    Value::from(format!("+44 20 7946 {:04}", h % 10_000)),
                    Value::from(format!(
                        "{:04}-{:02}-{:02}",
                        1940 + day / 366,
                        1 + day % 12,
                        1 + day % 28
                    )),
                    Value::from(PLANS[(h % 3) as usize]),
                    Value::from(format!("{}.{:02}", h % 1000, h % 100)),
                    Value::from(format!(
                        "2020-01-{:02} {:02}:{:02}:00",
                        1 + i / 1440 % 28,
                        i / 60 % 24,
                        i % 60
                    )),
                ]);
            }
            let sql = format!(
                "INSERT INTO people VALUES {}",
                vec![row; (end - start + 1) as usize].join(", ")
            );
            tx.exec_drop(sql, values).expect("fill the source");
            start = end + 1;
        }
        tx.commit().unwrap();
        src.query_drop("ANALYZE TABLE people").unwrap();
    }

    fn execute(&mut self, db: usize, sql: &str) {
        self.1[db].query_drop(sql).unwrap();
    }

    fn count(&mut self, db: usize, sql: &str) -> i64 {
        self.1[db].query_first(sql).unwrap().unwrap()
    }

    /// The honest floor: a table through the server's own dump and client tools and a shell pipe,
    /// no transformation (the dump's defaults: extended inserts, unique and foreign key checks off,
    /// one consistent snapshot).
    fn pipe(from: &str, to: &str) -> f64 {
        let args = tool_args().join(" ");
        let dump = tool(["mariadb-dump", "mysqldump"]);
        let client = tool(["mariadb", "mysql"]);
        let started = Instant::now();
        let status = Command::new("bash")
            .arg("-c")
            .arg(format!(
                "set -o pipefail; {dump} {args} --no-create-info --skip-triggers --single-transaction {from} people | {client} {args} {to}"
            ))
            .status()
            .expect("run the dump pipe");
        assert!(status.success(), "the dump pipe failed");
        started.elapsed().as_secs_f64()
    }

    /// Drops [`DATABASES`].
    fn finish(mut self) {
        for db in DATABASES {
            let _ = self.0.query_drop(format!("DROP DATABASE IF EXISTS {db}"));
        }
    }
}

/// The connection options of the dump tools, from the server URL.
fn tool_args() -> Vec<String> {
    let opts = Opts::from_url(&server::<MariaDb>()).expect("a mysql:// URL");
    let mut args = vec![
        format!("--host={}", opts.get_ip_or_hostname()),
        format!("--port={}", opts.get_tcp_port()),
    ];
    if let Some(user) = opts.get_user() {
        args.push(format!("--user={user}"));
    }
    if let Some(pass) = opts.get_pass() {
        args.push(format!("--password={pass}"));
    }
    args
}

/// The first of `names` that runs.
fn tool(names: [&'static str; 2]) -> &'static str {
    names
        .into_iter()
        .find(|name| Command::new(name).arg("--version").output().is_ok())
        .unwrap_or(names[0])
}

fn main() {
    bench_common::main::<MariaDb>(&[100_000]);
}
