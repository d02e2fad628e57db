// #[derive(Factory)] on a tuple struct.

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
#[diesel(table_name = users)]
pub struct User(i32, String);

fn main() {}
