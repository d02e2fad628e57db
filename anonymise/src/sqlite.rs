//! SQLite to SQLite: the source is read (never written), the anonymised copy is a new file.
//!
//! The copy is one connection to the new file (`<target>.partial`) with the source attached
//! read-only. The source's tables are created in it from their own `CREATE TABLE` text, then
//! each table goes through one `INSERT OR ABORT INTO main."t" (..) SELECT .. FROM source."t"`
//! per chunk of rows (`OR ABORT` overrides a conflict clause of the table, such as `ON CONFLICT
//! REPLACE`, that would drop rows; the rows written are counted against the rows read), in
//! which a `keep` column is the source column itself (storage class and bytes kept), a `null`
//! column is `NULL`, and every other column is `anonymise_value(slot, "c")`: a Rust
//! function registered on the connection that applies the column's rule. SQLite streams the
//! rows, so memory stays constant whatever the table's size. Indexes, views and triggers are
//! created after the rows are in (triggers never fire on the copy). The whole load is one
//! transaction with foreign keys off, checked at the end instead (`PRAGMA foreign_key_check`,
//! which also covers cycles: a table of the copy may not have more violations than the same
//! table of the source, which SQLite lets hold dangling references unless told otherwise), and
//! only then is the file closed, synced and renamed to `target`. On any error the partial file
//! is removed: there is no output at all.
//!
//! Not copied: `sqlite_stat*` (ANALYZE statistics; `sqlite_stat4` holds samples of index keys,
//! that is original values). `sqlite_sequence` (AUTOINCREMENT counters) is. Virtual tables (full
//! text indexes and the like) are refused: their shadow tables hold the original text.

use crate::config::{ColumnSchema, Config, Rule, Schema, TableSchema};
use crate::run::{copy_tables, dependency_order, DbError, Progress, Side, Summary};
use crate::transform::{TransformError, Transformer};
use diesel::connection::{Connection, DefaultLoadingMode, SimpleConnection};
use diesel::deserialize::{self, FromSql, FromSqlRow, QueryableByName};
use diesel::row::{Field, NamedRow};
use diesel::serialize::{self, IsNull, Output, ToSql};
use diesel::sql_types::{BigInt, Nullable, Text};
use diesel::sqlite::{Sqlite, SqliteConnection, SqliteType, SqliteValue};
use diesel::RunQueryDsl;
use std::collections::BTreeMap;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// Rows per `INSERT .. SELECT` of a rowid table, between two progress reports.
const CHUNK: i64 = 16_384;

/// The schema name the source is attached under.
const SOURCE: &str = "source";

/// The schema of the SQLite database at `path`: every table (not `sqlite_%` internal ones, not
/// views, not virtual tables nor their shadow tables), its columns in order (generated columns
/// left out: they are computed again in a copy) with their declared type (maybe empty), `NOT
/// NULL`, `unique` (a unique index or constraint, or a single-column primary key, covering the
/// column alone) and `references` (`table.column`, the parent's primary key for a foreign key
/// that names no column). Tables come in dependency order.
pub fn schema(path: &Path) -> Result<Schema, DbError> {
    let mut conn = open_read_only(path)?;
    Ok(read_schema(&mut conn, "main")?.0)
}

/// Up to `limit` rows of `table` as text (NULL as an empty string, a blob as lossy UTF-8), in
/// the order of [`schema`]'s columns, for `plan`.
pub fn sample(path: &Path, table: &str, limit: usize) -> Result<Vec<Vec<String>>, DbError> {
    let mut conn = open_read_only(path)?;
    let columns = insertable_columns(&mut conn, "main", table)?;
    if columns.is_empty() {
        return Err(DbError::Refused(format!(
            "{}: no table `{table}`",
            path.display()
        )));
    }
    let sql = format!(
        "SELECT {} FROM main.{} LIMIT {}",
        column_list(&columns),
        quote(table),
        i64::try_from(limit).unwrap_or(i64::MAX)
    );
    let rows = diesel::sql_query(sql)
        .load::<TextRow>(&mut conn)
        .map_err(db_error(Side::Source, Some(table)))?;
    Ok(rows
        .into_iter()
        .map(|row| row.0.into_iter().map(Option::unwrap_or_default).collect())
        .collect())
}

