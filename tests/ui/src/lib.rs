//! Compile-fail tests of `#[derive(Factory)]`, in `cases/<topic>/*.rs`: each file makes one
//! mistake, and its `.stderr` holds the error the user sees. Run them with
//! `cargo test -p factory-ui-tests`; regenerate the expected output with
//! `TRYBUILD=overwrite cargo test -p factory-ui-tests`.
