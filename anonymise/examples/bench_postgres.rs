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

use anonymise::config::Config;
use anonymise::postgres::{self as pg, Options};
use anonymise::Transformer;
use postgres::{Client, NoTls};
use std::process::Command;
use std::time::Instant;

const CONFIG: &str = r#"
[tables.people.columns]
id = "keep"
email = "email_pseudonym"
full_name = { rule = "fake", kind = "name" }
phone = { rule = "fake", kind = "phone" }
birth_date = { rule = "generalise", to = "year" }
plan = "keep"
balance = "keep"
created_at = "keep"
"#;

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

const KEY: &str = "bench-key-0123456789abcdef-0123456789";
const RUNS: usize = 3;

fn server() -> String {
    std::env::var("ANONYMISE_BENCH_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432".to_owned())
}

fn url(database: &str) -> String {
    format!("{}/{database}", server())
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--child") {
        child(&args[1]);
        return;
    }
    let sizes: Vec<u64> = if args.is_empty() {
        vec![100_000, 1_000_000]
    } else {
        args.iter()
            .map(|a| a.parse().expect("ROWS is a number"))
            .collect()
    };
    let mut admin = Client::connect(&url("postgres"), NoTls).expect("connect to the server");
    for db in [
        "anonymise_bench_src",
        "anonymise_bench_dst",
        "anonymise_bench_out",
    ] {
        admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
            .and_then(|_| admin.batch_execute(&format!("CREATE DATABASE {db}")))
            .expect("make the databases");
    }
    let mut src = Client::connect(&url("anonymise_bench_src"), NoTls).unwrap();
    let mut dst = Client::connect(&url("anonymise_bench_dst"), NoTls).unwrap();
    let mut out = Client::connect(&url("anonymise_bench_out"), NoTls).unwrap();
    for client in [&mut src, &mut dst, &mut out] {
        client.batch_execute(TABLE).unwrap();
    }

    println!(
        "| rows | plain COPY pipe (psql \\| psql) | anonymise | ratio | peak memory (VmHWM) | the same pipe of the anonymised copy |"
    );
    println!("|---:|---:|---:|---:|---:|---:|");
    for &rows in &sizes {
        fill(&mut src, rows);
        let mut pipe = f64::INFINITY;
        let mut ours = f64::INFINITY;
        let mut peak = 0u64;
        for _ in 0..RUNS {
            dst.batch_execute("TRUNCATE people").unwrap();
            pipe = pipe.min(psql_pipe("anonymise_bench_src", "anonymise_bench_dst"));
            dst.batch_execute("TRUNCATE people").unwrap();
            let (seconds, hwm) = anonymise_in_child();
            ours = ours.min(seconds);
            peak = peak.max(hwm);
        }
        check(&mut src, &mut dst, rows);
        // What loading the anonymised rows costs the target by itself: their pseudonymised
        // emails are longer than the originals, so its unique index grows more.
        let mut floor = f64::INFINITY;
        for _ in 0..RUNS {
            out.batch_execute("TRUNCATE people").unwrap();
            floor = floor.min(psql_pipe("anonymise_bench_dst", "anonymise_bench_out"));
        }
        println!(
            "| {rows} | {pipe:.2} s | {ours:.2} s | {:.2}x | {:.1} MiB | {floor:.2} s |",
            ours / pipe,
            peak as f64 / 1024.0
        );
    }
}

/// Refills the source with `rows` made-up people (the data never leaves this machine).
fn fill(src: &mut Client, rows: u64) {
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

/// The honest floor: a table through two `psql`s and a shell pipe, no transformation.
fn psql_pipe(from: &str, to: &str) -> f64 {
    let started = Instant::now();
    let status = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "psql -q -X '{}' -c 'COPY people TO STDOUT' | psql -q -X '{}' -c 'COPY people FROM STDIN'",
            url(from),
            url(to)
        ))
        .status()
        .expect("run psql");
    assert!(status.success(), "the psql pipe failed");
    started.elapsed().as_secs_f64()
}

/// Runs the anonymiser in a child process; its time and peak resident memory in KiB.
fn anonymise_in_child() -> (f64, u64) {
    let started = Instant::now();
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--child", "run"])
        .env("ANONYMISE_KEY", KEY)
        .output()
        .expect("run the child");
    let seconds = started.elapsed().as_secs_f64();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let hwm = String::from_utf8_lossy(&out.stdout)
        .trim()
        .parse()
        .expect("the child prints its VmHWM");
    (seconds, hwm)
}

fn child(_: &str) {
    let text = std::env::var("BENCH_CONFIG").unwrap_or_else(|_| CONFIG.to_owned());
    let config = Config::parse(&text).unwrap();
    let transformer = Transformer::from_env("ANONYMISE_KEY").unwrap();
    pg::anonymise(
        &config,
        &transformer,
        &url("anonymise_bench_src"),
        &url("anonymise_bench_dst"),
        &Options::default(),
        &mut |_| {},
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let hwm = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .unwrap_or(0);
    println!("{hwm}");
}

/// The copy is whole and anonymised: same row count, emails distinct and none original.
fn check(src: &mut Client, dst: &mut Client, rows: u64) {
    let count = |c: &mut Client, sql: &str| -> i64 { c.query_one(sql, &[]).unwrap().get(0) };
    assert_eq!(count(src, "SELECT count(*) FROM people"), rows as i64);
    assert_eq!(count(dst, "SELECT count(*) FROM people"), rows as i64);
    assert_eq!(
        count(dst, "SELECT count(DISTINCT email) FROM people"),
        rows as i64,
        "emails stay distinct"
    );
    assert_eq!(
        count(
            dst,
            "SELECT count(*) FROM people WHERE email LIKE '%@example.%'"
        ),
        0
    );
}
