//! Test databases that leave nothing behind: a [`TestDb`] handle opened with one [`Cleanup`]
//! strategy, a residue check, and a guard against destroying data on a remote server.
//!
//! | strategy | how | when |
//! |---|---|---|
//! | [`Cleanup::Transaction`] (default) | a test transaction, rolled back on drop | fastest; everything goes through the handle's one connection |
//! | [`Cleanup::Tracked`] | every factory insert through the handle is recorded; on drop the rows, and rows that reference them, are deleted in reverse order on a connection of their own | the code under test commits, opens other connections or writes from background tasks |
//! | [`Cleanup::Truncate`] | every table of the schema but Diesel's migrations bookkeeping (and those [`keep_tables`](TestDbBuilder::keep_tables) names) is emptied on drop | a database the test suite owns |
//! | [`Cleanup::DatabasePerTest`] | the test gets a database of its own: PostgreSQL clones a migrated template, SQLite copies a migrated file, MySQL leases a database per worker; a failed test's can be [kept](TestDbBuilder::keep_failed) | full isolation, tests in parallel |
//!
//! ```
//! # #[cfg(feature = "sqlite")] {
//! use diesel::prelude::*;
//! use diesel::SqliteConnection;
//! use factory_core::cleanup::{Cleanup, TestDb};
//!
//! let dir = std::env::temp_dir().join(format!("factory-doc-{}", std::process::id()));
//! std::fs::create_dir_all(&dir).unwrap();
//! let url = dir.join("app.sqlite").to_string_lossy().into_owned();
//! {
//!     let mut db = TestDb::<SqliteConnection>::builder(&url)
//!         .cleanup(Cleanup::Truncate)
//!         .check_residue(true)
//!         .open()
//!         .unwrap();
//!     diesel::sql_query("CREATE TABLE IF NOT EXISTS notes (id INTEGER PRIMARY KEY, body TEXT)")
//!         .execute(&mut *db)
//!         .unwrap();
//!     diesel::sql_query("INSERT INTO notes (body) VALUES ('kept until drop')")
//!         .execute(&mut *db)
//!         .unwrap();
//! } // dropped: `notes` is emptied and the residue check finds nothing left
//! # std::fs::remove_dir_all(&dir).ok();
//! # }
//! ```
//!
//! The handle dereferences to its connection (`&mut *db` for Diesel queries), and factories
//! accept it wherever they accept a connection: `User::factory().create(&mut db)`.
//!
//! `#[factory_core::test(..)]` opens the handle for a test and cleans up after it, for plain and
//! `async fn` tests: see [`run_test`].

#[cfg(feature = "async")]
mod asynchronous;
mod backend;
pub(crate) mod key;
mod local;
mod migrations;
mod pool;
mod residue;
mod runner;
pub(crate) mod track;

#[cfg(feature = "mysql")]
mod mysql;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(feature = "sqlite")]
mod sqlite;

pub use backend::{KeptDatabase, TestBackend};
pub use local::{is_local, Driver};
pub use migrations::Migrations;
pub use residue::Residue;
#[cfg(not(feature = "async"))]
#[doc(hidden)]
pub use runner::AsyncFeature;
#[cfg(feature = "async")]
pub use runner::AsyncTestHandle;
pub use runner::{
    run_async_test, run_test, TestArgs, TestHandle, TestOutcome, DATABASE_URL_VAR, MYSQL_URL_VAR,
    POSTGRES_URL_VAR, SQLITE_URL_VAR,
};

use crate::create::{Create, GetOrCreate};
use crate::error::FactoryError;
use crate::persist::HasBackend;
use diesel::connection::{AnsiTransactionManager, TransactionManager};
use std::fmt;
use std::ops::{Deref, DerefMut};
use std::time::Duration;

/// How a [`TestDb`] leaves the database as it found it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Cleanup {
    /// The handle's connection runs inside a test transaction that is rolled back on drop.
    /// Rows written on any other connection are not covered; [`TestDb::connect`] refuses.
    #[default]
    Transaction,
    /// Writes commit. Every row a factory inserts through the handle is recorded, and on drop
    /// (also when the test panics) those rows are deleted in reverse order, each after the
    /// rows that reference it through a foreign key (whoever wrote them), on a connection of
    /// their own; retried on deadlock.
    Tracked,
    /// Writes commit. On drop every table of the schema, but Diesel's
    /// `__diesel_schema_migrations` and the tables [`TestDbBuilder::keep_tables`] names, is
    /// emptied: in one `TRUNCATE` on PostgreSQL.
    Truncate,
    /// The test gets a database of its own, migrated with [`TestDbBuilder::migrations`]:
    /// PostgreSQL clones a template database (built once per set of migrations), SQLite copies
    /// a migrated file, MySQL leases a database per worker. The database is emptied or
    /// removed on drop, or [kept](TestDbBuilder::keep_failed) if the test failed and the
    /// builder says so. Ones left by killed processes, and those of other migrations under the
    /// same [prefix](TestDbBuilder::database_prefix), are swept at the next start.
    DatabasePerTest,
}

impl Cleanup {
    /// Whether the strategy deletes or drops data, so needs a local database (or an opt-in).
    pub fn is_destructive(self) -> bool {
        !matches!(self, Self::Transaction)
    }

    fn name(self) -> &'static str {
        match self {
            Self::Transaction => "Cleanup::Transaction",
            Self::Tracked => "Cleanup::Tracked",
            Self::Truncate => "Cleanup::Truncate",
            Self::DatabasePerTest => "Cleanup::DatabasePerTest",
        }
    }
}

