// No `#[diesel(table_name = ...)]`: the factory does not know where to insert.

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

#[derive(Factory)]
pub struct User {
    #[factory(db_generated)]
    pub id: i32,
    pub email: String,
    pub name: String,
    pub role: String,
    pub is_active: bool,
}

fn main() {}
