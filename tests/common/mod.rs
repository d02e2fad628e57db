//! Connections for the behaviour suite, one function per backend.
//!
//! PostgreSQL and MySQL tests run inside a test transaction that is rolled back when the
//! connection drops, on a database the first test creates and migrates. A server that cannot
//! be reached fails the test: nothing is skipped.

#![allow(dead_code)] // each test file uses the backends it needs

pub mod drive;

use diesel::prelude::*;
#[cfg(any(feature = "postgres", feature = "mysql"))]
use std::sync::OnceLock;

/// A fresh in-memory SQLite database with the shop's tables.
pub fn sqlite() -> SqliteConnection {
    shop::sqlite(":memory:")
}

/// A SQLite file database of this process in the temporary directory, shared by its
/// connections; writes commit.
pub fn sqlite_committing() -> SqliteConnection {
    let path = std::env::temp_dir().join(format!("factory-tests-{}.sqlite", std::process::id()));
    shop::sqlite(&path.to_string_lossy())
}

fn url(var: &str, default: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| default.to_owned())
}

/// A connection to `FACTORY_TEST_POSTGRES_URL` (default: the local server's `factory_test`
/// database), in a test transaction.
#[cfg(feature = "postgres")]
pub fn postgres() -> PgConnection {
    let mut conn = postgres_committing();
    conn.begin_test_transaction()
        .expect("begin a test transaction");
    conn
}

/// As [`postgres`], without the test transaction: what it writes, it commits.
#[cfg(feature = "postgres")]
pub fn postgres_committing() -> PgConnection {
    static URL: OnceLock<String> = OnceLock::new();
    let url = URL.get_or_init(|| {
        let url = url(
            "FACTORY_TEST_POSTGRES_URL",
            "postgres://postgres@127.0.0.1:5432/factory_test",
        );
        drop(shop::postgres(&url));
        url
    });
    PgConnection::establish(url)
        .unwrap_or_else(|e| panic!("cannot connect to PostgreSQL at {url}: {e}"))
}

/// A connection to `FACTORY_TEST_MYSQL_URL` (default: the local server's `factory_test`
/// database), in a test transaction.
#[cfg(feature = "mysql")]
pub fn mysql() -> MysqlConnection {
    let mut conn = mysql_committing();
    conn.begin_test_transaction()
        .expect("begin a test transaction");
    conn
}

/// As [`mysql`], without the test transaction: what it writes, it commits.
#[cfg(feature = "mysql")]
pub fn mysql_committing() -> MysqlConnection {
    static URL: OnceLock<String> = OnceLock::new();
    let url = URL.get_or_init(|| {
        let url = url(
            "FACTORY_TEST_MYSQL_URL",
            "mysql://root@127.0.0.1:3306/factory_test",
        );
        drop(shop::mysql(&url));
        url
    });
    MysqlConnection::establish(url)
        .unwrap_or_else(|e| panic!("cannot connect to MySQL at {url}: {e}"))
}

/// [`sqlite`] behind diesel-async's `SyncConnectionWrapper`.
#[cfg(feature = "async")]
pub async fn sqlite_async() -> SqliteWrapper {
    diesel_async::sync_connection_wrapper::SyncConnectionWrapper::new(sqlite())
}

/// [`sqlite_committing`] behind diesel-async's `SyncConnectionWrapper`.
#[cfg(feature = "async")]
pub async fn sqlite_async_committing() -> SqliteWrapper {
    diesel_async::sync_connection_wrapper::SyncConnectionWrapper::new(sqlite_committing())
}

/// The async SQLite connection type.
#[cfg(feature = "async")]
pub type SqliteWrapper =
    diesel_async::sync_connection_wrapper::SyncConnectionWrapper<SqliteConnection>;

/// [`postgres`] on an `AsyncPgConnection`: in a test transaction.
#[cfg(all(feature = "async", feature = "postgres"))]
pub async fn postgres_async() -> diesel_async::AsyncPgConnection {
    let mut conn = postgres_async_committing().await;
    diesel_async::AsyncConnection::begin_test_transaction(&mut conn)
        .await
        .expect("begin a test transaction");
    conn
}

