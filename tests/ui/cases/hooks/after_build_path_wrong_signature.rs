// An after_build hook given the path of a function taking the model by value: the error is at
// the path.

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

fn deactivate(mut user: User) -> User {
    user.is_active = false;
    user
}

#[derive(Queryable, Selectable, Factory)]
#[diesel(table_name = users)]
#[factory(after_build = deactivate)]
pub struct User {
    #[factory(db_generated)]
    pub id: i32,
    pub email: String,
    pub name: String,
    pub role: String,
    pub is_active: bool,
}

fn main() {}
