//! Backends with `INSERT .. RETURNING` (SQLite 3.35+, PostgreSQL): one statement per chunk
//! inserts the rows and reads them back.

/// Implements [`Insert`](crate::persist::Insert) on a connection whose backend has RETURNING.
macro_rules! returning_backend {
    ($conn:ty, $backend:ty, $bind_limit:expr) => {
        impl<F> $crate::persist::Insert<$conn> for F
        where
            F: $crate::persist::Record,
            F::Model: ::diesel::Selectable<$backend>,
            F::Row: ::diesel::Insertable<F::Table>,
            ::std::vec::Vec<F::Row>: ::diesel::Insertable<F::Table>,
            F::Table: ::diesel::Table + ::diesel::query_builder::QueryId + 'static,
            F::Key: ::std::clone::Clone + ::std::marker::Send + ::std::marker::Sync + 'static,
            F::KeyColumns: $crate::cleanup::key::KeyColumns<$backend, F::Key>,
            <F::Model as ::diesel::Selectable<$backend>>::SelectExpression:
                ::diesel::query_builder::QueryId
                    + ::diesel::expression::SelectableExpression<F::Table>
                    + ::diesel::expression::ValidGrouping<
                        (),
                        IsAggregate = ::diesel::expression::is_aggregate::No,
                    >,
            for<'q> ::diesel::dsl::Returning<
                ::diesel::dsl::Values<::diesel::dsl::insert_into<F::Table>, F::Row>,
                ::diesel::dsl::AsSelect<F::Model, $backend>,
            >: ::diesel::query_dsl::LoadQuery<'q, $conn, F::Model>,
            for<'q> ::diesel::dsl::Returning<
                ::diesel::dsl::Values<
                    ::diesel::dsl::insert_into<F::Table>,
                    ::std::vec::Vec<F::Row>,
                >,
                ::diesel::dsl::AsSelect<F::Model, $backend>,
            >: ::diesel::query_dsl::LoadQuery<'q, $conn, F::Model>,
        {
            fn insert_one(
                conn: &mut $conn,
                row: $crate::persist::Pending<F>,
            ) -> ::diesel::QueryResult<F::Model> {
                use ::diesel::{RunQueryDsl, SelectableHelper};
                ::diesel::insert_into(F::Table::default())
                    .values(row.row)
                    .returning(F::Model::as_select())
                    .get_result(conn)
            }

            fn record_key(model: &F::Model) -> $crate::cleanup::key::Recorded {
                $crate::cleanup::key::record::<F, $backend>(model)
            }

            fn insert_batch(
                conn: &mut $conn,
                rows: ::std::vec::Vec<$crate::persist::Pending<F>>,
            ) -> ::diesel::QueryResult<::std::vec::Vec<F::Model>> {
                use ::diesel::{Connection, RunQueryDsl, SelectableHelper};
                let size = $crate::insert::rows_per_statement($bind_limit, F::COLUMNS);
                conn.transaction(|conn| {
                    let mut stored = ::std::vec::Vec::with_capacity(rows.len());
                    for chunk in $crate::insert::chunks(rows.into_iter().map(|r| r.row), size) {
                        stored.extend(
                            ::diesel::insert_into(F::Table::default())
                                .values(chunk)
                                .returning(F::Model::as_select())
                                .get_results(conn)?,
                        );
                    }
                    Ok(stored)
                })
            }
        }
    };
}

pub(crate) use returning_backend;
