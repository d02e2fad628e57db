// A required key pointing at its own model: every row would need a parent created first.

use diesel::prelude::*;
use factory_core::prelude::*;

diesel::table! {
    categories (id) {
        id -> Integer,
        parent_id -> Integer,
    }
}

#[derive(Queryable, Selectable, Factory)]
#[diesel(table_name = categories)]
pub struct Category {
    #[factory(db_generated)]
    pub id: i32,
    #[factory(sub = CategoryFactory)]
    pub parent_id: i32,
}

fn main() {}
