// No `id` field and no `primary_key(..)`: the model would be silently keyless.

use diesel::prelude::*;
use factory_core::prelude::*;

diesel::table! {
    users (user_id) {
        user_id -> Integer,
        email -> Text,
    }
}

#[derive(Queryable, Selectable, Factory)]
#[diesel(table_name = users)]
pub struct User {
    #[factory(db_generated)]
    pub user_id: i32,
    #[factory(sequence = "user<n>@example.com")]
    pub email: String,
}

fn main() {}
