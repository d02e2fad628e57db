//! [`Set`]: one column's value in a factory's row.

use diesel::dsl::Eq;
use diesel::expression::{AsExpression, TypedExpressionType};
use diesel::internal::derives::insertable::UndecoratedInsertRecord;
use diesel::sql_types::SqlType;
use diesel::{Column, ExpressionMethods, Insertable};
use std::marker::PhantomData;

/// Column `C` set to `value`: what `C.eq(value)` inserts, as a type whose every instance is
/// well formed. Diesel's bounds (the value's type writes the column's SQL type) are proved
/// where a row is inserted, and once per field by [`writes`] at the field: a wrong field type
/// is one error there, not one per place the row's type is named.
pub struct Set<C, T> {
    value: T,
    column: PhantomData<C>,
}

/// Column `C` set to `value`.
#[inline]
pub fn set<C, T>(value: T) -> Set<C, T> {
    Set {
        value,
        column: PhantomData,
    }
}

/// Nothing: calling it (in a `const`) proves that a `T` writes column `C` (the derive calls it for each field).
pub const fn writes<C, T>()
where
    C: Column,
    C::SqlType: SqlType + TypedExpressionType,
    T: AsExpression<C::SqlType>,
{
}

impl<C, T, Tab> Insertable<Tab> for Set<C, T>
where
    C: Column<Table = Tab> + Default + ExpressionMethods,
    C::SqlType: SqlType + TypedExpressionType,
    T: AsExpression<C::SqlType>,
    Eq<C, T>: Insertable<Tab>,
{
    type Values = <Eq<C, T> as Insertable<Tab>>::Values;

    #[inline]
    fn values(self) -> Self::Values {
        C::default().eq(self.value).values()
    }
}

/// A `Vec` of rows of `Set`s inserts as one multi-row statement, as Diesel's own `Eq` does.
impl<C: Column, T> UndecoratedInsertRecord<C::Table> for Set<C, T> {}

/// Column `C` set to a value, or left to its database default (`None`): a `db_default` field.
pub struct SetOrDefault<C, T> {
    value: Option<T>,
    column: PhantomData<C>,
}

/// Column `C` set to `value`, or `DEFAULT` for `None`.
#[inline]
pub fn set_or_default<C, T>(value: Option<T>) -> SetOrDefault<C, T> {
    SetOrDefault {
        value,
        column: PhantomData,
    }
}

impl<C, T, Tab> Insertable<Tab> for SetOrDefault<C, T>
where
    C: Column<Table = Tab> + Default + ExpressionMethods,
    C::SqlType: SqlType + TypedExpressionType,
    T: AsExpression<C::SqlType>,
    Option<Eq<C, T>>: Insertable<Tab>,
{
    type Values = <Option<Eq<C, T>> as Insertable<Tab>>::Values;

    #[inline]
    fn values(self) -> Self::Values {
        self.value.map(|value| C::default().eq(value)).values()
    }
}

impl<C: Column, T> UndecoratedInsertRecord<C::Table> for SetOrDefault<C, T> {}
