//! `#[factory_core::test]` on every backend, in its sync and async forms: each strategy cleans
//! up (the residue check, on a database of the test's own, says so), a failing test fails and
//! still leaves nothing, a failed test's per-test database is kept, named on stderr and swept
//! later, per-test databases carry their prefix, a lease drops the databases of older
//! migrations but not one a live process holds, and truncation keeps the tables it is told to.
//!
//! Each test that commits names a database of its own (`url = ..`), so that tests running in
//! parallel never count each other's rows.

mod common;

use diesel::prelude::*;
use factory_core::cleanup::{Cleanup, Migrations, TestBackend, TestDb};
use factory_core::Factory;
use shop::schema::orders;
use shop::Order;
use std::io::BufRead;
use std::process::{Child, Command, Stdio};

/// The server part (`scheme://user@host:port`) of a URL ending in `/<database>`.
fn server_of(url: &str) -> &str {
    url.rsplit_once('/')
        .unwrap_or_else(|| panic!("expected a URL ending in /<database>: {url}"))
        .0
}

/// The database a URL names: its last path segment (SQLite: the file name).
fn database_of(url: &str) -> &str {
    url.rsplit('/').next().unwrap_or(url)
}

/// A SQLite database file of these tests, `factory-attr-<name>.sqlite` in the temporary
/// directory.
fn sqlite_url(name: &str) -> String {
    std::env::temp_dir()
        .join(format!("factory-attr-{name}.sqlite"))
        .to_string_lossy()
        .into_owned()
}

fn sqlite_exists(url: &str) -> bool {
    std::path::Path::new(url).exists()
}

