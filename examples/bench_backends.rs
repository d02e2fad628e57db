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

use bench::{Line, NewUser, RUNS};
use diesel::dsl::insert_into;
use diesel::sql_types::{BigInt, Unsigned};
use diesel::{prelude::*, MysqlConnection, PgConnection};
use factory_core::prelude::*;
use shop::schema::{order_items, orders, products, users};
use shop::{Order, OrderFactory, User, UserFactory};
use std::time::Duration;

#[path = "support/bench.rs"]
mod bench;

const SINGLE: usize = 1_000;
const BATCH: usize = 10_000;
/// PostgreSQL's wire protocol and MySQL's client protocol both count binds in 16 bits.
const BIND_LIMIT: usize = 65_535;
/// Rows per multi-row statement of a hand-written batch.
const PER_STATEMENT: usize = BIND_LIMIT / NewUser::COLUMNS;

const POSTGRES_URL: &str = "postgres://postgres@127.0.0.1:5432/factory_bench";
const MYSQL_URL: &str = "mysql://root@127.0.0.1:3306/factory_bench";

/// The hand-written order.
#[derive(Insertable)]
#[diesel(table_name = orders, treat_none_as_default_value = false)]
struct NewOrder {
    user_id: i32,
    status: String,
    total_cents: i32,
}

/// The values `Order::factory()` gives, by hand, for a user that exists.
fn new_order(user_id: i32) -> NewOrder {
    NewOrder {
        user_id,
        status: "pending".to_owned(),
        total_cents: factory_core::fake::value(&(100..100_000)),
    }
}

/// A benchmarked server: how to empty its tables, count their rows, and the statements the sides
/// send, which differ between the backends where the read-back does.
trait Server: Connection + 'static {
    const NAME: &'static str;
    /// Empties `order_items`, `orders` and `users` and resets their identities.
    fn reset(&mut self);
    /// (users, orders).
    fn counts(&mut self) -> (i64, i64);
    /// One multi-row `INSERT` of `chunk`, nothing read back.
    fn execute_chunk(&mut self, chunk: &[NewUser]) -> QueryResult<usize>;
    /// One multi-row `INSERT` of `chunk`, its users read back.
    fn insert_chunk(&mut self, chunk: &[NewUser]) -> QueryResult<Vec<User>>;
    /// Inserts `new`, then a new order of that user, each read back.
    fn insert_user_and_order(&mut self, new: &NewUser) -> QueryResult<Order>;
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

/// PostgreSQL reads rows back with `RETURNING`.
impl Server for PgConnection {
    const NAME: &'static str = "PostgreSQL";

    fn reset(&mut self) {
        diesel::sql_query("TRUNCATE order_items, orders, users RESTART IDENTITY CASCADE")
            .execute(self)
            .expect("empty the tables");
    }

    fn insert_chunk(&mut self, chunk: &[NewUser]) -> QueryResult<Vec<User>> {
        insert_into(users::table)
            .values(chunk)
            .returning(User::as_returning())
            .get_results(self)
    }

    fn insert_user_and_order(&mut self, new: &NewUser) -> QueryResult<Order> {
        let user: User = insert_into(users::table)
            .values(new)
            .returning(User::as_returning())
            .get_result(self)?;
        insert_into(orders::table)
            .values(&new_order(user.id))
            .returning(Order::as_returning())
            .get_result(self)
    }

    shared_methods!();
}

/// MySQL reads rows back by `LAST_INSERT_ID()`: a select by key, or of a chunk's id range.
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

    fn insert_chunk(&mut self, chunk: &[NewUser]) -> QueryResult<Vec<User>> {
        insert_into(users::table).values(chunk).execute(self)?;
        let first = last_insert_id(self)?;
        users::table
            .filter(users::id.between(first, first + chunk.len() as i32 - 1))
            .order(users::id)
            .select(User::as_select())
            .load(self)
    }

    fn insert_user_and_order(&mut self, new: &NewUser) -> QueryResult<Order> {
        let user: User = mysql_insert_read(
            self,
            |conn| insert_into(users::table).values(new).execute(conn),
            |conn, id| {
                users::table
                    .find(id)
                    .select(User::as_select())
                    .get_result(conn)
            },
        )?;
        mysql_insert_read(
            self,
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
        )
    }

    shared_methods!();
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

/// One side of a scenario: inserts, returns how many rows it got back (0 when it reads nothing
/// back).
type Side<C> = Box<dyn FnMut(&mut C) -> usize>;

