//! Benchmark: creating orders and users on PostgreSQL and MariaDB with the factory, against
//! hand-written Diesel, and factory_boy's figures on PostgreSQL from the same run.
//!
//! ```text
//! cargo run --release --features postgres,mysql --example bench_backends
//! ```
//!
//! Databases: `factory_bench` on each server, created and migrated by `shop::postgres` /
//! `shop::mysql` if missing (`FACTORY_BENCH_POSTGRES_URL`, default
//! `postgres://postgres@127.0.0.1:5432/factory_bench`; `FACTORY_BENCH_MYSQL_URL`, default
//! `mysql://root@127.0.0.1:3306/factory_bench`). Before every measurement, outside the clock,
//! the tables are emptied and their identities reset (`TRUNCATE .. RESTART IDENTITY CASCADE` on
//! PostgreSQL; `TRUNCATE` with foreign key checks off on MySQL). Both sides generate their values
//! inside the timed region, the same ones: a sequence email, fake first and last names drawn one
//! RNG borrow per value (`factory_core::fake::value`, as the derive does), the username cut from
//! the email; orders `pending` with a fake total in `100..100_000`.
//!
//! Scenarios, per backend:
//!
//! - `single x1000`: `Order::factory().with_items(0).create(&mut conn)` 1,000 times (the factory
//!   creates a new user, then the order, in one transaction), against a hand-written transaction
//!   per order that inserts a `NewUser` and a `NewOrder` with its id, each read back as the
//!   factory does: `RETURNING` on PostgreSQL; on MySQL `INSERT`, `LAST_INSERT_ID()`, then a
//!   select by key. Reference line, timed in the same rounds and not held to the target:
//!   `hand + hook query`: the same hand-written code also sending the (empty) lines query of
//!   `Order`'s after-create hook, as the factory does.
//! - `batch 10000`: `User::factory().create_batch(10_000, &mut conn)`, against 10,000 hand-built
//!   `NewUser`s inserted in one transaction as multi-row `INSERT`s chunked under 65,535 binds, read
//!   back: `RETURNING` on PostgreSQL; on MySQL `LAST_INSERT_ID()` per chunk and one select of the
//!   id range ordered by id. Reference lines, timed in the same rounds and not held to the target:
//!   - `hand .execute`: the same chunks, nothing read back;
//!   - `hand COPY` (PostgreSQL): the same rows through `COPY users (..) FROM STDIN` (binary), with
//!     Diesel's `copy_from(users::table).from_insertable(..)`, nothing read back.
//!
//! Every scenario runs once untimed per side, then `RUNS` timed rounds; the order of the sides
//! rotates from round to round. The table shows the best and the median; the 1.2x target is
//! checked on the best, and a median over it is flagged. A last, untimed run of each side counts
//! the statements it sends (Diesel's instrumentation: every round trip, `BEGIN`, `SAVEPOINT` and
//! `COMMIT` included).
//!
//! At the end, the factory_boy peer (`/work/shared/peer/factory_boy_bench.py URL flush`,
//! PostgreSQL only) runs once, and its `single` and `batch` seconds are set beside our PostgreSQL
//! figures. Environment as in `bench_build`: `FACTORY_BOY_PYTHON` (default
//! `/work/peer-venv/bin/python`; empty skips the peer), `FACTORY_BOY_URL` (default
//! `postgresql+psycopg2://postgres@127.0.0.1/factory_peer`), `FACTORY_BOY_SCRIPT`.

use diesel::dsl::insert_into;
use diesel::sql_types::{BigInt, Unsigned};
use diesel::{prelude::*, MysqlConnection, PgConnection};
use factory_core::prelude::*;
use shop::schema::{order_items, orders, products, users};
use shop::{Order, OrderFactory, User, UserFactory};
use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const SINGLE: usize = 1_000;
const BATCH: usize = 10_000;
const RUNS: usize = 5;
/// The most ours may take relative to hand-written Diesel.
const TARGET_RATIO: f64 = 1.2;
/// PostgreSQL's wire protocol and MySQL's client protocol both count binds in 16 bits.
const BIND_LIMIT: usize = 65_535;
/// Columns a `NewUser` binds.
const NEW_USER_COLUMNS: usize = 7;

const POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/factory_bench";
const MYSQL_URL: &str = "mysql://root@127.0.0.1:3306/factory_bench";
const PEER_PYTHON: &str = "/work/peer-venv/bin/python";
const PEER_URL: &str = "postgresql+psycopg2://postgres@127.0.0.1/factory_peer";
const PEER_SCRIPT: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../shared/peer/factory_boy_bench.py"
);