/// Where per-test SQLite databases live (as factory-core picks it).
fn sqlite_dir() -> std::path::PathBuf {
    std::env::var_os("FACTORY_SQLITE_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("factory-core-sqlite"))
}

/// The per-test files under `prefix` made from the migrations `hash`.
fn sqlite_artifacts(prefix: &str, hash: &str) -> Vec<String> {
    std::fs::read_dir(sqlite_dir())
        .map(|entries| {
            entries
                .flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .filter(|n| n.starts_with(prefix) && n.contains(hash))
                .collect()
        })
        .unwrap_or_default()
}

/// A name the catalog gives.
#[cfg(any(feature = "postgres", feature = "mysql"))]
#[derive(QueryableByName)]
struct Named {
    #[diesel(sql_type = diesel::sql_types::Text)]
    name: String,
}

/// A PostgreSQL database of these tests, `factory_attr_<name>` on the server of
/// `FACTORY_TEST_POSTGRES_URL` (default: the local one), created if missing.
#[cfg(feature = "postgres")]
fn pg_url(name: &str) -> String {
    let base = std::env::var("FACTORY_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/factory_test".to_owned());
    let url = format!("{}/factory_attr_{name}", server_of(&base));
    if !pg_exists(&url) {
        let mut admin = pg_admin(&url);
        // A test running in parallel may create it first.
        let _ = diesel::sql_query(format!("CREATE DATABASE \"factory_attr_{name}\""))
            .execute(&mut admin);
    }
    url
}

#[cfg(feature = "postgres")]
fn pg_admin(url: &str) -> PgConnection {
    let admin = format!("{}/postgres", server_of(url));
    PgConnection::establish(&admin).unwrap_or_else(|e| panic!("connect to {admin}: {e}"))
}

#[cfg(feature = "postgres")]
fn pg_exists(url: &str) -> bool {
    !pg_names(url, database_of(url)).is_empty()
}

/// The databases of the server of `url` whose names match the `LIKE` pattern.
#[cfg(feature = "postgres")]
fn pg_names(url: &str, pattern: &str) -> Vec<String> {
    diesel::sql_query("SELECT datname::text AS name FROM pg_database WHERE datname LIKE $1")
        .bind::<diesel::sql_types::Text, _>(pattern)
        .load::<Named>(&mut pg_admin(url))
        .expect("list the databases")
        .into_iter()
        .map(|n| n.name)
        .collect()
}

#[cfg(feature = "postgres")]
fn pg_artifacts(prefix: &str, hash: &str) -> Vec<String> {
    pg_names(&pg_url("lease"), &format!("{prefix}%{hash}%"))
}

/// The URL with a password (the local server trusts it and ignores it): to see that stderr
/// never shows it.
#[cfg(feature = "postgres")]
fn with_password(url: String) -> String {
    url.replacen("://postgres@", "://postgres:hunter2@", 1)
}

/// As [`pg_url`], on the MariaDB server of `FACTORY_TEST_MYSQL_URL`.
#[cfg(feature = "mysql")]
fn mysql_url(name: &str) -> String {
    let base = std::env::var("FACTORY_TEST_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/factory_test".to_owned());
    let url = format!("{}/factory_attr_{name}", server_of(&base));
    diesel::sql_query(format!(
        "CREATE DATABASE IF NOT EXISTS `factory_attr_{name}`"
    ))
    .execute(&mut mysql_admin(&url))
    .expect("create the database");
    url
}

#[cfg(feature = "mysql")]
fn mysql_admin(url: &str) -> MysqlConnection {
    let server = server_of(url);
    MysqlConnection::establish(server).unwrap_or_else(|e| panic!("connect to {server}: {e}"))
}

#[cfg(feature = "mysql")]
fn mysql_names(url: &str, pattern: &str) -> Vec<String> {
    diesel::sql_query(
        "SELECT CAST(SCHEMA_NAME AS CHAR) AS name FROM information_schema.SCHEMATA \
         WHERE SCHEMA_NAME LIKE ?",
    )
    .bind::<diesel::sql_types::Text, _>(pattern)
    .load::<Named>(&mut mysql_admin(url))
    .expect("list the databases")
    .into_iter()
    .map(|n| n.name)
    .collect()
}

#[cfg(feature = "mysql")]
fn mysql_exists(url: &str) -> bool {
    !mysql_names(url, database_of(url)).is_empty()
}

#[cfg(feature = "mysql")]
fn mysql_artifacts(prefix: &str, hash: &str) -> Vec<String> {
    mysql_names(&mysql_url("lease"), &format!("{prefix}%{hash}%"))
}

fn same(url: String) -> String {
    url
}

/// What a panic said.
fn panic_message(panic: Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_default()
}

/// This test binary, running the one test `test` (ignored or not), with no keep-failed
/// settings of the environment.
fn test_process(test: &str) -> Command {
    let mut command = Command::new(std::env::current_exe().expect("the test binary"));
    command
        .args([
            "--exact",
            test,
            "--include-ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env_remove(factory_core::cleanup::KEEP_FAILED_VAR)
        .env_remove(factory_core::cleanup::KEEP_FAILED_HOURS_VAR);
    command
}

/// The kept database a failed test named on stderr: its name and its URL as printed.
fn kept_on(stderr: &str) -> Option<(String, String)> {
    let line = stderr
        .lines()
        .find(|l| l.contains("kept the database of the failed test"))?;
    let (_, rest) = line.split_once("`: ")?;
    let (name, rest) = rest.split_once(" (")?;
    let (url, _) = rest.split_once(')')?;
    Some((name.to_owned(), url.to_owned()))
}

/// Set in the child processes [`lease_child`] runs as: `backend:prefix:version:hold`.
const LEASE_CHILD: &str = "FACTORY_TEST_ATTR_LEASE";

/// Not a test of its own: as a child of the sweep tests, leases a per-test database of the
/// shop's migrations under a version and prefix, says where, and gives it back or holds it
/// until killed. Without the variable it does nothing.
#[test]
fn lease_child() {
    let Ok(spec) = std::env::var(LEASE_CHILD) else {
        return;
    };
    let fields: Vec<&str> = spec.splitn(4, ':').collect();
    let [backend, prefix, version, hold] = fields[..] else {
        panic!("{LEASE_CHILD}={spec}: expected backend:prefix:version:hold");
    };
    let version: &'static str = Box::leak(version.to_owned().into_boxed_str());
    let hold = hold == "hold";
    match backend {
        "sqlite" => lease_and_say::<SqliteConnection>(
            sqlite_url("lease"),
            common::SQLITE_MIGRATIONS.with_version(version),
            prefix,
            hold,
        ),
        #[cfg(feature = "postgres")]
        "postgres" => lease_and_say::<PgConnection>(
            pg_url("lease"),
            common::PG_MIGRATIONS.with_version(version),
            prefix,
            hold,
        ),
        #[cfg(feature = "mysql")]
        "mysql" => lease_and_say::<MysqlConnection>(
            mysql_url("lease"),
            common::MYSQL_MIGRATIONS.with_version(version),
            prefix,
            hold,
        ),
        other => panic!("no such backend: {other}"),
    }
}

fn lease_and_say<C: TestBackend>(url: String, migrations: Migrations, prefix: &str, hold: bool) {
    let db = TestDb::<C>::builder(url)
        .migrations(migrations)
        .cleanup(Cleanup::DatabasePerTest)
        .database_prefix(prefix)
        .open()
        .expect("lease a per-test database");
    println!("LEASED {}", db.url());
    if hold {
        std::thread::sleep(std::time::Duration::from_secs(120));
    }
    db.finish().expect("give the database back");
}

/// A child process holding a lease; killed on drop. (Its stdout stays open: a child writing
/// to a closed pipe fails.)
struct Holder(
    Child,
    #[allow(dead_code)] std::io::BufReader<std::process::ChildStdout>,
);

impl Drop for Holder {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs [`lease_child`] for `backend` under `prefix` and `version`; returns the URL it leased,
/// and, if it `hold`s the lease, the process (killed when dropped).
fn lease_in_a_child(
    backend: &str,
    prefix: &str,
    version: &str,
    hold: bool,
    env: &[(&str, &str)],
) -> (String, Option<Holder>) {
    let mut child = test_process("lease_child")
        .env(
            LEASE_CHILD,
            format!(
                "{backend}:{prefix}:{version}:{}",
                if hold { "hold" } else { "return" }
            ),
        )
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .spawn()
        .expect("start the child test process");
    let mut stdout = std::io::BufReader::new(child.stdout.take().expect("its stdout"));
    let mut url = None;
    let mut line = String::new();
    while url.is_none() && stdout.read_line(&mut line).is_ok_and(|n| n > 0) {
        url = line
            .split_once("LEASED ")
            .map(|(_, url)| url.trim().to_owned());
        line.clear();
    }
    let url = url.expect("the child leased a database");
    if hold {
        (url, Some(Holder(child, stdout)))
    } else {
        std::io::copy(&mut stdout, &mut std::io::sink()).expect("read the child's output");
        assert!(
            child.wait().expect("reap the child").success(),
            "the child failed"
        );
        (url, None)
    }
}

/// The tests of one backend. `$url(name)` gives a database of the test's own; `$exists(url)`
/// whether the database a URL names exists; `$artifacts(prefix, hash)` the per-test databases
/// (or files) of a set of migrations; `$secret(url)` adds a password where the server ignores
/// it.
macro_rules! backend_tests {
    (
        $conn:ty, $db:ty, $backend:literal, async_conn = $aconn:ty,
        url = $url:ident, migrations = $migrations:path, seeded = $seeded:literal,
        exists = $exists:ident, artifacts = $artifacts:ident, secret = $secret:ident
    ) => {
        use super::*;

        fn orders_in(url: &str) -> i64 {
            let mut conn = <$conn as diesel::Connection>::establish(url)
                .unwrap_or_else(|e| panic!("connect to {url}: {e}"));
            orders::table.count().get_result(&mut conn).expect("count orders")
        }

        /// A test's usual work: an order, with its user, lines and products.
        fn work(db: &mut TestDb<$conn>) -> i32 {
            let order = Order::factory().create(db);
            let seen: i64 = orders::table
                .filter(orders::id.eq(order.id))
                .count()
                .get_result(&mut **db)
                .expect("count the order");
            assert_eq!(seen, 1, "the handle sees its own rows");
            order.id
        }

        /// This module's test `name` as libtest names it.
        fn test_path(name: &str) -> String {
            let module = module_path!().split_once("::").map_or("", |(_, m)| m);
            format!("{module}::{name}")
        }

        #[factory_core::test(url = $url("transaction"), migrations = $migrations, check_residue)]
        fn transaction(db: &mut TestDb<$conn>) {
            assert_eq!(db.cleanup(), Cleanup::Transaction, "the default");
            work(db);
        }

        #[factory_core::test(
            url = $url("tracked"),
            migrations = $migrations,
            cleanup = Tracked,
            check_residue
        )]
        fn tracked(db: &mut TestDb<$conn>) {
            assert_eq!(db.cleanup(), Cleanup::Tracked);
            work(db);
            assert!(db.tracked_rows() > 1, "the order and its parents");
        }

        #[factory_core::test(
            url = $url("truncate"),
            migrations = $migrations,
            cleanup = Truncate,
            check_residue
        )]
        fn truncate(db: &mut TestDb<$conn>) {
            assert_eq!(db.cleanup(), Cleanup::Truncate);
            work(db);
        }

        #[factory_core::test(
            url = $url("per_test"),
            migrations = $migrations,
            cleanup = DatabasePerTest
        )]
        fn database_per_test(db: &mut TestDb<$conn>) {
            assert_eq!(db.cleanup(), Cleanup::DatabasePerTest);
            assert_ne!(db.url(), $url("per_test"), "a database of the test's own");
            assert_eq!(orders_in(db.url()), 0, "it starts empty");
            work(db);
        }

        #[factory_core::test(url = $url("result"), migrations = $migrations)]
        fn returns_ok(db: &mut TestDb<$conn>) -> Result<(), diesel::result::Error> {
            let n: i64 = orders::table.count().get_result(&mut **db)?;
            assert!(n >= 0);
            Ok(())
        }

        #[factory_core::test(
            url = $url("prefix"),
            migrations = $migrations,
            cleanup = DatabasePerTest,
            database_prefix = "fattr_prefix"
        )]
        fn per_test_databases_carry_their_prefix(db: &mut TestDb<$conn>) {
            let name = database_of(db.url());
            assert!(name.starts_with("fattr_prefix_"), "{name}");
            work(db);
        }

        #[cfg(feature = "async")]
        mod asynchronous {
            use super::*;

            /// A test's usual work on the diesel-async connection: an order with its user,
            /// lines and products, created through `create_async`.
            async fn work_async(db: &mut TestDb<$aconn>) -> i32 {
                let order = Order::factory().create_async(db).await;
                let seen: i64 = diesel_async::RunQueryDsl::get_result(
                    orders::table.filter(orders::id.eq(order.id)).count(),
                    db.conn(),
                )
                .await
                .expect("count the order");
                assert_eq!(seen, 1, "the handle sees its own rows");
                order.id
            }

            #[factory_core::test(
                url = $url("transaction_on_async"),
                migrations = $migrations,
                check_residue
            )]
            async fn transaction_on_an_async_connection(db: &mut TestDb<$aconn>) {
                assert_eq!(db.cleanup(), Cleanup::Transaction);
                work_async(db).await;
            }

            #[factory_core::test(
                url = $url("tracked_on_async"),
                migrations = $migrations,
                cleanup = Tracked,
                check_residue,
                flavor = "multi_thread",
                worker_threads = 2
            )]
            async fn tracked_on_an_async_connection(db: &mut TestDb<$aconn>) {
                work_async(db).await;
                assert!(db.tracked_rows() > 1, "the order and its parents");
            }

            #[factory_core::test(
                url = $url("truncate_on_async"),
                migrations = $migrations,
                cleanup = Truncate,
                check_residue
            )]
            async fn truncate_on_an_async_connection(db: &mut TestDb<$aconn>) {
                work_async(db).await;
            }

            #[factory_core::test(
                url = $url("per_test_on_async"),
                migrations = $migrations,
                cleanup = DatabasePerTest
            )]
            async fn database_per_test_on_an_async_connection(db: &mut TestDb<$aconn>) {
                assert_ne!(db.url(), $url("per_test_on_async"), "a database of the test's own");
                assert_eq!(orders_in(db.url()), 0, "it starts empty");
                work_async(db).await;
            }

            #[factory_core::test(
                url = $url("transaction_async"),
                migrations = $migrations,
                check_residue
            )]
            async fn transaction(db: &mut TestDb<$conn>) {
                tokio::task::yield_now().await;
                assert_eq!(db.cleanup(), Cleanup::Transaction);
                work(db);
            }

            #[factory_core::test(
                url = $url("tracked_async"),
                migrations = $migrations,
                cleanup = Tracked,
                check_residue
            )]
            async fn tracked(db: &mut TestDb<$conn>) {
                tokio::task::yield_now().await;
                work(db);
                assert!(db.tracked_rows() > 1);
            }

            #[factory_core::test(
                url = $url("truncate_async"),
                migrations = $migrations,
                cleanup = Truncate,
                check_residue
            )]
            async fn truncate(db: &mut TestDb<$conn>) {
                tokio::task::yield_now().await;
                assert_eq!(db.cleanup(), Cleanup::Truncate);
                work(db);
            }

            #[factory_core::test(
                url = $url("per_test_async"),
                migrations = $migrations,
                cleanup = DatabasePerTest
            )]
            async fn database_per_test(db: &mut TestDb<$conn>) {
                tokio::task::yield_now().await;
                assert_eq!(db.cleanup(), Cleanup::DatabasePerTest);
                assert_eq!(orders_in(db.url()), 0, "it starts empty");
                work(db);
            }

            #[factory_core::test(
                url = $url("multi_thread"),
                migrations = $migrations,
                cleanup = Tracked,
                check_residue,
                flavor = "multi_thread",
                worker_threads = 2
            )]
            async fn on_a_multi_threaded_runtime(db: &mut TestDb<$conn>) {
                let elsewhere = tokio::spawn(async { std::thread::current().id() })
                    .await
                    .expect("a task on a worker thread");
                assert_ne!(elsewhere, std::thread::current().id());
                work(db);
            }

            #[factory_core::test(url = $url("result_async"), migrations = $migrations)]
            async fn returns_ok(db: &mut TestDb<$conn>) -> Result<(), diesel::result::Error> {
                tokio::task::yield_now().await;
                let _: i64 = orders::table.count().get_result(&mut **db)?;
                Ok(())
            }
        }

        /// Tests that fail; [`failing_tests_fail_and_leave_nothing`] runs them.
        mod failing {
            use super::*;

            #[factory_core::test(url = $url("failing"), migrations = $migrations, cleanup = Tracked)]
            #[ignore = "fails on purpose: run by `failing_tests_fail_and_leave_nothing`"]
            pub fn panics(db: &mut TestDb<$conn>) {
                work(db);
                panic!("the test failed");
            }

            #[factory_core::test(url = $url("failing"), migrations = $migrations, cleanup = Tracked)]
            #[ignore = "fails on purpose: run by `failing_tests_fail_and_leave_nothing`"]
            pub fn returns_an_error(db: &mut TestDb<$conn>) -> Result<(), String> {
                work(db);
                Err("no stock".to_owned())
            }

            #[cfg(feature = "async")]
            #[factory_core::test(url = $url("failing"), migrations = $migrations, cleanup = Tracked)]
            #[ignore = "fails on purpose: run by `failing_tests_fail_and_leave_nothing`"]
            pub async fn panics_async(db: &mut TestDb<$conn>) {
                work(db);
                tokio::task::yield_now().await;
                panic!("the async test failed");
            }
        }

        /// A test that panics or returns an error fails, with its own message, and its rows
        /// are gone all the same.
        #[test]
        fn failing_tests_fail_and_leave_nothing() {
            let url = $url("failing");
            drop(
                TestDb::<$conn>::builder(url.clone())
                    .migrations($migrations)
                    .open()
                    .expect("migrate the database"),
            );
            let before = orders_in(&url);
            let failure = |test: fn()| {
                panic_message(std::panic::catch_unwind(test).expect_err("the test fails"))
            };
            assert_eq!(failure(failing::panics), "the test failed");
            assert_eq!(orders_in(&url), before);
            let error = failure(failing::returns_an_error);
            assert!(error.contains("returned an error: \"no stock\""), "{error}");
            assert_eq!(orders_in(&url), before);
            #[cfg(feature = "async")]
            {
                assert_eq!(failure(failing::panics_async), "the async test failed");
                assert_eq!(orders_in(&url), before);
            }
        }

        #[factory_core::test(
            url = $secret($url("keep")),
            migrations = $migrations,
            cleanup = DatabasePerTest,
            keep_failed,
            database_prefix = "fattr_keep"
        )]
        #[ignore = "fails on purpose: run in a child process by `keeps_a_failed_tests_database`"]
        fn keep_child(db: &mut TestDb<$conn>) {
            work(db);
            panic!("the test failed");
        }

        /// The failed test's database survives as it left it, named on stderr (no password);
        /// later tests do not use it; `sweep_kept` drops it.
        #[test]
        fn keeps_a_failed_tests_database() {
            let output = test_process(&test_path("keep_child"))
                .output()
                .expect("run the failing test");
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(!output.status.success(), "the test fails: {stderr}");
            let (name, printed) = kept_on(&stderr)
                .unwrap_or_else(|| panic!("no kept database on stderr: {stderr}"));
            assert!(stderr.contains("keep_child"), "names the test: {stderr}");
            assert!(!stderr.contains("hunter2"), "shows a password: {stderr}");
            if $secret($url("keep")).contains("hunter2") {
                assert!(printed.contains("***"), "{printed}");
            }
            let kept = if $backend == "sqlite" {
                printed
            } else {
                format!("{}/{name}", server_of(&$url("keep")))
            };
            assert!($exists(&kept), "{kept} is gone");
            assert!(orders_in(&kept) > 0, "{kept} is not as the test left it");
            let later = TestDb::<$conn>::builder($url("keep"))
                .migrations($migrations)
                .cleanup(Cleanup::DatabasePerTest)
                .database_prefix("fattr_keep")
                .open()
                .expect("a later test's database");
            assert_ne!(later.url(), kept, "a later test got the kept database");
            later.finish().unwrap();
            assert!($exists(&kept));
            let dropped = TestDb::<$conn>::builder($url("keep"))
                .database_prefix("fattr_keep")
                .sweep_kept()
                .expect("sweep the kept databases");
            assert!(dropped.contains(&name), "{dropped:?} without {name}");
            assert!(!$exists(&kept), "{kept} survived the sweep");
        }

        /// A kept database stays its time (a day by default), then a lease drops it. Kept
        /// here through the builder and a panic, without the attribute.
        #[test]
        fn a_lease_drops_kept_databases_after_their_time() {
            let prefix = "fattr_age";
            let builder = || {
                TestDb::<$conn>::builder($url("age"))
                    .migrations($migrations)
                    .cleanup(Cleanup::DatabasePerTest)
                    .database_prefix(prefix)
            };
            let kept = std::sync::Mutex::new(String::new());
            let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let mut db = builder().keep_failed(true).open().expect("open");
                work(&mut db);
                *kept.lock().unwrap() = db.url().to_owned();
                panic!("the test failed");
            }));
            assert!(outcome.is_err());
            let kept = kept.into_inner().unwrap();
            assert!($exists(&kept), "{kept} was not kept");
            assert!(orders_in(&kept) > 0);
            let db = builder().open().expect("open");
            assert_ne!(db.url(), kept);
            db.finish().unwrap();
            assert!($exists(&kept), "{kept} was dropped before its time");
            lease_in_a_child(
                $backend,
                prefix,
                "",
                false,
                &[(factory_core::cleanup::KEEP_FAILED_HOURS_VAR, "0")],
            );
            // (A server reuses the name for a fresh database.)
            assert!(
                !$exists(&kept) || orders_in(&kept) == 0,
                "{kept} outlived its time"
            );
            let left = TestDb::<$conn>::builder($url("age"))
                .database_prefix(prefix)
                .sweep_kept()
                .unwrap();
            assert_eq!(left, Vec::<String>::new(), "still kept");
        }

        /// A lease drops the per-test databases of other migrations (here: other versions of
        /// them) that no process holds, and leaves the one a live process leases until that
        /// process is gone.
        #[test]
        fn a_lease_drops_the_databases_of_older_migrations() {
            let prefix = "fattr_old";
            let pid = std::process::id();
            let (idle_version, held_version) = (format!("idle-{pid}"), format!("held-{pid}"));
            let hash_of = |version: &str| {
                let version: &'static str = Box::leak(version.to_owned().into_boxed_str());
                $migrations.with_version(version).hash::<$db>()
            };
            lease_in_a_child($backend, prefix, &idle_version, false, &[]);
            assert!(!$artifacts(prefix, &hash_of(&idle_version)).is_empty());
            let (held, holder) = lease_in_a_child($backend, prefix, &held_version, true, &[]);
            let ours = TestDb::<$conn>::builder($url("lease"))
                .migrations($migrations)
                .cleanup(Cleanup::DatabasePerTest)
                .database_prefix(prefix);
            ours.clone().open().expect("lease").finish().unwrap();
            assert_eq!(
                $artifacts(prefix, &hash_of(&idle_version)),
                Vec::<String>::new(),
                "the older migrations' databases are still there"
            );
            assert!($exists(&held), "{held}, leased by a live process, was dropped");
            drop(holder);
            // The server frees the dead session's locks when it sees the connection gone.
            let mut swept = false;
            for _ in 0..50 {
                ours.clone().open().expect("lease").finish().unwrap();
                if !$exists(&held) {
                    swept = true;
                    break;
                }
                std::thread::sleep(std::time::Duration::from_millis(100));
            }
            assert!(swept, "{held} outlived its process");
            assert_eq!(
                $artifacts(prefix, &hash_of(&held_version)),
                Vec::<String>::new()
            );
        }

        static SEEDED: Migrations = factory_core::embed_migrations!($seeded);

        #[derive(QueryableByName)]
        struct Count {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }

        fn count(db: &mut TestDb<$conn>, table: &str) -> i64 {
            diesel::sql_query(format!("SELECT COUNT(*) AS n FROM {table}"))
                .get_result::<Count>(&mut **db)
                .expect("count")
                .n
        }

        #[factory_core::test(
            url = $url("keep_tables"),
            migrations = SEEDED,
            cleanup = Truncate,
            keep_tables = ["countries"],
            check_residue
        )]
        #[ignore = "run twice by `truncate_keeps_the_tables_it_is_told_to`"]
        fn keeps_countries(db: &mut TestDb<$conn>) {
            assert_eq!(count(db, "countries"), 3, "the rows the migrations inserted");
            assert_eq!(count(db, "notes"), 0, "an earlier test's rows");
            diesel::sql_query("INSERT INTO notes (country, body) VALUES ('fr', 'bonjour')")
                .execute(&mut **db)
                .expect("write a note");
        }

        /// The seeded `countries` stay through truncation; `notes` is emptied. Keeping a table
        /// that references an emptied one, or one that does not exist, is refused.
        #[test]
        fn truncate_keeps_the_tables_it_is_told_to() {
            keeps_countries();
            keeps_countries();
            let open = |keep: &[&str]| {
                TestDb::<$conn>::builder($url("keep_tables"))
                    .migrations(SEEDED)
                    .cleanup(Cleanup::Truncate)
                    .keep_tables(keep.iter().copied())
                    .open()
                    .map(drop)
                    .expect_err("refused")
                    .to_string()
            };
            let error = open(&["notes"]);
            assert!(error.contains("keep `countries` too"), "{error}");
            let error = open(&["countries", "contries"]);
            assert!(error.contains("`contries`, not a table"), "{error}");
        }
    };
}