impl fmt::Display for Cleanup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a test database could not be opened or cleaned up. Neither its message nor its `Debug`
/// shows a password.
#[derive(thiserror::Error)]
#[non_exhaustive]
pub enum CleanupError {
    /// A destructive strategy was asked for on a database that is not on this machine.
    #[error(
        "{cleanup} deletes data, and `{host}` is not a local database host; call \
         `.allow_remote()` on the builder or set {ALLOW_REMOTE_VAR}=true if this database is \
         really disposable"
    )]
    RemoteDatabase {
        /// The strategy asked for.
        cleanup: Cleanup,
        /// The host the driver would connect to.
        host: String,
    },
    /// A destructive strategy was asked for on a connection string whose host cannot be
    /// checked (a PostgreSQL service, a string the driver cannot parse).
    #[error(
        "{cleanup} deletes data, and factory-core cannot tell whether the database is on this \
         machine: {reason}; call `.allow_remote()` on the builder or set \
         {ALLOW_REMOTE_VAR}=true if this database is really disposable"
    )]
    UncheckedDatabase {
        /// The strategy asked for.
        cleanup: Cleanup,
        /// Why the host cannot be checked (no password in it).
        reason: String,
    },
    /// A second connection was asked for under [`Cleanup::Transaction`].
    #[error(
        "Cleanup::Transaction keeps the test's rows in an uncommitted transaction on the \
         handle's one connection, so a second connection cannot see them and its own writes \
         would never be rolled back; open the handle with Cleanup::Tracked (deletes what the \
         test created, and what references it), Cleanup::Truncate or Cleanup::DatabasePerTest"
    )]
    SecondConnection,
    /// The strategy needs something the builder was not given.
    #[error("{0}")]
    Usage(String),
    /// The database could not be reached.
    #[error("cannot connect to {url}: {source}")]
    Connect {
        /// The URL, its password shown as `***`.
        url: String,
        /// The underlying error.
        #[source]
        source: diesel::ConnectionError,
    },
    /// A statement failed while opening or cleaning up.
    #[error("{cleanup} could not {step}: {source}")]
    Database {
        /// The strategy.
        cleanup: Cleanup,
        /// What it was doing, e.g. "truncate the schema's tables".
        step: String,
        /// The underlying error.
        #[source]
        source: diesel::result::Error,
    },
    /// Migrations could not be applied.
    #[error(
        "could not apply the migrations to {}: {message}",
        local::redact(database)
    )]
    Migrations {
        /// The database being migrated.
        database: String,
        /// What diesel_migrations reported.
        message: String,
    },
    /// A file of a SQLite per-test database could not be written or removed.
    #[error("{step} `{path}`: {source}")]
    File {
        /// What was being done.
        step: &'static str,
        /// The file.
        path: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The test left rows behind.
    #[error(transparent)]
    Residue(#[from] Residue),
    /// Cleanup waited as long as it may for a lock another connection holds.
    #[error(
        "{cleanup} waited {} s for {}, held by another connection's open transaction (a pool's \
         connection, a background task, a connection the test kept), and gave up: the rows the \
         test created are still there. End that transaction before the test ends (join the \
         task, drop the pool), give cleanup longer with `.lock_timeout(..)` on the builder, or \
         use Cleanup::DatabasePerTest so that no other test shares the database",
        waited.as_secs_f32(),
        table.as_ref().map_or_else(
            || "the database (SQLite locks all of it while a connection writes)".to_owned(),
            |t| format!("a lock on rows of `{t}`")
        )
    )]
    LockTimeout {
        /// The strategy.
        cleanup: Cleanup,
        /// The table whose rows stayed locked, where the backend locks rows.
        table: Option<String>,
        /// How long cleanup waited.
        waited: std::time::Duration,
    },
}

/// As derived, but a URL shows no password (`unwrap()` prints this).
impl fmt::Debug for CleanupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::RemoteDatabase { cleanup, host } => f
                .debug_struct("RemoteDatabase")
                .field("cleanup", cleanup)
                .field("host", host)
                .finish(),
            Self::UncheckedDatabase { cleanup, reason } => f
                .debug_struct("UncheckedDatabase")
                .field("cleanup", cleanup)
                .field("reason", reason)
                .finish(),
            Self::SecondConnection => f.write_str("SecondConnection"),
            Self::Usage(message) => f.debug_tuple("Usage").field(message).finish(),
            Self::Connect { url, source } => f
                .debug_struct("Connect")
                .field("url", &local::redact(url))
                .field("source", source)
                .finish(),
            Self::Database {
                cleanup,
                step,
                source,
            } => f
                .debug_struct("Database")
                .field("cleanup", cleanup)
                .field("step", step)
                .field("source", source)
                .finish(),
            Self::Migrations { database, message } => f
                .debug_struct("Migrations")
                .field("database", &local::redact(database))
                .field("message", message)
                .finish(),
            Self::File { step, path, source } => f
                .debug_struct("File")
                .field("step", step)
                .field("path", path)
                .field("source", source)
                .finish(),
            Self::Residue(residue) => f.debug_tuple("Residue").field(residue).finish(),
            Self::LockTimeout {
                cleanup,
                table,
                waited,
            } => f
                .debug_struct("LockTimeout")
                .field("cleanup", cleanup)
                .field("table", table)
                .field("waited", waited)
                .finish(),
        }
    }
}

impl CleanupError {
    pub(crate) fn db(
        cleanup: Cleanup,
        step: impl Into<String>,
    ) -> impl FnOnce(diesel::result::Error) -> Self {
        let step = step.into();
        move |source| Self::Database {
            cleanup,
            step,
            source,
        }
    }
}

/// How long cleanup waits for a lock held by another connection unless
/// [`TestDbBuilder::lock_timeout`] says otherwise.
pub const DEFAULT_LOCK_TIMEOUT: Duration = Duration::from_secs(15);

