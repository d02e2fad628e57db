//! The README's "What works today" rows that no other test pinned: each test here fails if the
//! behaviour its row promises breaks (issue 10).

mod common;

use diesel::prelude::*;
use factory_core::prelude::*;
use std::cell::Cell;

// Models private to this file (in-memory only unless a test creates their table), so that
// their sequences and hooks are not shared with other tests.
diesel::table! {
    d_parents (id) {
        id -> Integer,
        name -> Text,
    }
}

diesel::table! {
    d_children (id) {
        id -> Integer,
        parent_id -> Integer,
    }
}

diesel::table! {
    d_codes (id) {
        id -> Integer,
        code -> Text,
        label -> Text,
    }
}

diesel::table! {
    d_nicks (id) {
        id -> Integer,
        nickname -> Text,
    }
}

thread_local! {
    /// How many `Parent`s this thread built: `build()` of a child must build its parent.
    static PARENTS_BUILT: Cell<usize> = const { Cell::new(0) };
}

#[derive(Debug, Clone, Queryable, Selectable, Identifiable, Factory)]
#[diesel(table_name = d_parents)]
#[factory(after_build = |_p| PARENTS_BUILT.with(|n| n.set(n.get() + 1)))]
struct Parent {
    #[factory(db_generated)]
    id: i32,
    #[factory(default = "parent")]
    name: String,
}

#[derive(Debug, Clone, Queryable, Selectable, Identifiable, Factory)]
#[diesel(table_name = d_children)]
struct Child {
    #[factory(db_generated)]
    id: i32,
    #[factory(sub = ParentFactory)]
    parent_id: i32,
}

/// The `sequence = <function>` form: a function of the plain number.
fn code_of(n: u64) -> String {
    format!("C{n}")
}

#[derive(Debug, Clone, Queryable, Selectable, Factory)]
#[diesel(table_name = d_codes)]
struct Code {
    #[factory(db_generated)]
    id: i32,
    #[factory(sequence = code_of)]
    code: String,
    #[factory(sequence = |n| format!("L{n}"))]
    label: String,
}

#[derive(Debug, Clone, Queryable, Selectable, Factory)]
#[diesel(table_name = d_nicks)]
struct Nick {
    #[factory(db_generated)]
    id: i32,
    #[factory(faker = fake::faker::name::raw::FirstName, locale = fake::locales::FR_FR)]
    nickname: String,
}

/// Row: `build_list_with` (the `i`th item from the customising closure).
#[test]
fn build_list_with_customises_each_item_by_its_index() {
    let users = shop::User::factory().build_list_with(4, |i, u| {
        if i % 2 == 1 {
            u.admin()
        } else {
            u.role(format!("r{i}"))
        }
    });
    let roles: Vec<&str> = users.iter().map(|u| u.role.as_str()).collect();
    assert_eq!(roles, ["r0", "admin", "r2", "admin"]);
    assert_eq!(
        users.iter().map(|u| u.is_staff).collect::<Vec<_>>(),
        [false, true, false, true]
    );
}

/// Row: `sequence` as a function, one counter per field, `reset_sequences()`.
#[test]
fn a_sequence_function_gets_the_plain_number_of_its_own_counter() {
    CodeFactory::reset_sequences();
    let first = Code::factory().build();
    let second = Code::factory().label("fixed").build();
    let third = Code::factory().build();
    assert_eq!(
        [first.code, second.code, third.code],
        ["C1", "C2", "C3"],
        "the function sees 1, 2, 3"
    );
    assert_eq!(
        [first.label, second.label, third.label],
        ["L1", "fixed", "L2"],
        "a field's counter moves only when its sequence is used"
    );
    CodeFactory::reset_sequences();
    assert_eq!(Code::factory().build().code, "C1");
}

/// Row: `faker` + `locale`: the values come from the locale's data, not English.
#[test]
fn a_faker_with_a_locale_draws_from_that_locale() {
    use fake::locales::{Data, EN, FR_FR};
    let names: Vec<String> = Nick::factory()
        .build_list(60)
        .into_iter()
        .map(|n| n.nickname)
        .collect();
    let not_french: Vec<&String> = names
        .iter()
        .filter(|n| !FR_FR::NAME_FIRST_NAME.contains(&n.as_str()))
        .collect();
    assert!(
        not_french.is_empty(),
        "not French first names: {not_french:?}"
    );
    assert!(
        names
            .iter()
            .any(|n| !EN::NAME_FIRST_NAME.contains(&n.as_str())),
        "every name is also an English one, so the locale is not shown: {names:?}"
    );
}

