//! Compile-fail tests of `#[derive(Factory)]`: each file under `cases/<topic>/` makes one
//! mistake, and its `.stderr` holds the error the user sees.
//!
//! Regenerate the expected output with `TRYBUILD=overwrite cargo test -p factory-ui-tests`.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.compile_fail("cases/*/*.rs");
}
