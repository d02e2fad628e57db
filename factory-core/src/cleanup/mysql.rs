//! MySQL and MariaDB: catalog queries, `TRUNCATE` with foreign key checks off, named locks,
//! and a database per worker.
//!
//! A worker's database is `<prefix>_<hash>_<slot>` (prefix `factory` unless the builder says):
//! a test leases the lowest slot whose named lock (`GET_LOCK`, named as the database) it can
//! take, creates and migrates the database the first time, and gives it back emptied. A table
//! `__factory_core_slot` in each marks it fully built, and whether its migrations inserted
//! rows: such a database is dropped and built again instead of emptied. A table
//! `__factory_core_kept` marks a failed test's database kept (its comment says when, and which
//! test): no lease takes it.
//!
//! Every lease sweeps under its prefix, each database under its lock: a slot of its set of
//! migrations whose lock is free but whose tables hold rows was left by a killed process and
//! is emptied; a kept database older than the builder allows is dropped; and so is every
//! database of another set of migrations (an older version, as a rule) whose lock is free.

use super::backend::{
    establish, group_foreign_keys, kept_long_enough, load_counts, load_names, unix_now,
    with_database, ForeignKey, KeptDatabase, KeyColumn, Name, PerTestName, TestBackend,
};
use super::{Cleanup, CleanupError, Migrations};
use diesel::connection::SimpleConnection;
use diesel::mysql::{Mysql, MysqlConnection};
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use diesel_migrations::MigrationHarness;
use std::time::Duration;

#[derive(QueryableByName)]
struct Number {
    #[diesel(sql_type = diesel::sql_types::Nullable<BigInt>)]
    n: Option<i64>,
}

/// A leased worker database: the connection holding its slot's named lock.
pub struct MysqlLease {
    // Holds the named lock until dropped.
    _locker: MysqlConnection,
    url: String,
    server: String,
    name: String,
    seeded: bool,
    /// The connection the last test of this process used, kept with the lease.
    conn: Option<MysqlConnection>,
    pool_key: String,
}

fn number(conn: &mut MysqlConnection, sql: &str) -> QueryResult<Option<i64>> {
    diesel::sql_query(sql)
        .get_result::<Number>(conn)
        .map(|r| r.n)
}

/// The table in each worker database that says it is fully built, and whether its migrations
/// left rows of their own (then it is dropped rather than emptied after a test).
const MARKER: &str = "__factory_core_slot";

/// The table that marks a failed test's database kept; its comment holds when (Unix seconds)
/// and the test's name.
const KEPT: &str = "__factory_core_kept";

/// Takes the named lock of a worker database without waiting; whether it got it.
fn try_lock(locker: &mut MysqlConnection, name: &str) -> Result<bool, CleanupError> {
    number(
        locker,
        &format!(
            "SELECT GET_LOCK({}, 0) AS n",
            MysqlConnection::quote_literal(name)
        ),
    )
    .map(|got| got == Some(1))
    .map_err(CleanupError::db(
        Cleanup::DatabasePerTest,
        "lock a worker database",
    ))
}

fn unlock(locker: &mut MysqlConnection, name: &str) {
    let _ = number(
        locker,
        &format!(
            "SELECT RELEASE_LOCK({}) AS n",
            MysqlConnection::quote_literal(name)
        ),
    );
}

fn drop_database(locker: &mut MysqlConnection, name: &str) -> QueryResult<()> {
    locker.batch_execute(&format!(
        "DROP DATABASE IF EXISTS {}",
        MysqlConnection::quote_ident(name)
    ))
}

/// A database under the prefix, and, if it is kept, its kept table's comment.
#[derive(QueryableByName)]
struct Database {
    #[diesel(sql_type = diesel::sql_types::Text)]
    name: String,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    kept: Option<String>,
}

/// The databases whose names start with `<prefix>_`, with the kept ones' notes.
fn list(locker: &mut MysqlConnection, prefix: &str) -> QueryResult<Vec<Database>> {
    let pattern = format!("{}\\_%", prefix.replace('_', "\\_"));
    diesel::sql_query(format!(
        "SELECT CAST(s.SCHEMA_NAME AS CHAR) AS name, CAST(t.TABLE_COMMENT AS CHAR) AS kept \
         FROM information_schema.SCHEMATA s LEFT JOIN information_schema.TABLES t \
         ON t.TABLE_SCHEMA = s.SCHEMA_NAME AND t.TABLE_NAME = {} \
         WHERE s.SCHEMA_NAME LIKE {} ORDER BY 1",
        MysqlConnection::quote_literal(KEPT),
        MysqlConnection::quote_literal(&pattern)
    ))
    .load(locker)
}

