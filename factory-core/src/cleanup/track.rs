//! Tracked cleanup: recording the rows factories insert through a handle, and deleting them
//! (after whatever references them) when the handle drops.

use super::backend::{is_lock_timeout, is_retryable, ForeignKey, TestBackend};
use super::key::{binder, Recorded, Statement};
use super::{Cleanup, CleanupError};
use crate::observe::{self, Inserted};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};

/// One inserted row: its table and primary key.
#[derive(Debug, Clone)]
pub(crate) struct Row {
    table: &'static str,
    columns: &'static [&'static str],
    key: Recorded,
}

/// What one factory call through a handle inserted.
#[derive(Debug, Default)]
struct Recording {
    rows: Vec<Row>,
    /// Factories whose model does not hold its primary key, with their tables: their rows
    /// cannot be found again.
    keyless: Vec<(&'static str, &'static str)>,
}

impl Recording {
    fn hear(&mut self, inserted: &Inserted<'_>) {
        if inserted.key_columns.is_empty() {
            let entry = (inserted.factory, inserted.table);
            if !self.keyless.contains(&entry) {
                self.keyless.push(entry);
            }
            return;
        }
        self.rows.extend(inserted.keys.iter().map(|key| Row {
            table: inserted.table,
            columns: inserted.key_columns,
            key: Arc::clone(key),
        }));
    }
}

/// The rows a handle has recorded, in insertion order.
#[derive(Debug, Default)]
pub(crate) struct Tracked {
    rows: Vec<Row>,
    keyless: Vec<(&'static str, &'static str)>,
}

impl Tracked {
    pub(crate) fn len(&self) -> usize {
        self.rows.len()
    }

    pub(crate) fn take(&mut self) -> Vec<Row> {
        std::mem::take(&mut self.rows)
    }

    /// Fails naming the factories (and tables) whose rows could not be recorded for lack of
    /// a key: tracked cleanup left them behind.
    pub(crate) fn check_keyless(&self) -> Result<(), CleanupError> {
        if self.keyless.is_empty() {
            return Ok(());
        }
        Err(CleanupError::Usage(format!(
            "Cleanup::Tracked cannot delete the rows of {}: the model does not hold its primary \
             key, so its rows cannot be found again; use Cleanup::Truncate or \
             Cleanup::DatabasePerTest for this test",
            self.keyless
                .iter()
                .map(|(factory, table)| format!("{factory} (`{table}`)"))
                .collect::<Vec<_>>()
                .join(", ")
        )))
    }

    fn keep<T, E>(&mut self, result: &Result<T, E>, recording: &Arc<Mutex<Recording>>) {
        let recorded = std::mem::take(&mut *recording.lock().unwrap_or_else(|e| e.into_inner()));
        if result.is_ok() {
            self.rows.extend(recorded.rows);
            for entry in recorded.keyless {
                if !self.keyless.contains(&entry) {
                    self.keyless.push(entry);
                }
            }
        }
    }
}

/// A handle's recorded rows, shared with the registry of tracked connections.
pub(crate) type Shared = Arc<Mutex<Tracked>>;

/// The recorded rows (a panic elsewhere while they were locked does not lose them).
pub(crate) fn lock(tracked: &Mutex<Tracked>) -> std::sync::MutexGuard<'_, Tracked> {
    tracked.lock().unwrap_or_else(|e| e.into_inner())
}

/// Runs `f` observing the rows it inserts, and keeps them in `tracked` when `f` succeeds. A
/// factory that fails or panics rolled its rows back (every factory call with more than one
/// insert is a transaction): keeping their keys could later delete a row someone else
/// inserted under a reused key.
pub(crate) fn recording<T, E>(
    tracked: &Mutex<Tracked>,
    f: impl FnOnce() -> Result<T, E>,
) -> Result<T, E> {
    let (observer, recording) = recorder();
    let (result, _) = observe::observing(observer, f);
    lock(tracked).keep(&result, &recording);
    result
}

