// With `locale`, the faker must be a bare path, not a call.

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
    #[factory(faker = fake::faker::name::raw::FirstName(), locale = fake::locales::FR_FR)]
    pub name: String,
    pub role: String,
    pub is_active: bool,
}

fn main() {}
