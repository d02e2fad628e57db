// An integer primary key with no value source: every row would be inserted with id 0.

use diesel::prelude::*;
use factory_core::prelude::*;

diesel::table! {
    users (id) {
        id -> Integer,
        email -> Text,
    }
}

#[derive(Queryable, Selectable, Factory)]
#[diesel(table_name = users)]
pub struct User {
    pub id: i32,
    #[factory(sequence = "user<n>@example.com")]
    pub email: String,
}

fn main() {}