/// The hand-written insertable: every column of `users` but `id`, each a plain bind (also what
/// `copy_from(..).from_insertable(..)` requires).
#[derive(Insertable)]
#[diesel(table_name = users, treat_none_as_default_value = false)]
struct NewUser {
    email: String,
    username: String,
    first_name: String,
    last_name: String,
    is_active: bool,
    is_staff: bool,
    role: String,
}

/// The hand-written order.
#[derive(Insertable)]
#[diesel(table_name = orders, treat_none_as_default_value = false)]
struct NewOrder {
    user_id: i32,
    status: String,
    total_cents: i32,
}

/// The values `User::factory()` gives, by hand.
fn new_user(n: u64) -> NewUser {
    let email = format!("user{n}@example.com");
    let username = email.split('@').next().unwrap_or_default().to_owned();
    NewUser {
        email,
        username,
        first_name: factory_core::fake::value(&FirstName()),
        last_name: factory_core::fake::value(&LastName()),
        is_active: true,
        is_staff: false,
        role: "customer".to_owned(),
    }
}

/// The values `Order::factory()` gives, by hand, for a user that exists.
fn new_order(user_id: i32) -> NewOrder {
    NewOrder {
        user_id,
        status: "pending".to_owned(),
        total_cents: factory_core::fake::value(&(100..100_000)),
    }
}

/// `n` users' values, by hand.
fn hand_built(n: usize, seq: &mut u64) -> Vec<NewUser> {
    (0..n)
        .map(|_| {
            *seq += 1;
            new_user(*seq)
        })
        .collect()
}

/// A benchmarked server: how to empty its tables, count their rows, and a few statements the
/// sides share.
trait Server: Connection + 'static {
    const NAME: &'static str;
    /// Empties `order_items`, `orders` and `users` and resets their identities.
    fn reset(&mut self);
    /// (users, orders).
    fn counts(&mut self) -> (i64, i64);
    /// One multi-row `INSERT` of `chunk`, nothing read back.
    fn execute_chunk(&mut self, chunk: &[NewUser]) -> QueryResult<usize>;
    /// The query `Order`'s after-create hook runs to sum an order's lines.
    fn order_lines(&mut self, order_id: i32) -> QueryResult<Vec<(i32, i32)>>;
}

/// The [`Server`] methods whose code is the same on both backends.
macro_rules! shared_methods {
    () => {
        fn counts(&mut self) -> (i64, i64) {
            let users = users::table.count().get_result(self).expect("count users");
            let orders = orders::table
                .count()
                .get_result(self)
                .expect("count orders");
            (users, orders)
        }

        fn execute_chunk(&mut self, chunk: &[NewUser]) -> QueryResult<usize> {
            insert_into(users::table).values(chunk).execute(self)
        }

        fn order_lines(&mut self, order_id: i32) -> QueryResult<Vec<(i32, i32)>> {
            order_items::table
                .inner_join(products::table)
                .filter(order_items::order_id.eq(order_id))
                .select((order_items::quantity, products::price_cents))
                .load(self)
        }
    };
}

impl Server for PgConnection {
    const NAME: &'static str = "PostgreSQL";

    fn reset(&mut self) {
        diesel::sql_query("TRUNCATE order_items, orders, users RESTART IDENTITY CASCADE")
            .execute(self)
            .expect("empty the tables");
    }

    shared_methods!();
}

impl Server for MysqlConnection {
    const NAME: &'static str = "MariaDB";

    fn reset(&mut self) {
        for sql in [
            "SET FOREIGN_KEY_CHECKS = 0",
            "TRUNCATE TABLE order_items",
            "TRUNCATE TABLE orders",
            "TRUNCATE TABLE users",
            "SET FOREIGN_KEY_CHECKS = 1",
        ] {
            diesel::sql_query(sql).execute(self).expect(sql);
        }
    }

    shared_methods!();
}

/// One side of a scenario: inserts, returns how many rows it got back (0 when it reads nothing
/// back).
type Side<C> = Box<dyn FnMut(&mut C) -> usize>;

