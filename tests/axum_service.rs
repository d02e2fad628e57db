//! The test a diesel-async service's author writes: the service (examples/axum_service) runs
//! its handler on a deadpool of its own connections; the test makes its rows with factories on
//! an `AsyncPgConnection` through `#[factory_core::test]` under `Cleanup::Tracked`, calls the
//! handler, and the residue check proves that everything both wrote is gone afterwards: the
//! factories' rows, and the order and lines the handler copied from them.

#![cfg(all(feature = "postgres", feature = "async"))]

#[path = "../examples/axum_service/app.rs"]
mod app;
mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use diesel::prelude::*;
use diesel_async::{AsyncPgConnection, RunQueryDsl};
use factory_core::cleanup::TestDb;
use factory_core::Factory;
use shop::schema::{order_items, orders};
use shop::{Order, OrderItem};
use tower::ServiceExt;

/// A database of the test's own on the PostgreSQL server the suite uses, `factory_<name>`, so
/// that the residue check counts only its rows.
fn url(name: &str) -> String {
    let base = std::env::var("FACTORY_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/factory_test".to_owned());
    let (server, _) = base.rsplit_once('/').expect("a URL ending in /<database>");
    let url = format!("{server}/factory_{name}");
    drop(shop::postgres(&url)); // created and migrated once
    url
}

async fn reorder(db: &TestDb<AsyncPgConnection>, order_id: i32) -> (StatusCode, Vec<u8>) {
    let response = app::router(app::pool(db.url()))
        .oneshot(
            Request::post(format!("/orders/{order_id}/reorder"))
                .body(Body::empty())
                .expect("a request"),
        )
        .await
        .expect("the router answers");
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), 1 << 16)
        .await
        .expect("the body");
    (status, body.to_vec())
}

#[factory_core::test(migrations = common::PG_MIGRATIONS, cleanup = Tracked, check_residue, url = url("axum_reorder"))]
async fn reordering_copies_the_lines_and_cleanup_removes_the_copy(
    db: &mut TestDb<AsyncPgConnection>,
) {
    // An order with its user, two products and two lines, committed where the handler's own
    // connections see it.
    let order = Order::factory().completed().create_async(db).await;

    let (status, body) = reorder(db, order.id).await;
    assert_eq!(status, StatusCode::CREATED);
    let reordered: app::Reordered = serde_json::from_slice(&body).expect("json");
    assert_eq!(reordered.lines, 2);
    assert_ne!(reordered.order_id, order.id);

    let copy: Order = orders::table
        .find(reordered.order_id)
        .first(db.conn())
        .await
        .expect("the copy");
    assert_eq!(
        (copy.user_id, copy.status.as_str()),
        (order.user_id, "pending")
    );
    let lines = |id: i32| {
        order_items::table
            .filter(order_items::order_id.eq(id))
            .order(order_items::product_id)
            .select((order_items::product_id, order_items::quantity))
    };
    let original: Vec<(i32, i32)> = lines(order.id).load(db.conn()).await.expect("lines");
    let copied: Vec<(i32, i32)> = lines(copy.id).load(db.conn()).await.expect("lines");
    assert_eq!(copied, original);
    // The handler wrote 3 rows the factories did not: tracked cleanup deletes them as rows
    // that reference the tracked ones, and the residue check fails the test if any remain.
    let _: Vec<OrderItem> = order_items::table
        .filter(order_items::order_id.eq(copy.id))
        .load(db.conn())
        .await
        .expect("lines");
}

#[factory_core::test(migrations = common::PG_MIGRATIONS, cleanup = Tracked, check_residue, url = url("axum_missing"))]
async fn reordering_an_order_that_does_not_exist_is_not_found(db: &mut TestDb<AsyncPgConnection>) {
    let order = Order::factory().with_items(0).create_async(db).await;
    let (status, _) = reorder(db, order.id + 1_000_000).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