/// The environment variable that lets destructive strategies run against a remote host.
pub const ALLOW_REMOTE_VAR: &str = "FACTORY_ALLOW_REMOTE_DATABASE";

/// The environment variable that turns [`TestDbBuilder::keep_failed`] on for every
/// [`Cleanup::DatabasePerTest`] handle not told otherwise: `FACTORY_KEEP_FAILED=1`.
pub const KEEP_FAILED_VAR: &str = "FACTORY_KEEP_FAILED";

/// The environment variable that says how many hours a kept database stays before a lease
/// drops it (default [`KEPT_FOR`]; `0` drops them at the next lease).
pub const KEEP_FAILED_HOURS_VAR: &str = "FACTORY_KEEP_FAILED_HOURS";

/// How long a failed test's kept database stays before a later lease drops it, unless
/// [`KEEP_FAILED_HOURS_VAR`] says otherwise: a day.
pub const KEPT_FOR: Duration = Duration::from_secs(24 * 3600);

/// The prefix of per-test database names unless [`TestDbBuilder::database_prefix`] gives one.
pub const DEFAULT_DATABASE_PREFIX: &str = "factory";

/// A test's database connection that cleans up after the test, whatever way it ends.
///
/// Open one with [`TestDb::builder`] (or [`TestDb::open`] for the defaults). It dereferences
/// to the connection, and every factory accepts it as a connection.
///
/// A test process keeps connections (outside any transaction), leased per-test databases and
/// what it read of the schema for its next tests: connecting costs more than a test
/// transaction's whole work. Session settings a test changes (`SET ..`) therefore carry over to
/// a later test of the same process; a connection left inside a transaction is closed instead.
///
/// ```
/// # #[cfg(feature = "sqlite")] {
/// use diesel::prelude::*;
/// use diesel::SqliteConnection;
/// use factory_core::cleanup::{Cleanup, TestDb};
///
/// let mut db = TestDb::<SqliteConnection>::open(":memory:", Cleanup::Transaction).unwrap();
/// diesel::sql_query("CREATE TABLE t (id INTEGER PRIMARY KEY)").execute(&mut *db).unwrap();
/// assert!(db.connect().is_err()); // a second connection could not see the transaction
/// # }
/// ```
pub struct TestDb<C: TestConnection> {
    /// Boxed: under `Cleanup::Tracked` its address identifies it to the create paths, so that
    /// a factory given `&mut *db` is recorded too.
    conn: Option<Box<C>>,
    cleanup: Cleanup,
    /// The URL of the database the handle is connected to (the per-test one, if any).
    url: String,
    tracked: track::Shared,
    baseline: Option<residue::Counts>,
    lease: Option<<C::Admin as TestBackend>::Lease>,
    lock_timeout: Duration,
    /// Keep the per-test database if the test fails.
    keep_failed: bool,
    keep_tables: Vec<String>,
    test_name: Option<String>,
    /// Whether the test failed, when the runner knows; else a panic in progress says so.
    failed: Option<bool>,
    /// The server session of an async handle's connection, ended before cleanup (dropping a
    /// diesel-async PostgreSQL connection closes it only when its runtime next runs).
    #[cfg_attr(not(feature = "async"), allow(dead_code))]
    session: Option<i64>,
    finished: bool,
}

impl<C: TestConnection> fmt::Debug for TestDb<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestDb")
            .field("cleanup", &self.cleanup)
            .field("url", &local::redact(&self.url))
            .field("tracked_rows", &track::lock(&self.tracked).len())
            .finish_non_exhaustive()
    }
}

/// Options for opening a [`TestDb`]; from [`TestDb::builder`].
#[must_use]
pub struct TestDbBuilder<C> {
    url: String,
    options: Options,
    _conn: std::marker::PhantomData<fn() -> C>,
}

/// As derived, without asking the connection type to be `Clone` too.
impl<C> Clone for TestDbBuilder<C> {
    fn clone(&self) -> Self {
        Self::with_options(self.url.clone(), self.options.clone())
    }
}

/// As derived, but the URL shows no password.
impl<C> fmt::Debug for TestDbBuilder<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestDbBuilder")
            .field("url", &local::redact(&self.url))
            .field("options", &self.options)
            .finish()
    }
}

/// Everything a [`TestDbBuilder`] holds but the URL: what `#[factory_core::test]` carries to
/// the builder of whichever connection type the test takes.
#[derive(Debug, Clone)]
pub(crate) struct Options {
    pub(crate) cleanup: Cleanup,
    pub(crate) migrations: Option<Migrations>,
    pub(crate) check_residue: bool,
    pub(crate) allow_remote: bool,
    pub(crate) lock_timeout: Duration,
    /// `None`: as [`KEEP_FAILED_VAR`] says.
    pub(crate) keep_failed: Option<bool>,
    pub(crate) database_prefix: String,
    pub(crate) keep_tables: Vec<String>,
    /// The test's name, for a kept database; else the test thread's name.
    pub(crate) test_name: Option<String>,
}

impl Default for Options {
    fn default() -> Self {
        Self {
            cleanup: Cleanup::default(),
            migrations: None,
            check_residue: false,
            allow_remote: false,
            lock_timeout: DEFAULT_LOCK_TIMEOUT,
            keep_failed: None,
            database_prefix: DEFAULT_DATABASE_PREFIX.to_owned(),
            keep_tables: Vec::new(),
            test_name: None,
        }
    }
}

impl<C> TestDbBuilder<C> {
    pub(crate) fn with_options(url: String, options: Options) -> Self {
        Self {
            url,
            options,
            _conn: std::marker::PhantomData,
        }
    }
}

