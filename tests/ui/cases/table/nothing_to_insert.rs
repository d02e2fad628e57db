// Every field is `db_generated`: an insert would have no column to write.

use diesel::prelude::*;
use factory_core::prelude::*;

diesel::table! {
    events (id) {
        id -> Integer,
    }
}

#[derive(Queryable, Selectable, Factory)]
#[diesel(table_name = events)]
pub struct Event {
    #[factory(db_generated)]
    pub id: i32,
}

fn main() {}
