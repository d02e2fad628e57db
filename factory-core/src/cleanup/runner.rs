//! The runner behind `#[factory_core::test]`: opens the test's [`TestDb`], runs the test,
//! cleans up whatever way it ended, and fails the test with what went wrong. Documented on
//! [`run_test`], where users of the attribute look.

use super::local::Driver;
use super::{Cleanup, CleanupError, Migrations, Options, TestBackend, TestDb, TestDbBuilder};
use std::any::Any;
use std::fmt::Debug;
use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};

/// The variable naming the PostgreSQL database `#[factory_core::test]` uses, before
/// `DATABASE_URL`.
pub const POSTGRES_URL_VAR: &str = "FACTORY_TEST_POSTGRES_URL";
/// The variable naming the MySQL / MariaDB database `#[factory_core::test]` uses, before
/// `DATABASE_URL`.
pub const MYSQL_URL_VAR: &str = "FACTORY_TEST_MYSQL_URL";
/// The variable naming the SQLite database `#[factory_core::test]` uses, before
/// `DATABASE_URL`; with neither, a private in-memory database.
pub const SQLITE_URL_VAR: &str = "FACTORY_TEST_SQLITE_URL";
/// The variable Diesel's CLI and `sqlx::test` read, read when the backend's own is not set.
pub const DATABASE_URL_VAR: &str = "DATABASE_URL";

/// The backend's own URL variable.
fn backend_var(driver: Driver) -> &'static str {
    match driver {
        Driver::Libpq => POSTGRES_URL_VAR,
        Driver::MysqlClient => MYSQL_URL_VAR,
        Driver::SqliteLibrary => SQLITE_URL_VAR,
    }
}

fn backend_name(driver: Driver) -> &'static str {
    match driver {
        Driver::Libpq => "PostgreSQL",
        Driver::MysqlClient => "MySQL",
        Driver::SqliteLibrary => "SQLite",
    }
}

/// Where a test's URL comes from.
#[derive(Debug, Clone)]
enum UrlSource {
    /// The backend's variable, then `DATABASE_URL`, then (SQLite) memory.
    Default,
    /// This variable only.
    Var(&'static str),
    /// This URL.
    Given(String),
}

/// The tokio runtime of an `async fn` test.
#[derive(Debug, Clone, Copy, Default)]
#[cfg_attr(not(feature = "async"), allow(dead_code))]
struct Runtime {
    multi_thread: bool,
    worker_threads: Option<usize>,
}

/// A test's options, as `#[factory_core::test(..)]` gives them to [`run_test`] and
/// [`run_async_test`]: the [`TestDbBuilder`] options without a URL (the runner finds it), plus
/// what the runner itself needs.
///
/// ```
/// use factory_core::cleanup::{Cleanup, TestArgs};
///
/// let args = TestArgs::new("my_test")
///     .cleanup(Cleanup::DatabasePerTest)
///     .keep_failed()
///     .database_prefix("billing")
///     .url_var("BILLING_DATABASE_URL");
/// assert_eq!(args.name(), "my_test");
/// ```
#[derive(Debug, Clone)]
#[must_use]
pub struct TestArgs {
    name: &'static str,
    url: UrlSource,
    options: Options,
    should_panic: bool,
    runtime: Runtime,
}

impl TestArgs {
    /// The options of the test `name` (the attribute passes the function's path), all at
    /// their defaults.
    pub fn new(name: &'static str) -> Self {
        Self {
            name,
            url: UrlSource::Default,
            options: Options {
                test_name: Some(name.to_owned()),
                ..Options::default()
            },
            should_panic: false,
            runtime: Runtime::default(),
        }
    }

    /// The test's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The migrations to apply ([`TestDbBuilder::migrations`]): a `&`[`Migrations`] or Diesel's
    /// `&'static EmbeddedMigrations`.
    pub fn migrations(mut self, migrations: impl Into<Migrations>) -> Self {
        self.options.migrations = Some(migrations.into());
        self
    }

    /// The strategy ([`TestDbBuilder::cleanup`]).
    pub fn cleanup(mut self, cleanup: Cleanup) -> Self {
        self.options.cleanup = cleanup;
        self
    }

    /// Turns the residue check on ([`TestDbBuilder::check_residue`]).
    pub fn check_residue(mut self) -> Self {
        self.options.check_residue = true;
        self
    }

    /// Keeps the per-test database of a failed test ([`TestDbBuilder::keep_failed`]).
    pub fn keep_failed(mut self) -> Self {
        self.options.keep_failed = Some(true);
        self
    }

