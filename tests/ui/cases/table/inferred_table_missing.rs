// No `#[diesel(table_name = ...)]`: the table is the one Diesel infers (`Person`: `persons`),
// which this schema does not have.

use diesel::prelude::*;
use factory_core::prelude::*;

diesel::table! {
    people (id) {
        id -> Integer,
        name -> Text,
    }
}

#[derive(Queryable, Selectable, Factory)]
pub struct Person {
    #[factory(db_generated)]
    pub id: i32,
    pub name: String,
}

fn main() {}