/// Calls `each` with the values (NULL as `None`, numbers as SQLite writes them, a blob as lossy
/// UTF-8) of `columns` of every row of `table`, streaming; returns how many rows there were.
pub fn scan(
    path: &Path,
    table: &str,
    columns: &[String],
    each: &mut dyn FnMut(&[Option<String>]),
) -> Result<u64, DbError> {
    let mut conn = open_read_only(path)?;
    let sql = if columns.is_empty() {
        format!("SELECT 1 FROM main.{}", quote(table))
    } else {
        format!("SELECT {} FROM main.{}", column_list(columns), quote(table))
    };
    let rows = diesel::sql_query(sql)
        .load_iter::<TextRow, DefaultLoadingMode>(&mut conn)
        .map_err(db_error(Side::Source, Some(table)))?;
    let mut count = 0;
    for row in rows {
        let row = row.map_err(db_error(Side::Source, Some(table)))?;
        count += 1;
        each(if columns.is_empty() { &[] } else { &row.0 });
    }
    Ok(count)
}

/// Anonymises the SQLite database `source` into a new file `target`, failing closed: the
/// config is checked against the source's [`schema`] first; `target` must not exist; the copy
/// is written to `<target>.partial` and renamed to `target` only when every table went through,
/// the foreign keys check out and the file is closed and synced. On any error nothing is left
/// at either path. Progress is reported per chunk of rows ([`crate::run::Unit::Rows`], the
/// total from a `COUNT(*)`); one [`Summary`] per table comes back, in the order copied.
pub fn anonymise(
    config: &Config,
    transformer: &Transformer,
    source: &Path,
    target: &Path,
    progress: &mut dyn FnMut(&Progress),
) -> Result<Vec<Summary>, DbError> {
    let schema = schema(source)?;
    let plan = config.check(&schema)?;
    if target.symlink_metadata().is_ok() {
        return Err(DbError::Refused(format!(
            "{} already exists (the anonymised copy is always a new file; remove it or choose another path)",
            target.display()
        )));
    }
    let partial = partial_path(target);
    // Claimed, not just opened: a partial file that exists belongs to another run (or to one
    // that crashed), and is neither used nor removed.
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&partial)
        .map_err(|e| {
            DbError::Refused(if e.kind() == io::ErrorKind::AlreadyExists {
                format!(
                    "{} exists: another run is writing it, or one was interrupted (remove it if none is running)",
                    partial.display()
                )
            } else {
                format!("cannot create {}: {e}", partial.display())
            })
        })?;
    let result =
        copy(&schema, &plan, transformer, source, &partial, progress).and_then(|summaries| {
            finish(&partial, target)?;
            Ok(summaries)
        });
    if result.is_err() {
        let _ = fs::remove_file(&partial);
        for suffix in ["-journal", "-wal", "-shm"] {
            let mut name = partial.as_os_str().to_owned();
            name.push(suffix);
            let _ = fs::remove_file(PathBuf::from(name));
        }
    }
    result
}

/// `<target>.partial`.
fn partial_path(target: &Path) -> PathBuf {
    let mut name = target.as_os_str().to_owned();
    name.push(".partial");
    PathBuf::from(name)
}

/// Syncs the closed partial file and renames it to `target`.
fn finish(partial: &Path, target: &Path) -> Result<(), DbError> {
    let io_error = |what: &str, e: io::Error| DbError::Database {
        side: Side::Target,
        table: None,
        message: format!("{what}: {e}"),
    };
    File::open(partial)
        .and_then(|f| f.sync_all())
        .map_err(|e| io_error(&format!("cannot sync {}", partial.display()), e))?;
    if target.symlink_metadata().is_ok() {
        return Err(DbError::Refused(format!(
            "{} appeared during the run; it was left alone",
            target.display()
        )));
    }
    fs::rename(partial, target).map_err(|e| {
        io_error(
            &format!(
                "cannot rename {} to {}",
                partial.display(),
                target.display()
            ),
            e,
        )
    })?;
    if let Some(dir) = target.parent() {
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".")
        } else {
            dir
        };
        // Best effort: the rename is durable once the directory is (not possible everywhere).
        let _ = File::open(dir).and_then(|d| d.sync_all());
    }
    Ok(())
}

/// One transformed column of the run: which table and column, and its rule.
struct Slot {
    table: String,
    column: String,
    rule: Rule,
}

/// Why the registered function refused a value (the value itself is never kept).
enum Failure {
    Transform(TransformError),
    Blob { bytes: usize },
}

/// The first refusal of the run: the slot, the 1-based row of its table, and why.
type FirstFailure = Arc<Mutex<Option<(usize, u64, Failure)>>>;

diesel::define_sql_function! {
    /// Applies the rule of transformed column number `slot` to `value`.
    fn anonymise_value(slot: diesel::sql_types::Integer, value: Nullable<Text>) -> Nullable<Text>;
}

