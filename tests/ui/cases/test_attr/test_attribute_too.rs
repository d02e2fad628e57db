// `#[test]` besides `#[factory_core::test]`: the function would be registered twice.

#[factory_core::test]
#[test]
fn t(db: &mut factory_core::cleanup::TestDb<diesel::SqliteConnection>) {
    let _ = db;
}

fn main() {}
