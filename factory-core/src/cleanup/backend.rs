//! What a backend provides for test databases: its SQL dialect, its catalog, its locks and its
//! per-test databases. One implementation per connection type, in `cleanup/<backend>.rs`.

use super::{Cleanup, CleanupError, Migrations};
use diesel::connection::{AnsiTransactionManager, TransactionManager};
use diesel::prelude::QueryableByName;
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel::sql_types::{BigInt, Nullable, Text};
use diesel::Connection;
use std::time::{Duration, SystemTime};

/// A foreign key: `child(child_columns)` references `parent(parent_columns)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ForeignKey {
    /// The referencing table.
    pub child: String,
    /// Its columns, in key order.
    pub child_columns: Vec<String>,
    /// The referenced table.
    pub parent: String,
    /// The referenced columns, in key order.
    pub parent_columns: Vec<String>,
}

/// A connection type [`TestDb`](super::TestDb) can manage. Implemented for `SqliteConnection`,
/// `PgConnection` and `MysqlConnection` when their features are on; sealed.
pub trait TestBackend:
    sealed::Sealed + Connection<TransactionManager = AnsiTransactionManager> + Send + Sized + 'static
{
    /// What a per-test database holds on to while the test runs (its locks, its name).
    type Lease;

    /// The driver that reads this connection's strings: the remote guard and the password
    /// redaction read them as it does.
    const DRIVER: super::local::Driver;

    /// Opens a connection as tests need it (SQLite: foreign keys on, a busy timeout).
    fn connect(url: &str) -> Result<Self, CleanupError>;

    /// `name` quoted as an identifier.
    fn quote_ident(name: &str) -> String;

    /// Runs a statement whose binds are set.
    fn execute_bound(
        conn: &mut Self,
        statement: super::key::Statement<Self::Backend>,
    ) -> Result<(), DieselError>;

    /// The `n`th bind parameter of a statement (from 1): `?`, or PostgreSQL's `$n`.
    fn placeholder(n: usize) -> String {
        let _ = n;
        "?".to_owned()
    }

    /// `value` quoted as a string literal (the database converts it to the column's type).
    fn quote_literal(value: &str) -> String {
        format!("'{}'", value.replace('\'', "''"))
    }

    /// Wraps a subquery that a `DELETE` may read its own table through (MySQL refuses the
    /// plain form).
    fn deletable_subquery(select: String) -> String {
        select
    }

    /// The schema's tables, but Diesel's migrations bookkeeping.
    fn tables(conn: &mut Self) -> Result<Vec<String>, DieselError>;

    /// Runs a `SELECT <name>, <count>` query; returns the pairs.
    fn counts(conn: &mut Self, sql: &str) -> Result<Vec<(String, i64)>, DieselError>;

    /// The schema's foreign keys.
    fn foreign_keys(conn: &mut Self) -> Result<Vec<ForeignKey>, DieselError>;

    /// The statement that makes this session's waits for a lock end after `wait` (run inside
    /// the cleanup's transaction), and the one that undoes it afterwards, if it outlives the
    /// transaction.
    fn bound_lock_waits(wait: std::time::Duration) -> (String, Option<String>);

    /// Whether the backend locks rows (PostgreSQL, InnoDB), so that a wait names a table;
    /// SQLite locks the whole file.
    fn locks_rows() -> bool {
        true
    }

    /// Runs one statement.
    fn execute(conn: &mut Self, sql: &str) -> Result<(), DieselError> {
        diesel::connection::SimpleConnection::batch_execute(conn, sql)
    }

    /// Empties every table of the schema but the migrations bookkeeping and the tables in
    /// `keep` (which [`TestDbBuilder::keep_tables`](super::TestDbBuilder::keep_tables) checked:
    /// none of them references a table that is emptied).
    fn truncate(conn: &mut Self, cleanup: Cleanup, keep: &[String]) -> Result<(), CleanupError>;

    /// Applies pending migrations to the database at `url`, under a lock that parallel test
    /// processes share.
    fn migrate(
        conn: &mut Self,
        url: &str,
        migrations: &Migrations,
        cleanup: Cleanup,
    ) -> Result<(), CleanupError>;

    /// Leases a clean, migrated database of the test's own on the server `url` names, named
    /// after `prefix`. On the way it sweeps what earlier runs left under the same prefix:
    /// databases of killed tests, databases of other migrations that no live process holds,
    /// and kept databases older than `kept_for`.
    fn lease_database(
        url: &str,
        migrations: &Migrations,
        prefix: &str,
        kept_for: Duration,
    ) -> Result<Self::Lease, CleanupError>;

    /// The URL of a leased database.
    fn lease_url(lease: &Self::Lease) -> String;

    /// A connection to a leased database (one the lease kept from its last test, if any).
    fn lease_connection(lease: &mut Self::Lease) -> Result<Self, CleanupError> {
        Self::connect(&Self::lease_url(lease))
    }

    /// Gives a leased database back, emptied (through `conn`, the handle's connection, when
    /// it is still fit to use).
    fn release_database(lease: Self::Lease, conn: Option<Self>) -> Result<(), CleanupError>;

    /// Keeps a leased database as the failed test left it: no later test leases it, and a
    /// sweep drops it (see [`TestDbBuilder::keep_failed`](super::TestDbBuilder::keep_failed)).
    /// `test` names the test, for whoever looks at the database later. Returns the kept
    /// database: its name and its URL.
    fn keep_database(
        lease: Self::Lease,
        conn: Option<Self>,
        test: &str,
    ) -> Result<KeptDatabase, CleanupError>;

    /// Drops the databases kept under `prefix` on the server `url` names that were kept
    /// longer ago than `older_than` (all of them for [`Duration::ZERO`]); returns their names.
    fn sweep_kept(
        url: &str,
        prefix: &str,
        older_than: Duration,
    ) -> Result<Vec<String>, CleanupError>;

    /// Whether `url` names a database only the handle's own connection can see (SQLite's
    /// `:memory:`): cleanup then runs on that connection and the residue check is moot.
    fn is_private(url: &str) -> bool {
        let _ = url;
        false
    }

    /// Whether the connection is inside a transaction.
    fn in_transaction(conn: &mut Self) -> bool {
        AnsiTransactionManager::transaction_manager_status_mut(conn)
            .transaction_depth()
            .map_or(true, |depth| depth.is_some())
    }
}

