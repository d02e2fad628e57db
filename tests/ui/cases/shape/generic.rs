// #[derive(Factory)] on a generic struct.

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
pub struct User<T> {
    #[factory(db_generated)]
    pub id: i32,
    pub email: T,
    pub name: String,
    pub role: String,
    pub is_active: bool,
}

fn main() {}
