// A sequence given the path of a function of an `i32` (the number is a `u64`): the error is
// at the path.

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

fn email(n: i32) -> String {
    format!("user{n}@example.com")
}

#[derive(Queryable, Selectable, Factory)]
#[diesel(table_name = users)]
pub struct User {
    #[factory(db_generated)]
    pub id: i32,
    #[factory(sequence = email)]
    pub email: String,
    pub name: String,
    pub role: String,
    pub is_active: bool,
}

fn main() {}
