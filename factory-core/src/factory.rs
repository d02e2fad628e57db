//! The trait every `#[derive(Factory)]` implements: what a test author calls.

use crate::attributes::Attributes;
#[cfg(feature = "async")]
use crate::create::asynchronous::{CreateAsync, GetOrCreateAsync};
use crate::create::{Create, GetOrCreate};
use crate::error::FactoryError;
#[cfg(feature = "async")]
use std::future::Future;

/// A factory for one Diesel model: what `#[derive(Factory)]` generates as `<Model>Factory`.
///
/// The derive generates the setters, traits and parent/child methods on the factory itself;
/// building and creating are this trait's methods, so they are documented once, here. Bring
/// the trait into scope with the derive (`use factory_core::Factory;` imports both) or with
/// the prelude.
///
/// ```
/// use factory_core::prelude::*;
/// use diesel::prelude::*;
///
/// diesel::table! {
///     users (id) {
///         id -> Integer,
///         email -> Text,
///     }
/// }
///
/// #[derive(Debug, Clone, Queryable, Selectable, Factory)]
/// #[diesel(table_name = users)]
/// pub struct User {
///     #[factory(db_generated)]
///     pub id: i32,
///     #[factory(sequence = "user<n>@example.com")]
///     pub email: String,
/// }
///
/// let built = User::factory().build(); // in memory
/// let mut conn = SqliteConnection::establish(":memory:").unwrap();
/// diesel::sql_query("CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE)")
///     .execute(&mut conn)
///     .unwrap();
/// let stored = User::factory().create(&mut conn);
/// let more = User::factory().create_batch(3, &mut conn);
/// assert_ne!(built.email, stored.email);
/// assert_eq!(more.len(), 3);
/// ```
pub trait Factory: Clone + Sized {
    /// The model the factory makes, e.g. `User`.
    type Model;

    /// The factory's name, for messages: `"UserFactory"`.
    const NAME: &'static str;
    /// The table's name, for messages: `"users"`.
    const TABLE_NAME: &'static str;

    /// Builds the model in memory; never touches a database: `db_generated` fields get
    /// distinct stub values, and parents are built, not inserted.
    fn build(self) -> Self::Model;

    /// The values an insert would write, foreign keys included (a parent that is not given is
    /// built, not created): the built model, whose `db_generated` fields (stubs) an insert
    /// leaves out. Fields read and write as `attrs.email`; Diesel inserts them
    /// (`insert_into(users::table).values(attrs)`).
    fn attributes(self) -> Attributes<Self>
    where
        Self: crate::persist::Record,
    {
        Attributes::build(self)
    }

    /// Builds `n` models in memory, each with its own sequence numbers and fake data.
    fn build_list(self, n: usize) -> Vec<Self::Model> {
        (0..n).map(|_| self.clone().build()).collect()
    }

    /// Builds `n` models, the `i`th from `customise(i, factory)`.
    fn build_list_with(
        self,
        n: usize,
        mut customise: impl FnMut(usize, Self) -> Self,
    ) -> Vec<Self::Model> {
        (0..n).map(|i| customise(i, self.clone()).build()).collect()
    }

    /// Inserts the row (after any parent it needs, before its related rows and hook) and
    /// returns it as stored.
    ///
    /// # Panics
    /// If the insert fails; the message names the factory, the table and the constraint.
    /// [`try_create`](Self::try_create) returns the error instead.
    #[track_caller]
    fn create<C>(self, conn: &mut C) -> Self::Model
    where
        Self: Create<C>,
    {
        unwrap(Create::create_in(self, conn))
    }

    /// Inserts the row and returns it as stored, or why the database refused it (nothing of
    /// it remains then: a row with parents or related rows is created in one transaction).
    fn try_create<C>(self, conn: &mut C) -> Result<Self::Model, FactoryError>
    where
        Self: Create<C>,
    {
        Create::try_create_in(self, conn)
    }

    /// Inserts `n` rows in one transaction, as multi-row `INSERT`s.
    ///
    /// # Panics
    /// If the insert fails (no row of the batch remains).
    #[track_caller]
    fn create_batch<C>(self, n: usize, conn: &mut C) -> Vec<Self::Model>
    where
        Self: Create<C>,
    {
        unwrap(Create::create_batch_in(self, n, |_, f| f, conn))
    }

    /// Inserts `n` rows, the `i`th from `customise(i, factory)`, in one transaction.
    ///
    /// # Panics
    /// If the insert fails (no row of the batch remains).
    #[track_caller]
    fn create_batch_with<C>(
        self,
        n: usize,
        customise: impl FnMut(usize, Self) -> Self,
        conn: &mut C,
    ) -> Vec<Self::Model>
    where
        Self: Create<C>,
    {
        unwrap(Create::create_batch_in(self, n, customise, conn))
    }

    /// Inserts `n` rows in one transaction, or says why none were kept.
    fn try_create_batch<C>(self, n: usize, conn: &mut C) -> Result<Vec<Self::Model>, FactoryError>
    where
        Self: Create<C>,
    {
        Create::create_batch_in(self, n, |_, f| f, conn)
    }

    /// Inserts `n` rows, the `i`th from `customise(i, factory)`, or says why none were kept.
    fn try_create_batch_with<C>(
        self,
        n: usize,
        customise: impl FnMut(usize, Self) -> Self,
        conn: &mut C,
    ) -> Result<Vec<Self::Model>, FactoryError>
    where
        Self: Create<C>,
    {
        Create::create_batch_in(self, n, customise, conn)
    }

