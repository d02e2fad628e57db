//! SQLite: catalog queries, `DELETE` for truncation, file locks, and per-test databases copied
//! from a migrated template file.
//!
//! Per-test databases live in `$TMPDIR/factory-core-sqlite/` (or `FACTORY_SQLITE_DIR`): a
//! template `tpl_<hash>.sqlite` built once under a file lock, and one copy per test,
//! `t_<pid>_<n>.sqlite`, next to a lock file the test holds while it runs. A copy whose lock
//! file is not held was left by a killed process; the next lease deletes it.

use super::backend::{
    establish, group_foreign_keys, load_counts, load_names, ForeignKey, KeyColumn, Name,
    TestBackend,
};
use super::{Cleanup, CleanupError, Migrations};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::Text;
use diesel::sqlite::{Sqlite, SqliteConnection};
use diesel_migrations::MigrationHarness;
use std::fs::{self, File, OpenOptions};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// A per-test database file and the lock that says its test is alive.
pub struct SqliteLease {
    path: PathBuf,
    lock_path: PathBuf,
    _lock: File,
}

/// Where per-test databases live.
fn directory() -> PathBuf {
    std::env::var_os("FACTORY_SQLITE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("factory-core-sqlite"))
}

fn file_error(step: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> CleanupError {
    let path = path.display().to_string();
    move |source| CleanupError::File { step, path, source }
}

/// Holds an exclusive lock on `path` (created if missing) until the file is dropped.
fn lock_file(path: &Path) -> Result<File, CleanupError> {
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(file_error("open the lock file", path))?;
    file.lock().map_err(file_error("lock", path))?;
    Ok(file)
}

/// Removes a database file and its journal files.
fn remove_database(path: &Path) {
    for suffix in ["", "-journal", "-wal", "-shm"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        let _ = fs::remove_file(PathBuf::from(name));
    }
}

/// Deletes the copies whose lock no live process holds.
fn sweep(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let lock_path = entry.path();
        let is_copy_lock = lock_path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("t_") && n.ends_with(".lock"));
        if !is_copy_lock {
            continue;
        }
        let Ok(file) = OpenOptions::new().write(true).open(&lock_path) else {
            continue;
        };
        if file.try_lock().is_ok() {
            remove_database(&lock_path.with_extension("sqlite"));
            let _ = fs::remove_file(&lock_path);
        }
    }
}

/// Builds `tpl_<hash>.sqlite` unless it exists, under a file lock, into a scratch file renamed
/// once migrated.
fn ensure_template(
    dir: &Path,
    hash: &str,
    migrations: &Migrations,
) -> Result<PathBuf, CleanupError> {
    let template = dir.join(format!("tpl_{hash}.sqlite"));
    if template.exists() {
        return Ok(template);
    }
    let _lock = lock_file(&dir.join(format!("tpl_{hash}.lock")))?;
    if template.exists() {
        return Ok(template);
    }
    let scratch = dir.join(format!("tpl_{hash}.building"));
    remove_database(&scratch);
    {
        let scratch_url = scratch.to_string_lossy().into_owned();
        let mut conn = SqliteConnection::connect(&scratch_url)?;
        conn.run_pending_migrations(migrations.source())
            .map_err(|e| CleanupError::Migrations {
                database: scratch_url.clone(),
                message: e.to_string(),
            })?;
    }
    fs::rename(&scratch, &template).map_err(file_error("name the template", &template))?;
    Ok(template)
}

/// How long a test connection waits for another connection's write lock before "database is
/// locked".
const BUSY_TIMEOUT_MS: u64 = 5000;

impl TestBackend for SqliteConnection {
    type Lease = SqliteLease;
    const DRIVER: super::local::Driver = super::local::Driver::SqliteLibrary;

    fn connect(url: &str) -> Result<Self, CleanupError> {
        let mut conn: Self = establish(url)?;
        conn.batch_execute(&format!(
            "PRAGMA foreign_keys = ON; PRAGMA busy_timeout = {BUSY_TIMEOUT_MS};"
        ))
        .map_err(CleanupError::db(
            Cleanup::Transaction,
            "set up the SQLite connection",
        ))?;
        Ok(conn)
    }

    fn locks_rows() -> bool {
        false
    }

    fn bound_lock_waits(wait: std::time::Duration) -> (String, Option<String>) {
        (
            format!("PRAGMA busy_timeout = {}", wait.as_millis().max(1)),
            Some(format!("PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")),
        )
    }

    fn quote_ident(name: &str) -> String {
        format!("\"{}\"", name.replace('"', "\"\""))
    }

    fn tables(conn: &mut Self) -> QueryResult<Vec<String>> {
        load_names(
            conn,
            "SELECT name FROM sqlite_master WHERE type = 'table' \
             AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' \
             AND name <> '__diesel_schema_migrations' ORDER BY 1",
        )
    }

