//! MySQL and MariaDB: catalog queries, `TRUNCATE` with foreign key checks off, named locks,
//! and a database per worker.
//!
//! A worker's database is `factory_<hash>_<slot>`: a test leases the lowest slot whose named
//! lock (`GET_LOCK`) it can take, creates and migrates the database the first time, and gives
//! it back emptied. A slot whose lock is free but whose tables hold rows was left by a killed
//! process: every lease sweeps those (and empties its own slot if it holds rows). A table
//! `__factory_core_slot` in each marks it fully built, and whether its migrations inserted
//! rows: such a database is dropped and built again instead of emptied.

use super::backend::{
    establish, group_foreign_keys, load_counts, load_names, with_database, ForeignKey, KeyColumn,
    Name, TestBackend,
};
use super::{Cleanup, CleanupError, Migrations};
use diesel::connection::SimpleConnection;
use diesel::mysql::{Mysql, MysqlConnection};
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use diesel_migrations::MigrationHarness;

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
        (Slot::Clean, _) => Ok(()),
        (Slot::Dirty, _) => {
            let mut conn = MysqlConnection::connect(&with_database(url, name)?)?;
            MysqlConnection::truncate(&mut conn, Cleanup::DatabasePerTest)
        }
        (Slot::Unready | Slot::Seeded, Some(migrations)) => {
            build_slot(locker, url, name, migrations)
        }
        (Slot::Unready | Slot::Seeded, None) => drop_it(locker),
    }
}

/// Resets the worker databases of this set of migrations that no live test holds: what killed
/// processes left. Looked at across databases on `locker`; only a dirty one gets a
/// connection of its own.
fn sweep(
    locker: &mut MysqlConnection,
    url: &str,
    hash: &str,
    leased: &str,
) -> Result<(), CleanupError> {
    let err = |step: &'static str| CleanupError::db(Cleanup::DatabasePerTest, step);
    let slots: Vec<Name> = diesel::sql_query(format!(
        "SELECT CAST(SCHEMA_NAME AS CHAR) AS name FROM information_schema.SCHEMATA \
         WHERE SCHEMA_NAME LIKE 'factory\\\\_{hash}\\\\_%'"
    ))
    .load(locker)
    .map_err(err("list the worker databases"))?;
    for Name { name } in slots {
        if name == leased {
            continue;
        }
        let got = number(locker, &format!("SELECT GET_LOCK('{name}', 0) AS n"))
            .map_err(err("lock a worker database"))?;
        if got != Some(1) {
            continue; // a live test holds it
        }
        let swept = reset_slot(locker, url, &name, None);
        let _ = number(locker, &format!("SELECT RELEASE_LOCK('{name}') AS n"));
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
             AND TABLE_NAME <> '__factory_core_slot' ORDER BY 1",
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

    fn truncate(conn: &mut Self, cleanup: Cleanup) -> Result<(), CleanupError> {
        let step = "truncate the schema's tables";
        let mut tables = Self::tables(conn).map_err(CleanupError::db(cleanup, step))?;
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

    fn lease_database(url: &str, migrations: &Migrations) -> Result<MysqlLease, CleanupError> {
        let hash = migrations.hash::<Mysql>();
        let pool_key = format!("{url}\u{0}{hash}");
        if let Some(mut lease) = super::pool::take::<MysqlLease>(&pool_key) {
            // Emptied by its last test and still locked; what a killed test process left is
            // swept at every start, pooled or not.
            sweep(&mut lease._locker, url, &hash, &lease.name)?;
            return Ok(lease);
        }
        let err = |step: &'static str| CleanupError::db(Cleanup::DatabasePerTest, step);
        let mut locker = MysqlConnection::connect(url)?;
        let mut slot = 0;
        let name = loop {
            let name = format!("factory_{hash}_{slot}");
            let got = number(&mut locker, &format!("SELECT GET_LOCK('{name}', 0) AS n"))
                .map_err(err("lease a worker database"))?;
            if got == Some(1) {
                break name;
            }
            slot += 1;
        };
        sweep(&mut locker, url, &hash, &name)?;
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
        Self::truncate(&mut conn, Cleanup::DatabasePerTest)?;
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
}
