//! Seeding: named, predictable entities for an integration environment.
//!
//! [`run`] creates two users ([`ADMIN_EMAIL`] with the `admin` trait, [`CUSTOMER_EMAIL`]),
//! [`PRODUCTS`] products named `Seed product 01` .. `Seed product 20` with fixed prices, and
//! the customer's completed orders of [`ORDERS`], each with fixed lines of those products. Every
//! value is fixed (no sequence or fake data reaches the database), so two fresh databases
//! seeded this way hold the same rows, and seeding one database twice changes nothing.
//!
//! Users and products are created with `get_or_create` on their unique column (email, name).
//! Orders have no natural key in the schema, so a seeded order is recognised by its content:
//! an order of the customer, `completed`, with exactly the lines of one entry of [`ORDERS`]
//! (same products, same quantities). The missing ones are created, with the seeded products as
//! their lines. An order changed by hand (another status, a line more) no longer counts as
//! seeded, and the next run creates it again.
//!
//! ```
//! let mut conn = shop::sqlite(":memory:");
//! let first = shop::seed::run(&mut conn).unwrap();
//! assert_eq!(first.users.created, 2);
//! let second = shop::seed::run(&mut conn).unwrap();
//! assert_eq!(second.created(), 0);
//! assert_eq!(second.orders.found, shop::seed::ORDERS.len());
//! ```

use crate::schema::{order_items, orders, products, users};
use crate::{Order, OrderFactory, OrderItem, Product, ProductFactory, User, UserFactory};
use diesel::prelude::*;
use factory_core::{Create, Factory, FactoryError, GetOrCreate};
use std::collections::{BTreeMap, HashSet};
use std::fmt;

/// The seeded administrator: the `admin` trait (`is_staff`, role `admin`).
///
/// ```
/// assert_eq!(shop::seed::ADMIN_EMAIL, "admin@testco.com");
/// ```
pub const ADMIN_EMAIL: &str = "admin@testco.com";

/// The seeded customer, who placed the seeded orders.
///
/// ```
/// assert_eq!(shop::seed::CUSTOMER_EMAIL, "customer@testco.com");
/// ```
pub const CUSTOMER_EMAIL: &str = "customer@testco.com";

/// How many products the seed creates; see [`product_name`] and [`product_price_cents`].
///
/// ```
/// assert_eq!(shop::seed::PRODUCTS, 20);
/// ```
pub const PRODUCTS: usize = 20;

/// The seeded orders of the customer, each a list of lines `(product number, quantity)`; the
/// product number is the one in [`product_name`] (1 is `Seed product 01`). No two orders have
/// the same lines: the lines are what identifies a seeded order.
///
/// ```
/// let lines: usize = shop::seed::ORDERS.iter().map(|order| order.len()).sum();
/// assert_eq!((shop::seed::ORDERS.len(), lines), (5, 12));
/// ```
pub const ORDERS: [&[(usize, i32)]; 5] = [
    &[(1, 1), (2, 2)],
    &[(3, 1), (4, 1), (5, 3)],
    &[(6, 2)],
    &[(7, 1), (8, 4)],
    &[(9, 1), (10, 1), (11, 1), (12, 2)],
];

/// The status of a seeded order: what `OrderFactory`'s `completed` trait sets.
const COMPLETED: &str = "completed";

/// Categories the products take in turn.
const CATEGORIES: [&str; 4] = ["electronics", "books", "kitchen", "garden"];

/// The name of seeded product `number` (1-based): `Seed product 01`, ...
///
/// ```
/// assert_eq!(shop::seed::product_name(7), "Seed product 07");
/// ```
pub fn product_name(number: usize) -> String {
    format!("Seed product {number:02}")
}