impl<C> TestDbBuilder<C> {
    /// The cleanup strategy (default [`Cleanup::Transaction`]).
    pub fn cleanup(mut self, cleanup: Cleanup) -> Self {
        self.options.cleanup = cleanup;
        self
    }

    /// The migrations that make the schema. [`Cleanup::DatabasePerTest`] needs them to build
    /// its databases; the other strategies apply any that are pending (under a lock, so
    /// parallel test processes do not race).
    pub fn migrations(mut self, migrations: Migrations) -> Self {
        self.options.migrations = Some(migrations);
        self
    }

    /// Count the rows of every table when the handle opens and again, from a separate
    /// connection, after cleanup; any difference fails the test with the tables and counts.
    ///
    /// The check assumes no other test commits to the same database meanwhile; use it on a
    /// database the test owns, or in a test group that runs alone. Under
    /// [`Cleanup::DatabasePerTest`] it is moot (the database is the test's own) and skipped.
    ///
    /// Rows factories create through the handle or its connection (`create(&mut db)`,
    /// `create(&mut *db)`, `db.conn()`) are tracked; rows plain Diesel queries insert are not
    /// (unless they reference a tracked row), and this check is what reports them.
    pub fn check_residue(mut self, check: bool) -> Self {
        self.options.check_residue = check;
        self
    }

    /// How long cleanup may wait for a lock another connection holds on a row it deletes
    /// (default [`DEFAULT_LOCK_TIMEOUT`]); then it fails, naming the table, instead of hanging
    /// the test. [`Cleanup::Tracked`] waits this long at most, retries included.
    pub fn lock_timeout(mut self, wait: Duration) -> Self {
        self.options.lock_timeout = wait;
        self
    }

    /// Lets destructive strategies run against a database that is not on this machine.
    pub fn allow_remote(mut self) -> Self {
        self.options.allow_remote = true;
        self
    }

    /// Under [`Cleanup::DatabasePerTest`], keeps the database of a test that fails (panics,
    /// or, under `#[factory_core::test]`, returns an error) as the test left it, and prints
    /// its name and URL (password hidden) to stderr so that you can connect and look.
    ///
    /// No later test uses a kept database. The lease of a later test drops it once it has
    /// been kept for [`KEPT_FOR`] (or as long as [`KEEP_FAILED_HOURS_VAR`] says);
    /// [`TestDbBuilder::sweep_kept`] drops every kept database at once.
    ///
    /// Off by default; `FACTORY_KEEP_FAILED=1` ([`KEEP_FAILED_VAR`]) turns it on for every
    /// handle not told otherwise. Asked for with another strategy, [`open`](Self::open)
    /// refuses: only a per-test database is the test's own to keep.
    ///
    /// ```no_run
    /// # #[cfg(feature = "postgres")] {
    /// use factory_core::cleanup::{Cleanup, Migrations, TestDb};
    ///
    /// static MIGRATIONS: Migrations = factory_core::embed_migrations!("../migrations/postgres");
    ///
    /// let db = TestDb::<diesel::PgConnection>::builder("postgres://localhost/app")
    ///     .migrations(MIGRATIONS)
    ///     .cleanup(Cleanup::DatabasePerTest)
    ///     .keep_failed(true)
    ///     .open()
    ///     .unwrap();
    /// // A panic from here on keeps `db.url()`'s database and names it on stderr:
    /// // factory_core: kept the database of the failed test `..`: factory_5c0e.._3 (postgres://..)
    /// # }
    /// ```
    pub fn keep_failed(mut self, keep: bool) -> Self {
        self.options.keep_failed = Some(keep);
        self
    }

    /// The prefix of the names of [`Cleanup::DatabasePerTest`]'s databases (default
    /// [`DEFAULT_DATABASE_PREFIX`]): `<prefix>_<hash>_<n>` for a test's database,
    /// `<prefix>_tpl_<hash>` for PostgreSQL's template, `<prefix>_*.sqlite` files for SQLite.
    /// A lowercase letter, then at most 29 lowercase letters, digits or underscores.
    ///
    /// Every lease sweeps the databases under its prefix that were made from other
    /// migrations (an older version of them, as a rule) and that no live process holds. Test
    /// suites of different migrations that share a server, or a SQLite directory, should each
    /// have a prefix of their own, or each run drops the other's.
    ///
    /// ```
    /// # #[cfg(feature = "sqlite")] {
    /// use factory_core::cleanup::{Cleanup, Migrations, TestDb};
    ///
    /// static MIGRATIONS: Migrations = factory_core::embed_migrations!("../migrations/sqlite");
    ///
    /// let db = TestDb::<diesel::SqliteConnection>::builder(":memory:")
    ///     .migrations(MIGRATIONS)
    ///     .cleanup(Cleanup::DatabasePerTest)
    ///     .database_prefix("billing")
    ///     .open()
    ///     .unwrap();
    /// let file = std::path::Path::new(db.url()).file_name().unwrap().to_str().unwrap();
    /// assert!(file.starts_with("billing_"), "{file}");
    /// # }
    /// ```
    pub fn database_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.options.database_prefix = prefix.into();
        self
    }

    /// Under [`Cleanup::Truncate`], leaves these tables as they are, as DatabaseCleaner's
    /// `except:` does: reference data that the migrations inserted (countries, currencies,
    /// roles) stays for the next test. The other tables are emptied as before.
    ///
    /// A kept table keeps every row it holds, the test's too: what a test adds to one stays,
    /// and [`check_residue`](Self::check_residue) reports it. [`open`](Self::open) refuses a
    /// name that is not a table of the schema, a kept table that references (by foreign key)
    /// a table that is emptied, and any other strategy.
    ///
    /// ```
    /// # #[cfg(feature = "sqlite")] {
    /// use diesel::prelude::*;
    /// use factory_core::cleanup::{Cleanup, TestDb};
    ///
    /// let dir = std::env::temp_dir().join(format!("factory-doc-keep-{}", std::process::id()));
    /// std::fs::create_dir_all(&dir).unwrap();
    /// let url = dir.join("app.sqlite").to_string_lossy().into_owned();
    /// let mut setup = SqliteConnection::establish(&url).unwrap();
    /// diesel::sql_query("CREATE TABLE countries (code TEXT PRIMARY KEY)").execute(&mut setup).unwrap();
    /// diesel::sql_query("INSERT INTO countries VALUES ('fr'), ('jp')").execute(&mut setup).unwrap();
    /// diesel::sql_query("CREATE TABLE notes (body TEXT)").execute(&mut setup).unwrap();
    /// {
    ///     let mut db = TestDb::<SqliteConnection>::builder(&url)
    ///         .cleanup(Cleanup::Truncate)
    ///         .keep_tables(["countries"])
    ///         .open()
    ///         .unwrap();
    ///     diesel::sql_query("INSERT INTO notes VALUES ('x')").execute(&mut *db).unwrap();
    /// } // `notes` is emptied, `countries` left alone
    /// #[derive(QueryableByName)]
    /// struct N {
    ///     #[diesel(sql_type = diesel::sql_types::BigInt)]
    ///     n: i64,
    /// }
    /// let mut count = |table: &str| {
    ///     let sql = format!("SELECT COUNT(*) AS n FROM {table}");
    ///     diesel::sql_query(sql).get_result::<N>(&mut setup).unwrap().n
    /// };
    /// assert_eq!((count("countries"), count("notes")), (2, 0));
    /// # std::fs::remove_dir_all(&dir).ok();
    /// # }
    /// ```
    pub fn keep_tables<I>(mut self, tables: I) -> Self
    where
        I: IntoIterator,
        I::Item: Into<String>,
    {
        self.options.keep_tables = tables.into_iter().map(Into::into).collect();
        self
    }

    /// The options, for the async opening path.
    #[cfg(feature = "async")]
    pub(crate) fn into_parts(self) -> (String, Options) {
        (self.url, self.options)
    }
}

