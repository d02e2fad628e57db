//! The seed document's shop (users, products, orders), modelled with `#[derive(Factory)]`.
//!
//! The examples, integration tests and benchmarks share these models; they are also the
//! reference for how the attributes read on real Diesel models.

use diesel::prelude::*;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use factory_core::prelude::*;

pub mod schema {
    //! The Diesel schema of `migrations/sqlite`.

    diesel::table! {
        /// Shop users.
        users (id) {
            id -> Integer,
            email -> Text,
            username -> Text,
            first_name -> Text,
            last_name -> Text,
            is_active -> Bool,
            is_staff -> Bool,
            role -> Text,
        }
    }

    diesel::table! {
        /// Products for sale.
        products (id) {
            id -> Integer,
            name -> Text,
            price_cents -> Integer,
            stock -> Integer,
            category -> Text,
        }
    }

    diesel::table! {
        /// Orders, each placed by a user.
        orders (id) {
            id -> Integer,
            user_id -> Integer,
            status -> Text,
            total_cents -> Integer,
        }
    }

    diesel::table! {
        /// Lines of an order.
        order_items (order_id, product_id) {
            order_id -> Integer,
            product_id -> Integer,
            quantity -> Integer,
        }
    }

    diesel::joinable!(orders -> users (user_id));
    diesel::joinable!(order_items -> orders (order_id));
    diesel::joinable!(order_items -> products (product_id));
    diesel::allow_tables_to_appear_in_same_query!(users, products, orders, order_items);
}

use schema::{order_items, orders, products, users};

/// A shop user: the seed's `UserFactory`, plus FactoryBot-style traits.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable, Factory)]
#[diesel(table_name = users)]
#[factory(traits(
    staff(is_staff = true),
    admin(includes(staff), role = "admin"),
    inactive(is_active = false)
))]
pub struct User {
    /// Assigned by the database.
    #[factory(db_generated)]
    pub id: i32,
    /// `user1@example.com`, `user2@example.com`, ...
    #[factory(sequence = "user<n>@example.com")]
    pub email: String,
    /// The part of the email before `@`, whatever the email ends up being.
    #[factory(lazy = |u| u.email.split('@').next().unwrap_or_default().to_owned())]
    pub username: String,
    /// A fake first name.
    #[factory(faker = FirstName())]
    pub first_name: String,
    /// A fake last name.
    #[factory(faker = LastName())]
    pub last_name: String,
    /// Active unless the `inactive` trait says otherwise.
    #[factory(default = true)]
    pub is_active: bool,
    /// `false` (the type's default) unless `staff` or `admin`.
    pub is_staff: bool,
    /// `customer` unless `admin`.
    #[factory(default = "customer")]
    pub role: String,
}

/// Methods written by hand sit beside the generated ones and chain with them.
impl UserFactory {
    /// A user with this full name.
    pub fn named(self, first: &str, last: &str) -> Self {
        self.first_name(first).last_name(last)
    }
}

/// A product; `discount_percent` is a transient parameter that an after-build hook applies.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable, Factory)]
#[diesel(table_name = products)]
#[factory(
    transient(discount_percent: i32 = 0),
    after_build = |p, t| p.price_cents -= p.price_cents * t.discount_percent / 100
)]
pub struct Product {
    /// Assigned by the database.
    #[factory(db_generated)]
    pub id: i32,
    /// `Product 1`, `Product 2`, ...
    #[factory(sequence = "Product <n>")]
    pub name: String,
    /// A price between 1.00 and 99.99.
    #[factory(faker = 100..10_000)]
    pub price_cents: i32,
    /// Between 0 and 99 in stock.
    #[factory(faker = 0..100)]
    pub stock: i32,
    /// Every product is in `electronics` unless told otherwise.
    #[factory(default = "electronics")]
    pub category: String,
}

/// An order. Its user must exist: pass `.user_id(user.id)`.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable, Associations, Factory)]
#[diesel(table_name = orders, belongs_to(User))]
#[factory(traits(completed(status = "completed")))]
pub struct Order {
    /// Assigned by the database.
    #[factory(db_generated)]
    pub id: i32,
    /// The user who placed the order.
    pub user_id: i32,
    /// `pending` until something happens to it.
    #[factory(default = "pending")]
    pub status: String,
    /// Between 1.00 and 999.99.
    #[factory(faker = 100..100_000)]
    pub total_cents: i32,
}

/// One line of an order: a composite key of two foreign keys.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable, Associations, Factory)]
#[diesel(table_name = order_items, primary_key(order_id, product_id))]
#[diesel(belongs_to(Order), belongs_to(Product))]
pub struct OrderItem {
    /// The order the line belongs to.
    pub order_id: i32,
    /// The product ordered.
    pub product_id: i32,
    /// How many.
    #[factory(faker = 1..5)]
    pub quantity: i32,
}

/// The SQLite migrations of the shop.
pub const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");

/// Opens an SQLite database (`:memory:` or a file path), enforces foreign keys and applies the
/// shop's migrations.
///
/// # Panics
/// If the database cannot be opened or migrated.
pub fn sqlite(url: &str) -> SqliteConnection {
    let mut conn = SqliteConnection::establish(url)
        .unwrap_or_else(|e| panic!("cannot open SQLite database {url}: {e}"));
    diesel::sql_query("PRAGMA foreign_keys = ON")
        .execute(&mut conn)
        .expect("enable foreign keys");
    conn.run_pending_migrations(SQLITE_MIGRATIONS)
        .expect("apply the shop migrations");
    conn
}
