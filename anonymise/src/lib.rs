//! Anonymising copies of production data: every column classified in a TOML config (fail
//! closed), keyed pseudonyms that keep joins, generalisation of quasi-identifiers, and a
//! k-anonymity report.
//!
//! Runs go PostgreSQL to PostgreSQL (`postgres`, with the `postgres` feature: `COPY`
//! streamed in constant memory, one target transaction), MariaDB/MySQL to MariaDB/MySQL
//! (`mysql`, with the `mysql` feature), SQLite to SQLite ([`sqlite`]) and CSV to CSV
//! ([`csv_file`]); each checks the [`Config`] against the source's schema first and
//! writes nothing unless every row of every table went through.

pub mod config;
pub mod csv_file;
pub mod kanon;
#[cfg(feature = "mysql")]
pub mod mysql;
pub mod plan;
#[cfg(feature = "postgres")]
pub mod postgres;
pub mod run;
pub mod sqlite;
pub mod transform;

pub use config::{Config, ConfigError, Plan, Rule, Schema};
pub use kanon::Report as KanonReport;
pub use run::{DbError, Progress, Summary};
pub use transform::{KeyError, TransformError, Transformer};
