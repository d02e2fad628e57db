//! What every kind of run shares: progress reports, the summary, database errors that never
//! hold a value, tables put in dependency order, and the steps of a copy that the database
//! backends have in common (the schema from catalog rows, the checks of the target, the loop
//! over the tables and the two-thread stream of one table).

use crate::config::{ColumnSchema, ConfigError, Plan, Rule, Schema, TableSchema, VirtualKey};
use crate::transform::TransformError;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::sync::mpsc::SyncSender;
use std::time::{Duration, Instant};

/// What a progress position counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unit {
    /// Bytes of an input file.
    Bytes,
    /// Rows of a table.
    Rows,
}

/// Where a run is, for a progress bar: never a value, only the table and how far it got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Progress {
    /// The table being copied.
    pub table: String,
    /// How far it got, in `unit`s.
    pub position: u64,
    /// How far it will go (an estimate for database tables; 0 when unknown).
    pub total: u64,
    /// What `position` and `total` count.
    pub unit: Unit,
    /// Rows written so far.
    pub rows: u64,
    /// Whether the table is done.
    pub done: bool,
}

impl Progress {
    /// Where a table of a database is: `rows` read and written of an `estimate` (the total
    /// shown is never below the rows).
    pub fn rows(table: &str, rows: u64, estimate: u64, done: bool) -> Self {
        Self {
            table: table.to_owned(),
            position: rows,
            total: estimate.max(rows),
            unit: Unit::Rows,
            rows,
            done,
        }
    }

    /// Where a file is: `bytes` read of its `total` (0 when unknown), `rows` written so far.
    pub fn bytes(table: &str, bytes: u64, total: u64, rows: u64, done: bool) -> Self {
        Self {
            table: table.to_owned(),
            position: bytes,
            total,
            unit: Unit::Bytes,
            rows,
            done,
        }
    }
}

/// What a run did to one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    /// The table.
    pub table: String,
    /// Rows written.
    pub rows: u64,
    /// Columns transformed (all but `keep`).
    pub transformed_columns: usize,
    /// How long the table took.
    pub elapsed: Duration,
}

impl Summary {
    /// Rows written per second, when the table took long enough to tell (see [`rate`]).
    pub fn rate(&self) -> Option<u64> {
        rate(self.rows, self.elapsed)
    }
}

/// The shortest time a rate is given for: over less, the rate tells more about the clock than
/// about the copy (a table of five rows "at" millions a second).
pub const RATE_AFTER: Duration = Duration::from_millis(10);

/// `rows` per second over `elapsed`, or `None` when `elapsed` is under [`RATE_AFTER`].
pub fn rate(rows: u64, elapsed: Duration) -> Option<u64> {
    (elapsed >= RATE_AFTER).then(|| (rows as f64 / elapsed.as_secs_f64()).round() as u64)
}

/// Which database of a run an error came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The database read from.
    Source,
    /// The database written to.
    Target,
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Side::Source => "source",
            Side::Target => "target",
        })
    }
}

/// What a run's error adds to its reason: the promise a run keeps (see [`DbError`]). Only a
/// run says it; `check`, `plan` and `report` never write.
pub const NOTHING_WRITTEN: &str = "; nothing was written";

/// Why a database run stopped. The target holds nothing of the run (it is written in one
/// transaction, or to a file renamed only at the end), and no message holds a value read. Its
/// `Display` ends in [`NOTHING_WRITTEN`]; the same errors met outside a run (reading a schema,
/// scanning a table) are shown by [`DbError::reason`].
#[derive(Debug)]
pub enum DbError {
    /// The config does not match the source's schema.
    Config(Box<ConfigError>),
    /// A value could not be transformed (the message never holds the value).
    Transform {
        /// The table.
        table: String,
        /// The 1-based row in the order read.
        row: u64,
        /// The column.
        column: String,
        /// Why (boxed: it is the large variant).
        source: Box<TransformError>,
    },
    /// The database refused something. `message` is the server's, stripped of anything that
    /// could hold a value (details, contexts, and the text of data errors).
    Database {
        /// Which database.
        side: Side,
        /// The table being read or written, when there was one.
        table: Option<String>,
        /// What went wrong.
        message: String,
    },
    /// The run cannot start: the target's tables differ from the source's, or already hold
    /// rows, or the source cannot be opened.
    Refused(String),
}

