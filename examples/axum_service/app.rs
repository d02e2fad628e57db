//! The service under test: an axum router over a deadpool of `AsyncPgConnection`s, as a
//! diesel-async application writes it. `POST /orders/{id}/reorder` copies an order and its
//! lines into a new pending order and answers with the new order's id.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use diesel::prelude::*;
use diesel_async::pooled_connection::deadpool::Pool;
use diesel_async::pooled_connection::AsyncDieselConnectionManager;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};
use shop::schema::{order_items, orders};
use shop::{Order, OrderItem};

/// The connection pool the handlers share.
pub type PgPool = Pool<AsyncPgConnection>;

/// A pool of connections to `url`.
pub fn pool(url: &str) -> PgPool {
    Pool::builder(AsyncDieselConnectionManager::<AsyncPgConnection>::new(url))
        .max_size(4)
        .build()
        .expect("a pool of connections")
}

/// The service's routes.
pub fn router(pool: PgPool) -> Router {
    Router::new()
        .route("/orders/{id}/reorder", post(reorder))
        .with_state(pool)
}

/// What `reorder` answers.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct Reordered {
    /// The new order.
    pub order_id: i32,
    /// How many lines it has.
    pub lines: usize,
}

/// Copies order `id` and its lines into a new pending order, in one transaction.
async fn reorder(
    State(pool): State<PgPool>,
    Path(id): Path<i32>,
) -> Result<(StatusCode, Json<Reordered>), StatusCode> {
    let mut conn = pool
        .get()
        .await
        .map_err(|_| StatusCode::SERVICE_UNAVAILABLE)?;
    let copied = conn
        .transaction::<_, diesel::result::Error, _>(async move |conn| {
            let order: Order = orders::table.find(id).first(conn).await?;
            let lines: Vec<OrderItem> = order_items::table
                .filter(order_items::order_id.eq(id))
                .load(conn)
                .await?;
            let new_id: i32 = diesel::insert_into(orders::table)
                .values((
                    orders::user_id.eq(order.user_id),
                    orders::status.eq("pending"),
                    orders::total_cents.eq(order.total_cents),
                ))
                .returning(orders::id)
                .get_result(conn)
                .await?;
            let copies: Vec<_> = lines
                .iter()
                .map(|line| {
                    (
                        order_items::order_id.eq(new_id),
                        order_items::product_id.eq(line.product_id),
                        order_items::quantity.eq(line.quantity),
                    )
                })
                .collect();
            diesel::insert_into(order_items::table)
                .values(copies)
                .execute(conn)
                .await?;
            Ok(Reordered {
                order_id: new_id,
                lines: lines.len(),
            })
        })
        .await;
    match copied {
        Ok(reordered) => Ok((StatusCode::CREATED, Json(reordered))),
        Err(diesel::result::Error::NotFound) => Err(StatusCode::NOT_FOUND),
        Err(_) => Err(StatusCode::INTERNAL_SERVER_ERROR),
    }
}