mod sqlite {
    backend_tests!(
        diesel::SqliteConnection,
        diesel::sqlite::Sqlite,
        "sqlite",
        async_conn = diesel_async::sync_connection_wrapper::SyncConnectionWrapper<
            diesel::SqliteConnection,
        >,
        url = sqlite_url,
        migrations = common::SQLITE_MIGRATIONS,
        seeded = "tests/fixtures/seeded/sqlite",
        exists = sqlite_exists,
        artifacts = sqlite_artifacts,
        secret = same
    );

    /// With no URL given and no variable set, a SQLite test gets a private in-memory database.
    #[factory_core::test(migrations = common::SQLITE_MIGRATIONS)]
    fn defaults_to_a_database_in_memory(db: &mut TestDb<diesel::SqliteConnection>) {
        let set = |var| std::env::var(var).is_ok_and(|v| !v.trim().is_empty());
        if !set(factory_core::cleanup::SQLITE_URL_VAR)
            && !set(factory_core::cleanup::DATABASE_URL_VAR)
        {
            assert_eq!(db.url(), ":memory:");
        }
        work(db);
    }

    /// `url_var` reads that variable: run in a child process that sets it.
    #[factory_core::test(url_var = "FACTORY_TEST_ATTR_URL", migrations = common::SQLITE_MIGRATIONS)]
    #[ignore = "run in a child process by `url_var_names_the_variable`"]
    fn url_var_child(db: &mut TestDb<diesel::SqliteConnection>) {
        assert_eq!(db.url(), sqlite_url("url_var"));
        work(db);
    }

