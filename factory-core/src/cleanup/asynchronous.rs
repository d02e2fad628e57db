//! [`TestDb`] over diesel-async connections (`async` feature): `TestDb<AsyncPgConnection>`,
//! `TestDb<AsyncMysqlConnection>`, `TestDb<SyncConnectionWrapper<SqliteConnection>>`.
//!
//! The handle's connection is async; everything around it (migrations, per-test databases,
//! tracked deletes, truncation, the residue check, the remote guard) runs on the backend's sync
//! connection, exactly as for a sync `TestDb`. Cleanup therefore needs no runtime and runs in
//! `drop` as well. Under [`Cleanup::Transaction`] the handle's connection stays inside a
//! transaction that is never committed: dropping the connection rolls it back.

use super::runner::{AsyncTestHandle, TestArgs};
use super::{
    check_kept_tables, checkin, checkout, kept_for, pool, residue, track, Cleanup, CleanupError,
    TestBackend, TestConnection, TestDb, TestDbBuilder,
};
use crate::create::asynchronous::{BoxFuture, CreateAsync, GetOrCreateAsync};
use crate::error::FactoryError;
use crate::persist::HasBackend;
use diesel_async::AsyncConnection;

/// A diesel-async connection a [`TestDb`] can hold. Sealed: implemented for the async
/// connections of the enabled backends.
pub trait AsyncTestConnection: TestConnection + AsyncConnection + HasBackend {
    /// The connection's server session, when dropping the connection does not end it at once.
    #[doc(hidden)]
    fn session(&mut self) -> BoxFuture<'_, Result<Option<i64>, diesel::result::Error>> {
        Box::pin(async { Ok(None) })
    }

    /// Ends `session` from the backend's sync connection: its transaction rolls back and its
    /// locks go before cleanup takes them.
    #[doc(hidden)]
    fn end_session(admin: &mut Self::Admin, session: i64) -> Result<(), diesel::result::Error> {
        let _ = (admin, session);
        Ok(())
    }
}

macro_rules! async_test_connection {
    ($conn:ty, $admin:ty) => {
        async_test_connection!($conn, $admin, {});
    };
    ($conn:ty, $admin:ty, $session:tt) => {
        impl TestConnection for $conn {
            type Admin = $admin;

            fn finish(db: &mut TestDb<Self>) -> Result<(), CleanupError> {
                db.finish_async_handle()
            }
        }

        impl AsyncTestConnection for $conn $session

        impl AsyncTestHandle for TestDb<$conn> {
            const DRIVER: super::Driver = <$admin as TestBackend>::DRIVER;

            async fn open(args: &TestArgs, url: String) -> Result<Self, CleanupError> {
                args.builder::<$conn>(url).open_async().await
            }

            async fn end(self, failed: bool) -> Result<(), CleanupError> {
                self.finish_as(failed)
            }
        }

        impl HasBackend for TestDb<$conn> {
            type Backend = <$conn as HasBackend>::Backend;
        }

        /// Factories create through the handle as through its connection; under
        /// [`Cleanup::Tracked`] every row they insert is recorded, on whatever thread polls.
        impl<F> CreateAsync<TestDb<$conn>> for F
        where
            F: CreateAsync<$conn>,
        {
            fn create_async_in<'a>(
                self,
                db: &'a mut TestDb<$conn>,
            ) -> BoxFuture<'a, Result<F::Model, FactoryError>>
            where
                Self: 'a,
            {
                db.with_tracking_async(|conn| F::create_async_in(self, conn))
            }

            fn try_create_async_in<'a>(
                self,
                db: &'a mut TestDb<$conn>,
            ) -> BoxFuture<'a, Result<F::Model, FactoryError>>
            where
                Self: 'a,
            {
                db.with_tracking_async(|conn| F::try_create_async_in(self, conn))
            }

            fn create_batch_async_in<'a>(
                self,
                n: usize,
                customise: impl FnMut(usize, Self) -> Self + Send + 'a,
                db: &'a mut TestDb<$conn>,
            ) -> BoxFuture<'a, Result<Vec<F::Model>, FactoryError>>
            where
                Self: 'a,
            {
                db.with_tracking_async(|conn| F::create_batch_async_in(self, n, customise, conn))
            }
        }

        impl<F> GetOrCreateAsync<TestDb<$conn>> for F
        where
            F: GetOrCreateAsync<$conn>,
        {
            fn get_or_create_async_in<'a>(
                self,
                db: &'a mut TestDb<$conn>,
            ) -> BoxFuture<'a, Result<F::Model, FactoryError>>
            where
                Self: 'a,
            {
                db.with_tracking_async(|conn| F::get_or_create_async_in(self, conn))
            }
        }
    };
}

