// get_or_create names a field the model does not have.

use diesel::prelude::*;
use factory_core::prelude::*;

diesel::table! {
    users (id) {
        id -> Integer,
        email -> Text,
        name -> Text,
        role -> Text,
        is_active -> Bool,
    }
}

#[derive(Queryable, Selectable, Factory)]
#[diesel(table_name = users)]
#[factory(get_or_create(emial))]
pub struct User {
    #[factory(db_generated)]
    pub id: i32,
    pub email: String,
    pub name: String,
    pub role: String,
    pub is_active: bool,
}

fn main() {}
