//! The seed document's shop (users, products, orders), modelled with `#[derive(Factory)]`.
//!
//! The examples, integration tests and benchmarks share these models; they are also the
//! reference for how the attributes read on real Diesel models.

use diesel::prelude::*;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use factory_core::prelude::*;

pub mod seed;

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

    diesel::table! {
        /// Product reviews: two keys to `users` (author, and an optional reviewer).
        reviews (id) {
            id -> Integer,
            product_id -> Integer,
            author_id -> Integer,
            reviewer_id -> Nullable<Integer>,
            rating -> Integer,
            body -> Nullable<Text>,
        }
    }

    diesel::table! {
        /// Labels.
        tags (id) {
            id -> Integer,
            name -> Text,
            label -> Text,
        }
    }

    diesel::table! {
        /// Money movements: a 64-bit key, an enum, numeric, timestamps, JSON.
        ledger_entries (id) {
            id -> BigInt,
            kind -> Text,
            amount -> Numeric,
            booked_at -> Timestamp,
            settled_at -> Nullable<Timestamp>,
            meta -> Json,
            note -> Nullable<Text>,
        }
    }

    diesel::joinable!(orders -> users (user_id));
    diesel::joinable!(reviews -> products (product_id));
    diesel::joinable!(order_items -> orders (order_id));
    diesel::joinable!(order_items -> products (product_id));
    diesel::allow_tables_to_appear_in_same_query!(
        users,
        products,
        orders,
        order_items,
        reviews,
        tags
    );
}

use schema::{ledger_entries, order_items, orders, products, reviews, tags, users};

/// A shop user: the seed's `UserFactory`, plus FactoryBot-style traits.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable, Factory)]
#[diesel(table_name = users)]
#[factory(get_or_create(email))]
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
    get_or_create(name),
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

/// An order: the seed's `OrderFactory`, which creates its user and two order lines (each with
/// a new product) unless told otherwise. Once its lines exist, an after-create hook makes the
/// total their sum, the invariant the seed's synthetic orders broke (on async connections, the
/// same hook written with `diesel_async`).
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable, Associations, Factory)]
#[diesel(table_name = orders, belongs_to(User))]
#[cfg_attr(
    feature = "async",
    factory(after_create_async = async |order, conn| {
        let lines: Vec<(i32, i32)> = diesel_async::RunQueryDsl::load(
            order_items::table
                .inner_join(products::table)
                .filter(order_items::order_id.eq(order.id))
                .select((order_items::quantity, products::price_cents)),
            conn,
        )
        .await
        .expect("read the order's lines");
        if !lines.is_empty() {
            order.total_cents = lines.iter().map(|(quantity, price)| quantity * price).sum();
            diesel_async::RunQueryDsl::execute(
                diesel::update(orders::table.find(order.id))
                    .set(orders::total_cents.eq(order.total_cents)),
                conn,
            )
            .await
            .expect("store the order's total");
        }
    })
)]
#[factory(
    traits(completed(status = "completed")),
    related(items(factory = OrderItemFactory, key = order_id, count = 2)),
    after_create = |order, conn| {
        let lines: Vec<(i32, i32)> = order_items::table
            .inner_join(products::table)
            .filter(order_items::order_id.eq(order.id))
            .select((order_items::quantity, products::price_cents))
            .load(conn)
            .expect("read the order's lines");
        if !lines.is_empty() {
            order.total_cents = lines.iter().map(|(quantity, price)| quantity * price).sum();
            diesel::update(orders::table.find(order.id))
                .set(orders::total_cents.eq(order.total_cents))
                .execute(conn)
                .expect("store the order's total");
        }
    }
)]
pub struct Order {
    /// Assigned by the database.
    #[factory(db_generated)]
    pub id: i32,
    /// The user who placed the order: `.user(&u)`, `.user_with(|u| u.admin())`, or a new one.
    #[factory(sub = UserFactory)]
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
    #[factory(sub = OrderFactory)]
    pub order_id: i32,
    /// The product ordered.
    #[factory(sub = ProductFactory)]
    pub product_id: i32,
    /// How many.
    #[factory(faker = 1..5)]
    pub quantity: i32,
}