/// Row: belongs-to, "built in memory by `build()`", and only when the key is not given.
#[test]
fn build_builds_the_parent_in_memory_unless_its_key_is_given() {
    let before = PARENTS_BUILT.with(Cell::get);
    let built = Child::factory().build();
    assert_eq!(
        PARENTS_BUILT.with(Cell::get),
        before + 1,
        "the parent was built"
    );
    assert!(built.parent_id > 0, "the parent's stub key");

    let given = Child::factory().parent_id(7).build();
    assert_eq!(given.parent_id, 7);
    let customised = Child::factory()
        .parent_with(|p| p.name("custom"))
        .attributes();
    assert!(customised.parent_id > 0);
    assert_eq!(
        PARENTS_BUILT.with(Cell::get),
        before + 2,
        "no parent for a given key; one for `attributes()` of a customised parent"
    );
}

/// Row: has-many, `.with_items(n)` for an `n` other than the declared count.
#[test]
fn with_items_creates_that_many_related_rows() {
    use shop::schema::order_items;
    let mut conn = common::sqlite();
    for n in [0_i64, 1, 3] {
        let order = shop::Order::factory()
            .with_items(n as usize)
            .create(&mut conn);
        let lines: i64 = order_items::table
            .filter(order_items::order_id.eq(order.id))
            .count()
            .get_result(&mut conn)
            .unwrap();
        assert_eq!(lines, n);
    }
}

mod hooked {
    //! A model whose `after_create` hook reads a transient and writes through the connection.
    use super::*;

    diesel::table! {
        tags (id) {
            id -> Integer,
            name -> Text,
            label -> Text,
        }
    }

    #[derive(Debug, Clone, PartialEq, Queryable, Selectable, Factory)]
    #[diesel(table_name = tags)]
    #[factory(
        transient(batch_no: i32 = 0),
        after_create = |tag, t, conn| {
            tag.label = format!("batch-{}-{}", t.batch_no, tag.id);
            diesel::update(tags::table.find(tag.id))
                .set(tags::label.eq(&tag.label))
                .execute(conn)
                .expect("the hook writes through the connection");
        }
    )]
    pub struct HookedTag {
        #[factory(db_generated)]
        pub id: i32,
        #[factory(sequence = "hooked-<n>")]
        pub name: String,
        #[factory(default = "unset")]
        pub label: String,
    }

    /// Row: transients reach `after_create`, which gets the connection and may change the
    /// returned model.
    #[test]
    fn after_create_sees_the_transients_and_writes_through_the_connection() {
        let mut conn = common::sqlite();
        let tag = HookedTag::factory().batch_no(7).create(&mut conn);
        assert_eq!(tag.label, format!("batch-7-{}", tag.id));
        let stored: HookedTag = tags::table.find(tag.id).first(&mut conn).unwrap();
        assert_eq!(stored, tag, "the hook's write is in the database");
        let plain = HookedTag::factory().create(&mut conn);
        assert_eq!(plain.label, format!("batch-0-{}", plain.id), "the default");
    }
}

mod returning_sqlite {
    //! Row: the stored row comes back on SQLite (`RETURNING`): a value only the database knows.
    use super::*;

    diesel::table! {
        d_stamped (id) {
            id -> Integer,
            body -> Text,
            stamp -> Text,
        }
    }

    #[derive(Debug, Clone, PartialEq, Queryable, Selectable, Factory)]
    #[diesel(table_name = d_stamped)]
    struct Stamped {
        #[factory(db_generated)]
        id: i32,
        #[factory(sequence = "body-<n>")]
        body: String,
        #[factory(db_generated)]
        stamp: String,
    }

