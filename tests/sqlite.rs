//! Behaviour of the derived factories that needs no particular backend, on SQLite: building,
//! lazy fields, traits, transients, sequences, seeds. `backends.rs` runs the database behaviour
//! on every backend.

use diesel::prelude::*;
use factory_core::prelude::*;
use factory_core::ConstraintKind;
use shop::schema::{products, users};
use shop::{Product, User, UserFactory};
use std::collections::HashSet;

fn db() -> SqliteConnection {
    shop::sqlite(":memory:")
}

fn count_users(conn: &mut SqliteConnection) -> i64 {
    users::table.count().get_result(conn).unwrap()
}

#[test]
fn admin_create_returns_the_stored_row_with_its_database_id() {
    let mut conn = db();
    let first = User::factory().create(&mut conn);
    let admin = User::factory().admin().create(&mut conn);
    assert_eq!(admin.id, first.id + 1, "ids come from the database");
    assert!(admin.is_staff);
    assert_eq!(admin.role, "admin");
    let stored: User = users::table.find(admin.id).first(&mut conn).unwrap();
    assert_eq!(stored, admin);
}

#[test]
fn build_list_yields_distinct_emails_and_stub_ids_without_a_database() {
    let users = User::factory().build_list(5);
    let emails: HashSet<_> = users.iter().map(|u| &u.email).collect();
    let ids: HashSet<_> = users.iter().map(|u| u.id).collect();
    assert_eq!(emails.len(), 5);
    assert_eq!(ids.len(), 5, "db_generated fields get distinct stubs");
    assert!(users.iter().all(|u| u.email.ends_with("@example.com")));
}

#[test]
fn lazy_fields_see_the_final_values_of_other_fields() {
    let u = User::factory().email("ada@lovelace.org").build();
    assert_eq!(u.username, "ada");
    let u = User::factory().build();
    assert_eq!(u.username, u.email.split('@').next().unwrap());
    let u = User::factory().username("override").email("x@y.z").build();
    assert_eq!(u.username, "override", "an override beats the lazy value");
}

#[test]
fn defaults_and_type_defaults_apply_when_nothing_is_set() {
    let u = User::factory().build();
    assert!(u.is_active);
    assert!(!u.is_staff);
    assert_eq!(u.role, "customer");
    assert!(!u.first_name.is_empty() && !u.last_name.is_empty());
}

#[test]
fn traits_chain_and_the_last_call_wins() {
    let u = User::factory().admin().role("owner").build();
    assert_eq!(u.role, "owner");
    assert!(u.is_staff, "admin includes staff");
    let u = User::factory().role("owner").admin().build();
    assert_eq!(u.role, "admin");
    let u = User::factory().admin().inactive().build();
    assert!(u.is_staff && !u.is_active);
    let u = User::factory().admin().is_staff(false).build();
    assert!(!u.is_staff);
}

#[test]
fn hand_written_factory_methods_compose_with_generated_ones() {
    let u = User::factory().admin().named("Ada", "Lovelace").build();
    assert_eq!(
        (u.first_name.as_str(), u.last_name.as_str()),
        ("Ada", "Lovelace")
    );
    assert_eq!(u.role, "admin");
}

#[test]
fn factories_are_values_setters_return_new_ones() {
    let base = User::factory().role("tester");
    let a = base.clone().admin().build();
    let b = base.build();
    assert_eq!(a.role, "admin");
    assert_eq!(b.role, "tester");
}

#[test]
fn transients_reach_the_after_build_hook() {
    let p = Product::factory().price_cents(1000).build();
    assert_eq!(p.price_cents, 1000);
    let p = Product::factory()
        .price_cents(1000)
        .discount_percent(25)
        .build();
    assert_eq!(p.price_cents, 750);
    let mut conn = db();
    let stored = Product::factory()
        .price_cents(2000)
        .discount_percent(50)
        .create(&mut conn);
    assert_eq!(stored.price_cents, 1000, "the hook runs before the insert");
}

