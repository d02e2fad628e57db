//! Test data factories for Diesel models.
//!
//! Put `#[derive(Factory)]` on a Diesel model and get a typed `<Model>Factory`: build values in
//! memory, insert rows, insert batches, with sequences, seeded fake data, lazy fields and traits.
//! Misuse of the attributes is a compile error at the offending token.
//!
//! ```
//! use factory_core::prelude::*;
//! use diesel::prelude::*;
//!
//! diesel::table! {
//!     users (id) {
//!         id -> Integer,
//!         email -> Text,
//!         username -> Text,
//!         first_name -> Text,
//!         is_staff -> Bool,
//!         role -> Text,
//!     }
//! }
//!
//! #[derive(Debug, Clone, Queryable, Selectable, Factory)]
//! #[diesel(table_name = users)]
//! #[factory(traits(admin(is_staff = true, role = "admin")))]
//! pub struct User {
//!     #[factory(db_generated)]
//!     pub id: i32,
//!     #[factory(sequence = "user<n>@example.com")]
//!     pub email: String,
//!     #[factory(lazy = |u| u.email.split('@').next().unwrap().to_owned())]
//!     pub username: String,
//!     #[factory(faker = FirstName())]
//!     pub first_name: String,
//!     pub is_staff: bool,
//!     #[factory(default = "customer")]
//!     pub role: String,
//! }
//!
//! let user = User::factory().admin().build();
//! assert!(user.is_staff);
//! assert_eq!(user.role, "admin");
//! assert_eq!(user.username, user.email.split('@').next().unwrap());
//!
//! let mut conn = SqliteConnection::establish(":memory:").unwrap();
//! diesel::sql_query(
//!     "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL UNIQUE,
//!      username TEXT NOT NULL, first_name TEXT NOT NULL, is_staff BOOLEAN NOT NULL,
//!      role TEXT NOT NULL)",
//! )
//! .execute(&mut conn)
//! .unwrap();
//! let stored = User::factory().create(&mut conn);
//! assert!(stored.id > 0);
//! ```
//!
//! # Attributes
//!
//! The struct needs `#[diesel(table_name = ...)]` and named fields. On a field, at most one
//! value source:
//!
//! | attribute | value when the field is not set |
//! |---|---|
//! | *(none)* | the type's `Default` |
//! | `default = <expr>` | `<expr>.into()`; a string literal works for `String` |
//! | `sequence = "user<n>@example.com"` | the template with `<n>` = `1-<token>`, `2-<token>`, ...: one counter per field, shared by all threads, and a token of the process that keeps values unique across processes, machines and runs (`user1-0f6w@example.com`, handed out by the database server on the first create; plain numbers under `FACTORY_SEQUENCE_SCOPE=process`, see [`sequence`]) |
//! | `sequence = \|n\| <expr>` | the closure's value for the plain `n` = 1, 2, 3, ...; [`sequence::unique(n)`](sequence::unique) adds the token |
//! | `faker = <faker>` | a value from any `fake` faker or range (`FirstName()`, `18..65`), drawn from the seeded stream ([`fake`]) |
//! | `faker = <Faker>, locale = <LOCALE>` | the same with a locale: `faker = raw::FirstName, locale = FR_FR` |
//! | `lazy = \|m\| <expr>` or `\|m, t\| <expr>` | computed from the model's other fields (and the transients `t`); the type needs `Default`, its placeholder until then |
//! | `db_generated` | left out of inserts (the database assigns it); `build()` gives a stub ([`Stub`]): distinct for integer, string and UUID keys, now for timestamps |
//! | `sub = UserFactory` on `user_id` | the key of a parent: `create` creates one (customise it with `.user_with(\|u\| ..)`) unless `.user(&u)` or `.user_id(id)` gave it; `build()` builds it in memory; an `Option` key stays `None` unless asked |
//! | `sub = AccountFactory, name = publisher` on `published_by` | the same, for a key not named `<parent>_id` (or whose parent's name is a keyword: `crate_id`, `name = krate`): `.publisher(&a)`, `.publisher_with(..)` |
//! | `sub(AccountFactory, name = account, owner_kind = 0), sub(TeamFactory, name = team, owner_kind = 1)` | a key pointing at one of several parents: `.team(&t)` / `.team_with(..)` set the key and the listed fields; the first parent is the default |
//! | `db_default` | the database's default (`DEFAULT` in the insert) unless the test sets the field; `build()` gives a stub |
//!
//! On the struct:
//!
//! - `traits(admin(includes(staff), role = "admin"), ...)`: a method `.admin()` that applies
//!   the included traits, then sets the listed fields or transients.
//! - `transient(with_items: usize = 0, ...)`: parameters that are not columns, with setters of
//!   their own, readable by `lazy` closures and hooks (`t.with_items`).
//! - `after_build = |m| ...` or `|m, t| ...` (or a path to a function taking `&mut Model`):
//!   runs last in `build()`, and so also before every insert.
//! - `related(items(factory = OrderItemFactory, key = order_id, count = 2))`: after the row is
//!   created, `count` rows of the child factory with `key` set to its primary key;
//!   `.with_items(n)` changes the number, `.with_items_from(factories)` gives them.
//! - `after_create = |m, conn| ...` or `|m, t, conn| ...`: runs after the row and its related
//!   rows exist, with the connection; it may change the returned model (`m` is `&mut`).
//! - `get_or_create(email, ...)`: `.get_or_create(conn)` returns the row with the same values
//!   in these columns, creating it only if there is none.
//!
//! - `insert_only(api_token: String = "..", ..)`: columns the insert writes that the model
//!   does not read, with their values; set like transients (`.api_token("x")`).
//!
//! Diesel's `#[diesel(primary_key(..))]` names the key columns that `sub`, `related` and
//! tracked cleanup use (else the `id` column); `column_name`, `serialize_as`,
//! `skip_insertion`, `select_expression` and `check_for_backend(..)` (which limits `create` to
//! those backends) mean what they mean to Diesel, and without `table_name` the table is the one
//! Diesel infers. A trait named like a field takes the name; the field's setter becomes
//! `set_<field>`.
//!
//! # Creating rows
//!
//! `create` (and `try_create`, `create_batch`, `get_or_create`) takes any connection the
//! factory implements [`Create`] for: `SqliteConnection`, `PgConnection`, `MysqlConnection`
//! with the matching features, and their r2d2 pooled connections with `r2d2`. It creates the
//! parents whose keys were not given, inserts the row (`RETURNING` on SQLite and PostgreSQL, a
//! re-read by primary key on MySQL), then the related rows and the `after_create` hook, all in
//! one transaction when there is more than the one insert. A batch is one transaction of
//! multi-row `INSERT`s, chunked under the backend's bind-parameter limit.
//!
//! Mistakes (an unknown key, a template without `<n>`, two sources on a field, a trait naming
//! an unknown field, ...) are compile errors at the offending token.
//!
//! # Test databases
//!
//! A [`TestDb`](cleanup::TestDb) is a connection that leaves nothing behind, opened with one
//! [`Cleanup`](cleanup::Cleanup) strategy: a rolled-back test transaction (the default),
//! tracked deletion of every row the factories created (and of rows that reference them),
//! truncation, or a database of the test's own cloned from a migrated template. Factories take
//! it as a connection (`User::factory().create(&mut db)`); an optional residue check counts
//! every table before and after; strategies that delete refuse a non-local database unless
//! allowed. See the [`cleanup`] module.
//!
//! # The order values are resolved in
//!
//! `build()` (and so `attributes()`, `create()` and each item of a batch) resolves:
//!
//! 1. transients: the value set, else the declared default, else `Default`;
//! 2. every field that is not `lazy`, in declaration order: the value set by a setter or trait,
//!    else its source (a sequence takes its next number only here, when it is used);
//! 3. `lazy` fields, in declaration order: the value set, else the closure, which sees the
//!    model with every earlier step's values (a lazy field declared later still holds its
//!    type's `Default`);
//! 4. the `after_build` hook.
//!
//! Setters and traits apply in call order, so the last call wins: `.admin().role("owner")`
//! ends with role `owner`, `.role("owner").admin()` with `admin`.

