// `db_default` with a value source: unless a test sets the field the database's default
// applies, so the source would never be used.

use diesel::prelude::*;
use factory_core::prelude::*;

diesel::table! {
    posts (id) {
        id -> Integer,
        title -> Text,
    }
}

#[derive(Queryable, Selectable, Factory)]
#[diesel(table_name = posts)]
pub struct Post {
    #[factory(db_generated)]
    pub id: i32,
    #[factory(db_default, default = "untitled")]
    pub title: String,
}

fn main() {}