#[cfg(feature = "sqlite")]
async_test_connection!(
    diesel_async::sync_connection_wrapper::SyncConnectionWrapper<diesel::sqlite::SqliteConnection>,
    diesel::sqlite::SqliteConnection
);
// Dropping an `AsyncPgConnection` only asks its background task to close the socket, which
// happens when the runtime next runs it; cleanup runs at once, on the same thread, and would
// wait on the locks of the test's abandoned transaction. So the session is ended from the sync
// connection first.
#[cfg(feature = "postgres")]
async_test_connection!(diesel_async::AsyncPgConnection, diesel::pg::PgConnection, {
    fn session(&mut self) -> BoxFuture<'_, Result<Option<i64>, diesel::result::Error>> {
        Box::pin(async move {
            use diesel_async::RunQueryDsl;
            let pid: i32 = diesel::select(diesel::dsl::sql::<diesel::sql_types::Integer>(
                "pg_backend_pid()",
            ))
            .get_result(self)
            .await?;
            Ok(Some(i64::from(pid)))
        })
    }

    fn end_session(
        admin: &mut diesel::pg::PgConnection,
        session: i64,
    ) -> Result<(), diesel::result::Error> {
        use diesel::RunQueryDsl;
        diesel::sql_query("SELECT pg_terminate_backend($1)")
            .bind::<diesel::sql_types::Integer, _>(i32::try_from(session).unwrap_or_default())
            .execute(admin)
            .map(drop)
    }
});
#[cfg(feature = "mysql")]
async_test_connection!(
    diesel_async::AsyncMysqlConnection,
    diesel::mysql::MysqlConnection
);

impl<C: AsyncTestConnection> TestDbBuilder<C> {
    /// Opens the handle on an async connection: prepares the strategy on the backend's sync
    /// connection, then connects.
    ///
    /// ```no_run
    /// # #[cfg(feature = "postgres")]
    /// # async fn doc() {
    /// use diesel_async::AsyncPgConnection;
    /// use factory_core::cleanup::{Cleanup, TestDb};
    ///
    /// let mut db = TestDb::<AsyncPgConnection>::builder("postgres://localhost/app_test")
    ///     .cleanup(Cleanup::Tracked)
    ///     .open_async()
    ///     .await
    ///     .unwrap();
    /// // User::factory().create_async(&mut db).await;
    /// # }
    /// ```
    pub async fn open_async(self) -> Result<TestDb<C>, CleanupError> {
        let (url, options) = self.into_parts();
        let admin = TestDbBuilder::<C::Admin>::with_options(url.clone(), options.clone());
        admin.check_options()?;
        admin.guard_remote(options.cleanup)?;
        let cleanup = options.cleanup;
        let (url, lease, baseline) = match cleanup {
            Cleanup::DatabasePerTest => {
                let migrations = options.migrations.as_ref().ok_or_else(|| {
                    CleanupError::Usage(
                        "Cleanup::DatabasePerTest builds each test's database from migrations: \
                         pass them with `.migrations(..)`"
                            .to_owned(),
                    )
                })?;
                let lease = C::Admin::lease_database(
                    &url,
                    migrations,
                    &options.database_prefix,
                    kept_for(),
                )?;
                (C::Admin::lease_url(&lease), Some(lease), None)
            }
            _ => {
                if C::Admin::is_private(&url) && options.migrations.is_some() {
                    return Err(CleanupError::Usage(format!(
                        "an async handle on `{url}` cannot be migrated: that database exists \
                         only on the handle's own connection; use a file or a server"
                    )));
                }
                let mut admin_conn = checkout::<C::Admin>(&url)?;
                if let Some(migrations) = &options.migrations {
                    let done = format!(
                        "{url}\u{0}{}",
                        migrations.hash::<<C::Admin as diesel::Connection>::Backend>()
                    );
                    if !pool::is_done(&done) {
                        C::Admin::migrate(&mut admin_conn, &url, migrations, cleanup)?;
                        pool::mark_done(&done);
                    }
                }
                if !options.keep_tables.is_empty() {
                    check_kept_tables(&mut admin_conn, &url, &options.keep_tables)?;
                }
                let baseline = if options.check_residue && !C::Admin::is_private(&url) {
                    Some(residue::count(&mut admin_conn, cleanup)?)
                } else {
                    None
                };
                checkin(&url, admin_conn);
                (url, None, baseline)
            }
        };
        let mut conn = C::establish(&url)
            .await
            .map_err(|e| CleanupError::Connect {
                url: super::local::redact(&url),
                source: super::local::redact_connection_error::<C::Admin>(&url, e),
            })?;
        let session = conn
            .session()
            .await
            .map_err(CleanupError::db(cleanup, "read the connection's session"))?;
        if cleanup == Cleanup::Transaction {
            conn.begin_test_transaction()
                .await
                .map_err(CleanupError::db(cleanup, "begin the test transaction"))?;
        }
        Ok(TestDb::assemble(
            conn, url, options, lease, baseline, session,
        ))
    }
}

