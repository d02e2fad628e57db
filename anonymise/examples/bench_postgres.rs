//! Benchmark: anonymising a PostgreSQL table of people into another database, against a plain
//! `psql -c "COPY people TO STDOUT" | psql -c "COPY people FROM STDIN"` pipe of the same table,
//! in the same run.
//!
//! ```text
//! cargo run --release -p factory-anonymise --features postgres --example bench_postgres [ROWS...]
//! ```
//!
//! `ROWS` defaults to `100000 1000000`. The table has eight columns, four of them personal:
//! `email` (email pseudonym, UNIQUE), `full_name` (fake name), `phone` (fake phone) and
//! `birth_date` (generalised to the year). Emails bear no relation to the order rows were
//! inserted in, as in a real table (`first.last.<n>@domain`, `n` a permutation of the keys).
//! The last column pipes the anonymised copy itself into a third database the same way: what
//! loading the anonymiser's output costs the target alone. Each anonymising run is a child process of its own,
//! so its peak resident memory (`VmHWM`) is its own. The server is `ANONYMISE_BENCH_URL`
//! (default `postgres://postgres@127.0.0.1:5432`); the databases `anonymise_bench_src` and
//! `anonymise_bench_dst` are made afresh.

#[path = "bench_common/mod.rs"]
mod bench_common;

use anonymise::postgres::{self as pg, Options};
use bench_common::{url, Anonymise, Bench, DATABASES, SRC};
use postgres::{Client, NoTls};
use std::process::Command;
use std::time::Instant;

const TABLE: &str = "CREATE TABLE people (
    id bigint PRIMARY KEY,
    email text NOT NULL UNIQUE,
    full_name text NOT NULL,
    phone text,
    birth_date date,
    plan text NOT NULL,
    balance numeric(12, 2) NOT NULL,
    created_at timestamptz NOT NULL
)";

/// The PostgreSQL server, with a connection to each of [`DATABASES`].
struct Postgres([Client; 3]);

impl Bench for Postgres {
    const URL_ENV: &'static str = "ANONYMISE_BENCH_URL";
    const DEFAULT_URL: &'static str = "postgres://postgres@127.0.0.1:5432";
    const PIPE: &'static str = "plain COPY pipe (psql \\| psql)";
    type Options = Options;
    const ANONYMISE: Anonymise<Options> = pg::anonymise;

    fn setup() -> Self {
        let mut admin =
            Client::connect(&url::<Self>("postgres"), NoTls).expect("connect to the server");
        for db in DATABASES {
            admin
                .batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
                .and_then(|_| admin.batch_execute(&format!("CREATE DATABASE {db}")))
                .expect("make the databases");
        }
        let mut clients = DATABASES.map(|db| Client::connect(&url::<Self>(db), NoTls).unwrap());
        for client in &mut clients {
            client.batch_execute(TABLE).unwrap();
        }
        Postgres(clients)
    }

    fn fill(&mut self, rows: u64) {
        let src = &mut self.0[SRC];
        src.batch_execute(&format!(
            "TRUNCATE people;
             INSERT INTO people
             SELECT i,
                    lower(first) || '.' || lower(last) || '.' || ((i::bigint * 7919) % {rows}) || '@' || domain,
                    first || ' ' || last,
                    '+44 20 7946 ' || lpad((h % 10000)::text, 4, '0'),
                    DATE '1940-01-01' + (h % 22000)::int,
                    (ARRAY['free','pro','team'])[1 + h % 3],
                    (h % 100000) / 100.0,
                    TIMESTAMPTZ '2020-01-01 00:00:00+00' + i * INTERVAL '1 minute'
             FROM (
                 SELECT i, h,
                        (ARRAY['Ada','Grace','Alan','Edsger','Barbara','Donald','Frances','John',
                               'Margaret','Ken','Radia','Tim','Sophie','Niklaus','Katherine','Dennis'])[1 + h % 16] AS first,
                        (ARRAY['Lovelace','Hopper','Turing','Dijkstra','Liskov','Knuth','Allen','Backus',
                               'Hamilton','Thompson','Perlman','Berners-Lee','Wilson','Wirth','Johnson','Ritchie'])[1 + (h / 16) % 16] AS last,
                        (ARRAY['example.org','example.com','example.net'])[1 + (h / 256) % 3] AS domain
                 FROM (SELECT i, abs(hashint8(i))::bigint AS h FROM generate_series(1, {rows}) AS i) AS s
             ) AS p"
        ))
        .and_then(|_| src.batch_execute("VACUUM ANALYZE people"))
        .expect("fill the source");
    }

    fn execute(&mut self, db: usize, sql: &str) {
        self.0[db].batch_execute(sql).unwrap();
    }

    fn count(&mut self, db: usize, sql: &str) -> i64 {
        self.0[db].query_one(sql, &[]).unwrap().get(0)
    }

    /// The honest floor: a table through two `psql`s and a shell pipe, no transformation.
    fn pipe(from: &str, to: &str) -> f64 {
        let started = Instant::now();
        let status = Command::new("sh")
            .arg("-c")
            .arg(format!(
                "psql -q -X '{}' -c 'COPY people TO STDOUT' | psql -q -X '{}' -c 'COPY people FROM STDIN'",
                url::<Self>(from),
                url::<Self>(to)
            ))
            .status()
            .expect("run psql");
        assert!(status.success(), "the psql pipe failed");
        started.elapsed().as_secs_f64()
    }

    /// `BENCH_CONFIG`, when set.
    fn config() -> String {
        std::env::var("BENCH_CONFIG").unwrap_or_else(|_| bench_common::CONFIG.to_owned())
    }
}

fn main() {
    bench_common::main::<Postgres>(&[100_000, 1_000_000]);
}
