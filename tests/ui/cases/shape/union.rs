// #[derive(Factory)] on a union.

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
pub union User {
    id: i32,
    is_active: bool,
}

fn main() {}
