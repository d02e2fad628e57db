//! Models written as real applications write them, each with `#[derive(Factory)]`:
//!
//! - `Krate`: the key column is `crate_pk`, the field `id` (`column_name`, and
//!   `primary_key(crate_pk)` naming the column, as Diesel reads it); its owner's key is
//!   `published_by`, an association named `publisher`.
//! - `Version`: `crate_id` points at a crate; `crate` is a keyword, so the association is
//!   named `krate`. A trait named like its bool field, `yanked`.
//! - `Account`: `api_token` is a `NOT NULL` column the model does not read (an insert-only
//!   column); `created_at` is the database's default unless a test sets it (backdating).
//! - `CrateOwner`: a composite key, and a polymorphic owner: `owner_id` is an account's key or
//!   a team's, `owner_kind` says which.
//! - `FeatureFlag`: the key is an enum, stored as text, whose `Display` is not its SQL value.

use chrono::NaiveDateTime;
use diesel::backend::Backend;
use diesel::deserialize::{self, FromSql, FromSqlRow};
use diesel::expression::AsExpression;
use diesel::prelude::*;
use diesel::serialize::{self, Output, ToSql};
use diesel::sql_types::Text;
use factory_core::Factory;
use std::fmt;

pub mod schema {
    diesel::table! {
        accounts (id) {
            id -> Integer,
            handle -> Text,
            verified -> Bool,
            created_at -> Timestamp,
            api_token -> Text,
        }
    }

    diesel::table! {
        teams (id) {
            id -> Integer,
            title -> Text,
        }
    }

    diesel::table! {
        crates (crate_pk) {
            crate_pk -> Integer,
            name -> Text,
            published_by -> Integer,
        }
    }

    diesel::table! {
        versions (id) {
            id -> Integer,
            crate_id -> Integer,
            num -> Text,
            yanked -> Bool,
        }
    }

    diesel::table! {
        crate_owners (crate_id, owner_id, owner_kind) {
            crate_id -> Integer,
            owner_id -> Integer,
            owner_kind -> SmallInt,
        }
    }

    diesel::table! {
        feature_flags (name) {
            name -> Text,
            enabled -> Bool,
        }
    }

    diesel::joinable!(crates -> accounts (published_by));
    diesel::joinable!(versions -> crates (crate_id));
    diesel::joinable!(crate_owners -> crates (crate_id));
    diesel::allow_tables_to_appear_in_same_query!(
        accounts,
        teams,
        crates,
        versions,
        crate_owners,
        feature_flags
    );
}

use schema::{accounts, crate_owners, crates, feature_flags, teams, versions};

/// `owner_kind` of an account owner.
pub const ACCOUNT: i16 = 0;
/// `owner_kind` of a team owner.
pub const TEAM: i16 = 1;

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable, Factory)]
#[diesel(table_name = accounts)]
#[factory(
    traits(verified(verified = true)),
    insert_only(api_token: String = "token-not-read-back")
)]
pub struct Account {
    #[factory(db_generated)]
    pub id: i32,
    #[factory(sequence = "user<n>")]
    pub handle: String,
    pub verified: bool,
    #[factory(db_default)]
    pub created_at: NaiveDateTime,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable, Factory)]
#[diesel(table_name = teams)]
pub struct Team {
    #[factory(db_generated)]
    pub id: i32,
    #[factory(sequence = "team <n>")]
    pub title: String,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable, Associations, Factory)]
#[diesel(table_name = crates, primary_key(crate_pk))]
#[diesel(belongs_to(Account, foreign_key = published_by))]
pub struct Krate {
    #[factory(db_generated)]
    #[diesel(column_name = crate_pk)]
    pub id: i32,
    #[factory(sequence = "crate-<n>")]
    pub name: String,
    #[factory(sub = AccountFactory, name = publisher)]
    pub published_by: i32,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable, Associations, Factory)]
#[diesel(table_name = versions, belongs_to(Krate, foreign_key = crate_id))]
#[factory(traits(yanked(yanked = true)))]
pub struct Version {
    #[factory(db_generated)]
    pub id: i32,
    #[factory(sub = KrateFactory, name = krate)]
    pub crate_id: i32,
    #[factory(sequence = |n| format!("0.{n}.0"))]
    pub num: String,
    pub yanked: bool,
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Factory)]
#[diesel(table_name = crate_owners, primary_key(crate_id, owner_id, owner_kind))]
pub struct CrateOwner {
    #[factory(sub = KrateFactory, name = krate)]
    pub crate_id: i32,
    #[factory(
        sub(AccountFactory, name = account, owner_kind = ACCOUNT),
        sub(TeamFactory, name = team, owner_kind = TEAM)
    )]
    pub owner_id: i32,
    #[factory(default = ACCOUNT)]
    pub owner_kind: i16,
}

/// A feature flag's name: stored as `snake_case` text, displayed for people.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, AsExpression, FromSqlRow)]
#[diesel(sql_type = Text)]
pub enum Flag {
    #[default]
    DarkMode,
    NewSearch,
}

impl Flag {
    fn sql_name(self) -> &'static str {
        match self {
            Flag::DarkMode => "dark_mode",
            Flag::NewSearch => "new_search",
        }
    }
}

impl fmt::Display for Flag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Flag::DarkMode => "Dark mode",
            Flag::NewSearch => "New search",
        })
    }
}

impl<DB> ToSql<Text, DB> for Flag
where
    DB: Backend,
    str: ToSql<Text, DB>,
{
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, DB>) -> serialize::Result {
        <str as ToSql<Text, DB>>::to_sql(Flag::sql_name(*self), out)
    }
}

impl<DB> FromSql<Text, DB> for Flag
where
    DB: Backend,
    String: FromSql<Text, DB>,
{
    fn from_sql(bytes: DB::RawValue<'_>) -> deserialize::Result<Self> {
        match String::from_sql(bytes)?.as_str() {
            "dark_mode" => Ok(Flag::DarkMode),
            "new_search" => Ok(Flag::NewSearch),
            other => Err(format!("unknown flag {other:?}").into()),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Queryable, Selectable, Identifiable, Factory)]
#[diesel(table_name = feature_flags, primary_key(name))]
pub struct FeatureFlag {
    pub name: Flag,
    #[factory(default = true)]
    pub enabled: bool,
}

/// The schema's migrations, per backend.
pub static SQLITE_MIGRATIONS: factory_core::cleanup::Migrations =
    factory_core::embed_migrations!("migrations/sqlite");
#[cfg(feature = "postgres")]
pub static POSTGRES_MIGRATIONS: factory_core::cleanup::Migrations =
    factory_core::embed_migrations!("migrations/postgres");
#[cfg(feature = "mysql")]
pub static MYSQL_MIGRATIONS: factory_core::cleanup::Migrations =
    factory_core::embed_migrations!("migrations/mysql");