#[test]
fn attributes_are_the_insertable_values_for_plain_diesel() {
    let mut conn = db();
    let attrs = User::factory().email("plain@diesel.rs").attributes();
    assert_eq!(attrs.username, "plain");
    let inserted = diesel::insert_into(users::table)
        .values(attrs)
        .execute(&mut conn)
        .unwrap();
    assert_eq!(inserted, 1);
    let stored: User = users::table
        .filter(users::email.eq("plain@diesel.rs"))
        .first(&mut conn)
        .unwrap();
    assert_eq!(stored.username, "plain");
}

#[test]
fn a_vec_of_attributes_inserts_in_one_statement_with_plain_diesel() {
    let mut conn = db();
    let rows: Vec<_> = (0..3)
        .map(|i| {
            User::factory()
                .email(format!("many{i}@diesel.rs"))
                .attributes()
        })
        .collect();
    let inserted = diesel::insert_into(users::table)
        .values(rows)
        .execute(&mut conn)
        .unwrap();
    assert_eq!(inserted, 3);
    let stored: i64 = users::table
        .filter(users::email.like("many%@diesel.rs"))
        .count()
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(stored, 3);
}

#[test]
fn create_batch_inserts_every_row_in_order_with_per_item_overrides() {
    let mut conn = db();
    let users = User::factory().create_batch_with(
        10_000,
        |i, f| if i % 2 == 0 { f.staff() } else { f },
        &mut conn,
    );
    assert_eq!(users.len(), 10_000);
    assert_eq!(count_users(&mut conn), 10_000);
    let ids: HashSet<_> = users.iter().map(|u| u.id).collect();
    assert_eq!(ids.len(), 10_000);
    assert!(
        users.windows(2).all(|w| w[0].id < w[1].id),
        "returned in insert order"
    );
    assert!(users
        .iter()
        .enumerate()
        .all(|(i, u)| u.is_staff == (i % 2 == 0)));
    let staff: i64 = users::table
        .filter(users::is_staff.eq(true))
        .count()
        .get_result(&mut conn)
        .unwrap();
    assert_eq!(staff, 5_000);
}

#[test]
fn a_failed_batch_leaves_no_rows_even_from_earlier_chunks() {
    let mut conn = db();
    User::factory().email("taken@example.com").create(&mut conn);
    // Row 9,000 sits in the third statement (4,681 rows fit in one); the first two succeed
    // before it fails, and must be rolled back with it.
    let err = User::factory()
        .try_create_batch_with_probe(10_000, 9_000, &mut conn)
        .unwrap_err();
    assert_eq!(err.constraint_kind(), Some(ConstraintKind::Unique));
    assert_eq!(count_users(&mut conn), 1);
}

trait BatchProbe {
    fn try_create_batch_with_probe(
        self,
        n: usize,
        bad: usize,
        conn: &mut SqliteConnection,
    ) -> Result<Vec<User>, FactoryError>;
}

impl BatchProbe for UserFactory {
    fn try_create_batch_with_probe(
        self,
        n: usize,
        bad: usize,
        conn: &mut SqliteConnection,
    ) -> Result<Vec<User>, FactoryError> {
        self.try_create_batch_with(
            n,
            |i, f| {
                if i == bad {
                    f.email("taken@example.com")
                } else {
                    f
                }
            },
            conn,
        )
    }
}

#[test]
#[should_panic(
    expected = "UserFactory could not insert into `users`: unique constraint `users.email`"
)]
fn create_panics_with_the_full_message() {
    let mut conn = db();
    User::factory().email("twice@example.com").create(&mut conn);
    User::factory().email("twice@example.com").create(&mut conn);
}

#[test]
fn create_names_the_seed_when_it_panics() {
    let mut conn = db();
    User::factory().email("seed@example.com").create(&mut conn);
    let panic = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        User::factory().email("seed@example.com").create(&mut conn)
    }))
    .unwrap_err();
    let text = panic
        .downcast_ref::<String>()
        .expect("a formatted panic message");
    let seed = format!("[FACTORY_SEED={}]", factory_core::fake::seed());
    assert!(text.ends_with(&seed), "{text}");
}