    /// The per-test database name prefix ([`TestDbBuilder::database_prefix`]).
    pub fn database_prefix(mut self, prefix: &str) -> Self {
        self.options.database_prefix = prefix.to_owned();
        self
    }

    /// Tables truncation leaves alone ([`TestDbBuilder::keep_tables`]).
    pub fn keep_tables(mut self, tables: &[&str]) -> Self {
        self.options.keep_tables = tables.iter().map(|t| (*t).to_owned()).collect();
        self
    }

    /// Lets a destructive strategy run on a remote host ([`TestDbBuilder::allow_remote`]).
    pub fn allow_remote(mut self) -> Self {
        self.options.allow_remote = true;
        self
    }

    /// Reads the URL from `var`, and from nothing else.
    pub fn url_var(mut self, var: &'static str) -> Self {
        self.url = UrlSource::Var(var);
        self
    }

    /// Uses this URL.
    pub fn url(mut self, url: impl Into<String>) -> Self {
        self.url = UrlSource::Given(url.into());
        self
    }

    /// The test is expected to panic (`#[should_panic]`): its panic is no failure, so its
    /// per-test database is not kept.
    pub fn should_panic(mut self) -> Self {
        self.should_panic = true;
        self
    }

    /// Runs an `async fn` test on a multi-threaded tokio runtime, of `worker_threads`
    /// threads (default: one per core).
    pub fn multi_thread(mut self, worker_threads: Option<usize>) -> Self {
        self.runtime = Runtime {
            multi_thread: true,
            worker_threads,
        };
        self
    }

    /// A builder for the database at `url` with these options: what a handle's
    /// [`TestHandle::open`] starts from.
    ///
    /// ```
    /// # #[cfg(feature = "sqlite")] {
    /// use factory_core::cleanup::{Cleanup, TestArgs};
    ///
    /// let db = TestArgs::new("t")
    ///     .cleanup(Cleanup::Truncate)
    ///     .builder::<diesel::SqliteConnection>(":memory:".to_owned())
    ///     .open()
    ///     .unwrap();
    /// assert_eq!(db.cleanup(), Cleanup::Truncate);
    /// # }
    /// ```
    pub fn builder<C>(&self, url: String) -> TestDbBuilder<C> {
        TestDbBuilder::with_options(url, self.options.clone())
    }

    /// The URL of the test's database for the backend `driver` reads, as [`run_test`] says
    /// ("Where the URL comes from"); the error says which variables to set.
    pub fn url_for(&self, driver: Driver) -> Result<String, String> {
        resolve_url(driver, &self.url, &|var| std::env::var(var).ok())
    }
}

/// The URL of a test's database, from `source` and the variables `env` gives.
fn resolve_url(
    driver: Driver,
    source: &UrlSource,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<String, String> {
    let set = |var: &str| env(var).filter(|value| !value.trim().is_empty());
    match source {
        UrlSource::Given(url) => Ok(url.clone()),
        UrlSource::Var(var) => set(var).ok_or_else(|| {
            format!(
                "set {var} to the {} database the test may use (`url_var = \"{var}\"`)",
                backend_name(driver)
            )
        }),
        UrlSource::Default => {
            let own = backend_var(driver);
            if let Some(url) = set(own) {
                return Ok(url);
            }
            let shared = set(DATABASE_URL_VAR);
            match (&shared, driver) {
                (Some(url), _) if Driver::guess(url) == Some(driver) => Ok(url.clone()),
                (_, Driver::SqliteLibrary) => Ok(":memory:".to_owned()),
                (Some(url), _) => Err(format!(
                    "{DATABASE_URL_VAR} names a database of another backend ({}), and the test \
                     takes a {} connection: set {own} to the {} database the tests may use",
                    super::local::redact(url),
                    backend_name(driver),
                    backend_name(driver)
                )),
                (None, _) => Err(format!(
                    "set {own} (or {DATABASE_URL_VAR}) to the {} database the tests may use",
                    backend_name(driver)
                )),
            }
        }
    }
}

/// What a test function returns: `()`, or `Result<(), E>` whose `Err` fails the test.
#[diagnostic::on_unimplemented(
    message = "a `#[factory_core::test]` function returns `()` or `Result<(), E>` with `E: Debug`, not `{Self}`",
    label = "this return type"
)]
pub trait TestOutcome {
    /// Why the test failed, if it did.
    ///
    /// ```
    /// use factory_core::cleanup::TestOutcome;
    ///
    /// assert_eq!(().failure(), None);
    /// assert_eq!(Err::<(), _>("no stock").failure().as_deref(), Some("\"no stock\""));
    /// ```
    fn failure(self) -> Option<String>;
}

