//! Benchmark: inserting users into SQLite with the factory, against hand-written Diesel.
//!
//! ```text
//! cargo run --release --example bench_sqlite
//! ```
//!
//! Each measurement gets a fresh database from `shop::sqlite` (migrations applied before the clock
//! starts): `:memory:`, and a file in the temporary directory (default journal mode and
//! synchronous setting, so every autocommitted insert syncs to disk). Both sides generate their
//! values inside the timed region, the same ones: a sequence email, fake first and last names
//! from the same `fake` fakers on the same seeded RNG, the username cut from the email.
//!
//! Scenarios:
//!
//! - `create x1000`: `User::factory().create(&mut conn)` 1,000 times, against a hand-written
//!   `NewUser` inserted with `insert_into(users).values(&new).returning(User::as_returning())
//!   .get_result(..)` 1,000 times;
//! - `create_batch 10000`: `User::factory().create_batch(10_000, &mut conn)`, against 10,000
//!   hand-built `NewUser`s inserted in one transaction as multi-row `INSERT .. RETURNING`s chunked
//!   under SQLite's 32,766 bind limit. Two reference lines, timed in the same rounds:
//!   - `hand .execute`: the same chunks without `RETURNING` (nothing read back);
//!   - `hand plain derive`: the same code with a plain `#[derive(Insertable)]` struct. Diesel
//!     treats its columns as possibly `DEFAULT`, which SQLite's multi-row `VALUES` cannot say,
//!     so it runs such a batch as one `INSERT` per row; `NewUser` opts out with
//!     `treat_none_as_default_value = false` to be the multi-row baseline asked for (checked at
//!     start-up with `debug_query`). The factory's rows are `column.eq(value)` tuples and batch
//!     as multi-row statements.
//!
//! Every scenario runs once untimed per side, then `RUNS` timed rounds; the order of the
//! sides rotates from round to round. The table shows the best and the median of the rounds; the
//! 1.2x target is checked on the best (the least disturbed by other processes and, on the file
//! database, by the jitter of the final fsync), and a median over it is flagged.

use bench::{NewUser, RUNS};
use diesel::prelude::*;
use diesel::sqlite::Sqlite;
use factory_core::Factory;
use shop::schema::users;
use shop::User;
use std::path::PathBuf;
use std::time::Duration;

#[path = "support/bench.rs"]
mod bench;

const SINGLE: usize = 1_000;
const BATCH: usize = 10_000;
/// SQLITE_MAX_VARIABLE_NUMBER of the bundled SQLite.
const BIND_LIMIT: usize = 32_766;
/// Rows per multi-row statement of a hand-written batch.
const PER_STATEMENT: usize = BIND_LIMIT / NewUser::COLUMNS;

/// [`NewUser`] with a plain `#[derive(Insertable)]`, for the reference line.
#[derive(Insertable)]
#[diesel(table_name = shop::schema::users)]
struct PlainNewUser {
    email: String,
    username: String,
    first_name: String,
    last_name: String,
    is_active: bool,
    is_staff: bool,
    role: String,
}

impl From<NewUser> for PlainNewUser {
    fn from(u: NewUser) -> Self {
        PlainNewUser {
            email: u.email,
            username: u.username,
            first_name: u.first_name,
            last_name: u.last_name,
            is_active: u.is_active,
            is_staff: u.is_staff,
            role: u.role,
        }
    }
}

/// Where each measurement's fresh database lives.
#[derive(Clone, Copy)]
enum Db {
    Memory,
    File,
}

impl Db {
    fn label(self) -> &'static str {
        match self {
            Db::Memory => ":memory:",
            Db::File => "temp file",
        }
    }
}

/// A fresh, migrated database; a file one is deleted on drop.
struct Fresh {
    conn: SqliteConnection,
    path: Option<PathBuf>,
}

impl Fresh {
    fn open(db: Db) -> Self {
        match db {
            Db::Memory => Fresh {
                conn: shop::sqlite(":memory:"),
                path: None,
            },
            Db::File => {
                use std::sync::atomic::{AtomicU32, Ordering};
                static NEXT: AtomicU32 = AtomicU32::new(0);
                let path = std::env::temp_dir().join(format!(
                    "factory-bench-{}-{}.sqlite",
                    std::process::id(),
                    NEXT.fetch_add(1, Ordering::Relaxed)
                ));
                let conn = shop::sqlite(path.to_str().expect("a UTF-8 temp path"));
                Fresh {
                    conn,
                    path: Some(path),
                }
            }
        }
    }

    fn users(&mut self) -> i64 {
        users::table
            .count()
            .get_result(&mut self.conn)
            .expect("count users")
    }
}

impl Drop for Fresh {
    fn drop(&mut self) {
        if let Some(path) = &self.path {
            for suffix in ["", "-journal", "-wal", "-shm"] {
                let mut p = path.clone().into_os_string();
                p.push(suffix);
                let _ = std::fs::remove_file(p);
            }
        }
    }
}

/// One side of a scenario: inserts into the connection, returns how many users it got back
/// (0 when it reads nothing back).
type Side = Box<dyn FnMut(&mut SqliteConnection) -> usize>;