/// When a database was kept (Unix seconds), from its kept table's comment.
fn kept_at(note: &str) -> Option<u64> {
    note.split_whitespace().next()?.parse().ok()
}

/// What a worker database whose lock we hold is like.
#[derive(Debug, PartialEq, Eq)]
enum Slot {
    /// Missing, or half-built by a process that died.
    Unready,
    /// Its migrations inserted rows: it cannot be emptied back to them.
    Seeded,
    /// Migrated and empty.
    Clean,
    /// Holds rows a test left.
    Dirty,
    /// A failed test's database, kept: not to be leased.
    Kept,
}

fn slot_state(locker: &mut MysqlConnection, name: &str) -> Result<Slot, CleanupError> {
    let err = |step: &'static str| CleanupError::db(Cleanup::DatabasePerTest, step);
    let db = MysqlConnection::quote_literal(name);
    let tables: Vec<Name> = diesel::sql_query(format!(
        "SELECT CAST(TABLE_NAME AS CHAR) AS name FROM information_schema.TABLES \
         WHERE TABLE_SCHEMA = {db} AND TABLE_TYPE = 'BASE TABLE' \
         AND TABLE_NAME <> '__diesel_schema_migrations'"
    ))
    .load(locker)
    .map_err(err("list a worker database's tables"))?;
    if tables.iter().any(|t| t.name == KEPT) {
        return Ok(Slot::Kept);
    }
    if !tables.iter().any(|t| t.name == MARKER) {
        return Ok(Slot::Unready);
    }
    let quoted = MysqlConnection::quote_ident(name);
    let seeded = number(
        locker,
        &format!(
            "SELECT CAST(MAX(seeded) AS SIGNED) AS n FROM {quoted}.{}",
            MysqlConnection::quote_ident(MARKER)
        ),
    )
    .map_err(err("read a worker database's marker"))?;
    if seeded == Some(1) {
        return Ok(Slot::Seeded);
    }
    let any_rows: Vec<String> = tables
        .iter()
        .filter(|t| t.name != MARKER)
        .map(|t| {
            format!(
                "EXISTS (SELECT 1 FROM {quoted}.{})",
                MysqlConnection::quote_ident(&t.name)
            )
        })
        .collect();
    if any_rows.is_empty() {
        return Ok(Slot::Clean);
    }
    let dirty = number(
        locker,
        &format!("SELECT CAST({} AS SIGNED) AS n", any_rows.join(" OR ")),
    )
    .map_err(err("look for rows in a worker database"))?;
    Ok(if dirty == Some(1) {
        Slot::Dirty
    } else {
        Slot::Clean
    })
}

/// Creates and migrates a worker database from nothing, then marks it built.
fn build_slot(
    locker: &mut MysqlConnection,
    url: &str,
    name: &str,
    migrations: &Migrations,
) -> Result<(), CleanupError> {
    let err = |step: &'static str| CleanupError::db(Cleanup::DatabasePerTest, step);
    let quoted = MysqlConnection::quote_ident(name);
    locker
        .batch_execute(&format!(
            "DROP DATABASE IF EXISTS {quoted}; CREATE DATABASE {quoted}"
        ))
        .map_err(err("create a worker database"))?;
    let mut conn = MysqlConnection::connect(&with_database(url, name)?)?;
    conn.run_pending_migrations(migrations.source())
        .map_err(|e| CleanupError::Migrations {
            database: name.to_owned(),
            message: e.to_string(),
        })?;
    let counts = super::residue::count(&mut conn, Cleanup::DatabasePerTest)?;
    let seeded = i32::from(counts.values().any(|&n| n > 0));
    conn.batch_execute(&format!(
        "CREATE TABLE {marker} (seeded INT NOT NULL); INSERT INTO {marker} VALUES ({seeded})",
        marker = MysqlConnection::quote_ident(MARKER)
    ))
    .map_err(err("mark a worker database built"))
}

