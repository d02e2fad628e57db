// A test that takes the test database by value.

#[factory_core::test]
fn t(db: factory_core::cleanup::TestDb<diesel::SqliteConnection>) {
    let _ = db;
}

fn main() {}
