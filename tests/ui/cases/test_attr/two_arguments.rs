// A test with an argument besides the test database.

#[factory_core::test]
fn t(db: &mut factory_core::cleanup::TestDb<diesel::SqliteConnection>, n: i32) {
    let _ = (db, n);
}

fn main() {}
