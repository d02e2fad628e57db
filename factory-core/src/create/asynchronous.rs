//! The create algorithms on `diesel-async` connections (`async` feature): the same steps as the
//! sync ones (parents, the row, related rows, the hook; batches; get_or_create), awaiting each
//! statement.
//!
//! `AsyncPgConnection`, `AsyncMysqlConnection` and `SyncConnectionWrapper<SqliteConnection>` (with
//! the matching backend features), their bb8 (`bb8` feature) and deadpool (`deadpool` feature)
//! pooled connections, and [`TestDb`](crate::cleanup::TestDb)s of them.

use crate::cleanup::track;
use crate::error::FactoryError;
use crate::factory::Factory;
use crate::insert::Find;
use crate::observe;
use crate::persist::{Condition, HasBackend, Lookup, Pending, Record};
use diesel_async::{AsyncConnection, TransactionManager};
use std::future::Future;
use std::pin::Pin;

/// A boxed future that can move between threads, as the async create methods return.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A factory that can create its rows, parents and related rows on async connection `C`.
///
/// Test code calls the [`Factory`] methods (`create_async`, `create_batch_async`, ...); this
/// trait is for code generic over connections.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot create rows through this async connection",
    label = "not an async connection this factory creates through",
    note = "factories create asynchronously through `AsyncPgConnection`, `AsyncMysqlConnection` \
            and `SyncConnectionWrapper<SqliteConnection>` (factory-core's `async` feature with \
            the backend's), their bb8 and deadpool pooled connections and `TestDb`s of them; a \
            model with a sync `after_create` hook needs an `after_create_async` hook too"
)]
pub trait CreateAsync<C>: Factory + Send {
    /// Creates the parents the row needs, the row, its related rows, then runs its
    /// `after_create_async` hook; in one transaction when there is more than the one insert.
    fn create_async_in<'a>(
        self,
        conn: &'a mut C,
    ) -> BoxFuture<'a, Result<Self::Model, FactoryError>>
    where
        Self: 'a;

    /// [`create_async_in`](Self::create_async_in) for a caller that goes on after a failure
    /// (`try_create_async`): on PostgreSQL, inside an open transaction, the row goes in under a
    /// savepoint, so that the caller's transaction survives its failure.
    fn try_create_async_in<'a>(
        self,
        conn: &'a mut C,
    ) -> BoxFuture<'a, Result<Self::Model, FactoryError>>
    where
        Self: 'a,
    {
        self.create_async_in(conn)
    }

    /// `n` rows, the `i`th from `customise(i, factory)`, as multi-row `INSERT`s in one
    /// transaction; on error none of them remain.
    fn create_batch_async_in<'a>(
        self,
        n: usize,
        customise: impl FnMut(usize, Self) -> Self + Send + 'a,
        conn: &'a mut C,
    ) -> BoxFuture<'a, Result<Vec<Self::Model>, FactoryError>>
    where
        Self: 'a;
}

/// A factory that can find its row by its `get_or_create(..)` columns on async connection `C`,
/// and create it when there is none.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot look a row up by its `get_or_create(..)` columns through this \
               async connection",
    label = "`get_or_create_async` needs the columns that identify a row",
    note = "declare them on the model: `#[factory(get_or_create(<unique column>, ...))]`"
)]
pub trait GetOrCreateAsync<C>: CreateAsync<C> {
    /// Returns the row whose `get_or_create(..)` columns equal the built values, creating it
    /// if there is none.
    fn get_or_create_async_in<'a>(
        self,
        conn: &'a mut C,
    ) -> BoxFuture<'a, Result<Self::Model, FactoryError>>
    where
        Self: 'a;
}

/// Creating a row's parents and related rows on async connection `C`; implemented by the
/// derive.
pub trait GraphAsync<C>: Record {
    /// Creates the parents whose keys were not given, and sets the keys.
    fn create_parents_async<'a>(
        &'a mut self,
        conn: &'a mut C,
    ) -> BoxFuture<'a, Result<(), FactoryError>> {
        let _ = conn;
        Box::pin(async { Ok(()) })
    }

    /// Creates the related rows of a created row.
    fn create_related_async<'a>(
        model: &'a Self::Model,
        related: Self::Related,
        conn: &'a mut C,
    ) -> BoxFuture<'a, Result<(), FactoryError>> {
        let _ = (model, related, conn);
        Box::pin(async { Ok(()) })
    }
}

