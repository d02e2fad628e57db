//! Paths the derive's generated code uses, so it never depends on what the user imported.
//! Versioned: a derive of another version of this crate fails to compile instead of calling
//! functions whose meaning changed.

pub use ::core;
// The standard items the generated code names, by short paths that no user import can shadow.
pub use ::core::clone::Clone;
pub use ::core::convert::{Into, TryFrom};
pub use ::core::default::Default;
pub use ::core::iter::IntoIterator;
pub use ::core::marker::Send;
pub use ::core::ops::FnOnce;
pub use ::core::option::Option::{self, None, Some};
pub use ::core::result::Result;
pub use ::diesel;
#[cfg(feature = "async")]
pub use ::diesel_async;
pub use ::fake;
pub use ::std::boxed::Box;
pub use ::std::string::String;
pub use ::std::vec::Vec;

/// The async create path's parts (`async` feature).
#[cfg(feature = "async")]
pub mod asynchronous {
    pub use crate::create::asynchronous::{
        after_create, after_create_with, create_children, parent_key, BoxFuture, CreateAsync,
        GraphAsync, PersistAsync,
    };
}

pub use crate::attributes::Attributes;
pub use crate::create::{parent_key, Create};
pub use crate::factory::Factory;
pub use crate::fake::value as fake_value;
pub use crate::persist::{Condition, Graph, HasBackend, Lookup, Pending, Persist, Pin, Record};
pub use crate::sequence::Sequence;
pub use crate::stub::Stub;
pub use crate::FactoryError;

/// What a `faker = ..` expression sees: the `fake` crate's English fakers by their bare names
/// (`FirstName()`), `fake` itself and its locales, without the user importing them.
pub mod fakers {
    pub use ::fake::faker::address::en::*;
    pub use ::fake::faker::boolean::en::*;
    pub use ::fake::faker::company::en::*;
    pub use ::fake::faker::internet::en::*;
    pub use ::fake::faker::lorem::en::*;
    pub use ::fake::faker::name::en::*;
    pub use ::fake::faker::phone_number::en::*;
    pub use ::fake::{self, locales, Faker};
}

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
pub fn after_create<M, C>(
    f: impl FnOnce(&mut M, &mut C),
    model: &mut M,
    conn: &mut C,
) -> Result<(), FactoryError> {
    f(model, conn);
    Ok(())
}

/// Calls an `after_create = |model, transients, conn| ..` hook.
#[inline(always)]
pub fn after_create_with<M, P, C>(
    f: impl FnOnce(&mut M, &P, &mut C),
    model: &mut M,
    transients: &P,
    conn: &mut C,
) -> Result<(), FactoryError> {
    f(model, transients, conn);
    Ok(())
}

pub use crate::cleanup::key::binds_key;

/// Calls a `sequence = |n| ..` closure.
#[inline(always)]
pub fn sequence<T>(f: impl FnOnce(u64) -> T, n: u64) -> T {
    f(n)
}

/// A `sequence = "user<n>@example.com"` template's value: `parts` (the text around each `<n>`)
/// joined by the number `n` as [`crate::sequence::unique`] writes it.
#[inline]
pub fn template<T>(parts: &[&str], n: u64) -> T
where
    String: Into<T>,
{
    use ::core::fmt::Write as _;
    let number = crate::sequence::Numbered::new(n);
    let mut out = String::with_capacity(parts.iter().map(|p| p.len()).sum::<usize>() + 24);
    for (i, part) in parts.iter().enumerate() {
        if i > 0 {
            // Writing into a `String` does not fail.
            let _ = write!(out, "{number}");
        }
        out.push_str(part);
    }
    out.into()
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

/// Creates the rows of a `related(..)` list, each pointed at its parent by `point`.
pub fn create_children<P, F, C>(
    children: Vec<F>,
    parent: &P::Model,
    point: impl Fn(F, P::Key) -> F,
    conn: &mut C,
) -> Result<(), FactoryError>
where
    P: Record,
    F: Create<C>,
{
    for child in children {
        F::create_in(point(child, P::key_of(parent)), conn)?;
    }
    Ok(())
}

pub use crate::row::{set, set_or_default, writes, Set, SetOrDefault};

/// The model a `sub` factory builds is the one Diesel's `belongs_to(..)` says its key
/// references.
#[diagnostic::on_unimplemented(
    message = "the `sub` factory builds `{Self}`, but the model's `belongs_to` says this key references `{P}`",
    label = "a factory of another table than the key references",
    note = "name the factory of the parent the foreign key points at, or correct `belongs_to`"
)]
pub trait References<P> {}