/// Brings a worker database whose lock we hold to the state of a fresh one.
fn reset_slot(
    locker: &mut MysqlConnection,
    url: &str,
    name: &str,
    migrations: Option<&Migrations>,
) -> Result<(), CleanupError> {
    let drop_it = |locker: &mut MysqlConnection| {
        locker
            .batch_execute(&format!(
                "DROP DATABASE IF EXISTS {}",
                MysqlConnection::quote_ident(name)
            ))
            .map_err(CleanupError::db(
                Cleanup::DatabasePerTest,
                "drop a worker database",
            ))
    };
    match (slot_state(locker, name)?, migrations) {
        (Slot::Clean | Slot::Kept, _) => Ok(()),
        (Slot::Dirty, _) => {
            let mut conn = MysqlConnection::connect(&with_database(url, name)?)?;
            MysqlConnection::truncate(&mut conn, Cleanup::DatabasePerTest, &[])
        }
        (Slot::Unready | Slot::Seeded, Some(migrations)) => {
            build_slot(locker, url, name, migrations)
        }
        (Slot::Unready | Slot::Seeded, None) => drop_it(locker),
    }
}

/// What one lease's sweep looks at: the set of migrations the lease is for.
struct SweepFor<'a> {
    url: &'a str,
    prefix: &'a str,
    hash: &'a str,
    /// The database the sweeping lease holds.
    leased: &'a str,
    kept_for: Duration,
}

/// Sweeps under the lease's prefix, each database under its lock (one a live test holds is
/// left alone): empties this set's slots that hold rows (what killed processes left), drops
/// kept databases older than `kept_for`, and drops the databases of other sets of migrations.
/// Looked at across databases on `locker`; only a dirty one gets a connection of its own.
fn sweep(locker: &mut MysqlConnection, to: &SweepFor<'_>) -> Result<(), CleanupError> {
    let databases = list(locker, to.prefix).map_err(CleanupError::db(
        Cleanup::DatabasePerTest,
        "list the worker databases",
    ))?;
    for Database { name, kept } in databases {
        let Some(parsed) = PerTestName::parse(to.prefix, &name) else {
            continue;
        };
        let due = kept
            .as_deref()
            .map(|note| kept_at(note).is_none_or(|at| kept_long_enough(at, to.kept_for)));
        let ours = parsed.hash() == to.hash;
        if name == to.leased || due == Some(false) || !try_lock(locker, &name)? {
            continue; // ours, kept for a while yet, or a live test holds it
        }
        let swept = if due == Some(true) || !ours {
            // A database someone is connected to may refuse; a later sweep tries again.
            let _ = drop_database(locker, &name);
            Ok(())
        } else {
            reset_slot(locker, to.url, &name, None)
        };
        unlock(locker, &name);
        swept?;
    }
    Ok(())
}

impl TestBackend for MysqlConnection {
    type Lease = MysqlLease;
    const DRIVER: super::local::Driver = super::local::Driver::MysqlClient;

    fn connect(url: &str) -> Result<Self, CleanupError> {
        establish(url)
    }

    fn bound_lock_waits(wait: std::time::Duration) -> (String, Option<String>) {
        // Whole seconds, at least one: the server's unit. Row locks and metadata locks both.
        let secs = wait.as_secs().max(1);
        (
            format!(
                "SET SESSION innodb_lock_wait_timeout = {secs}; \
                 SET SESSION lock_wait_timeout = {secs}"
            ),
            Some(
                "SET SESSION innodb_lock_wait_timeout = DEFAULT; \
                 SET SESSION lock_wait_timeout = DEFAULT"
                    .to_owned(),
            ),
        )
    }

    fn execute_bound(
        conn: &mut Self,
        statement: super::key::Statement<Self::Backend>,
    ) -> Result<(), diesel::result::Error> {
        diesel::RunQueryDsl::execute(statement, conn).map(drop)
    }

    fn quote_ident(name: &str) -> String {
        format!("`{}`", name.replace('`', "``"))
    }

    fn quote_literal(value: &str) -> String {
        format!("'{}'", value.replace('\\', "\\\\").replace('\'', "''"))
    }

    fn deletable_subquery(select: String) -> String {
        // MySQL refuses a DELETE whose subquery reads the same table, unless the subquery is
        // materialised as a derived table first.
        format!("SELECT * FROM ({select}) AS factory_keys")
    }

    fn tables(conn: &mut Self) -> QueryResult<Vec<String>> {
        load_names(
            conn,
            "SELECT CAST(TABLE_NAME AS CHAR) AS name FROM information_schema.TABLES \
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE' \
             AND TABLE_NAME <> '__diesel_schema_migrations' \
             AND TABLE_NAME NOT IN ('__factory_core_slot', '__factory_core_kept') ORDER BY 1",
        )
    }