impl TestOutcome for () {
    fn failure(self) -> Option<String> {
        None
    }
}

impl<E: Debug> TestOutcome for Result<(), E> {
    fn failure(self) -> Option<String> {
        self.err().map(|e| format!("{e:?}"))
    }
}

/// A test database handle the runner can open and clean up synchronously: what a
/// `#[factory_core::test]` function (not `async`) takes by `&mut`. Implemented for
/// [`TestDb<C>`] of every connection type of an enabled backend.
///
/// ```
/// # #[cfg(feature = "sqlite")] {
/// use factory_core::cleanup::{Cleanup, TestArgs, TestDb, TestHandle};
///
/// let args = TestArgs::new("t").cleanup(Cleanup::Tracked);
/// let db = <TestDb<diesel::SqliteConnection> as TestHandle>::open(&args, ":memory:".into()).unwrap();
/// db.end(false).unwrap();
/// # }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a test database handle",
    label = "a `#[factory_core::test]` function takes `&mut TestDb<C>`",
    note = "C is the connection type of an enabled backend: SqliteConnection, PgConnection or MysqlConnection (factory-core features `sqlite`, `postgres`, `mysql`)"
)]
pub trait TestHandle: Sized {
    /// The driver that reads the handle's URLs: it picks the URL variable.
    const DRIVER: Driver;

    /// Opens the handle on the database at `url`, with the options of `args`.
    fn open(args: &TestArgs, url: String) -> Result<Self, CleanupError>;

    /// Cleans up after a test that `failed` or passed (a failed test's per-test database is
    /// kept if its options say so).
    fn end(self, failed: bool) -> Result<(), CleanupError>;
}

impl<C: TestBackend> TestHandle for TestDb<C> {
    const DRIVER: Driver = C::DRIVER;

    fn open(args: &TestArgs, url: String) -> Result<Self, CleanupError> {
        args.builder::<C>(url).open()
    }

    fn end(self, failed: bool) -> Result<(), CleanupError> {
        self.finish_as(failed)
    }
}

/// A test database handle an `async fn` test takes by `&mut`: opened and cleaned up on the
/// test's tokio runtime. Implemented for the synchronous [`TestDb<C>`] (which opens and
/// cleans up in place); a connection type whose handle opens and cleans up asynchronously
/// implements it with `async` bodies.
///
/// ```
/// # #[cfg(feature = "sqlite")] {
/// use factory_core::cleanup::{AsyncTestHandle, TestArgs, TestDb};
///
/// let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
/// runtime.block_on(async {
///     let args = TestArgs::new("t");
///     let db = <TestDb<diesel::SqliteConnection> as AsyncTestHandle>::open(&args, ":memory:".into())
///         .await
///         .unwrap();
///     AsyncTestHandle::end(db, false).await.unwrap();
/// });
/// # }
/// ```
#[cfg(feature = "async")]
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a test database handle for an `async fn` test",
    label = "an async `#[factory_core::test]` function takes `&mut TestDb<C>`",
    note = "C is the connection type of an enabled backend: SqliteConnection, PgConnection or MysqlConnection (factory-core features `sqlite`, `postgres`, `mysql`)"
)]
pub trait AsyncTestHandle: Sized {
    /// The driver that reads the handle's URLs: it picks the URL variable.
    const DRIVER: Driver;

    /// Opens the handle on the database at `url`, with the options of `args`.
    fn open(
        args: &TestArgs,
        url: String,
    ) -> impl std::future::Future<Output = Result<Self, CleanupError>>;

    /// Cleans up after a test that `failed` or passed (a failed test's per-test database is
    /// kept if its options say so).
    fn end(self, failed: bool) -> impl std::future::Future<Output = Result<(), CleanupError>>;
}

#[cfg(feature = "async")]
impl<C: TestBackend> AsyncTestHandle for TestDb<C> {
    const DRIVER: Driver = C::DRIVER;

    async fn open(args: &TestArgs, url: String) -> Result<Self, CleanupError> {
        <Self as TestHandle>::open(args, url)
    }

    async fn end(self, failed: bool) -> Result<(), CleanupError> {
        self.finish_as(failed)
    }
}

/// How a test ended, if not well.
enum Failure {
    /// It panicked (or, under `#[should_panic]`, did not).
    Panic(Box<dyn Any + Send>),
    /// It returned an error.
    Error(String),
}