/// A value handed to the registered function: its text (SQLite's text of a number), or, for a
/// blob, only its length.
#[derive(Debug, FromSqlRow)]
enum Argument {
    Text(String),
    Blob(usize),
}

impl FromSql<Text, Sqlite> for Argument {
    fn from_sql(mut value: SqliteValue<'_, '_, '_>) -> deserialize::Result<Self> {
        Ok(if value.value_type() == Some(SqliteType::Binary) {
            Argument::Blob(value.read_blob().len())
        } else {
            Argument::Text(value.read_text().to_owned())
        })
    }
}

/// What the registered function returns: a value, NULL, or a refusal that stops the statement
/// (its message names nothing; the details are in the run's [`FirstFailure`]).
#[derive(Debug)]
struct Transformed(Result<Option<String>, &'static str>);

impl ToSql<Nullable<Text>, Sqlite> for Transformed {
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, Sqlite>) -> serialize::Result {
        match &self.0 {
            Ok(Some(value)) => {
                out.set_value(value.as_str());
                Ok(IsNull::No)
            }
            Ok(None) => Ok(IsNull::Yes),
            Err(message) => Err((*message).into()),
        }
    }
}

/// The copy into `partial` (an empty file this run created). The connection is closed when
/// this returns.
fn copy(
    schema: &Schema,
    plan: &crate::config::Plan,
    transformer: &Transformer,
    source: &Path,
    partial: &Path,
    progress: &mut dyn FnMut(&Progress),
) -> Result<Vec<Summary>, DbError> {
    let mut conn = SqliteConnection::establish(&uri(partial, false)?)
        .map_err(|e| DbError::Refused(format!("cannot open {}: {e}", partial.display())))?;
    // The new file takes the source's text encoding (ATTACH wants the same on both sides);
    // it can only be set before anything is written.
    let encoding = match text_encoding(source) {
        Some(2) => "UTF-16le",
        Some(3) => "UTF-16be",
        _ => "UTF-8",
    };
    conn.batch_execute(&format!(
        "PRAGMA encoding = '{encoding}';
         PRAGMA foreign_keys = OFF;
         PRAGMA main.journal_mode = OFF;
         PRAGMA main.synchronous = OFF;
         PRAGMA main.cache_size = -65536;"
    ))
    .map_err(db_error(Side::Target, None))?;
    diesel::sql_query(format!("ATTACH DATABASE ?1 AS {SOURCE}"))
        .bind::<Text, _>(uri(source, true)?)
        .execute(&mut conn)
        .map_err(|e| {
            DbError::Refused(format!("cannot open {}: {}", source.display(), message(&e)))
        })?;
    // Database settings that say nothing about anyone, copied before the first table.
    for pragma in ["page_size", "auto_vacuum", "user_version", "application_id"] {
        let value = single_integer(&mut conn, &format!("PRAGMA {SOURCE}.{pragma}"))
            .map_err(db_error(Side::Source, None))?;
        if let Some(value) = value {
            conn.batch_execute(&format!("PRAGMA main.{pragma} = {value}"))
                .map_err(db_error(Side::Target, None))?;
        }
    }
    conn.batch_execute("BEGIN")
        .map_err(db_error(Side::Target, None))?;
    // The snapshot read from here on is the one the config was checked against.
    let (seen, kinds) = read_schema(&mut conn, SOURCE)?;
    if let Some(table) = kinds.iter().find(|t| t.kind == "virtual") {
        return Err(DbError::Refused(format!(
            "table `{}` is a virtual table (a full-text index or similar, whose shadow tables hold the original text); it cannot be anonymised: drop it from a copy of the source, anonymise that, and rebuild it on the result",
            table.name
        )));
    }
    if seen != *schema {
        return Err(DbError::Refused(
            "the source's schema changed since it was read; run again".to_owned(),
        ));
    }
    // The schema objects, in the order they were created.
    let objects = diesel::sql_query(format!(
        "SELECT type, name, tbl_name, sql FROM {SOURCE}.sqlite_master
         WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY rowid"
    ))
    .load::<TextRow>(&mut conn)
    .map_err(db_error(Side::Source, None))?;
    let object = |row: &TextRow, i: usize| row.0[i].clone().unwrap_or_default();
    for row in &objects {
        if object(row, 0) == "table" && schema.tables.iter().any(|t| t.name == object(row, 1)) {
            conn.batch_execute(&object(row, 3))
                .map_err(db_error(Side::Target, Some(&object(row, 1))))?;
        }
    }
    // The transformed columns and the function that transforms them.
    let mut slots: Vec<Slot> = Vec::new();
    let mut selects: BTreeMap<&str, (Vec<String>, Vec<String>)> = BTreeMap::new();
    for table in &schema.tables {
        let rules = plan.table(&table.name).unwrap_or_default();
        let mut names = Vec::with_capacity(rules.len());
        let mut values = Vec::with_capacity(rules.len());
        for (column, rule) in rules {
            names.push(quote(column));
            values.push(match rule {
                Rule::Keep => quote(column),
                Rule::Null => "NULL".to_owned(),
                _ => {
                    slots.push(Slot {
                        table: table.name.clone(),
                        column: column.clone(),
                        rule: rule.clone(),
                    });
                    format!("anonymise_value({}, {})", slots.len() - 1, quote(column))
                }
            });
        }
        selects.insert(&table.name, (names, values));
    }
    let failure: FirstFailure = Arc::new(Mutex::new(None));
    register(&mut conn, transformer.clone(), &slots, failure.clone())?;
    let summaries = copy_tables(plan, &schema.tables, |table, _| {
        let (names, values) = &selects[table.name.as_str()];
        let without_rowid = kinds
            .iter()
            .find(|t| t.name == table.name)
            .is_some_and(|t| t.without_rowid);
        // The rowid is copied too (a rowid alias column gets the same value twice), under a
        // name no column has.
        let rowid = if without_rowid {
            None
        } else {
            ["rowid", "_rowid_", "oid"].into_iter().find(|alias| {
                !table
                    .columns
                    .iter()
                    .any(|c| c.name.eq_ignore_ascii_case(alias))
            })
        };
        let name = &table.name;
        let total = single_integer(
            &mut conn,
            &format!("SELECT count(*) FROM {SOURCE}.{}", quote(name)),
        )
        .map_err(db_error(Side::Source, Some(name)))?
        .unwrap_or(0);
        let total = u64::try_from(total).unwrap_or(0);
        let report = |progress: &mut dyn FnMut(&Progress), rows: u64, done: bool| {
            progress(&Progress::rows(name, rows, total, done))
        };
        report(progress, 0, false);
        let (names, values) = match rowid {
            Some(rowid) => (
                format!("{rowid}, {}", names.join(", ")),
                format!("{rowid}, {}", values.join(", ")),
            ),
            None => (names.join(", "), values.join(", ")),
        };
        // `OR ABORT` overrides a conflict clause of the table (`UNIQUE .. ON CONFLICT REPLACE`
        // or `IGNORE` would drop rows silently): a row the copy cannot hold fails the run.
        let insert = format!(
            "INSERT OR ABORT INTO main.{table_q} ({names}) SELECT {values} FROM {SOURCE}.{table_q}",
            table_q = quote(name)
        );
        let fail = |e: diesel::result::Error| -> DbError {
            match failure.lock().map(|mut f| f.take()) {
                Ok(Some((slot, row, why))) => failure_error(&slots[slot], row, why),
                _ => db_error(Side::Target, Some(name))(e),
            }
        };
        let mut rows: u64 = 0;
        match rowid {
            None => {
                rows = diesel::sql_query(insert).execute(&mut conn).map_err(fail)? as u64;
            }
            Some(rowid) => {
                let mut after: Option<i64> = None;
                loop {
                    // The last rowid of the next chunk; none when the rest fits in one.
                    let bound_sql = format!(
                        "SELECT {rowid} AS r FROM {SOURCE}.{} {} ORDER BY {rowid} LIMIT 1 OFFSET {}",
                        quote(name),
                        if after.is_some() {
                            format!("WHERE {rowid} > ?1")
                        } else {
                            String::new()
                        },
                        CHUNK - 1
                    );
                    let mut query = diesel::sql_query(bound_sql).into_boxed();
                    if let Some(after) = after {
                        query = query.bind::<BigInt, _>(after);
                    }
                    let upto = query
                        .load::<Bound>(&mut conn)
                        .map_err(db_error(Side::Source, Some(name)))?
                        .first()
                        .map(|b| b.r);
                    let condition = match (after, upto) {
                        (None, None) => String::new(),
                        (None, Some(_)) => format!(" WHERE {rowid} <= ?1"),
                        (Some(_), None) => format!(" WHERE {rowid} > ?1"),
                        (Some(_), Some(_)) => format!(" WHERE {rowid} > ?1 AND {rowid} <= ?2"),
                    };
                    let mut query =
                        diesel::sql_query(format!("{insert}{condition} ORDER BY {rowid}"))
                            .into_boxed();
                    for bound in [after, upto].into_iter().flatten() {
                        query = query.bind::<BigInt, _>(bound);
                    }
                    rows += query.execute(&mut conn).map_err(fail)? as u64;
                    match upto {
                        Some(upto) => {
                            after = Some(upto);
                            report(progress, rows, false);
                        }
                        None => break,
                    }
                }
            }
        }
        // Every row read is a row written, or the run fails (counts only, never a value).
        if rows != total {
            return Err(DbError::Database {
                side: Side::Target,
                table: Some(name.clone()),
                message: format!(
                    "the copy holds {rows} rows of the source's {total}: a constraint of the table dropped or replaced rows"
                ),
            });
        }
        report(progress, rows, true);
        Ok(rows)
    })?;
    // AUTOINCREMENT counters: as high as in the source, so new rows get ids never used there.
    let has_sequence = |conn: &mut SqliteConnection, db: &str| {
        single_integer(
            conn,
            &format!("SELECT count(*) FROM {db}.sqlite_master WHERE name = 'sqlite_sequence'"),
        )
        .map(|n| n == Some(1))
    };
    if has_sequence(&mut conn, SOURCE).map_err(db_error(Side::Source, None))?
        && has_sequence(&mut conn, "main").map_err(db_error(Side::Target, None))?
    {
        conn.batch_execute(&format!(
            "DELETE FROM main.sqlite_sequence;
             INSERT INTO main.sqlite_sequence (name, seq)
             SELECT name, seq FROM {SOURCE}.sqlite_sequence
             WHERE name IN (SELECT name FROM main.sqlite_master WHERE type = 'table');"
        ))
        .map_err(db_error(Side::Target, Some("sqlite_sequence")))?;
    }
    // Indexes (a unique one refuses duplicates here), then views, then triggers.
    for kind in ["index", "view", "trigger"] {
        for row in objects.iter().filter(|row| object(row, 0) == kind) {
            conn.batch_execute(&object(row, 3))
                .map_err(db_error(Side::Target, Some(&object(row, 2))))?;
        }
    }
    check_foreign_keys(&mut conn, schema)?;
    conn.batch_execute("COMMIT")
        .map_err(db_error(Side::Target, None))?;
    conn.batch_execute(&format!("DETACH DATABASE {SOURCE}"))
        .map_err(db_error(Side::Target, None))?;
    Ok(summaries)
}

