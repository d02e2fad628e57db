//! MariaDB/MySQL to MariaDB/MySQL: every table streamed from a consistent snapshot of the source
//! with an unbuffered text-protocol query (a row at a time off the socket), each row's columns
//! through their rules, and multi-row prepared `INSERT`s of at most [`MAX_BATCH_ROWS`] rows (and
//! about [`BATCH_BYTES`] bytes) into the target, all in one transaction there. Memory stays the
//! same whatever the size of a table: a few batches are in flight at a time.
//!
//! A `keep` column's value goes through as the server sent it, so integers, decimals, dates,
//! floats and blobs arrive as they were; every other rule takes text and gives text, and refuses
//! a binary value (a blob, `BINARY`/`VARBINARY`, `BIT` or geometry column) it would have to read
//! as text. Both sessions use `utf8mb4`, UTC (`TIMESTAMP` values are exact) and a fixed
//! `sql_mode`: strict (a value the target cannot hold is an error, never silently cut), and
//! `NO_AUTO_VALUE_ON_ZERO` (a copied key 0 stays 0). InnoDB moves each `AUTO_INCREMENT` counter
//! past the keys written, so the application's next insert does not collide with a copied row.
//!
//! The target's tables must exist (run its migrations first), be transactional (InnoDB: a table
//! that cannot roll back is refused, so that a failed run leaves nothing) and be empty, unless
//! [`Options::truncate`] empties them: with `DELETE`s in the run's transaction (not `TRUNCATE`,
//! which commits), so a run that fails leaves them as they were. A run holds the target
//! database from that check to its commit with a named lock: another run into it is refused at
//! once (see `claim_target`). Foreign keys are checked as rows
//! go in (tables load in dependency order), except when tables reference each other in a cycle or
//! a table references itself: then the target session turns `foreign_key_checks` off, as
//! `mysqldump` does, since no order of rows satisfies them one at a time. Triggers of the target
//! fire as rows go in. Source tables that are not transactional (MyISAM) are read as they are,
//! outside the snapshot.

use crate::config::{ColumnSchema, Config, Rule, Schema, TableSchema};
use crate::run::{
    another_run_refused, check_target_columns, check_target_empty, copy_tables, dependency_order,
    relay, Catalog, DbError, Progress, Side, Summary,
};
use crate::transform::{TransformError, Transformer};
use mysql::consts::ColumnType;
use mysql::prelude::Queryable;
use mysql::{Conn, Opts, Params, TxOpts, Value};
use std::collections::{BTreeMap, BTreeSet};

/// How a run treats the databases (the database is the one each URL names).
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Empty the target's tables first (`DELETE`s in the run's transaction) instead of refusing
    /// to write into tables that hold rows.
    pub truncate: bool,
}

/// The most rows one `INSERT` writes.
pub const MAX_BATCH_ROWS: usize = 1000;

/// An `INSERT` is sent once its values add up to this many bytes, whatever its rows.
pub const BATCH_BYTES: usize = 4 << 20;

/// Placeholders one prepared statement may hold.
const MAX_PLACEHOLDERS: usize = 65_535;

/// Batches transformed ahead of the target.
const BATCHES_IN_FLIGHT: usize = 4;

/// Both sessions: text in UTF-8, times in UTC, and a strict `sql_mode` that keeps a copied 0 in
/// an `AUTO_INCREMENT` column (and leaves out the modes that change what a value means, such as
/// `PAD_CHAR_TO_FULL_LENGTH` or `EMPTY_STRING_IS_NULL`).
const SESSION: &str = "SET NAMES utf8mb4, time_zone = '+00:00', \
     sql_mode = 'STRICT_ALL_TABLES,NO_AUTO_VALUE_ON_ZERO,NO_ENGINE_SUBSTITUTION'";

/// Storage engines whose tables roll back.
const TRANSACTIONAL: [&str; 5] = ["innodb", "rocksdb", "tokudb", "ndbcluster", "ndb"];

