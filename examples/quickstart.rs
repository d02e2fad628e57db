//! Quickstart: the seed document's factories on SQLite, no server needed.
//!
//! ```text
//! cargo run --example quickstart                 # in-memory database
//! cargo run --example quickstart -- shop.sqlite  # a file you can open afterwards
//! FACTORY_SEED=42 cargo run --example quickstart # the same names every run
//! ```
//!
//! The models and their `#[factory(..)]` attributes are in `src/lib.rs`.

use diesel::prelude::*;
use factory_core::Factory;
use shop::schema::order_items;
use shop::schema::{orders, users};
use shop::{Order, OrderItem, Product, User};

fn main() {
    let url = std::env::args().nth(1).unwrap_or_else(|| ":memory:".into());
    let mut conn = shop::sqlite(&url);
    println!("database: {url} (migrations applied)\n");

    // In memory: no database involved, ids are stubs.
    let built = User::factory().build_list(3);
    println!("built in memory, not stored:");
    for u in &built {
        println!(
            "  {:>2}  {:<26} {:<14} {} {}",
            u.id, u.email, u.username, u.first_name, u.last_name
        );
    }

    // Stored: the row as the database returns it, with its id.
    let admin = User::factory()
        .admin()
        .named("Ada", "Lovelace")
        .create(&mut conn);
    let customer = User::factory()
        .email("customer@testco.com")
        .create(&mut conn);
    let staff = User::factory().create_batch(5, &mut conn);
    println!("\ncreated users:");
    for u in [&admin, &customer].into_iter().chain(&staff) {
        println!(
            "  {:>2}  {:<26} {:<14} {:<10} {:<10} staff={:<5} role={}",
            u.id, u.email, u.username, u.first_name, u.last_name, u.is_staff, u.role
        );
    }

    // A transient parameter read by an after-build hook, and a per-item customised batch.
    let products = Product::factory().create_batch_with(
        4,
        |i, p| {
            if i == 0 {
                p.discount_percent(50).category("clearance")
            } else {
                p
            }
        },
        &mut conn,
    );
    println!("\ncreated products:");
    for p in &products {
        println!(
            "  {:>2}  {:<18} {:>6.2}  stock {:>2}  {}",
            p.id,
            p.name,
            f64::from(p.price_cents) / 100.0,
            p.stock,
            p.category
        );
    }

    // An order creates its user and two lines (each with a new product) unless told otherwise;
    // an after-create hook makes its total the sum of its lines.
    let first = Order::factory().create(&mut conn);
    // The seed's "create many with specific overrides": one parent shared by the batch.
    let vip_orders = Order::factory()
        .user(&admin)
        .completed()
        .with_items(0)
        .create_batch(3, &mut conn);
    // Lines for products that already exist, and a customised parent.
    let chosen = Order::factory()
        .user_with(|u| u.inactive())
        .with_items_from(
            products[..2]
                .iter()
                .map(|p| OrderItem::factory().product(p).quantity(2)),
        )
        .create(&mut conn);
    println!("\ncreated orders:");
    for o in [&first].into_iter().chain(&vip_orders).chain([&chosen]) {
        println!(
            "  {:>2}  user {:>2}  {:<9} {:>7.2}",
            o.id,
            o.user_id,
            o.status,
            f64::from(o.total_cents) / 100.0
        );
    }

    let user_count: i64 = users::table
        .count()
        .get_result(&mut conn)
        .expect("count users");
    let order_count: i64 = orders::table
        .count()
        .get_result(&mut conn)
        .expect("count orders");
    let line_count: i64 = order_items::table
        .count()
        .get_result(&mut conn)
        .expect("count order lines");
    println!("\nrows: {user_count} users, {order_count} orders, {line_count} order lines");

    // Seeding: running it twice changes nothing.
    let again = User::factory()
        .email("customer@testco.com")
        .get_or_create(&mut conn);
    assert_eq!(again.id, customer.id);
    println!("get_or_create(customer@testco.com) found user {}", again.id);

    // A database error names the factory, the table and the constraint.
    let duplicate = User::factory()
        .email("customer@testco.com")
        .try_create(&mut conn);
    match duplicate {
        Err(e) => println!("\nduplicate email refused: {e}"),
        Ok(u) => panic!("the unique email constraint let a duplicate through: {u:?}"),
    }
}
