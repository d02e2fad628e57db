// `embed_migrations!` takes the directory as a string literal.

static MIGRATIONS: factory_core::cleanup::Migrations =
    factory_core::embed_migrations!(migrations / postgres);

fn main() {
    let _ = &MIGRATIONS;
}
