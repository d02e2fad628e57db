//! Cleanup strategies leave nothing behind, whichever way a test ends: for every strategy and
//! backend, a test that passes, one that fails with an error and one that panics, each
//! checked by counting every table from a separate connection. Plus the seed's background-task
//! case, the remote-URL guard, and a killed test process whose database the next start sweeps.
//!
//! One suite body, sync and async: it runs on each backend's sync handle (`TestDb<PgConnection>`
//! ...) and, with the `async` feature, on its diesel-async handle (`TestDb<AsyncPgConnection>`,
//! `TestDb<AsyncMysqlConnection>`, `TestDb<SyncConnectionWrapper<SqliteConnection>>`).

mod common;

use diesel::prelude::*;
#[cfg(feature = "postgres")]
use factory_core::cleanup::CleanupError;
use factory_core::cleanup::{Cleanup, TestDb};
use factory_core::Factory;
#[cfg(any(feature = "postgres", feature = "mysql"))]
use shop::schema::orders;
use shop::Order;

/// Picks the sync or the async form of what the two modes do differently; `$drive` is the
/// suite's `common::drive` module. The other form is dropped unchecked.
macro_rules! by_mode {
    (sync, sync => $sync:expr, asynchronous => $async:expr $(,)?) => {
        $sync
    };
    (asynchronous, sync => $sync:expr, asynchronous => $async:expr $(,)?) => {
        $async
    };
}

