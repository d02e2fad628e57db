//! PostgreSQL: catalog queries, one-statement `TRUNCATE` (of the tables that hold rows),
//! advisory locks, and per-test databases cloned from a migrated template and recycled.
//!
//! A test's database is `<prefix>_<hash>_<slot>` (prefix `factory` unless the builder says),
//! cloned once from `<prefix>_tpl_<hash>` (built under an advisory lock by the first process
//! that needs it) and then reused: a test leases the lowest slot whose advisory lock it can
//! take on a maintenance connection, and gives it back emptied (`DELETE` in foreign-key order,
//! sequences reset); the process keeps it for its next test. Dropping a database costs more
//! than a test should wait; emptying one takes a millisecond or two. A template whose
//! migrations insert rows is marked so, and its copies are dropped and cloned again instead.
//!
//! The database comment says what a database is: "in use" while leased, "clean" when given
//! back, "kept" (with when and by which test) when a failed test's database was kept. Every
//! lease sweeps under its prefix: a slot still marked in use whose lock is free (its process
//! was killed) is reset; a kept database older than the builder allows is dropped; and the
//! databases of other migrations (an older version, as a rule) are dropped when no live
//! process holds that set: every process that leases holds a shared advisory lock on its set
//! for as long as it keeps the lease, and the sweep drops a set only under the exclusive lock.

use super::backend::{
    establish, group_foreign_keys, kept_long_enough, load_counts, load_names, unix_now,
    with_database, ForeignKey, KeptDatabase, KeyColumn, Name, PerTestName, TestBackend,
};
use super::{Cleanup, CleanupError, Migrations};
use diesel::connection::SimpleConnection;
use diesel::pg::{Pg, PgConnection};
use diesel::prelude::*;
use diesel::sql_types::{Bool, Integer, Text};
use diesel_migrations::MigrationHarness;
use std::time::Duration;

#[derive(QueryableByName)]
struct Flag {
    #[diesel(sql_type = Bool)]
    flag: bool,
}

/// A leased per-test database: the maintenance connection holding its slot's lock (and the
/// shared lock on its set of migrations).
pub struct PgLease {
    admin: PgConnection,
    name: String,
    url: String,
    /// The URL the handle was opened with, for connecting to other databases of the server.
    server: String,
    seeded: bool,
    /// The connection the last test of this process used, kept with the lease.
    conn: Option<PgConnection>,
    pool_key: String,
}

const IN_USE: &str = "factory-core: in use";
const CLEAN: &str = "factory-core: clean";
/// A template whose migrations insert rows (reference data): its copies cannot be emptied
/// back to it, so they are dropped and cloned again.
const SEEDED: &str = "factory-core: template with rows";
const TEMPLATE: &str = "factory-core: template";
/// A failed test's database, kept; then when (Unix seconds) and the test's name.
const KEPT: &str = "factory-core: kept";

/// The second advisory-lock keys of a set of migrations, beside its slots' numbers (0, 1, ..):
/// building its template, migrating a shared database, and holding the set in use.
const BUILD_LOCK: i32 = -1;
const MIGRATE_LOCK: i32 = -2;
const SET_IN_USE: i32 = -3;

/// The first advisory-lock key of a set of migrations under a prefix: FNV-1a of both.
fn lock_key(prefix: &str, hash: &str) -> i32 {
    let mut key: u32 = 0x811c_9dc5;
    for &b in prefix.as_bytes().iter().chain(b"\0").chain(hash.as_bytes()) {
        key = (key ^ u32::from(b)).wrapping_mul(0x0100_0193);
    }
    key as i32
}

