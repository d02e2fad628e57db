//! [`Attributes`]: the values of one row, as `attributes()` returns them.

use crate::persist::Record;
// What Diesel's own `#[derive(Insertable)]` implements for a `Vec` of rows to insert.
use diesel::internal::derives::insertable::UndecoratedInsertRecord;
use diesel::Insertable;
use std::fmt;
use std::ops::{Deref, DerefMut};

/// The values one row of factory `F` would insert: what [`Factory::attributes`](crate::Factory::attributes) returns.
///
/// A built model (`attrs.email` reads and writes its fields, through `Deref`;
/// [`into_inner`](Self::into_inner) gives the model) that Diesel inserts as the factory does,
/// without its `db_generated` fields (which hold stubs), alone or as a `Vec` in one statement:
///
/// ```
/// use factory_core::prelude::*;
/// use diesel::prelude::*;
///
/// diesel::table! {
///     users (id) {
///         id -> Integer,
///         email -> Text,
///     }
/// }
///
/// #[derive(Debug, Clone, Queryable, Selectable, Factory)]
/// #[diesel(table_name = users)]
/// pub struct User {
///     #[factory(db_generated)]
///     pub id: i32,
///     #[factory(sequence = "user<n>@example.com")]
///     pub email: String,
/// }
///
/// let mut conn = SqliteConnection::establish(":memory:").unwrap();
/// diesel::sql_query("CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL)")
///     .execute(&mut conn)
///     .unwrap();
/// let mut attrs = User::factory().attributes();
/// attrs.email = "plain@diesel.rs".into();
/// diesel::insert_into(users::table).values(attrs).execute(&mut conn).unwrap();
/// let more = vec![User::factory().attributes(), User::factory().attributes()];
/// assert_eq!(diesel::insert_into(users::table).values(more).execute(&mut conn).unwrap(), 2);
/// ```
///
/// (Diesel's `Insertable` is implemented here, once for every factory, rather than by the derive
/// for each model: the models' crate does not prove Diesel's insert bounds for every model;
/// a crate that inserts the attributes does, for the models it inserts.)
pub struct Attributes<F: Record> {
    model: F::Model,
    /// Also what the insert writes beside the model: `insert_only` columns, and which
    /// `db_default` fields were set.
    transients: F::Transients,
}

impl<F: Record> Attributes<F> {
    /// Builds one row's values with the factory.
    pub fn build(factory: F) -> Self {
        let transients = factory.transients();
        let model = factory.build_with(&transients);
        Self { model, transients }
    }

    /// The built model.
    pub fn into_inner(self) -> F::Model {
        self.model
    }
}

impl<F: Record> Deref for Attributes<F> {
    type Target = F::Model;

    fn deref(&self) -> &F::Model {
        &self.model
    }
}

impl<F: Record> DerefMut for Attributes<F> {
    fn deref_mut(&mut self) -> &mut F::Model {
        &mut self.model
    }
}

impl<F: Record> Clone for Attributes<F>
where
    F::Model: Clone,
    F::Transients: Clone,
{
    fn clone(&self) -> Self {
        Self {
            model: self.model.clone(),
            transients: self.transients.clone(),
        }
    }
}

impl<F: Record> fmt::Debug for Attributes<F>
where
    F::Model: fmt::Debug,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.model.fmt(f)
    }
}

impl<F, T> Insertable<T> for Attributes<F>
where
    F: Record,
    F::Row: Insertable<T>,
{
    type Values = <F::Row as Insertable<T>>::Values;

    fn values(self) -> Self::Values {
        F::row(self.model, &self.transients).values()
    }
}

/// A `Vec` of attributes inserts as one multi-row statement.
impl<F, T> UndecoratedInsertRecord<T> for Attributes<F>
where
    F: Record,
    F::Row: UndecoratedInsertRecord<T>,
{
}
