// A `db_generated` field of a type with no `Stub` (no stand-in value for `build()`).

use diesel::prelude::*;
use factory_core::prelude::*;

diesel::table! {
    users (id) {
        id -> Integer,
        email -> Text,
        is_active -> Bool,
    }
}

#[derive(Queryable, Selectable, Factory)]
#[diesel(table_name = users)]
pub struct User {
    #[factory(db_generated)]
    pub id: i32,
    pub email: String,
    #[factory(db_generated)]
    pub is_active: bool,
}

fn main() {}
