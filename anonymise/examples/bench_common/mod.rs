//! What the database servers' benchmarks (`bench_postgres`, `bench_mysql`) share: the table of
//! people's config, the key and the databases; the best-of-[`RUNS`] loop and the table it
//! prints; the anonymising run in a child process of its own, which reports its peak resident
//! memory (`VmHWM`); and the check of the copy. Each benchmark brings in this file with
//! `#[path = "bench_common/mod.rs"] mod bench_common;` (a folder, so cargo does not take it for
//! an example of its own).

use anonymise::config::Config;
use anonymise::{DbError, Progress, Summary, Transformer};
use std::process::Command;
use std::time::Instant;

/// The config of the people table.
pub const CONFIG: &str = r#"
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

/// The databases, made afresh: the source, the anonymised copy, and the copy piped on.
pub const DATABASES: [&str; 3] = [
    "anonymise_bench_src",
    "anonymise_bench_dst",
    "anonymise_bench_out",
];
/// Where [`DATABASES`] names the source.
pub const SRC: usize = 0;
/// Where [`DATABASES`] names the anonymised copy.
pub const DST: usize = 1;
/// Where [`DATABASES`] names the copy of the copy.
pub const OUT: usize = 2;

const KEY: &str = "bench-key-0123456789abcdef-0123456789";
const RUNS: usize = 3;

/// A library copy of one database into another: `anonymise(config, transformer, from, to,
/// options, progress)`.
pub type Anonymise<O> = fn(
    &Config,
    &Transformer,
    &str,
    &str,
    &O,
    &mut dyn FnMut(&Progress),
) -> Result<Vec<Summary>, DbError>;

/// A database server a benchmark runs against, with a connection to each of [`DATABASES`].
pub trait Bench: Sized {
    /// The environment variable holding the server's URL (without a database).
    const URL_ENV: &'static str;
    /// The server's URL when the variable is not set.
    const DEFAULT_URL: &'static str;
    /// The heading of the plain pipe's column.
    const PIPE: &'static str;
    /// The options of the library's copy.
    type Options: Default;
    /// The library's copy.
    const ANONYMISE: Anonymise<Self::Options>;

    /// Makes [`DATABASES`] afresh, each with the people table, and connects to them.
    fn setup() -> Self;
    /// Refills the source with `rows` made-up people (the data never leaves this machine).
    fn fill(&mut self, rows: u64);
    /// Runs `sql` in database `db` (an index into [`DATABASES`]).
    fn execute(&mut self, db: usize, sql: &str);
    /// The one number `sql` selects in database `db`.
    fn count(&mut self, db: usize, sql: &str) -> i64;
    /// The honest floor: the people table of database `from` piped into database `to` by the
    /// server's own tools, no transformation; how long it took in seconds.
    fn pipe(from: &str, to: &str) -> f64;
    /// What is left to do after the last size.
    fn finish(self) {}
    /// The config of the child's run.
    fn config() -> String {
        CONFIG.to_owned()
    }
}

/// The URL of the server (see [`Bench::URL_ENV`]).
pub fn server<B: Bench>() -> String {
    std::env::var(B::URL_ENV).unwrap_or_else(|_| B::DEFAULT_URL.to_owned())
}

/// The URL of `database` on the server.
pub fn url<B: Bench>(database: &str) -> String {
    format!("{}/{database}", server::<B>())
}

/// The benchmark: with `--child`, the child's run; otherwise, for each size of the command line
/// (`default_sizes` without one), one row of the table.
pub fn main<B: Bench>(default_sizes: &[u64]) {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--child") {
        child::<B>();
        return;
    }
    let sizes: Vec<u64> = if args.is_empty() {
        default_sizes.to_vec()
    } else {
        args.iter()
            .map(|a| a.parse().expect("ROWS is a number"))
            .collect()
    };
    let mut bench = B::setup();
    println!(
        "| rows | {} | anonymise | ratio | peak memory (VmHWM) | the same pipe of the anonymised copy |",
        B::PIPE
    );
    println!("|---:|---:|---:|---:|---:|---:|");
    for &rows in &sizes {
        bench.fill(rows);
        let mut pipe = f64::INFINITY;
        let mut ours = f64::INFINITY;
        let mut peak = 0u64;
        for _ in 0..RUNS {
            bench.execute(DST, "TRUNCATE people");
            pipe = pipe.min(B::pipe(DATABASES[SRC], DATABASES[DST]));
            bench.execute(DST, "TRUNCATE people");
            let (seconds, hwm) = anonymise_in_child();
            ours = ours.min(seconds);
            peak = peak.max(hwm);
        }
        check(&mut bench, rows);
        // What loading the anonymised rows costs the target by itself: their pseudonymised
        // emails are longer than the originals, so its unique index grows more.
        let mut floor = f64::INFINITY;
        for _ in 0..RUNS {
            bench.execute(OUT, "TRUNCATE people");
            floor = floor.min(B::pipe(DATABASES[DST], DATABASES[OUT]));
        }
        println!(
            "| {rows} | {pipe:.2} s | {ours:.2} s | {:.2}x | {:.1} MiB | {floor:.2} s |",
            ours / pipe,
            peak as f64 / 1024.0
        );
    }
    bench.finish();
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

/// The child's run: the source anonymised into the copy; prints its peak resident memory in KiB.
fn child<B: Bench>() {
    let config = Config::parse(&B::config()).unwrap();
    let transformer = Transformer::from_env("ANONYMISE_KEY").unwrap();
    B::ANONYMISE(
        &config,
        &transformer,
        &url::<B>(DATABASES[SRC]),
        &url::<B>(DATABASES[DST]),
        &B::Options::default(),
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
fn check<B: Bench>(bench: &mut B, rows: u64) {
    let rows = rows as i64;
    assert_eq!(bench.count(SRC, "SELECT COUNT(*) FROM people"), rows);
    assert_eq!(bench.count(DST, "SELECT COUNT(*) FROM people"), rows);
    assert_eq!(
        bench.count(DST, "SELECT COUNT(DISTINCT email) FROM people"),
        rows,
        "emails stay distinct"
    );
    assert_eq!(
        bench.count(
            DST,
            "SELECT COUNT(*) FROM people WHERE email LIKE '%@example.%'"
        ),
        0
    );
}