/// When a database was kept (Unix seconds), if its comment says it was.
fn kept_at(note: &str) -> Option<u64> {
    note.strip_prefix(KEPT)?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// A database and its comment.
#[derive(QueryableByName)]
struct Database {
    #[diesel(sql_type = Text)]
    name: String,
    #[diesel(sql_type = Text)]
    note: String,
}

/// The databases whose names start with `<prefix>_`, and their comments.
fn list(admin: &mut PgConnection, prefix: &str) -> QueryResult<Vec<Database>> {
    diesel::sql_query(
        "SELECT datname::text AS name, COALESCE(shobj_description(oid, 'pg_database'), '') AS note \
         FROM pg_database WHERE datname LIKE $1 ORDER BY 1",
    )
    .bind::<Text, _>(format!("{}\\_%", prefix.replace('_', "\\_")))
    .load(admin)
}

fn drop_database(admin: &mut PgConnection, name: &str) -> QueryResult<()> {
    admin.batch_execute(&format!(
        "DROP DATABASE IF EXISTS {}",
        PgConnection::quote_ident(name)
    ))
}

/// A database's comment (empty when it has none); `None` when it does not exist.
fn describe(admin: &mut PgConnection, name: &str) -> QueryResult<Option<String>> {
    diesel::sql_query(
        "SELECT COALESCE(shobj_description(oid, 'pg_database'), '') AS name \
         FROM pg_database WHERE datname = $1",
    )
    .bind::<Text, _>(name)
    .get_result::<Name>(admin)
    .optional()
    .map(|found| found.map(|n| n.name))
}

fn comment(admin: &mut PgConnection, name: &str, text: &str) -> QueryResult<()> {
    admin.batch_execute(&format!(
        "COMMENT ON DATABASE {} IS {}",
        PgConnection::quote_ident(name),
        PgConnection::quote_literal(text)
    ))
}

fn try_lock(admin: &mut PgConnection, key: i32, slot: i32) -> QueryResult<bool> {
    diesel::sql_query("SELECT pg_try_advisory_lock($1, $2) AS flag")
        .bind::<Integer, _>(key)
        .bind::<Integer, _>(slot)
        .get_result::<Flag>(admin)
        .map(|f| f.flag)
}

fn unlock(admin: &mut PgConnection, key: i32, slot: i32) -> QueryResult<()> {
    diesel::sql_query("SELECT pg_advisory_unlock($1, $2) AS flag")
        .bind::<Integer, _>(key)
        .bind::<Integer, _>(slot)
        .get_result::<Flag>(admin)
        .map(drop)
}

/// Builds `<prefix>_tpl_<hash>` unless it exists: under an advisory lock, into a scratch
/// database renamed only once migrated, so a killed builder leaves no half-built template.
/// Returns its name and whether its migrations left rows in it.
fn ensure_template(
    admin: &mut PgConnection,
    url: &str,
    (prefix, hash): (&str, &str),
    migrations: &Migrations,
) -> Result<(String, bool), CleanupError> {
    let template = format!("{prefix}_tpl_{hash}");
    let err =
        |step: &str| CleanupError::db(Cleanup::DatabasePerTest, format!("{step} `{template}`"));
    if let Some(note) = describe(admin, &template).map_err(err("look up the template"))? {
        return Ok((template, note == SEEDED));
    }
    let key = lock_key(prefix, hash);
    // Another process may be building it; wait for it, but not for ever (the lease set the
    // session's lock_timeout).
    diesel::sql_query("SELECT pg_advisory_lock($1, $2)")
        .bind::<Integer, _>(key)
        .bind::<Integer, _>(BUILD_LOCK)
        .execute(admin)
        .map_err(err("lock the build of"))?;
    let built = (|| -> Result<bool, CleanupError> {
        if let Some(note) = describe(admin, &template).map_err(err("look up the template"))? {
            return Ok(note == SEEDED);
        }
        let scratch = format!("{template}_build");
        let quoted = PgConnection::quote_ident(&scratch);
        admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {quoted}"))
            .and_then(|()| admin.batch_execute(&format!("CREATE DATABASE {quoted}")))
            .map_err(err("create the scratch database for"))?;
        let seeded = {
            let scratch_url = with_database(url, &scratch)?;
            let mut conn = PgConnection::connect(&scratch_url)?;
            conn.run_pending_migrations(migrations.source())
                .map_err(|e| CleanupError::Migrations {
                    database: scratch.clone(),
                    message: e.to_string(),
                })?;
            let counts = super::residue::count(&mut conn, Cleanup::DatabasePerTest)?;
            counts.values().any(|&n| n > 0)
        };
        admin
            .batch_execute(&format!(
                "ALTER DATABASE {quoted} RENAME TO {}",
                PgConnection::quote_ident(&template)
            ))
            .map_err(err("name the template"))?;
        comment(admin, &template, if seeded { SEEDED } else { TEMPLATE })
            .map_err(err("mark the template"))?;
        Ok(seeded)
    })();
    let unlocked = diesel::sql_query("SELECT pg_advisory_unlock($1, $2)")
        .bind::<Integer, _>(key)
        .bind::<Integer, _>(BUILD_LOCK)
        .execute(admin);
    let seeded = built?;
    unlocked.map_err(err("unlock the build of"))?;
    Ok((template, seeded))
}

/// Makes a slot whose lock we hold as good as a fresh clone: emptied and marked clean, or,
/// when the template holds rows of its own, dropped (the lease clones it again).
fn reset_slot(
    admin: &mut PgConnection,
    url: &str,
    name: &str,
    seeded: bool,
    conn: Option<PgConnection>,
) -> Result<Option<PgConnection>, CleanupError> {
    let err = |step: &'static str| CleanupError::db(Cleanup::DatabasePerTest, step);
    if seeded {
        drop(conn);
        admin
            .batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                PgConnection::quote_ident(name)
            ))
            .map_err(err("drop a per-test database"))?;
        return Ok(None);
    }
    let mut conn = match conn {
        Some(conn) => conn,
        None => PgConnection::connect(&with_database(url, name)?)?,
    };
    empty(&mut conn)?;
    comment(admin, name, CLEAN).map_err(err("mark a per-test database clean"))?;
    Ok(Some(conn))
}

