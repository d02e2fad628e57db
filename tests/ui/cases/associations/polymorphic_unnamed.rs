// A key that points at one of several parents: each `sub` needs a name of its own.

use diesel::prelude::*;
use factory_core::prelude::*;

diesel::table! {
    users (id) {
        id -> Integer,
        name -> Text,
    }
}

diesel::table! {
    teams (id) {
        id -> Integer,
        name -> Text,
    }
}

diesel::table! {
    owners (id) {
        id -> Integer,
        owner_id -> Integer,
        owner_kind -> Integer,
    }
}

#[derive(Queryable, Selectable, Factory)]
#[diesel(table_name = users)]
pub struct User {
    #[factory(db_generated)]
    pub id: i32,
    pub name: String,
}

#[derive(Queryable, Selectable, Factory)]
#[diesel(table_name = teams)]
pub struct Team {
    #[factory(db_generated)]
    pub id: i32,
    pub name: String,
}

#[derive(Queryable, Selectable, Factory)]
#[diesel(table_name = owners)]
pub struct Owner {
    #[factory(db_generated)]
    pub id: i32,
    #[factory(sub(UserFactory), sub(TeamFactory, name = team, owner_kind = 1))]
    pub owner_id: i32,
    pub owner_kind: i32,
}

fn main() {}