/// Inserting a factory's rows on async connection `C` and reading them back; implemented by
/// the runtime per backend.
pub trait InsertAsync<C>: Record {
    /// Inserts one row and returns it as stored.
    fn insert_one_async<'a>(
        conn: &'a mut C,
        row: Pending<Self>,
    ) -> BoxFuture<'a, diesel::QueryResult<Self::Model>>;

    /// Inserts `rows` in chunks under the backend's bind limit and returns them as stored, in
    /// order (inside the caller's transaction).
    fn insert_batch_async<'a>(
        conn: &'a mut C,
        rows: Vec<Pending<Self>>,
    ) -> BoxFuture<'a, diesel::QueryResult<Vec<Self::Model>>>;

    /// A stored row's key, bound with its SQL types: what tracked cleanup deletes it by.
    fn record_key(model: &Self::Model) -> crate::cleanup::key::Recorded;
}

/// A factory's rows on one concrete async connection type; the derive implements it for each
/// async connection type, with the model's `after_create_async` hook when it has one.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot create rows through this async connection",
    label = "no async factory implementation for this connection type",
    note = "a model with a sync `after_create` hook needs an `after_create_async` hook to \
            create through async connections"
)]
pub trait PersistAsync<C: HasBackend>: GraphAsync<C> + Send {
    /// The `after_create_async` hook: runs after the row and its related rows exist.
    fn after_create_async<'a>(
        model: &'a mut Self::Model,
        transients: &'a Self::Transients,
        conn: &'a mut C,
    ) -> BoxFuture<'a, Result<(), FactoryError>> {
        let _ = (model, transients, conn);
        Box::pin(async { Ok(()) })
    }
}

/// An async connection the runtime drives: its transactions and its sequence token.
pub trait AsyncConn: AsyncConnection + HasBackend + Send {
    /// The server's number for this process's sequence token ([`crate::sequence::claim`]).
    fn server_number(&mut self) -> BoxFuture<'_, diesel::QueryResult<Option<u64>>>;
}

/// Calls an `after_create_async = async |model, conn| ..` hook.
pub async fn after_create<M, C>(
    f: impl AsyncFnOnce(&mut M, &mut C),
    model: &mut M,
    conn: &mut C,
) -> Result<(), FactoryError> {
    f(model, conn).await;
    Ok(())
}

/// Calls an `after_create_async = async |model, transients, conn| ..` hook.
pub async fn after_create_with<M, P, C>(
    f: impl AsyncFnOnce(&mut M, &P, &mut C),
    model: &mut M,
    transients: &P,
    conn: &mut C,
) -> Result<(), FactoryError> {
    f(model, transients, conn).await;
    Ok(())
}

/// Creates a parent and returns its key: what `sub` fields await when their key was not given.
pub async fn parent_key<P, C>(parent: Option<P>, conn: &mut C) -> Result<P::Key, FactoryError>
where
    P: CreateAsync<C> + Record + Default,
{
    let model = P::create_async_in(parent.unwrap_or_default(), conn).await?;
    Ok(P::key_of(&model))
}

/// Creates the rows of a `related(..)` list, each pointed at its parent by `point`.
pub async fn create_children<P, F, C>(
    children: Vec<F>,
    parent: &P::Model,
    point: impl Fn(F, P::Key) -> F,
    conn: &mut C,
) -> Result<(), FactoryError>
where
    P: Record,
    F: CreateAsync<C>,
{
    for child in children {
        F::create_async_in(point(child, P::key_of(parent)), conn).await?;
    }
    Ok(())
}

/// Takes this process's sequence token from the server, once.
async fn claim<C: AsyncConn>(conn: &mut C) {
    if crate::sequence::must_claim() {
        crate::sequence::settle_claim(conn.server_number().await);
    }
}

/// Begins a transaction (a savepoint inside one) when `atomic`.
async fn begin<F: Factory, C: AsyncConn>(atomic: bool, conn: &mut C) -> Result<(), FactoryError> {
    if atomic {
        C::TransactionManager::begin_transaction(conn)
            .await
            .map_err(crate::create::named::<F>)?;
    }
    Ok(())
}

/// Commits what [`begin`] began when `result` is a success, else rolls it back.
async fn end<F: Factory, C: AsyncConn, T>(
    atomic: bool,
    conn: &mut C,
    result: Result<T, FactoryError>,
) -> Result<T, FactoryError> {
    if !atomic {
        return result;
    }
    match result {
        Ok(value) => match C::TransactionManager::commit_transaction(conn).await {
            Ok(()) => Ok(value),
            Err(error) => {
                let _ = C::TransactionManager::rollback_transaction(conn).await;
                Err(crate::create::named::<F>(error))
            }
        },
        Err(error) => {
            let _ = C::TransactionManager::rollback_transaction(conn).await;
            Err(error)
        }
    }
}

