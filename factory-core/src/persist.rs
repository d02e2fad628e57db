//! What the derive tells the runtime about a model: typed data and glue, no algorithm.
//!
//! The create algorithms ([`crate::create`]) are written once, generic over these traits:
//!
//! - [`Record`]: the table, the row tuple, the key, the transients and the related rows;
//!   connection-free.
//! - [`Graph`]: creating a row's parents and related rows on connection `C` (generic: the
//!   derive states which factories must create on `C`).
//! - [`Persist`]: implemented once per concrete connection type, usually empty: the
//!   after-create hook, typed against that connection, is its only method. Being concrete, it
//!   ends the compiler's search where models point at each other (an order creates its items,
//!   an item belongs to its order).
//! - [`Insert`]: inserting and reading rows back on one backend; the runtime implements it per
//!   backend for every model Diesel can insert and select.
//! - [`Lookup`]: the `get_or_create(..)` columns as filters, per backend.

use crate::error::FactoryError;
use crate::factory::Factory;
use diesel::backend::Backend;
use diesel::sql_types::Bool;
use diesel::QueryResult;

/// The connection-free part of a model's factory, implemented by the derive.
pub trait Record: Factory {
    /// The Diesel table, e.g. `users::table`.
    type Table: diesel::Table + Default;
    /// One row as a tuple of column assignments, the form Diesel batch-inserts.
    type Row;
    /// The primary key's value (a tuple for a composite key).
    type Key;
    /// The primary key's columns, a tuple of Diesel columns: the SQL types tracked cleanup
    /// binds the key with.
    type KeyColumns;
    /// The transient parameters, resolved.
    type Transients;
    /// The factories of the rows created after this one (`related(..)`), one `Vec` each.
    type Related: Default;

    /// How many columns an insert binds (fields that are not `db_generated`).
    const COLUMNS: usize;
    /// The primary key's column names as the database knows them, in key order.
    const KEY_COLUMNS: &'static [&'static str];
    /// Whether a row takes more than its own insert (parents, related rows, a hook), and so a
    /// transaction.
    const ATOMIC: bool;
    /// Whether the insert writes the primary key (no key column is `db_generated`).
    const KEY_WRITTEN: bool = false;
    /// How many required (non-`Option`) `sub` parents deep a row's creation goes. The derive
    /// computes it from the parents' own and evaluates it: parents that require each other in
    /// a cycle (each row would need its parent created first, for ever) are a compile error,
    /// "cycle detected when const-evaluating" this constant of the factories in the cycle.
    const REQUIRED_PARENT_DEPTH: usize = 0;

    /// The transient parameters: the values set, else their defaults.
    fn transients(&self) -> Self::Transients;
    /// The model, built with these transients (a row's hooks all see the same ones).
    fn build_with(self, transients: &Self::Transients) -> Self::Model;
    /// The tuple Diesel inserts for a built model: its fields but the `db_generated` ones
    /// (and the `db_default` ones not set), and the `insert_only` columns of the transients.
    fn row(model: Self::Model, transients: &Self::Transients) -> Self::Row;
    /// The primary key of a model (a stub for a built one).
    fn key_of(model: &Self::Model) -> Self::Key;

    /// The primary key a built row will have, when the insert writes it (`None` when the
    /// database assigns it).
    fn key(model: &Self::Model) -> Option<Self::Key> {
        Self::KEY_WRITTEN.then(|| Self::key_of(model))
    }

    /// The primary key of a row whose auto-increment id the database reported (MySQL's
    /// `LAST_INSERT_ID()`); `None` when the key is not one database-assigned integer.
    fn key_from_insert_id(id: u64) -> Option<Self::Key> {
        let _ = id;
        None
    }

    /// Takes out the related rows' factories (the declared counts when none were given).
    fn take_related(&mut self) -> Self::Related {
        Self::Related::default()
    }

    /// Resolves the transients and takes out the related rows' factories.
    fn split(mut self) -> (Self, Self::Transients, Self::Related) {
        let transients = self.transients();
        let related = self.take_related();
        (self, transients, related)
    }
}

