// `lazy` given the path of a function that does not take the model: the error is at the path.

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

fn name_of(id: i32) -> String {
    format!("user {id}")
}

#[derive(Queryable, Selectable, Factory)]
#[diesel(table_name = users)]
pub struct User {
    #[factory(db_generated)]
    pub id: i32,
    pub email: String,
    #[factory(lazy = name_of)]
    pub name: String,
    pub role: String,
    pub is_active: bool,
}

fn main() {}