/// [`postgres_committing`] on an `AsyncPgConnection`.
#[cfg(all(feature = "async", feature = "postgres"))]
pub async fn postgres_async_committing() -> diesel_async::AsyncPgConnection {
    drop(postgres_committing()); // the database exists and is migrated
    let url = url(
        "FACTORY_TEST_POSTGRES_URL",
        "postgres://postgres@127.0.0.1:5432/factory_test",
    );
    <diesel_async::AsyncPgConnection as diesel_async::AsyncConnection>::establish(&url)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to PostgreSQL at {url}: {e}"))
}

/// [`mysql`] on an `AsyncMysqlConnection`: in a test transaction.
#[cfg(all(feature = "async", feature = "mysql"))]
pub async fn mysql_async() -> diesel_async::AsyncMysqlConnection {
    let mut conn = mysql_async_committing().await;
    diesel_async::AsyncConnection::begin_test_transaction(&mut conn)
        .await
        .expect("begin a test transaction");
    conn
}

/// [`mysql_committing`] on an `AsyncMysqlConnection`.
#[cfg(all(feature = "async", feature = "mysql"))]
pub async fn mysql_async_committing() -> diesel_async::AsyncMysqlConnection {
    drop(mysql_committing()); // the database exists and is migrated
    let url = url(
        "FACTORY_TEST_MYSQL_URL",
        "mysql://root@127.0.0.1:3306/factory_test",
    );
    <diesel_async::AsyncMysqlConnection as diesel_async::AsyncConnection>::establish(&url)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to MySQL at {url}: {e}"))
}

/// Holds a lock shared by every test process until dropped: tests that count every table's
/// rows (the residue check) must not overlap on their database.
pub fn serial(name: &str) -> std::fs::File {
    let path = std::env::temp_dir().join(format!("factory-tests-{name}.lock"));
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    file.lock()
        .unwrap_or_else(|e| panic!("lock {}: {e}", path.display()));
    file
}

/// The shop's migrations, with a hash of their files naming the per-test template.
pub static SQLITE_MIGRATIONS: factory_core::cleanup::Migrations =
    factory_core::embed_migrations!("migrations/sqlite");
/// As [`SQLITE_MIGRATIONS`], for PostgreSQL.
#[cfg(feature = "postgres")]
pub static PG_MIGRATIONS: factory_core::cleanup::Migrations =
    factory_core::embed_migrations!("migrations/postgres");
/// As [`SQLITE_MIGRATIONS`], for MySQL / MariaDB.
#[cfg(feature = "mysql")]
pub static MYSQL_MIGRATIONS: factory_core::cleanup::Migrations =
    factory_core::embed_migrations!("migrations/mysql");

/// The URL of the database the cleanup tests of a backend own (created and migrated once per
/// process): `FACTORY_TEST_<BACKEND>_URL` with its database renamed to `factory_cleanup`.
#[cfg(any(feature = "postgres", feature = "mysql"))]
pub fn cleanup_url(var: &str, default: &str) -> String {
    let base = url(var, default);
    let (server, _) = base
        .rsplit_once('/')
        .unwrap_or_else(|| panic!("{var} must end in /<database>: {base}"));
    format!("{server}/factory_cleanup")
}

/// The handle options every cleanup test uses: the shop's `migrations`, `cleanup`, and the
/// residue check on.
fn cleanup_db<C: factory_core::cleanup::TestConnection>(
    url: &str,
    migrations: factory_core::cleanup::Migrations,
    cleanup: factory_core::cleanup::Cleanup,
) -> factory_core::cleanup::TestDbBuilder<C> {
    factory_core::cleanup::TestDb::builder(url)
        .migrations(migrations)
        .cleanup(cleanup)
        .check_residue(true)
}

/// PostgreSQL's `factory_cleanup` database, created and migrated by the first call.
#[cfg(feature = "postgres")]
fn pg_cleanup_url() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        let url = cleanup_url(
            "FACTORY_TEST_POSTGRES_URL",
            "postgres://postgres@127.0.0.1:5432/factory_test",
        );
        drop(shop::postgres(&url));
        url
    })
}

/// MariaDB's `factory_cleanup` database, created and migrated by the first call.
#[cfg(feature = "mysql")]
fn mysql_cleanup_url() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        let url = cleanup_url(
            "FACTORY_TEST_MYSQL_URL",
            "mysql://root@127.0.0.1:3306/factory_test",
        );
        drop(shop::mysql(&url));
        url
    })
}