/// A failed test's per-test database, kept for a look: see
/// [`TestDbBuilder::keep_failed`](super::TestDbBuilder::keep_failed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeptDatabase {
    /// The database's name (SQLite: its file name).
    pub name: String,
    /// A connection string for it (SQLite: the file's path).
    pub url: String,
}

/// Seconds since the Unix epoch: when a database was kept.
pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Whether something kept at `kept_at` (Unix seconds) is older than `older_than`.
pub(crate) fn kept_long_enough(kept_at: u64, older_than: Duration) -> bool {
    older_than.is_zero() || unix_now().saturating_sub(kept_at) >= older_than.as_secs()
}

/// What a per-test database's name says, read back under one prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum PerTestName {
    /// `<prefix>_<hash>_<slot>`: a test's database.
    Slot { hash: String, slot: i32 },
    /// `<prefix>_tpl_<hash>`: the template the slots are cloned from.
    Template { hash: String },
    /// `<prefix>_tpl_<hash>_build`: a template being built.
    Build { hash: String },
}

impl PerTestName {
    /// The hash of the migrations the database was made from.
    #[cfg_attr(not(any(feature = "postgres", feature = "mysql")), allow(dead_code))]
    pub(crate) fn hash(&self) -> &str {
        match self {
            Self::Slot { hash, .. } | Self::Template { hash } | Self::Build { hash } => hash,
        }
    }

    /// Reads `name` as one of the names made under `prefix`; `None` for any other name
    /// (another prefix's, one that merely starts the same way).
    pub(crate) fn parse(prefix: &str, name: &str) -> Option<Self> {
        let rest = name.strip_prefix(prefix)?.strip_prefix('_')?;
        let is_hash = |s: &str| s.len() == 12 && s.bytes().all(|b| b.is_ascii_hexdigit());
        if let Some(template) = rest.strip_prefix("tpl_") {
            let (hash, build) = match template.strip_suffix("_build") {
                Some(hash) => (hash, true),
                None => (template, false),
            };
            if !is_hash(hash) {
                return None;
            }
            let hash = hash.to_owned();
            return Some(if build {
                Self::Build { hash }
            } else {
                Self::Template { hash }
            });
        }
        let (hash, slot) = rest.split_once('_')?;
        let slot_ok = !slot.is_empty() && slot.bytes().all(|b| b.is_ascii_digit());
        (is_hash(hash) && slot_ok).then(|| Self::Slot {
            hash: hash.to_owned(),
            slot: slot.parse().unwrap_or(i32::MAX),
        })
    }
}

