//! The residue check: row counts of every table when a handle opens and after it cleaned up.

use super::backend::TestBackend;
use super::{Cleanup, CleanupError};
use std::collections::BTreeMap;
use std::fmt;

/// Rows per table.
pub(crate) type Counts = BTreeMap<String, i64>;

/// Counts the rows of every table of the schema in one query.
pub(crate) fn count<C: TestBackend>(
    conn: &mut C,
    cleanup: Cleanup,
) -> Result<Counts, CleanupError> {
    let step = "count the rows of every table";
    let tables = C::tables(conn).map_err(CleanupError::db(cleanup, step))?;
    if tables.is_empty() {
        return Ok(Counts::new());
    }
    let sql = tables
        .iter()
        .map(|t| {
            format!(
                "SELECT {} AS name, COUNT(*) AS n FROM {}",
                C::quote_literal(t),
                C::quote_ident(t)
            )
        })
        .collect::<Vec<_>>()
        .join(" UNION ALL ");
    Ok(C::counts(conn, &sql)
        .map_err(CleanupError::db(cleanup, step))?
        .into_iter()
        .collect())
}

/// Fails with the tables that hold more rows than before.
pub(crate) fn compare(cleanup: Cleanup, before: &Counts, after: &Counts) -> Result<(), Residue> {
    // Fewer rows than before is not residue: truncation empties tables on purpose.
    let tables: Vec<(String, i64, i64)> = after
        .iter()
        .filter_map(|(table, &now)| {
            let was = before.get(table).copied().unwrap_or(0);
            (now > was).then(|| (table.clone(), was, now))
        })
        .collect();
    if tables.is_empty() {
        Ok(())
    } else {
        Err(Residue { cleanup, tables })
    }
}

/// Rows a test left behind: the tables that hold more rows after cleanup than when the handle
/// opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct Residue {
    /// The strategy that was in force.
    pub cleanup: Cleanup,
    /// `(table, rows before, rows after)` for every table that gained rows.
    pub tables: Vec<(String, i64, i64)>,
}

impl Residue {
    /// The rows left in `table` beyond those it held before.
    pub fn left_in(&self, table: &str) -> i64 {
        self.tables
            .iter()
            .find(|(t, _, _)| t == table)
            .map_or(0, |(_, before, after)| after - before)
    }
}

impl fmt::Display for Residue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the test left rows behind after {} cleaned up:",
            self.cleanup
        )?;
        for (table, before, after) in &self.tables {
            write!(f, " `{table}` {before} -> {after} ({:+})", after - before)?;
        }
        if self.cleanup == Cleanup::Transaction {
            write!(
                f,
                "; rows written on another connection (a background task, a pool) are not in \
                 the test transaction: use Cleanup::Tracked, Truncate or DatabasePerTest"
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compare_names_every_table_that_gained_rows() {
        let before: Counts = [
            ("users".into(), 2),
            ("orders".into(), 0),
            ("gone".into(), 1),
        ]
        .into();
        let after: Counts = [("users".into(), 2), ("orders".into(), 3), ("new".into(), 1)].into();
        let residue = compare(Cleanup::Tracked, &before, &after).unwrap_err();
        assert_eq!(residue.left_in("orders"), 3);
        assert_eq!(residue.left_in("new"), 1);
        assert_eq!(residue.left_in("gone"), 0, "fewer rows is not residue");
        assert_eq!(residue.left_in("users"), 0);
        let text = residue.to_string();
        assert!(text.contains("`orders` 0 -> 3 (+3)"), "{text}");
        assert!(compare(Cleanup::Tracked, &before, &before).is_ok());
    }
}
