//! Anonymising copies of production data: every column classified in a TOML config (fail
//! closed), keyed pseudonyms that keep joins, generalisation of quasi-identifiers, and a
//! k-anonymity report.
//!
//! Work in progress (issue 5): the config and its fail-closed check are here; the transforms,
//! the report and the streaming sources follow.

pub mod config;

pub use config::{Config, ConfigError, Plan, Rule, Schema};
