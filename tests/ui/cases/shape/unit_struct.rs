// #[derive(Factory)] on a unit struct.

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
pub struct User;

fn main() {}