/// Registers `anonymise_value` on `conn`: slot `i` applies `slots[i].rule`; a refusal is kept
/// in `failure` (the first one) and stops the statement.
fn register(
    conn: &mut SqliteConnection,
    transformer: Transformer,
    slots: &[Slot],
    failure: FirstFailure,
) -> Result<(), DbError> {
    let rules: Vec<Rule> = slots.iter().map(|s| s.rule.clone()).collect();
    let mut rows: Vec<u64> = vec![0; rules.len()];
    anonymise_value_utils::register_nondeterministic_impl(
        conn,
        move |slot: i32, value: Option<Argument>| -> Transformed {
            let Some(at) = usize::try_from(slot).ok().filter(|s| *s < rules.len()) else {
                return Transformed(Err("anonymise_value: no such column"));
            };
            rows[at] += 1;
            let refuse = |why| {
                if let Ok(mut first) = failure.lock() {
                    first.get_or_insert((at, rows[at], why));
                }
                Transformed(Err("anonymise_value: a value was refused"))
            };
            match value {
                None => Transformed(Ok(None)),
                Some(Argument::Blob(bytes)) => refuse(Failure::Blob { bytes }),
                Some(Argument::Text(text)) => match transformer.apply(&rules[at], Some(&text)) {
                    Ok(value) => Transformed(Ok(value)),
                    Err(e) => refuse(Failure::Transform(e)),
                },
            }
        },
    )
    .map_err(db_error(Side::Target, None))
}

