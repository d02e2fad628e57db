// `#[factory_core::test]` with an option it does not have (a typo of `cleanup`).

#[factory_core::test(cleanp = Tracked)]
fn t(db: &mut factory_core::cleanup::TestDb<diesel::SqliteConnection>) {
    let _ = db;
}

fn main() {}
