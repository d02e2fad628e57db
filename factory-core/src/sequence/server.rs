//! The number a database server hands out for a process's sequence token: one per backend.

use diesel::result::Error as DieselError;

/// A connection whose server can hand out a number no other client of it ever gets, for the
/// process's sequence token ([`claim`](super::claim)).
///
/// Implemented for the connections of the enabled backends; factories require it of the
/// connection they create through.
pub trait ClaimToken: diesel::Connection {
    /// The server's number for this process, or `None` where there is no server (SQLite).
    ///
    /// # Errors
    /// The database error, when the server refuses the query.
    fn server_number(conn: &mut Self) -> Result<Option<u64>, DieselError>;
}

#[cfg(feature = "sqlite")]
impl ClaimToken for diesel::sqlite::SqliteConnection {
    fn server_number(_: &mut Self) -> Result<Option<u64>, DieselError> {
        Ok(None)
    }
}

#[cfg(feature = "postgres")]
impl ClaimToken for diesel::pg::PgConnection {
    /// The current transaction's id: 64 bits with the wraparound epoch, so it never repeats in
    /// the server's life, and no other session ever holds it. Inside an open transaction (a
    /// test transaction) it is that transaction's id, taken in a savepoint: a refusal (a
    /// read-only transaction, a standby) must not abort the test's transaction.
    fn server_number(conn: &mut Self) -> Result<Option<u64>, DieselError> {
        use diesel::connection::{AnsiTransactionManager, TransactionManager};
        use diesel::{Connection, RunQueryDsl};

        #[derive(diesel::QueryableByName)]
        struct Xid {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            xid: i64,
        }
        let query = |conn: &mut Self| {
            diesel::sql_query("SELECT txid_current() AS xid").get_result::<Xid>(conn)
        };
        let in_transaction = AnsiTransactionManager::transaction_manager_status_mut(conn)
            .transaction_depth()
            .map_or(true, |depth| depth.is_some());
        let xid = if in_transaction {
            conn.transaction(query)?
        } else {
            query(conn)?
        };
        Ok(u64::try_from(xid.xid).ok())
    }
}

#[cfg(feature = "mysql")]
impl ClaimToken for diesel::mysql::MysqlConnection {
    /// `UUID_SHORT()`: the server id, the server's start time and a counter, so it never
    /// repeats on that server, restarts included. A failed statement does not end a MySQL
    /// transaction, so no savepoint is needed.
    fn server_number(conn: &mut Self) -> Result<Option<u64>, DieselError> {
        use diesel::RunQueryDsl;

        #[derive(diesel::QueryableByName)]
        struct Short {
            #[diesel(sql_type = diesel::sql_types::Unsigned<diesel::sql_types::BigInt>)]
            short: u64,
        }
        let row = diesel::sql_query("SELECT UUID_SHORT() AS short").get_result::<Short>(conn)?;
        Ok(Some(row.short))
    }
}
