//! Paths the derive's generated code uses, so it never depends on what the user imported.

pub use ::core;
pub use ::diesel;
pub use ::fake;

pub use crate::create::Create;
pub use crate::error::ConstraintKind;
pub use crate::factory::Factory;
pub use crate::fake::value as fake_value;
pub use crate::insert::{InsertRows, ReadBack};
pub use crate::sequence::claim as claim_sequence_token;
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

/// Calls an `after_create = |model, conn| ..` hook.
#[inline(always)]
pub fn after_create<M, C>(f: impl FnOnce(&mut M, &mut C), model: &mut M, conn: &mut C) {
    f(model, conn)
}

/// Calls an `after_create = |model, transients, conn| ..` hook.
#[inline(always)]
pub fn after_create_with<M, P, C>(
    f: impl FnOnce(&mut M, &P, &mut C),
    model: &mut M,
    transients: &P,
    conn: &mut C,
) {
    f(model, transients, conn)
}

/// One primary key column's value as text, for tracked cleanup.
#[inline]
pub fn key_text<T: ::core::fmt::Display + ?Sized>(value: &T) -> String {
    value.to_string()
}

/// Calls a `sequence = |n| ..` closure.
#[inline(always)]
pub fn sequence<T>(f: impl FnOnce(u64) -> T, n: u64) -> T {
    f(n)
}

/// A template's `<n>` for `n`, formatted in place: [`crate::sequence::unique`]'s text.
#[inline]
pub fn sequence_value(n: u64) -> impl ::core::fmt::Display {
    crate::sequence::Numbered::new(n)
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

/// `create`'s panic: the error's full text at the caller's line, and the seed that reproduces
/// the fake data.
#[track_caller]
#[cold]
pub fn create_failed(error: FactoryError) -> ! {
    panic!(
        "{error} [{}={}]",
        crate::fake::SEED_VAR,
        crate::fake::seed()
    )
}

/// Inserts one row, naming the factory and table in the error.
pub fn insert_one<F: Factory, C: InsertRows<F>>(
    conn: &mut C,
    attributes: F::Attributes,
) -> Result<F::Model, FactoryError> {
    let model = conn
        .insert_one(attributes)
        .map_err(|e| FactoryError::from_diesel(F::NAME, F::TABLE_NAME, e))?;
    crate::cleanup::record::<F>(::core::slice::from_ref(&model));
    Ok(model)
}

/// Inserts rows as multi-row statements in one transaction, naming the factory and table in
/// the error.
pub fn insert_batch<F: Factory, C: InsertRows<F>>(
    conn: &mut C,
    rows: Vec<F::Attributes>,
) -> Result<Vec<F::Model>, FactoryError> {
    let models = conn
        .insert_batch(rows, F::COLUMNS)
        .map_err(|e| FactoryError::from_diesel(F::NAME, F::TABLE_NAME, e))?;
    crate::cleanup::record::<F>(&models);
    Ok(models)
}

/// Runs `f` in a transaction (a savepoint inside an open one) when `atomic`, else directly:
/// a single insert is atomic by itself, and a transaction around it would only add round trips.
/// A failure to begin or end the transaction is reported as `F`'s.
///
/// First, before `f` renders any sequence value, the process takes its sequence token from the
/// database server (once per process: [`crate::sequence::claim`]).
pub fn in_transaction<F, C, T>(
    atomic: bool,
    conn: &mut C,
    f: impl FnOnce(&mut C) -> Result<T, FactoryError>,
) -> Result<T, FactoryError>
where
    F: Factory,
    C: crate::sequence::ClaimToken,
{
    crate::sequence::claim(conn);
    if !atomic {
        return f(conn);
    }
    conn.transaction(f).map_err(|e| match e {
        FactoryError::Transaction { source } => FactoryError::Database {
            factory: F::NAME,
            table: F::TABLE_NAME,
            source,
        },
        other => other,
    })
}

/// The table a factory names after its model failed to compile (the derive's fallback).
pub mod fallback {
    diesel::table! {
        /// Never queried.
        unused (id) {
            /// Never queried.
            id -> Integer,
        }
    }
}
