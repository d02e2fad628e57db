// A field without a value source whose type has no `Default`: the error is at the type.

use diesel::prelude::*;
use factory_core::prelude::*;

diesel::table! {
    users (id) {
        id -> Integer,
        email -> Text,
    }
}

/// A column type Diesel can insert, without a `Default`.
#[derive(Debug, Clone, diesel::expression::AsExpression, diesel::deserialize::FromSqlRow)]
#[diesel(sql_type = diesel::sql_types::Text)]
pub struct Email(String);

impl diesel::serialize::ToSql<diesel::sql_types::Text, diesel::sqlite::Sqlite> for Email {
    fn to_sql<'b>(
        &'b self,
        out: &mut diesel::serialize::Output<'b, '_, diesel::sqlite::Sqlite>,
    ) -> diesel::serialize::Result {
        diesel::serialize::ToSql::<diesel::sql_types::Text, _>::to_sql(&self.0, out)
    }
}

impl diesel::deserialize::FromSql<diesel::sql_types::Text, diesel::sqlite::Sqlite> for Email {
    fn from_sql(bytes: diesel::sqlite::SqliteValue<'_, '_, '_>) -> diesel::deserialize::Result<Self> {
        <String as diesel::deserialize::FromSql<diesel::sql_types::Text, diesel::sqlite::Sqlite>>::from_sql(bytes)
            .map(Email)
    }
}

#[derive(Queryable, Selectable, Factory)]
#[diesel(table_name = users)]
pub struct User {
    #[factory(db_generated)]
    pub id: i32,
    pub email: Email,
}

fn main() {}