impl DbError {
    /// What went wrong, without the run's [`NOTHING_WRITTEN`]: for these errors outside a run
    /// (`check`, `plan` and `report` read a schema or a table and write nothing).
    pub fn reason(&self) -> String {
        match self {
            DbError::Config(error) => error.to_string(),
            DbError::Transform {
                table,
                row,
                column,
                source,
            } => format!("{table}, row {row}, column `{column}`: {source}"),
            DbError::Database {
                side,
                table,
                message,
            } => match table {
                Some(table) => format!("{side} database, table `{table}`: {message}"),
                None => format!("{side} database: {message}"),
            },
            DbError::Refused(why) => why.clone(),
        }
    }
}

impl fmt::Display for DbError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            // The claim ends the first line, before the list of columns.
            DbError::Config(error) => f.write_str(&error.message(NOTHING_WRITTEN)),
            _ => write!(f, "{}{NOTHING_WRITTEN}", self.reason()),
        }
    }
}

impl std::error::Error for DbError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DbError::Transform { source, .. } => Some(source.as_ref()),
            _ => None,
        }
    }
}

impl From<ConfigError> for DbError {
    fn from(error: ConfigError) -> Self {
        DbError::Config(Box::new(error))
    }
}

/// `tables` in dependency order: a table comes after every table it references (by a
/// column's `references`, or by one of the config's `virtual_keys`: a target may declare as a
/// foreign key what the source does not), so a target that checks foreign keys accepts each
/// table as it is loaded. Self-references do not count. Tables caught in a cycle keep their
/// relative order and come last; their names are returned second, so the caller can defer
/// constraint checks.
pub fn dependency_order(
    tables: Vec<TableSchema>,
    virtual_keys: &[VirtualKey],
) -> (Vec<TableSchema>, Vec<String>) {
    let names: BTreeSet<&str> = tables.iter().map(|t| t.name.as_str()).collect();
    let mut needs: BTreeMap<String, BTreeSet<String>> = tables
        .iter()
        .map(|t| (t.name.clone(), BTreeSet::new()))
        .collect();
    let declared = tables.iter().flat_map(|t| {
        t.columns
            .iter()
            .filter_map(|c| c.references.as_deref())
            .map(|r| (t.name.as_str(), r))
    });
    let virtual_ = virtual_keys.iter().flat_map(|key| {
        crate::config::resolve(&tables, &key.from)
            .into_iter()
            .map(|(child, _)| (child, key.to.as_str()))
    });
    for (child, reference) in declared.chain(virtual_) {
        for (parent, _) in crate::config::resolve(&tables, reference) {
            if parent != child && names.contains(parent) {
                needs
                    .get_mut(child)
                    .expect("a table of the list")
                    .insert(parent.to_owned());
            }
        }
    }
    let mut placed: BTreeSet<String> = BTreeSet::new();
    let mut ordered = Vec::with_capacity(tables.len());
    let mut rest = tables;
    loop {
        let (ready, waiting): (Vec<TableSchema>, Vec<TableSchema>) = rest
            .into_iter()
            .partition(|t| needs[&t.name].iter().all(|p| placed.contains(p)));
        if ready.is_empty() {
            let cyclic = waiting.iter().map(|t| t.name.clone()).collect();
            ordered.extend(waiting);
            return (ordered, cyclic);
        }
        placed.extend(ready.iter().map(|t| t.name.clone()));
        ordered.extend(ready);
        rest = waiting;
    }
}

/// A database's tables as its catalog lists them: columns first (in order), then the marks of
/// unique and referencing columns; [`Catalog::schema`] puts them in dependency order.
#[derive(Debug, Default)]
pub struct Catalog(BTreeMap<String, TableSchema>);

impl Catalog {
    /// Adds `column` as the next column of `table`.
    pub fn column(&mut self, table: String, column: ColumnSchema) {
        self.0
            .entry(table.clone())
            .or_insert_with(|| TableSchema {
                name: table,
                columns: Vec::new(),
            })
            .columns
            .push(column);
    }

    /// The column `name` of `table`, if both are listed.
    fn get(&mut self, table: &str, name: &str) -> Option<&mut ColumnSchema> {
        self.0
            .get_mut(table)
            .and_then(|t| t.columns.iter_mut().find(|c| c.name == name))
    }

