// Two models whose required keys point at each other: neither row can be created first.

use diesel::prelude::*;
use factory_core::prelude::*;

diesel::table! {
    authors (id) {
        id -> Integer,
        latest_book_id -> Integer,
    }
}

diesel::table! {
    books (id) {
        id -> Integer,
        author_id -> Integer,
    }
}

#[derive(Queryable, Selectable, Factory)]
#[diesel(table_name = authors)]
pub struct Author {
    #[factory(db_generated)]
    pub id: i32,
    #[factory(sub = BookFactory)]
    pub latest_book_id: i32,
}

#[derive(Queryable, Selectable, Factory)]
#[diesel(table_name = books)]
pub struct Book {
    #[factory(db_generated)]
    pub id: i32,
    #[factory(sub = AuthorFactory)]
    pub author_id: i32,
}

fn main() {}