    #[test]
    fn url_var_names_the_variable() {
        let run = |value: Option<&str>| {
            let mut child = test_process(&test_path("url_var_child"));
            match value {
                Some(value) => child.env("FACTORY_TEST_ATTR_URL", value),
                None => child.env_remove("FACTORY_TEST_ATTR_URL"),
            };
            child.output().expect("run the test")
        };
        let set = run(Some(&sqlite_url("url_var")));
        assert!(
            set.status.success(),
            "{}",
            String::from_utf8_lossy(&set.stderr)
        );
        let unset = run(None);
        let stderr = String::from_utf8_lossy(&unset.stderr);
        assert!(!unset.status.success());
        assert!(stderr.contains("set FACTORY_TEST_ATTR_URL"), "{stderr}");
    }

    #[factory_core::test(migrations = common::SQLITE_MIGRATIONS, cleanup = DatabasePerTest, database_prefix = "fattr_envkeep")]
    #[ignore = "fails on purpose: run in a child process by `keep_failed_from_the_environment`"]
    fn env_keep_child(db: &mut TestDb<diesel::SqliteConnection>) {
        work(db);
        panic!("the test failed");
    }

    /// `FACTORY_KEEP_FAILED=1` keeps failed tests' databases without the option.
    #[test]
    fn keep_failed_from_the_environment() {
        let run = |keep: bool| {
            let mut child = test_process(&test_path("env_keep_child"));
            if keep {
                child.env(factory_core::cleanup::KEEP_FAILED_VAR, "1");
            }
            let output = child.output().expect("run the test");
            assert!(!output.status.success());
            kept_on(&String::from_utf8_lossy(&output.stderr))
        };
        assert_eq!(run(false), None, "kept without being asked to");
        let (name, _) = run(true).expect("kept under FACTORY_KEEP_FAILED=1");
        let dropped = TestDb::<diesel::SqliteConnection>::builder(":memory:")
            .database_prefix("fattr_envkeep")
            .sweep_kept()
            .unwrap();
        assert_eq!(dropped, [name]);
    }

