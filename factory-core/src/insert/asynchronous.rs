//! Inserting factory rows on `diesel-async` connections: the same statements as the sync
//! backends (`RETURNING` on SQLite and PostgreSQL, a read-back by key on MySQL), awaited.

#[cfg(feature = "postgres")]
macro_rules! returning_async {
    ($conn:ty, $backend:ty, $bind_limit:expr) => {
        impl<F> $crate::create::asynchronous::InsertAsync<$conn> for F
        where
            F: $crate::persist::Record,
            F::Model: ::diesel::Selectable<$backend> + Send + 'static,
            F::Row: ::diesel::Insertable<F::Table> + Send + 'static,
            ::std::vec::Vec<F::Row>: ::diesel::Insertable<F::Table>,
            <F::Row as ::diesel::Insertable<F::Table>>::Values: 'static,
            <::std::vec::Vec<F::Row> as ::diesel::Insertable<F::Table>>::Values: 'static,
            F::Table: ::diesel::Table + ::diesel::query_builder::QueryId + Send + 'static,
            F::Key: ::std::clone::Clone + Send + Sync + 'static,
            F::KeyColumns: $crate::cleanup::key::KeyColumns<$backend, F::Key>,
            <F::Model as ::diesel::Selectable<$backend>>::SelectExpression:
                ::diesel::query_builder::QueryId
                    + ::diesel::expression::SelectableExpression<F::Table>
                    + ::diesel::expression::ValidGrouping<
                        (),
                        IsAggregate = ::diesel::expression::is_aggregate::No,
                    >,
            ::diesel::dsl::Returning<
                ::diesel::dsl::Values<::diesel::dsl::insert_into<F::Table>, F::Row>,
                ::diesel::dsl::AsSelect<F::Model, $backend>,
            >: for<'q> ::diesel_async::methods::LoadQuery<'q, $conn, F::Model> + Send,
            ::diesel::dsl::Returning<
                ::diesel::dsl::Values<
                    ::diesel::dsl::insert_into<F::Table>,
                    ::std::vec::Vec<F::Row>,
                >,
                ::diesel::dsl::AsSelect<F::Model, $backend>,
            >: for<'q> ::diesel_async::methods::LoadQuery<'q, $conn, F::Model> + Send,
        {
            fn insert_one_async<'a>(
                conn: &'a mut $conn,
                row: $crate::persist::Pending<F>,
            ) -> $crate::create::asynchronous::BoxFuture<'a, ::diesel::QueryResult<F::Model>> {
                use ::diesel::SelectableHelper;
                use ::diesel_async::RunQueryDsl;
                let query = ::diesel::insert_into(F::Table::default())
                    .values(row.row)
                    .returning(F::Model::as_select());
                Box::pin(async move { query.get_result(conn).await })
            }

            fn record_key(model: &F::Model) -> $crate::cleanup::key::Recorded {
                $crate::cleanup::key::record::<F, $backend>(model)
            }

            fn insert_batch_async<'a>(
                conn: &'a mut $conn,
                rows: ::std::vec::Vec<$crate::persist::Pending<F>>,
            ) -> $crate::create::asynchronous::BoxFuture<
                'a,
                ::diesel::QueryResult<::std::vec::Vec<F::Model>>,
            > {
                use ::diesel::SelectableHelper;
                use ::diesel_async::RunQueryDsl;
                let size = $crate::insert::rows_per_statement($bind_limit, F::COLUMNS);
                let statements: ::std::vec::Vec<_> =
                    $crate::insert::chunks(rows.into_iter().map(|r| r.row), size)
                        .map(|chunk| {
                            ::diesel::insert_into(F::Table::default())
                                .values(chunk)
                                .returning(F::Model::as_select())
                        })
                        .collect();
                Box::pin(async move {
                    let mut stored = ::std::vec::Vec::new();
                    for statement in statements {
                        stored.extend(statement.get_results(conn).await?);
                    }
                    Ok(stored)
                })
            }
        }
    };
}

