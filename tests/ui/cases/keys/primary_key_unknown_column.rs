// `primary_key(..)` names columns, as Diesel reads it: `user_id` is the field, `uid` the column.

use diesel::prelude::*;
use factory_core::prelude::*;

diesel::table! {
    users (uid) {
        uid -> Integer,
        email -> Text,
    }
}

#[derive(Queryable, Selectable, Factory)]
#[diesel(table_name = users, primary_key(user_id))]
pub struct User {
    #[factory(db_generated)]
    #[diesel(column_name = uid)]
    pub user_id: i32,
    #[factory(sequence = "user<n>@example.com")]
    pub email: String,
}

fn main() {}