/// The price of seeded product `number` (1-based), in cents: 1.99, 2.99, ... 20.99.
///
/// # Panics
/// If the price does not fit in an `i32` (`number` above 21 million).
///
/// ```
/// assert_eq!(shop::seed::product_price_cents(1), 199);
/// assert_eq!(shop::seed::product_price_cents(20), 2099);
/// ```
pub fn product_price_cents(number: usize) -> i32 {
    i32::try_from(number)
        .ok()
        .and_then(|n| n.checked_mul(100)?.checked_add(99))
        .expect("a product number small enough for its price to fit in i32")
}

/// How many rows of one kind a seed run created, and how many it found already there.
///
/// ```
/// let counts = shop::seed::SeedCounts { created: 3, found: 2 };
/// assert_eq!(counts.total(), 5);
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SeedCounts {
    /// Rows this run inserted.
    pub created: usize,
    /// Rows that were already present and were left as they are.
    pub found: usize,
}

impl SeedCounts {
    /// Created plus found: the rows of this kind the seed stands for.
    ///
    /// ```
    /// assert_eq!(shop::seed::SeedCounts::default().total(), 0);
    /// ```
    pub fn total(&self) -> usize {
        self.created + self.found
    }
}

/// What a seed run did, per kind of row. Its `Display` is the summary table the `seed`
/// example prints.
///
/// ```
/// let report = shop::seed::run(&mut shop::sqlite(":memory:")).unwrap();
/// assert_eq!(report.products.created, shop::seed::PRODUCTS);
/// assert!(report.to_string().contains("order items"));
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SeedReport {
    /// The administrator and the customer.
    pub users: SeedCounts,
    /// The seeded products.
    pub products: SeedCounts,
    /// The customer's seeded orders.
    pub orders: SeedCounts,
    /// The lines of the seeded orders (found with their order, created with it).
    pub order_items: SeedCounts,
}

impl SeedReport {
    /// The rows this run inserted, of every kind: 0 when the database was already seeded.
    ///
    /// ```
    /// assert_eq!(shop::seed::SeedReport::default().created(), 0);
    /// ```
    pub fn created(&self) -> usize {
        self.entities().iter().map(|(_, c)| c.created).sum()
    }

    /// Each kind of row with its counts, in the order the seed creates them.
    ///
    /// ```
    /// let report = shop::seed::SeedReport::default();
    /// assert_eq!(report.entities()[0].0, "users");
    /// ```
    pub fn entities(&self) -> [(&'static str, SeedCounts); 4] {
        [
            ("users", self.users),
            ("products", self.products),
            ("orders", self.orders),
            ("order items", self.order_items),
        ]
    }
}

impl fmt::Display for SeedReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "{:<12} {:>8} {:>16}",
            "entity", "created", "already present"
        )?;
        for (name, counts) in self.entities() {
            writeln!(f, "{name:<12} {:>8} {:>16}", counts.created, counts.found)?;
        }
        Ok(())
    }
}

/// Why a seed run failed. Nothing of the run remains: it is one transaction.
///
/// ```
/// let error = shop::seed::SeedError::from(diesel::result::Error::NotFound);
/// assert!(error.to_string().starts_with("the seed's transaction failed"));
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum SeedError {
    /// A factory could not create a row; the error names the factory, table and constraint.
    Create(FactoryError),
    /// Reading what is already seeded failed.
    Lookup {
        /// What the seed was looking for.
        what: &'static str,
        /// The underlying error.
        source: diesel::result::Error,
    },
    /// The seed's transaction could not begin or commit.
    Transaction(diesel::result::Error),
}

impl fmt::Display for SeedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Create(error) => write!(f, "the seed could not create a row: {error}"),
            Self::Lookup { what, source } => {
                write!(
                    f,
                    "the seed could not look up the existing {what}: {source}"
                )
            }
            Self::Transaction(source) => write!(f, "the seed's transaction failed: {source}"),
        }
    }
}

impl std::error::Error for SeedError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Create(error) => Some(error),
            Self::Lookup { source, .. } | Self::Transaction(source) => Some(source),
        }
    }
}