    #[test]
    fn create_returns_what_the_database_stored() {
        let mut conn = SqliteConnection::establish(":memory:").unwrap();
        diesel::sql_query(
            "CREATE TABLE d_stamped (id INTEGER PRIMARY KEY, body TEXT NOT NULL, \
             stamp TEXT NOT NULL DEFAULT 'set by the database')",
        )
        .execute(&mut conn)
        .unwrap();
        let one = Stamped::factory().create(&mut conn);
        assert_eq!(one.stamp, "set by the database");
        let batch = Stamped::factory().create_batch(3, &mut conn);
        assert!(batch.iter().all(|s| s.stamp == "set by the database"));
        let stored: Vec<Stamped> = d_stamped::table
            .order(d_stamped::id)
            .load(&mut conn)
            .unwrap();
        assert_eq!(stored[0], one);
        assert_eq!(stored[1..], batch[..]);
    }
}

/// Database rows of the "works" table, for every backend: `$connect()` a connection in a test
/// transaction, `$committing()` one without; `$statements` how many INSERTs 10,000 users (7
/// columns) need under the backend's limit.
macro_rules! suite {
    ($connect:path, $committing:path, statements = $statements:expr) => {
        use diesel::prelude::*;
        use factory_core::{ConstraintKind, Factory};
        use shop::schema::users;
        use shop::User;
        use std::sync::{Arc, Mutex};

        /// The statements `conn` runs from now on.
        fn record<C: diesel::Connection>(conn: &mut C) -> Arc<Mutex<Vec<String>>> {
            let seen = Arc::new(Mutex::new(Vec::new()));
            let sink = Arc::clone(&seen);
            conn.set_instrumentation(move |event: diesel::connection::InstrumentationEvent<'_>| {
                if let diesel::connection::InstrumentationEvent::StartQuery { query, .. } = event {
                    let sql = query.to_string();
                    // The binds of a big batch are long: the statement's start is enough.
                    let head: String = sql.chars().take(40).collect();
                    sink.lock().unwrap().push(head);
                }
            });
            seen
        }

        /// Row: batches are multi-row INSERTs, as few as the bind limit allows.
        #[test]
        fn a_batch_is_a_few_multi_row_inserts() {
            let mut conn = $connect();
            User::factory().create(&mut conn); // the sequence token's query, once per process
            let seen = record(&mut conn);
            let users = User::factory().create_batch(10_000, &mut conn);
            assert_eq!(users.len(), 10_000);
            let inserts = seen
                .lock()
                .unwrap()
                .iter()
                .filter(|sql| sql.trim_start().to_uppercase().starts_with("INSERT"))
                .count();
            assert_eq!(inserts, $statements, "INSERT statements for 10,000 users");
        }

        /// Row: a batch is one transaction, nothing kept on error, also when the failing row
        /// is in a later statement than rows that went in (outside any test transaction).
        #[test]
        fn a_batch_failing_in_its_last_statement_keeps_nothing() {
            let mut conn = $committing();
            let run = factory_core::fake::below(u64::MAX);
            let email = |i: usize| format!("d-batch-{run}-{i}@example.com");
            let n = 10_000;
            let err = User::factory()
                .try_create_batch_with(
                    n,
                    // The last row repeats the first's email: a unique violation in the last
                    // statement, after the earlier ones succeeded.
                    |i, u| u.email(email(if i == n - 1 { 0 } else { i })),
                    &mut conn,
                )
                .unwrap_err();
            assert_eq!(err.constraint_kind(), Some(ConstraintKind::Unique));
            let kept: i64 = users::table
                .filter(users::email.like(format!("d-batch-{run}-%")))
                .count()
                .get_result(&mut conn)
                .unwrap();
            if kept > 0 {
                diesel::delete(users::table.filter(users::email.like(format!("d-batch-{run}-%"))))
                    .execute(&mut conn)
                    .unwrap();
            }
            assert_eq!(kept, 0, "rows of the earlier statements were kept");
        }
    };
}

mod sqlite {
    suite!(
        crate::common::sqlite,
        crate::common::sqlite_committing,
        // 32,766 binds: 4,681 rows a statement.
        statements = 3
    );
}

#[cfg(feature = "postgres")]
mod postgres {
    suite!(
        crate::common::postgres,
        crate::common::postgres_committing,
        // 65,535 binds: 9,362 rows a statement.
        statements = 2
    );
}

