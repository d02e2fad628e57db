// `embed_migrations!` names a directory that does not exist.

static MIGRATIONS: factory_core::cleanup::Migrations =
    factory_core::embed_migrations!("migrations/postgress");

fn main() {
    let _ = &MIGRATIONS;
}
