//! Benchmark: what a test process pays for its sequence token. Each sample is a fresh process
//! (as cargo-nextest runs a test): it connects, then takes the machine's token (the lock file
//! in the temp dir) and the server's (one query on the first create), each timed once.
//!
//! ```text
//! cargo run --release --features postgres,mysql --example bench_sequence_token
//! ```
//!
//! Servers: `FACTORY_TEST_POSTGRES_URL` and `FACTORY_TEST_MYSQL_URL` (defaults: the local
//! servers' `factory_test`). Prints a table and writes `target/bench/sequence_token.json`.

use diesel::Connection;
use std::process::Command;
use std::time::{Duration, Instant};

const PROCESSES: usize = 30;

/// One process's times: connecting, the machine's token, the server's.
type Sample = (Duration, Duration, Duration);

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(backend) = args.get(2).filter(|_| args[1] == "--child") {
        return child(backend);
    }
    let mut rows = Vec::new();
    for backend in ["postgres", "mysql"] {
        let samples: Vec<Sample> = (0..PROCESSES).map(|_| sample(backend)).collect();
        rows.push((backend, samples));
    }
    print_and_save(&rows);
}

/// One child process's (connect, machine token, server token) times.
fn sample(backend: &str) -> Sample {
    let out = Command::new(std::env::current_exe().expect("this program"))
        .args(["--child", backend])
        .env_remove("FACTORY_SEQUENCE_SCOPE")
        .output()
        .expect("run a child");
    assert!(out.status.success(), "{out:?}");
    let text = String::from_utf8_lossy(&out.stdout);
    let nanos: Vec<u64> = text
        .trim()
        .split(',')
        .map(|n| n.parse().expect("nanoseconds"))
        .collect();
    let d = Duration::from_nanos;
    (d(nanos[0]), d(nanos[1]), d(nanos[2]))
}

fn child(backend: &str) {
    let url = |var: &str, default: &str| std::env::var(var).unwrap_or_else(|_| default.into());
    let start = Instant::now();
    let times = match backend {
        "postgres" => {
            let mut conn = diesel::PgConnection::establish(&url(
                "FACTORY_TEST_POSTGRES_URL",
                "postgres://postgres@127.0.0.1:5432/factory_test",
            ))
            .expect("connect to PostgreSQL");
            tokens(start, &mut conn)
        }
        _ => {
            let mut conn = diesel::MysqlConnection::establish(&url(
                "FACTORY_TEST_MYSQL_URL",
                "mysql://root@127.0.0.1:3306/factory_test",
            ))
            .expect("connect to MariaDB");
            tokens(start, &mut conn)
        }
    };
    println!(
        "{},{},{}",
        times.0.as_nanos(),
        times.1.as_nanos(),
        times.2.as_nanos()
    );
}

/// Connecting (since `start`), the machine's token, then the server's; checks that the server's
/// token took over.
fn tokens<C: factory_core::sequence::ClaimToken>(start: Instant, conn: &mut C) -> Sample {
    let connect = start.elapsed();
    let t = Instant::now();
    let machine = factory_core::sequence::unique(1);
    let machine_time = t.elapsed();
    let t = Instant::now();
    factory_core::sequence::claim(conn);
    let server_time = t.elapsed();
    let server = factory_core::sequence::unique(1);
    assert!(
        server.starts_with("1-0") && server != machine,
        "{machine} {server}"
    );
    (connect, machine_time, server_time)
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn print_and_save(rows: &[(&str, Vec<Sample>)]) {
    println!(
        "{PROCESSES} processes per backend, each timed once (median; min..max), milliseconds\n"
    );
    println!(
        "| backend | connect | machine token (lock file) | server token (one query) | server / connect |"
    );
    println!("|---|---:|---:|---:|---:|");
    let mut json = Vec::new();
    for (backend, samples) in rows {
        let pick = |f: fn(&Sample) -> Duration| {
            let v: Vec<Duration> = samples.iter().map(f).collect();
            let (min, max) = (*v.iter().min().unwrap(), *v.iter().max().unwrap());
            (median(v), min, max)
        };
        let (connect, machine, server) = (pick(|s| s.0), pick(|s| s.1), pick(|s| s.2));
        let cell = |(m, lo, hi): Sample| format!("{:.3} ({:.3}..{:.3})", ms(m), ms(lo), ms(hi));
        println!(
            "| {backend} | {} | {} | {} | {:.3}x |",
            cell(connect),
            cell(machine),
            cell(server),
            ms(server.0) / ms(connect.0)
        );
        json.push(format!(
            "{{\"scenario\":\"{backend}: server token per process\",\"ours_ms\":{:.4},\
             \"baseline\":\"machine token (lock file)\",\"baseline_ms\":{:.4},\"ratio\":{:.3},\
             \"connect_ms\":{:.4},\"processes\":{PROCESSES}}}",
            ms(server.0),
            ms(machine.0),
            ms(server.0) / ms(machine.0),
            ms(connect.0)
        ));
    }
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench");
    std::fs::create_dir_all(&dir).expect("make target/bench");
    let date = std::process::Command::new("date")
        .arg("-u")
        .arg("+%Y-%m-%dT%H:%M:%SZ")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    let path = dir.join("sequence_token.json");
    std::fs::write(
        &path,
        format!("{{\"date\":\"{date}\",\"results\":[{}]}}\n", json.join(",")),
    )
    .expect("write the JSON");
    println!("\nwritten: {}", path.display());
}