/// Checks a per-test database name prefix: a lowercase letter, then up to 29 lowercase
/// letters, digits and underscores, so that every name made from it is a plain identifier
/// within PostgreSQL's and MySQL's length limits.
pub(crate) fn check_prefix(prefix: &str) -> Result<(), CleanupError> {
    let mut bytes = prefix.bytes();
    let ok = prefix.len() <= 30
        && bytes.next().is_some_and(|b| b.is_ascii_lowercase())
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(CleanupError::Usage(format!(
            "the per-test database prefix `{prefix}` must be a lowercase letter followed by at \
             most 29 lowercase letters, digits or underscores"
        )))
    }
}

/// Whether retrying the statement may succeed: a deadlock or serialization failure, or SQLite
/// being busy.
pub(crate) fn is_retryable(error: &DieselError) -> bool {
    match error {
        DieselError::DatabaseError(DatabaseErrorKind::SerializationFailure, _) => true,
        DieselError::DatabaseError(_, info) => {
            let message = info.message().to_ascii_lowercase();
            message.contains("deadlock") || message.contains("database is locked")
        }
        _ => false,
    }
}

/// Whether `error` is a wait for a lock that ran out: PostgreSQL's `lock_timeout`, InnoDB's
/// `innodb_lock_wait_timeout`, SQLite's busy timeout.
pub(crate) fn is_lock_timeout(error: &DieselError) -> bool {
    match error {
        DieselError::DatabaseError(_, info) => {
            let message = info.message().to_ascii_lowercase();
            message.contains("lock timeout")
                || message.contains("lock wait timeout")
                || message.contains("database is locked")
        }
        _ => false,
    }
}

/// A connection to `url`, its failure named after the URL (passwords hidden, in the driver's
/// message too).
pub(crate) fn establish<C: TestBackend>(url: &str) -> Result<C, CleanupError> {
    C::establish(url).map_err(|source| CleanupError::Connect {
        url: super::local::redact(url),
        source: super::local::redact_connection_error::<C>(url, source),
    })
}

/// The `name` column of every row `sql` returns.
pub(crate) fn load_names<C>(conn: &mut C, sql: &str) -> Result<Vec<String>, DieselError>
where
    for<'a> diesel::query_builder::SqlQuery: diesel::query_dsl::LoadQuery<'a, C, Name>,
{
    diesel::RunQueryDsl::load::<Name>(diesel::sql_query(sql), conn)
        .map(|rows| rows.into_iter().map(|r| r.name).collect())
}

/// The `(name, n)` pairs of every row `sql` returns.
pub(crate) fn load_counts<C>(conn: &mut C, sql: &str) -> Result<Vec<(String, i64)>, DieselError>
where
    for<'a> diesel::query_builder::SqlQuery: diesel::query_dsl::LoadQuery<'a, C, NameCount>,
{
    diesel::RunQueryDsl::load::<NameCount>(diesel::sql_query(sql), conn)
        .map(|rows| rows.into_iter().map(|r| (r.name, r.n)).collect())
}

/// A name the catalog gives (a table, a database).
#[derive(QueryableByName)]
pub(crate) struct Name {
    #[diesel(sql_type = Text)]
    pub(crate) name: String,
}

/// A name and a number: a table and its rows.
#[derive(QueryableByName)]
pub(crate) struct NameCount {
    #[diesel(sql_type = Text)]
    pub(crate) name: String,
    #[diesel(sql_type = BigInt)]
    pub(crate) n: i64,
}

/// One column of a foreign key as the catalogs list it. `parent_column` is NULL only on SQLite,
/// for a key that references the parent's primary key without naming it.
#[derive(QueryableByName)]
pub(crate) struct KeyColumn {
    #[diesel(sql_type = Text)]
    pub(crate) child: String,
    #[diesel(sql_type = Text)]
    pub(crate) parent: String,
    #[diesel(sql_type = Text)]
    pub(crate) child_column: String,
    #[diesel(sql_type = Nullable<Text>)]
    pub(crate) parent_column: Option<String>,
    /// The constraint (on SQLite, its number).
    #[diesel(sql_type = Text)]
    pub(crate) name: String,
}