/// The error of a refused value: the table, row and column, never the value.
fn failure_error(slot: &Slot, row: u64, why: Failure) -> DbError {
    match why {
        Failure::Transform(source) => DbError::Transform {
            table: slot.table.clone(),
            row,
            column: slot.column.clone(),
            source: source.into(),
        },
        Failure::Blob { bytes } => DbError::Transform {
            table: slot.table.clone(),
            row,
            column: slot.column.clone(),
            source: Box::new(crate::transform::TransformError::NotText { bytes }),
        },
    }
}

/// Fails if the copy breaks a foreign key the source keeps: a table's violations in the target
/// (`PRAGMA foreign_key_check`) must not outnumber the source's (SQLite does not enforce
/// foreign keys unless asked, so a source may have dangling references of its own; they are
/// copied as they are). Counts only: a violation's rowid is never shown.
fn check_foreign_keys(conn: &mut SqliteConnection, schema: &Schema) -> Result<(), DbError> {
    type Counts = BTreeMap<(String, String), u64>;
    fn violations(
        conn: &mut SqliteConnection,
        db: &str,
        table: &str,
    ) -> Result<Counts, diesel::result::Error> {
        let mut counts = Counts::new();
        let rows =
            diesel::sql_query("SELECT \"table\", parent FROM pragma_foreign_key_check(?1, ?2)")
                .bind::<Text, _>(table)
                .bind::<Text, _>(db)
                .load_iter::<TextRow, DefaultLoadingMode>(conn)?;
        for row in rows {
            let mut values = row?.0.into_iter().map(Option::unwrap_or_default);
            let child = values.next().unwrap_or_default();
            let parent = values.next().unwrap_or_default();
            *counts.entry((child, parent)).or_default() += 1;
        }
        Ok(counts)
    }
    for table in &schema.tables {
        if !table.columns.iter().any(|c| c.references.is_some()) {
            continue;
        }
        let copied = violations(conn, "main", &table.name);
        if matches!(&copied, Ok(counts) if counts.is_empty()) {
            continue;
        }
        let original = violations(conn, SOURCE, &table.name);
        match (copied, original) {
            // The foreign key cannot be checked on either side (e.g. its parent key is not
            // unique): the source declares it so, and the copy is no worse.
            (Err(_), Err(_)) => {}
            (Err(e), Ok(_)) => return Err(db_error(Side::Target, Some(&table.name))(e)),
            (Ok(copied), original) => {
                let original = original.unwrap_or_default();
                for ((child, parent), n) in copied {
                    let before = original
                        .get(&(child.clone(), parent.clone()))
                        .copied()
                        .unwrap_or(0);
                    if n > before {
                        return Err(DbError::Database {
                            side: Side::Target,
                            table: Some(child.clone()),
                            message: format!(
                                "foreign key check failed: {n} rows reference no row of `{parent}` (the source has {before}); the rules of the referencing and referenced columns break the join"
                            ),
                        });
                    }
                }
            }
        }
    }
    Ok(())
}