/// Times one run of `side` on a fresh database and checks the table holds `rows` users after.
fn time_once(db: Db, rows: usize, side: &mut Side) -> Duration {
    let mut fresh = Fresh::open(db);
    let (returned, elapsed) = bench::timed(|| side(&mut fresh.conn));
    assert_eq!(fresh.users(), rows as i64, "rows stored");
    assert!(returned == rows || returned == 0, "rows returned");
    elapsed
}

/// `create` one by one, ours.
fn ours_single() -> Side {
    Box::new(|conn| {
        let mut out = Vec::with_capacity(SINGLE);
        for _ in 0..SINGLE {
            out.push(User::factory().create(conn));
        }
        out.len()
    })
}

/// `create` one by one, hand-written Diesel.
fn hand_single() -> Side {
    let mut seq = 0;
    Box::new(move |conn| {
        factory_core::fake::with_rng(|rng| {
            let mut out = Vec::with_capacity(SINGLE);
            for _ in 0..SINGLE {
                let new = NewUser::fake_with_rng(bench::next(&mut seq), rng);
                let user: User = diesel::insert_into(users::table)
                    .values(&new)
                    .returning(User::as_returning())
                    .get_result(conn)
                    .expect("insert a user");
                out.push(user);
            }
            out.len()
        })
    })
}

/// `create_batch`, ours.
fn ours_batch() -> Side {
    Box::new(|conn| User::factory().create_batch(BATCH, conn).len())
}

/// `create_batch`, hand-written Diesel: multi-row `INSERT .. RETURNING`s in one transaction.
fn hand_batch() -> Side {
    let mut seq = 0;
    Box::new(move |conn| {
        let rows = bench::hand_built(BATCH, &mut seq);
        bench::insert_batch_read_back(conn, &rows, PER_STATEMENT, |conn, chunk| {
            diesel::insert_into(users::table)
                .values(chunk)
                .returning(User::as_returning())
                .get_results(conn)
        })
    })
}

/// As [`hand_batch`] with `.execute`: no `RETURNING`, nothing read back.
fn hand_batch_execute() -> Side {
    let mut seq = 0;
    Box::new(move |conn| {
        let rows = bench::hand_built(BATCH, &mut seq);
        bench::insert_batch(conn, &rows, PER_STATEMENT, |conn, chunk| {
            diesel::insert_into(users::table)
                .values(chunk)
                .execute(conn)
                .map(drop)
        });
        0
    })
}

/// As [`hand_batch`] with a plain `#[derive(Insertable)]` struct, on which Diesel's SQLite
/// backend turns each chunk into one `INSERT .. RETURNING` per row.
fn hand_batch_plain_derive() -> Side {
    let mut seq = 0;
    Box::new(move |conn| {
        let rows: Vec<PlainNewUser> = bench::hand_built(BATCH, &mut seq)
            .into_iter()
            .map(PlainNewUser::from)
            .collect();
        bench::insert_batch_read_back(conn, &rows, PER_STATEMENT, |conn, chunk| {
            diesel::insert_into(users::table)
                .values(chunk)
                .returning(User::as_returning())
                .get_results(conn)
        })
    })
}

/// Checks what SQL a two-row batch of each hand-written struct becomes, so the baseline is the
/// multi-row insert it claims to be.
fn check_statement_shapes() {
    let mut seq = 0;
    let rows = bench::hand_built(2, &mut seq);
    let multi = diesel::debug_query::<Sqlite, _>(&diesel::insert_into(users::table).values(&rows))
        .to_string();
    assert!(
        multi.starts_with("INSERT") && multi.matches("INSERT").count() == 1,
        "NewUser should give one multi-row INSERT: {multi}"
    );
    let plain: Vec<PlainNewUser> = rows.into_iter().map(PlainNewUser::from).collect();
    let per_row =
        diesel::debug_query::<Sqlite, _>(&diesel::insert_into(users::table).values(&plain))
            .to_string();
    assert!(
        per_row.starts_with("BEGIN") && per_row.matches("INSERT").count() == 2,
        "a plain derive(Insertable) batch is one INSERT per row on SQLite: {per_row}"
    );
}

fn main() {
    // Fix the seed before timing, so its stderr line is not inside a measurement.
    let _ = factory_core::fake::seed();
    check_statement_shapes();

    let mut lines = Vec::new();
    for db in [Db::Memory, Db::File] {
        let label = db.label();
        let single = bench::measure(&mut [ours_single(), hand_single()], |side| {
            time_once(db, SINGLE, side)
        });
        lines.extend(bench::lines(
            format!("{label} create x{SINGLE}"),
            single,
            &[],
        ));

        let batch = bench::measure(
            &mut [
                ours_batch(),
                hand_batch(),
                hand_batch_execute(),
                hand_batch_plain_derive(),
            ],
            |side| time_once(db, BATCH, side),
        );
        lines.extend(bench::lines(
            format!("{label} create_batch {BATCH}"),
            batch,
            &["hand .execute", "hand plain derive"],
        ));
    }

    println!(
        "users into SQLite: ours = User::factory(), hand = hand-written Diesel; a fresh database \
         per run, {RUNS} rounds after a warm-up, order rotating; release build\n"
    );
    bench::print_table(
        &lines,
        "reference lines: `.execute` = the same multi-row chunks without RETURNING (nothing read \
         back);\n`plain derive` = RETURNING with a plain #[derive(Insertable)] struct, which \
         Diesel inserts one row per statement on SQLite.",
    );
}
