//! One test body for sync and async connections: the suites' bodies are `async` and `.await`
//! every factory call and query. On an async connection these are the real async methods
//! (`create_async`, `diesel_async::RunQueryDsl`); on a sync connection, the sync methods whose
//! results are wrapped in ready futures. A suite imports one module's `Drive` and
//! `RunQueryDsl`, and not `factory_core::Factory` (whose sync methods share the names).
//! A test that is not `#[tokio::test]` runs its body with that module's `block_on`.

/// Sync connections: each call runs at once; its future is ready.
pub mod sync {
    use diesel::connection::Connection;
    use diesel::query_dsl::methods::{ExecuteDsl, LimitDsl};
    use diesel::query_dsl::LoadQuery;
    use diesel::QueryResult;
    use factory_core::{Create, Factory, FactoryError, GetOrCreate};
    use std::future::{ready, Future, Ready};
    use std::task::{Context, Poll, Waker};

    /// Runs a body whose every `.await` is on a ready future (this module's calls): one poll,
    /// no runtime, so the sync suites need no tokio.
    ///
    /// # Panics
    /// If the future is not ready after one poll: a sync body awaited something that waits.
    pub fn block_on<F: Future>(future: F) -> F::Output {
        let mut future = std::pin::pin!(future);
        match future
            .as_mut()
            .poll(&mut Context::from_waker(Waker::noop()))
        {
            Poll::Ready(output) => output,
            Poll::Pending => panic!("a sync test body awaited a future that was not ready"),
        }
    }

    /// The factory calls the suites make, through the sync `Create`.
    pub trait Drive: Factory {
        fn build(self) -> Self::Model {
            Factory::build(self)
        }
        fn build_list(self, n: usize) -> Vec<Self::Model> {
            Factory::build_list(self, n)
        }
        fn attributes(self) -> factory_core::Attributes<Self>
        where
            Self: factory_core::__private_v1::Record,
        {
            Factory::attributes(self)
        }
        #[track_caller]
        fn create<C>(self, conn: &mut C) -> Ready<Self::Model>
        where
            Self: Create<C>,
        {
            ready(Factory::create(self, conn))
        }
        fn try_create<C>(self, conn: &mut C) -> Ready<Result<Self::Model, FactoryError>>
        where
            Self: Create<C>,
        {
            ready(Factory::try_create(self, conn))
        }
        #[track_caller]
        fn create_batch<C>(self, n: usize, conn: &mut C) -> Ready<Vec<Self::Model>>
        where
            Self: Create<C>,
        {
            ready(Factory::create_batch(self, n, conn))
        }
        #[track_caller]
        fn create_batch_with<C>(
            self,
            n: usize,
            customise: impl FnMut(usize, Self) -> Self + Send,
            conn: &mut C,
        ) -> Ready<Vec<Self::Model>>
        where
            Self: Create<C>,
        {
            ready(Factory::create_batch_with(self, n, customise, conn))
        }
        fn try_create_batch_with<C>(
            self,
            n: usize,
            customise: impl FnMut(usize, Self) -> Self + Send,
            conn: &mut C,
        ) -> Ready<Result<Vec<Self::Model>, FactoryError>>
        where
            Self: Create<C>,
        {
            ready(Factory::try_create_batch_with(self, n, customise, conn))
        }
        #[track_caller]
        fn get_or_create<C>(self, conn: &mut C) -> Ready<Self::Model>
        where
            Self: GetOrCreate<C>,
        {
            ready(Factory::get_or_create(self, conn))
        }
        fn try_get_or_create<C>(self, conn: &mut C) -> Ready<Result<Self::Model, FactoryError>>
        where
            Self: GetOrCreate<C>,
        {
            ready(Factory::try_get_or_create(self, conn))
        }
    }

    impl<F: Factory> Drive for F {}

