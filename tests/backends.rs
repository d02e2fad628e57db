//! One behaviour suite, three backends, sync and async: every test body below runs on SQLite,
//! and with the `postgres` / `mysql` features on PostgreSQL and MariaDB/MySQL too; with the
//! `async` feature each also runs on the backend's diesel-async connection
//! (`SyncConnectionWrapper<SqliteConnection>`, `AsyncPgConnection`, `AsyncMysqlConnection`),
//! through the async create methods.

mod common;

macro_rules! suite {
    // `$fk_name`: the foreign key constraint's name as the backend reports it (SQLite names none).
    // `$committing`: a connection outside any test transaction.
    // `$connect` / `$committing`: expressions (awaited where the connection is async);
    // `$drive`: the module whose `Drive` and `RunQueryDsl` make the calls (common/drive.rs).
    ($connect:expr, $committing:expr, fk_name = $fk_name:expr, drive = [$($drive:tt)*]) => {
        use diesel::prelude::*;
        use $($drive)*::{Drive, RunQueryDsl};
        use factory_core::ConstraintKind;
        use shop::schema::{order_items, orders, products, reviews, users};
        use shop::{Order, OrderItem, Product, Review, Tag, User};
        use std::collections::HashSet;

        macro_rules! count {
            ($table:path, $conn:expr) => {
                $table.count().get_result::<i64>($conn).await.unwrap()
            };
        }

        #[tokio::test]
        async fn the_seed_scenario_runs_as_written() {
            let mut conn = $connect;
            let conn = &mut conn;

            // user = UserFactory(); order = OrderFactory(user=user, status="pending")
            let order = Order::factory().create(conn).await;
            let owner: User = users::table.find(order.user_id).first(conn).await.unwrap();
            assert_eq!(order.status, "pending");
            assert!(owner.email.ends_with("@example.com"));

            // OrderFactory creates two products by default, as order lines.
            let lines: Vec<OrderItem> = order_items::table
                .filter(order_items::order_id.eq(order.id))
                .load(conn).await
                .unwrap();
            assert_eq!(lines.len(), 2);
            let mut prices = 0;
            for l in &lines {
                let p: Product = products::table.find(l.product_id).first(conn).await.unwrap();
                prices += l.quantity * p.price_cents;
            }
            assert_eq!(order.total_cents, prices, "the hook made the total the sum of lines");
            let stored: Order = orders::table.find(order.id).first(conn).await.unwrap();
            assert_eq!(stored, order);

            // admins = UserFactory.create_batch(5, is_staff=True).await
            let admins = User::factory().is_staff(true).create_batch(5, conn).await;
            assert_eq!(admins.len(), 5);
            assert!(admins.iter().all(|u| u.is_staff));

            // vip_orders = OrderFactory.create_batch(10, user=admins[0], status="completed").await
            let users_before = count!(users::table, conn);
            let vip = Order::factory()
                .user(&admins[0])
                .status("completed")
                .with_items(0)
                .create_batch(10, conn).await;
            assert_eq!(vip.len(), 10);
            assert!(vip.iter().all(|o| o.user_id == admins[0].id && o.status == "completed"));
            assert_eq!(count!(users::table, conn), users_before, "no orphan parents");

            // OrderFactory(items=[p1, p2])
            let products = Product::factory().create_batch(2, conn).await;
            let order = Order::factory()
                .with_items_from(products.iter().map(|p| OrderItem::factory().product(p)))
                .create(conn).await;
            let mut ordered: Vec<i32> = order_items::table
                .filter(order_items::order_id.eq(order.id))
                .select(order_items::product_id)
                .load(conn).await
                .unwrap();
            ordered.sort();
            assert_eq!(ordered, products.iter().map(|p| p.id).collect::<Vec<_>>());
        }

        #[tokio::test]
        async fn a_parent_is_created_only_when_its_key_is_not_given() {
            let mut conn = $connect;
            let conn = &mut conn;
            let user = User::factory().create(conn).await;
            let before = count!(users::table, conn);
            let a = Order::factory().user(&user).with_items(0).create(conn).await;
            let b = Order::factory().user_id(user.id).with_items(0).create(conn).await;
            assert_eq!((a.user_id, b.user_id), (user.id, user.id));
            assert_eq!(count!(users::table, conn), before);

            let c = Order::factory().user_with(|u| u.admin()).with_items(0).create(conn).await;
            assert_eq!(count!(users::table, conn), before + 1);
            let parent: User = users::table.find(c.user_id).first(conn).await.unwrap();
            assert_eq!(parent.role, "admin");
        }

        #[tokio::test]
        async fn build_stubs_parents_in_memory() {
            // No connection in sight: build() and attributes() cannot reach a database.
            let order = Order::factory().user_with(|u| u.admin()).build();
            let attrs = Order::factory().attributes();
            let orders = Order::factory().build_list(3);
            assert!(order.user_id > 0 && attrs.user_id > 0, "a stub key for the parent");
            assert_eq!(orders.iter().map(|o| o.user_id).collect::<HashSet<_>>().len(), 3);
            let given = Order::factory().user_id(42).build();
            assert_eq!(given.user_id, 42);
        }

        #[tokio::test]
        async fn nullable_keys_default_to_null_and_two_keys_can_share_a_model() {
            let mut conn = $connect;
            let conn = &mut conn;
            let plain = Review::factory().create(conn).await;
            assert_eq!(plain.reviewer_id, None);
            let author: User = users::table.find(plain.author_id).first(conn).await.unwrap();
            assert!(!author.is_staff);

            let editor = User::factory().staff().create(conn).await;
            let checked = Review::factory().reviewer(&editor).create(conn).await;
            assert_eq!(checked.reviewer_id, Some(editor.id));
            assert_ne!(checked.author_id, editor.id);

            let made = Review::factory().reviewer_with(|u| u.admin()).create(conn).await;
            let reviewer: User = users::table
                .find(made.reviewer_id.expect("a reviewer was asked for"))
                .first(conn).await
                .unwrap();
            assert_eq!(reviewer.role, "admin");
            let stored: Review = reviews::table.find(made.id).first(conn).await.unwrap();
            assert_eq!(stored, made);
        }

        #[tokio::test]
        async fn a_batch_without_a_parent_gives_each_row_its_own() {
            let mut conn = $connect;
            let conn = &mut conn;
            let before = count!(users::table, conn);
            let orders = Order::factory().with_items(0).create_batch_with(
                4,
                |i, o| if i == 3 { o.status("cancelled") } else { o },
                conn,
            ).await;
            assert_eq!(count!(users::table, conn), before + 4);
            assert_eq!(orders.iter().map(|o| o.user_id).collect::<HashSet<_>>().len(), 4);
            assert_eq!(orders[3].status, "cancelled");
            assert!(orders[..3].iter().all(|o| o.status == "pending"));
        }

        #[tokio::test]
        async fn batches_return_stored_rows_in_order() {
            let mut conn = $connect;
            let conn = &mut conn;
            let users = User::factory().create_batch(2_500, conn).await;
            assert_eq!(users.len(), 2_500);
            assert!(users.windows(2).all(|w| w[0].id < w[1].id));
            let last: User = users::table.find(users[2_499].id).first(conn).await.unwrap();
            assert_eq!(last, users[2_499]);
            let tags = Tag::factory().create_batch(3, conn).await;
            assert!(tags.iter().all(|t| t.label == t.name.to_uppercase()));
        }

        #[tokio::test]
        async fn a_batch_with_composite_keys_comes_back_in_order() {
            let mut conn = $connect;
            let conn = &mut conn;
            let order = Order::factory().with_items(0).create(conn).await;
            let products = Product::factory().create_batch(3, conn).await;
            let items = OrderItem::factory()
                .order(&order)
                .create_batch_with(3, |i, item| item.product(&products[i]).quantity(i as i32 + 1), conn).await;
            let got: Vec<(i32, i32)> = items.iter().map(|i| (i.product_id, i.quantity)).collect();
            let want: Vec<(i32, i32)> = products.iter().zip(1..).map(|(p, q)| (p.id, q)).collect();
            assert_eq!(got, want);
            assert!(items.iter().all(|i| i.order_id == order.id));
        }

        #[tokio::test]
        async fn get_or_create_finds_the_row_the_second_time() {
            let mut conn = $connect;
            let conn = &mut conn;
            let email = format!("admin-{}@testco.com", User::factory().build().id);
            let first = User::factory().email(email.as_str()).staff().get_or_create(conn).await;
            let before = count!(users::table, conn);
            let second = User::factory().email(email.as_str()).get_or_create(conn).await;
            assert_eq!(second, first);
            assert!(second.is_staff, "the stored row, not the new values");
            assert_eq!(count!(users::table, conn), before);
        }

        #[tokio::test]
        async fn get_or_create_matches_every_listed_column() {
            let mut conn = $connect;
            let conn = &mut conn;
            let tag = Tag::factory().create(conn).await;
            let same = Tag::factory().name(tag.name.as_str()).label(tag.label.as_str()).get_or_create(conn).await;
            assert_eq!(same, tag);
            // Same name, other label: not the same row, and the name is unique.
            let err = Tag::factory()
                .name(tag.name.as_str())
                .label("other")
                .try_get_or_create(conn).await
                .unwrap_err();
            assert_eq!(err.constraint_kind(), Some(ConstraintKind::Unique));
            // Neither given: the built values are looked up, then created exactly.
            let fresh = Tag::factory().get_or_create(conn).await;
            assert_eq!(fresh.label, fresh.name.to_uppercase());
        }

        #[tokio::test]
        async fn get_or_create_looks_up_a_null_as_null() {
            use shop::LedgerEntry;
            let mut conn = $connect;
            let conn = &mut conn;
            let amount: bigdecimal::BigDecimal = "7.77".parse().unwrap();
            let first = LedgerEntry::factory().amount(amount.clone()).get_or_create(conn).await;
            assert_eq!(first.note, None);
            let again = LedgerEntry::factory().amount(amount.clone()).get_or_create(conn).await;
            assert_eq!(again.id, first.id, "NULL matched NULL");
            let noted = LedgerEntry::factory()
                .amount(amount)
                .note("x".to_owned())
                .get_or_create(conn).await;
            assert_ne!(noted.id, first.id);
        }

        #[tokio::test]
        async fn a_failed_batch_leaves_no_rows() {
            let mut conn = $connect;
            let conn = &mut conn;
            let taken = User::factory().create(conn).await;
            let before = count!(users::table, conn);
            let err = User::factory()
                .try_create_batch_with(
                    300,
                    |i, u| if i == 250 { u.email(taken.email.as_str()) } else { u },
                    conn,
                ).await
                .unwrap_err();
            assert_eq!(err.constraint_kind(), Some(ConstraintKind::Unique));
            assert_eq!(count!(users::table, conn), before);

            // Parents created for the batch go too.
            let users_before = count!(users::table, conn);
            let orders_before = count!(orders::table, conn);
            let err = Order::factory()
                .with_items(0)
                .try_create_batch_with(5, |i, o| if i == 4 { o.total_cents(-1) } else { o }, conn).await
                .unwrap_err();
            assert_eq!(err.constraint_kind(), Some(ConstraintKind::Check));
            assert_eq!(count!(users::table, conn), users_before);
            assert_eq!(count!(orders::table, conn), orders_before);
        }

        #[tokio::test]
        async fn outside_a_test_transaction_failures_roll_back_and_successes_commit() {
            use shop::schema::tags;
            let mut conn = $committing;
            let conn = &mut conn;
            let run = factory_core::fake::below(u64::MAX);
            let email = format!("top-level-{run}@example.com");
            let err = Order::factory()
                .user_with(|u| u.email(email.as_str()))
                .with_items(0)
                .total_cents(-1)
                .try_create(conn).await
                .unwrap_err();
            assert_eq!(err.constraint_kind(), Some(ConstraintKind::Check));
            let parents: i64 = users::table
                .filter(users::email.eq(&email))
                .count()
                .get_result(conn).await
                .unwrap();
            assert_eq!(parents, 0, "the parent went with the failed row");

            let tag = Tag::factory().name(format!("top-level-{run}")).create(conn).await;
            let mut other = $committing;
            let seen: Tag = tags::table.find(tag.id).first(&mut other).await.unwrap();
            assert_eq!(seen, tag, "another connection sees the committed row");
            diesel::delete(tags::table.find(tag.id)).execute(conn).await.unwrap();
        }

        #[tokio::test]
        async fn a_failing_related_row_takes_its_parent_with_it() {
            let mut conn = $connect;
            let conn = &mut conn;
            let before = (count!(users::table, conn), count!(orders::table, conn));
            let err = Order::factory()
                .with_items_from([OrderItem::factory().quantity(0)])
                .try_create(conn).await
                .unwrap_err();
            assert_eq!(err.constraint_kind(), Some(ConstraintKind::Check));
            assert_eq!((count!(users::table, conn), count!(orders::table, conn)), before);
        }

        #[tokio::test]
        async fn batches_larger_than_one_statement_come_back_whole_and_in_order() {
            let mut conn = $connect;
            let conn = &mut conn;
            // 10,000 rows of 7 columns: over every backend's limit for one statement.
            let users = User::factory().create_batch(10_000, conn).await;
            assert_eq!(users.len(), 10_000);
            assert!(users.windows(2).all(|w| w[0].id < w[1].id));
            let emails: HashSet<&str> = users.iter().map(|u| u.email.as_str()).collect();
            assert_eq!(emails.len(), 10_000);
            let last: User = users::table.find(users[9_999].id).first(conn).await.unwrap();
            assert_eq!(last, users[9_999]);
        }

        #[tokio::test]
        async fn unique_violation_names_factory_table_and_constraint() {
            let mut conn = $connect;
            let conn = &mut conn;
            let taken = User::factory().create(conn).await;
            let err = User::factory()
                .email(taken.email.as_str())
                .try_create(conn).await
                .unwrap_err();
            assert_eq!(err.constraint_kind(), Some(ConstraintKind::Unique));
            let text = err.to_string();
            assert!(text.starts_with("UserFactory could not insert into `users`: unique constraint `"), "{text}");
            assert!(text.contains("email"), "{text}");
        }

        #[tokio::test]
        async fn foreign_key_violation_names_factory_and_table() {
            let mut conn = $connect;
            let conn = &mut conn;
            let err = Order::factory()
                .user_id(i32::MAX)
                .with_items(0)
                .try_create(conn).await
                .unwrap_err();
            assert_eq!(err.constraint_kind(), Some(ConstraintKind::ForeignKey));
            let text = err.to_string();
            assert!(text.starts_with("OrderFactory could not insert into `orders`: foreign key constraint"), "{text}");
            let fk_name: Option<&str> = $fk_name;
            if let Some(name) = fk_name {
                assert!(text.contains(&format!("constraint `{name}` violated")), "{text}");
            }
        }

        #[tokio::test]
        async fn check_violation_names_the_constraint() {
            let mut conn = $connect;
            let conn = &mut conn;
            let err = Product::factory().price_cents(0).try_create(conn).await.unwrap_err();
            assert_eq!(err.constraint_kind(), Some(ConstraintKind::Check));
            let text = err.to_string();
            assert!(text.contains("ProductFactory could not insert into `products`: check constraint `price_positive`"), "{text}");
        }

        #[tokio::test]
        async fn a_test_goes_on_after_a_try_create_it_expected_to_fail() {
            // Inside the test transaction: on PostgreSQL a failed statement would abort it,
            // and every later statement would fail with "current transaction is aborted".
            let mut conn = $connect;
            let conn = &mut conn;
            let before = count!(products::table, conn);
            let err = Product::factory().price_cents(0).try_create(conn).await.unwrap_err();
            assert_eq!(err.constraint_kind(), Some(ConstraintKind::Check));
            let taken = User::factory().create(conn).await;
            let err = User::factory().email(taken.email.as_str()).try_create(conn).await.unwrap_err();
            assert_eq!(err.constraint_kind(), Some(ConstraintKind::Unique));
            let product = Product::factory().create(conn).await;
            assert_eq!(count!(products::table, conn), before + 1);
            let stored: Product = products::table.find(product.id).first(conn).await.unwrap();
            assert_eq!(stored, product);
        }

        #[tokio::test]
        async fn common_column_types_round_trip() {
            use shop::schema::ledger_entries;
            use shop::{EntryKind, LedgerEntry};
            let mut conn = $connect;
            let conn = &mut conn;
            let debit = LedgerEntry::factory().create(conn).await;
            let credit = LedgerEntry::factory()
                .credit()
                .settled()
                .note("refund".to_owned())
                .amount("12.34".parse::<bigdecimal::BigDecimal>().unwrap())
                .create(conn).await;
            assert!(credit.id > debit.id, "an i64 key from the database");
            assert_eq!((debit.kind, credit.kind), (EntryKind::Debit, EntryKind::Credit));
            assert_eq!(debit.settled_at, None);
            assert_eq!(credit.settled_at, Some(shop::noon()));
            assert_eq!(credit.note.as_deref(), Some("refund"));
            // SQLite keeps NUMERIC as a float: compare at the column's scale.
            assert_eq!(credit.amount.round(2), "12.34".parse::<bigdecimal::BigDecimal>().unwrap());
            assert_eq!(debit.meta["source"], "factory");
            assert_eq!(debit.booked_at.to_string(), "2026-11-24 09:30:00");
            let stored: Vec<LedgerEntry> = ledger_entries::table
                .order(ledger_entries::id)
                .filter(ledger_entries::id.eq_any([debit.id, credit.id]))
                .load(conn).await
                .unwrap();
            assert_eq!(stored, vec![debit, credit]);
            let batch = LedgerEntry::factory().create_batch(3, conn).await;
            assert_eq!(batch.len(), 3);
        }

        diesel::table! {
            // The real column is NOT NULL; declaring it nullable lets a factory send NULL.
            tags (id) {
                id -> Integer,
                name -> Text,
                label -> Nullable<Text>,
            }
        }

        #[derive(Debug, Clone, Queryable, Selectable, factory_core::Factory)]
        #[diesel(table_name = tags)]
        struct LooseTag {
            #[factory(db_generated)]
            id: i32,
            #[factory(sequence = "loose-<n>")]
            name: String,
            label: Option<String>,
        }

        #[tokio::test]
        async fn not_null_violation_names_the_column() {
            let mut conn = $connect;
            let conn = &mut conn;
            let err = LooseTag::factory().try_create(conn).await.unwrap_err();
            assert_eq!(err.constraint_kind(), Some(ConstraintKind::NotNull));
            let text = err.to_string();
            assert!(text.contains("LooseTagFactory could not insert into `tags`: not null constraint"), "{text}");
            assert!(text.contains("label"), "{text}");
            let _ = LooseTag::factory().build().id;
        }
    };
}