impl<T> References<T> for T {}

/// Nothing: calling it (in a `const`) proves that model `M` is `P` (see [`References`]).
pub const fn references<M: References<P>, P>() {}

/// Nothing: calling it (in a `const`) proves that Diesel reads model `M` back on backend `DB`.
pub const fn selectable<M: ::diesel::Selectable<DB>, DB: ::diesel::backend::Backend>() {}

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

/// Expands `$callback!(<connection type>)` once for each connection type this build of
/// `factory-core` supports: the derive's fallback after a compile error.
#[doc(hidden)]
#[macro_export]
macro_rules! __for_each_connection {
    ($callback:ident) => {
        $crate::__if_sqlite! { $callback!($crate::__private_v1::diesel::sqlite::SqliteConnection); }
        $crate::__if_postgres! { $callback!($crate::__private_v1::diesel::pg::PgConnection); }
        $crate::__if_mysql! { $callback!($crate::__private_v1::diesel::mysql::MysqlConnection); }
    };
}

/// Expands `$callback!(<backend type>)` for each backend this build supports: the derive's
/// `Lookup` implementations.
#[doc(hidden)]
#[macro_export]
macro_rules! __for_each_backend {
    ($callback:ident) => {
        $crate::__if_sqlite! { $callback!($crate::__private_v1::diesel::sqlite::Sqlite); }
        $crate::__if_postgres! { $callback!($crate::__private_v1::diesel::pg::Pg); }
        $crate::__if_mysql! { $callback!($crate::__private_v1::diesel::mysql::Mysql); }
    };
}

/// [`__for_each_backend!`] for one backend named as in `check_for_backend(..)`.
#[doc(hidden)]
#[macro_export]
macro_rules! __for_backend_type {
    ($callback:ident, Sqlite) => {
        $crate::__if_sqlite! { $callback!($crate::__private_v1::diesel::sqlite::Sqlite); }
    };
    ($callback:ident, Pg) => {
        $crate::__if_postgres! { $callback!($crate::__private_v1::diesel::pg::Pg); }
    };
    ($callback:ident, Mysql) => {
        $crate::__if_mysql! { $callback!($crate::__private_v1::diesel::mysql::Mysql); }
    };
    ($callback:ident, $other:ident) => {};
}

#[cfg(feature = "async")]
#[doc(hidden)]
#[macro_export]
macro_rules! __if_async {
    ($($body:tt)*) => { $($body)* };
}
#[cfg(not(feature = "async"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __if_async {
    ($($body:tt)*) => {};
}

// One macro per backend feature: its body when the feature is on, nothing when it is off.
// (The `cfg` must be evaluated here, in factory-core, not in the crate the derive expands in.)

#[cfg(feature = "sqlite")]
#[doc(hidden)]
#[macro_export]
macro_rules! __if_sqlite {
    ($($body:tt)*) => { $($body)* };
}
#[cfg(not(feature = "sqlite"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __if_sqlite {
    ($($body:tt)*) => {};
}

#[cfg(feature = "postgres")]
#[doc(hidden)]
#[macro_export]
macro_rules! __if_postgres {
    ($($body:tt)*) => { $($body)* };
}
#[cfg(not(feature = "postgres"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __if_postgres {
    ($($body:tt)*) => {};
}

#[cfg(feature = "mysql")]
#[doc(hidden)]
#[macro_export]
macro_rules! __if_mysql {
    ($($body:tt)*) => { $($body)* };
}
#[cfg(not(feature = "mysql"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __if_mysql {
    ($($body:tt)*) => {};
}

