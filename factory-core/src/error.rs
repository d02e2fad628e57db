//! The one error type: which factory, which table, which constraint, and the database's words.

use diesel::result::{DatabaseErrorKind, Error as DieselError};
use std::fmt;

/// The kind of constraint a failed insert broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConstraintKind {
    /// A unique index or primary key already holds the value.
    Unique,
    /// A foreign key points at a row that does not exist.
    ForeignKey,
    /// A `NOT NULL` column got `NULL`.
    NotNull,
    /// A `CHECK` constraint is false for the row.
    Check,
}

impl fmt::Display for ConstraintKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Unique => "unique",
            Self::ForeignKey => "foreign key",
            Self::NotNull => "not null",
            Self::Check => "check",
        })
    }
}

/// Why a factory could not create its rows.
///
/// The message names the factory, the table and, when the database says which, the constraint:
///
/// ```text
/// UserFactory could not insert into `users`: unique constraint `users.email` violated
/// (UNIQUE constraint failed: users.email)
/// ```
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FactoryError {
    /// The database refused the row because of a constraint.
    #[error(
        "{factory} could not insert into `{table}`: {kind} constraint{} violated ({message})",
        constraint.as_ref().map(|c| format!(" `{c}`")).unwrap_or_default()
    )]
    Constraint {
        /// The factory, e.g. `UserFactory`.
        factory: &'static str,
        /// The table the factory inserts into.
        table: &'static str,
        /// Which kind of constraint.
        kind: ConstraintKind,
        /// The constraint's name (or, on SQLite, its columns) when the database reports it.
        constraint: Option<String>,
        /// The database's own message.
        message: String,
        /// The underlying error.
        #[source]
        source: DieselError,
    },
    /// A transaction could not begin or end. (Inside a factory's own transaction this is
    /// reported as [`FactoryError::Database`], naming the factory.)
    #[error("a factory's transaction failed: {source}")]
    Transaction {
        /// The underlying error.
        #[from]
        source: DieselError,
    },
    /// The factory was used in a way it does not support.
    #[error("{0}")]
    Usage(&'static str),
    /// Any other database error.
    #[error("{factory} could not insert into `{table}`: {source}")]
    Database {
        /// The factory, e.g. `UserFactory`.
        factory: &'static str,
        /// The table the factory inserts into.
        table: &'static str,
        /// The underlying error.
        #[source]
        source: DieselError,
    },
}

impl FactoryError {
    /// Wraps a Diesel error from an insert by `factory` into `table`.
    pub fn from_diesel(factory: &'static str, table: &'static str, source: DieselError) -> Self {
        let DieselError::DatabaseError(db_kind, info) = &source else {
            return Self::Database {
                factory,
                table,
                source,
            };
        };
        let message = info.message().to_owned();
        let kind = match db_kind {
            DatabaseErrorKind::UniqueViolation => Some(ConstraintKind::Unique),
            DatabaseErrorKind::ForeignKeyViolation => Some(ConstraintKind::ForeignKey),
            DatabaseErrorKind::NotNullViolation => Some(ConstraintKind::NotNull),
            DatabaseErrorKind::CheckViolation => Some(ConstraintKind::Check),
            // MariaDB reports a failed CHECK with a code Diesel does not classify.
            _ if is_mariadb_check(&message) => Some(ConstraintKind::Check),
            _ => None,
        };
        let Some(kind) = kind else {
            return Self::Database {
                factory,
                table,
                source,
            };
        };
        // PostgreSQL names the column, not a constraint, when NOT NULL fails.
        let constraint = info
            .constraint_name()
            .map(str::to_owned)
            .or_else(|| match (kind, info.table_name(), info.column_name()) {
                (ConstraintKind::NotNull, Some(t), Some(c)) => Some(format!("{t}.{c}")),
                _ => None,
            })
            .or_else(|| constraint_from_message(&message));
        Self::Constraint {
            factory,
            table,
            kind,
            constraint,
            message,
            source,
        }
    }

    /// The kind of constraint that failed, if a constraint failed.
    pub fn constraint_kind(&self) -> Option<ConstraintKind> {
        match self {
            Self::Constraint { kind, .. } => Some(*kind),
            _ => None,
        }
    }
}

/// "CONSTRAINT `price_positive` failed for `shop`.`products`"
fn is_mariadb_check(message: &str) -> bool {
    message.starts_with("CONSTRAINT `") && message.contains("` failed for ")
}

/// SQLite and MySQL name the constraint only in their message text.
fn constraint_from_message(message: &str) -> Option<String> {
    // SQLite: "UNIQUE constraint failed: users.email", "CHECK constraint failed: price_positive"
    if let Some((_, rest)) = message.split_once("constraint failed: ") {
        return Some(rest.trim().to_owned());
    }
    // MySQL/MariaDB: "Duplicate entry 'a' for key 'users.email'"
    if let Some((_, rest)) = message.rsplit_once("for key '") {
        return rest.strip_suffix('\'').map(str::to_owned);
    }
    // MySQL/MariaDB: "... CONSTRAINT `orders_ibfk_1` FOREIGN KEY ..." / "CONSTRAINT `c` failed"
    if let Some((_, rest)) = message.split_once("CONSTRAINT `") {
        return rest.split_once('`').map(|(name, _)| name.to_owned());
    }
    // MySQL/MariaDB: "Column 'email' cannot be null"
    if let Some((_, rest)) = message.split_once("Column '") {
        return rest.split_once('\'').map(|(name, _)| name.to_owned());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::constraint_from_message as name;

    #[test]
    fn constraint_names_come_out_of_each_backend_message() {
        assert_eq!(
            name("UNIQUE constraint failed: users.email").as_deref(),
            Some("users.email")
        );
        assert_eq!(
            name("Duplicate entry 'a@b' for key 'users.email'").as_deref(),
            Some("users.email")
        );
        assert_eq!(
            name("Cannot add or update a child row: a foreign key constraint fails (`test`.`orders`, CONSTRAINT `orders_ibfk_1` FOREIGN KEY (`user_id`) REFERENCES `users` (`id`))").as_deref(),
            Some("orders_ibfk_1")
        );
        assert_eq!(
            name("Column 'email' cannot be null").as_deref(),
            Some("email")
        );
        assert_eq!(
            name("CONSTRAINT `price_positive` failed for `test`.`products`").as_deref(),
            Some("price_positive")
        );
        assert!(super::is_mariadb_check(
            "CONSTRAINT `price_positive` failed for `test`.`products`"
        ));
        assert_eq!(name("something else"), None);
    }
}