/// The tables and foreign keys of each database this process emptied, by database: reading the
/// catalog costs more than emptying a test's few rows.
type Schema = (Vec<String>, Vec<ForeignKey>);
static SCHEMAS: std::sync::Mutex<Vec<(String, Schema)>> = std::sync::Mutex::new(Vec::new());

/// The schema's tables and foreign keys, from this process's cache unless `fresh`.
fn schema(conn: &mut PgConnection, cleanup: Cleanup, fresh: bool) -> Result<Schema, CleanupError> {
    let step = "read the schema's tables and foreign keys";
    let err = CleanupError::db(cleanup, step);
    let database: String =
        match diesel::select(diesel::dsl::sql::<Text>("current_database()")).get_result(conn) {
            Ok(name) => name,
            Err(e) => return Err(err(e)),
        };
    let mut cache = SCHEMAS.lock().unwrap_or_else(|e| e.into_inner());
    if !fresh {
        if let Some((_, schema)) = cache.iter().find(|(d, _)| *d == database) {
            return Ok(schema.clone());
        }
    }
    let schema = match (PgConnection::tables(conn), PgConnection::foreign_keys(conn)) {
        (Ok(tables), Ok(keys)) => (tables, keys),
        (Err(e), _) | (_, Err(e)) => return Err(CleanupError::db(cleanup, step)(e)),
    };
    cache.retain(|(d, _)| *d != database);
    cache.push((database, schema.clone()));
    Ok(schema)
}

/// Which of `tables` hold rows, in one query.
fn tables_with_rows(
    conn: &mut PgConnection,
    tables: &[String],
    cleanup: Cleanup,
) -> Result<Vec<String>, CleanupError> {
    if tables.is_empty() {
        return Ok(Vec::new());
    }
    let probe = tables
        .iter()
        .map(|t| {
            format!(
                "SELECT {}::text AS name WHERE EXISTS (SELECT 1 FROM {})",
                PgConnection::quote_literal(t),
                PgConnection::quote_ident(t)
            )
        })
        .collect::<Vec<_>>()
        .join(" UNION ALL ");
    diesel::sql_query(probe)
        .load::<Name>(conn)
        .map(|rows| rows.into_iter().map(|n| n.name).collect())
        .map_err(CleanupError::db(cleanup, "look for tables that hold rows"))
}