/// Opens a connection to `url` (`mysql://user:password@host:port/database`; `mariadb://` is
/// taken as `mysql://`), which must name a database, and sets up the session.
pub fn connect(url: &str, side: Side) -> Result<Conn, DbError> {
    let url = match url.strip_prefix("mariadb://") {
        Some(rest) => format!("mysql://{rest}"),
        None => url.to_owned(),
    };
    let opts = Opts::from_url(&url)
        .map_err(|e| DbError::Refused(format!("the {side} URL cannot be used: {e}")))?;
    if opts.get_db_name().is_none_or(str::is_empty) {
        return Err(DbError::Refused(format!(
            "the {side} URL names no database (mysql://user@host:port/DATABASE)"
        )));
    }
    let mut conn = Conn::new(opts).map_err(|e| database_error(side, None, &e))?;
    conn.query_drop(SESSION)
        .map_err(|e| database_error(side, None, &e))?;
    Ok(conn)
}

/// MariaDB's JSON columns, as `(table, "json_valid(`column`)")`: MariaDB reports them as
/// `longtext` with that column check (MySQL reports `json`, so nothing is needed there).
fn mariadb_json_columns(conn: &mut Conn) -> Result<BTreeSet<(String, String)>, mysql::Error> {
    let version: Option<String> = conn.query_first("SELECT VERSION()")?;
    if !version.is_some_and(|v| v.contains("MariaDB")) {
        return Ok(BTreeSet::new());
    }
    let rows: Vec<(String, String)> = conn.query(
        "SELECT TABLE_NAME, CHECK_CLAUSE FROM information_schema.CHECK_CONSTRAINTS
         WHERE CONSTRAINT_SCHEMA = DATABASE() AND LEVEL = 'Column'",
    )?;
    Ok(rows.into_iter().collect())
}

/// The base tables of the connection's database (not views; generated columns left out) with
/// their columns in order: `COLUMN_TYPE`, NOT NULL, `unique` (a unique index or primary key on
/// the column alone) and `references` (a foreign key to a table of the same database), in
/// dependency order.
pub fn schema(conn: &mut Conn) -> Result<Schema, DbError> {
    let err = |e: mysql::Error| database_error(Side::Source, None, &e);
    let mut catalog = Catalog::default();
    let columns: Vec<(String, String, String, String)> = conn
        .query(
            "SELECT c.TABLE_NAME, c.COLUMN_NAME, c.COLUMN_TYPE, c.IS_NULLABLE
             FROM information_schema.COLUMNS c
             JOIN information_schema.TABLES t
               ON t.TABLE_SCHEMA = c.TABLE_SCHEMA AND t.TABLE_NAME = c.TABLE_NAME
             WHERE c.TABLE_SCHEMA = DATABASE() AND t.TABLE_TYPE = 'BASE TABLE'
               AND COALESCE(c.GENERATION_EXPRESSION, '') = ''
             ORDER BY c.TABLE_NAME, c.ORDINAL_POSITION",
        )
        .map_err(err)?;
    let json = mariadb_json_columns(conn).map_err(err)?;
    for (table, name, type_name, nullable) in columns {
        let not_null = nullable == "NO";
        // MariaDB's JSON is LONGTEXT with a `json_valid` check: the check must see JSON.
        let is_json = json.contains(&(
            table.clone(),
            format!("json_valid(`{}`)", name.replace('`', "``")),
        ));
        let type_name = Some(if is_json {
            "json".to_owned()
        } else {
            type_name
        });
        catalog.column(
            table,
            ColumnSchema {
                name,
                type_name,
                not_null,
                ..ColumnSchema::default()
            },
        );
    }
    let unique: Vec<(String, String)> = conn
        .query(
            "SELECT TABLE_NAME, MIN(COLUMN_NAME)
             FROM information_schema.STATISTICS
             WHERE TABLE_SCHEMA = DATABASE() AND NON_UNIQUE = 0
             GROUP BY TABLE_NAME, INDEX_NAME
             HAVING COUNT(*) = 1",
        )
        .map_err(err)?;
    for (table, name) in unique {
        catalog.unique(&table, &name);
    }
    let references: Vec<(String, String, String, String)> = conn
        .query(
            "SELECT TABLE_NAME, COLUMN_NAME, REFERENCED_TABLE_NAME, REFERENCED_COLUMN_NAME
             FROM information_schema.KEY_COLUMN_USAGE
             WHERE TABLE_SCHEMA = DATABASE() AND REFERENCED_TABLE_SCHEMA = DATABASE()
               AND REFERENCED_TABLE_NAME IS NOT NULL",
        )
        .map_err(err)?;
    for (table, name, parent, parent_column) in references {
        catalog.references(&table, &name, &parent, &parent_column);
    }
    Ok(catalog.schema())
}