impl<C: AsyncTestConnection> TestDb<C> {
    /// A handle on the database at `url` with `cleanup` and no other options, on an async
    /// connection.
    pub async fn open_async(
        url: impl Into<String>,
        cleanup: Cleanup,
    ) -> Result<Self, CleanupError> {
        Self::builder(url).cleanup(cleanup).open_async().await
    }

    /// Runs the factory call `f` on the handle's connection, recording the rows it creates
    /// under [`Cleanup::Tracked`] (as the sync `with_tracking` does).
    fn with_tracking_async<'a, T: 'a>(
        &'a mut self,
        f: impl FnOnce(&'a mut C) -> BoxFuture<'a, Result<T, FactoryError>>,
    ) -> BoxFuture<'a, Result<T, FactoryError>> {
        let conn = self
            .conn
            .as_deref_mut()
            .expect("the connection lives until drop");
        if self.cleanup == Cleanup::Tracked {
            Box::pin(track::recording_async(&self.tracked, f(conn)))
        } else {
            f(conn)
        }
    }

    /// Cleans up on the backend's sync connection, after closing the handle's (which rolls
    /// back whatever it left uncommitted and releases its locks).
    pub(crate) fn finish_async_handle(&mut self) -> Result<(), CleanupError> {
        if std::mem::replace(&mut self.finished, true) {
            return Ok(());
        }
        let cleanup = self.cleanup;
        drop(self.take_conn());
        let private = C::Admin::is_private(&self.url);
        if let Some(session) = self.session.take() {
            let mut admin = checkout::<C::Admin>(&self.url)?;
            C::end_session(&mut admin, session)
                .map_err(CleanupError::db(cleanup, "end the handle's session"))?;
            checkin(&self.url, admin);
        }
        match cleanup {
            Cleanup::Transaction => {}
            Cleanup::Tracked if private => {}
            Cleanup::Tracked => {
                let rows = track::lock(&self.tracked).take();
                if !rows.is_empty() {
                    let mut own = checkout::<C::Admin>(&self.url)?;
                    track::delete::<C::Admin>(&mut own, &self.url, rows, self.lock_timeout)?;
                    checkin(&self.url, own);
                }
                track::lock(&self.tracked).check_keyless()?;
            }
            Cleanup::Truncate if private => {}
            Cleanup::Truncate => {
                let mut own = checkout::<C::Admin>(&self.url)?;
                C::Admin::truncate(&mut own, cleanup, &self.keep_tables)?;
                checkin(&self.url, own);
            }
            Cleanup::DatabasePerTest => {
                if let Some(lease) = self.lease.take() {
                    if self.keep_failed && self.failed.unwrap_or_else(std::thread::panicking) {
                        self.keep_lease(lease)?;
                    } else {
                        C::Admin::release_database(lease, None)?;
                    }
                }
            }
        }
        if let Some(before) = self.baseline.take() {
            let mut fresh = checkout::<C::Admin>(&self.url)?;
            let after = residue::count(&mut fresh, cleanup)?;
            checkin(&self.url, fresh);
            residue::compare(cleanup, &before, &after)?;
        }
        Ok(())
    }

    fn keep_lease(&self, lease: <C::Admin as TestBackend>::Lease) -> Result<(), CleanupError> {
        let thread = std::thread::current();
        let test = self
            .test_name
            .as_deref()
            .or(thread.name())
            .unwrap_or("unnamed");
        let kept = C::Admin::keep_database(lease, None, test)?;
        eprintln!(
            "factory_core: kept the database of the failed test `{test}`: {} ({}). No later \
             test uses it; a lease drops it after {} h, and \
             `TestDb::builder(url).sweep_kept()` at once.",
            kept.name,
            super::local::redact(&kept.url),
            kept_for().as_secs_f64() / 3600.0,
        );
        Ok(())
    }
}
