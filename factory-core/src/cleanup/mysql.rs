//! MySQL and MariaDB: catalog queries, `TRUNCATE` with foreign key checks off, named locks,
//! and a database per worker.
//!
//! A worker's database is `factory_<hash>_<slot>`: a test leases the lowest slot whose named
//! lock (`GET_LOCK`) it can take, creates and migrates the database the first time, and gives
//! it back emptied. A slot whose lock is free but whose tables hold rows was left by a killed
//! process: every lease sweeps those (and empties its own slot if it holds rows).

use super::backend::{group_foreign_keys, with_database, ForeignKey, TestBackend};
use super::{Cleanup, CleanupError, Migrations};
use diesel::connection::SimpleConnection;
use diesel::mysql::{Mysql, MysqlConnection};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use diesel_migrations::MigrationHarness;

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = Text)]
    name: String,
}

#[derive(QueryableByName)]
struct NameCount {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct Number {
    #[diesel(sql_type = diesel::sql_types::Nullable<BigInt>)]
    n: Option<i64>,
}

#[derive(QueryableByName)]
struct KeyColumn {
    #[diesel(sql_type = Text)]
    child: String,
    #[diesel(sql_type = Text)]
    parent: String,
    #[diesel(sql_type = Text)]
    child_column: String,
    #[diesel(sql_type = Text)]
    parent_column: String,
    #[diesel(sql_type = Text)]
    name: String,
}

/// A leased worker database: the connection holding its slot's named lock.
pub struct MysqlLease {
    // Holds the named lock until dropped.
    _locker: MysqlConnection,
    url: String,
}

fn number(conn: &mut MysqlConnection, sql: &str) -> QueryResult<Option<i64>> {
    diesel::sql_query(sql)
        .get_result::<Number>(conn)
        .map(|r| r.n)
}

/// Empties the worker databases of this set of migrations that no live test holds and that
/// still hold rows: what killed processes left. Counted across databases on `locker`; only a
/// dirty one gets a connection of its own.
fn sweep(
    locker: &mut MysqlConnection,
    url: &str,
    hash: &str,
    leased: &str,
) -> Result<(), CleanupError> {
    let err = |step: &'static str| CleanupError::db(Cleanup::DatabasePerTest, step);
    let slots: Vec<Name> = diesel::sql_query(format!(
        "SELECT CAST(SCHEMA_NAME AS CHAR) AS name FROM information_schema.SCHEMATA \
         WHERE SCHEMA_NAME LIKE 'factory\\_{hash}\\_%'"
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
        let swept = sweep_one(locker, url, &name);
        let _ = number(locker, &format!("SELECT RELEASE_LOCK('{name}') AS n"));
        swept?;
    }
    Ok(())
}

fn sweep_one(locker: &mut MysqlConnection, url: &str, name: &str) -> Result<(), CleanupError> {
    let err = |step: &'static str| CleanupError::db(Cleanup::DatabasePerTest, step);
    let tables: Vec<Name> = diesel::sql_query(format!(
        "SELECT CAST(TABLE_NAME AS CHAR) AS name FROM information_schema.TABLES \
         WHERE TABLE_SCHEMA = {} AND TABLE_TYPE = 'BASE TABLE' \
         AND TABLE_NAME <> '__diesel_schema_migrations'",
        MysqlConnection::quote_literal(name)
    ))
    .load(locker)
    .map_err(err("list a worker database's tables"))?;
    if tables.is_empty() {
        return Ok(());
    }
    let any_rows = tables
        .iter()
        .map(|t| {
            format!(
                "EXISTS (SELECT 1 FROM {}.{})",
                MysqlConnection::quote_ident(name),
                MysqlConnection::quote_ident(&t.name)
            )
        })
        .collect::<Vec<_>>()
        .join(" OR ");
    let dirty = number(locker, &format!("SELECT CAST({any_rows} AS SIGNED) AS n"))
        .map_err(err("look for rows in a worker database"))?;
    if dirty == Some(1) {
        let mut conn = MysqlConnection::connect(&with_database(url, name)?)?;
        MysqlConnection::truncate(&mut conn, Cleanup::DatabasePerTest)?;
    }
    Ok(())
}

impl TestBackend for MysqlConnection {
    type Lease = MysqlLease;

    fn connect(url: &str) -> Result<Self, CleanupError> {
        MysqlConnection::establish(url).map_err(|source| CleanupError::Connect {
            url: url.to_owned(),
            source,
        })
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
        diesel::sql_query(
            "SELECT CAST(TABLE_NAME AS CHAR) AS name FROM information_schema.TABLES \
             WHERE TABLE_SCHEMA = DATABASE() AND TABLE_TYPE = 'BASE TABLE' \
             AND TABLE_NAME <> '__diesel_schema_migrations' ORDER BY 1",
        )
        .load::<Name>(conn)
        .map(|rows| rows.into_iter().map(|r| r.name).collect())
    }

    fn counts(conn: &mut Self, sql: &str) -> QueryResult<Vec<(String, i64)>> {
        diesel::sql_query(sql)
            .load::<NameCount>(conn)
            .map(|rows| rows.into_iter().map(|r| (r.name, r.n)).collect())
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
             ORDER BY TABLE_NAME, CONSTRAINT_NAME, ORDINAL_POSITION",
        )
        .load(conn)?;
        Ok(group_foreign_keys(rows.into_iter().map(|r| {
            (r.child, r.parent, r.child_column, r.parent_column, r.name)
        })))
    }

    fn truncate(conn: &mut Self, cleanup: Cleanup) -> Result<(), CleanupError> {
        let step = "truncate the schema's tables";
        let tables = Self::tables(conn).map_err(CleanupError::db(cleanup, step))?;
        if tables.is_empty() {
            return Ok(());
        }
        // MySQL truncates one table per statement; one round trip carries them all.
        let mut sql = String::from("SET FOREIGN_KEY_CHECKS = 0;");
        for table in &tables {
            sql.push_str(&format!(" TRUNCATE TABLE {};", Self::quote_ident(table)));
        }
        sql.push_str(" SET FOREIGN_KEY_CHECKS = 1;");
        conn.batch_execute(&sql)
            .map_err(CleanupError::db(cleanup, step))
    }

    fn migrate(conn: &mut Self, url: &str, migrations: &Migrations) -> Result<(), CleanupError> {
        let lock = format!("factory_migrate_{}", migrations.hash::<Mysql>());
        let err = |step: &'static str| CleanupError::db(Cleanup::Transaction, step);
        number(conn, &format!("SELECT GET_LOCK('{lock}', 60) AS n"))
            .map_err(err("lock the migrations"))?;
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
        let quoted = Self::quote_ident(&name);
        locker
            .batch_execute(&format!("CREATE DATABASE IF NOT EXISTS {quoted}"))
            .map_err(err("create a worker database"))?;
        let url = with_database(url, &name)?;
        let mut conn = MysqlConnection::connect(&url)?;
        conn.run_pending_migrations(migrations.source())
            .map_err(|e| CleanupError::Migrations {
                database: name.clone(),
                message: e.to_string(),
            })?;
        // Rows here were left by a process killed while it held the lease.
        let counts = super::residue::count(&mut conn, Cleanup::DatabasePerTest)?;
        if counts.values().any(|&n| n > 0) {
            Self::truncate(&mut conn, Cleanup::DatabasePerTest)?;
        }
        Ok(MysqlLease {
            _locker: locker,
            url,
        })
    }

    fn lease_url(lease: &MysqlLease) -> String {
        lease.url.clone()
    }

    fn release_database(lease: MysqlLease, conn: Option<Self>) -> Result<(), CleanupError> {
        let mut conn = match conn {
            Some(conn) => conn,
            None => MysqlConnection::connect(&lease.url)?,
        };
        Self::truncate(&mut conn, Cleanup::DatabasePerTest)
        // Dropping the lease's connection releases the slot's lock.
    }
}
