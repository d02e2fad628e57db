// `keep_failed` with a strategy whose database is shared.

#[factory_core::test(cleanup = Tracked, keep_failed)]
fn t(db: &mut factory_core::cleanup::TestDb<diesel::SqliteConnection>) {
    let _ = db;
}

fn main() {}