impl<C: TestBackend> TestDbBuilder<C> {
    /// Drops every database kept under this builder's [prefix](Self::database_prefix) on the
    /// server of its URL (SQLite: in the per-test directory), however recently it was kept;
    /// returns their names. A kept database someone is still connected to stays, and the
    /// error names it.
    ///
    /// Dropping is destructive: a remote server needs [`allow_remote`](Self::allow_remote) as
    /// the strategies do.
    ///
    /// ```
    /// # #[cfg(feature = "sqlite")] {
    /// use factory_core::cleanup::TestDb;
    ///
    /// let dropped = TestDb::<diesel::SqliteConnection>::builder(":memory:")
    ///     .database_prefix("doc_sweep")
    ///     .sweep_kept()
    ///     .unwrap();
    /// assert!(dropped.is_empty());
    /// # }
    /// ```
    pub fn sweep_kept(self) -> Result<Vec<String>, CleanupError> {
        backend::check_prefix(&self.options.database_prefix)?;
        self.guard_remote(Cleanup::DatabasePerTest)?;
        C::sweep_kept(&self.url, &self.options.database_prefix, Duration::ZERO)
    }

    /// Refuses a destructive `cleanup` on a database that is not on this machine.
    pub(crate) fn guard_remote(&self, cleanup: Cleanup) -> Result<(), CleanupError> {
        if !cleanup.is_destructive() || self.options.allow_remote || allow_remote_from_env() {
            return Ok(());
        }
        match local::refusal_for::<C>(&self.url) {
            None => Ok(()),
            Some(local::Refusal::Remote(host)) => {
                Err(CleanupError::RemoteDatabase { cleanup, host })
            }
            Some(local::Refusal::Unchecked(reason)) => {
                Err(CleanupError::UncheckedDatabase { cleanup, reason })
            }
        }
    }

    /// Refuses options that do not go with the strategy.
    pub(crate) fn check_options(&self) -> Result<(), CleanupError> {
        let options = &self.options;
        let cleanup = options.cleanup;
        if options.keep_failed == Some(true) && cleanup != Cleanup::DatabasePerTest {
            return Err(CleanupError::Usage(format!(
                "`.keep_failed(true)` keeps a failed test's own database, and {cleanup} has \
                 none (its database is shared): use Cleanup::DatabasePerTest"
            )));
        }
        if !options.keep_tables.is_empty() && cleanup != Cleanup::Truncate {
            return Err(CleanupError::Usage(format!(
                "`.keep_tables(..)` names tables that Cleanup::Truncate leaves alone; {cleanup} \
                 empties no table"
            )));
        }
        backend::check_prefix(&options.database_prefix)
    }