    /// Returns the row with the same `get_or_create(..)` columns as this factory would build,
    /// creating it if there is none: running a seed twice changes nothing.
    ///
    /// # Panics
    /// If the insert fails.
    #[track_caller]
    fn get_or_create<C>(self, conn: &mut C) -> Self::Model
    where
        Self: GetOrCreate<C>,
    {
        unwrap(GetOrCreate::get_or_create_in(self, conn))
    }

    /// Returns the row with the same `get_or_create(..)` columns, creating it if there is
    /// none, or the error.
    fn try_get_or_create<C>(self, conn: &mut C) -> Result<Self::Model, FactoryError>
    where
        Self: GetOrCreate<C>,
    {
        GetOrCreate::get_or_create_in(self, conn)
    }

    /// [`create`](Self::create) on an async connection (`async` feature): `AsyncPgConnection`,
    /// `AsyncMysqlConnection`, `SyncConnectionWrapper<SqliteConnection>`, their bb8 and
    /// deadpool pooled connections and `TestDb`s of them.
    ///
    /// # Panics
    /// If the insert fails; the message names the factory, the table, the constraint and the
    /// caller's line.
    #[cfg(feature = "async")]
    #[track_caller]
    fn create_async<'a, C>(self, conn: &'a mut C) -> impl Future<Output = Self::Model> + Send + 'a
    where
        Self: CreateAsync<C> + 'a,
    {
        let caller = std::panic::Location::caller();
        let created = CreateAsync::create_async_in(self, conn);
        async move { unwrap_at(created.await, caller) }
    }

    /// [`try_create`](Self::try_create) on an async connection.
    #[cfg(feature = "async")]
    fn try_create_async<'a, C>(
        self,
        conn: &'a mut C,
    ) -> impl Future<Output = Result<Self::Model, FactoryError>> + Send + 'a
    where
        Self: CreateAsync<C> + 'a,
    {
        CreateAsync::try_create_async_in(self, conn)
    }

    /// [`create_batch`](Self::create_batch) on an async connection.
    ///
    /// # Panics
    /// If the insert fails (no row of the batch remains).
    #[cfg(feature = "async")]
    #[track_caller]
    fn create_batch_async<'a, C>(
        self,
        n: usize,
        conn: &'a mut C,
    ) -> impl Future<Output = Vec<Self::Model>> + Send + 'a
    where
        Self: CreateAsync<C> + 'a,
    {
        let caller = std::panic::Location::caller();
        let created = CreateAsync::create_batch_async_in(self, n, |_, f| f, conn);
        async move { unwrap_at(created.await, caller) }
    }

    /// [`create_batch_with`](Self::create_batch_with) on an async connection.
    ///
    /// # Panics
    /// If the insert fails (no row of the batch remains).
    #[cfg(feature = "async")]
    #[track_caller]
    fn create_batch_with_async<'a, C>(
        self,
        n: usize,
        customise: impl FnMut(usize, Self) -> Self + Send + 'a,
        conn: &'a mut C,
    ) -> impl Future<Output = Vec<Self::Model>> + Send + 'a
    where
        Self: CreateAsync<C> + 'a,
    {
        let caller = std::panic::Location::caller();
        let created = CreateAsync::create_batch_async_in(self, n, customise, conn);
        async move { unwrap_at(created.await, caller) }
    }

    /// [`try_create_batch_with`](Self::try_create_batch_with) on an async connection.
    #[cfg(feature = "async")]
    fn try_create_batch_with_async<'a, C>(
        self,
        n: usize,
        customise: impl FnMut(usize, Self) -> Self + Send + 'a,
        conn: &'a mut C,
    ) -> impl Future<Output = Result<Vec<Self::Model>, FactoryError>> + Send + 'a
    where
        Self: CreateAsync<C> + 'a,
    {
        CreateAsync::create_batch_async_in(self, n, customise, conn)
    }

    /// [`get_or_create`](Self::get_or_create) on an async connection.
    ///
    /// # Panics
    /// If the insert fails.
    #[cfg(feature = "async")]
    #[track_caller]
    fn get_or_create_async<'a, C>(
        self,
        conn: &'a mut C,
    ) -> impl Future<Output = Self::Model> + Send + 'a
    where
        Self: GetOrCreateAsync<C> + 'a,
    {
        let caller = std::panic::Location::caller();
        let found = GetOrCreateAsync::get_or_create_async_in(self, conn);
        async move { unwrap_at(found.await, caller) }
    }

    /// [`try_get_or_create`](Self::try_get_or_create) on an async connection.
    #[cfg(feature = "async")]
    fn try_get_or_create_async<'a, C>(
        self,
        conn: &'a mut C,
    ) -> impl Future<Output = Result<Self::Model, FactoryError>> + Send + 'a
    where
        Self: GetOrCreateAsync<C> + 'a,
    {
        GetOrCreateAsync::get_or_create_async_in(self, conn)
    }
}

/// `create`'s panic: the error's full text at the caller's line, and the seed that reproduces
/// the fake data.
#[track_caller]
pub(crate) fn unwrap<T>(result: Result<T, FactoryError>) -> T {
    match result {
        Ok(value) => value,
        Err(error) => failed(error),
    }
}

#[track_caller]
#[cold]
fn failed(error: FactoryError) -> ! {
    panic!(
        "{error} [{}={}]",
        crate::fake::SEED_VAR,
        crate::fake::seed()
    )
}

/// The async methods' panic: a future's panic cannot point at the caller's line, so the
/// message names it.
#[cfg(feature = "async")]
fn unwrap_at<T>(result: Result<T, FactoryError>, caller: &std::panic::Location<'_>) -> T {
    match result {
        Ok(value) => value,
        Err(error) => panic!(
            "{error} [{}={}] (at {caller})",
            crate::fake::SEED_VAR,
            crate::fake::seed()
        ),
    }
}
