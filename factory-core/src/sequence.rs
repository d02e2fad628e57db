//! Sequences: the `<n>` in `#[factory(sequence = "user<n>@example.com")]`.

use std::sync::atomic::{AtomicU64, Ordering};

/// An atomic counter that hands out 1, 2, 3, ... to every thread of the process.
///
/// The derive makes one `Sequence` per sequence field (and one per `db_generated` field, for the
/// stub values `build()` gives it), so two factories or two fields never share numbers.
/// Values are unique within a process; uniqueness across processes and runs is layered on top of
/// [`Sequence::next`] without changing the derive.
///
/// ```
/// use factory_core::Sequence;
///
/// static ORDER_NUMBER: Sequence = Sequence::new();
/// assert_eq!(ORDER_NUMBER.next(), 1);
/// assert_eq!(ORDER_NUMBER.next(), 2);
/// ORDER_NUMBER.reset();
/// assert_eq!(ORDER_NUMBER.next(), 1);
/// ```
#[derive(Debug)]
pub struct Sequence {
    last: AtomicU64,
}

impl Sequence {
    /// A sequence whose first value is 1.
    pub const fn new() -> Self {
        Self {
            last: AtomicU64::new(0),
        }
    }

    /// The next value: 1 on the first call, then one more on every call, from any thread.
    #[inline]
    #[allow(clippy::should_implement_trait)] // a counter, not an iterator: it never ends
    pub fn next(&self) -> u64 {
        self.last.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// Starts the sequence again at 1.
    pub fn reset(&self) {
        self.last.store(0, Ordering::Relaxed);
    }

    /// The value the last [`next`](Self::next) returned (0 before the first).
    pub fn current(&self) -> u64 {
        self.last.load(Ordering::Relaxed)
    }
}

impl Default for Sequence {
    fn default() -> Self {
        Self::new()
    }
}

/// Expands a sequence template: every `<n>` in `template` becomes `n`.
///
/// The derive checks at compile time that a template holds `<n>`; this is the same rule at run
/// time for templates built by hand.
///
/// ```
/// assert_eq!(factory_core::sequence::render("user<n>@example.com", 7), "user7@example.com");
/// ```
pub fn render(template: &str, n: u64) -> String {
    template.replace("<n>", &n.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn values_are_unique_across_threads() {
        static SEQ: Sequence = Sequence::new();
        let handles: Vec<_> = (0..8)
            .map(|_| std::thread::spawn(|| (0..1000).map(|_| SEQ.next()).collect::<Vec<_>>()))
            .collect();
        let all: Vec<u64> = handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect();
        let distinct: HashSet<_> = all.iter().copied().collect();
        assert_eq!(distinct.len(), 8000);
        assert_eq!(*all.iter().min().unwrap(), 1);
        assert_eq!(*all.iter().max().unwrap(), 8000);
    }
}