/// Every test body, for one backend and mode. `$conn` is the handle's connection; `$open` opens
/// a handle on the backend's cleanup database (`async fn` in async mode); `$connect(url)` is a
/// plain sync connection of type `$plain`, which counts rows and plays the code under test;
/// `$held` is how a cleanup error names what another connection kept locked; `$drive` is
/// `sync` or `asynchronous` (the `common::drive` module the calls go through). Bodies are
/// `async` and await every factory call and query, as in tests/backends.rs.
macro_rules! suite {
    (
        conn = $conn:ty,
        plain = $plain:ty,
        open = $open:path,
        connect = $connect:expr,
        held = $held:expr,
        drive = $drive:ident $(,)?
    ) => {
        use crate::common;
        use crate::common::drive::$drive::{block_on, Drive, RunQueryDsl};
        use diesel::prelude::*;
        use factory_core::cleanup::{Cleanup, CleanupError, TestDb};
        use shop::schema::{ledger_entries, order_items, orders, products, reviews, tags, users};
        use shop::{Order, Product, Review, Tag, User};

        /// Rows in each shop table, in a fixed order.
        type Counts = Vec<(&'static str, i64)>;

        /// The lock of the tests that count this backend's tables: one per database, shared by
        /// the sync and async suites and the deadlock test.
        const SERIAL: &str = concat!("cleanup-", stringify!($plain));

        /// A handle on the backend's cleanup database with `cleanup`, opened as the mode opens.
        macro_rules! open {
            ($cleanup:expr) => {
                by_mode!($drive, sync => $open($cleanup), asynchronous => $open($cleanup).await)
            };
        }

        fn counts(url: &str) -> Counts {
            let mut conn: $plain = $connect(url);
            let conn = &mut conn;
            let n = |q: Result<i64, diesel::result::Error>| q.expect("count rows");
            vec![
                ("users", n(diesel::RunQueryDsl::get_result(users::table.count(), conn))),
                ("products", n(diesel::RunQueryDsl::get_result(products::table.count(), conn))),
                ("orders", n(diesel::RunQueryDsl::get_result(orders::table.count(), conn))),
                (
                    "order_items",
                    n(diesel::RunQueryDsl::get_result(order_items::table.count(), conn)),
                ),
                ("reviews", n(diesel::RunQueryDsl::get_result(reviews::table.count(), conn))),
                ("tags", n(diesel::RunQueryDsl::get_result(tags::table.count(), conn))),
                (
                    "ledger_entries",
                    n(diesel::RunQueryDsl::get_result(ledger_entries::table.count(), conn)),
                ),
            ]
        }

        /// Opens a handle, hands it to `body`, and checks from separate connections that the
        /// shared database is as it was and a per-test database ended empty.
        fn leaves_nothing(cleanup: Cleanup, body: impl AsyncFnOnce(&mut TestDb<$conn>)) {
            let _serial = common::serial(SERIAL);
            let base_url = block_on(async { open!(Cleanup::Transaction).url().to_owned() });
            let before = counts(&base_url);
            let mut own_url = String::new();
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                block_on(async {
                    let mut db = open!(cleanup);
                    own_url = db.url().to_owned();
                    body(&mut db).await;
                })
            }));
            // Truncation empties the whole database, rows from before included.
            let expected: Counts = if cleanup == Cleanup::Truncate {
                before.iter().map(|&(table, _)| (table, 0)).collect()
            } else {
                before
            };
            assert_eq!(
                counts(&base_url),
                expected,
                "{cleanup} left rows in the shared database"
            );
            if own_url != base_url {
                let empty = counts(&own_url).iter().all(|&(_, n)| n == 0);
                assert!(
                    empty,
                    "{cleanup} left rows in the test's database: {:?}",
                    counts(&own_url)
                );
            }
            if let Err(panic) = outcome {
                let message = panic
                    .downcast_ref::<&str>()
                    .map(|s| s.to_string())
                    .or_else(|| panic.downcast_ref::<String>().cloned())
                    .unwrap_or_default();
                assert_eq!(message, "the test failed", "an unexpected panic");
            }
        }

        /// A test's usual work: an order (with its user, two lines and their products) and a
        /// few users more.
        async fn some_rows(db: &mut TestDb<$conn>) -> User {
            let order = Order::factory().completed().create(db).await;
            let users = User::factory().create_batch(3, db).await;
            let n: i64 = orders::table
                .filter(orders::id.eq(order.id))
                .count()
                .get_result(db.conn())
                .await
                .unwrap();
            assert_eq!(n, 1, "the handle sees its own rows");
            users[0].clone()
        }

        /// The body of the test's own transaction: locks every user's row, then fails.
        async fn lock_the_users_and_panic(conn: &mut $conn) -> QueryResult<()> {
            diesel::update(users::table)
                .set(users::first_name.eq("locked"))
                .execute(conn)
                .await?;
            panic!("the test failed");
        }

        fn passes(cleanup: Cleanup) {
            leaves_nothing(cleanup, async |db| {
                some_rows(db).await;
            });
        }

        fn fails_with_an_error(cleanup: Cleanup) {
            leaves_nothing(cleanup, async |db| {
                let user = some_rows(db).await;
                let error = User::factory()
                    .email(user.email.clone())
                    .try_create(db)
                    .await
                    .unwrap_err();
                assert_eq!(
                    error.constraint_kind(),
                    Some(factory_core::ConstraintKind::Unique)
                );
            });
        }

        fn panics(cleanup: Cleanup) {
            leaves_nothing(cleanup, async |db| {
                some_rows(db).await;
                panic!("the test failed");
            });
        }

        /// The panic comes inside the test's own transaction, which holds row locks that the
        /// cleanup must not wait on.
        fn panics_inside_a_transaction(cleanup: Cleanup) {
            leaves_nothing(cleanup, async |db| {
                some_rows(db).await;
                // Diesel's transaction takes a closure (the sync body's futures are ready at
                // once); diesel-async's, an async closure.
                let _ = by_mode!(
                    $drive,
                    sync => db
                        .conn()
                        .transaction(|conn| block_on(lock_the_users_and_panic(conn))),
                    asynchronous => diesel_async::AsyncConnection::transaction(
                        db.conn(),
                        async |conn| lock_the_users_and_panic(conn).await,
                    )
                    .await,
                );
            });
        }

        macro_rules! outcomes {
            ($strategy:ident, $cleanup:expr) => {
                mod $strategy {
                    use super::*;
                    #[test]
                    fn passes() {
                        super::passes($cleanup);
                    }
                    #[test]
                    fn fails_with_an_error() {
                        super::fails_with_an_error($cleanup);
                    }
                    #[test]
                    fn panics() {
                        super::panics($cleanup);
                    }
                    #[test]
                    fn panics_inside_a_transaction() {
                        super::panics_inside_a_transaction($cleanup);
                    }
                }
            };
        }

        outcomes!(transaction, Cleanup::Transaction);
        outcomes!(tracked, Cleanup::Tracked);
        outcomes!(truncate, Cleanup::Truncate);
        outcomes!(database_per_test, Cleanup::DatabasePerTest);

        /// The seed's second failure case: the code under test writes from a background task
        /// on a connection of its own. Tracked cleanup deletes that row too (it references a
        /// row the test created).
        #[test]
        fn tracked_deletes_what_a_background_task_wrote() {
            leaves_nothing(Cleanup::Tracked, async |db| {
                let user = User::factory().create(db).await;
                let product = Product::factory().create(db).await;
                // A sync handle lends one; an async one has none to lend, and the code under
                // test connects to its URL.
                let mut other: $plain = by_mode!(
                    $drive,
                    sync => db.connect().expect("a second connection"),
                    asynchronous => $connect(db.url()),
                );
                let worker = std::thread::spawn(move || {
                    let order = factory_core::Factory::create(
                        Order::factory().user(&user).with_items(0),
                        &mut other,
                    );
                    factory_core::Factory::create(
                        Review::factory().author(&user).product(&product),
                        &mut other,
                    );
                    order
                });
                let order = worker.join().expect("the background task");
                let n: i64 = orders::table
                    .filter(orders::id.eq(order.id))
                    .count()
                    .get_result(db.conn())
                    .await
                    .unwrap();
                assert_eq!(n, 1, "the background task committed");
            });
        }

        /// A factory given the handle's connection itself (`&mut *db`, as Diesel queries are
        /// written) records its rows as one given the handle does.
        #[test]
        fn tracked_records_rows_created_through_the_handles_connection() {
            leaves_nothing(Cleanup::Tracked, async |db| {
                let conn: &mut $conn = &mut *db;
                let order = Order::factory().with_items(1).create(conn).await;
                let tags = Tag::factory().create_batch(2, &mut **db).await;
                Tag::factory().get_or_create(&mut **db).await;
                assert_eq!(tags.len(), 2);
                // The order, its user, one item and its product, two tags and one more.
                assert_eq!(db.tracked_rows(), 7, "{order:?}");
            });
        }

        /// Tracked cleanup deletes what the test inserted and nothing else: a row that
        /// `get_or_create` found stays.
        #[test]
        fn tracked_deletes_only_what_the_test_created() {
            let _serial = common::serial(SERIAL);
            block_on(async {
                let url = open!(Cleanup::Transaction).url().to_owned();
                let mut conn: $plain = $connect(&url);
                let existing = factory_core::Factory::create(Tag::factory(), &mut conn);
                let before = counts(&url);
                {
                    let mut db = open!(Cleanup::Tracked);
                    let found = Tag::factory()
                        .name(existing.name.clone())
                        .label(existing.label.clone())
                        .get_or_create(&mut db)
                        .await;
                    assert_eq!(found.id, existing.id);
                    assert_eq!(db.tracked_rows(), 0, "found, not created");
                    Tag::factory().get_or_create(&mut db).await;
                    assert_eq!(db.tracked_rows(), 1);
                }
                assert_eq!(counts(&url), before);
                let still_there: i64 =
                    diesel::RunQueryDsl::get_result(tags::table.find(existing.id).count(), &mut conn)
                        .unwrap();
                assert_eq!(still_there, 1);
                diesel::RunQueryDsl::execute(diesel::delete(tags::table.find(existing.id)), &mut conn)
                    .unwrap();
            });
        }

        /// Another connection keeps a tracked row locked past the end of the test (a pool or
        /// a background task in an open transaction): cleanup gives up after its lock timeout,
        /// naming what was locked and what to do, instead of hanging the test for ever.
        #[test]
        fn tracked_cleanup_gives_up_on_a_lock_held_past_the_test() {
            let _serial = common::serial(SERIAL);
            block_on(async {
                let url = open!(Cleanup::Transaction).url().to_owned();
                let before = counts(&url);
                let builder = TestDb::<$conn>::builder(url.clone())
                    .cleanup(Cleanup::Tracked)
                    .lock_timeout(std::time::Duration::from_secs(1));
                let mut db = by_mode!(
                    $drive,
                    sync => builder.open(),
                    asynchronous => builder.open_async().await,
                )
                .expect("open the handle");
                let user = User::factory().create(&mut db).await;
                let mut holder: $plain = $connect(&url);
                holder
                    .begin_test_transaction()
                    .expect("begin the holder's transaction");
                diesel::RunQueryDsl::execute(
                    diesel::update(users::table.find(user.id)).set(users::first_name.eq("held")),
                    &mut holder,
                )
                .expect("lock the user's row");
                let (sent, finished) = std::sync::mpsc::channel();
                std::thread::spawn(move || {
                    let _ = sent.send(db.finish().map_err(|e| e.to_string()));
                });
                let outcome = finished.recv_timeout(std::time::Duration::from_secs(60));
                drop(holder); // its transaction rolls back, and the lock goes
                let error = outcome
                    .expect("cleanup still waits on the lock after 60 s")
                    .expect_err("cleanup cannot delete a row another connection keeps locked");
                assert!(
                    error.contains($held)
                        && error.contains("Cleanup::DatabasePerTest")
                        && error.contains(".lock_timeout("),
                    "{error}"
                );
                let mut conn: $plain = $connect(&url);
                diesel::RunQueryDsl::execute(diesel::delete(users::table.find(user.id)), &mut conn)
                    .expect("delete the user by hand");
                assert_eq!(counts(&url), before);
            });
        }

        /// Under a test transaction the same background write escapes the rollback, and the
        /// residue check says so, naming the table.
        #[test]
        fn transaction_reports_what_a_background_task_wrote() {
            let _serial = common::serial(SERIAL);
            block_on(async {
                let mut db = open!(Cleanup::Transaction);
                let url = db.url().to_owned();
                let before = counts(&url);
                // Only a sync handle lends connections, and under a test transaction it
                // refuses, pointing to the strategy that allows them.
                by_mode!(
                    $drive,
                    sync => {
                        let Err(refused) = db.connect() else {
                            panic!("a second connection under Cleanup::Transaction")
                        };
                        assert!(matches!(refused, CleanupError::SecondConnection));
                        assert!(
                            refused.to_string().contains("Cleanup::Tracked"),
                            "{refused}"
                        );
                    },
                    asynchronous => {},
                );
                let background_url = url.clone();
                let stray = std::thread::spawn(move || {
                    let mut other: $plain = $connect(&background_url);
                    factory_core::Factory::create(User::factory(), &mut other)
                })
                .join()
                .unwrap();
                // (On SQLite the test transaction's first write locks out other writers, so the
                // background write comes first.)
                User::factory().create(&mut db).await;
                let residue = match db.finish() {
                    Err(CleanupError::Residue(residue)) => residue,
                    other => panic!("expected the residue check to fail, got {other:?}"),
                };
                assert_eq!(residue.left_in("users"), 1);
                assert!(residue.to_string().contains("`users`"), "{residue}");
                let mut conn: $plain = $connect(&url);
                diesel::RunQueryDsl::execute(diesel::delete(users::table.find(stray.id)), &mut conn)
                    .unwrap();
                assert_eq!(counts(&url), before);
            });
        }
    };
}