    #[factory_core::test(
        migrations = common::SQLITE_MIGRATIONS,
        cleanup = DatabasePerTest,
        keep_failed,
        database_prefix = "fattr_should"
    )]
    #[should_panic(expected = "the expected failure")]
    #[ignore = "run by `an_expected_panic_keeps_nothing`"]
    fn expected_panic(db: &mut TestDb<diesel::SqliteConnection>) {
        work(db);
        panic!("the expected failure");
    }

    /// Under `#[should_panic]` a panic is the test passing: its database is not kept.
    #[test]
    fn an_expected_panic_keeps_nothing() {
        assert!(std::panic::catch_unwind(expected_panic).is_err());
        let dropped = TestDb::<diesel::SqliteConnection>::builder(":memory:")
            .database_prefix("fattr_should")
            .sweep_kept()
            .unwrap();
        assert_eq!(dropped, Vec::<String>::new());
    }
}

#[cfg(feature = "postgres")]
mod postgres {
    backend_tests!(
        diesel::PgConnection,
        diesel::pg::Pg,
        "postgres",
        async_conn = diesel_async::AsyncPgConnection,
        url = pg_url,
        migrations = common::PG_MIGRATIONS,
        seeded = "tests/fixtures/seeded/postgres",
        exists = pg_exists,
        artifacts = pg_artifacts,
        secret = with_password
    );
}

#[cfg(feature = "mysql")]
mod mysql {
    backend_tests!(
        diesel::MysqlConnection,
        diesel::mysql::Mysql,
        "mysql",
        async_conn = diesel_async::AsyncMysqlConnection,
        url = mysql_url,
        migrations = common::MYSQL_MIGRATIONS,
        seeded = "tests/fixtures/seeded/mysql",
        exists = mysql_exists,
        artifacts = mysql_artifacts,
        secret = same
    );
}