    /// Opens the handle: connects, and prepares the strategy.
    pub fn open(self) -> Result<TestDb<C>, CleanupError> {
        self.check_options()?;
        self.guard_remote(self.options.cleanup)?;
        let options = self.options;
        let cleanup = options.cleanup;
        let (mut conn, url, lease) = match cleanup {
            Cleanup::DatabasePerTest => {
                let migrations = options.migrations.as_ref().ok_or_else(|| {
                    CleanupError::Usage(
                        "Cleanup::DatabasePerTest builds each test's database from migrations: \
                         pass them with `.migrations(..)`"
                            .to_owned(),
                    )
                })?;
                let mut lease =
                    C::lease_database(&self.url, migrations, &options.database_prefix, kept_for())?;
                let url = C::lease_url(&lease);
                let conn = C::lease_connection(&mut lease)?;
                (conn, url, Some(lease))
            }
            _ => {
                let mut conn = checkout::<C>(&self.url)?;
                if let Some(migrations) = &options.migrations {
                    // Once per process and database: the check is two queries and a lock. A
                    // private database is new with every connection, so every one is migrated.
                    let done = format!("{}\u{0}{}", self.url, migrations.hash::<C::Backend>());
                    if C::is_private(&self.url) || !pool::is_done(&done) {
                        C::migrate(&mut conn, &self.url, migrations, cleanup)?;
                        pool::mark_done(&done);
                    }
                }
                if !options.keep_tables.is_empty() {
                    check_kept_tables(&mut conn, &self.url, &options.keep_tables)?;
                }
                (conn, self.url.clone(), None)
            }
        };
        // A per-test database is the test's own and ends empty or dropped: nothing to count.
        let baseline =
            if options.check_residue && cleanup != Cleanup::DatabasePerTest && !C::is_private(&url)
            {
                Some(residue::count(&mut conn, cleanup)?)
            } else {
                None
            };
        if cleanup == Cleanup::Transaction {
            // A plain transaction rather than Diesel's test transaction, so that the
            // connection can be rolled back and kept for the next test.
            AnsiTransactionManager::begin_transaction(&mut conn)
                .map_err(CleanupError::db(cleanup, "begin the test transaction"))?;
        }
        Ok(TestDb::assemble(conn, url, options, lease, baseline, None))
    }
}

impl<C: TestConnection> TestDb<C> {
    /// A handle on `conn`, opened with `options` on the database at `url`.
    pub(crate) fn assemble(
        conn: C,
        url: String,
        options: Options,
        lease: Option<<C::Admin as TestBackend>::Lease>,
        baseline: Option<residue::Counts>,
        session: Option<i64>,
    ) -> Self {
        let cleanup = options.cleanup;
        let conn = Box::new(conn);
        let tracked = track::Shared::default();
        if cleanup == Cleanup::Tracked {
            track::register(track::address(&*conn), &tracked);
        }
        TestDb {
            conn: Some(conn),
            cleanup,
            url,
            tracked,
            baseline,
            lease,
            lock_timeout: options.lock_timeout,
            keep_failed: options
                .keep_failed
                .unwrap_or_else(|| cleanup == Cleanup::DatabasePerTest && keep_failed_from_env()),
            keep_tables: options.keep_tables,
            test_name: options.test_name,
            failed: None,
            session,
            finished: false,
        }
    }
}

/// Checks, once per process and database, that every table `.keep_tables(..)` names is a
/// table of the schema and references no table that truncation empties.
fn check_kept_tables<C: TestBackend>(
    conn: &mut C,
    url: &str,
    keep: &[String],
) -> Result<(), CleanupError> {
    let done = format!("{url}\u{0}keep\u{0}{}", keep.join("\u{0}"));
    if !C::is_private(url) && pool::is_done(&done) {
        return Ok(());
    }
    let step = "read the schema's tables and foreign keys";
    let tables = C::tables(conn).map_err(CleanupError::db(Cleanup::Truncate, step))?;
    let unknown: Vec<&String> = keep.iter().filter(|t| !tables.contains(t)).collect();
    if !unknown.is_empty() {
        return Err(CleanupError::Usage(format!(
            "`.keep_tables(..)` names {}, not a table of the schema (its tables: {})",
            unknown
                .iter()
                .map(|t| format!("`{t}`"))
                .collect::<Vec<_>>()
                .join(", "),
            tables.join(", ")
        )));
    }
    let keys = C::foreign_keys(conn).map_err(CleanupError::db(Cleanup::Truncate, step))?;
    if let Some(key) = keys
        .iter()
        .find(|k| keep.contains(&k.child) && !keep.contains(&k.parent))
    {
        return Err(CleanupError::Usage(format!(
            "Cleanup::Truncate cannot keep `{}` and empty `{}`, which it references \
             ({} -> {}): keep `{}` too",
            key.child,
            key.parent,
            key.child_columns.join(", "),
            key.parent_columns.join(", "),
            key.parent
        )));
    }
    pool::mark_done(&done);
    Ok(())
}

fn allow_remote_from_env() -> bool {
    env_flag(ALLOW_REMOTE_VAR)
}

fn keep_failed_from_env() -> bool {
    env_flag(KEEP_FAILED_VAR)
}

fn env_flag(var: &str) -> bool {
    std::env::var(var).is_ok_and(|v| matches!(v.as_str(), "1" | "true" | "yes"))
}

/// How long a kept database stays: [`KEEP_FAILED_HOURS_VAR`], else [`KEPT_FOR`].
fn kept_for() -> Duration {
    std::env::var(KEEP_FAILED_HOURS_VAR)
        .ok()
        .and_then(|hours| hours.trim().parse::<f64>().ok())
        .filter(|hours| hours.is_finite() && *hours >= 0.0)
        .map_or(KEPT_FOR, |hours| Duration::from_secs_f64(hours * 3600.0))
}

impl<C: TestConnection> TestDb<C> {
    /// Options for a handle on the database at `url`.
    pub fn builder(url: impl Into<String>) -> TestDbBuilder<C> {
        TestDbBuilder::with_options(url.into(), Options::default())
    }

    /// The strategy the handle was opened with.
    pub fn cleanup(&self) -> Cleanup {
        self.cleanup
    }

    /// The URL of the database the handle uses: for [`Cleanup::DatabasePerTest`], the test's
    /// own database. Give it to the code under test (its pool, its workers).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The handle's connection (also reachable as `&mut *db`).
    pub fn conn(&mut self) -> &mut C {
        self.conn
            .as_deref_mut()
            .expect("the connection lives until drop")
    }

