//! Benchmark: the cost per test of each `TestDb` cleanup strategy on PostgreSQL, against what
//! `sqlx::test` does (a database created and migrated per test) and against hand-written Diesel
//! in a rolled-back transaction, all in the same run.
//!
//! ```text
//! cargo run --release --features postgres --example bench_cleanup
//! ```
//!
//! Database: `factory_bench_cleanup` (`FACTORY_BENCH_CLEANUP_URL`, default
//! `postgres://postgres@127.0.0.1:5432/factory_bench_cleanup`), created and migrated by
//! `shop::postgres` if missing and emptied once at start-up. Per-test databases and the
//! migrate-per-test databases are made on the same server.
//!
//! One "test" = open what a test opens, create a few rows (a user, an order of theirs without
//! lines, whose after-create hook still queries for them, and a product), then clean up.
//! Scenarios:
//!
//! 1. `Cleanup::Transaction`, 2. `Cleanup::Tracked`, 3. `Cleanup::Truncate` (on
//!    `factory_bench_cleanup`), 4. `Cleanup::DatabasePerTest`: `TestDb::builder(url)
//!    .migrations(..).cleanup(..).open()`, the rows through `&mut db`, `db.finish()`. The
//!    migrations are the shop's with `with_version("bench_cleanup")`, so the benchmark has a
//!    template and slots of its own (`factory_tpl_<hash>`, `factory_<hash>_<n>`), dropped at
//!    start-up so that the first DatabasePerTest test builds the template again: that one-off
//!    cost is reported on its own;
//! 5. `migrate per test`, what `sqlx::test` does: a maintenance connection to `postgres`,
//!    `CREATE DATABASE <unique>`, connect, `run_pending_migrations(shop::POSTGRES_MIGRATIONS)`, the
//!    same factory rows, disconnect, `DROP DATABASE`. (sqlx also keeps a bookkeeping table of
//!    its test databases; not done here, which flatters the baseline slightly.);
//! 6. `hand-written, open connection`: `BEGIN`, the same rows inserted by hand with Diesel
//!    (`RETURNING` each, the hook's lines query and total update), `ROLLBACK`, on a connection
//!    opened once: the floor. Reference lines: `hand-written + connect`, the same with a
//!    connection opened per test (what a connection costs); `factory rows, open connection`,
//!    the factories on that open connection in a transaction rolled back (what
//!    `Cleanup::Transaction` would cost on a reused connection).
//!
//! Every scenario but those on the open connection opens its own connections per test, as a
//! test process does. Each scenario runs a warm-up round, then `RUNS` timed rounds of `n` tests
//! (200, 100 for Tracked and Truncate, 30 for the two that create databases); the table shows ms
//! per test, best and median of the rounds. A `CHECKPOINT` precedes every round, outside the
//! clock: `DROP DATABASE` forces a checkpoint, which would otherwise make migrate-per-test pay
//! for the disk writes the other scenarios deferred.
//!
//! The scenarios run in three groups, one after the other, the rounds rotating within a group
//! (see [`GROUPS`]): those that create no files (Transaction, Tracked, the hand-written lines),
//! then migrate-per-test, then the two that empty tables (Truncate; DatabasePerTest, which now
//! deletes rather than truncates, kept in that group). On the ext4
//! disk this was written on, creating a file gets slower for minutes after many files were
//! unlinked: `CREATE DATABASE` (about 300 files) went from ~30 ms to ~200 ms after a few
//! thousand TRUNCATEs, most of it in the kernel (`perf`: `recently_deleted`,
//! `find_inode_bit`). Measured in one rotation with the TRUNCATE scenarios, migrate-per-test
//! doubled. The program prints a probe of that state (an empty database created and dropped)
//! before each group and at the end.
//!
//! The second table simulates nextest (one process per test): the example spawns itself with
//! `FACTORY_BENCH_CLEANUP_CHILD=<scenario>`, which runs one test and exits, `CHILDREN` times per
//! scenario after one warm-up child, and shows the wall time per child as the parent sees it
//! (process start, dynamic loading, connections, the test, exit), nothing subtracted. The
//! `process only` line is a child that exits at once.
//!
//! `FACTORY_BENCH_CLEANUP_PROFILE=1` prints, instead of the tables, where each scenario's time
//! goes: every connection and statement of the process (factory-core's included) is timed
//! through Diesel's default instrumentation and put in a step by its SQL (connect, advisory
//! locks, migrations bookkeeping, TRUNCATE, COMMENT ON DATABASE, the rows, ...).