/// Empties a per-test database as cheaply as it can be: `DELETE` from the tables that hold
/// rows, children first (a test's few rows go faster than `TRUNCATE`'s file work), then the
/// used sequences back to their start. Tables whose foreign keys form a cycle are truncated.
fn empty(conn: &mut PgConnection) -> Result<(), CleanupError> {
    let err = |step: &'static str| CleanupError::db(Cleanup::DatabasePerTest, step);
    let (tables, keys) = schema(conn, Cleanup::DatabasePerTest, false)?;
    let mut left = tables_with_rows(conn, &tables, Cleanup::DatabasePerTest)?;
    let mut sql = String::from("SET lock_timeout = '15s';");
    // Children first: a table goes once no other table still to empty references it.
    while !left.is_empty() {
        let ready = left.iter().position(|table| {
            !keys
                .iter()
                .any(|k| k.parent == *table && k.child != *table && left.contains(&k.child))
        });
        match ready {
            Some(at) => {
                let table = left.remove(at);
                sql.push_str(&format!(
                    " DELETE FROM {};",
                    PgConnection::quote_ident(&table)
                ));
            }
            None => {
                let cycle: Vec<String> =
                    left.iter().map(|t| PgConnection::quote_ident(t)).collect();
                sql.push_str(&format!(" TRUNCATE {} CASCADE;", cycle.join(", ")));
                left.clear();
            }
        }
    }
    sql.push_str(
        " SELECT setval(format('%I.%I', schemaname, sequencename)::regclass, start_value, false) \
         FROM pg_sequences WHERE schemaname = current_schema() AND last_value IS NOT NULL;",
    );
    conn.batch_execute(&sql)
        .map_err(err("empty the per-test database"))
}

/// What one lease's sweep looks at: the set of migrations the lease is for.
struct SweepFor<'a> {
    url: &'a str,
    prefix: &'a str,
    hash: &'a str,
    seeded: bool,
    kept_for: Duration,
}

/// Sweeps under the lease's prefix: resets the slots of its set marked in use whose lock is
/// free (what killed processes left), drops kept databases older than `kept_for`, and drops
/// the databases of other sets of migrations that no live process holds.
fn sweep(admin: &mut PgConnection, to: &SweepFor<'_>) -> Result<(), CleanupError> {
    let err = |step: &'static str| CleanupError::db(Cleanup::DatabasePerTest, step);
    let databases = list(admin, to.prefix).map_err(err("list the per-test databases"))?;
    let mut others: Vec<(String, Vec<String>)> = Vec::new();
    let key = lock_key(to.prefix, to.hash);
    for Database { name, note } in databases {
        let Some(parsed) = PerTestName::parse(to.prefix, &name) else {
            continue;
        };
        if let Some(at) = kept_at(&note) {
            if kept_long_enough(at, to.kept_for) {
                // Someone connected to look at it keeps it until a later sweep.
                let _ = drop_database(admin, &name);
            }
            continue;
        }
        if parsed.hash() != to.hash {
            match others.iter_mut().find(|(hash, _)| hash == parsed.hash()) {
                Some((_, names)) => names.push(name),
                None => others.push((parsed.hash().to_owned(), vec![name])),
            }
            continue;
        }
        let PerTestName::Slot { slot, .. } = parsed else {
            continue;
        };
        if note != IN_USE || !try_lock(admin, key, slot).map_err(err("lock a per-test database"))? {
            continue; // clean, or in use by a live test
        }
        let reset = reset_slot(admin, to.url, &name, to.seeded, None).map(drop);
        let unlocked = unlock(admin, key, slot).map_err(err("unlock a per-test database"));
        reset?;
        unlocked?;
    }
    for (hash, names) in others {
        let other = lock_key(to.prefix, &hash);
        if !try_lock(admin, other, SET_IN_USE).map_err(err("lock another set of migrations"))? {
            continue; // a live process leases from that set
        }
        for name in names {
            // A database someone is connected to stays until a later sweep.
            let _ = drop_database(admin, &name);
        }
        unlock(admin, other, SET_IN_USE).map_err(err("unlock another set of migrations"))?;
    }
    Ok(())
}