/// Cleanup deletes the newer row (a product), then waits for the older one (the user), which
/// another transaction holds; that transaction then asks for the product: a deadlock with
/// cleanup as its victim. Cleanup must try again once the other transaction ends and leave
/// nothing. `$prepare(&mut other)` readies the other session (it begins the transaction if it
/// needs to do so first); `$waiting` counts the sessions in the state that shows cleanup holds
/// the product. `$serial` is the lock the backend's suite holds (it counts every table). Runs
/// in a sync suite's module, whose `Drive` and `RunQueryDsl` return futures: the calls here
/// name diesel's and the factories' sync methods.
#[cfg(any(feature = "postgres", feature = "mysql"))]
macro_rules! deadlock_test {
    ($serial:expr, $open:path, $connect:expr, $prepare:expr, $waiting:expr) => {{
        let _serial = common::serial($serial);
        let url = $open(Cleanup::Transaction).url().to_owned();
        let mut other = $connect(&url);
        let before = counts(&url);
        let mut db = $open(Cleanup::Tracked);
        let user = factory_core::Factory::create(User::factory(), &mut db);
        let product = factory_core::Factory::create(Product::factory(), &mut db);
        $prepare(&mut other);
        if !factory_core::cleanup::TestBackend::in_transaction(&mut other) {
            other.begin_test_transaction().unwrap();
        }
        diesel::RunQueryDsl::execute(
            diesel::update(users::table.find(user.id)).set(users::first_name.eq("other")),
            &mut other,
        )
        .unwrap();
        let cleanup = std::thread::spawn(move || db.finish().map_err(|e| e.to_string()));
        common::wait_until(&mut $connect(&url), $waiting);
        diesel::RunQueryDsl::execute(
            diesel::update(products::table.find(product.id))
                .set(products::stock.eq(products::stock)),
            &mut other,
        )
        .expect("cleanup's transaction is the deadlock's victim, so this one goes on");
        drop(other);
        cleanup
            .join()
            .unwrap()
            .expect("cleanup tried again after the deadlock");
        assert_eq!(counts(&url), before);
    }};
}

