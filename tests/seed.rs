//! The seed (`shop::seed::run`, the `seed` example's work) run twice on a fresh database of
//! each backend: the first run creates every entity, the second creates nothing and leaves
//! every table exactly as it was.
//!
//! PostgreSQL and MariaDB/MySQL use a database of their own (`factory_seed`; override with
//! `FACTORY_TEST_SEED_POSTGRES_URL` / `FACTORY_TEST_SEED_MYSQL_URL`), dropped and created again
//! at the start. A server that cannot be reached fails the test: nothing is skipped.

use diesel::prelude::*;
use factory_core::Factory;
use shop::schema::{ledger_entries, order_items, orders, products, reviews, tags, users};
use shop::seed::{self, SeedCounts, SeedReport};
use shop::{Order, OrderItem, Product, User};

/// Every row of the seeded tables, and the row count of every shop table.
#[derive(Debug, PartialEq)]
struct Snapshot {
    users: Vec<User>,
    products: Vec<Product>,
    orders: Vec<Order>,
    order_items: Vec<OrderItem>,
    counts: Vec<(&'static str, i64)>,
}

impl Snapshot {
    fn count(&self, table: &str) -> i64 {
        self.counts
            .iter()
            .find(|(name, _)| *name == table)
            .unwrap_or_else(|| panic!("no count for {table}"))
            .1
    }
}

/// The snapshot of `$conn`'s database; `$extra` are tables only this backend has.
macro_rules! snapshot {
    ($conn:expr $(, $extra:ident)*) => {{
        let conn = $conn;
        macro_rules! count {
            ($table:ident) => {
                (
                    stringify!($table),
                    $table::table.count().get_result::<i64>(conn).unwrap(),
                )
            };
        }
        Snapshot {
            users: users::table.order(users::id).load(conn).unwrap(),
            products: products::table.order(products::id).load(conn).unwrap(),
            orders: orders::table.order(orders::id).load(conn).unwrap(),
            order_items: order_items::table
                .order((order_items::order_id, order_items::product_id))
                .load(conn)
                .unwrap(),
            counts: vec![
                count!(users),
                count!(products),
                count!(orders),
                count!(order_items),
                count!(reviews),
                count!(tags),
                count!(ledger_entries),
                $(count!($extra),)*
            ],
        }
    }};
}

/// The report of a run on an empty database.
fn everything_created() -> SeedReport {
    let lines = seed::ORDERS.iter().map(|order| order.len()).sum();
    let created = |n| SeedCounts {
        created: n,
        found: 0,
    };
    SeedReport {
        users: created(2),
        products: created(seed::PRODUCTS),
        orders: created(seed::ORDERS.len()),
        order_items: created(lines),
    }
}

/// The report of a run on a seeded database.
fn everything_found() -> SeedReport {
    let found = |counts: SeedCounts| SeedCounts {
        created: 0,
        found: counts.created,
    };
    let all = everything_created();
    SeedReport {
        users: found(all.users),
        products: found(all.products),
        orders: found(all.orders),
        order_items: found(all.order_items),
    }
}

/// The seeded rows hold the values the seed promises.
fn check_seeded(s: &Snapshot) {
    assert_eq!(s.users.len(), 2);
    let admin = s
        .users
        .iter()
        .find(|u| u.email == seed::ADMIN_EMAIL)
        .expect("the admin");
    // The `admin` trait: `staff` (is_staff) plus role `admin`.
    assert!(admin.is_staff, "admin has the staff flag: {admin:?}");
    assert_eq!(admin.role, "admin");
    assert!(admin.is_active);
    assert_eq!(
        (admin.username.as_str(), admin.first_name.as_str()),
        ("admin", "Ada")
    );
    let customer = s
        .users
        .iter()
        .find(|u| u.email == seed::CUSTOMER_EMAIL)
        .expect("the customer");
    assert!(!customer.is_staff);
    assert_eq!(customer.role, "customer");

    let names: Vec<&str> = s.products.iter().map(|p| p.name.as_str()).collect();
    let expected: Vec<String> = (1..=seed::PRODUCTS).map(seed::product_name).collect();
    assert_eq!(names, expected);
    assert_eq!(names[0], "Seed product 01");
    for (i, p) in s.products.iter().enumerate() {
        assert_eq!(p.price_cents, seed::product_price_cents(i + 1), "{p:?}");
    }

    assert_eq!(s.orders.len(), seed::ORDERS.len());
    for (order, lines) in s.orders.iter().zip(seed::ORDERS) {
        assert_eq!(
            (order.user_id, order.status.as_str()),
            (customer.id, "completed")
        );
        let mut stored: Vec<(i32, i32)> = s
            .order_items
            .iter()
            .filter(|item| item.order_id == order.id)
            .map(|item| (item.product_id, item.quantity))
            .collect();
        stored.sort_unstable();
        let mut wanted: Vec<(i32, i32)> = lines
            .iter()
            .map(|&(number, quantity)| (s.products[number - 1].id, quantity))
            .collect();
        wanted.sort_unstable();
        assert_eq!(stored, wanted, "lines of order {}", order.id);
        let total: i32 = lines
            .iter()
            .map(|&(number, quantity)| seed::product_price_cents(number) * quantity)
            .sum();
        assert_eq!(order.total_cents, total, "total of order {}", order.id);
    }
    for table in ["reviews", "tags", "ledger_entries"] {
        assert_eq!(s.count(table), 0, "the seed writes nothing to {table}");
    }
}

/// Seeds the fresh database behind `$conn` twice and checks both runs.
macro_rules! seed_twice {
    ($conn:expr $(, $extra:ident)*) => {{
        let conn = $conn;
        let empty = snapshot!(&mut *conn $(, $extra)*);
        assert!(
            empty.counts.iter().all(|(_, n)| *n == 0),
            "the database is not fresh: {:?}",
            empty.counts
        );

        let first = seed::run(&mut *conn).unwrap();
        assert_eq!(first, everything_created(), "first run");
        let seeded = snapshot!(&mut *conn $(, $extra)*);
        check_seeded(&seeded);
        assert_eq!(seeded.count("users"), 2);
        assert_eq!(seeded.count("products"), 20);
        assert_eq!(seeded.count("orders"), 5);
        assert_eq!(
            seeded.count("order_items"),
            i64::try_from(first.order_items.created).unwrap()
        );

        let second = seed::run(&mut *conn).unwrap();
        assert_eq!(second, everything_found(), "second run");
        assert_eq!(second.created(), 0);
        let again = snapshot!(&mut *conn $(, $extra)*);
        assert_eq!(again.counts, seeded.counts, "row counts after the second run");
        assert_eq!(again, seeded, "rows after the second run");
    }};
}

/// `scheme://user@host:port/name` into the server part and the database name.
#[cfg(any(feature = "postgres", feature = "mysql"))]
fn split_database(url: &str) -> (&str, &str) {
    let url = url.split('?').next().unwrap_or(url);
    url.rsplit_once('/')
        .filter(|(server, name)| server.contains("://") && !name.is_empty())
        .unwrap_or_else(|| panic!("expected a database URL ending in /<database>, got {url}"))
}

#[test]
fn seeding_sqlite_twice_changes_nothing() {
    let path = std::env::temp_dir().join(format!("factory-seed-{}.sqlite", std::process::id()));
    let _ = std::fs::remove_file(&path);
    let mut conn = shop::sqlite(&path.to_string_lossy());
    seed_twice!(&mut conn);
    drop(conn);
    std::fs::remove_file(&path).expect("remove the test database");
}

#[test]
fn a_seeded_order_changed_by_hand_is_seeded_again() {
    let mut conn = shop::sqlite(":memory:");
    seed::run(&mut conn).unwrap();
    let customer: User = users::table
        .filter(users::email.eq(seed::CUSTOMER_EMAIL))
        .first(&mut conn)
        .unwrap();
    // Another completed order of the customer, with lines of its own: not a seeded one.
    Order::factory()
        .user(&customer)
        .completed()
        .create(&mut conn);
    // The first seeded order, cancelled: it no longer counts as seeded.
    let first: Order = orders::table.order(orders::id).first(&mut conn).unwrap();
    diesel::update(orders::table.find(first.id))
        .set(orders::status.eq("cancelled"))
        .execute(&mut conn)
        .unwrap();

    let report = seed::run(&mut conn).unwrap();
    let lines = seed::ORDERS[0].len();
    assert_eq!(
        report.orders,
        SeedCounts {
            created: 1,
            found: seed::ORDERS.len() - 1
        }
    );
    assert_eq!(report.order_items.created, lines);
    assert_eq!((report.users.created, report.products.created), (0, 0));
    assert_eq!(seed::run(&mut conn).unwrap().created(), 0);
}

#[cfg(feature = "postgres")]
#[test]
fn seeding_postgres_twice_changes_nothing() {
    use shop::keys::api_keys;

    let url = std::env::var("FACTORY_TEST_SEED_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/factory_seed".to_owned());
    let (server, name) = split_database(&url);
    let mut maintenance = PgConnection::establish(&format!("{server}/postgres"))
        .unwrap_or_else(|e| panic!("cannot reach PostgreSQL at {server}: {e}"));
    diesel::sql_query(format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
        .execute(&mut maintenance)
        .expect("drop the seed database");
    let mut conn = shop::postgres(&url);
    seed_twice!(&mut conn, api_keys);
}

#[cfg(feature = "mysql")]
#[test]
fn seeding_mysql_twice_changes_nothing() {
    let url = std::env::var("FACTORY_TEST_SEED_MYSQL_URL")
        .unwrap_or_else(|_| "mysql://root@127.0.0.1:3306/factory_seed".to_owned());
    let (server, name) = split_database(&url);
    let mut maintenance = MysqlConnection::establish(server)
        .unwrap_or_else(|e| panic!("cannot reach MySQL at {server}: {e}"));
    diesel::sql_query(format!("DROP DATABASE IF EXISTS `{name}`"))
        .execute(&mut maintenance)
        .expect("drop the seed database");
    let mut conn = shop::mysql(&url);
    seed_twice!(&mut conn);
}
