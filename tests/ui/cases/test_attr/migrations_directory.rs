// `migrations` given a directory, as `sqlx::test` takes it, instead of a static.

#[factory_core::test(migrations = "migrations/sqlite")]
fn t(db: &mut factory_core::cleanup::TestDb<diesel::SqliteConnection>) {
    let _ = db;
}

fn main() {}
