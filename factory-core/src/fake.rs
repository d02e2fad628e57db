//! Seeded fake data: one seed per process, one reproducible random stream per test.
//!
//! The seed comes from `FACTORY_SEED` or, when it is unset, from the operating system. It is
//! written to the process's stderr once (past the test harness's output capture, so it shows
//! whichever test fails), and `create`'s panic message repeats it.
//!
//! Each thread draws from its own stream, derived from the seed and the thread's name. The test
//! harness names every test's thread after the test, so a test's own thread gets the same fake
//! values under `FACTORY_SEED=<seed>` however many tests run beside it. Threads that share a
//! name (a runtime's workers) get distinct streams, numbered in the order they first draw; the
//! numbering, and so their values, reproduce only when they start in the same order. Sequences
//! (`<n>`) are counters of the process, not draws: they depend on what else ran before.
//!
//! Streams are ChaCha8 keyed by FNV-1a of the seed and name: the same seed gives the same values
//! with any toolchain.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::cell::RefCell;
use std::collections::HashMap;
use std::io::Write;
use std::sync::{Mutex, OnceLock};

/// The `fake` crate's fakers, locales and traits, for code that draws fake values itself (and
/// the paths the compiler prints for a faker).
pub use ::fake::{faker, locales, Dummy, Fake, Faker};

/// The random number generator of a thread's stream.
pub type FakeRng = ChaCha8Rng;

/// The environment variable that fixes the seed.
pub const SEED_VAR: &str = "FACTORY_SEED";

static SEED: OnceLock<u64> = OnceLock::new();
/// How many threads of each name have drawn so far.
static NAMES: Mutex<Option<HashMap<String, u64>>> = Mutex::new(None);

thread_local! {
    static RNG: RefCell<Option<FakeRng>> = const { RefCell::new(None) };
}

/// The seed of this process: `FACTORY_SEED` if set, otherwise a random one.
///
/// The first call writes `factory: FACTORY_SEED=<seed>` to stderr.
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
        // Not `eprintln!`: the test harness would capture it into one test's output only.
        let _ = writeln!(
            std::io::stderr(),
            "factory: {SEED_VAR}={seed} (set it to reproduce this run's fake data)"
        );
        seed
    })
}

/// FNV-1a: a hash whose values do not change between Rust releases, unlike `DefaultHasher`.
fn fnv1a(bytes: impl IntoIterator<Item = u8>, mut hash: u64) -> u64 {
    for byte in bytes {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

fn thread_stream() -> FakeRng {
    let name = std::thread::current().name().unwrap_or("").to_owned();
    let occurrence = {
        let mut names = NAMES.lock().unwrap_or_else(|e| e.into_inner());
        let count = names
            .get_or_insert_with(HashMap::new)
            .entry(name.clone())
            .or_insert(0);
        *count += 1;
        *count - 1
    };
    let mut hash = fnv1a(seed().to_le_bytes(), 0xcbf2_9ce4_8422_2325);
    hash = fnv1a(name.bytes(), hash);
    hash = fnv1a(occurrence.to_le_bytes(), hash);
    FakeRng::seed_from_u64(hash)
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
pub fn with_rng<T>(f: impl FnOnce(&mut FakeRng) -> T) -> T {
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
    RNG.with(|cell| *cell.borrow_mut() = Some(FakeRng::seed_from_u64(seed)));
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

#[cfg(test)]
mod tests {
    use super::*;

    fn first_draw_of_thread(name: &str) -> u64 {
        std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(|| with_rng(|rng| rng.random::<u64>()))
            .unwrap()
            .join()
            .unwrap()
    }

    #[test]
    fn threads_sharing_a_name_get_different_streams() {
        let a = first_draw_of_thread("worker");
        let b = first_draw_of_thread("worker");
        assert_ne!(a, b);
    }

    #[test]
    fn the_stream_is_a_fixed_function_of_seed_and_name() {
        // Pinned: a change here breaks every FACTORY_SEED users have written down.
        assert_eq!(fnv1a(*b"a", 0xcbf2_9ce4_8422_2325), 0xaf63_dc4c_8601_ec8c);
        let mut a = FakeRng::seed_from_u64(7);
        let mut b = FakeRng::seed_from_u64(7);
        assert_eq!(a.random::<u64>(), b.random::<u64>());
    }
}
