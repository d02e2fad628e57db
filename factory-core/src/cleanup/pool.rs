//! What a test process keeps between its tests: idle connections by URL, leased per-test
//! databases, and which migrations it has already applied. Opening a connection costs a few
//! milliseconds, more than a test transaction's whole work; under `cargo test` every test of a
//! binary shares one process and so these.

use std::any::{Any, TypeId};
use std::sync::Mutex;

type Shelf = Vec<((TypeId, String), Box<dyn Any + Send>)>;

static IDLE: Mutex<Shelf> = Mutex::new(Vec::new());
static DONE: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// How many idle things of one kind and key are kept.
const KEEP: usize = 16;

/// An idle `T` kept under `key`, if there is one.
pub(crate) fn take<T: Any + Send>(key: &str) -> Option<T> {
    let mut idle = IDLE.lock().unwrap_or_else(|e| e.into_inner());
    let at = idle
        .iter()
        .rposition(|((ty, k), _)| *ty == TypeId::of::<T>() && k == key)?;
    let (_, value) = idle.swap_remove(at);
    value.downcast::<T>().ok().map(|b| *b)
}

/// Keeps `value` under `key` for a later test (drops it when enough are kept).
pub(crate) fn put<T: Any + Send>(key: &str, value: T) {
    let mut idle = IDLE.lock().unwrap_or_else(|e| e.into_inner());
    let id = (TypeId::of::<T>(), key.to_owned());
    if idle.iter().filter(|(k, _)| *k == id).count() < KEEP {
        idle.push((id, Box::new(value)));
    }
}

/// Whether `key` (a database and a migrations hash) was marked done in this process.
pub(crate) fn is_done(key: &str) -> bool {
    DONE.lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .any(|k| k == key)
}

/// Marks `key` done for the rest of the process.
pub(crate) fn mark_done(key: &str) {
    let mut done = DONE.lock().unwrap_or_else(|e| e.into_inner());
    if !done.iter().any(|k| k == key) {
        done.push(key.to_owned());
    }
}
