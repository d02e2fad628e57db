// `cleanup = DatabasePerTest` without the migrations to build the databases from.

#[factory_core::test(cleanup = DatabasePerTest)]
fn t(db: &mut factory_core::cleanup::TestDb<diesel::SqliteConnection>) {
    let _ = db;
}

fn main() {}