#[cfg(feature = "mysql")]
mod mysql {
    suite!(
        crate::common::mysql,
        crate::common::mysql_committing,
        // At most 1,000 rows a statement.
        statements = 10
    );
}

/// Row: the stored row comes back (`RETURNING` on PostgreSQL, a re-read by key on MySQL): the
/// database rounds `NUMERIC(12, 2)`, and `create` returns the rounded value, not the one sent.
#[cfg(any(feature = "postgres", feature = "mysql"))]
macro_rules! rounding {
    ($connect:path) => {
        #[test]
        fn create_returns_the_value_the_database_stored() {
            use bigdecimal::BigDecimal;
            use diesel::prelude::*;
            use factory_core::Factory;
            use shop::schema::ledger_entries;
            use shop::LedgerEntry;
            let mut conn = $connect();
            let sent: BigDecimal = "1.239".parse().unwrap();
            let stored: BigDecimal = "1.24".parse().unwrap();
            let one = LedgerEntry::factory()
                .amount(sent.clone())
                .create(&mut conn);
            assert_eq!(one.amount, stored, "the one row, as stored");
            let batch = LedgerEntry::factory()
                .amount(sent.clone())
                .create_batch(3, &mut conn);
            assert!(
                batch.iter().all(|e| e.amount == stored),
                "a batch, as stored: {batch:?}"
            );
            let read: LedgerEntry = ledger_entries::table.find(one.id).first(&mut conn).unwrap();
            assert_eq!(read, one);
        }
    };
}

#[cfg(feature = "postgres")]
mod postgres_returning {
    rounding!(crate::common::postgres);
}

#[cfg(feature = "mysql")]
mod mysql_returning {
    rounding!(crate::common::mysql);
}

/// Set in the child process of the remote-guard test: the URL to open.
#[cfg(feature = "postgres")]
const ALLOW_REMOTE_CHILD: &str = "FACTORY_TEST_ALLOW_REMOTE_CHILD";

/// Not a test of its own: as a child of the test below, opens its URL with a destructive
/// strategy and prints how that ended. Without the variable it does nothing.
#[cfg(feature = "postgres")]
#[test]
fn allow_remote_child() {
    use factory_core::cleanup::{Cleanup, CleanupError, TestDb};
    let Ok(url) = std::env::var(ALLOW_REMOTE_CHILD) else {
        return;
    };
    let outcome = match TestDb::<diesel::PgConnection>::open(&url, Cleanup::Truncate) {
        Err(CleanupError::RemoteDatabase { .. }) => "refused",
        Err(CleanupError::Connect { .. }) => "connecting",
        Err(other) => panic!("unexpected error: {other}"),
        Ok(_) => panic!("opened a handle on a host that does not exist"),
    };
    println!("OUTCOME {outcome}");
}

/// Row: the remote guard gives way to `FACTORY_ALLOW_REMOTE_DATABASE=true` (and only to a
/// yes): checked in child processes, as the environment is the process's.
#[cfg(feature = "postgres")]
#[test]
fn the_environment_variable_lets_a_remote_database_past_the_guard() {
    let outcome = |allow: Option<&str>| {
        let mut cmd = std::process::Command::new(std::env::current_exe().unwrap());
        cmd.args([
            "--exact",
            "allow_remote_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(
            ALLOW_REMOTE_CHILD,
            "postgres://app@db.invalid:5432/app?connect_timeout=5",
        )
        .env_remove(factory_core::cleanup::ALLOW_REMOTE_VAR);
        if let Some(value) = allow {
            cmd.env(factory_core::cleanup::ALLOW_REMOTE_VAR, value);
        }
        let out = cmd.output().expect("run the child test process");
        let stdout = String::from_utf8_lossy(&out.stdout);
        stdout
            .lines()
            .find_map(|l| Some(l.split_once("OUTCOME ")?.1.to_owned()))
            .unwrap_or_else(|| panic!("the child printed no outcome: {out:?}"))
    };
    assert_eq!(outcome(None), "refused");
    assert_eq!(outcome(Some("false")), "refused");
    assert_eq!(outcome(Some("true")), "connecting");
}