/// UUID keys are recorded and deleted like integer ones (a PostgreSQL suite's module).
#[cfg(feature = "postgres")]
macro_rules! uuid_keys_test {
    () => {
        #[test]
        fn tracked_deletes_rows_with_uuid_keys() {
            use shop::keys::{api_keys, ApiKey};
            let api_keys_now = |url: &str| -> i64 {
                diesel::RunQueryDsl::get_result(
                    api_keys::table.count(),
                    &mut super::postgres::connect(url),
                )
                .unwrap()
            };
            let url = common::cleanup_url(
                "FACTORY_TEST_POSTGRES_URL",
                "postgres://postgres@127.0.0.1:5432/factory_test",
            );
            let before = api_keys_now(&url);
            leaves_nothing(Cleanup::Tracked, async |db| {
                let keys = ApiKey::factory().create_batch(3, db).await;
                assert_eq!(db.tracked_rows(), 6, "three keys and their three users");
                assert_ne!(keys[0].id, keys[1].id);
            });
            assert_eq!(api_keys_now(&url), before);
        }
    };
}

mod sqlite {
    pub(crate) fn connect(url: &str) -> diesel::SqliteConnection {
        shop::sqlite(url)
    }
    suite!(
        conn = diesel::SqliteConnection,
        plain = diesel::SqliteConnection,
        open = common::sqlite_db,
        connect = connect,
        held = "the database (SQLite locks all of it",
        drive = sync,
    );
}