/// SQLite behind `SyncConnectionWrapper`: the sync statements, on the wrapper's blocking
/// thread. (Diesel batch-inserts into SQLite through `SqliteConnection` itself, so the sync
/// path is also the only one that batches.)
#[cfg(feature = "sqlite")]
impl<F> crate::create::asynchronous::InsertAsync<SqliteWrapper> for F
where
    F: crate::persist::Insert<::diesel::sqlite::SqliteConnection> + 'static,
    F::Model: Send + 'static,
    F::Row: Send + 'static,
    F::Key: Send + 'static,
{
    fn insert_one_async<'a>(
        conn: &'a mut SqliteWrapper,
        row: crate::persist::Pending<F>,
    ) -> crate::create::asynchronous::BoxFuture<'a, ::diesel::QueryResult<F::Model>> {
        conn.spawn_blocking(move |inner| F::insert_one(inner, row))
    }

    fn record_key(model: &F::Model) -> crate::cleanup::key::Recorded {
        <F as crate::persist::Insert<::diesel::sqlite::SqliteConnection>>::record_key(model)
    }

    fn insert_batch_async<'a>(
        conn: &'a mut SqliteWrapper,
        rows: Vec<crate::persist::Pending<F>>,
    ) -> crate::create::asynchronous::BoxFuture<'a, ::diesel::QueryResult<Vec<F::Model>>> {
        conn.spawn_blocking(move |inner| F::insert_batch(inner, rows))
    }
}

#[cfg(feature = "sqlite")]
type SqliteWrapper = ::diesel_async::sync_connection_wrapper::SyncConnectionWrapper<
    ::diesel::sqlite::SqliteConnection,
>;
#[cfg(feature = "postgres")]
returning_async!(::diesel_async::AsyncPgConnection, ::diesel::pg::Pg, 65_535);

#[cfg(feature = "mysql")]
mod mysql {
    use super::super::mysql::{
        auto_increment_checked, auto_increment_verdict, generated_key, key_is, not_consecutive,
        Extra, ReadBack, AUTO_INCREMENT_QUERY, BIND_LIMIT, MAX_ROWS,
    };
    use super::super::{chunks, rows_per_statement};
    use crate::create::asynchronous::{BoxFuture, InsertAsync};
    use crate::persist::{Pending, Record};
    use diesel::dsl::{insert_into, AsSelect, Select, Values};
    use diesel::mysql::Mysql;
    use diesel::query_dsl::methods::{FindDsl, SelectDsl};
    use diesel::sql_types::{BigInt, Text, Unsigned};
    use diesel::{Insertable, QueryResult, SelectableHelper};
    use diesel_async::methods::{ExecuteDsl, LoadQuery};
    use diesel_async::{AsyncConnection, AsyncMysqlConnection, RunQueryDsl, TransactionManager};

