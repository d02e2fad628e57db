//! The trait every `#[derive(Factory)]` implements.

/// A factory for one Diesel model: what `#[derive(Factory)]` generates as `<Model>Factory`.
///
/// The derive also gives each factory inherent methods of the same names, so calling code needs
/// no import; the trait is for code generic over factories.
pub trait Factory: Clone + Sized {
    /// The model the factory makes, e.g. `User`.
    type Model;
    /// The insertable values of one row (`attributes()`), e.g. `UserFactoryAttributes`.
    type Attributes;
    /// The Diesel table, e.g. `users::table`.
    type Table: diesel::Table;
    /// One row as a tuple of column assignments, the form Diesel batch-inserts.
    type Row;
    /// The primary key's value (a tuple for a composite key).
    type Key;

    /// The factory's name, for messages: `"UserFactory"`.
    const NAME: &'static str;
    /// The table's name, for messages: `"users"`.
    const TABLE_NAME: &'static str;
    /// How many columns an insert binds (fields that are not `db_generated`).
    const COLUMNS: usize;
    /// The primary key's column names as the database knows them, in key order.
    const KEY_COLUMNS: &'static [&'static str];

    /// The Diesel table value.
    fn table() -> Self::Table;
    /// Builds the model in memory; never touches a database.
    fn build(self) -> Self::Model;
    /// The values an insert would write (every field but the `db_generated` ones).
    fn attributes(self) -> Self::Attributes;
    /// Turns attributes into the tuple Diesel inserts.
    fn row(attributes: Self::Attributes) -> Self::Row;
    /// The primary key of a model (a stub for a built one).
    fn key_of(model: &Self::Model) -> Self::Key;
    /// The primary key a row will have, when its attributes hold it (`None` when the database
    /// assigns it).
    fn key(attributes: &Self::Attributes) -> Option<Self::Key>;
    /// The primary key of a stored row as SQL text, one string per key column: what tracked
    /// cleanup records to delete the row later.
    fn key_text(model: &Self::Model) -> Vec<String>;
    /// The primary key of a row whose auto-increment id the database reported (MySQL's
    /// `LAST_INSERT_ID()`); `None` when the key is not a database-assigned integer.
    fn key_from_insert_id(id: u64) -> Option<Self::Key>;
}
