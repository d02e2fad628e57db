// A flag given a value.

#[factory_core::test(check_residue = true)]
fn t(db: &mut factory_core::cleanup::TestDb<diesel::SqliteConnection>) {
    let _ = db;
}

fn main() {}