mod sqlite {
    suite!(
        crate::common::sqlite(),
        crate::common::sqlite_committing(),
        fk_name = None,
        drive = [crate::common::drive::sync]
    );
}

#[cfg(feature = "async")]
mod sqlite_async {
    suite!(
        crate::common::sqlite_async().await,
        crate::common::sqlite_async_committing().await,
        fk_name = None,
        drive = [crate::common::drive::asynchronous]
    );
}

#[cfg(all(feature = "postgres", feature = "async"))]
mod postgres_async {
    suite!(
        crate::common::postgres_async().await,
        crate::common::postgres_async_committing().await,
        fk_name = Some("orders_user_id_fkey"),
        drive = [crate::common::drive::asynchronous]
    );
}

#[cfg(feature = "postgres")]
mod postgres {
    suite!(
        crate::common::postgres(),
        crate::common::postgres_committing(),
        fk_name = Some("orders_user_id_fkey"),
        drive = [crate::common::drive::sync]
    );

    #[tokio::test]
    async fn uuid_keys_from_the_database_and_from_the_factory() {
        use shop::keys::{api_keys, ApiKey};
        let mut conn = crate::common::postgres();
        let conn = &mut conn;
        let user = User::factory().create(conn).await;
        let a = ApiKey::factory().user(&user).create(conn).await;
        let b = ApiKey::factory().user(&user).create(conn).await;
        assert_ne!(a.id, b.id, "gen_random_uuid() assigned the keys");
        assert_ne!(a.token, b.token);
        assert_eq!(a.token.get_version_num(), 4);
        let stored: ApiKey = api_keys::table.find(a.id).first(conn).await.unwrap();
        assert_eq!(stored, a);
        let built = ApiKey::factory().build();
        assert_ne!(built.id, uuid::Uuid::nil(), "build() stubs a random key");
    }
}

