// `sub` on `crate_id` would name its method `crate`, a keyword: the error says to name it.

use diesel::prelude::*;
use factory_core::prelude::*;

diesel::table! {
    crates (id) {
        id -> Integer,
        name -> Text,
    }
}

diesel::table! {
    versions (id) {
        id -> Integer,
        crate_id -> Integer,
    }
}

#[derive(Queryable, Selectable, Factory)]
#[diesel(table_name = crates)]
pub struct Krate {
    #[factory(db_generated)]
    pub id: i32,
    pub name: String,
}

#[derive(Queryable, Selectable, Factory)]
#[diesel(table_name = versions)]
pub struct Version {
    #[factory(db_generated)]
    pub id: i32,
    #[factory(sub = KrateFactory)]
    pub crate_id: i32,
}

fn main() {}