use bench::RUNS;
use diesel::connection::SimpleConnection;
use diesel::insert_into;
use diesel::pg::{Pg, PgConnection};
use diesel::prelude::*;
use diesel_migrations::MigrationHarness;
use factory_core::cleanup::{Cleanup, Migrations, TestDb};
use factory_core::prelude::*;
use shop::schema::{order_items, orders, products, users};
use shop::{Order, Product, User};
use std::hint::black_box;
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[path = "support/bench.rs"]
mod bench;

const URL: &str = "postgres://postgres@127.0.0.1:5432/factory_bench_cleanup";
const URL_VAR: &str = "FACTORY_BENCH_CLEANUP_URL";
/// Set in a child: the key of the one test it runs.
const CHILD_VAR: &str = "FACTORY_BENCH_CLEANUP_CHILD";
/// Children spawned per scenario in the nextest simulation (after one warm-up child).
const CHILDREN: usize = 20;
/// Set (not `0`): print where each scenario's time goes instead of the tables.
const PROFILE_VAR: &str = "FACTORY_BENCH_CLEANUP_PROFILE";
/// Prefix of the migrate-per-test databases.
const MPT_PREFIX: &str = "factory_bench_mpt_";

/// The scenarios measured together (a warm-up, then rounds rotating within the group), then
/// the ones run as children, group after group. The groups keep scenarios that make the
/// server create and unlink many files (TRUNCATE: new files for every table, index and
/// sequence) from slowing down the ones measured after them: on this machine's ext4, creating a
/// file gets slower for minutes after many were unlinked (`perf`: most of `CREATE DATABASE` in
/// the kernel's `recently_deleted` / `find_inode_bit`), and migrate-per-test creates ~300 files
/// per test.
const GROUPS: [(&[Scenario], &[Scenario]); 3] = [
    (
        &[
            Scenario::Transaction,
            Scenario::Tracked,
            Scenario::Hand,
            Scenario::HandConnect,
            Scenario::FactoryOpen,
        ],
        &[
            Scenario::Process,
            Scenario::Transaction,
            Scenario::Tracked,
            Scenario::HandConnect,
        ],
    ),
    (&[Scenario::MigratePerTest], &[Scenario::MigratePerTest]),
    (
        &[Scenario::Truncate, Scenario::DatabasePerTest],
        &[Scenario::Truncate, Scenario::DatabasePerTest],
    ),
];

/// The shop's migrations under a version of the benchmark's own: its template and slots are
/// not the ones the test suite uses.
fn migrations() -> Migrations {
    Migrations::new(&shop::POSTGRES_MIGRATIONS).with_version("bench_cleanup")
}

/// The hand-written order.
#[derive(Insertable)]
#[diesel(table_name = orders, treat_none_as_default_value = false)]
struct NewOrder {
    user_id: i32,
    status: String,
    total_cents: i32,
}

/// The hand-written product.
#[derive(Insertable)]
#[diesel(table_name = products, treat_none_as_default_value = false)]
struct NewProduct {
    name: String,
    price_cents: i32,
    stock: i32,
    category: String,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Scenario {
    Transaction,
    Tracked,
    Truncate,
    DatabasePerTest,
    MigratePerTest,
    Hand,
    HandConnect,
    FactoryOpen,
    /// Children only: a process that exits at once.
    Process,
}

impl Scenario {
    /// The scenarios of the in-process table, in its order.
    const TIMED: [Scenario; 8] = [
        Scenario::Transaction,
        Scenario::Tracked,
        Scenario::Truncate,
        Scenario::DatabasePerTest,
        Scenario::MigratePerTest,
        Scenario::Hand,
        Scenario::HandConnect,
        Scenario::FactoryOpen,
    ];

