// An `insert_only` column with the name of a field: the insert already writes that column.

use diesel::prelude::*;
use factory_core::prelude::*;

diesel::table! {
    users (id) {
        id -> Integer,
        email -> Text,
    }
}

#[derive(Queryable, Selectable, Factory)]
#[diesel(table_name = users)]
#[factory(insert_only(email: String = "x@example.com"))]
pub struct User {
    #[factory(db_generated)]
    pub id: i32,
    pub email: String,
}

fn main() {}