    /// Marks a column a unique index covers alone.
    pub fn unique(&mut self, table: &str, name: &str) {
        if let Some(c) = self.get(table, name) {
            c.unique = true;
        }
    }

    /// Marks a column that references `parent.parent_column`.
    pub fn references(&mut self, table: &str, name: &str, parent: &str, parent_column: &str) {
        if let Some(c) = self.get(table, name) {
            c.references = Some(format!("{parent}.{parent_column}"));
        }
    }

    /// The tables, in dependency order (see [`dependency_order`]).
    pub fn schema(self) -> Schema {
        Schema {
            tables: dependency_order(self.0.into_values().collect(), &[]).0,
        }
    }
}

/// Copies `tables` one after another, in their order, with `copy`, which is given each table
/// with its columns' rules (from `plan`, in column order) and returns the rows it wrote; stops
/// at the first error. One [`Summary`] per table.
pub fn copy_tables<E>(
    plan: &Plan,
    tables: &[TableSchema],
    mut copy: impl FnMut(&TableSchema, &[Rule]) -> Result<u64, E>,
) -> Result<Vec<Summary>, E> {
    let mut summaries = Vec::with_capacity(tables.len());
    for table in tables {
        let rules: Vec<Rule> = plan
            .table(&table.name)
            .unwrap_or_default()
            .iter()
            .map(|(_, rule)| rule.clone())
            .collect();
        let started = Instant::now();
        let rows = copy(table, &rules)?;
        summaries.push(Summary {
            table: table.name.clone(),
            rows,
            transformed_columns: rules.iter().filter(|r| **r != Rule::Keep).count(),
            elapsed: started.elapsed(),
        });
    }
    Ok(summaries)
}

/// Rows between two progress reports of [`relay`].
const PROGRESS_EVERY: u64 = 16_384;

/// Streams one table on two threads, so reading and transforming overlap with the target taking
/// rows: `read` runs on a thread of its own and sends batches, each with the rows read so far,
/// through a queue of at most `in_flight` (memory stays bounded whatever the table's size); this
/// thread hands each batch to `write`, and calls `progress` with the rows read whenever 16,384
/// or more were read since its last call. Once `write` fails the queue closes, so `read` stops
/// at its next send (it returns then; its error, if any, is the one reported). Returns the rows
/// `read` read.
pub fn relay<B: Send>(
    in_flight: usize,
    read: impl FnOnce(SyncSender<(B, u64)>) -> Result<u64, DbError> + Send,
    mut write: impl FnMut(B) -> Result<(), DbError>,
    progress: &mut dyn FnMut(u64),
) -> Result<u64, DbError> {
    std::thread::scope(|scope| {
        let (batches, received) = std::sync::mpsc::sync_channel(in_flight);
        let reader = scope.spawn(move || read(batches));
        let mut reported = 0;
        let mut written = Ok(());
        for (batch, rows) in received {
            if let Err(e) = write(batch) {
                written = Err(e);
                break;
            }
            if rows - reported >= PROGRESS_EVERY {
                progress(rows);
                reported = rows;
            }
        }
        let rows = reader
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
        written?;
        Ok(rows)
    })
}