/// Drops the databases kept under `prefix` longer ago than `older_than`.
fn sweep_kept(
    admin: &mut PgConnection,
    prefix: &str,
    older_than: Duration,
) -> Result<Vec<String>, CleanupError> {
    let err = |step: &'static str| CleanupError::db(Cleanup::DatabasePerTest, step);
    let databases = list(admin, prefix).map_err(err("list the per-test databases"))?;
    let mut dropped = Vec::new();
    for Database { name, note } in databases {
        let due = kept_at(&note).is_some_and(|at| kept_long_enough(at, older_than));
        if due && PerTestName::parse(prefix, &name).is_some() {
            drop_database(admin, &name).map_err(CleanupError::db(
                Cleanup::DatabasePerTest,
                format!("drop the kept database `{name}` (is someone connected to it?)"),
            ))?;
            dropped.push(name);
        }
    }
    Ok(dropped)
}

impl TestBackend for PgConnection {
    type Lease = PgLease;
    const DRIVER: super::local::Driver = super::local::Driver::Libpq;

    fn connect(url: &str) -> Result<Self, CleanupError> {
        establish(url)
    }

    fn bound_lock_waits(wait: std::time::Duration) -> (String, Option<String>) {
        // LOCAL: ends with the transaction, so the pooled connection keeps its own setting.
        (
            format!("SET LOCAL lock_timeout = '{}ms'", wait.as_millis().max(1)),
            None,
        )
    }

    fn placeholder(n: usize) -> String {
        format!("${n}")
    }

    fn execute_bound(
        conn: &mut Self,
        statement: super::key::Statement<Self::Backend>,
    ) -> Result<(), diesel::result::Error> {
        diesel::RunQueryDsl::execute(statement, conn).map(drop)
    }

    fn quote_ident(name: &str) -> String {
        format!("\"{}\"", name.replace('"', "\"\""))
    }

    fn tables(conn: &mut Self) -> QueryResult<Vec<String>> {
        load_names(
            conn,
            "SELECT tablename::text AS name FROM pg_tables \
             WHERE schemaname = current_schema() AND tablename <> '__diesel_schema_migrations' \
             ORDER BY 1",
        )
    }

    fn counts(conn: &mut Self, sql: &str) -> QueryResult<Vec<(String, i64)>> {
        load_counts(conn, sql)
    }

    fn foreign_keys(conn: &mut Self) -> QueryResult<Vec<ForeignKey>> {
        let rows: Vec<KeyColumn> = diesel::sql_query(
            "SELECT child.relname::text AS child, parent.relname::text AS parent, \
                    a.attname::text AS child_column, pa.attname::text AS parent_column, \
                    c.conname::text AS name \
             FROM pg_constraint c \
             JOIN pg_class child ON child.oid = c.conrelid \
             JOIN pg_class parent ON parent.oid = c.confrelid \
             JOIN pg_namespace ns ON ns.oid = child.relnamespace \
             JOIN pg_namespace parent_ns ON parent_ns.oid = parent.relnamespace \
             CROSS JOIN LATERAL unnest(c.conkey, c.confkey) WITH ORDINALITY \
                 AS k(child_att, parent_att, position) \
             JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.child_att \
             JOIN pg_attribute pa ON pa.attrelid = c.confrelid AND pa.attnum = k.parent_att \
             WHERE c.contype = 'f' AND ns.nspname = current_schema() \
                 AND parent_ns.nspname = current_schema() \
             ORDER BY child.relname, c.conname, k.position",
        )
        .load(conn)?;
        Ok(group_foreign_keys(rows))
    }