/// The SQLite file the cleanup tests share.
fn sqlite_cleanup_url() -> String {
    let path = std::env::temp_dir().join("factory-cleanup.sqlite");
    path.to_string_lossy().into_owned()
}

/// A test database handle on PostgreSQL's `factory_cleanup` database (per-test databases are
/// cloned on the same server), with the residue check on.
#[cfg(feature = "postgres")]
pub fn pg_db(
    cleanup: factory_core::cleanup::Cleanup,
) -> factory_core::cleanup::TestDb<PgConnection> {
    cleanup_db(pg_cleanup_url(), PG_MIGRATIONS, cleanup)
        .open()
        .unwrap_or_else(|e| panic!("open a PostgreSQL test database: {e}"))
}

/// [`pg_db`] on an `AsyncPgConnection`.
#[cfg(all(feature = "postgres", feature = "async"))]
pub async fn pg_db_async(
    cleanup: factory_core::cleanup::Cleanup,
) -> factory_core::cleanup::TestDb<diesel_async::AsyncPgConnection> {
    cleanup_db(pg_cleanup_url(), PG_MIGRATIONS, cleanup)
        .open_async()
        .await
        .unwrap_or_else(|e| panic!("open a PostgreSQL test database: {e}"))
}

/// A test database handle on MariaDB's `factory_cleanup` database, with the residue check on.
#[cfg(feature = "mysql")]
pub fn mysql_db(
    cleanup: factory_core::cleanup::Cleanup,
) -> factory_core::cleanup::TestDb<MysqlConnection> {
    cleanup_db(mysql_cleanup_url(), MYSQL_MIGRATIONS, cleanup)
        .open()
        .unwrap_or_else(|e| panic!("open a MariaDB test database: {e}"))
}

/// [`mysql_db`] on an `AsyncMysqlConnection`.
#[cfg(all(feature = "mysql", feature = "async"))]
pub async fn mysql_db_async(
    cleanup: factory_core::cleanup::Cleanup,
) -> factory_core::cleanup::TestDb<diesel_async::AsyncMysqlConnection> {
    cleanup_db(mysql_cleanup_url(), MYSQL_MIGRATIONS, cleanup)
        .open_async()
        .await
        .unwrap_or_else(|e| panic!("open a MariaDB test database: {e}"))
}

/// A test database handle on an SQLite file the cleanup tests share, with the residue check
/// on.
pub fn sqlite_db(
    cleanup: factory_core::cleanup::Cleanup,
) -> factory_core::cleanup::TestDb<SqliteConnection> {
    cleanup_db(&sqlite_cleanup_url(), SQLITE_MIGRATIONS, cleanup)
        .open()
        .unwrap_or_else(|e| panic!("open a SQLite test database: {e}"))
}

/// [`sqlite_db`] on diesel-async's `SyncConnectionWrapper`.
#[cfg(feature = "async")]
pub async fn sqlite_db_async(
    cleanup: factory_core::cleanup::Cleanup,
) -> factory_core::cleanup::TestDb<SqliteWrapper> {
    cleanup_db(&sqlite_cleanup_url(), SQLITE_MIGRATIONS, cleanup)
        .open_async()
        .await
        .unwrap_or_else(|e| panic!("open a SQLite test database: {e}"))
}

/// Polls `count_sql` (a `SELECT .. AS n` of one BIGINT) on `conn` until it is at least 1: for
/// a test that must act only once another session waits on a lock. Fails after 30 s.
#[cfg(any(feature = "postgres", feature = "mysql"))]
pub fn wait_until<C>(conn: &mut C, count_sql: &str)
where
    C: diesel::Connection,
    for<'a> diesel::query_builder::SqlQuery: diesel::query_dsl::LoadQuery<'a, C, Count>,
{
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let n = diesel::RunQueryDsl::get_result::<Count>(diesel::sql_query(count_sql), conn)
            .unwrap_or_else(|e| panic!("poll `{count_sql}`: {e}"))
            .n;
        if n > 0 {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "nothing matched `{count_sql}` within 30 s"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
}

/// One count, as [`wait_until`] reads it.
#[cfg(any(feature = "postgres", feature = "mysql"))]
#[derive(diesel::QueryableByName)]
pub struct Count {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    n: i64,
}