    /// The scenarios of the nextest table, in its order.
    const CHILDREN: [Scenario; 7] = [
        Scenario::Transaction,
        Scenario::Tracked,
        Scenario::Truncate,
        Scenario::DatabasePerTest,
        Scenario::MigratePerTest,
        Scenario::HandConnect,
        Scenario::Process,
    ];

    fn key(self) -> &'static str {
        match self {
            Scenario::Transaction => "transaction",
            Scenario::Tracked => "tracked",
            Scenario::Truncate => "truncate",
            Scenario::DatabasePerTest => "database-per-test",
            Scenario::MigratePerTest => "migrate-per-test",
            Scenario::Hand => "hand",
            Scenario::HandConnect => "hand-connect",
            Scenario::FactoryOpen => "factory-open",
            Scenario::Process => "process",
        }
    }

    fn from_key(key: &str) -> Option<Self> {
        Self::TIMED
            .into_iter()
            .chain([Scenario::Process])
            .find(|s| s.key() == key)
    }

    fn label(self) -> &'static str {
        match self {
            Scenario::Transaction => "1. Cleanup::Transaction",
            Scenario::Tracked => "2. Cleanup::Tracked",
            Scenario::Truncate => "3. Cleanup::Truncate",
            Scenario::DatabasePerTest => "4. Cleanup::DatabasePerTest",
            Scenario::MigratePerTest => "5. migrate per test (sqlx::test)",
            Scenario::Hand => "6. hand-written, open connection (floor)",
            Scenario::HandConnect => "   hand-written + connect (reference)",
            Scenario::FactoryOpen => "   factory rows, open connection (reference)",
            Scenario::Process => "   process only (exits at once)",
        }
    }

    /// Tests per timed round.
    fn iterations(self) -> usize {
        match self {
            Scenario::DatabasePerTest | Scenario::MigratePerTest => 30,
            Scenario::Tracked | Scenario::Truncate => 100,
            _ => 200,
        }
    }

    fn cleanup(self) -> Option<Cleanup> {
        match self {
            Scenario::Transaction => Some(Cleanup::Transaction),
            Scenario::Tracked => Some(Cleanup::Tracked),
            Scenario::Truncate => Some(Cleanup::Truncate),
            Scenario::DatabasePerTest => Some(Cleanup::DatabasePerTest),
            _ => None,
        }
    }
}

/// What the tests need: the URLs, and the floor's open connection.
struct Bench {
    url: String,
    /// `scheme://user@host:port`, no database.
    server: String,
    conn: Option<PgConnection>,
    seq: u64,
}

impl Bench {
    fn new(url: String) -> Self {
        let server = url
            .rsplit_once('/')
            .map(|(server, _)| server.to_owned())
            .expect("a URL ending in /<database>");
        Bench {
            url,
            server,
            conn: None,
            seq: 0,
        }
    }

    /// How long `CREATE DATABASE` + `DROP DATABASE` of an empty database take now (best of 3),
    /// on a maintenance connection opened beforehand: the state of the disk.
    fn probe(&mut self) -> Duration {
        let mut admin = connect(&self.maintenance_url());
        let name = format!("{MPT_PREFIX}probe_{}", std::process::id());
        let times: Vec<Duration> = (0..3)
            .map(|_| {
                bench::timed(|| {
                    admin
                        .batch_execute(&format!("CREATE DATABASE {name}"))
                        .and_then(|()| admin.batch_execute(&format!("DROP DATABASE {name}")))
                        .expect("create and drop the probe database")
                })
                .1
            })
            .collect();
        bench::best(&times)
    }

