//! Inserting factory rows and reading them back, one backend per file: the runtime's
//! [`Insert`](crate::persist::Insert) implementations.

use crate::persist::{Condition, Record};
use diesel::backend::Backend;
use diesel::dsl::{AsSelect, Filter, Limit, Select};
use diesel::query_builder::QueryId;
use diesel::query_dsl::methods::{FilterDsl, LimitDsl, SelectDsl};
use diesel::{Selectable, SelectableHelper};

#[cfg(feature = "async")]
mod asynchronous;
#[cfg(feature = "mysql")]
mod mysql;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod returning;
#[cfg(feature = "sqlite")]
mod sqlite;

/// `SELECT <model's columns> FROM <table> WHERE <condition> LIMIT 1` on backend `DB`: what
/// `get_or_create` looks a row up with.
pub trait Find<DB: Backend>: Record {
    /// The query's type.
    type Query;
    /// The query.
    fn query(condition: Condition<Self, DB>) -> Self::Query;
}

impl<F, DB> Find<DB> for F
where
    F: Record,
    DB: Backend,
    F::Model: Selectable<DB>,
    <F::Model as Selectable<DB>>::SelectExpression: QueryId,
    F::Table: SelectDsl<AsSelect<F::Model, DB>>,
    Select<F::Table, AsSelect<F::Model, DB>>: FilterDsl<Condition<F, DB>>,
    Filter<Select<F::Table, AsSelect<F::Model, DB>>, Condition<F, DB>>: LimitDsl,
{
    type Query = Limit<Filter<Select<F::Table, AsSelect<F::Model, DB>>, Condition<F, DB>>>;

    fn query(condition: Condition<Self, DB>) -> Self::Query {
        F::Table::default()
            .select(F::Model::as_select())
            .filter(condition)
            .limit(1)
    }
}

/// How many rows fit in one statement with `columns` binds each under `limit` binds.
pub(crate) fn rows_per_statement(limit: usize, columns: usize) -> usize {
    (limit / columns.max(1)).max(1)
}

/// Splits `rows` into owned chunks of at most `size`, keeping order.
pub(crate) fn chunks<T>(
    rows: impl IntoIterator<Item = T>,
    size: usize,
) -> impl Iterator<Item = Vec<T>> {
    let mut rows = rows.into_iter().peekable();
    std::iter::from_fn(move || {
        rows.peek()?;
        Some(rows.by_ref().take(size).collect())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cover_every_row_in_order_under_the_limit() {
        let size = rows_per_statement(32_766, 7);
        assert_eq!(size, 4680);
        let got: Vec<Vec<u32>> = chunks(0..10_000, size).collect();
        assert_eq!(got.len(), 3);
        assert!(got.iter().all(|c| c.len() <= size));
        assert_eq!(got.concat(), (0..10_000).collect::<Vec<_>>());
        assert_eq!(rows_per_statement(10, 0), 10);
        assert_eq!(rows_per_statement(10, 20), 1);
    }
}