/// Runs a synchronous `#[factory_core::test]`: opens the handle the test takes (`D`, which
/// picks the backend) with `args`, runs `test`, cleans up however it ended (a failed test's
/// per-test database is kept if `args` says so), and fails the test if it failed or if
/// cleanup did.
///
/// The attribute turns
///
/// ```ignore
/// #[factory_core::test(migrations = MIGRATIONS, cleanup = Tracked)]
/// fn pays_an_invoice(db: &mut TestDb<PgConnection>) { .. }
/// ```
///
/// into a plain `#[test] fn pays_an_invoice()` that calls one function,
/// [`run_test`] (or [`run_async_test`] for an `async fn`), with the test's options as
/// [`TestArgs`] and the test's body as a function. The type the body takes picks the backend
/// (through [`TestHandle`], or `AsyncTestHandle` for `async fn`); everything else happens
/// here, written once.
///
/// # Options
///
/// | option | meaning |
/// |---|---|
/// | `migrations = MIGRATIONS` | a `static` [`Migrations`] (or Diesel's `EmbeddedMigrations`), applied before the test; [`Cleanup::DatabasePerTest`] builds its databases from them |
/// | `cleanup = Transaction` \| `Tracked` \| `Truncate` \| `DatabasePerTest` | the [`Cleanup`] strategy; default `Transaction` |
/// | `check_residue` | count every table before and after ([`TestDbBuilder::check_residue`]) |
/// | `keep_failed` | keep a failed test's per-test database ([`TestDbBuilder::keep_failed`]); with `DatabasePerTest` |
/// | `database_prefix = "app"` | the per-test database name prefix ([`TestDbBuilder::database_prefix`]); with `DatabasePerTest` |
/// | `keep_tables = ["countries"]` | tables truncation leaves alone ([`TestDbBuilder::keep_tables`]); with `Truncate` |
/// | `allow_remote` | let a destructive strategy run on a remote host ([`TestDbBuilder::allow_remote`]) |
/// | `url_var = "BILLING_DATABASE_URL"` | read the URL from this variable only |
/// | `url = expr` | the URL from an expression (a helper, a container's address) |
/// | `flavor = "multi_thread"`, `worker_threads = 4` | for an `async fn`: the tokio runtime (default: current thread) |
///
/// The test function takes one argument, `&mut TestDb<C>`, and returns `()` or
/// `Result<(), E>` with `E: Debug` (an `Err` fails the test after cleanup, as a panic does).
/// Other attributes stay on the test: `#[should_panic]`, `#[ignore]`, `#[cfg(..)]`.
///
/// # Where the URL comes from
///
/// Unless `url` or `url_var` says otherwise: the backend's own variable if it is set
/// ([`POSTGRES_URL_VAR`], [`MYSQL_URL_VAR`], [`SQLITE_URL_VAR`]), else [`DATABASE_URL_VAR`]
/// if it names a database of the same backend, else, for SQLite only, a private in-memory
/// database (`:memory:`). A backend with neither fails the test, naming the variables.
/// `url_var = "NAME"` reads `NAME` and nothing else.
///
/// # Async tests
///
/// An `async fn` test runs on a tokio runtime the runner creates for it (feature `async`),
/// current-thread unless `flavor = "multi_thread"`. Today its handle is a synchronous
/// `TestDb<C>`, opened and cleaned up around the test; connection types whose handle opens and
/// cleans up asynchronously plug in through `AsyncTestHandle`.
///
/// # Example
///
/// The attribute on a test, and what it runs, by hand:
///
/// ```
/// # #[cfg(feature = "sqlite")] {
/// use diesel::prelude::*;
/// use factory_core::cleanup::{run_test, Cleanup, Migrations, TestArgs, TestDb};
///
/// static MIGRATIONS: Migrations = factory_core::embed_migrations!("../migrations/sqlite");
///
/// #[factory_core::test(migrations = MIGRATIONS, cleanup = Tracked, check_residue)]
/// fn creates_a_row(db: &mut TestDb<SqliteConnection>) {
///     diesel::sql_query("INSERT INTO tags (name, label) VALUES ('a', 'b')")
///         .execute(&mut **db)
///         .unwrap();
/// }
///
/// // What `creates_a_row` runs (the URL: SQLite in memory, unless a variable names one).
/// run_test(
///     TestArgs::new("creates_a_row").migrations(&MIGRATIONS).cleanup(Cleanup::Tracked),
///     |db: &mut TestDb<SqliteConnection>| {
///         let n: i64 = diesel::dsl::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
///             "(SELECT COUNT(*) FROM users)",
///         ))
///         .get_result(&mut **db)
///         .unwrap();
///         assert_eq!(n, 0);
///     },
/// );
/// # }
/// ```
///
/// # Panics
/// When the handle cannot be opened, the test fails, or cleanup fails: that is how a test
/// fails.
pub fn run_test<D, F, R>(args: TestArgs, test: F)
where
    D: TestHandle,
    F: FnOnce(&mut D) -> R,
    R: TestOutcome,
{
    let url = args.url_for(D::DRIVER);
    let mut db = opened(
        &args,
        url.and_then(|url| D::open(&args, url).map_err(|e| e.to_string())),
    );
    let outcome = catch_unwind(AssertUnwindSafe(|| test(&mut db)));
    let (failed, failure) = judge(&args, outcome);
    let ended = db.end(failed);
    conclude(&args, failure, ended);
}

