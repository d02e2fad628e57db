//! Anonymising copies of production data: every column classified in a TOML config (fail
//! closed), keyed pseudonyms that keep joins, generalisation of quasi-identifiers, and a
//! k-anonymity report.
//!
//! Work in progress (issue 5): the config and its fail-closed check, the keyed transforms, the
//! k-anonymity report, CSV to CSV runs and the `anonymise` command line are here; streaming
//! PostgreSQL (COPY), SQLite and MySQL sources, progress bars and the benchmarks follow.

pub mod config;
pub mod csv_file;
pub mod kanon;
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