#[cfg(feature = "mysql")]
mod mysql {
    suite!(
        crate::common::mysql(),
        crate::common::mysql_committing(),
        fk_name = Some("orders_user_id_fkey"),
        drive = [crate::common::drive::sync]
    );
}

#[cfg(all(feature = "mysql", feature = "async"))]
mod mysql_async {
    suite!(
        crate::common::mysql_async().await,
        crate::common::mysql_async_committing().await,
        fk_name = Some("orders_user_id_fkey"),
        drive = [crate::common::drive::asynchronous]
    );
}

/// Pooled connections (`r2d2`): factories create through what the pool lends.
mod pooled {
    use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool};
    use diesel::SqliteConnection;
    use factory_core::Factory;
    use shop::{Order, User};

    #[derive(Debug)]
    struct Migrate;

    impl CustomizeConnection<SqliteConnection, diesel::r2d2::Error> for Migrate {
        fn on_acquire(&self, conn: &mut SqliteConnection) -> Result<(), diesel::r2d2::Error> {
            use diesel_migrations::MigrationHarness;
            conn.run_pending_migrations(shop::SQLITE_MIGRATIONS)
                .map(drop)
                .map_err(|e| {
                    diesel::r2d2::Error::QueryError(diesel::result::Error::QueryBuilderError(e))
                })
        }
    }

    #[test]
    fn factories_create_through_a_pooled_connection() {
        let dir = std::env::temp_dir().join(format!("factory-pool-{}.sqlite", std::process::id()));
        let _ = std::fs::remove_file(&dir);
        let pool = Pool::builder()
            .max_size(2)
            .connection_customizer(Box::new(Migrate))
            .build(ConnectionManager::<SqliteConnection>::new(
                dir.to_string_lossy(),
            ))
            .unwrap();
        let mut conn = pool.get().unwrap();
        let user = User::factory().create(&mut conn);
        let orders = Order::factory()
            .user(&user)
            .with_items(0)
            .create_batch(3, &mut conn);
        assert!(orders.iter().all(|o| o.user_id == user.id));
        let again = User::factory()
            .email(user.email.as_str())
            .get_or_create(&mut conn);
        assert_eq!(again, user);
        drop(conn);
        drop(pool);
        let _ = std::fs::remove_file(&dir);
    }
}
