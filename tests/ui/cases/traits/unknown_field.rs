// A trait sets a field that the model does not have (no near miss).

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
#[factory(traits(admin(superpowers = true)))]
pub struct User {
    #[factory(db_generated)]
    pub id: i32,
    pub email: String,
    pub name: String,
    pub role: String,
    pub is_active: bool,
}

fn main() {}