/// Groups catalog rows, ordered by constraint and position, into foreign keys.
pub(crate) fn group_foreign_keys(rows: impl IntoIterator<Item = KeyColumn>) -> Vec<ForeignKey> {
    let mut keys: Vec<(String, ForeignKey)> = Vec::new();
    for row in rows {
        let KeyColumn {
            child,
            parent,
            child_column,
            parent_column,
            name,
        } = row;
        let parent_column = parent_column.unwrap_or_default();
        let id = format!("{child}\u{0}{name}");
        match keys.last_mut() {
            Some((last, key)) if *last == id => {
                key.child_columns.push(child_column);
                key.parent_columns.push(parent_column);
            }
            _ => keys.push((
                id,
                ForeignKey {
                    child,
                    child_columns: vec![child_column],
                    parent,
                    parent_columns: vec![parent_column],
                },
            )),
        }
    }
    keys.into_iter().map(|(_, key)| key).collect()
}

/// `url` with its path (the database name) replaced by `database`.
#[cfg(any(feature = "postgres", feature = "mysql"))]
pub(crate) fn with_database(url: &str, database: &str) -> Result<String, CleanupError> {
    let mut parsed = url::Url::parse(url).map_err(|e| {
        CleanupError::Usage(format!(
            "Cleanup::DatabasePerTest needs a database URL (scheme://user@host/database), got \
             `{}`: {e}",
            super::local::redact(url)
        ))
    })?;
    parsed.set_path(&format!("/{database}"));
    // libpq's `?dbname=` would win over the path.
    let query: Vec<(String, String)> = parsed
        .query_pairs()
        .filter(|(k, _)| k != "dbname")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    if query.is_empty() {
        parsed.set_query(None);
    } else {
        parsed.query_pairs_mut().clear().extend_pairs(query);
    }
    Ok(parsed.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_test_names_are_read_back_under_their_prefix_only() {
        let hash = "0123456789ab";
        assert_eq!(
            PerTestName::parse("factory", &format!("factory_{hash}_12")),
            Some(PerTestName::Slot {
                hash: hash.into(),
                slot: 12
            })
        );
        assert_eq!(
            PerTestName::parse("factory", &format!("factory_tpl_{hash}")),
            Some(PerTestName::Template { hash: hash.into() })
        );
        assert_eq!(
            PerTestName::parse("factory", &format!("factory_tpl_{hash}_build")),
            Some(PerTestName::Build { hash: hash.into() })
        );
        // Another prefix that starts the same way is not ours.
        for other in [
            format!("factory_app_{hash}_1"),
            format!("factory_app_tpl_{hash}"),
            format!("factory_tpl_app_{hash}"),
            format!("factory_{hash}_1_x"),
            format!("factory_{hash}x_1"),
            "factoryx_0123456789ab_1".to_owned(),
            "factory_test".to_owned(),
        ] {
            assert_eq!(PerTestName::parse("factory", &other), None, "{other}");
        }
        assert_eq!(
            PerTestName::parse("factory_app", &format!("factory_app_{hash}_1")),
            Some(PerTestName::Slot {
                hash: hash.into(),
                slot: 1
            })
        );
    }

    #[test]
    fn prefixes_are_plain_short_identifiers() {
        for good in ["factory", "a", "my_app_2", &"a".repeat(30)] {
            assert!(check_prefix(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "1app",
            "App",
            "my-app",
            "app;drop",
            &"a".repeat(31),
            "_x",
        ] {
            assert!(check_prefix(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn foreign_key_rows_group_by_constraint_in_order() {
        let row = |c: &str, p: &str, cc: &str, pc: &str, n: &str| KeyColumn {
            child: c.into(),
            parent: p.into(),
            child_column: cc.into(),
            parent_column: Some(pc.into()),
            name: n.into(),
        };
        let keys = group_foreign_keys([
            row("items", "orders", "order_id", "id", "fk1"),
            row("items", "products", "product_id", "id", "fk2"),
            row("pairs", "items", "a", "order_id", "fk3"),
            row("pairs", "items", "b", "product_id", "fk3"),
        ]);
        assert_eq!(keys.len(), 3);
        assert_eq!(keys[2].child_columns, ["a", "b"]);
        assert_eq!(keys[2].parent_columns, ["order_id", "product_id"]);
        assert_eq!(keys[1].parent, "products");
    }
}

pub(crate) mod sealed {
    /// Keeps [`TestBackend`](super::TestBackend) to the connections this crate implements it for.
    pub trait Sealed {}
    #[cfg(feature = "sqlite")]
    impl Sealed for diesel::sqlite::SqliteConnection {}
    #[cfg(feature = "postgres")]
    impl Sealed for diesel::pg::PgConnection {}
    #[cfg(feature = "mysql")]
    impl Sealed for diesel::mysql::MysqlConnection {}
}
