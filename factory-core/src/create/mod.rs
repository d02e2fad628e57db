//! Creating rows with everything around them: parents first, then the row, then related rows
//! and the after-create hook. Written once here for every model; the derive supplies the data
//! (its `Record`, `Graph` and `Persist` traits).

#[cfg(feature = "async")]
pub mod asynchronous;

use crate::error::FactoryError;
use crate::factory::Factory;
use crate::insert::Find;
use crate::observe;
use crate::persist::{Condition, HasBackend, Insert, Lookup, Pending, Persist, Record};
use crate::sequence::ClaimToken;
use diesel::Connection;

/// A factory that can create its rows, and their parents and related rows, on connection `C`.
///
/// Implemented for every factory on `SqliteConnection`, `PgConnection` and `MysqlConnection`
/// (with the matching features), their r2d2 pooled connections (`r2d2`) and
/// [`TestDb`](crate::cleanup::TestDb)s of them. Test code calls the [`Factory`] methods
/// (`create`, `create_batch`, ...); this trait is for code generic over connections:
///
/// ```
/// use factory_core::{Create, Factory};
///
/// fn make_two<F: Create<C>, C>(factory: F, conn: &mut C) -> Vec<F::Model> {
///     factory.create_batch(2, conn)
/// }
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot create rows through this connection",
    label = "not a connection this factory creates through",
    note = "factories create through `SqliteConnection`, `PgConnection` and `MysqlConnection` \
            (with factory-core's `sqlite`, `postgres`, `mysql` features), their r2d2 pooled \
            connections and `TestDb`s of them; async connections use `create_async`; a model \
            limited by `check_for_backend(..)` creates on those backends only"
)]
pub trait Create<C>: Factory {
    /// Creates parents the row needs (sub-factories whose key was not given), inserts the row,
    /// then creates its related rows and runs its after-create hook; all in one transaction.
    fn create_in(self, conn: &mut C) -> Result<Self::Model, FactoryError>;

    /// [`create_in`](Self::create_in) for a caller that goes on after a failure
    /// (`try_create`): where a failed statement aborts the open transaction (PostgreSQL), the
    /// row goes in under a savepoint, so that the caller's transaction (a test's) survives.
    fn try_create_in(self, conn: &mut C) -> Result<Self::Model, FactoryError> {
        self.create_in(conn)
    }

    /// [`create_in`](Self::create_in) for `n` rows, the `i`th from `customise(i, factory)`;
    /// the rows go in as multi-row `INSERT`s, and on error none of them remain.
    fn create_batch_in(
        self,
        n: usize,
        customise: impl FnMut(usize, Self) -> Self,
        conn: &mut C,
    ) -> Result<Vec<Self::Model>, FactoryError>;
}

/// A factory that can find its row by its `get_or_create(..)` columns on connection `C`, and
/// create it when there is none.
///
/// Implemented where [`Create`] is, for models that declare `get_or_create(..)` columns.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot look a row up by its `get_or_create(..)` columns through `{C}`",
    label = "`get_or_create` needs the columns that identify a row",
    note = "declare them on the model: `#[factory(get_or_create(<unique column>, ...))]`"
)]
pub trait GetOrCreate<C>: Create<C> {
    /// Returns the row whose `get_or_create(..)` columns equal the built values, creating it
    /// (as [`Create::create_in`] does) if there is none.
    fn get_or_create_in(self, conn: &mut C) -> Result<Self::Model, FactoryError>;
}

/// `Create` on a plain connection: the algorithms below.
macro_rules! create_on {
    ($conn:ty, $backend:ty, $aborts:expr) => {
        impl<F: Persist<$conn> + Insert<$conn>> Create<$conn> for F {
            fn create_in(self, conn: &mut $conn) -> Result<F::Model, FactoryError> {
                create(self, conn, false)
            }

            fn try_create_in(self, conn: &mut $conn) -> Result<F::Model, FactoryError> {
                create(self, conn, $aborts)
            }

            fn create_batch_in(
                self,
                n: usize,
                customise: impl FnMut(usize, Self) -> Self,
                conn: &mut $conn,
            ) -> Result<Vec<F::Model>, FactoryError> {
                create_batch(self, n, customise, conn)
            }
        }

        impl<F> GetOrCreate<$conn> for F
        where
            F: Persist<$conn> + Insert<$conn> + Lookup<$backend> + Find<$backend>,
            for<'q> <F as Find<$backend>>::Query: diesel::query_dsl::LoadQuery<'q, $conn, F::Model>,
        {
            fn get_or_create_in(self, conn: &mut $conn) -> Result<F::Model, FactoryError> {
                get_or_create(self, conn, |conn, condition| {
                    use diesel::{OptionalExtension, RunQueryDsl};
                    <F as Find<$backend>>::query(condition)
                        .get_result(conn)
                        .optional()
                })
            }
        }

        impl HasBackend for $conn {
            type Backend = $backend;
        }
    };
}