/// Creating a row's parents and related rows on connection `C`; implemented by the derive.
pub trait Graph<C>: Record {
    /// Creates the parents whose keys were not given, and sets the keys.
    fn create_parents(&mut self, conn: &mut C) -> Result<(), FactoryError> {
        let _ = conn;
        Ok(())
    }

    /// Creates the related rows of a created row.
    fn create_related(
        model: &Self::Model,
        related: Self::Related,
        conn: &mut C,
    ) -> Result<(), FactoryError> {
        let _ = (model, related, conn);
        Ok(())
    }
}

/// A factory's rows on one concrete connection type; the derive implements it for each
/// connection type of the enabled backends (see the crate docs), with the model's
/// `after_create` hook when it has one.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot create rows through `{C}`",
    label = "no factory implementation for this connection type",
    note = "factories create through `SqliteConnection`, `PgConnection` and `MysqlConnection` \
            (with factory-core's `sqlite`, `postgres`, `mysql` features), their r2d2 pooled \
            connections and `TestDb`s of them; a model limited by `check_for_backend(..)` \
            creates on those backends only"
)]
pub trait Persist<C: HasBackend>: Graph<C> {
    /// The `after_create` hook: runs after the row and its related rows exist.
    fn after_create(
        model: &mut Self::Model,
        transients: &Self::Transients,
        conn: &mut C,
    ) -> Result<(), FactoryError> {
        let _ = (model, transients, conn);
        Ok(())
    }
}

/// A connection type's Diesel backend (sync and async connections alike).
pub trait HasBackend {
    /// The backend, e.g. `diesel::pg::Pg`.
    type Backend: Backend;
}

/// Inserting a factory's rows on connection `C` and reading them back; implemented by the
/// runtime, per backend, for every factory whose model Diesel can insert and select there.
pub trait Insert<C: HasBackend>: Record {
    /// Inserts one row and returns it as stored (generated keys and defaults filled in).
    fn insert_one(conn: &mut C, row: Pending<Self>) -> QueryResult<Self::Model>;

    /// Inserts `rows` inside one transaction, in chunks that stay under the backend's bind
    /// parameter limit, and returns them as stored, in order.
    fn insert_batch(conn: &mut C, rows: Vec<Pending<Self>>) -> QueryResult<Vec<Self::Model>>;

    /// A stored row's key, bound with its SQL types: what tracked cleanup deletes it by.
    fn record_key(model: &Self::Model) -> crate::cleanup::key::Recorded;
}

/// A row to insert: the values, and its primary key when the insert writes it (what a backend
/// without `RETURNING` reads it back by).
pub struct Pending<F: Record> {
    /// The values Diesel inserts.
    pub row: F::Row,
    /// [`Record::key`] of the built model.
    pub key: Option<F::Key>,
}

impl<F: Record> Pending<F> {
    /// A built model's row, with the transients it was built with.
    #[inline]
    pub fn new(model: F::Model, transients: &F::Transients) -> Self {
        let key = F::key(&model);
        Self {
            row: F::row(model, transients),
            key,
        }
    }
}

/// One boolean condition on a factory's table, boxed for backend `DB`.
pub type Condition<F, DB> =
    Box<dyn diesel::BoxableExpression<<F as Record>::Table, DB, SqlType = Bool>>;

/// The `get_or_create(..)` fields of a factory; implemented by the derive for a model that
/// declares them.
pub trait Pin: Record {
    /// The factory with the `get_or_create(..)` fields set to `probe`'s values: what is
    /// created when the lookup finds nothing, so that a retry finds exactly it.
    fn pin(self, probe: &Self::Model) -> Self;
}

/// The `get_or_create(..)` columns of a factory as a condition for backend `DB`; implemented
/// by the derive, for each backend, for a model that declares them.
pub trait Lookup<DB: Backend>: Pin {
    /// Every column equal to `probe`'s value (`IS NULL` for a `None`).
    fn condition(probe: &Self::Model) -> Condition<Self, DB>;
}
