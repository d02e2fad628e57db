// `cleanup` names a strategy that does not exist.

#[factory_core::test(cleanup = Trcked)]
fn t(db: &mut factory_core::cleanup::TestDb<diesel::SqliteConnection>) {
    let _ = db;
}

fn main() {}