    fn truncate(conn: &mut Self, cleanup: Cleanup, keep: &[String]) -> Result<(), CleanupError> {
        // TRUNCATE costs file work per table: only the tables that hold rows, with the tables
        // that reference them (TRUNCATE wants those in the same statement). No CASCADE: a table
        // of another schema referencing these is not ours to empty. A kept table references
        // no emptied one (checked when the handle opened), so it is never pulled in.
        let mut fresh = false;
        loop {
            let (mut tables, keys) = schema(conn, cleanup, fresh)?;
            tables.retain(|t| !keep.contains(t));
            let mut set = tables_with_rows(conn, &tables, cleanup)?;
            if set.is_empty() {
                return Ok(());
            }
            while let Some(child) = keys
                .iter()
                .find(|k| set.contains(&k.parent) && !set.contains(&k.child))
                .map(|k| k.child.clone())
            {
                set.push(child);
            }
            let list: Vec<String> = set.iter().map(|t| Self::quote_ident(t)).collect();
            let sql = format!(
                "SET lock_timeout = '15s'; TRUNCATE {} RESTART IDENTITY",
                list.join(", ")
            );
            match conn.batch_execute(&sql) {
                Ok(()) => return Ok(()),
                // The schema may have changed since this process cached it.
                Err(_) if !fresh => fresh = true,
                Err(e) => return Err(CleanupError::db(cleanup, "truncate the schema's tables")(e)),
            }
        }
    }

    fn migrate(
        conn: &mut Self,
        url: &str,
        migrations: &Migrations,
        cleanup: Cleanup,
    ) -> Result<(), CleanupError> {
        let key = lock_key("migrate", &migrations.hash::<Pg>());
        let err = |step: &'static str| CleanupError::db(cleanup, step);
        diesel::sql_query("SELECT pg_advisory_lock($1, $2)")
            .bind::<Integer, _>(key)
            .bind::<Integer, _>(MIGRATE_LOCK)
            .execute(conn)
            .map_err(err("lock the migrations"))?;
        let ran = conn
            .run_pending_migrations(migrations.source())
            .map(drop)
            .map_err(|e| CleanupError::Migrations {
                database: url.to_owned(),
                message: e.to_string(),
            });
        let unlocked = diesel::sql_query("SELECT pg_advisory_unlock($1, $2)")
            .bind::<Integer, _>(key)
            .bind::<Integer, _>(MIGRATE_LOCK)
            .execute(conn);
        ran?;
        unlocked.map(drop).map_err(err("unlock the migrations"))
    }