    /// Diesel's sync queries, their results wrapped in ready futures.
    pub trait RunQueryDsl<Conn>: diesel::RunQueryDsl<Conn> + Sized {
        fn first<'q, U>(self, conn: &mut Conn) -> Ready<QueryResult<U>>
        where
            Self: LimitDsl,
            diesel::dsl::Limit<Self>: LoadQuery<'q, Conn, U>,
        {
            ready(diesel::RunQueryDsl::first(self, conn))
        }
        fn load<'q, U>(self, conn: &mut Conn) -> Ready<QueryResult<Vec<U>>>
        where
            Self: LoadQuery<'q, Conn, U>,
        {
            ready(diesel::RunQueryDsl::load(self, conn))
        }
        fn get_result<'q, U>(self, conn: &mut Conn) -> Ready<QueryResult<U>>
        where
            Self: LoadQuery<'q, Conn, U>,
        {
            ready(diesel::RunQueryDsl::get_result(self, conn))
        }
        fn execute(self, conn: &mut Conn) -> Ready<QueryResult<usize>>
        where
            Conn: Connection,
            Self: ExecuteDsl<Conn>,
        {
            ready(diesel::RunQueryDsl::execute(self, conn))
        }
    }

    impl<T: diesel::RunQueryDsl<Conn>, Conn> RunQueryDsl<Conn> for T {}
}

/// Async connections: the factories' async methods; queries through `diesel_async`.
#[cfg(feature = "async")]
pub mod asynchronous {
    #[allow(unused_imports)] // each test file uses what it needs
    pub use diesel_async::RunQueryDsl;
    use factory_core::{CreateAsync, Factory, FactoryError, GetOrCreateAsync};
    use std::future::Future;

    /// Runs an async body to its end on a tokio current-thread runtime of its own, as
    /// `#[tokio::test]` does.
    pub fn block_on<F: Future>(future: F) -> F::Output {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("start a tokio runtime")
            .block_on(future)
    }

    /// The factory calls the suites make, through `CreateAsync`.
    pub trait Drive: Factory {
        fn build(self) -> Self::Model {
            Factory::build(self)
        }
        fn build_list(self, n: usize) -> Vec<Self::Model> {
            Factory::build_list(self, n)
        }
        fn attributes(self) -> factory_core::Attributes<Self>
        where
            Self: factory_core::__private_v1::Record,
        {
            Factory::attributes(self)
        }
        #[track_caller]
        fn create<'a, C>(self, conn: &'a mut C) -> impl Future<Output = Self::Model> + 'a
        where
            Self: CreateAsync<C> + 'a,
        {
            Factory::create_async(self, conn)
        }
        fn try_create<'a, C>(
            self,
            conn: &'a mut C,
        ) -> impl Future<Output = Result<Self::Model, FactoryError>> + 'a
        where
            Self: CreateAsync<C> + 'a,
        {
            Factory::try_create_async(self, conn)
        }
        #[track_caller]
        fn create_batch<'a, C>(
            self,
            n: usize,
            conn: &'a mut C,
        ) -> impl Future<Output = Vec<Self::Model>> + 'a
        where
            Self: CreateAsync<C> + 'a,
        {
            Factory::create_batch_async(self, n, conn)
        }
        #[track_caller]
        fn create_batch_with<'a, C>(
            self,
            n: usize,
            customise: impl FnMut(usize, Self) -> Self + Send + 'a,
            conn: &'a mut C,
        ) -> impl Future<Output = Vec<Self::Model>> + 'a
        where
            Self: CreateAsync<C> + 'a,
        {
            Factory::create_batch_with_async(self, n, customise, conn)
        }
        fn try_create_batch_with<'a, C>(
            self,
            n: usize,
            customise: impl FnMut(usize, Self) -> Self + Send + 'a,
            conn: &'a mut C,
        ) -> impl Future<Output = Result<Vec<Self::Model>, FactoryError>> + 'a
        where
            Self: CreateAsync<C> + 'a,
        {
            Factory::try_create_batch_with_async(self, n, customise, conn)
        }
        #[track_caller]
        fn get_or_create<'a, C>(self, conn: &'a mut C) -> impl Future<Output = Self::Model> + 'a
        where
            Self: GetOrCreateAsync<C> + 'a,
        {
            Factory::get_or_create_async(self, conn)
        }
        fn try_get_or_create<'a, C>(
            self,
            conn: &'a mut C,
        ) -> impl Future<Output = Result<Self::Model, FactoryError>> + 'a
        where
            Self: GetOrCreateAsync<C> + 'a,
        {
            Factory::try_get_or_create_async(self, conn)
        }
    }

    impl<F: Factory> Drive for F {}
}
