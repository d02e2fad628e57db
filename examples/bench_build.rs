//! Benchmark: building 100,000 users in memory, against hand-written Rust and factory_boy.
//!
//! ```text
//! cargo run --release --example bench_build
//! FACTORY_BOY_PYTHON= cargo run --release --example bench_build   # skip the Python peer
//! ```
//!
//! Rows, each the best of `RUNS` timed runs after one untimed warm-up:
//!
//! - `User::factory().build_list(100_000)`;
//! - a loop of `User::factory().build()`;
//! - hand-written: the same `User` values built in a loop with the same `fake` calls and
//!   `format!`, drawing from one borrow of the thread's RNG (what the derive is measured against);
//! - hand-written, one RNG borrow per fake value (`factory_core::fake::value`, as the derive
//!   does), to show how much of any gap comes from that.
//!
//! Times cover building the `Vec` only; it is dropped after the clock stops.
//!
//! The peer, factory_boy's `UserFactory.build_batch(100_000)`, runs once after the Rust rows (so
//! the two never share the 2 cores) through `/work/shared/peer/factory_boy_bench.py URL flush`,
//! which also runs its `single` and `batch` PostgreSQL scenarios; only its `build` line is
//! compared here. Environment:
//!
//! - `FACTORY_BOY_PYTHON`: a Python with factory_boy, SQLAlchemy and psycopg2 (default
//!   `/work/peer-venv/bin/python` if it exists; set it empty to skip the peer);
//! - `FACTORY_BOY_URL`: the scratch database the script drops and recreates tables in (default
//!   `postgresql+psycopg2://postgres@127.0.0.1/factory_peer`);
//! - `FACTORY_BOY_SCRIPT`: the script (default `../shared/peer/factory_boy_bench.py` from the
//!   workspace root).

use factory_core::prelude::*;
use shop::User;
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const USERS: usize = 100_000;
const RUNS: usize = 5;
/// The speed-up over factory_boy this benchmark checks for.
const TARGET_SPEEDUP: f64 = 300.0;
/// factory_boy's `build` time from `/work/shared/peer/README.md` (2-core machine, PostgreSQL 15,
/// flush mode), shown only when the peer cannot run here.
const REFERENCE_BUILD_SECS: f64 = 22.9;

const DEFAULT_PYTHON: &str = "/work/peer-venv/bin/python";
const DEFAULT_URL: &str = "postgresql+psycopg2://postgres@127.0.0.1/factory_peer";
const DEFAULT_SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/peer/factory_boy_bench.py"
);

/// One untimed warm-up, then the best of `RUNS` timed runs (the result is dropped untimed).
fn best_of<T>(mut run: impl FnMut() -> T) -> Duration {
    drop(black_box(run()));
    (0..RUNS)
        .map(|_| {
            let start = Instant::now();
            let out = black_box(run());
            let elapsed = start.elapsed();
            drop(out);
            elapsed
        })
        .min()
        .expect("RUNS > 0")
}

/// The users `User::factory().build()` makes, written by hand: `id` and the email from counters,
/// the names from the same fakers on the same RNG, one RNG borrow for the whole list.
fn hand_written(n: usize, seq: &mut u64) -> Vec<User> {
    factory_core::fake::with_rng(|rng| {
        (0..n)
            .map(|_| {
                *seq += 1;
                let email = format!("user{seq}@example.com");
                let username = email.split('@').next().unwrap_or_default().to_owned();
                User {
                    id: *seq as i32,
                    email,
                    username,
                    first_name: FirstName().fake_with_rng(rng),
                    last_name: LastName().fake_with_rng(rng),
                    is_active: true,
                    is_staff: false,
                    role: "customer".to_owned(),
                }
            })
            .collect()
    })
}