/// A table as `pragma_table_list` shows it.
struct TableKind {
    name: String,
    kind: String,
    without_rowid: bool,
    strict: bool,
}

/// The schema of attached database `db` of `conn`, and what kind each of its tables is
/// (including virtual ones, left out of the schema).
fn read_schema(conn: &mut SqliteConnection, db: &str) -> Result<(Schema, Vec<TableKind>), DbError> {
    // In the order they were created (`db` is `main` or [`SOURCE`], never a name from outside).
    let kinds: Vec<TableKind> = diesel::sql_query(format!(
        "SELECT l.name, l.type, l.wr, l.strict FROM pragma_table_list AS l
         JOIN {db}.sqlite_master AS m ON m.type = 'table' AND m.name = l.name
         WHERE l.schema = ?1 AND l.name NOT LIKE 'sqlite\\_%' ESCAPE '\\'
         AND l.type IN ('table', 'virtual')
         ORDER BY m.rowid"
    ))
    .bind::<Text, _>(db)
    .load::<TextRow>(conn)
    .map_err(db_error(Side::Source, None))?
    .into_iter()
    .map(|row| {
        let mut values = row.0.into_iter().map(Option::unwrap_or_default);
        TableKind {
            name: values.next().unwrap_or_default(),
            kind: values.next().unwrap_or_default(),
            without_rowid: values.next().as_deref() == Some("1"),
            strict: values.next().as_deref() == Some("1"),
        }
    })
    .collect();
    // Columns, primary keys and single-column unique indexes first; references need every
    // table's columns.
    let mut tables = Vec::new();
    let mut primary_keys: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for kind in kinds.iter().filter(|t| t.kind == "table") {
        let name = &kind.name;
        let rows = diesel::sql_query(
            "SELECT name, type, \"notnull\", pk FROM pragma_table_xinfo(?1, ?2)
             WHERE hidden = 0 ORDER BY cid",
        )
        .bind::<Text, _>(name)
        .bind::<Text, _>(db)
        .load::<TextRow>(conn)
        .map_err(db_error(Side::Source, Some(name)))?;
        let mut columns = Vec::with_capacity(rows.len());
        let mut pk: Vec<(i64, String)> = Vec::new();
        for row in rows {
            let mut values = row.0.into_iter().map(Option::unwrap_or_default);
            let column = values.next().unwrap_or_default();
            let type_name = values.next().unwrap_or_default();
            let not_null = values.next().as_deref() == Some("1");
            let pk_rank: i64 = values.next().unwrap_or_default().parse().unwrap_or(0);
            if pk_rank > 0 {
                pk.push((pk_rank, column.clone()));
            }
            columns.push(ColumnSchema {
                name: column,
                unique: false,
                references: None,
                type_name: Some(type_name),
                not_null,
            });
        }
        pk.sort();
        let pk: Vec<String> = pk.into_iter().map(|(_, c)| c).collect();
        // What a column can hold: in a table that is not STRICT, any column holds text, except
        // an INTEGER PRIMARY KEY (the rowid), so only those keep their type for the check.
        let rowid_alias = match pk.as_slice() {
            [only] if !kind.without_rowid => Some(only.clone()),
            _ => None,
        };
        for column in &mut columns {
            let is_rowid = rowid_alias.as_deref() == Some(column.name.as_str())
                && column
                    .type_name
                    .as_deref()
                    .is_some_and(|t| t.eq_ignore_ascii_case("integer"));
            if !kind.strict && !is_rowid {
                column.type_name = None;
            }
        }
        let mut unique: Vec<String> = Vec::new();
        if let [only] = pk.as_slice() {
            unique.push(only.clone());
        }
        let indexes =
            diesel::sql_query("SELECT name FROM pragma_index_list(?1, ?2) WHERE \"unique\" = 1")
                .bind::<Text, _>(name)
                .bind::<Text, _>(db)
                .load::<TextRow>(conn)
                .map_err(db_error(Side::Source, Some(name)))?;
        for index in indexes {
            let index = index.0.into_iter().next().flatten().unwrap_or_default();
            let covered =
                diesel::sql_query("SELECT name FROM pragma_index_info(?1, ?2) ORDER BY seqno")
                    .bind::<Text, _>(&index)
                    .bind::<Text, _>(db)
                    .load::<TextRow>(conn)
                    .map_err(db_error(Side::Source, Some(name)))?;
            // One column, not an expression (whose name is NULL).
            if let [TextRow(only)] = covered.as_slice() {
                if let [Some(column)] = only.as_slice() {
                    unique.push(column.clone());
                }
            }
        }
        for column in &mut columns {
            column.unique = unique.iter().any(|u| u.eq_ignore_ascii_case(&column.name));
        }
        primary_keys.insert(name.clone(), pk);
        tables.push(TableSchema {
            name: name.clone(),
            columns,
        });
    }
    // References, named as the schema names the parent table and column (SQLite matches names
    // without regard to ASCII case).
    let names: Vec<(String, Vec<String>)> = tables
        .iter()
        .map(|t| {
            (
                t.name.clone(),
                t.columns.iter().map(|c| c.name.clone()).collect(),
            )
        })
        .collect();
    for table in &mut tables {
        let keys = diesel::sql_query(
            "SELECT \"table\", \"from\", \"to\", seq FROM pragma_foreign_key_list(?1, ?2)
             ORDER BY id, seq",
        )
        .bind::<Text, _>(&table.name)
        .bind::<Text, _>(db)
        .load::<TextRow>(conn)
        .map_err(db_error(Side::Source, Some(&table.name)))?;
        for key in keys {
            let mut values = key.0.into_iter();
            let parent = values.next().flatten().unwrap_or_default();
            let from = values.next().flatten().unwrap_or_default();
            let to = values.next().flatten();
            let seq: usize = values
                .next()
                .flatten()
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            let Some((parent, parent_columns)) =
                names.iter().find(|(t, _)| t.eq_ignore_ascii_case(&parent))
            else {
                continue; // a parent that does not exist: nothing to keep joinable
            };
            let to = match to {
                Some(to) => parent_columns
                    .iter()
                    .find(|c| c.eq_ignore_ascii_case(&to))
                    .cloned()
                    .unwrap_or(to),
                None => match primary_keys.get(parent).and_then(|pk| pk.get(seq)) {
                    Some(pk) => pk.clone(),
                    None => continue,
                },
            };
            if let Some(column) = table
                .columns
                .iter_mut()
                .find(|c| c.name.eq_ignore_ascii_case(&from))
            {
                column.references = Some(format!("{parent}.{to}"));
            }
        }
    }
    // The copy loads with foreign keys off (checked at the end), so virtual keys need not count.
    let (tables, _cyclic) = dependency_order(tables, &[]);
    Ok((Schema { tables }, kinds))
}