    /// `CHECKPOINT`, outside the clock: the disk writes other scenarios deferred are not paid
    /// by the next one. (`DROP DATABASE` forces a checkpoint: without this, migrate-per-test
    /// would pay for the rows and files of whatever ran before it.)
    fn checkpoint(&mut self) {
        self.conn
            .get_or_insert_with(|| connect(&self.url))
            .batch_execute("CHECKPOINT")
            .expect("CHECKPOINT (needs a superuser or pg_checkpoint)");
    }

    fn maintenance_url(&self) -> String {
        format!("{}/postgres", self.server)
    }

    /// Runs one test of `scenario`.
    fn test(&mut self, scenario: Scenario) {
        match scenario {
            Scenario::Process => {}
            Scenario::MigratePerTest => self.migrate_per_test(),
            Scenario::Hand => hand_test(
                self.conn.get_or_insert_with(|| connect(&self.url)),
                &mut self.seq,
            ),
            Scenario::HandConnect => hand_test(&mut connect(&self.url), &mut self.seq),
            Scenario::FactoryOpen => {
                let conn = self.conn.get_or_insert_with(|| connect(&self.url));
                let result = conn.transaction::<(), _, _>(|conn| {
                    factory_rows(conn);
                    Err(diesel::result::Error::RollbackTransaction)
                });
                assert!(matches!(
                    result,
                    Err(diesel::result::Error::RollbackTransaction)
                ));
            }
            strategy => {
                let cleanup = strategy.cleanup().expect("a TestDb strategy");
                let mut db = TestDb::<PgConnection>::builder(&self.url)
                    .migrations(migrations())
                    .cleanup(cleanup)
                    .open()
                    .unwrap_or_else(|e| panic!("open {cleanup}: {e}"));
                factory_rows(&mut db);
                db.finish()
                    .unwrap_or_else(|e| panic!("finish {cleanup}: {e}"));
            }
        }
    }

    /// What `sqlx::test` does: a database of the test's own, created, migrated and dropped.
    fn migrate_per_test(&mut self) {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let name = format!(
            "{MPT_PREFIX}{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let mut admin = connect(&self.maintenance_url());
        admin
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .expect("create the test's database");
        {
            let mut conn = connect(&format!("{}/{name}", self.server));
            conn.run_pending_migrations(shop::POSTGRES_MIGRATIONS)
                .expect("migrate the test's database");
            factory_rows(&mut conn);
        }
        admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {name}"))
            .expect("drop the test's database");
    }
}

fn connect(url: &str) -> PgConnection {
    PgConnection::establish(url).unwrap_or_else(|e| panic!("connect to {url}: {e}"))
}

/// The test's few rows, by the factories: a user, an order of theirs (no lines; the order's
/// after-create hook still looks for them) and a product.
fn factory_rows<C>(conn: &mut C)
where
    shop::OrderFactory: Create<C>,
    shop::UserFactory: Create<C>,
    shop::ProductFactory: Create<C>,
{
    let user = User::factory().create(conn);
    let order = Order::factory().user(&user).with_items(0).create(conn);
    let product = shop::Product::factory().create(conn);
    assert_eq!(order.user_id, user.id);
    black_box((user, order, product));
}

/// The same rows by hand, in a transaction rolled back: each row read back with `RETURNING`,
/// then the lines query and the total update of `Order`'s after-create hook.
fn hand_test(conn: &mut PgConnection, seq: &mut u64) {
    let result = conn.transaction::<(), _, _>(|conn| {
        let new_user = |seq: &mut u64| bench::NewUser::fake(bench::next(seq));
        let user: User = insert_into(users::table)
            .values(&new_user(seq))
            .returning(User::as_returning())
            .get_result(conn)?;
        let mut order: Order = insert_into(orders::table)
            .values(&NewOrder {
                user_id: user.id,
                status: "pending".to_owned(),
                total_cents: factory_core::fake::value(&(100..100_000)),
            })
            .returning(Order::as_returning())
            .get_result(conn)?;
        let lines: Vec<(i32, i32)> = order_items::table
            .inner_join(products::table)
            .filter(order_items::order_id.eq(order.id))
            .select((order_items::quantity, products::price_cents))
            .load(conn)?;
        if !lines.is_empty() {
            order.total_cents = lines.iter().map(|(quantity, price)| quantity * price).sum();
        }
        let other: Product = insert_into(products::table)
            .values(&NewProduct {
                name: format!("Product {}", bench::next(seq)),
                price_cents: factory_core::fake::value(&(100..10_000)),
                stock: factory_core::fake::value(&(0..100)),
                category: "electronics".to_owned(),
            })
            .returning(Product::as_returning())
            .get_result(conn)?;
        black_box((user, order, other));
        Err(diesel::result::Error::RollbackTransaction)
    });
    assert!(
        matches!(result, Err(diesel::result::Error::RollbackTransaction)),
        "hand-written rows: {result:?}"
    );
}

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = diesel::sql_types::Text)]
    name: String,
}

