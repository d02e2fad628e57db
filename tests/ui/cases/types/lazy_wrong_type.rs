// A lazy closure returning a `usize` for a `String` field: the error is in the closure.

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
pub struct User {
    #[factory(db_generated)]
    pub id: i32,
    pub email: String,
    #[factory(lazy = |u| u.email.len())]
    pub name: String,
    pub role: String,
    pub is_active: bool,
}

fn main() {}
