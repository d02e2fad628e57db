//! Recorded primary keys, bound with their SQL types: what tracked cleanup deletes rows by.
//!
//! A key is recorded as a closure that binds its values into a cleanup statement, typed by its
//! columns' SQL types (`ToSql<ST, DB>`, as Diesel binds them), so an enum, UUID, text or
//! composite key deletes exactly the row it names, whatever the key type's `Display` says.

use diesel::backend::Backend;
use diesel::query_builder::{BoxedSqlQuery, SqlQuery};
use diesel::serialize::ToSql;
use diesel::sql_types::HasSqlType;
use diesel::Column;
use std::any::Any;
use std::sync::Arc;

/// A cleanup statement on backend `DB`, its binds added one by one.
pub type Statement<DB> = BoxedSqlQuery<'static, DB, SqlQuery>;

/// Binds one recorded key's values (one per key column, in key order) into a statement.
pub type Binder<DB> = Arc<dyn Fn(Statement<DB>) -> Statement<DB> + Send + Sync>;

/// A recorded key, of whichever backend recorded it (a [`Binder`] of that backend).
pub type Recorded = Arc<dyn Any + Send + Sync>;

/// The key columns of a table (a tuple of Diesel columns) bind values `K` on backend `DB`:
/// `K` is the key's value (a tuple for a composite key).
#[diagnostic::on_unimplemented(
    message = "the primary key cannot be bound as `{Self}` on `{DB}`",
    label = "tracked cleanup binds the key with its columns' SQL types",
    note = "a key field's type must write its column's SQL type (`ToSql`), be `Clone` and be \
            `Send + Sync + 'static`, as an inserted field's must"
)]
pub trait KeyColumns<DB: Backend, K> {
    /// `statement` with `key`'s values bound, one per column.
    fn bind(key: K, statement: Statement<DB>) -> Statement<DB>;
}

macro_rules! key_columns {
    ($(($col:ident, $value:ident, $index:tt)),+) => {
        impl<DB, $($col,)+ $($value,)+> KeyColumns<DB, key_columns!(@key $($value),+)> for ($($col,)+)
        where
            DB: Backend $(+ HasSqlType<$col::SqlType>)+,
            $(
                $col: Column,
                $col::SqlType: Send + 'static,
                $value: ToSql<$col::SqlType, DB> + Send + 'static,
            )+
        {
            #[inline]
            fn bind(key: key_columns!(@key $($value),+), statement: Statement<DB>) -> Statement<DB> {
                let key = key_columns!(@tuple key $($index),+);
                $(let statement = statement.bind::<$col::SqlType, _>(key.$index);)+
                statement
            }
        }
    };
    // A one-column key is the value itself, a composite one a tuple.
    (@key $one:ident) => { $one };
    (@key $($value:ident),+) => { ($($value,)+) };
    (@tuple $key:ident $one:tt) => { ($key,) };
    (@tuple $key:ident $($index:tt),+) => { $key };
}

key_columns!((A, KA, 0));
key_columns!((A, KA, 0), (B, KB, 1));
key_columns!((A, KA, 0), (B, KB, 1), (C, KC, 2));
key_columns!((A, KA, 0), (B, KB, 1), (C, KC, 2), (D, KD, 3));
key_columns!((A, KA, 0), (B, KB, 1), (C, KC, 2), (D, KD, 3), (E, KE, 4));

/// Factory `F`'s key of `model`, recorded for backend `DB`.
pub fn record<F, DB>(model: &F::Model) -> Recorded
where
    F: crate::persist::Record,
    F::Key: Clone + Send + Sync + 'static,
    F::KeyColumns: KeyColumns<DB, F::Key>,
    DB: Backend + 'static,
{
    let key = F::key_of(model);
    let binder: Binder<DB> = Arc::new(move |statement| {
        <F::KeyColumns as KeyColumns<DB, F::Key>>::bind(key.clone(), statement)
    });
    Arc::new(binder)
}

/// A recorded key as backend `DB`'s binder (`None` if another backend recorded it).
pub(crate) fn binder<DB: Backend + 'static>(key: &Recorded) -> Option<&Binder<DB>> {
    key.downcast_ref::<Binder<DB>>()
}

/// Nothing: calling it (in a `const`) proves that factory `F`'s key binds for tracked cleanup on `DB` (the
/// derive calls it at the model, per backend).
pub const fn binds_key<F, DB>()
where
    F: crate::persist::Record,
    F::Key: Clone + Send + Sync + 'static,
    F::KeyColumns: KeyColumns<DB, F::Key>,
    DB: Backend + 'static,
{
}