/// [`recording`] for a future: rows inserted on whatever thread polls it.
#[cfg(feature = "async")]
pub(crate) async fn recording_async<T, E>(
    tracked: &Mutex<Tracked>,
    f: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, E> {
    let (observer, recording) = recorder();
    let (result, _) = observe::Observed::new(f, observer).await;
    lock(tracked).keep(&result, &recording);
    result
}

/// The connections of live `Cleanup::Tracked` handles, by address, with their recordings: a
/// factory given the handle's connection itself (`&mut *db`, the habit Diesel queries teach)
/// records its rows there too.
static CONNECTIONS: Mutex<Vec<(usize, Weak<Mutex<Tracked>>)>> = Mutex::new(Vec::new());
/// How many connections are registered: the create paths look nothing up while it is 0.
static REGISTERED: AtomicUsize = AtomicUsize::new(0);

/// A connection's identity while it lives: its address.
pub(crate) fn address<C>(conn: &C) -> usize {
    conn as *const C as usize
}

/// Records the rows factories create on the connection at `conn` into `tracked`.
pub(crate) fn register(conn: usize, tracked: &Shared) {
    let mut connections = CONNECTIONS.lock().unwrap_or_else(|e| e.into_inner());
    connections.retain(|(c, _)| *c != conn);
    connections.push((conn, Arc::downgrade(tracked)));
    REGISTERED.store(connections.len(), Ordering::Release);
}

/// Stops recording for the connection at `conn`.
pub(crate) fn deregister(conn: usize) {
    let mut connections = CONNECTIONS.lock().unwrap_or_else(|e| e.into_inner());
    connections.retain(|(c, _)| *c != conn);
    REGISTERED.store(connections.len(), Ordering::Release);
}

/// The recording of a tracked handle's connection at `conn`, when the call is not already
/// observed (a call through the handle is, and a parent created inside another factory's call).
fn tracking(conn: usize) -> Option<Shared> {
    if REGISTERED.load(Ordering::Acquire) == 0 || observe::active() {
        return None;
    }
    let connections = CONNECTIONS.lock().unwrap_or_else(|e| e.into_inner());
    connections
        .iter()
        .find(|(c, _)| *c == conn)
        .and_then(|(_, tracked)| tracked.upgrade())
}

/// Runs a factory call on the connection at `conn`, recording its rows when the connection
/// is a tracked handle's.
pub(crate) fn through<T, E>(conn: usize, f: impl FnOnce() -> Result<T, E>) -> Result<T, E> {
    match tracking(conn) {
        Some(tracked) => recording(&tracked, f),
        None => f(),
    }
}

/// [`through`] for an async factory call.
#[cfg(feature = "async")]
pub(crate) async fn through_async<T, E>(
    conn: usize,
    f: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, E> {
    match tracking(conn) {
        Some(tracked) => recording_async(&tracked, f).await,
        None => f.await,
    }
}

/// An observer that records into the returned recording.
fn recorder() -> (observe::Observer, Arc<Mutex<Recording>>) {
    let recording = Arc::new(Mutex::new(Recording::default()));
    let sink = Arc::clone(&recording);
    let observer: observe::Observer = Box::new(move |inserted: &Inserted<'_>| {
        sink.lock()
            .unwrap_or_else(|e| e.into_inner())
            .hear(inserted);
    });
    (observer, recording)
}

/// How many levels of referencing rows are followed (a self-referencing table would go on
/// for ever).
const MAX_DEPTH: usize = 6;
/// How often a cleanup that hit a deadlock is tried again.
const ATTEMPTS: u32 = 5;

/// The foreign keys of each database this process cleaned up, by URL: reading the catalog
/// costs more than the deletes.
static KEYS: Mutex<Vec<(String, Vec<ForeignKey>)>> = Mutex::new(Vec::new());

fn foreign_keys<C: TestBackend>(
    conn: &mut C,
    url: &str,
    fresh: bool,
) -> Result<Vec<ForeignKey>, CleanupError> {
    let mut cache = KEYS.lock().unwrap_or_else(|e| e.into_inner());
    if !fresh {
        if let Some((_, keys)) = cache.iter().find(|(u, _)| u == url) {
            return Ok(keys.clone());
        }
    }
    let step = "find the schema's foreign keys";
    let keys = C::foreign_keys(conn).map_err(CleanupError::db(Cleanup::Tracked, step))?;
    cache.retain(|(u, _)| u != url);
    cache.push((url.to_owned(), keys.clone()));
    Ok(keys)
}

/// Deletes `rows` newest first, each after the rows that reference it, in one transaction and
/// one round trip; tries again on a deadlock, and once with the catalog read afresh if the
/// schema changed since this process cached its foreign keys.
///
/// No wait for a lock lasts longer than `wait`, retries included: a connection that holds a
/// lock on a tracked row past the end of the test (an open transaction of a pool or a
/// background task) makes cleanup fail, naming the table, instead of hanging the test.
pub(crate) fn delete<C: TestBackend>(
    conn: &mut C,
    url: &str,
    rows: Vec<Row>,
    wait: Duration,
) -> Result<(), CleanupError> {
    let deadline = Instant::now() + wait;
    let mut fresh = false;
    let mut attempt = 0;
    loop {
        attempt += 1;
        let keys = foreign_keys(conn, url, fresh)?;
        let statements = plan::<C>(&rows, &keys);
        let left = deadline.saturating_duration_since(Instant::now());
        let Err(error) = run_bounded(conn, &statements, left.max(Duration::from_millis(1))) else {
            return Ok(());
        };
        // SQLite's "database is locked" is both: retried while time is left, then a timeout.
        if attempt < ATTEMPTS && is_retryable(&error) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20 * u64::from(attempt)));
        } else if is_lock_timeout(&error) {
            return Err(CleanupError::LockTimeout {
                cleanup: Cleanup::Tracked,
                table: blocked_table(conn, &statements),
                waited: wait,
            });
        } else if !fresh {
            fresh = true;
        } else {
            let step = format!(
                "delete the {} rows the test created ({} statements, attempt {attempt} of \
                 {ATTEMPTS})",
                rows.len(),
                statements.len()
            );
            return Err(CleanupError::db(Cleanup::Tracked, step)(error));
        }
    }
}