/// Runs `side` on emptied tables, checks the (users, orders) it left, and returns its time.
fn run_once<C: Server>(conn: &mut C, rows: (i64, i64), side: &mut Side<C>) -> Duration {
    conn.reset();
    let start = Instant::now();
    let returned = black_box(side(conn));
    let elapsed = start.elapsed();
    assert_eq!(conn.counts(), rows, "{}: (users, orders) stored", C::NAME);
    assert!(
        returned == rows.0 as usize || returned == 0,
        "{}: rows returned",
        C::NAME
    );
    elapsed
}

/// How many statements (every round trip Diesel makes, `BEGIN`/`SAVEPOINT`/`COMMIT` included)
/// one untimed run of `side` sends.
fn statements<C: Server>(conn: &mut C, rows: (i64, i64), side: &mut Side<C>) -> usize {
    use diesel::connection::InstrumentationEvent;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    let sent = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&sent);
    conn.reset();
    conn.set_instrumentation(move |event: InstrumentationEvent<'_>| {
        if let InstrumentationEvent::StartQuery { .. } = event {
            counter.fetch_add(1, Ordering::Relaxed);
        }
    });
    side(conn);
    conn.set_instrumentation(|_: InstrumentationEvent<'_>| {});
    assert_eq!(conn.counts(), rows, "{}: (users, orders) stored", C::NAME);
    sent.load(Ordering::Relaxed)
}

/// One side's timed rounds and statement count.
#[derive(Clone)]
struct Measured {
    times: Vec<Duration>,
    statements: usize,
}

/// A warm-up of each side, then `RUNS` rounds, each starting one side later than the last;
/// then one untimed run of each side counting its statements.
fn measure<C: Server>(conn: &mut C, rows: (i64, i64), mut sides: Vec<Side<C>>) -> Vec<Measured> {
    for side in sides.iter_mut() {
        run_once(conn, rows, side);
    }
    let mut times = vec![Vec::with_capacity(RUNS); sides.len()];
    for round in 0..RUNS {
        for k in 0..sides.len() {
            let i = (round + k) % sides.len();
            times[i].push(run_once(conn, rows, &mut sides[i]));
        }
    }
    times
        .into_iter()
        .zip(sides.iter_mut())
        .map(|(times, side)| Measured {
            times,
            statements: statements(conn, rows, side),
        })
        .collect()
}

/// `Order::factory().with_items(0).create` one by one.
fn ours_single<C: Server>() -> Side<C>
where
    OrderFactory: Create<C>,
{
    Box::new(|conn| {
        let mut out = Vec::with_capacity(SINGLE);
        for _ in 0..SINGLE {
            out.push(Order::factory().with_items(0).create(conn));
        }
        out.len()
    })
}

/// `User::factory().create_batch`.
fn ours_batch<C: Server>() -> Side<C>
where
    UserFactory: Create<C>,
{
    Box::new(|conn| User::factory().create_batch(BATCH, conn).len())
}

/// The batch's multi-row chunks with `.execute`: nothing read back.
fn hand_batch_execute<C: Server>() -> Side<C> {
    let mut seq = 0;
    Box::new(move |conn| {
        let rows = hand_built(BATCH, &mut seq);
        conn.transaction(|conn| {
            for chunk in rows.chunks(BIND_LIMIT / NEW_USER_COLUMNS) {
                C::execute_chunk(conn, chunk)?;
            }
            QueryResult::Ok(0)
        })
        .expect("insert the batch")
    })
}

/// A user and an order per transaction, each read back with `RETURNING`. With `hook`, also
/// the query `Order`'s after-create hook runs (the statements the factory sends).
fn pg_hand_single(hook: bool) -> Side<PgConnection> {
    let mut seq = 0;
    Box::new(move |conn| {
        let mut out = Vec::with_capacity(SINGLE);
        for _ in 0..SINGLE {
            seq += 1;
            let new = new_user(seq);
            let order = conn
                .transaction(|conn| {
                    let user: User = insert_into(users::table)
                        .values(&new)
                        .returning(User::as_returning())
                        .get_result(conn)?;
                    let order: Order = insert_into(orders::table)
                        .values(&new_order(user.id))
                        .returning(Order::as_returning())
                        .get_result(conn)?;
                    if hook {
                        assert!(conn.order_lines(order.id)?.is_empty());
                    }
                    QueryResult::Ok(order)
                })
                .expect("insert a user and an order");
            out.push(order);
        }
        out.len()
    })
}

