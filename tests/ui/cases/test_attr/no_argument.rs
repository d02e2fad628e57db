// A test that does not take the test database.

#[factory_core::test]
fn t() {}

fn main() {}
