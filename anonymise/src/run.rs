//! What every kind of run shares: progress reports, the summary, database errors that never
//! hold a value, and tables put in dependency order.

use crate::config::{ConfigError, TableSchema};
use crate::transform::TransformError;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::time::Duration;

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

/// Why a database run stopped. The target holds nothing of the run (it is written in one
/// transaction, or to a file renamed only at the end), and no message holds a value read.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The config does not match the source's schema.
    #[error(transparent)]
    Config(Box<ConfigError>),
    /// A value could not be transformed (the message never holds the value).
    #[error("{table}, row {row}, column `{column}`: {source}; nothing was written")]
    Transform {
        /// The table.
        table: String,
        /// The 1-based row in the order read.
        row: u64,
        /// The column.
        column: String,
        /// Why (boxed: it is the large variant).
        #[source]
        source: Box<TransformError>,
    },
    /// The database refused something. `message` is the server's, stripped of anything that
    /// could hold a value (details, contexts, and the text of data errors).
    #[error("{side} database{}: {message}; nothing was written", table.as_ref().map(|t| format!(", table `{t}`")).unwrap_or_default())]
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
    #[error("{0}; nothing was written")]
    Refused(String),
}

impl From<ConfigError> for DbError {
    fn from(error: ConfigError) -> Self {
        DbError::Config(Box::new(error))
    }
}

/// `tables` in dependency order: a table comes after every table it references (by a
/// column's `references`), so a target that checks foreign keys accepts each table as it is
/// loaded. Self-references do not count. Tables caught in a cycle keep their relative order and
/// come last; their names are returned second, so the caller can defer constraint checks.
pub fn dependency_order(tables: Vec<TableSchema>) -> (Vec<TableSchema>, Vec<String>) {
    let names: BTreeSet<&str> = tables.iter().map(|t| t.name.as_str()).collect();
    let needs: BTreeMap<String, BTreeSet<String>> = tables
        .iter()
        .map(|t| {
            let parents = t
                .columns
                .iter()
                .filter_map(|c| c.references.as_deref())
                .filter_map(|r| r.split_once('.').map(|(table, _)| table))
                .filter(|parent| *parent != t.name && names.contains(parent))
                .map(str::to_owned)
                .collect();
            (t.name.clone(), parents)
        })
        .collect();
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ColumnSchema;

    fn table(name: &str, references: &[&str]) -> TableSchema {
        TableSchema {
            name: name.into(),
            columns: references
                .iter()
                .map(|r| ColumnSchema {
                    name: format!("{r}_id"),
                    references: Some(format!("{r}.id")),
                    ..ColumnSchema::default()
                })
                .collect(),
        }
    }

    fn names(tables: &[TableSchema]) -> Vec<&str> {
        tables.iter().map(|t| t.name.as_str()).collect()
    }

    #[test]
    fn referenced_tables_come_first_and_self_references_do_not_count() {
        let (ordered, cyclic) = dependency_order(vec![
            table("order_items", &["orders", "products"]),
            table("orders", &["users"]),
            table("products", &[]),
            table("users", &["users"]),
        ]);
        assert_eq!(
            names(&ordered),
            ["products", "users", "orders", "order_items"]
        );
        assert!(cyclic.is_empty());
    }

    #[test]
    fn a_cycle_comes_last_and_is_named() {
        let (ordered, cyclic) = dependency_order(vec![
            table("a", &["b"]),
            table("b", &["a"]),
            table("c", &[]),
        ]);
        assert_eq!(names(&ordered), ["c", "a", "b"]);
        assert_eq!(cyclic, ["a", "b"]);
    }
}