#[test]
fn rows_created_in_a_test_transaction_are_gone_when_it_drops() {
    let path = std::env::temp_dir().join(format!("factory-rollback-{}.sqlite", std::process::id()));
    let url = path.to_string_lossy().into_owned();
    {
        let mut conn = shop::sqlite(&url);
        conn.begin_test_transaction().unwrap();
        let products = Product::factory().create_batch(3, &mut conn);
        assert_eq!(products.len(), 3);
        let n: i64 = products::table.count().get_result(&mut conn).unwrap();
        assert_eq!(n, 3);
    }
    let mut other = shop::sqlite(&url);
    let n: i64 = products::table.count().get_result(&mut other).unwrap();
    drop(other);
    let _ = std::fs::remove_file(&path);
    assert_eq!(
        n, 0,
        "the batch's own transaction was a savepoint inside the test's"
    );
}

// Models private to this file, so their sequences are not shared with other tests.
diesel::table! {
    tags (id) {
        id -> Integer,
        name -> Text,
        code -> Text,
        nickname -> Text,
    }
}

#[derive(Debug, Clone, Queryable, Selectable, Factory)]
#[diesel(table_name = tags)]
struct Tag {
    #[factory(db_generated)]
    id: i32,
    #[factory(sequence = "tag-<n>")]
    name: String,
    #[factory(sequence = |n| format!("T{n:04}"))]
    code: String,
    #[factory(faker = fake::faker::name::raw::FirstName, locale = fake::locales::FR_FR)]
    nickname: String,
}

#[test]
fn sequences_start_at_one_count_per_field_and_reset() {
    // A template's `<n>` is `1-<token>`, `2-<token>`, ...; a closure gets the plain number.
    let tag = |n| format!("tag-{}", factory_core::sequence::unique(n));
    TagFactory::reset_sequences();
    let a = Tag::factory().build();
    let b = Tag::factory().name("fixed").build();
    let c = Tag::factory().build();
    assert_eq!(
        (a.name.as_str(), a.code.as_str()),
        (tag(1).as_str(), "T0001")
    );
    assert_eq!((b.name.as_str(), b.code.as_str()), ("fixed", "T0002"));
    assert_eq!(
        (c.name.as_str(), c.code.as_str()),
        (tag(2).as_str(), "T0003")
    );
    assert!(!a.nickname.is_empty(), "a localized faker");
    assert_ne!(a.id, c.id, "stub ids are distinct");
    TagFactory::reset_sequences();
    assert_eq!(Tag::factory().build().name, tag(1));

    // Shared by threads, a sequence never repeats.
    let handles: Vec<_> = (0..4)
        .map(|_| std::thread::spawn(|| Tag::factory().build_list(250)))
        .collect();
    let names: HashSet<String> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .map(|t| t.name)
        .collect();
    assert_eq!(names.len(), 1000);
}

/// Prints five fake names; `the_same_seed_gives_the_same_names_in_separate_runs` runs it in
/// child processes and compares what they print.
#[test]
fn seed_probe() {
    let names: Vec<String> = User::factory()
        .build_list(5)
        .into_iter()
        .map(|u| format!("{} {}", u.first_name, u.last_name))
        .collect();
    assert!(names.iter().all(|n| n.len() > 2), "{names:?}");
    println!("NAMES={}", names.join(","));
}

fn probe(seed: &str) -> (String, String) {
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["seed_probe", "--exact", "--nocapture", "--test-threads=1"])
        .env("FACTORY_SEED", seed)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let names = stdout
        .lines()
        .find_map(|l| l.split_once("NAMES=").map(|(_, names)| names))
        .unwrap_or_else(|| panic!("no names in {stdout}"))
        .to_owned();
    (names, String::from_utf8(out.stderr).unwrap())
}

#[test]
fn the_same_seed_gives_the_same_names_in_separate_runs() {
    let (first, stderr) = probe("1234");
    let (second, _) = probe("1234");
    let (other, _) = probe("98765");
    assert_eq!(first, second);
    assert_ne!(first, other);
    assert_eq!(
        stderr.matches("FACTORY_SEED=1234").count(),
        1,
        "the seed is printed once per process: {stderr}"
    );
}