    fn lease_database(
        url: &str,
        migrations: &Migrations,
        prefix: &str,
        kept_for: Duration,
    ) -> Result<PgLease, CleanupError> {
        let hash = migrations.hash::<Pg>();
        let pool_key = format!("{url}\u{0}{prefix}\u{0}{hash}");
        let err = |step: &'static str| CleanupError::db(Cleanup::DatabasePerTest, step);
        if let Some(mut lease) = super::pool::take::<PgLease>(&pool_key) {
            // What a killed test process left is swept at every start, pooled or not.
            let to = SweepFor {
                url,
                prefix,
                hash: &hash,
                seeded: lease.seeded,
                kept_for,
            };
            sweep(&mut lease.admin, &to)?;
            comment(&mut lease.admin, &lease.name, IN_USE)
                .map_err(err("mark a per-test database in use"))?;
            return Ok(lease);
        }
        let mut admin = PgConnection::connect(&with_database(url, "postgres")?)?;
        let key = lock_key(prefix, &hash);
        // Waits (not for ever) while another process's sweep drops this set; then held, with
        // the maintenance connection, for as long as this process keeps the lease.
        admin
            .batch_execute("SET lock_timeout = '120s'")
            .and_then(|()| {
                diesel::sql_query("SELECT pg_advisory_lock_shared($1, $2)")
                    .bind::<Integer, _>(key)
                    .bind::<Integer, _>(SET_IN_USE)
                    .execute(&mut admin)
                    .map(drop)
            })
            .map_err(err("hold the set of migrations in use"))?;
        let (template, seeded) = ensure_template(&mut admin, url, (prefix, &hash), migrations)?;
        let to = SweepFor {
            url,
            prefix,
            hash: &hash,
            seeded,
            kept_for,
        };
        sweep(&mut admin, &to)?;
        let mut slot = 0;
        let (name, mut state) = loop {
            if try_lock(&mut admin, key, slot).map_err(err("lease a per-test database"))? {
                let name = format!("{prefix}_{hash}_{slot}");
                let state =
                    describe(&mut admin, &name).map_err(err("look up a per-test database"))?;
                if state.as_deref().is_none_or(|note| kept_at(note).is_none()) {
                    break (name, state);
                }
                // A failed test's kept database: its slot stays taken until a sweep drops it.
                unlock(&mut admin, key, slot).map_err(err("unlock a per-test database"))?;
            }
            slot += 1;
        };
        if state.as_deref() == Some(IN_USE) {
            // Its test died after the sweep looked: reset it now that the lock is ours.
            reset_slot(&mut admin, url, &name, seeded, None)?;
            state = describe(&mut admin, &name).map_err(err("look up a per-test database"))?;
        }
        if state.is_none() {
            admin
                .batch_execute(&format!(
                    "CREATE DATABASE {} TEMPLATE {}",
                    Self::quote_ident(&name),
                    Self::quote_ident(&template)
                ))
                .map_err(err("clone the template"))?;
        }
        comment(&mut admin, &name, IN_USE).map_err(err("mark a per-test database in use"))?;
        let lease_url = with_database(url, &name)?;
        Ok(PgLease {
            admin,
            name,
            url: lease_url,
            server: url.to_owned(),
            seeded,
            conn: None,
            pool_key,
        })
    }

    fn lease_url(lease: &PgLease) -> String {
        lease.url.clone()
    }

    fn lease_connection(lease: &mut PgLease) -> Result<Self, CleanupError> {
        match lease.conn.take() {
            Some(conn) => Ok(conn),
            None => PgConnection::connect(&lease.url),
        }
    }

    fn release_database(mut lease: PgLease, conn: Option<Self>) -> Result<(), CleanupError> {
        let kept = reset_slot(
            &mut lease.admin,
            &lease.server,
            &lease.name,
            lease.seeded,
            conn,
        )?;
        if let Some(conn) = kept {
            // Emptied and still locked: the next test of this process takes it as it is.
            lease.conn = Some(conn);
            let key = lease.pool_key.clone();
            super::pool::put(&key, lease);
        }
        Ok(())
        // Dropping the maintenance connection releases the slot's lock.
    }

    fn keep_database(
        mut lease: PgLease,
        conn: Option<Self>,
        test: &str,
    ) -> Result<KeptDatabase, CleanupError> {
        drop(conn);
        comment(
            &mut lease.admin,
            &lease.name,
            &format!("{KEPT} {} {test}", unix_now()),
        )
        .map_err(CleanupError::db(
            Cleanup::DatabasePerTest,
            "mark a failed test's database kept",
        ))?;
        Ok(KeptDatabase {
            name: lease.name,
            url: lease.url,
        })
        // Dropping the maintenance connection releases the slot's lock; the comment keeps
        // later leases off it.
    }

    fn sweep_kept(
        url: &str,
        prefix: &str,
        older_than: Duration,
    ) -> Result<Vec<String>, CleanupError> {
        let mut admin = PgConnection::connect(&with_database(url, "postgres")?)?;
        sweep_kept(&mut admin, prefix, older_than)
    }
}