/// Creates one row: parents, the row, related rows, the hook. With `recover` (`try_create_async`
/// on PostgreSQL), a row that would have no transaction of its own gets a savepoint when a
/// transaction is open (see the sync `create`).
pub(crate) async fn create<F, C>(
    factory: F,
    conn: &mut C,
    recover: bool,
) -> Result<F::Model, FactoryError>
where
    F: PersistAsync<C> + InsertAsync<C>,
    C: AsyncConn,
    F::Model: Send,
    F::Row: Send,
    F::Key: Send,
    F::Transients: Send + Sync,
    F::Related: Send,
{
    let at = track::address(conn);
    track::through_async(at, async move {
        claim(conn).await;
        let open = matches!(
            C::TransactionManager::transaction_manager_status_mut(conn).transaction_depth(),
            Ok(Some(_))
        );
        let atomic = F::ATOMIC || (recover && open);
        begin::<F, C>(atomic, conn).await?;
        let result = create_one(factory, conn).await;
        end::<F, C, _>(atomic, conn, result).await
    })
    .await
}

async fn create_one<F, C>(mut factory: F, conn: &mut C) -> Result<F::Model, FactoryError>
where
    F: PersistAsync<C> + InsertAsync<C>,
    C: AsyncConn,
    F::Model: Send,
    F::Row: Send,
    F::Key: Send,
    F::Transients: Send + Sync,
    F::Related: Send,
{
    factory.create_parents_async(conn).await?;
    let (factory, transients, related) = factory.split();
    let built = factory.build_with(&transients);
    let mut model = F::insert_one_async(conn, Pending::new(built, &transients))
        .await
        .map_err(crate::create::named::<F>)?;
    observe::inserted::<F>(std::slice::from_ref(&model), F::record_key);
    F::create_related_async(&model, related, conn).await?;
    F::after_create_async(&mut model, &transients, conn).await?;
    Ok(model)
}

/// Creates `n` rows as multi-row inserts, each after its parents and before its related rows.
pub(crate) async fn create_batch<F, C>(
    factory: F,
    n: usize,
    customise: impl FnMut(usize, F) -> F + Send,
    conn: &mut C,
) -> Result<Vec<F::Model>, FactoryError>
where
    F: PersistAsync<C> + InsertAsync<C>,
    C: AsyncConn,
    F::Model: Send,
    F::Row: Send,
    F::Key: Send,
    F::Transients: Send + Sync,
    F::Related: Send,
{
    let at = track::address(conn);
    track::through_async(at, async move {
        claim(conn).await;
        // The chunks of one batch go in together or not at all.
        begin::<F, C>(true, conn).await?;
        let result = batch(factory, n, customise, &mut *conn).await;
        end::<F, C, _>(true, conn, result).await
    })
    .await
}

async fn batch<F, C>(
    factory: F,
    n: usize,
    mut customise: impl FnMut(usize, F) -> F + Send,
    conn: &mut C,
) -> Result<Vec<F::Model>, FactoryError>
where
    F: PersistAsync<C> + InsertAsync<C>,
    C: AsyncConn,
    F::Model: Send,
    F::Row: Send,
    F::Key: Send,
    F::Transients: Send + Sync,
    F::Related: Send,
{
    let mut rows = Vec::with_capacity(n);
    let mut after = Vec::with_capacity(n);
    for i in 0..n {
        let mut item = customise(i, factory.clone());
        item.create_parents_async(conn).await?;
        let (item, transients, related) = item.split();
        let built = item.build_with(&transients);
        rows.push(Pending::new(built, &transients));
        after.push((transients, related));
    }
    let mut models = F::insert_batch_async(conn, rows)
        .await
        .map_err(crate::create::named::<F>)?;
    observe::inserted::<F>(&models, F::record_key);
    for (model, (transients, related)) in models.iter_mut().zip(after) {
        F::create_related_async(model, related, conn).await?;
        F::after_create_async(model, &transients, conn).await?;
    }
    Ok(models)
}