#![warn(missing_docs)]

// Without a backend no model could be created anywhere; say so once, here, rather than as a
// screen of unsatisfied bounds at every model.
#[cfg(not(any(feature = "sqlite", feature = "postgres", feature = "mysql")))]
compile_error!(
    "factory-core needs a database backend: enable one or more of its features `sqlite`, \
     `postgres`, `mysql` in Cargo.toml, e.g. \
     `factory-core = { version = \"0.1\", features = [\"postgres\"] }`"
);

mod attributes;
pub mod cleanup;
pub mod create;
pub mod error;
pub mod factory;
pub mod fake;
mod insert;
mod observe;
mod persist;
mod row;
pub mod sequence;
pub mod stub;

pub use attributes::Attributes;
#[cfg(feature = "async")]
pub use create::asynchronous::{BoxFuture, CreateAsync, GetOrCreateAsync};
pub use create::{Create, GetOrCreate};
pub use error::{ConstraintKind, FactoryError};
pub use factory::Factory;
pub use factory_derive::Factory;

/// Embeds a directory of Diesel migrations, as `diesel_migrations::embed_migrations!` does
/// (the calling crate depends on `diesel_migrations`), together with a hash of the files that
/// names the template per-test databases are cloned from: a
/// [`cleanup::Migrations`]. The path is relative to the crate's `Cargo.toml`.
///
/// ```
/// static SHOP: factory_core::cleanup::Migrations =
///     factory_core::embed_migrations!("../migrations/postgres");
/// ```
pub use factory_derive::embed_migrations;
/// `#[factory_core::test(..)]`: a test taking `&mut TestDb<C>`, run on a test database that is
/// cleaned up after it. Options, URL variables and examples: [`cleanup::run_test`].
pub use factory_derive::test;
pub use sequence::Sequence;
pub use stub::Stub;

/// What a test file needs: `use factory_core::prelude::*;`.
///
/// Brings the derive and the [`Factory`] trait (whose methods build and create), [`Create`]
/// for code generic over connections, [`FactoryError`], and the test database handle. The
/// fakers `faker = ..` names (`FirstName()`, `SafeEmail()`, ...) need no import: the derive
/// resolves the `fake` crate's English fakers itself.
pub mod prelude {
    pub use crate::cleanup::{Cleanup, Migrations, TestDb};
    pub use crate::{Create, Factory, FactoryError, GetOrCreate};
    #[cfg(feature = "async")]
    pub use crate::{CreateAsync, GetOrCreateAsync};
}

/// Support for the derive's generated code. Not a public API: it changes without notice.
#[doc(hidden)]
pub mod __private_v1;