/// Refuses a target that lacks a table or a column the copy writes: `found` holds each column of
/// the target's tables, as `(table, column)`. Every missing one is named, so one run shows them
/// all.
pub fn check_target_columns(
    tables: &[TableSchema],
    found: impl IntoIterator<Item = (String, String)>,
) -> Result<(), DbError> {
    let mut columns: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (table, column) in found {
        columns.entry(table).or_default().push(column);
    }
    let mut missing = Vec::new();
    for table in tables {
        match columns.get(&table.name) {
            None => missing.push(format!("{} (the whole table)", table.name)),
            Some(found) => missing.extend(
                table
                    .columns
                    .iter()
                    .filter(|c| !found.contains(&c.name))
                    .map(|c| format!("{}.{}", table.name, c.name)),
            ),
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    Err(DbError::Refused(format!(
        "the target lacks {} the source has (run its migrations first): {}",
        if missing.len() == 1 {
            "a column"
        } else {
            "columns"
        },
        missing.join(", ")
    )))
}

/// The refusal of a run whose target another run holds: two runs into one target would both
/// find it empty and both load it.
pub fn another_run_refused() -> DbError {
    DbError::Refused(
        "another run is writing to this target (a target takes one run at a time): let it finish; to replace its copy, run again with --truncate".into(),
    )
}

/// The environment variable of [`hold_after_target_check`].
pub const HOLD_AFTER_CHECK_ENV: &str = "ANONYMISE_TEST_HOLD_AFTER_CHECK";

/// A hook for tests, inert unless [`HOLD_AFTER_CHECK_ENV`] names a directory: once the target
/// passed its checks, the run writes `checked-<pid>` there and waits (a minute at most) for a
/// file `go`. It lets the test of two concurrent runs hold both at the point where they could
/// collide, by what they did rather than by timing.
pub fn hold_after_target_check() {
    let Some(dir) = std::env::var_os(HOLD_AFTER_CHECK_ENV) else {
        return;
    };
    let dir = std::path::PathBuf::from(dir);
    let _ = std::fs::write(dir.join(format!("checked-{}", std::process::id())), b"");
    let started = Instant::now();
    while !dir.join("go").exists() && started.elapsed() < Duration::from_secs(60) {
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Refuses a target whose tables `occupied` already hold rows (none: the target may be written).
pub fn check_target_empty(occupied: &[String]) -> Result<(), DbError> {
    if occupied.is_empty() {
        return Ok(());
    }
    Err(DbError::Refused(format!(
        "the target's tables {} already hold rows: empty them, or pass --truncate to have the run empty them in its transaction",
        occupied.join(", ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ColumnSchema;

    fn table(name: &str, references: &[&str]) -> TableSchema {
        TableSchema {
            name: name.into(),
            columns: std::iter::once(ColumnSchema {
                name: "id".into(),
                ..ColumnSchema::default()
            })
            .chain(references.iter().map(|r| ColumnSchema {
                name: format!("{r}_id"),
                references: Some(format!("{r}.id")),
                ..ColumnSchema::default()
            }))
            .collect(),
        }
    }

    fn names(tables: &[TableSchema]) -> Vec<&str> {
        tables.iter().map(|t| t.name.as_str()).collect()
    }

    #[test]
    fn rates_are_given_only_over_a_measurable_time() {
        assert_eq!(rate(5, Duration::from_micros(3)), None);
        assert_eq!(rate(2_000, Duration::ZERO), None);
        assert_eq!(rate(2_000, Duration::from_millis(9)), None);
        assert_eq!(rate(2_000, Duration::from_millis(10)), Some(200_000));
        assert_eq!(rate(20_000, Duration::from_secs(2)), Some(10_000));
        assert_eq!(rate(0, Duration::from_secs(1)), Some(0));
    }

    #[test]
    fn referenced_tables_come_first_and_self_references_do_not_count() {
        let (ordered, cyclic) = dependency_order(
            vec![
                table("order_items", &["orders", "products"]),
                table("orders", &["users"]),
                table("products", &[]),
                table("users", &["users"]),
            ],
            &[],
        );
        assert_eq!(
            names(&ordered),
            ["products", "users", "orders", "order_items"]
        );
        assert!(cyclic.is_empty());
    }

    #[test]
    fn a_cycle_comes_last_and_is_named() {
        let (ordered, cyclic) = dependency_order(
            vec![table("a", &["b"]), table("b", &["a"]), table("c", &[])],
            &[],
        );
        assert_eq!(names(&ordered), ["c", "a", "b"]);
        assert_eq!(cyclic, ["a", "b"]);
    }

    #[test]
    fn a_virtual_key_orders_tables_as_a_declared_reference_does() {
        let mut audit = table("audit", &[]);
        audit.columns.push(ColumnSchema {
            name: "actor".into(),
            ..ColumnSchema::default()
        });
        let key = |from: &str, to: &str| VirtualKey {
            from: from.into(),
            to: to.into(),
        };
        let (ordered, cyclic) = dependency_order(
            vec![audit, table("users", &[])],
            &[key("audit.actor", "users.id"), key("nowhere.x", "audit.id")],
        );
        assert_eq!(names(&ordered), ["users", "audit"]);
        assert!(cyclic.is_empty());
    }
}
