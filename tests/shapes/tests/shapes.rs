//! The shapes of real models, created and cleaned up on every backend: each test runs the same
//! body on one backend under `Cleanup::Tracked` with the residue check on, then counts every
//! table from a separate connection. A server that cannot be reached fails the test.

use chrono::NaiveDate;
use diesel::prelude::*;
use factory_core::cleanup::{Cleanup, Migrations, TestBackend, TestDb};
use factory_core::prelude::*;
use factory_shapes::schema::{accounts, crate_owners, crates, feature_flags, teams, versions};
use factory_shapes::{Account, CrateOwner, FeatureFlag, Flag, Krate, Team, Version, ACCOUNT, TEAM};

/// Rows in each table, in a fixed order.
macro_rules! counts {
    ($conn:expr) => {{
        let conn = $conn;
        let n = |q: QueryResult<i64>| q.expect("count rows");
        vec![
            ("accounts", n(accounts::table.count().get_result(conn))),
            ("teams", n(teams::table.count().get_result(conn))),
            ("crates", n(crates::table.count().get_result(conn))),
            ("versions", n(versions::table.count().get_result(conn))),
            (
                "crate_owners",
                n(crate_owners::table.count().get_result(conn)),
            ),
            (
                "feature_flags",
                n(feature_flags::table.count().get_result(conn)),
            ),
        ]
    }};
}

/// A handle under tracked cleanup with the residue check, on `url`'s database.
fn open<C: TestBackend>(url: &str, migrations: Migrations) -> TestDb<C> {
    TestDb::<C>::builder(url)
        .migrations(migrations)
        .cleanup(Cleanup::Tracked)
        .check_residue(true)
        .open()
        .unwrap_or_else(|e| panic!("open a tracked handle on {url}: {e}"))
}

/// The body: every shape, created through the handle (and through `&mut *db`), read back.
macro_rules! exercise {
    ($db:expr) => {{
        let db = $db;

        // Keys named freely: `crate_pk` is the key column, `published_by` an association.
        let krate = Krate::factory().create(db);
        let publisher: Account = accounts::table
            .find(krate.published_by)
            .select(Account::as_select())
            .first(db.conn())
            .unwrap();
        let stored: Krate = crates::table.find(krate.id).first(db.conn()).unwrap();
        assert_eq!(stored, krate);
        let mine = Krate::factory().publisher(&publisher).create(db);
        assert_eq!(mine.published_by, publisher.id);

        // A keyword-named association (`crate_id`: `.krate(..)`), a trait named like a field.
        let version = Version::factory().krate(&krate).create(db);
        assert_eq!(version.crate_id, krate.id);
        assert!(!version.yanked);
        let yanked = Version::factory()
            .yanked()
            .krate_with(|k| k.name("yanked-crate"))
            .create(db);
        assert!(yanked.yanked);
        let unyanked = Version::factory()
            .yanked()
            .set_yanked(false)
            .krate(&krate)
            .create(db);
        assert!(!unyanked.yanked);

        // A polymorphic owner and a composite key.
        let by_account = CrateOwner::factory()
            .krate(&krate)
            .account(&publisher)
            .create(db);
        assert_eq!(
            (by_account.owner_id, by_account.owner_kind),
            (publisher.id, ACCOUNT)
        );
        let by_team = CrateOwner::factory()
            .krate(&krate)
            .team_with(|t| t.title("core"))
            .create(db);
        assert_eq!(by_team.owner_kind, TEAM);
        let team: Team = teams::table
            .find(by_team.owner_id)
            .first(db.conn())
            .unwrap();
        assert_eq!(team.title, "core");
        let new_owner = CrateOwner::factory().krate(&krate).create(db);
        let created: Account = accounts::table
            .find(new_owner.owner_id)
            .select(Account::as_select())
            .first(db.conn())
            .unwrap();
        assert_eq!(new_owner.owner_kind, ACCOUNT, "{created:?}");

        // A database default, left to the database or set by the test.
        let fresh = Account::factory().verified().create(db);
        assert!(fresh.verified);
        let floor = NaiveDate::from_ymd_opt(2020, 1, 1)
            .unwrap()
            .and_hms_opt(0, 0, 0)
            .unwrap();
        assert!(
            fresh.created_at > floor,
            "the database's now(): {}",
            fresh.created_at
        );
        let backdated = NaiveDate::from_ymd_opt(2001, 2, 3)
            .unwrap()
            .and_hms_opt(4, 5, 6)
            .unwrap();
        let old = Account::factory().created_at(backdated).create(db);
        assert_eq!(old.created_at, backdated);

        // An insert-only column: written from its source, or from the test's value.
        let token: String = accounts::table
            .find(fresh.id)
            .select(accounts::api_token)
            .first(db.conn())
            .unwrap();
        assert_eq!(token, "token-not-read-back");
        let custom = Account::factory().api_token("abc").create(db);
        let token: String = accounts::table
            .find(custom.id)
            .select(accounts::api_token)
            .first(db.conn())
            .unwrap();
        assert_eq!(token, "abc");

        // An enum key whose `Display` ("Dark mode") is not its SQL value ("dark_mode").
        let dark = FeatureFlag::factory().name(Flag::DarkMode).create(db);
        let search = FeatureFlag::factory()
            .name(Flag::NewSearch)
            .enabled(false)
            .create(db);
        assert_eq!(dark.to_string_pair(), ("Dark mode".to_owned(), true));
        assert!(!search.enabled);

        // Batches, through the handle's own connection as Diesel queries are written.
        let owners = CrateOwner::factory()
            .krate(&krate)
            .create_batch(3, &mut **db);
        assert_eq!(owners.len(), 3);
        let accounts = Account::factory().create_batch(2, db);
        assert!(accounts.iter().all(|a| a.created_at > floor));

        assert!(
            db.tracked_rows() >= 20,
            "{} rows tracked",
            db.tracked_rows()
        );
    }};
}

