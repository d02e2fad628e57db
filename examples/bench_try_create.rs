//! What `try_create` pays on PostgreSQL to leave a test transaction usable after a failure: a
//! savepoint and its release around each row that has no transaction of its own, against
//! `create` (no savepoint) and a hand-written Diesel insert of the same rows, all inside one
//! open transaction, as under `Cleanup::Transaction`.
//!
//! `cargo run --release --features postgres --example bench_try_create`
//! (`FACTORY_TEST_POSTGRES_URL`, default the local server's `factory_test` database). Prints a
//! table and writes `target/bench/try_create.json`.

use diesel::connection::{AnsiTransactionManager, TransactionManager};
use diesel::prelude::*;
use factory_core::Factory;
use shop::schema::tags;
use shop::Tag;
use std::time::{Duration, Instant};

const ROWS: usize = 1_000;
const ROUNDS: usize = 7;

#[derive(Insertable)]
#[diesel(table_name = tags)]
struct NewTag {
    name: String,
    label: String,
}

fn main() {
    let url = std::env::var("FACTORY_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/factory_test".to_owned());
    let mut conn = shop::postgres(&url);
    let mut n = 0u64;
    type Side<'a> = (&'a str, Box<dyn FnMut(&mut PgConnection, &mut u64)>);
    let mut sides: Vec<Side> = vec![
        (
            "Tag::factory().try_create(conn) x 1,000 (savepoint each)",
            Box::new(|conn, _| {
                for _ in 0..ROWS {
                    Tag::factory().try_create(conn).expect("insert");
                }
            }),
        ),
        (
            "Tag::factory().create(conn) x 1,000",
            Box::new(|conn, _| {
                for _ in 0..ROWS {
                    Tag::factory().create(conn);
                }
            }),
        ),
        (
            "hand-written insert .. returning x 1,000",
            Box::new(|conn, n| {
                for _ in 0..ROWS {
                    *n += 1;
                    let name = format!("hand-{}-{n}", std::process::id());
                    let new = NewTag {
                        label: name.to_uppercase(),
                        name,
                    };
                    let _: Tag = diesel::insert_into(tags::table)
                        .values(&new)
                        .returning(Tag::as_select())
                        .get_result(conn)
                        .expect("insert");
                }
            }),
        ),
    ];
    let mut times: Vec<Vec<Duration>> = vec![Vec::new(); sides.len()];
    // A warm-up round, then rounds that start one side later each time; every round inside a
    // transaction rolled back at its end, as a test's.
    for round in 0..=ROUNDS {
        for k in 0..sides.len() {
            let i = (round + k) % sides.len();
            AnsiTransactionManager::begin_transaction(&mut conn).expect("begin");
            let start = Instant::now();
            (sides[i].1)(&mut conn, &mut n);
            let took = start.elapsed();
            AnsiTransactionManager::rollback_transaction(&mut conn).expect("roll back");
            if round > 0 {
                times[i].push(took);
            }
        }
    }
    let best = |v: &[Duration]| v.iter().min().copied().unwrap_or_default();
    let median = |v: &[Duration]| {
        let mut v = v.to_vec();
        v.sort();
        v[v.len() / 2]
    };
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let base = best(&times[2]);
    println!(
        "{:<58} {:>10} {:>10} {:>14}",
        "PostgreSQL, inside a transaction", "best ms", "median ms", "vs hand (best)"
    );
    let mut results = Vec::new();
    for ((name, _), t) in sides.iter().zip(&times) {
        let ratio = best(t).as_secs_f64() / base.as_secs_f64();
        println!(
            "{name:<58} {:>10.1} {:>10.1} {:>13.2}x",
            ms(best(t)),
            ms(median(t)),
            ratio
        );
        results.push(serde_json::json!({
            "scenario": name,
            "best_ms": ms(best(t)),
            "median_ms": ms(median(t)),
            "ratio_to_hand_best": ratio,
        }));
    }
    let json = serde_json::json!({
        "benchmark": "try_create",
        "rows": ROWS,
        "rounds": ROUNDS,
        "release": !cfg!(debug_assertions),
        "results": results,
    });
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench");
    std::fs::create_dir_all(&dir).expect("make target/bench");
    let path = dir.join("try_create.json");
    std::fs::write(&path, format!("{json:#}\n")).expect("write the JSON");
    println!("\nwritten: {}", path.display());
}