    fn counts(conn: &mut Self, sql: &str) -> QueryResult<Vec<(String, i64)>> {
        load_counts(conn, sql)
    }

    fn foreign_keys(conn: &mut Self) -> QueryResult<Vec<ForeignKey>> {
        let rows: Vec<KeyColumn> = diesel::sql_query(
            "SELECT CAST(TABLE_NAME AS CHAR) AS child, \
                    CAST(REFERENCED_TABLE_NAME AS CHAR) AS parent, \
                    CAST(COLUMN_NAME AS CHAR) AS child_column, \
                    CAST(REFERENCED_COLUMN_NAME AS CHAR) AS parent_column, \
                    CAST(CONSTRAINT_NAME AS CHAR) AS name \
             FROM information_schema.KEY_COLUMN_USAGE \
             WHERE TABLE_SCHEMA = DATABASE() AND REFERENCED_TABLE_NAME IS NOT NULL \
                 AND REFERENCED_TABLE_SCHEMA = DATABASE() \
             ORDER BY TABLE_NAME, CONSTRAINT_NAME, ORDINAL_POSITION",
        )
        .load(conn)?;
        Ok(group_foreign_keys(rows))
    }

    fn truncate(conn: &mut Self, cleanup: Cleanup, keep: &[String]) -> Result<(), CleanupError> {
        let step = "truncate the schema's tables";
        let mut tables = Self::tables(conn).map_err(CleanupError::db(cleanup, step))?;
        tables.retain(|t| !keep.contains(t));
        if tables.is_empty() {
            return Ok(());
        }
        // TRUNCATE recreates the table, a cost worth skipping for the tables a test left
        // empty (their AUTO_INCREMENT may have moved; ids are not promised).
        let probe = tables
            .iter()
            .map(|t| {
                format!(
                    "SELECT {} AS name FROM DUAL WHERE EXISTS (SELECT 1 FROM {})",
                    Self::quote_literal(t),
                    Self::quote_ident(t)
                )
            })
            .collect::<Vec<_>>()
            .join(" UNION ALL ");
        let with_rows: Vec<Name> = diesel::sql_query(probe)
            .load(conn)
            .map_err(CleanupError::db(cleanup, step))?;
        tables.retain(|t| with_rows.iter().any(|n| n.name == *t));
        if tables.is_empty() {
            return Ok(());
        }
        // MySQL truncates one table per statement; one round trip carries them all.
        let mut sql =
            String::from("SET SESSION lock_wait_timeout = 15; SET FOREIGN_KEY_CHECKS = 0;");
        for table in &tables {
            sql.push_str(&format!(" TRUNCATE TABLE {};", Self::quote_ident(table)));
        }
        sql.push_str(" SET FOREIGN_KEY_CHECKS = 1; SET SESSION lock_wait_timeout = DEFAULT;");
        conn.batch_execute(&sql).map_err(|e| {
            // The connection may be kept for a later test: never with checks off.
            let _ = conn.batch_execute(
                "SET FOREIGN_KEY_CHECKS = 1; SET SESSION lock_wait_timeout = DEFAULT",
            );
            CleanupError::db(cleanup, step)(e)
        })
    }

    fn migrate(
        conn: &mut Self,
        url: &str,
        migrations: &Migrations,
        cleanup: Cleanup,
    ) -> Result<(), CleanupError> {
        let lock = format!("factory_migrate_{}", migrations.hash::<Mysql>());
        let err = |step: &'static str| CleanupError::db(cleanup, step);
        let got = number(conn, &format!("SELECT GET_LOCK('{lock}', 60) AS n"))
            .map_err(err("lock the migrations"))?;
        if got != Some(1) {
            return Err(CleanupError::Usage(format!(
                "another process held the migrations lock `{lock}` for 60 s; is a migration stuck?"
            )));
        }
        let ran = conn
            .run_pending_migrations(migrations.source())
            .map(drop)
            .map_err(|e| CleanupError::Migrations {
                database: url.to_owned(),
                message: e.to_string(),
            });
        let unlocked = number(conn, &format!("SELECT RELEASE_LOCK('{lock}') AS n"));
        ran?;
        unlocked.map(drop).map_err(err("unlock the migrations"))
    }