#[cfg(feature = "async")]
mod sqlite_async {
    suite!(
        conn = common::SqliteWrapper,
        plain = diesel::SqliteConnection,
        open = common::sqlite_db_async,
        connect = super::sqlite::connect,
        held = "the database (SQLite locks all of it",
        drive = asynchronous,
    );
}

#[cfg(feature = "postgres")]
mod postgres {
    pub(crate) fn connect(url: &str) -> diesel::PgConnection {
        diesel::Connection::establish(url).expect("connect to PostgreSQL")
    }
    suite!(
        conn = diesel::PgConnection,
        plain = diesel::PgConnection,
        open = common::pg_db,
        connect = connect,
        held = "a lock on rows of `users`",
        drive = sync,
    );

    /// Tracked cleanup retries a deadlock (see [`deadlock_test`]). PostgreSQL aborts cleanup's
    /// side because its deadlock check runs first: the other session waits 10 s before it
    /// checks.
    #[test]
    fn tracked_cleanup_retries_after_a_deadlock() {
        deadlock_test!(
            SERIAL,
            common::pg_db,
            connect,
            |other: &mut diesel::PgConnection| {
                diesel::RunQueryDsl::execute(
                    diesel::sql_query("SET deadlock_timeout = '10s'"),
                    other,
                )
                .unwrap();
            },
            "SELECT count(*) AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock' \
             AND query LIKE '%DELETE FROM%'"
        );
    }

    uuid_keys_test!();
}

#[cfg(all(feature = "postgres", feature = "async"))]
mod postgres_async {
    suite!(
        conn = diesel_async::AsyncPgConnection,
        plain = diesel::PgConnection,
        open = common::pg_db_async,
        connect = super::postgres::connect,
        held = "a lock on rows of `users`",
        drive = asynchronous,
    );

    uuid_keys_test!();
}

#[cfg(feature = "mysql")]
mod mysql {
    pub(crate) fn connect(url: &str) -> diesel::MysqlConnection {
        diesel::Connection::establish(url).expect("connect to MariaDB")
    }
    suite!(
        conn = diesel::MysqlConnection,
        plain = diesel::MysqlConnection,
        open = common::mysql_db,
        connect = connect,
        held = "a lock on rows of `users`",
        drive = sync,
    );

    /// As PostgreSQL's test. InnoDB detects the deadlock at once and rolls back the smaller
    /// transaction, so the other one first inserts rows of its own to be the larger. (The
    /// subqueries of cleanup's deletes lock the user's row as they read it.)
    #[test]
    fn tracked_cleanup_retries_after_a_deadlock() {
        deadlock_test!(
            SERIAL,
            common::mysql_db,
            connect,
            |other: &mut diesel::MysqlConnection| {
                other.begin_test_transaction().unwrap();
                factory_core::Factory::create_batch(Tag::factory(), 200, other);
            },
            // Cleanup deleted the product and went on to the rows referencing the user.
            "SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST \
             WHERE INFO LIKE 'DELETE FROM `order_items`%'"
        );
    }
}

#[cfg(all(feature = "mysql", feature = "async"))]
mod mysql_async {
    suite!(
        conn = diesel_async::AsyncMysqlConnection,
        plain = diesel::MysqlConnection,
        open = common::mysql_db_async,
        connect = super::mysql::connect,
        held = "a lock on rows of `users`",
        drive = asynchronous,
    );
}

/// Destructive strategies refuse a database that is not on this machine, before connecting.
#[cfg(feature = "postgres")]
#[test]
fn destructive_strategies_refuse_a_remote_database() {
    let remote = "postgres://app@db.prod.example.com:5432/app";
    for cleanup in [
        Cleanup::Tracked,
        Cleanup::Truncate,
        Cleanup::DatabasePerTest,
    ] {
        let error = TestDb::<diesel::PgConnection>::open(remote, cleanup).unwrap_err();
        match &error {
            CleanupError::RemoteDatabase { host, .. } => assert_eq!(host, "db.prod.example.com"),
            other => panic!("expected a refusal, got {other}"),
        }
        assert!(error.to_string().contains("allow_remote"), "{error}");
    }
    // Opting in gets past the guard (and then fails to connect, as this host does not exist).
    let error = TestDb::<diesel::PgConnection>::builder("postgres://app@db.invalid:5432/app")
        .cleanup(Cleanup::Truncate)
        .allow_remote()
        .open()
        .unwrap_err();
    assert!(matches!(error, CleanupError::Connect { .. }), "{error}");
}