    fn counts(conn: &mut Self, sql: &str) -> QueryResult<Vec<(String, i64)>> {
        load_counts(conn, sql)
    }

    fn foreign_keys(conn: &mut Self) -> QueryResult<Vec<ForeignKey>> {
        let rows: Vec<KeyColumn> = diesel::sql_query(
            "SELECT m.name AS child, p.\"table\" AS parent, p.\"from\" AS child_column, \
                    p.\"to\" AS parent_column, CAST(p.id AS TEXT) AS name \
             FROM sqlite_master m JOIN pragma_foreign_key_list(m.name) p \
             WHERE m.type = 'table' ORDER BY m.name, p.id, p.seq",
        )
        .load(conn)?;
        // A key declared without columns references the parent's primary key.
        let mut resolved = Vec::with_capacity(rows.len());
        let mut position = 0;
        let mut last = None;
        for mut row in rows {
            let id = (row.child.clone(), row.name.clone());
            position = if last.as_ref() == Some(&id) {
                position + 1
            } else {
                0
            };
            last = Some(id);
            if row.parent_column.is_none() {
                row.parent_column = diesel::sql_query(
                    "SELECT name FROM pragma_table_info(?) WHERE pk > 0 ORDER BY pk",
                )
                .bind::<Text, _>(&row.parent)
                .load::<Name>(conn)?
                .into_iter()
                .nth(position)
                .map(|n| n.name);
            }
            resolved.push(row);
        }
        Ok(group_foreign_keys(resolved))
    }

    fn truncate(conn: &mut Self, cleanup: Cleanup) -> Result<(), CleanupError> {
        let step = "empty the schema's tables";
        let tables = Self::tables(conn).map_err(CleanupError::db(cleanup, step))?;
        if tables.is_empty() {
            return Ok(());
        }
        // SQLite has no TRUNCATE; with foreign keys checked at commit, the order of the
        // DELETEs does not matter since every table ends empty.
        let mut sql = String::from("BEGIN; PRAGMA defer_foreign_keys = ON;");
        for table in &tables {
            sql.push_str(&format!(" DELETE FROM {};", Self::quote_ident(table)));
        }
        let sequences: bool = diesel::select(diesel::dsl::sql::<diesel::sql_types::Bool>(
            "EXISTS (SELECT 1 FROM sqlite_master WHERE name = 'sqlite_sequence')",
        ))
        .get_result(conn)
        .map_err(CleanupError::db(cleanup, step))?;
        if sequences {
            sql.push_str(" DELETE FROM sqlite_sequence;");
        }
        sql.push_str(" COMMIT;");
        conn.batch_execute(&sql).map_err(|e| {
            let _ = conn.batch_execute("ROLLBACK");
            CleanupError::db(cleanup, step)(e)
        })
    }

    fn migrate(
        conn: &mut Self,
        url: &str,
        migrations: &Migrations,
        cleanup: Cleanup,
    ) -> Result<(), CleanupError> {
        let _ = cleanup;
        let _lock = if Self::is_private(url) {
            None
        } else {
            Some(lock_file(Path::new(&format!("{url}.factory-lock")))?)
        };
        conn.run_pending_migrations(migrations.source())
            .map(drop)
            .map_err(|e| CleanupError::Migrations {
                database: url.to_owned(),
                message: e.to_string(),
            })
    }

    fn lease_database(_url: &str, migrations: &Migrations) -> Result<SqliteLease, CleanupError> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let dir = directory();
        fs::create_dir_all(&dir).map_err(file_error("create", &dir))?;
        sweep(&dir);
        let template = ensure_template(&dir, &migrations.hash::<Sqlite>(), migrations)?;
        let stem = format!(
            "t_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        // Locked under a name the sweep ignores, then renamed: a sweeper never finds the lock
        // file unlocked between its creation and its locking.
        let lock_path = dir.join(format!("{stem}.lock"));
        let pending = dir.join(format!("{stem}.lock-new"));
        let lock = lock_file(&pending)?;
        fs::rename(&pending, &lock_path).map_err(file_error("name the lock file", &lock_path))?;
        let path = dir.join(format!("{stem}.sqlite"));
        fs::copy(&template, &path).map_err(file_error("copy the template to", &path))?;
        Ok(SqliteLease {
            path,
            lock_path,
            _lock: lock,
        })
    }

    fn lease_url(lease: &SqliteLease) -> String {
        lease.path.to_string_lossy().into_owned()
    }

    fn release_database(lease: SqliteLease, conn: Option<Self>) -> Result<(), CleanupError> {
        drop(conn);
        remove_database(&lease.path);
        match fs::remove_file(&lease.lock_path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                Err(file_error("remove", &lease.lock_path)(e))
            }
            _ => Ok(()),
        }
        // The lock goes with the lease.
    }

    fn is_private(url: &str) -> bool {
        url == ":memory:"
            || url.is_empty()
            || (url.contains("mode=memory") && !url.contains("cache=shared"))
    }
}
