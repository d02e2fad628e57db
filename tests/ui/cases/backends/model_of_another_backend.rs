// A model limited to PostgreSQL by `check_for_backend` has no factory `create` on SQLite: the
// factory is limited with it, as the model's own Diesel derives are.

use diesel::prelude::*;
use factory_core::prelude::*;

diesel::table! {
    users (id) {
        id -> Integer,
        email -> Text,
    }
}

#[derive(Queryable, Factory)]
#[diesel(table_name = users, check_for_backend(Pg))]
pub struct User {
    #[factory(db_generated)]
    pub id: i32,
    pub email: String,
}

fn main() {
    let mut conn = SqliteConnection::establish(":memory:").unwrap();
    let _ = User::factory().create(&mut conn);
}