/// A review: the author is created unless given; the reviewer is NULL unless given.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable, Factory)]
#[diesel(table_name = reviews)]
pub struct Review {
    /// Assigned by the database.
    #[factory(db_generated)]
    pub id: i32,
    /// The product reviewed.
    #[factory(sub = ProductFactory)]
    pub product_id: i32,
    /// Who wrote it.
    #[factory(sub = UserFactory)]
    pub author_id: i32,
    /// Who checked it, if anyone: NULL unless `.reviewer(&u)` or `.reviewer_with(..)`.
    #[factory(sub = UserFactory)]
    pub reviewer_id: Option<i32>,
    /// One to five stars.
    #[factory(faker = 1..=5)]
    pub rating: i32,
    /// Some text, or none.
    #[factory(faker = Sentence(3..8))]
    pub body: Option<String>,
}

/// A label, looked up by name and label together for seeding.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable, Factory)]
#[diesel(table_name = tags)]
#[factory(get_or_create(name, label))]
pub struct Tag {
    /// Assigned by the database.
    #[factory(db_generated)]
    pub id: i32,
    /// `tag-1`, `tag-2`, ...
    #[factory(sequence = "tag-<n>")]
    pub name: String,
    /// Upper-case name.
    #[factory(lazy = |t| t.name.to_uppercase())]
    pub label: String,
}

/// Debit or credit: an enum stored as text, with its own Diesel conversions.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    diesel::expression::AsExpression,
    diesel::deserialize::FromSqlRow,
)]
#[diesel(sql_type = diesel::sql_types::Text)]
pub enum EntryKind {
    /// Money out.
    Debit,
    /// Money in.
    Credit,
}

impl<DB> diesel::serialize::ToSql<diesel::sql_types::Text, DB> for EntryKind
where
    DB: diesel::backend::Backend,
    str: diesel::serialize::ToSql<diesel::sql_types::Text, DB>,
{
    fn to_sql<'b>(
        &'b self,
        out: &mut diesel::serialize::Output<'b, '_, DB>,
    ) -> diesel::serialize::Result {
        let text = match self {
            Self::Debit => "debit",
            Self::Credit => "credit",
        };
        text.to_sql(out)
    }
}

impl<DB> diesel::deserialize::FromSql<diesel::sql_types::Text, DB> for EntryKind
where
    DB: diesel::backend::Backend,
    String: diesel::deserialize::FromSql<diesel::sql_types::Text, DB>,
{
    fn from_sql(bytes: DB::RawValue<'_>) -> diesel::deserialize::Result<Self> {
        match String::from_sql(bytes)?.as_str() {
            "debit" => Ok(Self::Debit),
            "credit" => Ok(Self::Credit),
            other => Err(format!("unknown entry kind {other:?}").into()),
        }
    }
}

/// A ledger entry: every common column type in one model.
#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable, Factory)]
#[diesel(table_name = ledger_entries)]
#[factory(get_or_create(amount, note))]
#[factory(traits(credit(kind = EntryKind::Credit), settled(settled_at = Some(noon()))))]
pub struct LedgerEntry {
    /// A 64-bit key assigned by the database.
    #[factory(db_generated)]
    pub id: i64,
    /// A custom enum column.
    #[factory(default = EntryKind::Debit)]
    pub kind: EntryKind,
    /// Numeric: 0.01, 0.02, ...
    #[factory(sequence = |n| bigdecimal::BigDecimal::new(n.into(), 2))]
    pub amount: bigdecimal::BigDecimal,
    /// A chrono timestamp.
    #[factory(default = chrono::NaiveDate::from_ymd_opt(2026, 11, 24).unwrap().and_hms_opt(9, 30, 0).unwrap())]
    pub booked_at: chrono::NaiveDateTime,
    /// A nullable `time` timestamp: NULL until settled.
    pub settled_at: Option<time::PrimitiveDateTime>,
    /// JSON.
    #[factory(default = serde_json::json!({"source": "factory", "tags": ["test"]}))]
    pub meta: serde_json::Value,
    /// Nullable text.
    pub note: Option<String>,
}

/// Noon on 2026-11-24, a `time` timestamp.
pub fn noon() -> time::PrimitiveDateTime {
    time::PrimitiveDateTime::new(
        time::Date::from_calendar_date(2026, time::Month::November, 24).expect("a valid date"),
        time::Time::from_hms(12, 0, 0).expect("a valid time"),
    )
}

