//! Creating rows with everything around them: parents first, then the row, then related rows
//! and after-create hooks.

use crate::error::FactoryError;
use crate::factory::Factory;

/// A factory that can create its rows, and their parents and related rows, on connection `C`.
///
/// `#[derive(Factory)]` implements it for the connection of every backend feature enabled
/// on `factory-core` (and, with `r2d2`, for pooled connections of those). The implementations
/// are per concrete connection so that models may point at each other (an order creates its
/// items, an item belongs to its order) without the compiler chasing the cycle.
pub trait Create<C>: Factory {
    /// Creates parents the row needs (sub-factories whose key was not given), inserts the row,
    /// then creates its related rows and runs its after-create hook; all in one transaction.
    fn try_create(self, conn: &mut C) -> Result<Self::Model, FactoryError>;

    /// [`try_create`](Self::try_create) for `n` rows, the `i`th from `customise(i, factory)`;
    /// the rows go in as multi-row `INSERT`s, and on error none of them remain.
    fn try_create_batch_with(
        self,
        n: usize,
        customise: impl FnMut(usize, Self) -> Self,
        conn: &mut C,
    ) -> Result<Vec<Self::Model>, FactoryError>;

    /// Returns the row whose `get_or_create(..)` columns equal the built values, creating it
    /// (as [`try_create`](Self::try_create) does) if there is none.
    fn try_get_or_create(self, conn: &mut C) -> Result<Self::Model, FactoryError>;
}

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
    C: diesel::r2d2::R2D2Connection + 'static,
{
    fn try_create(
        self,
        conn: &mut diesel::r2d2::PooledConnection<diesel::r2d2::ConnectionManager<C>>,
    ) -> Result<Self::Model, FactoryError> {
        F::try_create(self, &mut **conn)
    }

    fn try_create_batch_with(
        self,
        n: usize,
        customise: impl FnMut(usize, Self) -> Self,
        conn: &mut diesel::r2d2::PooledConnection<diesel::r2d2::ConnectionManager<C>>,
    ) -> Result<Vec<Self::Model>, FactoryError> {
        F::try_create_batch_with(self, n, customise, &mut **conn)
    }

    fn try_get_or_create(
        self,
        conn: &mut diesel::r2d2::PooledConnection<diesel::r2d2::ConnectionManager<C>>,
    ) -> Result<Self::Model, FactoryError> {
        F::try_get_or_create(self, &mut **conn)
    }
}

/// Expands `$callback!(<connection type>)` once for each connection type this build of
/// `factory-core` supports. The derive calls it with a local macro that implements [`Create`].
#[doc(hidden)]
#[macro_export]
macro_rules! __for_each_connection {
    ($callback:ident) => {
        $crate::__if_sqlite! { $callback!($crate::__private::diesel::sqlite::SqliteConnection); }
        $crate::__if_postgres! { $callback!($crate::__private::diesel::pg::PgConnection); }
        $crate::__if_mysql! { $callback!($crate::__private::diesel::mysql::MysqlConnection); }
    };
}

/// Expands `$callback!(<connection type>)` for one backend, named as in Diesel's
/// `check_for_backend(..)`: `Sqlite`, `Pg` or `Mysql`; nothing when its feature is off.
#[doc(hidden)]
#[macro_export]
macro_rules! __for_backend {
    ($callback:ident, Sqlite) => {
        $crate::__if_sqlite! { $callback!($crate::__private::diesel::sqlite::SqliteConnection); }
    };
    ($callback:ident, Pg) => {
        $crate::__if_postgres! { $callback!($crate::__private::diesel::pg::PgConnection); }
    };
    ($callback:ident, Mysql) => {
        $crate::__if_mysql! { $callback!($crate::__private::diesel::mysql::MysqlConnection); }
    };
    ($callback:ident, $other:ident) => {
        ::core::compile_error!(::core::concat!(
            "#[derive(Factory)] creates rows on the backends Sqlite, Pg and Mysql; `",
            ::core::stringify!($other),
            "` in `check_for_backend` is not one of them"
        ));
    };
}

// One macro per backend feature: its body when the feature is on, nothing when it is off.
// (The `cfg` must be evaluated here, in factory-core, not in the crate the derive expands in.)

#[cfg(feature = "sqlite")]
#[doc(hidden)]
#[macro_export]
macro_rules! __if_sqlite {
    ($($body:tt)*) => { $($body)* };
}
#[cfg(not(feature = "sqlite"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __if_sqlite {
    ($($body:tt)*) => {};
}

#[cfg(feature = "postgres")]
#[doc(hidden)]
#[macro_export]
macro_rules! __if_postgres {
    ($($body:tt)*) => { $($body)* };
}
#[cfg(not(feature = "postgres"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __if_postgres {
    ($($body:tt)*) => {};
}

#[cfg(feature = "mysql")]
#[doc(hidden)]
#[macro_export]
macro_rules! __if_mysql {
    ($($body:tt)*) => { $($body)* };
}
#[cfg(not(feature = "mysql"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __if_mysql {
    ($($body:tt)*) => {};
}