    impl<F> InsertAsync<AsyncMysqlConnection> for F
    where
        F: Record + ReadBack + 'static,
        F::Key: Clone + Send + Sync + 'static,
        F::KeyColumns: crate::cleanup::key::KeyColumns<Mysql, F::Key>,
        F::Model: diesel::Selectable<Mysql> + Send + 'static,
        <F::Model as diesel::Selectable<Mysql>>::SelectExpression: diesel::query_builder::QueryId,
        F::Row: Insertable<F::Table> + Send + 'static,
        Vec<F::Row>: Insertable<F::Table>,
        <F::Row as Insertable<F::Table>>::Values: 'static,
        <Vec<F::Row> as Insertable<F::Table>>::Values: 'static,
        F::Table: diesel::Table + diesel::query_builder::QueryId + FindDsl<F::Key> + Send + 'static,
        diesel::dsl::Find<F::Table, F::Key>: SelectDsl<AsSelect<F::Model, Mysql>>,
        Values<insert_into<F::Table>, F::Row>: ExecuteDsl<AsyncMysqlConnection> + Send,
        Values<insert_into<F::Table>, Vec<F::Row>>: ExecuteDsl<AsyncMysqlConnection> + Send,
        Select<diesel::dsl::Find<F::Table, F::Key>, AsSelect<F::Model, Mysql>>:
            for<'q> LoadQuery<'q, AsyncMysqlConnection, F::Model> + Send,
        <F as ReadBack>::Keyed: for<'q> LoadQuery<'q, AsyncMysqlConnection, F::Model> + Send,
        <F as ReadBack>::Ordered: for<'q> LoadQuery<'q, AsyncMysqlConnection, F::Model> + Send,
    {
        fn insert_one_async<'a>(
            conn: &'a mut AsyncMysqlConnection,
            row: Pending<F>,
        ) -> BoxFuture<'a, QueryResult<F::Model>> {
            Box::pin(async move {
                // As on the sync connection: inside an open transaction the insert and its
                // read-back already belong together; else a transaction makes them.
                let open = matches!(
                    <AsyncMysqlConnection as AsyncConnection>::TransactionManager::transaction_manager_status_mut(conn)
                        .transaction_depth(),
                    Ok(Some(_))
                );
                if !open {
                    <AsyncMysqlConnection as AsyncConnection>::TransactionManager::begin_transaction(conn).await?;
                }
                let result = insert_and_read::<F>(conn, row).await;
                if !open {
                    let end = match result {
                        Ok(_) => <AsyncMysqlConnection as AsyncConnection>::TransactionManager::commit_transaction(conn).await,
                        Err(_) => <AsyncMysqlConnection as AsyncConnection>::TransactionManager::rollback_transaction(conn).await,
                    };
                    end?;
                }
                result
            })
        }

        fn record_key(model: &F::Model) -> crate::cleanup::key::Recorded {
            crate::cleanup::key::record::<F, Mysql>(model)
        }

        fn insert_batch_async<'a>(
            conn: &'a mut AsyncMysqlConnection,
            rows: Vec<Pending<F>>,
        ) -> BoxFuture<'a, QueryResult<Vec<F::Model>>> {
            let size = rows_per_statement(BIND_LIMIT, F::COLUMNS).min(MAX_ROWS);
            let chunks: Vec<Vec<Pending<F>>> = chunks(rows, size).collect();
            Box::pin(async move {
                let mut stored = Vec::new();
                for chunk in chunks {
                    let count = chunk.len() as u64;
                    let (values, keys): (Vec<F::Row>, Vec<Option<F::Key>>) =
                        chunk.into_iter().map(|r| (r.row, r.key)).unzip();
                    let keys: Option<Vec<F::Key>> = keys.into_iter().collect();
                    diesel::insert_into(F::Table::default())
                        .values(values)
                        .execute(conn)
                        .await?;
                    match keys {
                        Some(keys) => {
                            for key in keys {
                                stored.push(
                                    F::Table::default()
                                        .find(key)
                                        .select(F::Model::as_select())
                                        .get_result(conn)
                                        .await?,
                                );
                            }
                        }
                        None => {
                            ensure_auto_increment::<F>(conn).await?;
                            let first = last_insert_id(conn).await?;
                            generated_key::<F>(first)?;
                            let rows = F::ordered(key_is::<F>(&format!(
                                "BETWEEN {first} AND {}",
                                first + count - 1
                            ))?)
                            .load(conn)
                            .await?;
                            if rows.len() as u64 != count {
                                return Err(not_consecutive::<F>(count, rows.len()));
                            }
                            stored.extend(rows);
                        }
                    }
                }
                Ok(stored)
            })
        }
    }

    async fn insert_and_read<F>(
        conn: &mut AsyncMysqlConnection,
        row: Pending<F>,
    ) -> QueryResult<F::Model>
    where
        F: Record + ReadBack,
        F::Key: Send,
        F::Model: diesel::Selectable<Mysql> + Send + 'static,
        <F::Model as diesel::Selectable<Mysql>>::SelectExpression: diesel::query_builder::QueryId,
        F::Table: FindDsl<F::Key> + Send,
        diesel::dsl::Find<F::Table, F::Key>: SelectDsl<AsSelect<F::Model, Mysql>>,
        Values<insert_into<F::Table>, F::Row>: ExecuteDsl<AsyncMysqlConnection> + Send,
        Select<diesel::dsl::Find<F::Table, F::Key>, AsSelect<F::Model, Mysql>>:
            for<'q> LoadQuery<'q, AsyncMysqlConnection, F::Model> + Send,
        <F as ReadBack>::Keyed: for<'q> LoadQuery<'q, AsyncMysqlConnection, F::Model> + Send,
        F::Row: Insertable<F::Table>,
        F::Table: diesel::Table,
    {
        let Pending { row, key } = row;
        diesel::insert_into(F::Table::default())
            .values(row)
            .execute(conn)
            .await?;
        match key {
            Some(key) => {
                F::Table::default()
                    .find(key)
                    .select(F::Model::as_select())
                    .get_result(conn)
                    .await
            }
            None => {
                ensure_auto_increment::<F>(conn).await?;
                F::keyed(key_is::<F>("= LAST_INSERT_ID()")?)
                    .get_result(conn)
                    .await
            }
        }
    }

    async fn ensure_auto_increment<F: Record>(conn: &mut AsyncMysqlConnection) -> QueryResult<()> {
        if auto_increment_checked::<F>() {
            return Ok(());
        }
        let extra: Vec<Extra> = diesel::sql_query(AUTO_INCREMENT_QUERY)
            .bind::<Text, _>(F::TABLE_NAME)
            .load(conn)
            .await?;
        auto_increment_verdict::<F>(extra)
    }

    async fn last_insert_id(conn: &mut AsyncMysqlConnection) -> QueryResult<u64> {
        diesel::select(diesel::dsl::sql::<Unsigned<BigInt>>("LAST_INSERT_ID()"))
            .get_result(conn)
            .await
    }
}