/// Looks the row up by the `get_or_create(..)` columns, else creates it with exactly the values
/// looked up; a concurrent insert of the same row is found on the retry.
pub(crate) async fn get_or_create<F, C>(factory: F, conn: &mut C) -> Result<F::Model, FactoryError>
where
    F: PersistAsync<C>
        + InsertAsync<C>
        + Lookup<<C as HasBackend>::Backend>
        + Find<<C as HasBackend>::Backend>,
    C: AsyncConn,
    <F as Find<<C as HasBackend>::Backend>>::Query:
        for<'q> diesel_async::methods::LoadQuery<'q, C, F::Model> + Send,
    F::Model: Send + Sync + 'static,
    F::Row: Send,
    F::Key: Send,
    F::Transients: Send + Sync,
    F::Related: Send,
{
    let at = track::address(conn);
    track::through_async(at, async move {
        claim(conn).await;
        let probe = factory.clone().build();
        if let Some(found) = find::<F, C>(conn, F::condition(&probe)).await? {
            return Ok(found);
        }
        let pinned = factory.pin(&probe);
        // A savepoint, so that on PostgreSQL the failed insert does not abort the surrounding
        // transaction before the retry can look again.
        begin::<F, C>(true, conn).await?;
        let created = create_one(pinned, conn).await;
        match end::<F, C, _>(true, conn, created).await {
            Err(error) if error.constraint_kind() == Some(crate::ConstraintKind::Unique) => {
                find::<F, C>(conn, F::condition(&probe)).await?.ok_or(error)
            }
            other => other,
        }
    })
    .await
}

async fn find<F, C>(
    conn: &mut C,
    condition: Condition<F, <C as HasBackend>::Backend>,
) -> Result<Option<F::Model>, FactoryError>
where
    F: Record + Find<<C as HasBackend>::Backend>,
    C: AsyncConn,
    <F as Find<<C as HasBackend>::Backend>>::Query:
        for<'q> diesel_async::methods::LoadQuery<'q, C, F::Model> + Send,
    F::Model: Send + 'static,
    F::Row: Send,
    F::Key: Send,
{
    use diesel::OptionalExtension;
    use diesel_async::RunQueryDsl;
    F::query(condition)
        .get_result(conn)
        .await
        .optional()
        .map_err(crate::create::named::<F>)
}

/// `CreateAsync` and `GetOrCreateAsync` on a plain async connection: the algorithms above.
macro_rules! create_async_on {
    ($conn:ty, $backend:ty, $aborts:expr) => {
        impl<F> CreateAsync<$conn> for F
        where
            F: PersistAsync<$conn> + InsertAsync<$conn>,
            F::Model: Send,
            F::Row: Send,
            F::Key: Send,
            F::Transients: Send + Sync,
            F::Related: Send,
        {
            fn create_async_in<'a>(
                self,
                conn: &'a mut $conn,
            ) -> BoxFuture<'a, Result<F::Model, FactoryError>>
            where
                Self: 'a,
            {
                Box::pin(create(self, conn, false))
            }

            fn try_create_async_in<'a>(
                self,
                conn: &'a mut $conn,
            ) -> BoxFuture<'a, Result<F::Model, FactoryError>>
            where
                Self: 'a,
            {
                Box::pin(create(self, conn, $aborts))
            }

            fn create_batch_async_in<'a>(
                self,
                n: usize,
                customise: impl FnMut(usize, Self) -> Self + Send + 'a,
                conn: &'a mut $conn,
            ) -> BoxFuture<'a, Result<Vec<F::Model>, FactoryError>>
            where
                Self: 'a,
            {
                Box::pin(create_batch(self, n, customise, conn))
            }
        }

        impl<F> GetOrCreateAsync<$conn> for F
        where
            F: PersistAsync<$conn> + InsertAsync<$conn> + Lookup<$backend> + Find<$backend>,
            <F as Find<$backend>>::Query:
                for<'q> diesel_async::methods::LoadQuery<'q, $conn, F::Model> + Send,
            F::Model: Send + Sync + 'static,
            F::Row: Send,
            F::Key: Send,
            F::Transients: Send + Sync,
            F::Related: Send,
        {
            fn get_or_create_async_in<'a>(
                self,
                conn: &'a mut $conn,
            ) -> BoxFuture<'a, Result<F::Model, FactoryError>>
            where
                Self: 'a,
            {
                Box::pin(get_or_create(self, conn))
            }
        }

        impl HasBackend for $conn {
            type Backend = $backend;
        }
    };
}

#[cfg(feature = "sqlite")]
create_async_on!(
    diesel_async::sync_connection_wrapper::SyncConnectionWrapper<diesel::sqlite::SqliteConnection>,
    diesel::sqlite::Sqlite,
    false
);
#[cfg(feature = "postgres")]
create_async_on!(diesel_async::AsyncPgConnection, diesel::pg::Pg, true);
#[cfg(feature = "mysql")]
create_async_on!(
    diesel_async::AsyncMysqlConnection,
    diesel::mysql::Mysql,
    false
);

#[cfg(feature = "sqlite")]
impl AsyncConn
    for diesel_async::sync_connection_wrapper::SyncConnectionWrapper<
        diesel::sqlite::SqliteConnection,
    >
{
    fn server_number(&mut self) -> BoxFuture<'_, diesel::QueryResult<Option<u64>>> {
        Box::pin(async { Ok(None) })
    }
}