/// Implements `Persist` for a factory on each connection type of the listed backends, and
/// `PersistAsync` on their async connection types (with the `async` feature):
///
/// `__persist!(Factory, [Sqlite Pg Mysql], { sync hook }, { async hook })` (`[]`: every
/// backend), where a hook is
/// `{}` (none), `{ |model, transients, conn| body }`, or, for the async one, `none` (no async
/// impls: the model has a sync hook only).
#[doc(hidden)]
#[macro_export]
macro_rules! __persist {
    ($factory:ty, [], $sync:tt, $async:tt) => {
        $crate::__persist!($factory, [Sqlite Pg Mysql], $sync, $async);
    };
    ($factory:ty, [$($backend:ident)*], $sync:tt, $async:tt) => {
        $( $crate::__persist!(@backend $backend, $factory, $sync, $async); )*
    };
    (@backend Sqlite, $f:ty, $sync:tt, $async:tt) => {
        $crate::__if_sqlite! {
            $crate::__persist!(@sync $crate::__private_v1::diesel::sqlite::SqliteConnection, $f, $sync);
            $crate::__if_async! {
                $crate::__persist!(@async $crate::__private_v1::diesel_async::sync_connection_wrapper::SyncConnectionWrapper<$crate::__private_v1::diesel::sqlite::SqliteConnection>, $f, $async);
            }
        }
    };
    (@backend Pg, $f:ty, $sync:tt, $async:tt) => {
        $crate::__if_postgres! {
            $crate::__persist!(@sync $crate::__private_v1::diesel::pg::PgConnection, $f, $sync);
            $crate::__if_async! {
                $crate::__persist!(@async $crate::__private_v1::diesel_async::AsyncPgConnection, $f, $async);
            }
        }
    };
    (@backend Mysql, $f:ty, $sync:tt, $async:tt) => {
        $crate::__if_mysql! {
            $crate::__persist!(@sync $crate::__private_v1::diesel::mysql::MysqlConnection, $f, $sync);
            $crate::__if_async! {
                $crate::__persist!(@async $crate::__private_v1::diesel_async::AsyncMysqlConnection, $f, $async);
            }
        }
    };
    (@backend $other:ident, $f:ty, $sync:tt, $async:tt) => {
        ::core::compile_error!(::core::concat!(
            "#[derive(Factory)] creates rows on the backends Sqlite, Pg and Mysql; `",
            ::core::stringify!($other),
            "` in `check_for_backend` is not one of them"
        ));
    };
    // `Selectable` is checked where the model is declared (a create reads the row back through
    // it); the other insert bounds where a row is created.
    (@sync $conn:ty, $f:ty, {}) => {
        #[automatically_derived]
        impl $crate::__private_v1::Persist<$conn> for $f {}
        $crate::__persist!(@selectable $conn, $f);
    };
    // Also that tracked cleanup binds the key with its columns' SQL types.
    (@selectable $conn:ty, $f:ty) => {
        const _: () = {
            $crate::__private_v1::selectable::<
                <$f as $crate::__private_v1::Factory>::Model,
                <$conn as $crate::__private_v1::HasBackend>::Backend,
            >();
            $crate::__private_v1::binds_key::<
                $f,
                <$conn as $crate::__private_v1::HasBackend>::Backend,
            >();
        };
    };
    (@sync $conn:ty, $f:ty, { |$m:ident, $t:ident, $c:ident| $body:expr }) => {
        #[automatically_derived]
        impl $crate::__private_v1::Persist<$conn> for $f {
            #[allow(unused_variables)]
            #[inline]
            fn after_create(
                $m: &mut <$f as $crate::__private_v1::Factory>::Model,
                $t: &<$f as $crate::__private_v1::Record>::Transients,
                $c: &mut $conn,
            ) -> ::core::result::Result<(), $crate::__private_v1::FactoryError> {
                $body
            }
        }
        $crate::__persist!(@selectable $conn, $f);
    };
    (@async $conn:ty, $f:ty, none) => {};
    (@async $conn:ty, $f:ty, {}) => {
        #[automatically_derived]
        impl $crate::__private_v1::asynchronous::PersistAsync<$conn> for $f {}
    };
    (@async $conn:ty, $f:ty, { |$m:ident, $t:ident, $c:ident| $body:expr }) => {
        #[automatically_derived]
        impl $crate::__private_v1::asynchronous::PersistAsync<$conn> for $f {
            #[allow(unused_variables)]
            fn after_create_async<'__a>(
                $m: &'__a mut <$f as $crate::__private_v1::Factory>::Model,
                $t: &'__a <$f as $crate::__private_v1::Record>::Transients,
                $c: &'__a mut $conn,
            ) -> $crate::__private_v1::asynchronous::BoxFuture<
                '__a,
                ::core::result::Result<(), $crate::__private_v1::FactoryError>,
            > {
                ::std::boxed::Box::pin(async move { $body })
            }
        }
    };
}

/// The largest of `depths` (0 for none): a row's required-parent depth from its parents'.
#[inline]
pub const fn deepest<const N: usize>(depths: [usize; N]) -> usize {
    let mut i = 0;
    let mut max = 0;
    while i < N {
        if depths[i] > max {
            max = depths[i];
        }
        i += 1;
    }
    max
}
