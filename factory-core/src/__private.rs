//! Paths the derive's generated code uses, so it never depends on what the user imported.

pub use ::core;
pub use ::diesel;
pub use ::fake;

pub use crate::factory::Factory;
pub use crate::fake::value as fake_value;
pub use crate::insert::InsertRows;
pub use crate::sequence::Sequence;
pub use crate::stub::Stub;
pub use crate::FactoryError;

/// Calls a `lazy = |model| ..` closure; taking it as an argument gives the closure its
/// parameter type, so `|u| u.email.len()` needs no annotation.
#[inline(always)]
pub fn lazy<M, T>(f: impl FnOnce(&M) -> T, model: &M) -> T {
    f(model)
}

/// Calls a `lazy = |model, transients| ..` closure.
#[inline(always)]
pub fn lazy_with<M, P, T>(f: impl FnOnce(&M, &P) -> T, model: &M, transients: &P) -> T {
    f(model, transients)
}

/// Calls a `sequence = |n| ..` closure.
#[inline(always)]
pub fn sequence<T>(f: impl FnOnce(u64) -> T, n: u64) -> T {
    f(n)
}

/// Calls an `after_build = |model| ..` hook.
#[inline(always)]
pub fn after_build<M>(f: impl FnOnce(&mut M), model: &mut M) {
    f(model)
}

/// Calls an `after_build = |model, transients| ..` hook.
#[inline(always)]
pub fn after_build_with<M, P>(f: impl FnOnce(&mut M, &P), model: &mut M, transients: &P) {
    f(model, transients)
}

/// `create`'s panic: the error's full text at the caller's line.
#[track_caller]
#[cold]
pub fn create_failed(error: FactoryError) -> ! {
    panic!("{error}")
}