#[cfg(feature = "sqlite")]
create_on!(
    diesel::sqlite::SqliteConnection,
    diesel::sqlite::Sqlite,
    false
);
#[cfg(feature = "postgres")]
create_on!(diesel::pg::PgConnection, diesel::pg::Pg, true);
#[cfg(feature = "mysql")]
create_on!(diesel::mysql::MysqlConnection, diesel::mysql::Mysql, false);

/// Pooled connections (`r2d2` feature): a factory creates through the connection the pool lent.
///
/// ```no_run
/// # #[cfg(all(feature = "r2d2", feature = "sqlite"))] {
/// use diesel::r2d2::{ConnectionManager, Pool};
/// use diesel::SqliteConnection;
/// let pool = Pool::new(ConnectionManager::<SqliteConnection>::new(":memory:")).unwrap();
/// let mut conn = pool.get().unwrap();
/// // User::factory().create(&mut conn);
/// # }
/// ```
#[cfg(feature = "r2d2")]
impl<F, C> Create<diesel::r2d2::PooledConnection<diesel::r2d2::ConnectionManager<C>>> for F
where
    F: Create<C>,
    C: diesel::r2d2::R2D2Connection + HasBackend + 'static,
{
    fn create_in(
        self,
        conn: &mut diesel::r2d2::PooledConnection<diesel::r2d2::ConnectionManager<C>>,
    ) -> Result<Self::Model, FactoryError> {
        F::create_in(self, &mut **conn)
    }

    fn try_create_in(
        self,
        conn: &mut diesel::r2d2::PooledConnection<diesel::r2d2::ConnectionManager<C>>,
    ) -> Result<Self::Model, FactoryError> {
        F::try_create_in(self, &mut **conn)
    }

    fn create_batch_in(
        self,
        n: usize,
        customise: impl FnMut(usize, Self) -> Self,
        conn: &mut diesel::r2d2::PooledConnection<diesel::r2d2::ConnectionManager<C>>,
    ) -> Result<Vec<Self::Model>, FactoryError> {
        F::create_batch_in(self, n, customise, &mut **conn)
    }
}

#[cfg(feature = "r2d2")]
impl<F, C> GetOrCreate<diesel::r2d2::PooledConnection<diesel::r2d2::ConnectionManager<C>>> for F
where
    F: GetOrCreate<C>,
    C: diesel::r2d2::R2D2Connection + HasBackend + 'static,
{
    fn get_or_create_in(
        self,
        conn: &mut diesel::r2d2::PooledConnection<diesel::r2d2::ConnectionManager<C>>,
    ) -> Result<Self::Model, FactoryError> {
        F::get_or_create_in(self, &mut **conn)
    }
}

#[cfg(feature = "r2d2")]
impl<C> HasBackend for diesel::r2d2::PooledConnection<diesel::r2d2::ConnectionManager<C>>
where
    C: diesel::r2d2::R2D2Connection + HasBackend + 'static,
{
    type Backend = <C as HasBackend>::Backend;
}

/// The database error of factory `F`'s statement, named.
pub(crate) fn named<F: Factory>(error: diesel::result::Error) -> FactoryError {
    FactoryError::from_diesel(F::NAME, F::TABLE_NAME, error)
}

/// Creates one row: parents, the row, related rows, the hook. With `recover` (`try_create` on a
/// backend where a failed statement aborts the open transaction: PostgreSQL's "current
/// transaction is aborted"), a row that would go in without a transaction of its own goes in
/// under a savepoint when a transaction is open, so that its failure leaves the caller's
/// transaction usable. (A savepoint and its release are two more round trips; `create`, which
/// panics on failure, does without.)
pub(crate) fn create<F, C>(
    factory: F,
    conn: &mut C,
    recover: bool,
) -> Result<F::Model, FactoryError>
where
    F: Persist<C> + Insert<C>,
    C: Connection + ClaimToken + HasBackend,
{
    let savepoint = recover && !F::ATOMIC && transaction_open(conn);
    in_transaction::<F, C, _>(F::ATOMIC || savepoint, conn, |conn| {
        create_one(factory, conn)
    })
}

/// Whether `conn` is inside a transaction.
fn transaction_open<C: Connection>(conn: &mut C) -> bool {
    use diesel::connection::TransactionManager;
    matches!(
        C::TransactionManager::transaction_manager_status_mut(conn).transaction_depth(),
        Ok(Some(_))
    )
}