/// Runs `statements` in one transaction whose lock waits end after `wait`.
fn run_bounded<C: TestBackend>(
    conn: &mut C,
    statements: &[Delete],
    wait: Duration,
) -> Result<(), diesel::result::Error> {
    let (bound, unbound) = C::bound_lock_waits(wait);
    let result = conn.transaction(|conn| {
        C::execute(conn, &bound)?;
        for delete in statements {
            execute(conn, &delete.sql, &delete.keys)?;
        }
        Ok(())
    });
    if let Some(unbound) = unbound {
        // A connection that cannot reset it is closed by the caller's pool check, not reused
        // with a short timeout: `in_transaction` is false either way, so reset best-effort.
        let _ = C::execute(conn, &unbound);
    }
    result
}

/// Runs `sql` with each of `keys` bound, in order, into its placeholders.
fn execute<C: TestBackend>(
    conn: &mut C,
    sql: &str,
    keys: &[Recorded],
) -> Result<(), diesel::result::Error> {
    let mut statement: Statement<C::Backend> = diesel::sql_query(sql).into_boxed();
    for key in keys {
        let bind = binder::<C::Backend>(key).ok_or_else(|| {
            diesel::result::Error::QueryBuilderError(
                "a key recorded on another backend cannot be deleted here".into(),
            )
        })?;
        statement = bind(statement);
    }
    C::execute_bound(conn, statement)
}