/// As [`hand_written`], but borrowing the thread's RNG once per fake value, as the derive does.
fn hand_written_per_value_rng(n: usize, seq: &mut u64) -> Vec<User> {
    (0..n)
        .map(|_| {
            *seq += 1;
            let email = format!("user{seq}@example.com");
            let username = email.split('@').next().unwrap_or_default().to_owned();
            User {
                id: *seq as i32,
                email,
                username,
                first_name: factory_core::fake::value(&FirstName()),
                last_name: factory_core::fake::value(&LastName()),
                is_active: true,
                is_staff: false,
                role: "customer".to_owned(),
            }
        })
        .collect()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

fn ns_per_user(d: Duration) -> f64 {
    d.as_secs_f64() * 1e9 / USERS as f64
}

/// What happened when we tried to run factory_boy.
enum Peer {
    Measured { build_secs: f64, wall: Duration },
    Unavailable(String),
}

fn peer_python() -> Result<PathBuf, String> {
    match std::env::var_os("FACTORY_BOY_PYTHON") {
        Some(p) if p.is_empty() => Err("FACTORY_BOY_PYTHON is set empty (peer skipped)".into()),
        Some(p) => Ok(PathBuf::from(p)),
        None if Path::new(DEFAULT_PYTHON).exists() => Ok(PathBuf::from(DEFAULT_PYTHON)),
        None => Err(format!(
            "FACTORY_BOY_PYTHON is unset and {DEFAULT_PYTHON} does not exist"
        )),
    }
}

fn run_peer() -> Peer {
    let python = match peer_python() {
        Ok(p) => p,
        Err(why) => return Peer::Unavailable(why),
    };
    let script = std::env::var_os("FACTORY_BOY_SCRIPT")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(DEFAULT_SCRIPT));
    if !script.exists() {
        return Peer::Unavailable(format!("script {} not found", script.display()));
    }
    let url = std::env::var("FACTORY_BOY_URL").unwrap_or_else(|_| DEFAULT_URL.into());
    println!(
        "running the peer: {} {} {url} flush",
        python.display(),
        script.display()
    );
    let start = Instant::now();
    let output = match Command::new(&python)
        .arg(&script)
        .arg(&url)
        .arg("flush")
        .output()
    {
        Ok(o) => o,
        Err(e) => return Peer::Unavailable(format!("cannot start {}: {e}", python.display())),
    };
    let wall = start.elapsed();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let build_secs = stdout.lines().find_map(|line| {
        let mut words = line.split_whitespace();
        match (words.next(), words.next(), words.next()) {
            (Some("build"), Some(secs), Some(rows)) if rows == USERS.to_string() => {
                secs.parse::<f64>().ok()
            }
            _ => None,
        }
    });
    match build_secs {
        Some(build_secs) if output.status.success() => Peer::Measured { build_secs, wall },
        _ => {
            let stderr = String::from_utf8_lossy(&output.stderr);
            let tail: Vec<&str> = stderr.lines().rev().take(3).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            Peer::Unavailable(format!(
                "the script {} (stdout {:?}; stderr ends {:?})",
                output.status,
                stdout.trim(),
                tail.join(" | ")
            ))
        }
    }
}

fn main() {
    // Fix the seed's stream before timing, so its stderr line is not inside a measurement.
    let _ = factory_core::fake::seed();

    let build_list = best_of(|| User::factory().build_list(USERS));
    let build_loop = best_of(|| {
        let mut users = Vec::with_capacity(USERS);
        for _ in 0..USERS {
            users.push(User::factory().build());
        }
        users
    });
    let mut seq = 0;
    let by_hand = best_of(|| hand_written(USERS, &mut seq));
    let mut seq = 0;
    let by_hand_per_value = best_of(|| hand_written_per_value_rng(USERS, &mut seq));

    // The two ways must make the same kind of user.
    let sample = User::factory().build();
    let mut seq = 0;
    let manual = hand_written(1, &mut seq).remove(0);
    assert_eq!(sample.username, sample.email.split('@').next().unwrap());
    assert_eq!(
        (sample.is_active, sample.is_staff, sample.role.as_str()),
        (manual.is_active, manual.is_staff, manual.role.as_str())
    );

    println!("build {USERS} users in memory: best of {RUNS} runs after a warm-up, release build\n");
    println!(
        "{:<52} {:>10} {:>10} {:>12}",
        "variant", "ms", "ns/user", "vs by hand"
    );
    println!("{}", "-".repeat(87));
    let row = |name: &str, d: Duration| {
        println!(
            "{:<52} {:>10.2} {:>10.1} {:>11.2}x",
            name,
            ms(d),
            ns_per_user(d),
            d.as_secs_f64() / by_hand.as_secs_f64()
        );
    };
    row("User::factory().build_list(100_000)", build_list);
    row("loop of User::factory().build()", build_loop);
    row("hand-written (fake_with_rng, format!)", by_hand);
    row(
        "hand-written, RNG borrowed per value (as the derive)",
        by_hand_per_value,
    );
    println!();

    let ours = build_list.as_secs_f64();
    match run_peer() {
        Peer::Measured { build_secs, wall } => {
            println!(
                "factory_boy UserFactory.build_batch(100_000), measured in this run: {:.0} ms \
                 ({:.0} ns/user; the script's three scenarios took {:.1} s in all)",
                build_secs * 1e3,
                build_secs * 1e9 / USERS as f64,
                wall.as_secs_f64()
            );
            let ratio = build_secs / ours;
            println!(
                "speed-up of build_list over factory_boy: {ratio:.0}x (target >= {TARGET_SPEEDUP:.0}x: {})",
                if ratio >= TARGET_SPEEDUP { "met" } else { "NOT MET" }
            );
        }
        Peer::Unavailable(why) => {
            println!("factory_boy: NOT MEASURED in this run: {why}");
            let ratio = REFERENCE_BUILD_SECS / ours;
            println!(
                "reference only (from /work/shared/peer/README.md, measured once on a 2-core \
                 machine, PostgreSQL 15, flush mode; not measured in this run): \
                 build {REFERENCE_BUILD_SECS} s, i.e. {ratio:.0}x slower than build_list here \
                 (target >= {TARGET_SPEEDUP:.0}x)"
            );
        }
    }
}
