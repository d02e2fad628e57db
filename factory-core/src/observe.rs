//! The one point where the runtime reports the rows it inserted.
//!
//! Every create path (sync and async, single rows, batches, parents, related rows) calls
//! [`inserted`] once per `INSERT` it ran. Whoever wants to know (tracked cleanup records the
//! keys to delete later) observes for the span of a call with [`observing`], or for an async
//! call with [`Observed`]; only the innermost observer on the thread hears of a row, so a
//! handle nested in another's call records its own rows alone.

use crate::persist::Record;
use std::cell::RefCell;

/// Rows one `INSERT` stored.
#[derive(Debug)]
pub(crate) struct Inserted<'a> {
    /// The factory that inserted them, e.g. `UserFactory`.
    pub factory: &'static str,
    /// Their table.
    pub table: &'static str,
    /// The table's primary key columns (empty when the model has no key).
    pub key_columns: &'static [&'static str],
    /// Each row's key, bound with its SQL types.
    pub keys: &'a [crate::cleanup::key::Recorded],
}

/// What hears of inserted rows.
pub(crate) type Observer = Box<dyn FnMut(&Inserted<'_>) + Send>;

thread_local! {
    static OBSERVERS: RefCell<Vec<Observer>> = const { RefCell::new(Vec::new()) };
}

/// Reports that factory `F` just stored `models`. Costs one thread-local lookup when nobody
/// observes.
pub(crate) fn inserted<F: Record>(
    models: &[F::Model],
    record_key: fn(&F::Model) -> crate::cleanup::key::Recorded,
) {
    let _ = OBSERVERS.try_with(|observers| {
        let mut observers = observers.borrow_mut();
        if let Some(innermost) = observers.last_mut() {
            let keys: Vec<crate::cleanup::key::Recorded> = if F::KEY_COLUMNS.is_empty() {
                Vec::new()
            } else {
                models.iter().map(record_key).collect()
            };
            innermost(&Inserted {
                factory: F::NAME,
                table: F::TABLE_NAME,
                key_columns: F::KEY_COLUMNS,
                keys: &keys,
            });
        }
    });
}

/// Whether an observer hears of rows inserted on this thread now.
pub(crate) fn active() -> bool {
    OBSERVERS
        .try_with(|observers| !observers.borrow().is_empty())
        .unwrap_or(false)
}

/// Runs `f` with `observer` hearing of every row inserted on this thread meanwhile; gives the
/// observer back afterwards (also when `f` panics, when it is dropped instead).
pub(crate) fn observing<T>(observer: Observer, f: impl FnOnce() -> T) -> (T, Observer) {
    struct Pop(bool);
    impl Drop for Pop {
        fn drop(&mut self) {
            if self.0 {
                let _ = OBSERVERS.try_with(|o| o.borrow_mut().pop());
            }
        }
    }
    OBSERVERS.with(|o| o.borrow_mut().push(observer));
    let mut pop = Pop(true);
    let value = f();
    pop.0 = false;
    let observer = OBSERVERS
        .with(|o| o.borrow_mut().pop())
        .expect("the observer pushed above");
    (value, observer)
}

/// A future whose every poll runs with an observer on the polling thread: rows inserted by
/// the future, on whatever worker thread polls it, reach the observer.
#[cfg(feature = "async")]
pub(crate) struct Observed<Fut> {
    future: std::pin::Pin<Box<Fut>>,
    observer: Option<Observer>,
}

#[cfg(feature = "async")]
impl<Fut: std::future::Future> Observed<Fut> {
    pub(crate) fn new(future: Fut, observer: Observer) -> Self {
        Self {
            future: Box::pin(future),
            observer: Some(observer),
        }
    }
}

#[cfg(feature = "async")]
impl<Fut: std::future::Future> std::future::Future for Observed<Fut> {
    type Output = (Fut::Output, Observer);

    fn poll(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        let this = &mut *self;
        let observer = this.observer.take().expect("polled after completion");
        let (poll, observer) = observing(observer, || this.future.as_mut().poll(cx));
        match poll {
            std::task::Poll::Ready(value) => std::task::Poll::Ready((value, observer)),
            std::task::Poll::Pending => {
                this.observer = Some(observer);
                std::task::Poll::Pending
            }
        }
    }
}