    /// How many rows tracked cleanup has recorded so far.
    pub fn tracked_rows(&self) -> usize {
        track::lock(&self.tracked).len()
    }

    /// Cleans up now and reports what went wrong, instead of panicking in `drop`.
    pub fn finish(mut self) -> Result<(), CleanupError> {
        C::finish(&mut self)
    }

    /// Cleans up as after a test that failed (`true`) or passed: what the runner of
    /// `#[factory_core::test]` calls, as it knows which.
    pub(crate) fn finish_as(mut self, failed: bool) -> Result<(), CleanupError> {
        self.failed = Some(failed);
        C::finish(&mut self)
    }
}

impl<C: TestBackend> TestDb<C> {
    /// The one line a test needs: a handle on the database `DATABASE_URL` names (as for
    /// Diesel's CLI and `sqlx::test`), with `cleanup`, after applying `migrations`.
    ///
    /// # Panics
    /// If `DATABASE_URL` is not set or the handle cannot be opened; the message says why.
    ///
    /// ```no_run
    /// # #[cfg(feature = "postgres")] {
    /// use diesel_migrations::{embed_migrations, EmbeddedMigrations};
    /// use factory_core::cleanup::{Cleanup, Migrations, TestDb};
    ///
    /// static SQL: EmbeddedMigrations = embed_migrations!("../migrations/postgres");
    ///
    /// let mut db = TestDb::<diesel::PgConnection>::from_env(Migrations::new(&SQL), Cleanup::Tracked);
    /// // User::factory().create(&mut db);
    /// # }
    /// ```
    #[track_caller]
    pub fn from_env(migrations: Migrations, cleanup: Cleanup) -> Self {
        let url = std::env::var("DATABASE_URL").unwrap_or_else(|_| {
            panic!("TestDb::from_env: set DATABASE_URL to the database the tests may use")
        });
        match Self::builder(url)
            .migrations(migrations)
            .cleanup(cleanup)
            .open()
        {
            Ok(db) => db,
            Err(error) => panic!("TestDb::from_env: {error}"),
        }
    }

    /// A handle on the database at `url` with `cleanup` and no other options.
    pub fn open(url: impl Into<String>, cleanup: Cleanup) -> Result<Self, CleanupError> {
        Self::builder(url).cleanup(cleanup).open()
    }

    /// A new connection to the same database, for code under test that needs its own.
    ///
    /// Refused under [`Cleanup::Transaction`], whose rows no other connection can see.
    pub fn connect(&self) -> Result<C, CleanupError> {
        if self.cleanup == Cleanup::Transaction {
            return Err(CleanupError::SecondConnection);
        }
        C::connect(&self.url)
    }

    /// Keeps the per-test database as the failed test left it, and says where it is.
    fn keep(&self, lease: C::Lease, conn: Option<C>) -> Result<(), CleanupError> {
        let thread = std::thread::current();
        let test = self
            .test_name
            .as_deref()
            .or(thread.name())
            .unwrap_or("unnamed");
        let kept = C::keep_database(lease, conn, test)?;
        eprintln!(
            "factory_core: kept the database of the failed test `{test}`: {} ({}). No later \
             test uses it; a lease drops it after {} h, and \
             `TestDb::builder(url).sweep_kept()` at once.",
            kept.name,
            local::redact(&kept.url),
            kept_for().as_secs_f64() / 3600.0,
        );
        Ok(())
    }

    pub(crate) fn finish_inner(&mut self) -> Result<(), CleanupError> {
        if std::mem::replace(&mut self.finished, true) {
            return Ok(());
        }
        let cleanup = self.cleanup;
        let conn = self.take_conn();
        let result = match cleanup {
            Cleanup::Transaction => {
                if let Some(mut conn) = conn {
                    // Rolled back, the connection serves the next test; if the rollback
                    // fails, closing it rolls back just as well.
                    let depth = AnsiTransactionManager::transaction_manager_status_mut(&mut conn)
                        .transaction_depth();
                    if matches!(depth, Ok(Some(d)) if d.get() == 1)
                        && AnsiTransactionManager::rollback_transaction(&mut conn).is_ok()
                    {
                        checkin(&self.url, conn);
                    }
                }
                Ok(())
            }
            Cleanup::Tracked => {
                let rows = track::lock(&self.tracked).take();
                // The handle's connection may hold locks of a transaction the test left open:
                // delete on a connection of their own, and close the handle's unless it is
                // clean. (A private in-memory database exists only on the handle's connection.)
                let deleted = if C::is_private(&self.url) {
                    match reusable(conn) {
                        Some(mut conn) if !rows.is_empty() => {
                            track::delete::<C>(&mut conn, &self.url, rows, self.lock_timeout)
                        }
                        _ => Ok(()),
                    }
                } else {
                    // First: a handle left inside a transaction (a test that panicked in
                    // `db.transaction(..)`) is closed here, releasing its locks, before the
                    // deletes could wait on them.
                    let handle = reusable(conn);
                    let deleted = if rows.is_empty() {
                        Ok(())
                    } else {
                        checkout::<C>(&self.url).and_then(|mut own| {
                            track::delete::<C>(&mut own, &self.url, rows, self.lock_timeout)?;
                            checkin(&self.url, own);
                            Ok(())
                        })
                    };
                    if let Some(conn) = handle {
                        checkin(&self.url, conn);
                    }
                    deleted
                };
                deleted.and_then(|()| track::lock(&self.tracked).check_keyless())
            }
            Cleanup::Truncate => {
                let mut conn = reusable(conn).map_or_else(|| checkout::<C>(&self.url), Ok)?;
                C::truncate(&mut conn, cleanup, &self.keep_tables)?;
                checkin(&self.url, conn);
                Ok(())
            }
            Cleanup::DatabasePerTest => match self.lease.take() {
                Some(lease)
                    if self.keep_failed && self.failed.unwrap_or_else(std::thread::panicking) =>
                {
                    self.keep(lease, conn)
                }
                Some(lease) => C::release_database(lease, reusable(conn)),
                None => Ok(()),
            },
        };
        result?;
        if let Some(before) = self.baseline.take() {
            let mut fresh = checkout::<C>(&self.url)?;
            let after = residue::count(&mut fresh, cleanup)?;
            checkin(&self.url, fresh);
            residue::compare(cleanup, &before, &after)?;
        }
        Ok(())
    }
}