fn create_one<F, C>(mut factory: F, conn: &mut C) -> Result<F::Model, FactoryError>
where
    F: Persist<C> + Insert<C>,
    C: HasBackend,
{
    factory.create_parents(conn)?;
    let (factory, transients, related) = factory.split();
    let built = factory.build_with(&transients);
    let mut model = F::insert_one(conn, Pending::new(built, &transients)).map_err(named::<F>)?;
    observe::inserted::<F>(std::slice::from_ref(&model), F::record_key);
    F::create_related(&model, related, conn)?;
    F::after_create(&mut model, &transients, conn)?;
    Ok(model)
}

/// Creates `n` rows as multi-row inserts, each after its parents and before its related rows.
pub(crate) fn create_batch<F, C>(
    factory: F,
    n: usize,
    mut customise: impl FnMut(usize, F) -> F,
    conn: &mut C,
) -> Result<Vec<F::Model>, FactoryError>
where
    F: Persist<C> + Insert<C>,
    C: Connection + ClaimToken + HasBackend,
{
    in_transaction::<F, C, _>(F::ATOMIC, conn, |conn| {
        let mut rows = Vec::with_capacity(n);
        let mut after = Vec::with_capacity(n);
        for i in 0..n {
            let mut item = customise(i, factory.clone());
            item.create_parents(conn)?;
            let (item, transients, related) = item.split();
            let built = item.build_with(&transients);
            rows.push(Pending::new(built, &transients));
            after.push((transients, related));
        }
        let mut models = F::insert_batch(conn, rows).map_err(named::<F>)?;
        observe::inserted::<F>(&models, F::record_key);
        for (model, (transients, related)) in models.iter_mut().zip(after) {
            F::create_related(model, related, conn)?;
            F::after_create(model, &transients, conn)?;
        }
        Ok(models)
    })
}

/// Looks the row up by the `get_or_create(..)` columns (with `find`), else creates it with
/// exactly the values looked up; a concurrent insert of the same row is found on the retry.
pub(crate) fn get_or_create<F, C>(
    factory: F,
    conn: &mut C,
    find: impl Fn(
        &mut C,
        Condition<F, <C as HasBackend>::Backend>,
    ) -> diesel::QueryResult<Option<F::Model>>,
) -> Result<F::Model, FactoryError>
where
    F: Persist<C> + Insert<C> + Lookup<<C as HasBackend>::Backend>,
    C: Connection + ClaimToken + HasBackend,
{
    crate::sequence::claim(conn);
    let probe = factory.clone().build();
    let find = |conn: &mut C| find(conn, F::condition(&probe)).map_err(named::<F>);
    if let Some(found) = find(conn)? {
        return Ok(found);
    }
    let pinned = factory.pin(&probe);
    // A savepoint, so that on PostgreSQL the failed insert does not abort the surrounding
    // transaction before the retry can look again.
    match in_transaction::<F, C, _>(true, conn, |conn| create_one(pinned, conn)) {
        Err(error) if error.constraint_kind() == Some(crate::ConstraintKind::Unique) => {
            find(conn)?.ok_or(error)
        }
        other => other,
    }
}

/// Runs `f` in a transaction (a savepoint inside an open one) when `atomic`, else directly:
/// a single insert is atomic by itself, and a transaction around it would only add round trips.
/// A failure to begin or end the transaction is reported as `F`'s.
///
/// First, before `f` renders any sequence value, the process takes its sequence token from the
/// database server (once per process: [`crate::sequence::claim`]).
fn in_transaction<F, C, T>(
    atomic: bool,
    conn: &mut C,
    f: impl FnOnce(&mut C) -> Result<T, FactoryError>,
) -> Result<T, FactoryError>
where
    F: Factory,
    C: Connection + ClaimToken,
{
    // A tracked handle's connection given directly (`&mut *db`) records its rows too.
    crate::cleanup::track::through(crate::cleanup::track::address(conn), || {
        crate::sequence::claim(conn);
        if !atomic {
            return f(conn);
        }
        conn.transaction(f).map_err(|e| match e {
            FactoryError::Transaction { source } => named::<F>(source),
            other => other,
        })
    })
}

/// Creates a parent and returns its key: what `sub` fields call when their key was not given.
pub fn parent_key<P, C>(parent: Option<P>, conn: &mut C) -> Result<P::Key, FactoryError>
where
    P: Create<C> + Record + Default,
{
    let model = P::create_in(parent.unwrap_or_default(), conn)?;
    Ok(P::key_of(&model))
}