    fn lease_database(
        url: &str,
        migrations: &Migrations,
        prefix: &str,
        kept_for: Duration,
    ) -> Result<MysqlLease, CleanupError> {
        let hash = migrations.hash::<Mysql>();
        let pool_key = format!("{url}\u{0}{prefix}\u{0}{hash}");
        if let Some(mut lease) = super::pool::take::<MysqlLease>(&pool_key) {
            // Emptied by its last test and still locked; what a killed test process left is
            // swept at every start, pooled or not.
            let to = SweepFor {
                url,
                prefix,
                hash: &hash,
                leased: &lease.name,
                kept_for,
            };
            sweep(&mut lease._locker, &to)?;
            return Ok(lease);
        }
        let mut locker = MysqlConnection::connect(url)?;
        let mut slot = 0;
        let name = loop {
            let name = format!("{prefix}_{hash}_{slot}");
            if try_lock(&mut locker, &name)? {
                if slot_state(&mut locker, &name)? != Slot::Kept {
                    break name;
                }
                // A failed test's kept database: its slot stays taken until a sweep drops it.
                unlock(&mut locker, &name);
            }
            slot += 1;
        };
        let to = SweepFor {
            url,
            prefix,
            hash: &hash,
            leased: &name,
            kept_for,
        };
        sweep(&mut locker, &to)?;
        reset_slot(&mut locker, url, &name, Some(migrations))?;
        let seeded = slot_state(&mut locker, &name)? == Slot::Seeded;
        Ok(MysqlLease {
            _locker: locker,
            url: with_database(url, &name)?,
            server: url.to_owned(),
            name,
            seeded,
            conn: None,
            pool_key,
        })
    }

    fn lease_url(lease: &MysqlLease) -> String {
        lease.url.clone()
    }

    fn release_database(mut lease: MysqlLease, conn: Option<Self>) -> Result<(), CleanupError> {
        if lease.seeded {
            // Rows its migrations inserted cannot be told from the test's: drop it; the
            // next lease builds it again.
            drop(conn);
            return reset_slot(&mut lease._locker, &lease.server, &lease.name, None);
        }
        let mut conn = match conn {
            Some(conn) => conn,
            None => MysqlConnection::connect(&lease.url)?,
        };
        Self::truncate(&mut conn, Cleanup::DatabasePerTest, &[])?;
        // Emptied and still locked: the next test of this process takes it as it is.
        lease.conn = Some(conn);
        let key = lease.pool_key.clone();
        super::pool::put(&key, lease);
        Ok(())
    }

    fn lease_connection(lease: &mut MysqlLease) -> Result<Self, CleanupError> {
        match lease.conn.take() {
            Some(conn) => Ok(conn),
            None => MysqlConnection::connect(&lease.url),
        }
    }

    fn keep_database(
        mut lease: MysqlLease,
        conn: Option<Self>,
        test: &str,
    ) -> Result<KeptDatabase, CleanupError> {
        drop(conn);
        let note = format!("{} {test}", unix_now());
        // A table comment holds 2048 characters.
        let note: String = note.chars().take(2000).collect();
        lease
            ._locker
            .batch_execute(&format!(
                "CREATE TABLE {}.{} (kept INT) COMMENT = {}",
                Self::quote_ident(&lease.name),
                Self::quote_ident(KEPT),
                Self::quote_literal(&note)
            ))
            .map_err(CleanupError::db(
                Cleanup::DatabasePerTest,
                "mark a failed test's database kept",
            ))?;
        Ok(KeptDatabase {
            name: lease.name,
            url: lease.url,
        })
        // Dropping the locker releases the slot's lock; the kept table keeps leases off it.
    }

    fn sweep_kept(
        url: &str,
        prefix: &str,
        older_than: Duration,
    ) -> Result<Vec<String>, CleanupError> {
        let mut locker = MysqlConnection::connect(url)?;
        let databases = list(&mut locker, prefix).map_err(CleanupError::db(
            Cleanup::DatabasePerTest,
            "list the worker databases",
        ))?;
        let mut dropped = Vec::new();
        for Database { name, kept } in databases {
            let due = kept.as_deref().is_some_and(|note| {
                kept_at(note).is_none_or(|at| kept_long_enough(at, older_than))
            });
            if !due || PerTestName::parse(prefix, &name).is_none() || !try_lock(&mut locker, &name)?
            {
                continue;
            }
            let result = drop_database(&mut locker, &name);
            unlock(&mut locker, &name);
            result.map_err(CleanupError::db(
                Cleanup::DatabasePerTest,
                format!("drop the kept database `{name}`"),
            ))?;
            dropped.push(name);
        }
        Ok(dropped)
    }
}
