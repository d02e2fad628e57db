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

use bench::{NewUser, RUNS};
use factory_core::Factory;
use shop::User;
use std::time::Duration;

#[path = "support/bench.rs"]
mod bench;

const USERS: usize = 100_000;
/// The speed-up over factory_boy this benchmark checks for.
const TARGET_SPEEDUP: f64 = 300.0;
/// factory_boy's `build` time from `/work/shared/peer/README.md` (2-core machine, PostgreSQL 15,
/// flush mode), shown only when the peer cannot run here.
const REFERENCE_BUILD_SECS: f64 = 22.9;

/// One warm-up (not counted), then the best of `RUNS` timed runs (the result is dropped untimed).
fn best_of<T>(run: impl FnMut() -> T) -> Duration {
    let measured = bench::measure(&mut [run], |run| bench::timed(run).1);
    bench::best(&measured[0].times)
}

/// The users `User::factory().build()` makes, written by hand: `id` and the email from counters,
/// the names from the same fakers on the same RNG, one RNG borrow for the whole list.
fn hand_written(n: usize, seq: &mut u64) -> Vec<User> {
    factory_core::fake::with_rng(|rng| {
        (0..n)
            .map(|_| {
                let id = bench::next(seq);
                NewUser::fake_with_rng(id, rng).into_user(id as i32)
            })
            .collect()
    })
}

/// As [`hand_written`], but borrowing the thread's RNG once per fake value, as the derive does.
fn hand_written_per_value_rng(n: usize, seq: &mut u64) -> Vec<User> {
    (0..n)
        .map(|_| {
            let id = bench::next(seq);
            NewUser::fake(id).into_user(id as i32)
        })
        .collect()
}

fn ns_per_user(d: Duration) -> f64 {
    d.as_secs_f64() * 1e9 / USERS as f64
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
            bench::ms(d),
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
    let peer = bench::Peer::from_env().and_then(|peer| {
        println!("running the peer: {peer}");
        peer.run(&[("build", USERS)])
    });
    match peer {
        Ok((secs, wall)) => {
            let build_secs = secs[0];
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
        Err(why) => {
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
