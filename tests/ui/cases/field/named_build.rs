// A field named `build`, like the factory's `build()` method.

use diesel::prelude::*;
use factory_core::prelude::*;

diesel::table! {
    projects (id) {
        id -> Integer,
        build -> Text,
    }
}

#[derive(Queryable, Selectable, Factory)]
#[diesel(table_name = projects)]
pub struct Project {
    #[factory(db_generated)]
    pub id: i32,
    pub build: String,
}

fn main() {}
