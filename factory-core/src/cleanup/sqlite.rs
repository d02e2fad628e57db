//! SQLite: catalog queries, `DELETE` for truncation, file locks, and per-test databases copied
//! from a migrated template file.
//!
//! Per-test databases live in `$TMPDIR/factory-core-sqlite/` (or `FACTORY_SQLITE_DIR`), named
//! after the prefix (`factory` unless the builder says): a template `<prefix>_tpl_<hash>.sqlite`
//! built once under a file lock, and one copy per test, `<prefix>_t_<pid>_<n>.sqlite`, next to
//! a lock file the test holds while it runs. A failed test's kept copy stays where it is, its
//! lock file replaced by a `.kept` file (holding the test's name).
//!
//! Every lease sweeps under its prefix: copies whose lock file no live process holds (their
//! process was killed) are deleted, kept copies last written longer ago than the builder allows
//! are deleted, and so are the templates of other migrations (an older version, as a rule)
//! when no process is leasing: leases hold `<prefix>.lock` shared while they build or copy a
//! template, and the sweep deletes templates only when it gets that lock exclusively.

use super::backend::{
    establish, group_foreign_keys, kept_long_enough, load_counts, load_names, ForeignKey,
    KeptDatabase, KeyColumn, Name, PerTestName, TestBackend,
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
use std::time::Duration;

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

/// Opens `path` (created if missing) for locking.
fn open_lock_file(path: &Path) -> Result<File, CleanupError> {
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(file_error("open the lock file", path))
}

/// Holds an exclusive lock on `path` (created if missing) until the file is dropped.
fn lock_file(path: &Path) -> Result<File, CleanupError> {
    let file = open_lock_file(path)?;
    file.lock().map_err(file_error("lock", path))?;
    Ok(file)
}

/// The files of a database: the file and its journal files.
fn database_files(path: &Path) -> [PathBuf; 4] {
    ["", "-journal", "-wal", "-shm"].map(|suffix| {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        PathBuf::from(name)
    })
}

/// Removes a database file and its journal files.
fn remove_database(path: &Path) {
    for file in database_files(path) {
        let _ = fs::remove_file(file);
    }
}

/// What a file name under the prefix says.
enum Entry {
    /// `<prefix>_t_<..>.lock`: the lock of a test's copy.
    CopyLock,
    /// `<prefix>_t_<..>.kept`: the copy beside it is a failed test's, kept.
    Kept,
    /// `<prefix>_tpl_<hash>.sqlite` (or its build lock, or its scratch file).
    Template(String),
}

fn classify(prefix: &str, name: &str) -> Option<Entry> {
    let rest = name.strip_prefix(prefix)?.strip_prefix('_')?;
    if rest.starts_with("t_") && rest.ends_with(".lock") {
        return Some(Entry::CopyLock);
    }
    if rest.starts_with("t_") && rest.ends_with(".kept") {
        return Some(Entry::Kept);
    }
    let stem = [".sqlite", ".lock", ".building"]
        .iter()
        .find_map(|ext| rest.strip_suffix(ext))?;
    match PerTestName::parse(prefix, &format!("{prefix}_{stem}"))? {
        PerTestName::Template { hash } => Some(Entry::Template(hash)),
        _ => None,
    }
}

/// Seconds since the Unix epoch of the file's last write.
fn written_at(path: &Path) -> u64 {
    fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_secs())
}

/// Sweeps under the prefix: deletes the copies whose lock no live process holds and the kept
/// copies older than `kept_for`; with `dir_lock` (`<prefix>.lock`, held exclusively, so that no
/// process is building or copying a template), also the templates of other migrations.
fn sweep(dir: &Path, prefix: &str, hash: &str, kept_for: Duration, dir_lock: Option<&File>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Some(kind) = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| classify(prefix, n))
        else {
            continue;
        };
        match kind {
            Entry::CopyLock => {
                let Ok(file) = OpenOptions::new().write(true).open(&path) else {
                    continue;
                };
                // A copy kept just now: its test made the `.kept` file before it let go of
                // the lock file, which this sweep may have opened before it was removed.
                if file.try_lock().is_ok() && !path.with_extension("kept").exists() {
                    remove_database(&path.with_extension("sqlite"));
                    let _ = fs::remove_file(&path);
                }
            }
            Entry::Kept => {
                if kept_long_enough(written_at(&path), kept_for) {
                    remove_database(&path.with_extension("sqlite"));
                    let _ = fs::remove_file(&path);
                }
            }
            Entry::Template(other) if other != hash && dir_lock.is_some() => {
                remove_database(&path);
            }
            Entry::Template(_) => {}
        }
    }
}