#[cfg(feature = "postgres")]
impl AsyncConn for diesel_async::AsyncPgConnection {
    /// As for `PgConnection`: the current transaction's 64-bit id, in a savepoint inside an
    /// open transaction.
    fn server_number(&mut self) -> BoxFuture<'_, diesel::QueryResult<Option<u64>>> {
        Box::pin(async move {
            use diesel_async::RunQueryDsl;
            let in_transaction = matches!(
                <Self as AsyncConnection>::TransactionManager::transaction_manager_status_mut(self)
                    .transaction_depth(),
                Ok(Some(_)) | Err(_)
            );
            if in_transaction {
                <Self as AsyncConnection>::TransactionManager::begin_transaction(self).await?;
            }
            let xid = diesel::select(diesel::dsl::sql::<diesel::sql_types::BigInt>(
                "txid_current()",
            ))
            .get_result::<i64>(self)
            .await;
            if in_transaction {
                let end = if xid.is_ok() {
                    <Self as AsyncConnection>::TransactionManager::commit_transaction(self).await
                } else {
                    <Self as AsyncConnection>::TransactionManager::rollback_transaction(self).await
                };
                end?;
            }
            Ok(u64::try_from(xid?).ok())
        })
    }
}

#[cfg(feature = "mysql")]
impl AsyncConn for diesel_async::AsyncMysqlConnection {
    /// As for `MysqlConnection`: `UUID_SHORT()`.
    fn server_number(&mut self) -> BoxFuture<'_, diesel::QueryResult<Option<u64>>> {
        Box::pin(async move {
            use diesel_async::RunQueryDsl;
            let short = diesel::select(diesel::dsl::sql::<
                diesel::sql_types::Unsigned<diesel::sql_types::BigInt>,
            >("UUID_SHORT()"))
            .get_result::<u64>(self)
            .await?;
            Ok(Some(short))
        })
    }
}

/// Pooled async connections: a factory creates through the connection the pool lent. One
/// implementation per pooled connection type, as the pools accept only connections Diesel can
/// ping.
macro_rules! create_async_through_pool {
    ($conn:ty) => {
        #[cfg(feature = "bb8")]
        create_async_through_pool!(@ diesel_async::pooled_connection::bb8::PooledConnection<'p, $conn>, $conn, 'p);
        #[cfg(feature = "deadpool")]
        create_async_through_pool!(@ diesel_async::pooled_connection::deadpool::Object<$conn>, $conn,);
    };
    (@ $pooled:ty, $conn:ty, $($lifetime:lifetime)?) => {
        impl<$($lifetime,)? F> CreateAsync<$pooled> for F
        where
            F: CreateAsync<$conn>,
        {
            fn create_async_in<'a>(
                self,
                conn: &'a mut $pooled,
            ) -> BoxFuture<'a, Result<F::Model, FactoryError>>
            where
                Self: 'a,
            {
                F::create_async_in(self, &mut **conn)
            }

            fn try_create_async_in<'a>(
                self,
                conn: &'a mut $pooled,
            ) -> BoxFuture<'a, Result<F::Model, FactoryError>>
            where
                Self: 'a,
            {
                F::try_create_async_in(self, &mut **conn)
            }

            fn create_batch_async_in<'a>(
                self,
                n: usize,
                customise: impl FnMut(usize, Self) -> Self + Send + 'a,
                conn: &'a mut $pooled,
            ) -> BoxFuture<'a, Result<Vec<F::Model>, FactoryError>>
            where
                Self: 'a,
            {
                F::create_batch_async_in(self, n, customise, &mut **conn)
            }
        }

        impl<$($lifetime,)? F> GetOrCreateAsync<$pooled> for F
        where
            F: GetOrCreateAsync<$conn>,
        {
            fn get_or_create_async_in<'a>(
                self,
                conn: &'a mut $pooled,
            ) -> BoxFuture<'a, Result<F::Model, FactoryError>>
            where
                Self: 'a,
            {
                F::get_or_create_async_in(self, &mut **conn)
            }
        }
    };
}

#[cfg(feature = "sqlite")]
create_async_through_pool!(
    diesel_async::sync_connection_wrapper::SyncConnectionWrapper<diesel::sqlite::SqliteConnection>
);
#[cfg(feature = "postgres")]
create_async_through_pool!(diesel_async::AsyncPgConnection);
#[cfg(feature = "mysql")]
create_async_through_pool!(diesel_async::AsyncMysqlConnection);
