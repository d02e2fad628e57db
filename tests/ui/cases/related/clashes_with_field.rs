// A related `items` generates `.with_items_from(..)`, but a field has that name.

use diesel::prelude::*;
use factory_core::prelude::*;

diesel::table! {
    users (id) {
        id -> Integer,
        email -> Text,
    }
}

diesel::table! {
    orders (id) {
        id -> Integer,
        user_id -> Integer,
        status -> Text,
        with_items_from -> Text,
    }
}

diesel::table! {
    order_items (id) {
        id -> Integer,
        order_id -> Integer,
        quantity -> Integer,
    }
}

#[derive(Queryable, Selectable, Factory)]
#[diesel(table_name = users)]
pub struct User {
    #[factory(db_generated)]
    pub id: i32,
    #[factory(sequence = "user<n>@example.com")]
    pub email: String,
}

#[derive(Queryable, Selectable, Factory)]
#[diesel(table_name = orders)]
#[factory(related(items(factory = OrderItemFactory, key = order_id, count = 2)))]
pub struct Order {
    #[factory(db_generated)]
    pub id: i32,
    #[factory(sub = UserFactory)]
    pub user_id: i32,
    #[factory(default = "pending")]
    pub status: String,
    pub with_items_from: String,
}

#[derive(Queryable, Selectable, Factory)]
#[diesel(table_name = order_items)]
pub struct OrderItem {
    #[factory(db_generated)]
    pub id: i32,
    pub order_id: i32,
    #[factory(faker = 1..5)]
    pub quantity: i32,
}

fn main() {}
