// An after_build closure reading a transient that is not declared.

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
#[factory(transient(discount: i32 = 0), after_build = |u, t| u.is_active = t.vip)]
pub struct User {
    #[factory(db_generated)]
    pub id: i32,
    pub email: String,
    pub name: String,
    pub role: String,
    pub is_active: bool,
}

fn main() {}
