//! MySQL and MariaDB: no `RETURNING`, so rows are inserted, then read back by primary key.
//!
//! A key the attributes hold (a UUID made by the factory, a composite key of two foreign keys)
//! is known before the insert. A database-assigned integer key comes from `LAST_INSERT_ID()`,
//! which for a multi-row `INSERT` is the first row's id; the others follow it consecutively
//! (InnoDB guarantees this for inserts whose row count is known in advance, with the default
//! `auto_increment_increment` of 1).

use super::{chunks, rows_per_statement};
use crate::persist::{Insert, Pending, Record};
use diesel::connection::{AnsiTransactionManager, TransactionManager};
use diesel::dsl::{insert_into, AsSelect, Filter, Order, Select, Values};
use diesel::expression::SqlLiteral;
use diesel::mysql::{Mysql, MysqlConnection};
use diesel::query_dsl::methods::{ExecuteDsl, FilterDsl, FindDsl, OrderDsl, SelectDsl};
use diesel::query_dsl::LoadQuery;
use diesel::result::Error;
use diesel::sql_types::{BigInt, Bool, Text, Unsigned};
use diesel::{Connection, Insertable, QueryResult, RunQueryDsl, SelectableHelper};
use std::sync::Mutex;

/// The client protocol counts placeholders in a u16.
pub(crate) const BIND_LIMIT: usize = 65_535;
/// Rows per statement at most, whatever the bind limit allows: a statement must also fit in the
/// server's `max_allowed_packet` (16 MiB by default on MariaDB), and rows with long text fill
/// that long before 65,535 binds.
pub(crate) const MAX_ROWS: usize = 1_000;

