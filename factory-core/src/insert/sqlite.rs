//! SQLite: `INSERT .. RETURNING` (SQLite 3.35+, bundled), multi-row batches.

use super::{chunks, rows_per_statement, InsertRows};
use crate::factory::Factory;
use diesel::dsl::{insert_into, AsSelect, Returning, Values};
use diesel::query_dsl::LoadQuery;
use diesel::sqlite::{Sqlite, SqliteConnection};
use diesel::{Connection, Insertable, QueryResult, RunQueryDsl, SelectableHelper};

/// SQLITE_MAX_VARIABLE_NUMBER of the bundled SQLite (3.32 and later).
const BIND_LIMIT: usize = 32_766;

impl<F> InsertRows<F> for SqliteConnection
where
    F: Factory,
    F::Model: diesel::Selectable<Sqlite>,
    F::Row: Insertable<F::Table>,
    Vec<F::Row>: Insertable<F::Table>,
    F::Table: diesel::Table + diesel::query_builder::QueryId + 'static,
    <F::Model as diesel::Selectable<Sqlite>>::SelectExpression:
        diesel::query_builder::QueryId
            + diesel::expression::SelectableExpression<F::Table>
            + diesel::expression::ValidGrouping<
                (),
                IsAggregate = diesel::expression::is_aggregate::No,
            >,
    for<'q> Returning<Values<insert_into<F::Table>, F::Row>, AsSelect<F::Model, Sqlite>>:
        LoadQuery<'q, SqliteConnection, F::Model>,
    for<'q> Returning<Values<insert_into<F::Table>, Vec<F::Row>>, AsSelect<F::Model, Sqlite>>:
        LoadQuery<'q, SqliteConnection, F::Model>,
{
    fn insert_one(&mut self, row: F::Row) -> QueryResult<F::Model> {
        diesel::insert_into(F::table())
            .values(row)
            .returning(F::Model::as_select())
            .get_result(self)
    }

    fn insert_batch(&mut self, rows: Vec<F::Row>, columns: usize) -> QueryResult<Vec<F::Model>> {
        let size = rows_per_statement(BIND_LIMIT, columns);
        self.transaction(|conn| {
            let mut stored = Vec::with_capacity(rows.len());
            for chunk in chunks(rows, size) {
                stored.extend(
                    diesel::insert_into(F::table())
                        .values(chunk)
                        .returning(F::Model::as_select())
                        .get_results(conn)?,
                );
            }
            Ok(stored)
        })
    }
}