impl From<FactoryError> for SeedError {
    fn from(error: FactoryError) -> Self {
        Self::Create(error)
    }
}

/// `Connection::transaction` reports its own failures (begin, commit) through this.
impl From<diesel::result::Error> for SeedError {
    fn from(source: diesel::result::Error) -> Self {
        Self::Transaction(source)
    }
}

/// A connection the shop can be seeded through: `SqliteConnection`, and `PgConnection` /
/// `MysqlConnection` with the `postgres` / `mysql` features. Sealed; call [`run`].
///
/// ```
/// fn seed_twice<C: shop::seed::SeedConnection>(conn: &mut C) -> usize {
///     shop::seed::run(conn).unwrap();
///     shop::seed::run(conn).unwrap().created()
/// }
/// assert_eq!(seed_twice(&mut shop::sqlite(":memory:")), 0);
/// ```
pub trait SeedConnection: Connection + backend::Lookup {
    /// Runs the seed on this connection; [`run`] is the way to call it.
    #[doc(hidden)]
    fn seed_in_transaction(&mut self) -> Result<SeedReport, SeedError>;
}

/// Seeds the database behind `conn` (its migrations applied, as `shop::sqlite`,
/// `shop::postgres` and `shop::mysql` leave it), in one transaction, and says what it created
/// and what it found. A second run creates nothing.
///
/// ```
/// use diesel::prelude::*;
/// use shop::schema::users;
///
/// let mut conn = shop::sqlite(":memory:");
/// shop::seed::run(&mut conn).unwrap();
/// let admin: shop::User = users::table
///     .filter(users::email.eq(shop::seed::ADMIN_EMAIL))
///     .first(&mut conn)
///     .unwrap();
/// assert_eq!((admin.role.as_str(), admin.is_staff), ("admin", true));
/// ```
pub fn run<C: SeedConnection>(conn: &mut C) -> Result<SeedReport, SeedError> {
    conn.seed_in_transaction()
}

/// The queries the seed runs besides the factories', one implementation per connection type
/// (Diesel's query types are per backend; the text is the same for each).
mod backend {
    use super::*;

    /// The rows already there, read before creating anything.
    pub trait Lookup {
        /// Which of `emails` are in `users`.
        fn existing_emails(&mut self, emails: &[&str]) -> QueryResult<Vec<String>>;
        /// Which of `names` are in `products`.
        fn existing_product_names(&mut self, names: &[String]) -> QueryResult<Vec<String>>;
        /// `(order_id, product_id, quantity)` of every line of the user's completed orders,
        /// by order and product.
        fn completed_order_lines(&mut self, user_id: i32) -> QueryResult<Vec<(i32, i32, i32)>>;
    }

    macro_rules! seed_connection {
        ($conn:ty) => {
            impl Lookup for $conn {
                fn existing_emails(&mut self, emails: &[&str]) -> QueryResult<Vec<String>> {
                    users::table
                        .filter(users::email.eq_any(emails))
                        .select(users::email)
                        .load(self)
                }

                fn existing_product_names(&mut self, names: &[String]) -> QueryResult<Vec<String>> {
                    products::table
                        .filter(products::name.eq_any(names))
                        .select(products::name)
                        .load(self)
                }

                fn completed_order_lines(
                    &mut self,
                    user_id: i32,
                ) -> QueryResult<Vec<(i32, i32, i32)>> {
                    order_items::table
                        .inner_join(orders::table)
                        .filter(orders::user_id.eq(user_id))
                        .filter(orders::status.eq(COMPLETED))
                        .select((
                            order_items::order_id,
                            order_items::product_id,
                            order_items::quantity,
                        ))
                        .order_by((order_items::order_id, order_items::product_id))
                        .load(self)
                }
            }

            impl SeedConnection for $conn {
                fn seed_in_transaction(&mut self) -> Result<SeedReport, SeedError> {
                    self.transaction(seed)
                }
            }
        };
    }

