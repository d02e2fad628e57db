//! Seeded fake data: one seed per process, one reproducible random stream per test.
//!
//! The seed comes from `FACTORY_SEED` or, when it is unset, from the operating system; it is
//! printed to stderr once per process, so a failing test's output always shows the seed that
//! reproduces it. Each thread draws from its own stream, derived from the seed and the thread's
//! name. The test harness names every test's thread after the test, so a test gets the same
//! values under `FACTORY_SEED=<seed>` however many tests run beside it.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::cell::RefCell;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

/// The environment variable that fixes the seed.
pub const SEED_VAR: &str = "FACTORY_SEED";

static SEED: OnceLock<u64> = OnceLock::new();
static UNNAMED_THREADS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static RNG: RefCell<Option<StdRng>> = const { RefCell::new(None) };
}

/// The seed of this process: `FACTORY_SEED` if set, otherwise a random one.
///
/// The first call prints `factory: FACTORY_SEED=<seed>` to stderr.
///
/// ```
/// let seed = factory_core::fake::seed();
/// assert_eq!(seed, factory_core::fake::seed());
/// ```
///
/// # Panics
/// If `FACTORY_SEED` is set but is not an unsigned integer: a typo must not silently give
/// different data than the run it was meant to reproduce.
pub fn seed() -> u64 {
    *SEED.get_or_init(|| {
        let seed = match std::env::var(SEED_VAR) {
            Ok(text) => text.trim().parse().unwrap_or_else(|_| {
                panic!("{SEED_VAR}={text:?} is not an unsigned 64-bit integer")
            }),
            Err(_) => rand::random(),
        };
        eprintln!("factory: {SEED_VAR}={seed} (set it to reproduce this run's fake data)");
        seed
    })
}

fn thread_stream() -> StdRng {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    seed().hash(&mut hasher);
    match std::thread::current().name() {
        Some(name) => name.hash(&mut hasher),
        // Unnamed threads get distinct streams, numbered in the order they first draw.
        None => UNNAMED_THREADS
            .fetch_add(1, Ordering::Relaxed)
            .hash(&mut hasher),
    }
    StdRng::seed_from_u64(hasher.finish())
}

/// Runs `f` with this thread's random number generator.
///
/// The borrow lasts only for `f`; do not build factories inside it (that would borrow twice and
/// panic). The derive calls it once per faker value.
///
/// ```
/// use rand::Rng;
/// let roll: u8 = factory_core::fake::with_rng(|rng| rng.random_range(1..=6));
/// assert!((1..=6).contains(&roll));
/// ```
pub fn with_rng<T>(f: impl FnOnce(&mut StdRng) -> T) -> T {
    RNG.with(|cell| {
        let mut slot = cell.borrow_mut();
        let rng = slot.get_or_insert_with(thread_stream);
        f(rng)
    })
}

/// Restarts this thread's stream from `seed`, e.g. to make one block of a test reproducible on
/// its own.
///
/// ```
/// use factory_core::fake::{reseed, value};
/// use fake::faker::name::en::FirstName;
///
/// reseed(7);
/// let a: String = value(&FirstName());
/// reseed(7);
/// let b: String = value(&FirstName());
/// assert_eq!(a, b);
/// ```
pub fn reseed(seed: u64) {
    RNG.with(|cell| *cell.borrow_mut() = Some(StdRng::seed_from_u64(seed)));
}

/// One fake value of type `T` from `faker` (any `fake` faker, range or locale-specific faker),
/// drawn from this thread's stream.
///
/// ```
/// use fake::faker::internet::en::SafeEmail;
/// let email: String = factory_core::fake::value(&SafeEmail());
/// assert!(email.contains('@'));
/// let age: u8 = factory_core::fake::value(&(18..65));
/// assert!((18..65).contains(&age));
/// ```
#[inline]
pub fn value<T, F>(faker: &F) -> T
where
    T: ::fake::Dummy<F>,
{
    with_rng(|rng| T::dummy_with_rng(faker, rng))
}

/// A random value in `0..bound` from this thread's stream (for user-written factory code).
///
/// ```
/// assert!(factory_core::fake::below(10) < 10);
/// ```
pub fn below(bound: u64) -> u64 {
    with_rng(|rng| rng.random_range(0..bound.max(1)))
}