/// Multi-row `INSERT .. RETURNING`s in one transaction.
fn pg_hand_batch() -> Side<PgConnection> {
    let mut seq = 0;
    Box::new(move |conn| {
        let rows = hand_built(BATCH, &mut seq);
        let stored: Vec<User> = conn
            .transaction(|conn| {
                let mut stored = Vec::with_capacity(rows.len());
                for chunk in rows.chunks(BIND_LIMIT / NEW_USER_COLUMNS) {
                    stored.extend(
                        insert_into(users::table)
                            .values(chunk)
                            .returning(User::as_returning())
                            .get_results(conn)?,
                    );
                }
                QueryResult::Ok(stored)
            })
            .expect("insert the batch");
        stored.len()
    })
}

/// The same rows through `COPY users (..) FROM STDIN` (binary format), nothing read back.
fn pg_hand_copy() -> Side<PgConnection> {
    let mut seq = 0;
    Box::new(move |conn| {
        let rows = hand_built(BATCH, &mut seq);
        let copied = diesel::copy_from(users::table)
            .from_insertable(rows)
            .execute(conn)
            .expect("copy the batch");
        assert_eq!(copied, BATCH);
        0
    })
}

/// The id MySQL gave the first row of the last `INSERT`.
fn last_insert_id(conn: &mut MysqlConnection) -> QueryResult<i32> {
    let id: u64 = diesel::select(diesel::dsl::sql::<Unsigned<BigInt>>("LAST_INSERT_ID()"))
        .get_result(conn)?;
    Ok(id as i32)
}

/// Inserts a row with `insert`, then reads it back by `LAST_INSERT_ID()` with `find`.
fn mysql_insert_read<T>(
    conn: &mut MysqlConnection,
    insert: impl FnOnce(&mut MysqlConnection) -> QueryResult<usize>,
    find: impl FnOnce(&mut MysqlConnection, i32) -> QueryResult<T>,
) -> QueryResult<T> {
    insert(conn)?;
    let id = last_insert_id(conn)?;
    find(conn, id)
}

/// A user and an order per transaction, each inserted, then read back by `LAST_INSERT_ID()`.
/// With `mimic`, also the query `Order`'s after-create hook runs, as the factory sends it.
fn mysql_hand_single(mimic: bool) -> Side<MysqlConnection> {
    let mut seq = 0;
    Box::new(move |conn| {
        let mut out = Vec::with_capacity(SINGLE);
        for _ in 0..SINGLE {
            seq += 1;
            let new = new_user(seq);
            let order = conn
                .transaction(|conn| {
                    let user: User = mysql_insert_read(
                        conn,
                        |conn| insert_into(users::table).values(&new).execute(conn),
                        |conn, id| {
                            users::table
                                .find(id)
                                .select(User::as_select())
                                .get_result(conn)
                        },
                    )?;
                    let order: Order = mysql_insert_read(
                        conn,
                        |conn| {
                            insert_into(orders::table)
                                .values(&new_order(user.id))
                                .execute(conn)
                        },
                        |conn, id| {
                            orders::table
                                .find(id)
                                .select(Order::as_select())
                                .get_result(conn)
                        },
                    )?;
                    if mimic {
                        assert!(conn.order_lines(order.id)?.is_empty());
                    }
                    QueryResult::Ok(order)
                })
                .expect("insert a user and an order");
            out.push(order);
        }
        out.len()
    })
}

/// Multi-row `INSERT`s in one transaction, each chunk read back as its id range.
fn mysql_hand_batch() -> Side<MysqlConnection> {
    let mut seq = 0;
    Box::new(move |conn| {
        let rows = hand_built(BATCH, &mut seq);
        let stored: Vec<User> = conn
            .transaction(|conn| {
                let mut stored = Vec::with_capacity(rows.len());
                for chunk in rows.chunks(BIND_LIMIT / NEW_USER_COLUMNS) {
                    insert_into(users::table).values(chunk).execute(conn)?;
                    let first = last_insert_id(conn)?;
                    stored.extend(
                        users::table
                            .filter(users::id.between(first, first + chunk.len() as i32 - 1))
                            .order(users::id)
                            .select(User::as_select())
                            .load(conn)?,
                    );
                }
                QueryResult::Ok(stored)
            })
            .expect("insert the batch");
        stored.len()
    })
}

/// One line of the table: a hand-written side against ours.
struct Line {
    scenario: String,
    ours: Measured,
    hand: Measured,
    /// Shown for context, not held to the target.
    reference: bool,
}

fn best(v: &[Duration]) -> Duration {
    *v.iter().min().expect("RUNS > 0")
}

