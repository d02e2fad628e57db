// `check_for_backend` naming an unknown backend on a model whose only other derive is
// `Queryable` (which ignores `check_for_backend`): the factory's own error alone.

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

#[derive(Queryable, Factory)]
#[diesel(table_name = users, check_for_backend(Oracle))]
pub struct User {
    #[factory(db_generated)]
    pub id: i32,
    pub email: String,
    pub name: String,
    pub role: String,
    pub is_active: bool,
}

fn main() {}
