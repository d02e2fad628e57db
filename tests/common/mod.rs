//! Connections for the behaviour suite, one function per backend.
//!
//! PostgreSQL and MySQL tests run inside a test transaction that is rolled back when the
//! connection drops, on a database the first test creates and migrates. A server that cannot
//! be reached fails the test: nothing is skipped.

#![allow(dead_code)] // each test file uses the backends it needs

use diesel::prelude::*;
#[cfg(any(feature = "postgres", feature = "mysql"))]
use std::sync::OnceLock;

/// A fresh in-memory SQLite database with the shop's tables.
pub fn sqlite() -> SqliteConnection {
    shop::sqlite(":memory:")
}

/// A SQLite file database of this process in the temporary directory, shared by its
/// connections; writes commit.
pub fn sqlite_committing() -> SqliteConnection {
    let path = std::env::temp_dir().join(format!("factory-tests-{}.sqlite", std::process::id()));
    shop::sqlite(&path.to_string_lossy())
}

fn url(var: &str, default: &str) -> String {
    std::env::var(var).unwrap_or_else(|_| default.to_owned())
}

/// A connection to `FACTORY_TEST_POSTGRES_URL` (default: the local server's `factory_test`
/// database), in a test transaction.
#[cfg(feature = "postgres")]
pub fn postgres() -> PgConnection {
    let mut conn = postgres_committing();
    conn.begin_test_transaction()
        .expect("begin a test transaction");
    conn
}

/// As [`postgres`], without the test transaction: what it writes, it commits.
#[cfg(feature = "postgres")]
pub fn postgres_committing() -> PgConnection {
    static URL: OnceLock<String> = OnceLock::new();
    let url = URL.get_or_init(|| {
        let url = url(
            "FACTORY_TEST_POSTGRES_URL",
            "postgres://postgres@127.0.0.1:5432/factory_test",
        );
        drop(shop::postgres(&url));
        url
    });
    PgConnection::establish(url)
        .unwrap_or_else(|e| panic!("cannot connect to PostgreSQL at {url}: {e}"))
}

/// A connection to `FACTORY_TEST_MYSQL_URL` (default: the local server's `factory_test`
/// database), in a test transaction.
#[cfg(feature = "mysql")]
pub fn mysql() -> MysqlConnection {
    let mut conn = mysql_committing();
    conn.begin_test_transaction()
        .expect("begin a test transaction");
    conn
}

/// As [`mysql`], without the test transaction: what it writes, it commits.
#[cfg(feature = "mysql")]
pub fn mysql_committing() -> MysqlConnection {
    static URL: OnceLock<String> = OnceLock::new();
    let url = URL.get_or_init(|| {
        let url = url(
            "FACTORY_TEST_MYSQL_URL",
            "mysql://root@127.0.0.1:3306/factory_test",
        );
        drop(shop::mysql(&url));
        url
    });
    MysqlConnection::establish(url)
        .unwrap_or_else(|e| panic!("cannot connect to MySQL at {url}: {e}"))
}