/// Up to `limit` rows of `table` as text (NULL as an empty string, binary as lossy UTF-8), for
/// `plan`.
pub fn sample(
    conn: &mut Conn,
    table: &TableSchema,
    limit: usize,
) -> Result<Vec<Vec<String>>, DbError> {
    let columns: Vec<String> = table.columns.iter().map(|c| c.name.clone()).collect();
    let sql = format!("{} LIMIT {limit}", select(&table.name, &quoted(&columns)));
    let mut rows = Vec::new();
    scan_sql(conn, &table.name, &sql, columns.len(), &mut |values| {
        rows.push(
            values
                .iter()
                .map(|v| v.clone().unwrap_or_default())
                .collect(),
        );
    })?;
    Ok(rows)
}

/// Calls `each` with the values (NULL as `None`, binary as lossy UTF-8) of `columns` of every
/// row of `table`, streamed (for the k-anonymity report of an anonymised copy). Returns the rows
/// seen.
pub fn scan(
    conn: &mut Conn,
    table: &str,
    columns: &[String],
    each: &mut dyn FnMut(&[Option<String>]),
) -> Result<u64, DbError> {
    scan_sql(
        conn,
        table,
        &select(table, &quoted(columns)),
        columns.len(),
        each,
    )
}

fn scan_sql(
    conn: &mut Conn,
    table: &str,
    sql: &str,
    width: usize,
    each: &mut dyn FnMut(&[Option<String>]),
) -> Result<u64, DbError> {
    let err = |e: mysql::Error| database_error(Side::Source, Some(table), &e);
    let mut values: Vec<Option<String>> = Vec::with_capacity(width);
    let mut rows = 0;
    for row in conn.query_iter(sql).map_err(err)? {
        let row = row.map_err(err)?;
        rows += 1;
        values.clear();
        values.extend(row.unwrap().into_iter().take(width).map(text_of));
        each(&values);
    }
    Ok(rows)
}

