//! Inserting factory rows, one backend per file.

use crate::factory::Factory;
use diesel::QueryResult;

#[cfg(feature = "mysql")]
mod mysql;
#[cfg(feature = "postgres")]
mod postgres;
#[cfg(any(feature = "sqlite", feature = "postgres"))]
mod returning;
#[cfg(feature = "sqlite")]
mod sqlite;

/// A connection a factory can insert into and read its rows back from.
///
/// Implemented for each enabled backend's connection; the derive's `create` methods accept any
/// `C: InsertRows<Self>`. A compile error mentioning this trait means the model cannot be read
/// back as inserted: check that it derives `Queryable` and `Selectable` for the same table.
pub trait InsertRows<F: Factory> {
    /// Inserts one row and returns it as stored (generated keys and defaults filled in).
    fn insert_one(&mut self, row: F::Attributes) -> QueryResult<F::Model>;

    /// Inserts `rows` inside one transaction, in chunks that stay under the backend's bind
    /// parameter limit (`columns` binds per row), and returns them as stored, in order.
    fn insert_batch(
        &mut self,
        rows: Vec<F::Attributes>,
        columns: usize,
    ) -> QueryResult<Vec<F::Model>>;
}

/// Reading inserted rows back, for backends without `RETURNING` (MySQL). The derive
/// implements it with queries on the model's own table and primary key.
pub trait ReadBack<C>: Factory {
    /// The row the connection's last `INSERT` created, by its auto-increment key.
    fn read_last_inserted(conn: &mut C) -> QueryResult<Self::Model>;

    /// The rows whose database-assigned integer keys run from `first` to `last`, in key order.
    fn read_range(conn: &mut C, first: Self::Key, last: Self::Key)
        -> QueryResult<Vec<Self::Model>>;
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