/// An idle connection to `url` this process kept, or a new one.
fn checkout<C: TestBackend>(url: &str) -> Result<C, CleanupError> {
    if C::is_private(url) {
        return C::connect(url);
    }
    match pool::take::<C>(url) {
        Some(conn) => Ok(conn),
        None => C::connect(url),
    }
}

/// Keeps a connection outside any transaction for the next test of this process.
fn checkin<C: TestBackend>(url: &str, mut conn: C) {
    if !C::is_private(url) && !C::in_transaction(&mut conn) {
        pool::put(url, conn);
    }
}

/// The handle's connection, unless a transaction the test left open makes it unfit for cleanup.
fn reusable<C: TestBackend>(conn: Option<C>) -> Option<C> {
    let mut conn = conn?;
    (!C::in_transaction(&mut conn)).then_some(conn)
}

impl<C: TestConnection> Drop for TestDb<C> {
    fn drop(&mut self) {
        if let Err(error) = C::finish(self) {
            if std::thread::panicking() {
                eprintln!("factory_core::TestDb: {error}");
            } else {
                panic!("{error}");
            }
        }
    }
}

impl<C: TestConnection> TestDb<C> {
    /// The connection, out of the handle (and out of tracking: rows created on it from now
    /// on are not this handle's).
    pub(crate) fn take_conn(&mut self) -> Option<C> {
        let conn = self.conn.take()?;
        track::deregister(track::address(&*conn));
        Some(*conn)
    }
}

impl<C: TestConnection> Deref for TestDb<C> {
    type Target = C;
    fn deref(&self) -> &C {
        self.conn
            .as_deref()
            .expect("the connection lives until drop")
    }
}

impl<C: TestConnection> DerefMut for TestDb<C> {
    fn deref_mut(&mut self) -> &mut C {
        self.conn
            .as_deref_mut()
            .expect("the connection lives until drop")
    }
}

/// A connection type a [`TestDb`] holds: the sync connection of a backend (which does its own
/// cleanup work), or with the `async` feature a diesel-async connection (whose cleanup runs on
/// the backend's sync connection, its `Admin`). Sealed.
pub trait TestConnection: Send + Sized + 'static {
    /// The sync connection of the same backend, which opens per-test databases, deletes,
    /// truncates and counts rows.
    type Admin: TestBackend;

    /// Cleans up `db` (its `Drop` and `finish`).
    #[doc(hidden)]
    fn finish(db: &mut TestDb<Self>) -> Result<(), CleanupError>;
}

impl<C: TestBackend> TestConnection for C {
    type Admin = C;

    fn finish(db: &mut TestDb<Self>) -> Result<(), CleanupError> {
        db.finish_inner()
    }
}

/// Factories create through a [`TestDb`] as through its connection; under
/// [`Cleanup::Tracked`] every row they insert (parents and related rows included) is recorded.
///
/// One implementation per connection type (not one over every `C`), so that a factory that
/// fails to compile does not send the trait solver down `TestDb<TestDb<..>>`.
macro_rules! create_through_test_db {
    ($conn:ty) => {
        impl<F> Create<TestDb<$conn>> for F
        where
            F: Create<$conn>,
        {
            fn create_in(self, db: &mut TestDb<$conn>) -> Result<Self::Model, FactoryError> {
                db.with_tracking(|conn| F::create_in(self, conn))
            }

            fn try_create_in(self, db: &mut TestDb<$conn>) -> Result<Self::Model, FactoryError> {
                db.with_tracking(|conn| F::try_create_in(self, conn))
            }

            fn create_batch_in(
                self,
                n: usize,
                customise: impl FnMut(usize, Self) -> Self,
                db: &mut TestDb<$conn>,
            ) -> Result<Vec<Self::Model>, FactoryError> {
                db.with_tracking(|conn| F::create_batch_in(self, n, customise, conn))
            }
        }

        impl<F> GetOrCreate<TestDb<$conn>> for F
        where
            F: GetOrCreate<$conn>,
        {
            fn get_or_create_in(self, db: &mut TestDb<$conn>) -> Result<Self::Model, FactoryError> {
                db.with_tracking(|conn| F::get_or_create_in(self, conn))
            }
        }

        impl HasBackend for TestDb<$conn> {
            type Backend = <$conn as HasBackend>::Backend;
        }
    };
}

#[cfg(feature = "sqlite")]
create_through_test_db!(diesel::sqlite::SqliteConnection);
#[cfg(feature = "postgres")]
create_through_test_db!(diesel::pg::PgConnection);
#[cfg(feature = "mysql")]
create_through_test_db!(diesel::mysql::MysqlConnection);

impl<C: TestBackend> TestDb<C> {
    fn with_tracking<T>(
        &mut self,
        f: impl FnOnce(&mut C) -> Result<T, FactoryError>,
    ) -> Result<T, FactoryError> {
        let conn = self
            .conn
            .as_deref_mut()
            .expect("the connection lives until drop");
        if self.cleanup == Cleanup::Tracked {
            track::recording(&self.tracked, || f(conn))
        } else {
            f(conn)
        }
    }
}