impl<F> Insert<MysqlConnection> for F
where
    F: Record,
    F::Key: Clone + Send + Sync + 'static,
    F::KeyColumns: crate::cleanup::key::KeyColumns<Mysql, F::Key>,
    F::Model: diesel::Selectable<Mysql>,
    <F::Model as diesel::Selectable<Mysql>>::SelectExpression: diesel::query_builder::QueryId,
    F::Row: Insertable<F::Table>,
    Vec<F::Row>: Insertable<F::Table>,
    F::Table: diesel::Table + diesel::query_builder::QueryId + FindDsl<F::Key> + 'static,
    diesel::dsl::Find<F::Table, F::Key>: SelectDsl<AsSelect<F::Model, Mysql>>,
    F: ReadBack,
    Values<insert_into<F::Table>, F::Row>: ExecuteDsl<MysqlConnection>,
    Values<insert_into<F::Table>, Vec<F::Row>>: ExecuteDsl<MysqlConnection>,
    for<'q> Select<diesel::dsl::Find<F::Table, F::Key>, AsSelect<F::Model, Mysql>>:
        LoadQuery<'q, MysqlConnection, F::Model>,
    for<'q> <F as ReadBack>::Keyed: LoadQuery<'q, MysqlConnection, F::Model>,
    for<'q> <F as ReadBack>::Ordered: LoadQuery<'q, MysqlConnection, F::Model>,
{
    fn insert_one(conn: &mut MysqlConnection, row: Pending<F>) -> QueryResult<F::Model> {
        // The insert and its read-back belong together; inside an open transaction (a batch, a
        // row with parents) they already do, and a savepoint would only add round trips.
        let insert_and_read = |conn: &mut MysqlConnection| {
            let Pending { row, key } = row;
            diesel::insert_into(F::Table::default())
                .values(row)
                .execute(conn)?;
            match key {
                Some(key) => F::Table::default()
                    .find(key)
                    .select(F::Model::as_select())
                    .get_result(conn),
                None => {
                    ensure_auto_increment::<F>(conn)?;
                    F::keyed(key_is::<F>("= LAST_INSERT_ID()")?).get_result(conn)
                }
            }
        };
        if transaction_open(conn) {
            insert_and_read(conn)
        } else {
            conn.transaction(insert_and_read)
        }
    }

    fn record_key(model: &F::Model) -> crate::cleanup::key::Recorded {
        crate::cleanup::key::record::<F, Mysql>(model)
    }

    fn insert_batch(
        conn: &mut MysqlConnection,
        rows: Vec<Pending<F>>,
    ) -> QueryResult<Vec<F::Model>> {
        let size = rows_per_statement(BIND_LIMIT, F::COLUMNS).min(MAX_ROWS);
        conn.transaction(|conn| {
            let mut stored = Vec::with_capacity(rows.len());
            for chunk in chunks(rows, size) {
                let count = chunk.len() as u64;
                let (values, keys): (Vec<F::Row>, Vec<Option<F::Key>>) =
                    chunk.into_iter().map(|r| (r.row, r.key)).unzip();
                let keys: Option<Vec<F::Key>> = keys.into_iter().collect();
                diesel::insert_into(F::Table::default())
                    .values(values)
                    .execute(conn)?;
                match keys {
                    // Keys the factory made: one lookup each.
                    Some(keys) => {
                        for key in keys {
                            stored.push(
                                F::Table::default()
                                    .find(key)
                                    .select(F::Model::as_select())
                                    .get_result(conn)?,
                            );
                        }
                    }
                    // The database's: consecutive from the first row's id, read in one query.
                    None => {
                        ensure_auto_increment::<F>(conn)?;
                        let first = last_insert_id(conn)?;
                        generated_key::<F>(first)?;
                        let rows = F::ordered(key_is::<F>(&format!(
                            "BETWEEN {first} AND {}",
                            first + count - 1
                        ))?)
                        .load(conn)?;
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

/// Reading rows back by their database-assigned integer key (MySQL has no `RETURNING`).
pub(crate) trait ReadBack: Record {
    /// `SELECT <model> FROM <table> WHERE <key condition>`.
    type Keyed;
    /// [`Keyed`](Self::Keyed) in key order.
    type Ordered;
    /// The model's rows where `condition` holds.
    fn keyed(condition: SqlLiteral<Bool>) -> Self::Keyed;
    /// [`keyed`](Self::keyed), in key order.
    fn ordered(condition: SqlLiteral<Bool>) -> Self::Ordered;
}

pub(crate) type Keyed<F> = Filter<
    Select<<F as Record>::Table, AsSelect<<F as crate::Factory>::Model, Mysql>>,
    SqlLiteral<Bool>,
>;

impl<F> ReadBack for F
where
    F: Record,
    F::Model: diesel::Selectable<Mysql>,
    <F::Model as diesel::Selectable<Mysql>>::SelectExpression: diesel::query_builder::QueryId,
    F::Table: SelectDsl<AsSelect<F::Model, Mysql>>,
    Select<F::Table, AsSelect<F::Model, Mysql>>: FilterDsl<SqlLiteral<Bool>>,
    Keyed<F>: OrderDsl<SqlLiteral<BigInt>>,
{
    type Keyed = Keyed<F>;
    type Ordered = Order<Keyed<F>, SqlLiteral<BigInt>>;

    fn keyed(condition: SqlLiteral<Bool>) -> Self::Keyed {
        F::Table::default()
            .select(F::Model::as_select())
            .filter(condition)
    }

    fn ordered(condition: SqlLiteral<Bool>) -> Self::Ordered {
        // `key_is` succeeded, so the key column is known.
        let column = key_column::<F>().unwrap_or_default();
        Self::keyed(condition).order(diesel::dsl::sql::<BigInt>(&column))
    }
}

/// `<key column> <condition>`, for a model whose key is one database-assigned integer. The
/// condition holds only numbers the database reported, never user data.
pub(crate) fn key_is<F: Record>(condition: &str) -> QueryResult<SqlLiteral<Bool>> {
    Ok(diesel::dsl::sql::<Bool>(&format!(
        "{} {condition}",
        key_column::<F>()?
    )))
}

/// The quoted key column of a model whose key is one database-assigned integer.
pub(crate) fn key_column<F: Record>() -> QueryResult<String> {
    match F::KEY_COLUMNS {
        [column] if F::key_from_insert_id(1).is_some() => Ok(format!(
            "`{}`.`{}`",
            F::TABLE_NAME,
            column.replace('`', "``")
        )),
        _ => Err(Error::QueryBuilderError(
            format!(
                "{} cannot read a row back by LAST_INSERT_ID(): its primary key is not one \
                 database-assigned integer",
                F::NAME
            )
            .into(),
        )),
    }
}

pub(crate) fn not_consecutive<F: Record>(count: u64, read: usize) -> Error {
    Error::QueryBuilderError(
        format!(
            "{} inserted {count} rows into `{}` but read {read} back: their ids were not \
             consecutive (auto_increment_increment > 1?)",
            F::NAME,
            F::TABLE_NAME,
        )
        .into(),
    )
}

fn transaction_open(conn: &mut MysqlConnection) -> bool {
    matches!(
        AnsiTransactionManager::transaction_manager_status_mut(conn).transaction_depth(),
        Ok(Some(_))
    )
}

/// `LAST_INSERT_ID()` reports keys that AUTO_INCREMENT assigned; a key a trigger or a sequence
/// default assigns leaves it at an older row's id, and reading that row back would return the
/// wrong one. So check, once per table and process, that the key is AUTO_INCREMENT.
fn ensure_auto_increment<F: Record>(conn: &mut MysqlConnection) -> QueryResult<()> {
    if auto_increment_checked::<F>() {
        return Ok(());
    }
    let extra: Vec<Extra> = diesel::sql_query(AUTO_INCREMENT_QUERY)
        .bind::<Text, _>(F::TABLE_NAME)
        .load(conn)?;
    auto_increment_verdict::<F>(extra)
}

/// The `EXTRA` of the primary key columns of the table bound as `?`.
pub(crate) const AUTO_INCREMENT_QUERY: &str =
    "SELECT EXTRA AS extra FROM information_schema.COLUMNS \
     WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ? AND COLUMN_KEY = 'PRI'";

static AUTO_INCREMENT_CHECKED: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());

/// Whether `F`'s table was found to have an AUTO_INCREMENT key already.
pub(crate) fn auto_increment_checked<F: Record>() -> bool {
    AUTO_INCREMENT_CHECKED
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .contains(&F::TABLE_NAME)
}

/// Judges [`AUTO_INCREMENT_QUERY`]'s answer for `F`'s table, remembering a good one.
pub(crate) fn auto_increment_verdict<F: Record>(extra: Vec<Extra>) -> QueryResult<()> {
    let table = F::TABLE_NAME;
    if !extra
        .iter()
        .any(|e| e.extra.to_ascii_lowercase().contains("auto_increment"))
    {
        return Err(Error::QueryBuilderError(
            format!(
                "{} cannot read its row back from `{table}`: MySQL has no RETURNING, and the \
                 `db_generated` primary key is not AUTO_INCREMENT, so LAST_INSERT_ID() does not \
                 name the new row; let the factory make the key instead",
                F::NAME
            )
            .into(),
        ));
    }
    AUTO_INCREMENT_CHECKED
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(table);
    Ok(())
}

/// One row of [`AUTO_INCREMENT_QUERY`].
#[derive(diesel::QueryableByName)]
pub(crate) struct Extra {
    #[diesel(sql_type = Text)]
    extra: String,
}

fn last_insert_id(conn: &mut MysqlConnection) -> QueryResult<u64> {
    diesel::select(diesel::dsl::sql::<Unsigned<BigInt>>("LAST_INSERT_ID()")).get_result(conn)
}

/// The key of the row MySQL gave auto-increment id `id`.
pub(crate) fn generated_key<F: Record>(id: u64) -> QueryResult<F::Key> {
    F::key_from_insert_id(id).ok_or_else(|| {
        Error::QueryBuilderError(
            format!(
                "{} cannot read its rows back from `{}`: MySQL has no RETURNING, and the primary \
                 key is neither in the attributes nor a database-assigned integer",
                F::NAME,
                F::TABLE_NAME
            )
            .into(),
        )
    })
}
