//! Collision stress test: forty tests insert users and products with sequence values into one
//! PostgreSQL database and commit, run after run, rows never removed. Under cargo-nextest each
//! test is its own process counting its sequences from 1, so only the process token in `<n>`
//! keeps the unique `users.email` and `products.name` apart:
//!
//! ```text
//! cargo nextest run --features postgres --test collisions -j 8
//! ```
//!
//! The database is `FACTORY_TEST_COLLISIONS_URL` (default: the local server's
//! `factory_collisions`), created and migrated by the first test. A server that cannot be
//! reached fails every test: nothing is skipped.

#![cfg(feature = "postgres")]

use diesel::prelude::*;
use factory_core::Factory;
use shop::{Product, User};
use std::collections::HashSet;
use std::process::{Command, Output};

const USERS_PER_TEST: usize = 25;
const PRODUCTS_PER_TEST: usize = 3;

fn url() -> String {
    std::env::var("FACTORY_TEST_COLLISIONS_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/factory_collisions".to_owned())
}

/// A committing connection to the collisions database, created and migrated if need be.
fn connect() -> PgConnection {
    let url = url();
    let server = url
        .split('?')
        .next()
        .and_then(|u| u.rsplit_once('/'))
        .map(|(server, _)| server)
        .unwrap_or_else(|| panic!("expected a database URL ending in /<database>, got {url}"));
    // Test processes start together and would race to create and migrate the database: they
    // take turns under an advisory lock of the server's `postgres` database, which its session
    // releases however this ends.
    let mut admin = PgConnection::establish(&format!("{server}/postgres"))
        .unwrap_or_else(|e| panic!("cannot reach PostgreSQL at {server}: {e}"));
    diesel::sql_query("SELECT pg_advisory_lock(hashtext('factory collisions test setup'))")
        .execute(&mut admin)
        .expect("take the setup lock");
    let conn = shop::postgres(&url);
    drop(admin);
    conn
}

/// One test's rows: every insert commits, and a repeated email or name panics in `create`
/// with the constraint.
fn create_rows() {
    let mut conn = connect();
    let users: Vec<User> = (0..USERS_PER_TEST)
        .map(|_| User::factory().create(&mut conn))
        .collect();
    let products: Vec<Product> = (0..PRODUCTS_PER_TEST)
        .map(|_| Product::factory().create(&mut conn))
        .collect();
    let emails: HashSet<&str> = users.iter().map(|u| u.email.as_str()).collect();
    assert_eq!(emails.len(), USERS_PER_TEST);
    let names: HashSet<&str> = products.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names.len(), PRODUCTS_PER_TEST);
}

macro_rules! collision_tests {
    ($($name:ident)*) => {
        $(
            #[test]
            fn $name() {
                create_rows();
            }
        )*
    };
}

collision_tests! {
    rows_01 rows_02 rows_03 rows_04 rows_05 rows_06 rows_07 rows_08 rows_09 rows_10
    rows_11 rows_12 rows_13 rows_14 rows_15 rows_16 rows_17 rows_18 rows_19 rows_20
    rows_21 rows_22 rows_23 rows_24 rows_25 rows_26 rows_27 rows_28 rows_29 rows_30
    rows_31 rows_32 rows_33 rows_34 rows_35 rows_36 rows_37 rows_38 rows_39 rows_40
}

/// Runs `rows_01` alone in a child process of this binary with plain per-process sequences.
fn rows_01_with_process_scope() -> Output {
    Command::new(std::env::current_exe().unwrap())
        .args(["rows_01", "--exact", "--nocapture", "--test-threads=1"])
        .env("FACTORY_SEQUENCE_SCOPE", "process")
        .output()
        .expect("run a child process")
}

fn failed_on_a_unique_email(out: &Output) -> bool {
    let stderr = String::from_utf8_lossy(&out.stderr);
    !out.status.success()
        && stderr.contains("UserFactory could not insert into `users`: unique constraint")
        && stderr.contains("users_email_key")
}

/// The negative control: with plain numbers, a second process repeats the first one's emails
/// and fails, so the tests above would catch collisions.
#[test]
fn process_scope_collides_across_processes() {
    // On a fresh database the first child creates `user1@example.com`, ...; after that, the
    // rows of an earlier run make it fail too.
    let first = rows_01_with_process_scope();
    assert!(
        first.status.success() || failed_on_a_unique_email(&first),
        "the first child failed otherwise: {first:?}"
    );
    let second = rows_01_with_process_scope();
    assert!(
        failed_on_a_unique_email(&second),
        "the second child must fail on users_email_key: {second:?}"
    );
}

/// Two CI runners sharding one suite over one database server: each runs its processes with
/// a temporary directory of its own (so no lock file is shared) and a clock that may agree
/// with the other's to the tenth of a second. Two groups of the 40 tests above, each as 40
/// processes 8 at a time, start together, three rounds, rows kept: not one unique violation.
#[test]
fn two_runners_with_their_own_temp_dirs_never_collide() {
    const ROUNDS: usize = 3;
    const AT_A_TIME: usize = 8;
    let base = std::env::temp_dir().join(format!("factory-two-runners-{}", std::process::id()));
    let runners: Vec<std::path::PathBuf> = ["runner-a", "runner-b"]
        .iter()
        .map(|name| base.join(name))
        .collect();
    for dir in &runners {
        std::fs::create_dir_all(dir).expect("make a runner's temp dir");
    }
    let mut failures = Vec::new();
    for round in 1..=ROUNDS {
        let groups: Vec<std::thread::JoinHandle<Vec<(String, Output)>>> = runners
            .iter()
            .cloned()
            .map(|tmp| std::thread::spawn(move || run_group(&tmp, AT_A_TIME)))
            .collect();
        for group in groups {
            for (test, out) in group.join().expect("a runner thread") {
                if !out.status.success() {
                    // libtest prints a test's panic on stdout.
                    let output = format!(
                        "{}{}",
                        String::from_utf8_lossy(&out.stdout),
                        String::from_utf8_lossy(&out.stderr)
                    );
                    let why = output
                        .lines()
                        .find(|l| l.contains("could not insert"))
                        .unwrap_or("failed")
                        .to_owned();
                    failures.push(format!("round {round}, {test}: {why}"));
                }
            }
        }
    }
    let _ = std::fs::remove_dir_all(&base);
    assert!(
        failures.is_empty(),
        "{} of {} processes failed, e.g.:\n{}",
        failures.len(),
        ROUNDS * 2 * 40,
        failures
            .iter()
            .take(5)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

/// One runner: the 40 tests as processes of this binary, `at_a_time` at once, with `tmp` as
/// their temporary directory.
fn run_group(tmp: &std::path::Path, at_a_time: usize) -> Vec<(String, Output)> {
    let tests: Vec<String> = (1..=40).map(|i| format!("rows_{i:02}")).collect();
    let mut done = Vec::new();
    for wave in tests.chunks(at_a_time) {
        let children: Vec<(String, std::process::Child)> = wave
            .iter()
            .map(|test| {
                let child = Command::new(std::env::current_exe().unwrap())
                    .args([test.as_str(), "--exact", "--test-threads=1"])
                    .env("TMPDIR", tmp)
                    .env_remove("FACTORY_SEQUENCE_FILE")
                    .env_remove("FACTORY_SEQUENCE_SCOPE")
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .expect("start a test process");
                (test.clone(), child)
            })
            .collect();
        for (test, child) in children {
            done.push((
                test,
                child.wait_with_output().expect("wait for a test process"),
            ));
        }
    }
    done
}