/// Set in the child process that the kill test starts and kills.
const KILLED_CHILD: &str = "FACTORY_TEST_KILLED_CHILD";

/// Not a test of its own: as the kill test's child, leases a per-test database, writes to it,
/// says where, and waits to be killed. Without the variable it does nothing.
#[test]
fn killed_child() {
    let Ok(backend) = std::env::var(KILLED_CHILD) else {
        return;
    };
    let url = match backend.as_str() {
        "sqlite" => lease_and_write(common::sqlite_db(Cleanup::DatabasePerTest)),
        #[cfg(feature = "postgres")]
        "postgres" => lease_and_write(kill_test_pg()),
        #[cfg(feature = "mysql")]
        "mysql" => lease_and_write(kill_test_mysql()),
        other => panic!("no such backend: {other}"),
    };
    println!("LEASED {url}");
    std::thread::sleep(std::time::Duration::from_secs(120));
}

/// Writes an order to a leased database and forgets the handle (a killed process runs no
/// destructor either); returns the database's URL.
fn lease_and_write<C: factory_core::cleanup::TestBackend>(mut db: TestDb<C>) -> String
where
    shop::OrderFactory: factory_core::Create<TestDb<C>>,
{
    Order::factory().create(&mut db);
    let url = db.url().to_owned();
    std::mem::forget(db);
    url
}

/// Starts [`killed_child`] for `backend`, waits until it has written to its database, kills it
/// (SIGKILL: no destructor runs) and returns its database's URL.
fn kill_a_test_process(backend: &str) -> String {
    use std::io::BufRead;
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "killed_child", "--nocapture", "--test-threads=1"])
        .env(KILLED_CHILD, backend)
        .env("FACTORY_TEST_KILL_VERSION", kill_test_version())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("start the child test process");
    let stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let url = stdout.lines().map_while(Result::ok).find_map(|line| {
        line.split_once("LEASED ")
            .map(|(_, url)| url.trim().to_owned())
    });
    child.kill().expect("kill the child");
    child.wait().expect("reap the child");
    url.expect("the child leased a database before it was killed")
}

/// A test process killed mid-run leaves its SQLite copy; the next lease deletes it.
#[test]
fn the_next_start_sweeps_what_a_killed_sqlite_test_left() {
    let left = kill_a_test_process("sqlite");
    assert!(
        std::path::Path::new(&left).exists(),
        "the killed test left {left}"
    );
    let db = common::sqlite_db(Cleanup::DatabasePerTest);
    assert_ne!(db.url(), left);
    assert!(
        !std::path::Path::new(&left).exists(),
        "{left} was not swept"
    );
    db.finish().unwrap();
}

/// The prefix of the server kill tests' databases: every lease drops the databases of other
/// migrations under its prefix that no live process holds, and a killed child's holds none.
#[cfg(any(feature = "postgres", feature = "mysql"))]
const KILL_TEST_PREFIX: &str = "factory_kill";

/// The kill tests' migrations: the shop's under a version of their own (passed to the child),
/// so that their pool of per-test databases is theirs alone.
fn kill_test_version() -> &'static str {
    static VERSION: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    VERSION.get_or_init(|| {
        std::env::var("FACTORY_TEST_KILL_VERSION")
            .unwrap_or_else(|_| format!("kill-{}", std::process::id()))
    })
}

#[cfg(feature = "postgres")]
fn kill_test_pg() -> TestDb<diesel::PgConnection> {
    TestDb::builder(common::cleanup_url(
        "FACTORY_TEST_POSTGRES_URL",
        "postgres://postgres@127.0.0.1:5432/factory_test",
    ))
    .migrations(common::PG_MIGRATIONS.with_version(kill_test_version()))
    .cleanup(Cleanup::DatabasePerTest)
    .database_prefix(KILL_TEST_PREFIX)
    .open()
    .expect("open a per-test database")
}

#[cfg(feature = "mysql")]
fn kill_test_mysql() -> TestDb<diesel::MysqlConnection> {
    TestDb::builder(common::cleanup_url(
        "FACTORY_TEST_MYSQL_URL",
        "mysql://root@127.0.0.1:3306/factory_test",
    ))
    .migrations(common::MYSQL_MIGRATIONS.with_version(kill_test_version()))
    .cleanup(Cleanup::DatabasePerTest)
    .database_prefix(KILL_TEST_PREFIX)
    .open()
    .expect("open a per-test database")
}

/// A catalog row naming a database.
#[cfg(any(feature = "postgres", feature = "mysql"))]
#[derive(QueryableByName)]
struct DatabaseName {
    #[diesel(sql_type = diesel::sql_types::Text)]
    name: String,
}

