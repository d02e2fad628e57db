//! An axum + diesel-async service, the way such services are written, with the test that a
//! newcomer would write for it in `tests/axum_service.rs`: rows made by factories through
//! `#[factory_core::test]` on an `AsyncPgConnection` under `Cleanup::Tracked`, the handler
//! running on its own deadpool connections, and everything both wrote gone afterwards.
//!
//! ```text
//! DATABASE_URL=postgres://postgres@127.0.0.1/factory_test \
//!     cargo run --features postgres,async --example axum_service
//! curl -X POST http://127.0.0.1:3000/orders/1/reorder
//! ```

mod app;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let url = std::env::var("DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1/factory_test".to_owned());
    drop(shop::postgres(&url)); // the database exists and is migrated
    let listener = tokio::net::TcpListener::bind("127.0.0.1:3000")
        .await
        .expect("bind 127.0.0.1:3000");
    println!("listening on http://127.0.0.1:3000 (POST /orders/{{id}}/reorder)");
    axum::serve(listener, app::router(app::pool(&url)))
        .await
        .expect("serve");
}