/// The columns of `table` a copy writes (generated and hidden ones left out); empty for a
/// table that does not exist.
fn insertable_columns(
    conn: &mut SqliteConnection,
    db: &str,
    table: &str,
) -> Result<Vec<String>, DbError> {
    Ok(diesel::sql_query(
        "SELECT name FROM pragma_table_xinfo(?1, ?2) WHERE hidden = 0 ORDER BY cid",
    )
    .bind::<Text, _>(table)
    .bind::<Text, _>(db)
    .load::<TextRow>(conn)
    .map_err(db_error(Side::Source, Some(table)))?
    .into_iter()
    .filter_map(|row| row.0.into_iter().next().flatten())
    .collect())
}

/// The source, opened read-only (it is never written, and a missing file is not created).
fn open_read_only(path: &Path) -> Result<SqliteConnection, DbError> {
    if !path.is_file() {
        return Err(DbError::Refused(format!(
            "no SQLite database at {}",
            path.display()
        )));
    }
    SqliteConnection::establish(&uri(path, true)?)
        .map_err(|e| DbError::Refused(format!("cannot open {}: {e}", path.display())))
}

/// `file:` URI of `path` (absolute, percent-encoded), read-only or read-write-create.
fn uri(path: &Path, read_only: bool) -> Result<String, DbError> {
    let absolute = std::path::absolute(path)
        .map_err(|e| DbError::Refused(format!("{}: {e}", path.display())))?;
    let text = absolute.to_str().ok_or_else(|| {
        DbError::Refused(format!("{}: the path is not valid UTF-8", path.display()))
    })?;
    let mut out = String::from("file:");
    if !text.starts_with('/') {
        out.push('/'); // a Windows drive: file:/C:/..
    }
    for byte in text.bytes() {
        match byte {
            b'\\' if cfg!(windows) => out.push('/'),
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'/' | b'.' | b'-' | b'_' | b'~' | b':' => {
                out.push(char::from(byte))
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out.push_str(if read_only { "?mode=ro" } else { "?mode=rwc" });
    Ok(out)
}

/// The text encoding in an SQLite file's header (1 UTF-8, 2 UTF-16le, 3 UTF-16be).
fn text_encoding(path: &Path) -> Option<u32> {
    let mut header = [0u8; 100];
    File::open(path).ok()?.read_exact(&mut header).ok()?;
    if &header[..16] != b"SQLite format 3\0" {
        return None;
    }
    Some(u32::from_be_bytes([
        header[56], header[57], header[58], header[59],
    ]))
}

/// The first column of the first row of `sql` as an integer.
fn single_integer(
    conn: &mut SqliteConnection,
    sql: &str,
) -> Result<Option<i64>, diesel::result::Error> {
    Ok(diesel::sql_query(sql)
        .load::<TextRow>(conn)?
        .into_iter()
        .next()
        .and_then(|row| row.0.into_iter().next().flatten())
        .and_then(|v| v.parse().ok()))
}

/// A rowid bound of a chunk.
#[derive(QueryableByName)]
struct Bound {
    #[diesel(sql_type = BigInt)]
    r: i64,
}

/// A row of any query, every value as text (NULL as `None`, numbers as SQLite writes them,
/// a blob as lossy UTF-8).
struct TextRow(Vec<Option<String>>);

impl QueryableByName<Sqlite> for TextRow {
    fn build<'a>(row: &impl NamedRow<'a, Sqlite>) -> deserialize::Result<Self> {
        let count = row.field_count();
        let mut values = Vec::with_capacity(count);
        for i in 0..count {
            let field = diesel::row::Row::get(row, i).ok_or("a column went missing")?;
            values.push(field.value().map(|mut value| {
                if value.value_type() == Some(SqliteType::Binary) {
                    String::from_utf8_lossy(value.read_blob()).into_owned()
                } else {
                    value.read_text().to_owned()
                }
            }));
        }
        Ok(TextRow(values))
    }
}

/// `"name"`, with `"` doubled.
fn quote(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `"a", "b"`.
fn column_list(columns: &[String]) -> String {
    columns
        .iter()
        .map(|c| quote(c))
        .collect::<Vec<_>>()
        .join(", ")
}

/// SQLite's message of an error, which names tables and columns but never values.
fn message(error: &diesel::result::Error) -> String {
    match error {
        diesel::result::Error::DatabaseError(_, info) => info.message().to_owned(),
        other => other.to_string(),
    }
}

/// Maps a Diesel error to a [`DbError::Database`] of `side` and `table`.
fn db_error(side: Side, table: Option<&str>) -> impl Fn(diesel::result::Error) -> DbError + '_ {
    move |error| DbError::Database {
        side,
        table: table.map(str::to_owned),
        message: message(&error),
    }
}