    seed_connection!(diesel::sqlite::SqliteConnection);
    #[cfg(feature = "postgres")]
    seed_connection!(diesel::pg::PgConnection);
    #[cfg(feature = "mysql")]
    seed_connection!(diesel::mysql::MysqlConnection);
}

/// The seed itself, for any connection the factories create rows on.
fn seed<C>(conn: &mut C) -> Result<SeedReport, SeedError>
where
    C: backend::Lookup,
    UserFactory: GetOrCreate<C>,
    ProductFactory: GetOrCreate<C>,
    OrderFactory: Create<C>,
{
    let mut report = SeedReport::default();
    let lookup = |what: &'static str| move |source| SeedError::Lookup { what, source };

    // Users: get_or_create by email, every column fixed.
    let emails = [ADMIN_EMAIL, CUSTOMER_EMAIL];
    let present: HashSet<String> = conn
        .existing_emails(&emails)
        .map_err(lookup("users"))?
        .into_iter()
        .collect();
    let tally = |key: &str, counts: &mut SeedCounts| {
        if present.contains(key) {
            counts.found += 1;
        } else {
            counts.created += 1;
        }
    };
    let _admin = User::factory()
        .admin()
        .email(ADMIN_EMAIL)
        .named("Ada", "Admin")
        .is_active(true)
        .try_get_or_create(conn)?;
    tally(ADMIN_EMAIL, &mut report.users);
    let customer = User::factory()
        .email(CUSTOMER_EMAIL)
        .named("Carl", "Customer")
        .is_active(true)
        .is_staff(false)
        .role("customer")
        .try_get_or_create(conn)?;
    tally(CUSTOMER_EMAIL, &mut report.users);

    // Products: get_or_create by name, every column fixed.
    let names: Vec<String> = (1..=PRODUCTS).map(product_name).collect();
    let present: HashSet<String> = conn
        .existing_product_names(&names)
        .map_err(lookup("products"))?
        .into_iter()
        .collect();
    let mut products = Vec::with_capacity(PRODUCTS);
    for (i, name) in names.iter().enumerate() {
        let product = Product::factory()
            .name(name.as_str())
            .price_cents(product_price_cents(i + 1))
            .stock(100)
            .category(CATEGORIES[i % CATEGORIES.len()])
            .try_get_or_create(conn)?;
        if present.contains(name) {
            report.products.found += 1;
        } else {
            report.products.created += 1;
        }
        products.push(product);
    }

    // Orders: the customer's completed orders with exactly the lines of an entry of ORDERS.
    let mut existing: BTreeMap<i32, Vec<(i32, i32)>> = BTreeMap::new();
    for (order_id, product_id, quantity) in conn
        .completed_order_lines(customer.id)
        .map_err(lookup("orders"))?
    {
        existing
            .entry(order_id)
            .or_default()
            .push((product_id, quantity));
    }
    for lines in ORDERS {
        let mut wanted: Vec<(i32, i32)> = lines
            .iter()
            .map(|&(number, quantity)| (products[number - 1].id, quantity))
            .collect();
        wanted.sort_unstable();
        // Claimed, so that one stored order never stands for two seeded ones.
        let matching = existing
            .iter()
            .find(|(_, stored)| **stored == wanted)
            .map(|(&id, _)| id);
        if let Some(id) = matching {
            existing.remove(&id);
            report.orders.found += 1;
            report.order_items.found += lines.len();
            continue;
        }
        let total: i32 = lines
            .iter()
            .map(|&(number, quantity)| products[number - 1].price_cents * quantity)
            .sum();
        Order::factory()
            .user(&customer)
            .completed()
            .total_cents(total)
            .with_items_from(lines.iter().map(|&(number, quantity)| {
                OrderItem::factory()
                    .product(&products[number - 1])
                    .quantity(quantity)
            }))
            .try_create(conn)?;
        report.orders.created += 1;
        report.order_items.created += lines.len();
    }
    Ok(report)
}
