// A `String` field for an `Integer` column: the error is at the field's type.

use diesel::prelude::*;
use factory_core::prelude::*;

diesel::table! {
    products (id) {
        id -> Integer,
        stock -> Integer,
    }
}

#[derive(Queryable, Selectable, Factory)]
#[diesel(table_name = products)]
pub struct Product {
    #[factory(db_generated)]
    pub id: i32,
    pub stock: String,
}

fn main() {}
