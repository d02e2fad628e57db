// A key whose type Diesel cannot write to its column: tracked cleanup could not delete the
// rows it records, so the model does not compile.

use diesel::prelude::*;
use factory_core::prelude::*;

diesel::table! {
    users (id) {
        id -> Integer,
        email -> Text,
    }
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub struct UserId(pub i32);

impl From<i32> for UserId {
    fn from(id: i32) -> Self {
        UserId(id)
    }
}

impl factory_core::Stub for UserId {
    fn stub(n: u64) -> Self {
        UserId(n as i32)
    }
}

#[derive(Queryable, Selectable, Factory)]
#[diesel(table_name = users)]
pub struct User {
    #[factory(db_generated)]
    #[diesel(deserialize_as = i32)]
    pub id: UserId,
    #[factory(sequence = "user<n>@example.com")]
    pub email: String,
}

fn main() {}
