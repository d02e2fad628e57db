// A tokio runtime flavor on a test that is not `async`.

#[factory_core::test(flavor = "multi_thread")]
fn t(db: &mut factory_core::cleanup::TestDb<diesel::SqliteConnection>) {
    let _ = db;
}

fn main() {}