/// Runs an `async fn` `#[factory_core::test]` as [`run_test`] runs a synchronous one, on a
/// tokio runtime of its own (current-thread unless [`TestArgs::multi_thread`]).
///
/// # Panics
/// As [`run_test`]; also when the runtime cannot be built.
///
/// ```
/// # #[cfg(feature = "sqlite")] {
/// use factory_core::cleanup::{run_async_test, TestArgs, TestDb};
///
/// async fn body(db: &mut TestDb<diesel::SqliteConnection>) {
///     tokio::task::yield_now().await;
///     assert_eq!(db.url(), ":memory:");
/// }
/// run_async_test(TestArgs::new("by_hand").url(":memory:"), body);
/// # }
/// ```
#[cfg(feature = "async")]
pub fn run_async_test<D, F, R>(args: TestArgs, test: F)
where
    D: AsyncTestHandle,
    F: AsyncFnOnce(&mut D) -> R,
    R: TestOutcome,
{
    let mut builder = if args.runtime.multi_thread {
        let mut builder = tokio::runtime::Builder::new_multi_thread();
        if let Some(n) = args.runtime.worker_threads {
            builder.worker_threads(n);
        }
        builder
    } else {
        tokio::runtime::Builder::new_current_thread()
    };
    let runtime = builder
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{}: could not start a tokio runtime: {e}", args.name));
    runtime.block_on(async {
        let url = args.url_for(D::DRIVER);
        let opened_db = match url {
            Ok(url) => D::open(&args, url).await.map_err(|e| e.to_string()),
            Err(e) => Err(e),
        };
        let mut db = opened(&args, opened_db);
        let outcome = {
            let mut future = std::pin::pin!(test(&mut db));
            std::future::poll_fn(|cx| {
                match catch_unwind(AssertUnwindSafe(|| {
                    std::future::Future::poll(future.as_mut(), cx)
                })) {
                    Ok(std::task::Poll::Pending) => std::task::Poll::Pending,
                    Ok(std::task::Poll::Ready(r)) => std::task::Poll::Ready(Ok(r)),
                    Err(panic) => std::task::Poll::Ready(Err(panic)),
                }
            })
            .await
        };
        let (failed, failure) = judge(&args, outcome);
        let ended = db.end(failed).await;
        conclude(&args, failure, ended);
    });
}

/// Without the `async` feature there is no runtime to run an `async fn` test on: a call fails
/// to compile, saying so.
#[cfg(not(feature = "async"))]
#[doc(hidden)]
pub fn run_async_test<D, F, R>(args: TestArgs, test: F)
where
    F: AsyncFeature<D, R>,
{
    let _ = test;
    unreachable!("{}: factory-core was built without `async`", args.name)
}

/// Never implemented: names the missing feature in the error an `async fn` test gets.
#[cfg(not(feature = "async"))]
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "an `async fn` test needs factory-core's `async` feature",
    label = "this test is `async`",
    note = "enable it: factory-core = {{ version = \"..\", features = [\"async\"] }}"
)]
pub trait AsyncFeature<D, R> {}

/// The handle, or the test fails saying why it could not be opened.
fn opened<D>(args: &TestArgs, db: Result<D, String>) -> D {
    db.unwrap_or_else(|e| panic!("{}: could not open the test database: {e}", args.name))
}