fn median(v: &[Duration]) -> Duration {
    let mut v = v.to_vec();
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// One scenario: ours against the hand-written side, then the reference sides, all measured in
/// the same rounds.
fn scenario<C: Server>(
    conn: &mut C,
    name: String,
    rows: (i64, i64),
    ours: Side<C>,
    hand: Side<C>,
    references: Vec<(&str, Side<C>)>,
) -> Vec<Line> {
    let (names, extra): (Vec<&str>, Vec<Side<C>>) = references.into_iter().unzip();
    let sides = [ours, hand].into_iter().chain(extra).collect();
    let mut measured = measure(conn, rows, sides).into_iter();
    let ours = measured.next().expect("ours");
    let mut lines = vec![Line {
        scenario: format!("{} {name}", C::NAME),
        ours: ours.clone(),
        hand: measured.next().expect("hand-written"),
        reference: false,
    }];
    for (reference, hand) in names.into_iter().zip(measured) {
        lines.push(Line {
            scenario: format!("{} {name}, {reference}", C::NAME),
            ours: ours.clone(),
            hand,
            reference: true,
        });
    }
    lines
}

/// factory_boy's `single` and `batch` seconds, or why there are none.
fn run_peer() -> Result<(f64, f64), String> {
    let python = match std::env::var_os("FACTORY_BOY_PYTHON") {
        Some(p) if p.is_empty() => return Err("FACTORY_BOY_PYTHON is set empty".into()),
        Some(p) => PathBuf::from(p),
        None if Path::new(PEER_PYTHON).exists() => PathBuf::from(PEER_PYTHON),
        None => return Err(format!("{PEER_PYTHON} does not exist")),
    };
    let script = std::env::var_os("FACTORY_BOY_SCRIPT").map_or(PEER_SCRIPT.into(), PathBuf::from);
    let url = std::env::var("FACTORY_BOY_URL").unwrap_or_else(|_| PEER_URL.into());
    println!(
        "\nrunning the peer: {} {} {url} flush",
        python.display(),
        script.display()
    );
    let output = Command::new(&python)
        .arg(&script)
        .arg(&url)
        .arg("flush")
        .output()
        .map_err(|e| format!("cannot start {}: {e}", python.display()))?;
    let stdout = String::from_utf8_lossy(&output.stdout);
    let secs = |name: &str, rows: usize| {
        stdout.lines().find_map(|line| {
            let words: Vec<&str> = line.split_whitespace().collect();
            match words[..] {
                [n, secs, r] if n == name && r == rows.to_string() => secs.parse::<f64>().ok(),
                _ => None,
            }
        })
    };
    match (secs("single", SINGLE), secs("batch", BATCH)) {
        (Some(single), Some(batch)) if output.status.success() => Ok((single, batch)),
        _ => Err(format!(
            "the script {} (stdout {:?}; stderr ends {:?})",
            output.status,
            stdout.trim(),
            String::from_utf8_lossy(&output.stderr)
                .lines()
                .last()
                .unwrap_or_default()
        )),
    }
}

fn main() {
    // Fix the seed before timing, so its stderr line is not inside a measurement.
    let _ = factory_core::fake::seed();
    let pg_url =
        std::env::var("FACTORY_BENCH_POSTGRES_URL").unwrap_or_else(|_| POSTGRES_URL.into());
    let mysql_url = std::env::var("FACTORY_BENCH_MYSQL_URL").unwrap_or_else(|_| MYSQL_URL.into());

    let single = (SINGLE as i64, SINGLE as i64);
    let batch = (BATCH as i64, 0);

    let mut pg = shop::postgres(&pg_url);
    let mut lines = scenario(
        &mut pg,
        format!("single x{SINGLE}"),
        single,
        ours_single(),
        pg_hand_single(false),
        vec![("hand + hook query", pg_hand_single(true))],
    );
    lines.extend(scenario(
        &mut pg,
        format!("batch {BATCH}"),
        batch,
        ours_batch(),
        pg_hand_batch(),
        vec![
            ("hand .execute", hand_batch_execute()),
            ("hand COPY", pg_hand_copy()),
        ],
    ));
    drop(pg);

    let mut mysql = shop::mysql(&mysql_url);
    lines.extend(scenario(
        &mut mysql,
        format!("single x{SINGLE}"),
        single,
        ours_single(),
        mysql_hand_single(false),
        vec![("hand + hook query", mysql_hand_single(true))],
    ));
    lines.extend(scenario(
        &mut mysql,
        format!("batch {BATCH}"),
        batch,
        ours_batch(),
        mysql_hand_batch(),
        vec![("hand .execute", hand_batch_execute())],
    ));
    drop(mysql);

    println!(
        "\nours = the factory, hand = hand-written Diesel; tables emptied before every run, \
         {RUNS} rounds after a warm-up, order rotating; release build\n\
         PostgreSQL {pg_url}\nMariaDB    {mysql_url}\n"
    );
    println!(
        "{:<50} {:>9} {:>9} {:>7} | {:>9} {:>9} {:>7} | {:>13}  within {TARGET_RATIO}x (best)",
        "scenario", "ours ms", "hand ms", "ratio", "ours ms", "hand ms", "ratio", "statements"
    );
    println!(
        "{:<50} {:^27} | {:^27} | {:^13}",
        "", "best of 5", "median of 5", "ours / hand"
    );
    println!("{}", "-".repeat(136));
    let mut over = Vec::new();
    for line in &lines {
        let (ours, hand) = (&line.ours.times, &line.hand.times);
        let (ob, hb) = (best(ours), best(hand));
        let (om, hm) = (median(ours), median(hand));
        let rb = ob.as_secs_f64() / hb.as_secs_f64();
        let rm = om.as_secs_f64() / hm.as_secs_f64();
        let verdict = if line.reference {
            "(reference)"
        } else if rb <= TARGET_RATIO && rm <= TARGET_RATIO {
            "yes"
        } else if rb <= TARGET_RATIO {
            "yes (median over)"
        } else {
            over.push(line.scenario.clone());
            "NO"
        };
        let statements = format!("{} / {}", line.ours.statements, line.hand.statements);
        println!(
            "{:<50} {:>9.2} {:>9.2} {:>6.2}x | {:>9.2} {:>9.2} {:>6.2}x | {:>13}  {}",
            line.scenario,
            ms(ob),
            ms(hb),
            rb,
            ms(om),
            ms(hm),
            rm,
            statements,
            verdict
        );
    }
    println!(
        "\nsingle: ours = Order::factory().with_items(0).create, a new user each; hand = a \
         transaction per order inserting the user then the order, each read back.\nbatch: ours = \
         User::factory().create_batch; hand = multi-row INSERTs in one transaction, read back \
         (RETURNING on PostgreSQL, LAST_INSERT_ID() + id-range select on MariaDB).\nreference \
         lines: `hook query` = hand plus the (empty) lines query Order's after_create hook runs; \
         `.execute` = the same chunks, nothing read back; `COPY` = COPY users \
         FROM STDIN (binary), nothing read back.\nstatements = round trips of one run (BEGIN, \
         SAVEPOINT, COMMIT included), counted in an extra untimed run."
    );
    if over.is_empty() {
        println!(
            "every scenario is within {TARGET_RATIO}x of hand-written Diesel (best of {RUNS})"
        );
    } else {
        println!(
            "over {TARGET_RATIO}x of hand-written Diesel (best of {RUNS}): {}",
            over.join(", ")
        );
    }

    let pg_best = |scenario: &str| {
        lines
            .iter()
            .find(|l| l.scenario == scenario)
            .map(|l| best(&l.ours.times).as_secs_f64())
            .expect("a PostgreSQL line")
    };
    let ours_single = pg_best(&format!("PostgreSQL single x{SINGLE}"));
    let ours_batch = pg_best(&format!("PostgreSQL batch {BATCH}"));
    match run_peer() {
        Ok((single, batch)) => {
            println!(
                "factory_boy on PostgreSQL (flush mode: one transaction, rolled back), measured \
                 once in this run, against ours on PostgreSQL (best of {RUNS}, a commit per order):"
            );
            println!(
                "{:<42} {:>12} {:>12} {:>10}",
                "scenario", "factory_boy", "ours", "speed-up"
            );
            for (name, peer, ours) in [
                (
                    format!("single x{SINGLE} (orders, a new user each)"),
                    single,
                    ours_single,
                ),
                (
                    format!("batch {BATCH} (create_batch of users)"),
                    batch,
                    ours_batch,
                ),
            ] {
                println!(
                    "{:<42} {:>10.0} ms {:>9.1} ms {:>9.1}x",
                    name,
                    peer * 1e3,
                    ours * 1e3,
                    peer / ours
                );
            }
        }
        Err(why) => println!("factory_boy: NOT MEASURED in this run: {why}"),
    }
}