/// UUID keys (PostgreSQL): the database assigns `id`, the factory makes `token`.
#[cfg(feature = "postgres")]
pub mod keys {
    use super::UserFactory;
    use diesel::prelude::*;
    use factory_core::prelude::*;

    diesel::table! {
        /// API keys of users.
        api_keys (id) {
            id -> Uuid,
            token -> Uuid,
            user_id -> Integer,
            created_at -> Timestamp,
        }
    }

    /// An API key. PostgreSQL only: `check_for_backend` limits the factory to it too.
    #[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable, Factory)]
    #[diesel(table_name = api_keys, check_for_backend(diesel::pg::Pg))]
    pub struct ApiKey {
        /// `gen_random_uuid()` in the database; a random stub in `build()`.
        #[factory(db_generated)]
        pub id: uuid::Uuid,
        /// Made by the factory from the seeded stream.
        #[factory(faker = fake::uuid::UUIDv4)]
        pub token: uuid::Uuid,
        /// The owner.
        #[factory(sub = UserFactory)]
        pub user_id: i32,
        /// `now()` in the database.
        #[factory(db_generated)]
        pub created_at: chrono::NaiveDateTime,
    }
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

/// The PostgreSQL migrations of the shop.
#[cfg(feature = "postgres")]
pub const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// The MySQL / MariaDB migrations of the shop.
#[cfg(feature = "mysql")]
pub const MYSQL_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/mysql");

/// Connects to PostgreSQL at `url`, creating its database if it does not exist, and applies
/// the shop's migrations.
///
/// # Panics
/// If the server cannot be reached or the migrations fail; the message says which.
#[cfg(feature = "postgres")]
pub fn postgres(url: &str) -> PgConnection {
    let (server, name) = split_database(url);
    let mut admin = PgConnection::establish(&format!("{server}/postgres"))
        .unwrap_or_else(|e| panic!("cannot reach PostgreSQL at {server}: {e}"));
    #[derive(QueryableByName)]
    struct Exists {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        exists: bool,
    }
    let found: Exists =
        diesel::sql_query("SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1) AS exists")
            .bind::<diesel::sql_types::Text, _>(name)
            .get_result(&mut admin)
            .expect("look up the database");
    if !found.exists {
        diesel::sql_query(format!("CREATE DATABASE \"{name}\""))
            .execute(&mut admin)
            .expect("create the database");
    }
    let mut conn = PgConnection::establish(url)
        .unwrap_or_else(|e| panic!("cannot connect to PostgreSQL at {url}: {e}"));
    conn.run_pending_migrations(POSTGRES_MIGRATIONS)
        .expect("apply the shop migrations");
    conn
}

/// Connects to MySQL / MariaDB at `url`, creating its database if it does not exist, and
/// applies the shop's migrations.
///
/// # Panics
/// If the server cannot be reached or the migrations fail; the message says which.
#[cfg(feature = "mysql")]
pub fn mysql(url: &str) -> MysqlConnection {
    let (server, name) = split_database(url);
    let mut admin = MysqlConnection::establish(server)
        .unwrap_or_else(|e| panic!("cannot reach MySQL at {server}: {e}"));
    diesel::sql_query(format!("CREATE DATABASE IF NOT EXISTS `{name}`"))
        .execute(&mut admin)
        .expect("create the database");
    let mut conn = MysqlConnection::establish(url)
        .unwrap_or_else(|e| panic!("cannot connect to MySQL at {url}: {e}"));
    conn.run_pending_migrations(MYSQL_MIGRATIONS)
        .expect("apply the shop migrations");
    conn
}

/// `scheme://user@host:port/name` into the server part and the database name.
#[cfg(any(feature = "postgres", feature = "mysql"))]
fn split_database(url: &str) -> (&str, &str) {
    let url = url.split('?').next().unwrap_or(url);
    match url.rsplit_once('/') {
        Some((server, name))
            if !name.is_empty() && server.contains("://") && !server.ends_with('/') =>
        {
            (server, name)
        }
        _ => panic!("expected a database URL ending in /<database>, got {url}"),
    }
}