/// Drops the databases named by `filter` (a `LIKE` pattern on `datname`).
fn drop_databases(admin: &mut PgConnection, pattern: &str) -> usize {
    let names: Vec<Name> =
        diesel::sql_query("SELECT datname::text AS name FROM pg_database WHERE datname LIKE $1")
            .bind::<diesel::sql_types::Text, _>(pattern)
            .load(admin)
            .expect("list databases");
    for Name { name } in &names {
        admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS \"{name}\""))
            .unwrap_or_else(|e| panic!("drop {name}: {e}"));
    }
    names.len()
}

/// One scenario's timed rounds, in ms per test.
struct Row {
    scenario: Scenario,
    per_test: Vec<Duration>,
}

impl Row {
    fn best(&self) -> f64 {
        bench::ms(bench::best(&self.per_test))
    }
    fn median(&self) -> f64 {
        bench::ms(bench::median(&self.per_test))
    }
}

/// One child running one test of `scenario`: its wall time as the parent sees it.
fn child(exe: &std::path::Path, url: &str, scenario: Scenario) -> Duration {
    let start = Instant::now();
    let output = Command::new(exe)
        .env(CHILD_VAR, scenario.key())
        .env(URL_VAR, url)
        .output()
        .expect("spawn the child");
    let wall = start.elapsed();
    assert!(
        output.status.success(),
        "child {} {}: {}",
        scenario.key(),
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    wall
}

fn main() {
    let url = std::env::var(URL_VAR).unwrap_or_else(|_| URL.into());
    if let Ok(key) = std::env::var(CHILD_VAR) {
        let scenario =
            Scenario::from_key(&key).unwrap_or_else(|| panic!("unknown {CHILD_VAR}={key}"));
        Bench::new(url).test(scenario);
        return;
    }
    let profiling = std::env::var(PROFILE_VAR).is_ok_and(|v| !v.is_empty() && v != "0");
    if profiling {
        profile::install();
    }
    // Fix the seed before timing, so its stderr line is not inside a measurement.
    let _ = factory_core::fake::seed();
    let mut bench = Bench::new(url.clone());

    // Set-up, outside the clock: the database migrated and empty; what earlier runs left of
    // the migrate-per-test databases and of the benchmark's template and slots dropped.
    let mut conn = shop::postgres(&url);
    conn.batch_execute(
        "TRUNCATE users, products, orders, order_items, reviews, tags, ledger_entries, api_keys \
         RESTART IDENTITY CASCADE",
    )
    .expect("empty the benchmark database");
    bench.conn = Some(conn);
    let hash = migrations().hash::<Pg>();
    {
        let mut admin = connect(&bench.maintenance_url());
        drop_databases(&mut admin, &format!("{}%", MPT_PREFIX.replace('_', "\\_")));
        drop_databases(&mut admin, &format!("factory\\_tpl\\_{hash}%"));
        drop_databases(&mut admin, &format!("factory\\_{hash}\\_%"));
    }

    if profiling {
        profile::run(&mut bench);
        return;
    }

    // The first DatabasePerTest test builds the template and clones slot 0: a one-off.
    let (_, first_open) = bench::timed(|| {
        TestDb::<PgConnection>::builder(&url)
            .migrations(migrations())
            .cleanup(Cleanup::DatabasePerTest)
            .open()
            .expect("open the first per-test database")
    });
    let (_, first_test) = bench::timed(|| bench.test(Scenario::DatabasePerTest));
    // (The first handle is dropped, and its slot released, at the end of its `let`: outside
    // both measurements.)

    let exe = std::env::current_exe().expect("the example's own path");
    let mut rows: Vec<Row> = Vec::new();
    let mut children: Vec<(Scenario, Vec<Duration>)> = Vec::new();
    let mut probes = Vec::new();
    for (group, spawned) in GROUPS {
        probes.push(bench.probe());
        let mut sides = group.to_vec();
        let measured = bench::measure(&mut sides, |&mut scenario| {
            bench.checkpoint();
            let n = scenario.iterations();
            let (_, elapsed) = bench::timed(|| {
                for _ in 0..n {
                    bench.test(scenario);
                }
            });
            elapsed / n as u32
        });
        rows.extend(sides.iter().zip(measured).map(|(&scenario, m)| Row {
            scenario,
            per_test: m.times,
        }));
        // Nextest: one process per test.
        for &scenario in spawned {
            bench.checkpoint();
            child(&exe, &url, scenario);
            let times = (0..CHILDREN).map(|_| child(&exe, &url, scenario)).collect();
            children.push((scenario, times));
        }
    }
    probes.push(bench.probe());
    rows.sort_by_key(|r| Scenario::TIMED.iter().position(|&s| s == r.scenario));
    children.sort_by_key(|(s, _)| Scenario::CHILDREN.iter().position(|c| c == s));
    let row = |s: Scenario| rows.iter().find(|r| r.scenario == s).expect("measured");
    let baseline = row(Scenario::MigratePerTest);

    println!(
        "\nPostgreSQL {url}; release build; a warm-up round, then {RUNS} rounds of n tests per \
         scenario, rotating within groups\n"
    );
    println!(
        "{:<44} {:>5} {:>10} {:>10} {:>16}",
        "scenario", "n", "best ms", "median ms", "vs migrate/test"
    );
    println!("{:<44} {:>5} {:^21} {:>16}", "", "", "per test", "(best)");
    println!("{}", "-".repeat(90));
    for r in &rows {
        println!(
            "{:<44} {:>5} {:>10.3} {:>10.3} {:>15.3}x",
            r.scenario.label(),
            r.scenario.iterations(),
            r.best(),
            r.median(),
            r.best() / baseline.best()
        );
    }
    println!(
        "\none-off: the first DatabasePerTest open (template built by migrating a scratch \
         database, renamed, then slot 0 cloned) took {:.1} ms; the next test on that slot {:.1} ms",
        bench::ms(first_open),
        bench::ms(first_test)
    );

    let tx = row(Scenario::Transaction);
    let dpt = row(Scenario::DatabasePerTest);
    let verdict = |ok: bool| if ok { "met" } else { "MISSED" };
    println!("targets (best of {RUNS}):");
    println!(
        "  Transaction under 1 ms per test: {:.3} ms (median {:.3}): {}",
        tx.best(),
        tx.median(),
        verdict(tx.best() < 1.0)
    );
    println!(
        "  DatabasePerTest at most 1/3 of migrate-per-test: {:.3} / {:.3} ms = {:.3} (median \
         {:.3}): {}",
        dpt.best(),
        baseline.best(),
        dpt.best() / baseline.best(),
        dpt.median() / baseline.median(),
        verdict(dpt.best() <= baseline.best() / 3.0)
    );
    let (hand, hand_connect, open) = (
        row(Scenario::Hand),
        row(Scenario::HandConnect),
        row(Scenario::FactoryOpen),
    );
    println!(
        "  for scale: a new connection and its cold first statements cost {:.3} ms (hand-written \
         + connect minus the floor, best); the factory's rows on an open connection, rolled \
         back, {:.3} ms",
        hand_connect.best() - hand.best(),
        open.best()
    );

    println!(
        "  disk state: CREATE DATABASE + DROP DATABASE of an empty database (best of 3) took {} \
         ms before each group and at the end; it varies several-fold with the files created and \
         unlinked in the last minutes, see the notes at the top of the source",
        probes
            .iter()
            .map(|p| format!("{:.1}", bench::ms(*p)))
            .collect::<Vec<_>>()
            .join(" / ")
    );

    println!(
        "\nnextest simulation: the example spawns itself ({CHILD_VAR}=<scenario>) to run one \
         test; wall time per child, 1 warm-up + {CHILDREN} children per scenario, nothing \
         subtracted\n"
    );
    let child_baseline = children
        .iter()
        .find(|(s, _)| *s == Scenario::MigratePerTest)
        .map(|(_, t)| bench::ms(bench::best(t)))
        .expect("measured");
    println!(
        "{:<44} {:>10} {:>10} {:>16} {:>16}",
        "scenario", "best ms", "median ms", "in-process ms", "vs migrate/test"
    );
    println!(
        "{:<44} {:^21} {:>16} {:>16}",
        "", "per child", "(median)", "(best)"
    );
    println!("{}", "-".repeat(110));
    for (scenario, times) in &children {
        let in_process = rows
            .iter()
            .find(|r| r.scenario == *scenario)
            .map_or("-".to_owned(), |r| format!("{:.3}", r.median()));
        let best = bench::ms(bench::best(times));
        println!(
            "{:<44} {:>10.3} {:>10.3} {:>16} {:>15.3}x",
            scenario.label(),
            best,
            bench::ms(bench::median(times)),
            in_process,
            best / child_baseline
        );
    }
}

/// Where the time of a test goes: every connection and statement of the process timed through
/// Diesel's default instrumentation (so factory-core's own connections and statements too),
/// each statement put in a step by its SQL.
mod profile {
    use super::{Bench, Scenario};
    use diesel::connection::{set_default_instrumentation, Instrumentation, InstrumentationEvent};
    use std::collections::BTreeMap;
    use std::sync::Mutex;
    use std::time::{Duration, Instant};

    enum Event {
        Start(&'static str),
        Finish,
    }

    static LOG: Mutex<Vec<(Instant, Event)>> = Mutex::new(Vec::new());

    /// The step a statement belongs to.
    fn step(sql: &str) -> &'static str {
        let upper = sql.trim_start().to_ascii_uppercase();
        let has = |s: &str| upper.contains(s);
        if has("ADVISORY") {
            "advisory lock / unlock"
        } else if has("PG_TABLES") {
            "list tables (pg_tables)"
        } else if has("__DIESEL_SCHEMA_MIGRATIONS") {
            "migrations: bookkeeping queries"
        } else if upper.starts_with("COMMENT ON DATABASE") {
            "COMMENT ON DATABASE (in use / clean)"
        } else if upper.starts_with("TRUNCATE") {
            "TRUNCATE"
        } else if has("PG_CONSTRAINT") {
            "foreign keys (pg_constraint)"
        } else if upper.starts_with("DELETE") {
            "DELETE tracked rows"
        } else if upper.starts_with("CREATE DATABASE") {
            "CREATE DATABASE"
        } else if upper.starts_with("DROP DATABASE") {
            "DROP DATABASE"
        } else if has("PG_DATABASE") {
            "pg_database lookups (exists, sweep)"
        } else if has("CREATE TABLE") || has("CREATE TYPE") || has("ALTER TABLE") {
            "migration SQL"
        } else if ["BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE"]
            .iter()
            .any(|k| upper.starts_with(k))
        {
            "BEGIN / SAVEPOINT / COMMIT / ROLLBACK"
        } else {
            "rows: INSERT / SELECT / UPDATE"
        }
    }

    fn instrumentation() -> Option<Box<dyn Instrumentation>> {
        Some(Box::new(|event: InstrumentationEvent<'_>| {
            let now = Instant::now();
            let event = match event {
                InstrumentationEvent::StartEstablishConnection { url, .. } => {
                    Event::Start(if url.ends_with("/postgres") {
                        "connect maintenance db (postgres)"
                    } else {
                        "connect test db"
                    })
                }
                InstrumentationEvent::StartQuery { query, .. } => {
                    Event::Start(step(&query.to_string()))
                }
                InstrumentationEvent::FinishEstablishConnection { .. }
                | InstrumentationEvent::FinishQuery { .. } => Event::Finish,
                _ => return,
            };
            LOG.lock().expect("the log").push((now, event));
        }))
    }

    /// Times every connection made from now on.
    pub fn install() {
        set_default_instrumentation(instrumentation).expect("set Diesel's instrumentation");
    }

    /// One test: its wall time, and the time and statements of each step.
    fn one(
        bench: &mut Bench,
        scenario: Scenario,
    ) -> (Duration, BTreeMap<&'static str, (Duration, usize)>) {
        LOG.lock().expect("the log").clear();
        let start = Instant::now();
        bench.test(scenario);
        let wall = start.elapsed();
        let log = std::mem::take(&mut *LOG.lock().expect("the log"));
        let mut steps = BTreeMap::new();
        let mut open: Option<(Instant, &'static str)> = None;
        for (at, event) in log {
            match event {
                Event::Start(name) => open = Some((at, name)),
                Event::Finish => {
                    if let Some((since, name)) = open.take() {
                        let entry = steps.entry(name).or_insert((Duration::ZERO, 0));
                        entry.0 += at - since;
                        entry.1 += 1;
                    }
                }
            }
        }
        (wall, steps)
    }

    /// Prints, per scenario, the mean time per test of each step (and the statements it sends),
    /// the rest (client code, closing connections) as `other`.
    pub fn run(bench: &mut Bench) {
        println!(
            "profile: mean per test over n tests after 3 warm-ups; times include the \
             instrumentation's own cost (a few us per statement)\n"
        );
        for scenario in Scenario::TIMED {
            let n = (scenario.iterations() / 4).max(20);
            bench.checkpoint();
            for _ in 0..3 {
                one(bench, scenario);
            }
            let mut walls = Vec::with_capacity(n);
            let mut total: BTreeMap<&'static str, (Duration, usize)> = BTreeMap::new();
            for _ in 0..n {
                let (wall, steps) = one(bench, scenario);
                walls.push(wall);
                for (name, (time, count)) in steps {
                    let entry = total.entry(name).or_insert((Duration::ZERO, 0));
                    entry.0 += time;
                    entry.1 += count;
                }
            }
            let wall: Duration = walls.iter().sum::<Duration>() / n as u32;
            println!(
                "{} (n = {n}): {:.3} ms per test (median {:.3})",
                scenario.label().trim(),
                super::bench::ms(wall),
                super::bench::ms(super::bench::median(&walls))
            );
            let mut rows: Vec<(&str, Duration, f64)> = total
                .into_iter()
                .map(|(name, (time, count))| (name, time / n as u32, count as f64 / n as f64))
                .collect();
            rows.sort_by_key(|r| std::cmp::Reverse(r.1));
            let known: Duration = rows.iter().map(|r| r.1).sum();
            for (name, time, count) in rows {
                println!(
                    "    {:<40} {:>8.3} ms {:>5.1}%  {:>5.1} statements",
                    name,
                    super::bench::ms(time),
                    100.0 * time.as_secs_f64() / wall.as_secs_f64(),
                    count
                );
            }
            let other = wall.saturating_sub(known);
            println!(
                "    {:<40} {:>8.3} ms {:>5.1}%",
                "other (client code, closing connections)",
                super::bench::ms(other),
                100.0 * other.as_secs_f64() / wall.as_secs_f64()
            );
        }
    }
}
