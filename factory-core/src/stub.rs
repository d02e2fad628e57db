//! Stand-in values for `db_generated` fields when a factory builds in memory.

/// A value `build()` gives a `#[factory(db_generated)]` field, since no database assigns one.
///
/// Implemented for integers, `String`, `Option<T>`, and with the crate's features for
/// `uuid::Uuid`, chrono and time timestamps.
///
/// `n` comes from a [`Sequence`](crate::Sequence) of the field, so stubs are distinct: two built
/// users get ids 1 and 2, like rows would. Implement it for your own key types.
///
/// ```
/// use factory_core::Stub;
/// assert_eq!(<i32 as Stub>::stub(3), 3);
/// assert_eq!(<Option<i64> as Stub>::stub(4), Some(4));
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` has no stub value for a `db_generated` field",
    label = "`build()` needs a stand-in for this database-assigned value",
    note = "implement `factory_core::Stub` for `{Self}`, or give the field a value source instead of `db_generated`"
)]
pub trait Stub {
    /// The stub for the `n`th built value (`n` starts at 1).
    fn stub(n: u64) -> Self;
}

macro_rules! int_stubs {
    ($($t:ty),*) => {$(
        impl Stub for $t {
            #[inline]
            fn stub(n: u64) -> Self {
                // Wrapping keeps stubs distinct within the type's range; ids that large are
                // not realistic in one test process.
                n as $t
            }
        }
    )*};
}
int_stubs!(i16, i32, i64, u16, u32, u64, usize, isize);

impl Stub for String {
    fn stub(n: u64) -> Self {
        n.to_string()
    }
}

impl<T: Stub> Stub for Option<T> {
    fn stub(n: u64) -> Self {
        Some(T::stub(n))
    }
}

#[cfg(feature = "uuid")]
impl Stub for uuid::Uuid {
    /// A version-4-shaped UUID drawn from the seeded stream (unique with overwhelming odds).
    fn stub(_n: u64) -> Self {
        let bytes: [u8; 16] = crate::fake::with_rng(rand::Rng::random);
        uuid::Builder::from_random_bytes(bytes).into_uuid()
    }
}

#[cfg(feature = "chrono")]
impl Stub for chrono::NaiveDateTime {
    /// Now (UTC), as a database `DEFAULT now()` would give.
    fn stub(_n: u64) -> Self {
        chrono::Utc::now().naive_utc()
    }
}

#[cfg(feature = "chrono")]
impl Stub for chrono::DateTime<chrono::Utc> {
    /// Now, as a database `DEFAULT now()` would give.
    fn stub(_n: u64) -> Self {
        chrono::Utc::now()
    }
}

#[cfg(feature = "time")]
impl Stub for time::PrimitiveDateTime {
    /// Now (UTC), as a database `DEFAULT now()` would give.
    fn stub(_n: u64) -> Self {
        let now = time::OffsetDateTime::now_utc();
        time::PrimitiveDateTime::new(now.date(), now.time())
    }
}

#[cfg(feature = "time")]
impl Stub for time::OffsetDateTime {
    /// Now, as a database `DEFAULT now()` would give.
    fn stub(_n: u64) -> Self {
        time::OffsetDateTime::now_utc()
    }
}