/// Runs `side` on emptied tables, checks the (users, orders) it left, and returns its time.
fn run_once<C: Server>(conn: &mut C, rows: (i64, i64), side: &mut Side<C>) -> Duration {
    conn.reset();
    let (returned, elapsed) = bench::timed(|| side(conn));
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

/// A user and an order per transaction, each read back as the factory does. With `hook`, also
/// the query `Order`'s after-create hook runs (the statements the factory sends).
fn hand_single<C: Server>(hook: bool) -> Side<C> {
    let mut seq = 0;
    Box::new(move |conn| {
        let mut out = Vec::with_capacity(SINGLE);
        for _ in 0..SINGLE {
            let new = NewUser::fake(bench::next(&mut seq));
            let order = conn
                .transaction(|conn| {
                    let order = conn.insert_user_and_order(&new)?;
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

/// Multi-row `INSERT`s in one transaction, each chunk read back.
fn hand_batch<C: Server>() -> Side<C> {
    let mut seq = 0;
    Box::new(move |conn| {
        let rows = bench::hand_built_per_value(BATCH, &mut seq);
        bench::insert_batch_read_back(conn, &rows, PER_STATEMENT, C::insert_chunk)
    })
}

/// The batch's multi-row chunks with `.execute`: nothing read back.
fn hand_batch_execute<C: Server>() -> Side<C> {
    let mut seq = 0;
    Box::new(move |conn| {
        let rows = bench::hand_built_per_value(BATCH, &mut seq);
        bench::insert_batch(conn, &rows, PER_STATEMENT, |conn, chunk| {
            C::execute_chunk(conn, chunk).map(drop)
        });
        0
    })
}

/// The same rows through `COPY users (..) FROM STDIN` (binary format), nothing read back.
fn pg_hand_copy() -> Side<PgConnection> {
    let mut seq = 0;
    Box::new(move |conn| {
        let rows = bench::hand_built_per_value(BATCH, &mut seq);
        let copied = diesel::copy_from(users::table)
            .from_insertable(rows)
            .execute(conn)
            .expect("copy the batch");
        assert_eq!(copied, BATCH);
        0
    })
}

/// One scenario: ours against the hand-written side, then the reference sides, all measured in
/// the same rounds; then one untimed run of each side counting its statements.
fn scenario<C: Server>(
    conn: &mut C,
    name: String,
    rows: (i64, i64),
    ours: Side<C>,
    hand: Side<C>,
    references: Vec<(&str, Side<C>)>,
) -> Vec<Line> {
    let (names, extra): (Vec<&str>, Vec<Side<C>>) = references.into_iter().unzip();
    let mut sides: Vec<Side<C>> = [ours, hand].into_iter().chain(extra).collect();
    let mut measured = bench::measure(&mut sides, |side| run_once(conn, rows, side));
    for (measured, side) in measured.iter_mut().zip(&mut sides) {
        measured.statements = Some(statements(conn, rows, side));
    }
    bench::lines(format!("{} {name}", C::NAME), measured, &names)
}

/// The `single` scenario: orders one by one, each creating its user, with the hook query's
/// reference line.
fn single_scenario<C: Server>(conn: &mut C) -> Vec<Line>
where
    OrderFactory: Create<C>,
{
    scenario(
        conn,
        format!("single x{SINGLE}"),
        (SINGLE as i64, SINGLE as i64),
        ours_single(),
        hand_single(false),
        vec![("hand + hook query", hand_single(true))],
    )
}

fn main() {
    // Fix the seed before timing, so its stderr line is not inside a measurement.
    let _ = factory_core::fake::seed();
    let pg_url =
        std::env::var("FACTORY_BENCH_POSTGRES_URL").unwrap_or_else(|_| POSTGRES_URL.into());
    let mysql_url = std::env::var("FACTORY_BENCH_MYSQL_URL").unwrap_or_else(|_| MYSQL_URL.into());

    let batch = (BATCH as i64, 0);

    let mut pg = shop::postgres(&pg_url);
    let mut lines = single_scenario(&mut pg);
    lines.extend(scenario(
        &mut pg,
        format!("batch {BATCH}"),
        batch,
        ours_batch(),
        hand_batch(),
        vec![
            ("hand .execute", hand_batch_execute()),
            ("hand COPY", pg_hand_copy()),
        ],
    ));
    drop(pg);

    let mut mysql = shop::mysql(&mysql_url);
    lines.extend(single_scenario(&mut mysql));
    lines.extend(scenario(
        &mut mysql,
        format!("batch {BATCH}"),
        batch,
        ours_batch(),
        hand_batch(),
        vec![("hand .execute", hand_batch_execute())],
    ));
    drop(mysql);

    println!(
        "\nours = the factory, hand = hand-written Diesel; tables emptied before every run, \
         {RUNS} rounds after a warm-up, order rotating; release build\n\
         PostgreSQL {pg_url}\nMariaDB    {mysql_url}\n"
    );
    bench::print_table(
        &lines,
        "single: ours = Order::factory().with_items(0).create, a new user each; hand = a \
         transaction per order inserting the user then the order, each read back.\nbatch: ours = \
         User::factory().create_batch; hand = multi-row INSERTs in one transaction, read back \
         (RETURNING on PostgreSQL, LAST_INSERT_ID() + id-range select on MariaDB).\nreference \
         lines: `hook query` = hand plus the (empty) lines query Order's after_create hook runs; \
         `.execute` = the same chunks, nothing read back; `COPY` = COPY users \
         FROM STDIN (binary), nothing read back.\nstatements = round trips of one run (BEGIN, \
         SAVEPOINT, COMMIT included), counted in an extra untimed run.",
    );

    let pg_best = |scenario: &str| {
        lines
            .iter()
            .find(|l| l.scenario == scenario)
            .map(|l| bench::best(&l.ours.times).as_secs_f64())
            .expect("a PostgreSQL line")
    };
    let ours_single = pg_best(&format!("PostgreSQL single x{SINGLE}"));
    let ours_batch = pg_best(&format!("PostgreSQL batch {BATCH}"));
    let peer = bench::Peer::from_env().and_then(|peer| {
        println!("\nrunning the peer: {peer}");
        peer.run(&[("single", SINGLE), ("batch", BATCH)])
    });
    match peer {
        Ok((secs, _)) => {
            let (single, batch) = (secs[0], secs[1]);
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