/// Builds `<prefix>_tpl_<hash>.sqlite` unless it exists, under a file lock, into a scratch
/// file renamed once migrated.
fn ensure_template(
    dir: &Path,
    (prefix, hash): (&str, &str),
    migrations: &Migrations,
) -> Result<PathBuf, CleanupError> {
    let template = dir.join(format!("{prefix}_tpl_{hash}.sqlite"));
    if template.exists() {
        return Ok(template);
    }
    let _lock = lock_file(&dir.join(format!("{prefix}_tpl_{hash}.lock")))?;
    if template.exists() {
        return Ok(template);
    }
    let scratch = dir.join(format!("{prefix}_tpl_{hash}.building"));
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

    fn truncate(conn: &mut Self, cleanup: Cleanup, keep: &[String]) -> Result<(), CleanupError> {
        let step = "empty the schema's tables";
        let mut tables = Self::tables(conn).map_err(CleanupError::db(cleanup, step))?;
        tables.retain(|t| !keep.contains(t));
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
            let kept: Vec<String> = keep.iter().map(|t| Self::quote_literal(t)).collect();
            if kept.is_empty() {
                sql.push_str(" DELETE FROM sqlite_sequence;");
            } else {
                sql.push_str(&format!(
                    " DELETE FROM sqlite_sequence WHERE name NOT IN ({});",
                    kept.join(", ")
                ));
            }
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

    fn lease_database(
        _url: &str,
        migrations: &Migrations,
        prefix: &str,
        kept_for: Duration,
    ) -> Result<SqliteLease, CleanupError> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let dir = directory();
        fs::create_dir_all(&dir).map_err(file_error("create", &dir))?;
        let hash = migrations.hash::<Sqlite>();
        let dir_lock_path = dir.join(format!("{prefix}.lock"));
        let dir_lock = open_lock_file(&dir_lock_path)?;
        // Exclusive only if no other process is building or copying a template right now;
        // else the templates of other migrations wait for a later sweep.
        let exclusive = dir_lock.try_lock().is_ok();
        sweep(
            &dir,
            prefix,
            &hash,
            kept_for,
            exclusive.then_some(&dir_lock),
        );
        if !exclusive {
            dir_lock
                .lock_shared()
                .map_err(file_error("lock", &dir_lock_path))?;
        }
        let template = ensure_template(&dir, (prefix, &hash), migrations)?;
        let stem = format!(
            "{prefix}_t_{}_{}",
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
        drop(dir_lock);
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

    fn keep_database(
        lease: SqliteLease,
        conn: Option<Self>,
        test: &str,
    ) -> Result<KeptDatabase, CleanupError> {
        drop(conn);
        // The `.kept` file first: the sweep never finds the copy with neither.
        let marker = lease.path.with_extension("kept");
        fs::write(&marker, test).map_err(file_error("mark the database kept", &marker))?;
        let _ = fs::remove_file(&lease.lock_path);
        let name = lease
            .path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        Ok(KeptDatabase {
            name,
            url: lease.path.to_string_lossy().into_owned(),
        })
        // The lock goes with the lease.
    }

    fn sweep_kept(
        _url: &str,
        prefix: &str,
        older_than: Duration,
    ) -> Result<Vec<String>, CleanupError> {
        let dir = directory();
        let Ok(entries) = fs::read_dir(&dir) else {
            return Ok(Vec::new());
        };
        let mut dropped = Vec::new();
        for entry in entries.flatten() {
            let path = entry.path();
            let Some(name) = path.file_name().and_then(|n| n.to_str()).map(str::to_owned) else {
                continue;
            };
            if matches!(classify(prefix, &name), Some(Entry::Kept))
                && kept_long_enough(written_at(&path), older_than)
            {
                let database = path.with_extension("sqlite");
                remove_database(&database);
                let _ = fs::remove_file(&path);
                if let Some(name) = database.file_name() {
                    dropped.push(name.to_string_lossy().into_owned());
                }
            }
        }
        dropped.sort();
        Ok(dropped)
    }

    fn is_private(url: &str) -> bool {
        url == ":memory:"
            || url.is_empty()
            || (url.contains("mode=memory") && !url.contains("cache=shared"))
    }
}
