// A name faker on an `i32` field: the error is at the faker.

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
    #[factory(faker = FirstName())]
    pub stock: i32,
}

fn main() {}