/// Whether the test failed (for keeping its database) and how it ended.
fn judge<R: TestOutcome>(
    args: &TestArgs,
    outcome: Result<R, Box<dyn Any + Send>>,
) -> (bool, Option<Failure>) {
    match outcome {
        Ok(returned) => match returned.failure() {
            Some(error) => (true, Some(Failure::Error(error))),
            None => (false, None),
        },
        Err(panic) => (!args.should_panic, Some(Failure::Panic(panic))),
    }
}

/// Fails the test as it failed, or with cleanup's error; cleanup's error after a failure is
/// printed, so that the test's own failure stays the one reported.
fn conclude(args: &TestArgs, failure: Option<Failure>, ended: Result<(), CleanupError>) {
    let name = args.name;
    match (failure, ended) {
        (None, Ok(())) => {}
        (None, Err(error)) => panic!("{name}: {error}"),
        (Some(failure), ended) => {
            if let Err(error) = ended {
                eprintln!("{name}: cleaning up after the failure failed too: {error}");
            }
            match failure {
                Failure::Panic(panic) => resume_unwind(panic),
                Failure::Error(error) => panic!("{name} returned an error: {error}"),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |var| {
            vars.iter()
                .find(|(name, _)| *name == var)
                .map(|(_, value)| (*value).to_owned())
        }
    }

    const PG: &str = "postgres://postgres@127.0.0.1/app";
    const MY: &str = "mysql://root@127.0.0.1/app";

    #[test]
    fn the_backend_variable_comes_first_then_database_url() {
        let d = &UrlSource::Default;
        let both = [
            (POSTGRES_URL_VAR, "postgres://own/x"),
            (DATABASE_URL_VAR, PG),
        ];
        assert_eq!(
            resolve_url(Driver::Libpq, d, &env(&both)).unwrap(),
            "postgres://own/x"
        );
        let shared = [(DATABASE_URL_VAR, PG)];
        assert_eq!(resolve_url(Driver::Libpq, d, &env(&shared)).unwrap(), PG);
        let mysql = [(DATABASE_URL_VAR, MY)];
        assert_eq!(
            resolve_url(Driver::MysqlClient, d, &env(&mysql)).unwrap(),
            MY
        );
    }

    #[test]
    fn database_url_of_another_backend_is_not_used() {
        let d = &UrlSource::Default;
        let shared = [(DATABASE_URL_VAR, "postgres://u:secret@db/x")];
        let error = resolve_url(Driver::MysqlClient, d, &env(&shared)).unwrap_err();
        assert!(error.contains(MYSQL_URL_VAR), "{error}");
        assert!(!error.contains("secret"), "{error}");
        // SQLite falls back to memory rather than open a file named like a URL.
        assert_eq!(
            resolve_url(Driver::SqliteLibrary, d, &env(&shared)).unwrap(),
            ":memory:"
        );
        let file = [(DATABASE_URL_VAR, "target/app.sqlite")];
        assert_eq!(
            resolve_url(Driver::SqliteLibrary, d, &env(&file)).unwrap(),
            "target/app.sqlite"
        );
    }

    #[test]
    fn nothing_set_is_memory_for_sqlite_and_an_error_naming_the_variables_else() {
        let d = &UrlSource::Default;
        assert_eq!(
            resolve_url(Driver::SqliteLibrary, d, &env(&[])).unwrap(),
            ":memory:"
        );
        let empty = [(POSTGRES_URL_VAR, " ")];
        let error = resolve_url(Driver::Libpq, d, &env(&empty)).unwrap_err();
        assert!(
            error.contains(POSTGRES_URL_VAR) && error.contains(DATABASE_URL_VAR),
            "{error}"
        );
    }

    #[test]
    fn url_var_reads_that_variable_only() {
        let var = &UrlSource::Var("BILLING_URL");
        let set = [
            ("BILLING_URL", PG),
            (POSTGRES_URL_VAR, "postgres://other/x"),
        ];
        assert_eq!(resolve_url(Driver::Libpq, var, &env(&set)).unwrap(), PG);
        let unset = [(POSTGRES_URL_VAR, PG), (DATABASE_URL_VAR, PG)];
        let error = resolve_url(Driver::Libpq, var, &env(&unset)).unwrap_err();
        assert!(error.contains("BILLING_URL"), "{error}");
        assert!(resolve_url(Driver::SqliteLibrary, var, &env(&[])).is_err());
    }

    #[test]
    fn a_result_fails_the_test_with_its_error() {
        assert_eq!(Ok::<(), String>(()).failure(), None);
        assert_eq!(
            Err::<(), _>(std::fmt::Error).failure().as_deref(),
            Some("Error")
        );
    }
}
