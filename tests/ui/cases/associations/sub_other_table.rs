// `sub` names the factory of another table than the one `belongs_to` says the key references:
// it would compile and create the wrong parent.

use diesel::prelude::*;
use factory_core::prelude::*;

diesel::table! {
    users (id) {
        id -> Integer,
        email -> Text,
    }
}

diesel::table! {
    teams (id) {
        id -> Integer,
        name -> Text,
    }
}

diesel::table! {
    posts (id) {
        id -> Integer,
        author_id -> Integer,
    }
}

#[derive(Queryable, Selectable, Identifiable, Factory)]
#[diesel(table_name = users)]
pub struct User {
    #[factory(db_generated)]
    pub id: i32,
    #[factory(sequence = "user<n>@example.com")]
    pub email: String,
}

#[derive(Queryable, Selectable, Identifiable, Factory)]
#[diesel(table_name = teams)]
pub struct Team {
    #[factory(db_generated)]
    pub id: i32,
    pub name: String,
}

#[derive(Queryable, Selectable, Identifiable, Associations, Factory)]
#[diesel(table_name = posts, belongs_to(User, foreign_key = author_id))]
pub struct Post {
    #[factory(db_generated)]
    pub id: i32,
    #[factory(sub = TeamFactory, name = author)]
    pub author_id: i32,
}

fn main() {}