/// `(Display of the name, enabled)`: the flag as people read it.
trait Pair {
    fn to_string_pair(&self) -> (String, bool);
}

impl Pair for FeatureFlag {
    fn to_string_pair(&self) -> (String, bool) {
        (self.name.to_string(), self.enabled)
    }
}

#[test]
fn sqlite_shapes_are_created_and_cleaned_up() {
    let path = std::env::temp_dir().join(format!("factory-shapes-{}.sqlite", std::process::id()));
    let url = path.to_string_lossy().into_owned();
    let mut db = open::<SqliteConnection>(&url, factory_shapes::SQLITE_MIGRATIONS);
    let mut other = SqliteConnection::establish(&url).unwrap();
    let before = counts!(&mut other);
    exercise!(&mut db);
    db.finish().expect("tracked cleanup");
    assert_eq!(counts!(&mut other), before, "rows left behind");
    let _ = std::fs::remove_file(&path);
}

/// The server part of `var`'s URL (default: the local server), with database `name`.
#[cfg(any(feature = "postgres", feature = "mysql"))]
fn server_url(var: &str, default: &str, name: &str) -> String {
    let base = std::env::var(var).unwrap_or_else(|_| default.to_owned());
    let (server, _) = base
        .rsplit_once('/')
        .unwrap_or_else(|| panic!("{var} must end in /<database>: {base}"));
    format!("{server}/{name}")
}

#[cfg(feature = "postgres")]
#[test]
fn postgres_shapes_are_created_and_cleaned_up() {
    let url = server_url(
        "FACTORY_TEST_POSTGRES_URL",
        "postgres://postgres@127.0.0.1:5432/factory_test",
        "factory_shapes",
    );
    let (server, _) = url.rsplit_once('/').unwrap();
    let mut admin = PgConnection::establish(&format!("{server}/postgres"))
        .unwrap_or_else(|e| panic!("cannot reach PostgreSQL at {server}: {e}"));
    let exists: i64 = diesel::dsl::sql::<diesel::sql_types::BigInt>(
        "SELECT count(*) FROM pg_database WHERE datname = 'factory_shapes'",
    )
    .get_result(&mut admin)
    .unwrap();
    if exists == 0 {
        diesel::sql_query("CREATE DATABASE factory_shapes")
            .execute(&mut admin)
            .unwrap();
    }
    let mut db = open::<PgConnection>(&url, factory_shapes::POSTGRES_MIGRATIONS);
    let mut other = PgConnection::establish(&url).unwrap();
    let before = counts!(&mut other);
    exercise!(&mut db);
    db.finish().expect("tracked cleanup");
    assert_eq!(counts!(&mut other), before, "rows left behind");
}

#[cfg(feature = "mysql")]
#[test]
fn mysql_shapes_are_created_and_cleaned_up() {
    let url = server_url(
        "FACTORY_TEST_MYSQL_URL",
        "mysql://root@127.0.0.1:3306/factory_test",
        "factory_shapes",
    );
    let (server, _) = url.rsplit_once('/').unwrap();
    let mut admin = MysqlConnection::establish(&format!("{server}/mysql"))
        .unwrap_or_else(|e| panic!("cannot reach MySQL at {server}: {e}"));
    diesel::sql_query("CREATE DATABASE IF NOT EXISTS factory_shapes")
        .execute(&mut admin)
        .unwrap();
    let mut db = open::<MysqlConnection>(&url, factory_shapes::MYSQL_MIGRATIONS);
    let mut other = MysqlConnection::establish(&url).unwrap();
    let before = counts!(&mut other);
    exercise!(&mut db);
    db.finish().expect("tracked cleanup");
    assert_eq!(counts!(&mut other), before, "rows left behind");
}