/// Anonymises the tables of the source database into the target's: checks the config against
/// the source's [`schema`] (failing closed), checks the target has every table and column, that
/// its tables are transactional and hold no rows (or empties them, with
/// [`Options::truncate`]), then copies table after table in dependency order in one target
/// transaction, committed only when every row of every table went through. The source is read
/// in one consistent snapshot. Progress is reported per table ([`crate::run::Unit::Rows`], the
/// total from the server's estimate); one [`Summary`] per table comes back, in the order copied.
pub fn anonymise(
    config: &Config,
    transformer: &Transformer,
    source_url: &str,
    target_url: &str,
    options: &Options,
    progress: &mut dyn FnMut(&Progress),
) -> Result<Vec<Summary>, DbError> {
    let mut source = connect(source_url, Side::Source)?;
    let src_err = |e: mysql::Error| database_error(Side::Source, None, &e);
    source
        .query_drop("SET SESSION net_write_timeout = 600")
        .map_err(src_err)?;
    source
        .query_drop("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        .map_err(src_err)?;
    source
        .query_drop("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
        .map_err(src_err)?;
    let schema_ = schema(&mut source)?;
    let plan = config.check(&schema_)?;
    let (tables, cyclic) = dependency_order(schema_.tables, &config.virtual_keys);
    let estimates: BTreeMap<String, Option<u64>> = source
        .query(
            "SELECT TABLE_NAME, TABLE_ROWS FROM information_schema.TABLES
             WHERE TABLE_SCHEMA = DATABASE()",
        )
        .map_err(src_err)?
        .into_iter()
        .collect();

    let mut target = connect(target_url, Side::Target)?;
    let tgt_err = |e: mysql::Error| database_error(Side::Target, None, &e);
    refuse_the_same_database(&mut source, &mut target)?;
    claim_target(&mut target)?;
    let self_referencing = tables.iter().any(|t| {
        t.columns.iter().any(|c| {
            c.references
                .as_deref()
                .and_then(|r| r.split_once('.'))
                .is_some_and(|(parent, _)| parent == t.name)
        })
    });
    if !cyclic.is_empty() || self_referencing {
        // No order of rows satisfies these foreign keys one row at a time, and MySQL cannot
        // defer them to the commit: the source held them, and the copy keeps joins.
        target
            .query_drop("SET SESSION foreign_key_checks = 0")
            .map_err(tgt_err)?;
    }
    let mut tx = target
        .start_transaction(TxOpts::default())
        .map_err(tgt_err)?;
    prepare_target(&mut tx, &tables, options.truncate)?;
    crate::run::hold_after_target_check();

    let summaries = copy_tables(&plan, &tables, |table, rules| {
        let estimate = estimates.get(&table.name).copied().flatten().unwrap_or(0);
        copy_table(
            &mut source,
            &mut tx,
            table,
            rules,
            transformer,
            estimate,
            progress,
        )
    })?;
    tx.commit().map_err(tgt_err)?;
    // The source transaction only read; closing the connection ends it.
    Ok(summaries)
}

/// Refuses a target that is the source itself (the same server and database), which `truncate`
/// would empty and overwrite with the copy. The server is recognised by the source session's
/// own connection (its id and client address) showing in the target's process list, on a server
/// of the same host name and port.
fn refuse_the_same_database(source: &mut Conn, target: &mut Conn) -> Result<(), DbError> {
    let (id, host, database, hostname, port): (u64, String, String, String, u64) = source
        .query_first(
            "SELECT ID, HOST, DATABASE(), @@hostname, @@port FROM information_schema.PROCESSLIST
             WHERE ID = CONNECTION_ID()",
        )
        .map_err(|e| database_error(Side::Source, None, &e))?
        .unwrap_or_default();
    let same: Option<u64> = target
        .exec_first(
            "SELECT COUNT(*) FROM information_schema.PROCESSLIST
             WHERE ID = ? AND HOST = ? AND DATABASE() = ? AND @@hostname = ? AND @@port = ?",
            (id, host, database, hostname, port),
        )
        .map_err(|e| database_error(Side::Target, None, &e))?;
    if same.unwrap_or(0) > 0 {
        return Err(DbError::Refused(
            "the source and the target are the same database".to_owned(),
        ));
    }
    Ok(())
}

/// Holds the target database for this run's session, so that what the run checks of it (no
/// rows) stays true until the commit: a named lock of the server, taken at once or not at all
/// (another run holds it: waiting would only end in finding its rows, or, with `truncate`, in
/// replacing its copy with a second one). Not `LOCK TABLES`, which ends the transaction, and not
/// locking reads, which do not lock an empty table against inserts in every isolation level and
/// server. It is taken before the run's transaction, so the rows the transaction sees are those
/// of any run that held it before (which commits before closing its session), and it is
/// released when the session closes, whatever the run's end.
fn claim_target(target: &mut Conn) -> Result<(), DbError> {
    // Lock names are at most 64 characters; a database name may be 64 on its own.
    let taken: Option<Option<u8>> = target
        .query_first("SELECT GET_LOCK(CONCAT('anonymise run into ', MD5(DATABASE())), 0)")
        .map_err(|e| database_error(Side::Target, None, &e))?;
    match taken.flatten() {
        Some(1) => Ok(()),
        _ => Err(another_run_refused()),
    }
}

/// Checks the target has every table and column the copy writes, that those tables can roll
/// back, and that they hold no rows (or deletes their rows, children first).
fn prepare_target(
    tx: &mut mysql::Transaction<'_>,
    tables: &[TableSchema],
    truncate: bool,
) -> Result<(), DbError> {
    let err = |e: mysql::Error| database_error(Side::Target, None, &e);
    let found: Vec<(String, String)> = tx
        .query(
            "SELECT c.TABLE_NAME, c.COLUMN_NAME
             FROM information_schema.COLUMNS c
             JOIN information_schema.TABLES t
               ON t.TABLE_SCHEMA = c.TABLE_SCHEMA AND t.TABLE_NAME = c.TABLE_NAME
             WHERE c.TABLE_SCHEMA = DATABASE() AND t.TABLE_TYPE = 'BASE TABLE'
               AND COALESCE(c.GENERATION_EXPRESSION, '') = ''",
        )
        .map_err(err)?;
    check_target_columns(tables, found)?;
    let engines: BTreeMap<String, Option<String>> = tx
        .query(
            "SELECT TABLE_NAME, ENGINE FROM information_schema.TABLES
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE'",
        )
        .map_err(err)?
        .into_iter()
        .collect();
    let fixed: Vec<String> = tables
        .iter()
        .filter_map(|t| {
            let engine = engines.get(&t.name).cloned().flatten().unwrap_or_default();
            (!TRANSACTIONAL.contains(&engine.to_ascii_lowercase().as_str()))
                .then(|| format!("{} ({engine})", t.name))
        })
        .collect();
    if !fixed.is_empty() {
        return Err(DbError::Refused(format!(
            "the target's tables {} cannot roll back, so a failed run would leave rows in them: convert them to InnoDB (ALTER TABLE .. ENGINE = InnoDB)",
            fixed.join(", ")
        )));
    }
    if truncate {
        for table in tables.iter().rev() {
            tx.query_drop(format!("DELETE FROM {}", quote(&table.name)))
                .map_err(|e| database_error(Side::Target, Some(&table.name), &e))?;
        }
        return Ok(());
    }
    let mut occupied = Vec::new();
    for table in tables {
        let holds: Option<u8> = tx
            .query_first(format!(
                "SELECT EXISTS (SELECT 1 FROM {})",
                quote(&table.name)
            ))
            .map_err(|e| database_error(Side::Target, Some(&table.name), &e))?;
        if holds == Some(1) {
            occupied.push(table.name.clone());
        }
    }
    check_target_empty(&occupied)
}

/// One batch of rows for an `INSERT`: their values, row after row.
struct Batch {
    values: Vec<Value>,
    rows: usize,
}

/// Streams one table from `source` into `target` through `rules`.
fn copy_table(
    source: &mut Conn,
    target: &mut mysql::Transaction<'_>,
    table: &TableSchema,
    rules: &[Rule],
    transformer: &Transformer,
    estimate: u64,
    progress: &mut dyn FnMut(&Progress),
) -> Result<u64, DbError> {
    let name = table.name.as_str();
    let columns: Vec<String> = table.columns.iter().map(|c| c.name.clone()).collect();
    let width = columns.len();
    let batch_rows = MAX_BATCH_ROWS.min(MAX_PLACEHOLDERS / width.max(1)).max(1);
    let tgt_err = |e: mysql::Error| database_error(Side::Target, Some(name), &e);
    let full = target
        .prep(insert(name, &columns, batch_rows))
        .map_err(tgt_err)?;
    let report = |rows: u64, done: bool| Progress::rows(name, rows, estimate, done);
    let select = select(name, &table.columns.iter().map(read).collect::<Vec<_>>());
    // Read and transformed on another thread, handed over in batches, written on this one.
    let rows = relay(
        BATCHES_IN_FLIGHT,
        move |batches| {
            let src_err = |e: mysql::Error| database_error(Side::Source, Some(name), &e);
            let mut result = source.query_iter(select).map_err(src_err)?;
            let binary: Vec<bool> = result.columns().as_ref().iter().map(is_binary).collect();
            let mut batch = Vec::with_capacity(batch_rows * width);
            let (mut in_batch, mut bytes, mut rows) = (0usize, 0usize, 0u64);
            let outcome = loop {
                let row = match result.next() {
                    None => break Ok(()),
                    Some(Err(e)) => break Err(src_err(e)),
                    Some(Ok(row)) => row,
                };
                rows += 1;
                let values = row.unwrap().into_iter().take(width);
                for (i, (value, rule)) in values.zip(rules).enumerate() {
                    let value = match transform(value, rule, binary[i], transformer) {
                        Ok(value) => value,
                        Err(source) => {
                            return finish_early(
                                result,
                                Err(DbError::Transform {
                                    table: name.to_owned(),
                                    row: rows,
                                    column: table.columns[i].name.clone(),
                                    source: Box::new(source),
                                }),
                            )
                        }
                    };
                    bytes += match &value {
                        Value::Bytes(b) => b.len(),
                        _ => 8,
                    };
                    batch.push(value);
                }
                in_batch += 1;
                if in_batch == batch_rows || bytes >= BATCH_BYTES {
                    let values =
                        std::mem::replace(&mut batch, Vec::with_capacity(batch_rows * width));
                    let sent = batches.send((
                        Batch {
                            values,
                            rows: in_batch,
                        },
                        rows,
                    ));
                    if sent.is_err() {
                        // The writer stopped; its error is the one reported.
                        return finish_early(result, Ok(rows));
                    }
                    (in_batch, bytes) = (0, 0);
                }
            };
            outcome?;
            if in_batch > 0 {
                let _ = batches.send((
                    Batch {
                        values: batch,
                        rows: in_batch,
                    },
                    rows,
                ));
            }
            Ok(rows)
        },
        |batch: Batch| {
            let params = if batch.values.is_empty() {
                Params::Empty
            } else {
                Params::Positional(batch.values)
            };
            if batch.rows == batch_rows {
                target.exec_drop(&full, params)
            } else {
                target.exec_drop(insert(name, &columns, batch.rows), params)
            }
            .map_err(tgt_err)
        },
        &mut |rows| progress(&report(rows, false)),
    )?;
    progress(&report(rows, true));
    Ok(rows)
}

/// Ends a read that stops before its last row: the rest of the result is left unread (dropping
/// it would read every remaining row off the socket first); the connection is not used again.
fn finish_early<T>(result: mysql::QueryResult<'_, '_, '_, mysql::Text>, outcome: T) -> T {
    std::mem::forget(result);
    outcome
}

/// One value through its column's rule: `keep` passes it as it is; other rules take its text.
fn transform(
    value: Value,
    rule: &Rule,
    binary: bool,
    transformer: &Transformer,
) -> Result<Value, TransformError> {
    match (rule, value) {
        (Rule::Keep, value) => Ok(value),
        (Rule::Null, _) | (_, Value::NULL) => Ok(Value::NULL),
        (rule, Value::Bytes(bytes)) => {
            let text = match std::str::from_utf8(&bytes) {
                Ok(text) if !binary => text,
                _ => return Err(TransformError::NotText { bytes: bytes.len() }),
            };
            Ok(match transformer.apply(rule, Some(text))? {
                Some(text) => Value::Bytes(text.into_bytes()),
                None => Value::NULL,
            })
        }
        (rule, other) => Ok(match transformer.apply(rule, text_of(other).as_deref())? {
            Some(text) => Value::Bytes(text.into_bytes()),
            None => Value::NULL,
        }),
    }
}

/// Whether a result column holds bytes rather than text: the binary character set on a string
/// type, or a `BIT` or geometry column.
fn is_binary(column: &mysql::Column) -> bool {
    const BINARY_CHARSET: u16 = 63;
    match column.column_type() {
        ColumnType::MYSQL_TYPE_BIT | ColumnType::MYSQL_TYPE_GEOMETRY => true,
        ColumnType::MYSQL_TYPE_TINY_BLOB
        | ColumnType::MYSQL_TYPE_MEDIUM_BLOB
        | ColumnType::MYSQL_TYPE_LONG_BLOB
        | ColumnType::MYSQL_TYPE_BLOB
        | ColumnType::MYSQL_TYPE_VAR_STRING
        | ColumnType::MYSQL_TYPE_STRING
        | ColumnType::MYSQL_TYPE_VARCHAR => column.character_set() == BINARY_CHARSET,
        _ => false,
    }
}

/// A value as text (`None` for NULL; bytes that are not UTF-8 made lossy). The text protocol
/// sends only bytes and NULL; the other kinds are written as the server would write them.
fn text_of(value: Value) -> Option<String> {
    Some(match value {
        Value::NULL => return None,
        Value::Bytes(bytes) => match String::from_utf8(bytes) {
            Ok(text) => text,
            Err(e) => String::from_utf8_lossy(e.as_bytes()).into_owned(),
        },
        Value::Int(i) => i.to_string(),
        Value::UInt(u) => u.to_string(),
        Value::Float(f) => f.to_string(),
        Value::Double(d) => d.to_string(),
        Value::Date(y, mo, d, h, mi, s, us) => {
            format!("{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}.{us:06}")
        }
        Value::Time(negative, days, h, mi, s, us) => format!(
            "{}{:02}:{mi:02}:{s:02}.{us:06}",
            if negative { "-" } else { "" },
            days * 24 + u32::from(h)
        ),
    })
}

/// `SELECT` of `expressions` from `table` (`SELECT 1` when there are none).
fn select(table: &str, expressions: &[String]) -> String {
    let list = if expressions.is_empty() {
        "1".to_owned()
    } else {
        expressions.join(", ")
    };
    format!("SELECT {list} FROM {}", quote(table))
}

fn quoted(columns: &[String]) -> Vec<String> {
    columns.iter().map(|c| quote(c)).collect()
}

/// What a copy reads of `column`: the column, or for a `FLOAT` its exact value as a `DOUBLE`
/// (the server writes a `FLOAT` as text with 6 digits, which would not give it back; the
/// double's text does, and the target rounds it back to the same `FLOAT`).
fn read(column: &ColumnSchema) -> String {
    let float = column
        .type_name
        .as_deref()
        .is_some_and(|t| t.to_ascii_lowercase().starts_with("float"));
    if float {
        format!("{} * 1e0", quote(&column.name))
    } else {
        quote(&column.name)
    }
}

/// A multi-row `INSERT` of `rows` rows of `columns` into `table`, with placeholders.
fn insert(table: &str, columns: &[String], rows: usize) -> String {
    let list: Vec<String> = columns.iter().map(|c| quote(c)).collect();
    let row = format!("({})", vec!["?"; columns.len()].join(", "));
    let mut sql = format!("INSERT INTO {} ({}) VALUES ", quote(table), list.join(", "));
    sql.reserve((row.len() + 2) * rows);
    for i in 0..rows {
        if i > 0 {
            sql.push_str(", ");
        }
        sql.push_str(&row);
    }
    sql
}

/// `name` as a quoted identifier.
pub fn quote(name: &str) -> String {
    format!("`{}`", name.replace('`', "``"))
}

/// A database error without anything that could hold a value (see [`server_message`]).
pub fn database_error(side: Side, table: Option<&str>, error: &mysql::Error) -> DbError {
    let message = match error {
        mysql::Error::MySqlError(e) => server_message(e.code, &e.state, &e.message),
        // The driver's and the socket's own words, not their Debug form.
        mysql::Error::DriverError(e) => e.to_string(),
        mysql::Error::IoError(e) => e.to_string(),
        other => other.to_string(),
    };
    DbError::Database {
        side,
        table: table.map(str::to_owned),
        message,
    }
}

/// The server's error without a value: its code and message, except for messages that can
/// quote one. A duplicate key (`Duplicate entry 'x' for key 'k'`) keeps only the key's name; a
/// value refused (incorrect, truncated or out-of-range values, invalid character strings,
/// SQLSTATE classes 22 (data) and 45 (a trigger's `SIGNAL`, whose text is anyone's)) keeps
/// only the column's name, where the message gives one.
pub fn server_message(code: u16, state: &str, message: &str) -> String {
    // ER_DUP_ENTRY, ER_DUP_ENTRY_WITH_KEY_NAME, ER_DUP_UNKNOWN_IN_INDEX.
    const DUPLICATE: [u16; 3] = [1062, 1586, 1859];
    // Messages that quote the value: ER_WARN_DATA_OUT_OF_RANGE, WARN_DATA_TRUNCATED,
    // ER_TRUNCATED_WRONG_VALUE, ER_INVALID_CHARACTER_STRING, ER_TRUNCATED_WRONG_VALUE_FOR_FIELD,
    // ER_ILLEGAL_VALUE_FOR_TYPE, ER_DATA_TOO_LONG, ER_WRONG_VALUE_FOR_TYPE, ER_WRONG_VALUE,
    // ER_SIGNAL_WARN, ER_SIGNAL_NOT_FOUND, ER_SIGNAL_EXCEPTION, ER_DATA_OUT_OF_RANGE,
    // ER_INVALID_JSON_TEXT (MySQL).
    const QUOTES_A_VALUE: [u16; 14] = [
        1264, 1265, 1292, 1300, 1366, 1367, 1406, 1411, 1525, 1642, 1643, 1644, 1690, 3140,
    ];
    if DUPLICATE.contains(&code) {
        let key = message
            .rfind(" for key '")
            .map(|at| &message[at + " for key '".len()..])
            .and_then(|rest| rest.strip_suffix('\''))
            .filter(|key| !key.contains('\''));
        return match key {
            Some(key) => format!("a duplicate value in a unique key (error {code}), key `{key}`"),
            None => format!("a duplicate value in a unique key (error {code})"),
        };
    }
    if QUOTES_A_VALUE.contains(&code)
        || state.starts_with("22")
        || state.starts_with("45")
        || message.contains("value: '")
        || message.contains("entry '")
    {
        let mut refused = format!("a value was refused (error {code}, SQLSTATE {state})");
        if let Some(column) = column_of(message) {
            refused.push_str(&format!(", column `{column}`"));
        }
        return refused;
    }
    format!("{message} (error {code}, SQLSTATE {state})")
}

/// The column a data error names: `for column 'c'` or `for column `db`.`t`.`c``.
fn column_of(message: &str) -> Option<&str> {
    let rest = &message[message.rfind("for column ")? + "for column ".len()..];
    let column = if let Some(quoted) = rest.strip_prefix('\'') {
        &quoted[..quoted.find('\'')?]
    } else {
        // `db`.`t`.`c`: the last backquoted name before the end of the name list.
        let end = rest.find(|c: char| c.is_whitespace()).unwrap_or(rest.len());
        rest[..end].rsplit('.').next()?.trim_matches('`')
    };
    (!column.is_empty() && !column.contains(['\'', '`'])).then_some(column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_messages_that_quote_a_value_keep_only_the_key_or_column() {
        let dup = server_message(
            1062,
            "23000",
            "Duplicate entry 'alice@example.com' for key 'email'",
        );
        assert_eq!(
            dup,
            "a duplicate value in a unique key (error 1062), key `email`"
        );
        let dup = server_message(
            1062,
            "23000",
            "Duplicate entry 'x' for key 'y' for key 'users.email'",
        );
        assert!(
            dup.ends_with("key `users.email`") && !dup.contains("'x'"),
            "{dup}"
        );
        let wrong = server_message(
            1366,
            "22007",
            "Incorrect integer value: 'Alice Smith' for column `db`.`users`.`age` at row 1",
        );
        assert_eq!(
            wrong,
            "a value was refused (error 1366, SQLSTATE 22007), column `age`"
        );
        let long = server_message(1406, "22001", "Data too long for column 'name' at row 3");
        assert_eq!(
            long,
            "a value was refused (error 1406, SQLSTATE 22001), column `name`"
        );
        let truncated = server_message(1292, "22007", "Truncated incorrect DOUBLE value: 'Bob'");
        assert!(!truncated.contains("Bob"), "{truncated}");
        let signal = server_message(1644, "45000", "no Alice here");
        assert!(!signal.contains("Alice"), "{signal}");
        let fk = server_message(
            1452,
            "23000",
            "Cannot add or update a child row: a foreign key constraint fails",
        );
        assert!(fk.starts_with("Cannot add or update a child row"), "{fk}");
    }

    #[test]
    fn kept_values_pass_untouched_nulls_stay_null_and_binary_is_refused() {
        let t = Transformer::new(b"0123456789abcdef0123456789abcdef").unwrap();
        let blob = Value::Bytes(vec![0xff, 0x00, 0x41]);
        assert_eq!(
            transform(blob.clone(), &Rule::Keep, true, &t).unwrap(),
            blob
        );
        assert_eq!(
            transform(blob.clone(), &Rule::Null, true, &t).unwrap(),
            Value::NULL
        );
        assert_eq!(
            transform(blob.clone(), &Rule::Pseudonym, false, &t).unwrap_err(),
            TransformError::NotText { bytes: 3 }
        );
        let utf8_but_binary = Value::Bytes(b"alice@example.com".to_vec());
        assert_eq!(
            transform(utf8_but_binary, &Rule::Pseudonym, true, &t).unwrap_err(),
            TransformError::NotText { bytes: 17 }
        );
        assert_eq!(
            transform(
                Value::Bytes(b"alice@example.com".to_vec()),
                &Rule::Pseudonym,
                false,
                &t
            )
            .unwrap(),
            Value::Bytes(b"o3prswyu57qbfdzez7uwmpdgty".to_vec())
        );
        assert_eq!(
            transform(Value::NULL, &Rule::Pseudonym, false, &t).unwrap(),
            Value::NULL
        );
    }

    #[test]
    fn statements_quote_names_and_hold_one_placeholder_a_value() {
        let columns = ["id".to_owned(), "we`ird".to_owned()];
        let float = ColumnSchema {
            name: "f".into(),
            type_name: Some("float unsigned".into()),
            ..ColumnSchema::default()
        };
        assert_eq!(read(&float), "`f` * 1e0");
        assert_eq!(
            insert("t", &columns, 2),
            "INSERT INTO `t` (`id`, `we``ird`) VALUES (?, ?), (?, ?)"
        );
        assert_eq!(insert("t", &[], 2), "INSERT INTO `t` () VALUES (), ()");
        assert_eq!(select("t", &[]), "SELECT 1 FROM `t`");
    }
}