/// The kill test of a server backend. A test process killed mid-run leaves rows in its
/// database. This process holds a pooled database of its own, so the next start gets that one,
/// not the dead test's: only the sweep can empty what the dead test left. At the end the kill
/// tests' own databases are dropped (`list` and `drop` name them by `{hash}` and `{name}`).
#[cfg(any(feature = "postgres", feature = "mysql"))]
macro_rules! killed_server_test {
    (
        $name:ident, $backend:literal, $open:ident, $conn:ty, $db:ty, $migrations:expr,
        admin = $admin:expr, list = $list:literal, drop = $drop:literal
    ) => {
        #[test]
        fn $name() {
            let ours = {
                let db = $open();
                let url = db.url().to_owned();
                db.finish().unwrap();
                url
            };
            let left = kill_a_test_process($backend);
            assert_ne!(left, ours, "the child leased a database of its own");
            let rows = |url: &str| -> i64 {
                let mut conn = <$conn>::establish(url).expect("connect");
                orders::table.count().get_result(&mut conn).expect("count")
            };
            assert!(rows(&left) > 0, "the killed test left rows in {left}");
            // The server frees the dead session's lock when it notices the connection is gone.
            let mut swept = false;
            for _ in 0..50 {
                let db = $open();
                assert_eq!(
                    db.url(),
                    ours,
                    "the next start reuses this process's database"
                );
                db.finish().unwrap();
                if rows(&left) == 0 {
                    swept = true;
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            let hash = $migrations.with_version(kill_test_version()).hash::<$db>();
            let (server, _) = ours.rsplit_once('/').unwrap();
            let admin_url: String = $admin(server);
            let mut admin = <$conn>::establish(&admin_url).unwrap();
            let names: Vec<DatabaseName> = diesel::sql_query($list.replace("{hash}", &hash))
                .load(&mut admin)
                .unwrap();
            for DatabaseName { name } in names {
                diesel::sql_query($drop.replace("{name}", &name))
                    .execute(&mut admin)
                    .unwrap();
            }
            assert!(swept, "{left} still holds rows after the next starts");
        }
    };
}

#[cfg(feature = "postgres")]
killed_server_test!(
    the_next_start_sweeps_what_a_killed_postgres_test_left,
    "postgres",
    kill_test_pg,
    diesel::PgConnection,
    diesel::pg::Pg,
    common::PG_MIGRATIONS,
    admin = |server: &str| format!("{server}/postgres"),
    list = "SELECT datname::text AS name FROM pg_database WHERE datname LIKE '%{hash}%'",
    drop = "DROP DATABASE \"{name}\" WITH (FORCE)"
);

#[cfg(feature = "mysql")]
killed_server_test!(
    the_next_start_sweeps_what_a_killed_mysql_test_left,
    "mysql",
    kill_test_mysql,
    diesel::MysqlConnection,
    diesel::mysql::Mysql,
    common::MYSQL_MIGRATIONS,
    admin = |server: &str| server.to_owned(),
    list = "SELECT CAST(SCHEMA_NAME AS CHAR) AS name FROM information_schema.SCHEMATA \
            WHERE SCHEMA_NAME LIKE '%{hash}%'",
    drop = "DROP DATABASE `{name}`"
);

/// Reference rows a migration inserts are part of a fresh database: every test of
/// `DatabasePerTest` sees them, however the test before it on the same pooled database changed
/// them.
macro_rules! seeded_migrations_survive {
    ($name:ident, $conn:ty, $migrations:literal, $url:expr) => {
        #[test]
        fn $name() {
            #[derive(QueryableByName)]
            struct Count {
                #[diesel(sql_type = diesel::sql_types::BigInt)]
                n: i64,
            }
            static SEEDED: factory_core::cleanup::Migrations =
                factory_core::embed_migrations!($migrations);
            let count = |conn: &mut $conn, table: &str| -> i64 {
                diesel::sql_query(format!("SELECT COUNT(*) AS n FROM {table}"))
                    .get_result::<Count>(conn)
                    .expect("count")
                    .n
            };
            for round in 0..3 {
                // A prefix of their own: leases of the shop's migrations would drop these
                // between rounds, and these theirs.
                let mut db = TestDb::<$conn>::builder($url)
                    .migrations(SEEDED)
                    .cleanup(Cleanup::DatabasePerTest)
                    .database_prefix("factory_seeded")
                    .open()
                    .unwrap();
                assert_eq!(
                    count(&mut db, "countries"),
                    3,
                    "round {round}: the reference rows"
                );
                assert_eq!(
                    count(&mut db, "notes"),
                    0,
                    "round {round}: no earlier test's rows"
                );
                diesel::sql_query("INSERT INTO notes (country, body) VALUES ('fr', 'bonjour')")
                    .execute(&mut *db)
                    .unwrap();
                diesel::sql_query("DELETE FROM countries WHERE code = 'jp'")
                    .execute(&mut *db)
                    .unwrap();
                db.finish().unwrap();
            }
        }
    };
}

seeded_migrations_survive!(
    seeded_migrations_survive_on_sqlite,
    diesel::SqliteConnection,
    "tests/fixtures/seeded/sqlite",
    "unused.sqlite"
);
#[cfg(feature = "postgres")]
seeded_migrations_survive!(
    seeded_migrations_survive_on_postgres,
    diesel::PgConnection,
    "tests/fixtures/seeded/postgres",
    common::cleanup_url(
        "FACTORY_TEST_POSTGRES_URL",
        "postgres://postgres@127.0.0.1:5432/factory_test"
    )
);
#[cfg(feature = "mysql")]
seeded_migrations_survive!(
    seeded_migrations_survive_on_mysql,
    diesel::MysqlConnection,
    "tests/fixtures/seeded/mysql",
    common::cleanup_url(
        "FACTORY_TEST_MYSQL_URL",
        "mysql://root@127.0.0.1:3306/factory_test"
    )
);

/// The prefix of the parallel template build test's databases, which no other lease sweeps.
#[cfg(feature = "postgres")]
const PARALLEL_PREFIX: &str = "factory_parallel";

/// Set in the children of the parallel template build test: the migrations version to use.
#[cfg(feature = "postgres")]
const TEMPLATE_CHILD: &str = "FACTORY_TEST_TEMPLATE_CHILD";

/// Not a test of its own: as a child of the test below, opens a per-test database of a set of
/// migrations nobody has built yet, and uses it. Without the variable it does nothing.
#[cfg(feature = "postgres")]
#[test]
fn template_child() {
    let Ok(version) = std::env::var(TEMPLATE_CHILD) else {
        return;
    };
    let migrations = common::PG_MIGRATIONS.with_version(Box::leak(version.into_boxed_str()));
    let url = common::cleanup_url(
        "FACTORY_TEST_POSTGRES_URL",
        "postgres://postgres@127.0.0.1:5432/factory_test",
    );
    let mut db = TestDb::<diesel::PgConnection>::builder(url)
        .migrations(migrations)
        .cleanup(Cleanup::DatabasePerTest)
        .database_prefix(PARALLEL_PREFIX)
        .open()
        .expect("open a per-test database");
    Order::factory().create(&mut db);
    db.finish().expect("give the database back");
}

/// Parallel test processes that all need a template not built yet: one builds it under the
/// advisory lock, the others wait and clone it; every one of them gets a working database.
#[cfg(feature = "postgres")]
#[test]
fn parallel_processes_build_the_template_once() {
    let version = format!(
        "parallel-{}-{:?}",
        std::process::id(),
        std::time::SystemTime::now()
    );
    let children: Vec<_> = (0..4)
        .map(|_| {
            std::process::Command::new(std::env::current_exe().unwrap())
                .args(["--exact", "template_child", "--test-threads=1"])
                .env(TEMPLATE_CHILD, &version)
                .stdout(std::process::Stdio::null())
                .spawn()
                .expect("start a child test process")
        })
        .collect();
    for mut child in children {
        assert!(
            child.wait().unwrap().success(),
            "a child failed to use its database"
        );
    }
    // Exactly one template for these migrations, and the children's databases: drop them all.
    let hash = common::PG_MIGRATIONS
        .with_version(Box::leak(version.into_boxed_str()))
        .hash::<diesel::pg::Pg>();
    let url = common::cleanup_url(
        "FACTORY_TEST_POSTGRES_URL",
        "postgres://postgres@127.0.0.1:5432/factory_test",
    );
    let (server, _) = url.rsplit_once('/').unwrap();
    let mut admin = diesel::PgConnection::establish(&format!("{server}/postgres")).unwrap();
    let names: Vec<DatabaseName> = diesel::sql_query(format!(
        "SELECT datname::text AS name FROM pg_database WHERE datname LIKE '%{hash}%' ORDER BY 1"
    ))
    .load(&mut admin)
    .unwrap();
    let templates = names
        .iter()
        .filter(|n| n.name.starts_with(&format!("{PARALLEL_PREFIX}_tpl_")))
        .count();
    assert_eq!(
        templates,
        1,
        "{:?}",
        names.iter().map(|n| &n.name).collect::<Vec<_>>()
    );
    assert!(
        names.iter().all(|n| !n.name.ends_with("_build")),
        "no half-built template"
    );
    for DatabaseName { name } in names {
        diesel::sql_query(format!("DROP DATABASE \"{name}\" WITH (FORCE)"))
            .execute(&mut admin)
            .unwrap();
    }
}
