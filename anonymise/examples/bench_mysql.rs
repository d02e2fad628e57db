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

use anonymise::config::Config;
use anonymise::mysql::{self as my, Options};
use anonymise::Transformer;
use mysql::prelude::Queryable;
use mysql::{Conn, Opts, Value};
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
    id BIGINT PRIMARY KEY,
    email VARCHAR(255) NOT NULL UNIQUE,
    full_name VARCHAR(255) NOT NULL,
    phone VARCHAR(64),
    birth_date DATE,
    plan VARCHAR(16) NOT NULL,
    balance DECIMAL(12, 2) NOT NULL,
    created_at DATETIME(6) NOT NULL
) ENGINE = InnoDB";

const DATABASES: [&str; 3] = [
    "anonymise_bench_src",
    "anonymise_bench_dst",
    "anonymise_bench_out",
];

const KEY: &str = "bench-key-0123456789abcdef-0123456789";
const RUNS: usize = 3;

fn server() -> String {
    std::env::var("ANONYMISE_BENCH_MYSQL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".to_owned())
}

fn url(database: &str) -> String {
    format!("{}/{database}", server())
}

fn connect(database: &str) -> Conn {
    Conn::new(Opts::from_url(&url(database)).expect("a mysql:// URL")).expect("connect")
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--child") {
        child();
        return;
    }
    let sizes: Vec<u64> = if args.is_empty() {
        vec![100_000]
    } else {
        args.iter()
            .map(|a| a.parse().expect("ROWS is a number"))
            .collect()
    };
    let mut admin = connect("mysql");
    for db in DATABASES {
        admin
            .query_drop(format!("DROP DATABASE IF EXISTS {db}"))
            .and_then(|_| admin.query_drop(format!("CREATE DATABASE {db} CHARACTER SET utf8mb4")))
            .expect("make the databases");
        connect(db).query_drop(TABLE).unwrap();
    }
    let (mut src, mut dst, mut out) = (
        connect(DATABASES[0]),
        connect(DATABASES[1]),
        connect(DATABASES[2]),
    );
    println!(
        "| rows | plain pipe (mariadb-dump \\| mariadb) | anonymise | ratio | peak memory (VmHWM) | the same pipe of the anonymised copy |"
    );
    println!("|---:|---:|---:|---:|---:|---:|");
    for &rows in &sizes {
        fill(&mut src, rows);
        let mut pipe = f64::INFINITY;
        let mut ours = f64::INFINITY;
        let mut peak = 0u64;
        for _ in 0..RUNS {
            dst.query_drop("TRUNCATE people").unwrap();
            pipe = pipe.min(dump_pipe(DATABASES[0], DATABASES[1]));
            dst.query_drop("TRUNCATE people").unwrap();
            let (seconds, hwm) = anonymise_in_child();
            ours = ours.min(seconds);
            peak = peak.max(hwm);
        }
        check(&mut src, &mut dst, rows);
        let mut floor = f64::INFINITY;
        for _ in 0..RUNS {
            out.query_drop("TRUNCATE people").unwrap();
            floor = floor.min(dump_pipe(DATABASES[1], DATABASES[2]));
        }
        println!(
            "| {rows} | {pipe:.2} s | {ours:.2} s | {:.2}x | {:.1} MiB | {floor:.2} s |",
            ours / pipe,
            peak as f64 / 1024.0
        );
    }
    for db in DATABASES {
        let _ = admin.query_drop(format!("DROP DATABASE IF EXISTS {db}"));
    }
}

/// Refills the source with `rows` made-up people (the data never leaves this machine).
fn fill(src: &mut Conn, rows: u64) {
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

/// The connection options of the dump tools, from the server URL.
fn tool_args() -> Vec<String> {
    let opts = Opts::from_url(&server()).expect("a mysql:// URL");
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

/// The honest floor: a table through the server's own dump and client tools and a shell pipe,
/// no transformation (the dump's defaults: extended inserts, unique and foreign key checks off,
/// one consistent snapshot).
fn dump_pipe(from: &str, to: &str) -> f64 {
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

/// Runs the anonymiser in a child process; its time and peak resident memory in KiB.
fn anonymise_in_child() -> (f64, u64) {
    let started = Instant::now();
    let out = Command::new(std::env::current_exe().unwrap())
        .arg("--child")
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

fn child() {
    let config = Config::parse(CONFIG).unwrap();
    let transformer = Transformer::from_env("ANONYMISE_KEY").unwrap();
    my::anonymise(
        &config,
        &transformer,
        &url(DATABASES[0]),
        &url(DATABASES[1]),
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
fn check(src: &mut Conn, dst: &mut Conn, rows: u64) {
    let count = |c: &mut Conn, sql: &str| -> u64 { c.query_first(sql).unwrap().unwrap() };
    assert_eq!(count(src, "SELECT COUNT(*) FROM people"), rows);
    assert_eq!(count(dst, "SELECT COUNT(*) FROM people"), rows);
    assert_eq!(
        count(dst, "SELECT COUNT(DISTINCT email) FROM people"),
        rows,
        "emails stay distinct"
    );
    assert_eq!(
        count(
            dst,
            "SELECT COUNT(*) FROM people WHERE email LIKE '%@example.%'"
        ),
        0
    );
}