/// Which table's rows another connection keeps locked: each table's rows are locked again,
/// one table at a time, the created rows first (InnoDB locks the rows a subquery reads, so a
/// referencing table's query waits on its parent's lock), with a short wait, in a transaction
/// rolled back at the end. `None` when nothing waits (the lock went meanwhile), and on SQLite,
/// which locks the whole file.
fn blocked_table<C: TestBackend>(conn: &mut C, statements: &[Delete]) -> Option<String> {
    if !C::locks_rows() {
        return None;
    }
    let mut by_depth: Vec<&Delete> = statements.iter().collect();
    by_depth.sort_by_key(|d| d.depth);
    let (bound, unbound) = C::bound_lock_waits(Duration::from_millis(200));
    let mut blocked = None;
    let _ = conn.transaction::<(), diesel::result::Error, _>(|conn| {
        C::execute(conn, &bound)?;
        for delete in by_depth {
            let lock = format!(
                "SELECT 1 FROM {} WHERE {} FOR UPDATE",
                C::quote_ident(&delete.table),
                delete.filter
            );
            match execute(conn, &lock, &delete.keys) {
                Ok(()) => {}
                Err(e) if is_lock_timeout(&e) => {
                    blocked = Some(delete.table.clone());
                    break;
                }
                Err(e) => return Err(e),
            }
        }
        Err(diesel::result::Error::RollbackTransaction)
    });
    if let Some(unbound) = unbound {
        let _ = C::execute(conn, &unbound);
    }
    blocked
}

/// One `DELETE` of a cleanup: its table, its filter, how many foreign keys away from the
/// created rows it is, its SQL, and the keys bound into the filter's placeholders.
#[derive(Debug, Clone)]
pub(crate) struct Delete {
    table: String,
    filter: String,
    depth: usize,
    sql: String,
    keys: Vec<Recorded>,
}

/// Keys per statement at most: under every backend's bind limit with room for composite keys.
const KEYS_PER_STATEMENT: usize = 1_000;

/// The `DELETE` statements for `rows`, newest first; runs of rows of one table become one
/// statement.
pub(crate) fn plan<C: TestBackend>(rows: &[Row], keys: &[ForeignKey]) -> Vec<Delete> {
    let mut statements = Vec::new();
    let mut newest_first = rows.iter().rev().peekable();
    while let Some(first) = newest_first.next() {
        let mut run = vec![first];
        while let Some(next) = newest_first.peek() {
            if next.table != first.table
                || next.columns != first.columns
                || run.len() == KEYS_PER_STATEMENT
            {
                break;
            }
            run.push(newest_first.next().expect("peeked"));
        }
        let columns: Vec<String> = first.columns.iter().map(|c| c.to_string()).collect();
        let mut n = 0;
        let values: Vec<String> = run
            .iter()
            .map(|_| {
                tuple(columns.iter().map(|_| {
                    n += 1;
                    C::placeholder(n)
                }))
            })
            .collect();
        let filter = format!(
            "{} IN ({})",
            tuple(columns.iter().map(|c| C::quote_ident(c))),
            values.join(", ")
        );
        let bound: Vec<Recorded> = run.iter().map(|row| Arc::clone(&row.key)).collect();
        delete_tree::<C>(first.table, &filter, &bound, keys, 0, &mut statements);
    }
    statements
}

/// Pushes the statements that delete the rows of `table` matching `filter`, after the rows of
/// other tables that reference them.
fn delete_tree<C: TestBackend>(
    table: &str,
    filter: &str,
    bound: &[Recorded],
    keys: &[ForeignKey],
    depth: usize,
    out: &mut Vec<Delete>,
) {
    if depth < MAX_DEPTH {
        for key in keys.iter().filter(|k| k.parent == table) {
            let select = format!(
                "SELECT {} FROM {} WHERE {filter}",
                key.parent_columns
                    .iter()
                    .map(|c| C::quote_ident(c))
                    .collect::<Vec<_>>()
                    .join(", "),
                C::quote_ident(table),
            );
            let child_filter = format!(
                "{} IN ({})",
                tuple(key.child_columns.iter().map(|c| C::quote_ident(c))),
                C::deletable_subquery(select)
            );
            delete_tree::<C>(&key.child, &child_filter, bound, keys, depth + 1, out);
        }
    }
    out.push(Delete {
        table: table.to_owned(),
        filter: filter.to_owned(),
        depth,
        sql: format!("DELETE FROM {} WHERE {filter}", C::quote_ident(table)),
        keys: bound.to_vec(),
    });
}

/// `a` for one item, `(a, b)` for more.
fn tuple(items: impl IntoIterator<Item = String>) -> String {
    let items: Vec<String> = items.into_iter().collect();
    match items.as_slice() {
        [one] => one.clone(),
        _ => format!("({})", items.join(", ")),
    }
}
