//! Values as they cross into and out of either database: [`Value`] (integers, reals, text
//! and bytes, the types SQLite has; a NULL carries its type), the conversions to and from
//! Rust types, the `args!` macro, and a result [`Row`] of either backend.
//!
//! Must not: run a statement (that is [`super::sql::Db`]), or know a connection.

use postgres::types::Type;

use crate::error::{DbError, Error, Result};

/// The type of a value (also of a NULL, which PostgreSQL needs to know).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Int,
    Real,
    Text,
    Blob,
}

/// A value as it crosses into or out of the database.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null(Kind),
    Int(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

// ---- values in ------------------------------------------------------------------------

/// A Rust value that can be a statement parameter.
pub trait ToValue {
    fn to_value(&self) -> Value;
}

/// The [`Kind`] of a type, so that `None` can be sent as a typed NULL.
pub trait HasKind {
    const KIND: Kind;
}

macro_rules! int_values {
    ($($t:ty),*) => {$(
        impl ToValue for $t {
            fn to_value(&self) -> Value {
                Value::Int(*self as i64)
            }
        }
        impl HasKind for $t {
            const KIND: Kind = Kind::Int;
        }
    )*};
}
int_values!(i64, i32, u32, u16, u8);

impl ToValue for u64 {
    fn to_value(&self) -> Value {
        Value::Int(i64::try_from(*self).unwrap_or(i64::MAX))
    }
}
impl HasKind for u64 {
    const KIND: Kind = Kind::Int;
}
impl ToValue for usize {
    fn to_value(&self) -> Value {
        Value::Int(i64::try_from(*self).unwrap_or(i64::MAX))
    }
}
impl HasKind for usize {
    const KIND: Kind = Kind::Int;
}
impl ToValue for bool {
    fn to_value(&self) -> Value {
        Value::Int(*self as i64)
    }
}
impl HasKind for bool {
    const KIND: Kind = Kind::Int;
}
impl ToValue for f64 {
    fn to_value(&self) -> Value {
        Value::Real(*self)
    }
}
impl HasKind for f64 {
    const KIND: Kind = Kind::Real;
}
impl ToValue for str {
    fn to_value(&self) -> Value {
        Value::Text(self.to_owned())
    }
}
impl HasKind for str {
    const KIND: Kind = Kind::Text;
}
impl ToValue for String {
    fn to_value(&self) -> Value {
        Value::Text(self.clone())
    }
}
impl HasKind for String {
    const KIND: Kind = Kind::Text;
}
impl ToValue for [u8] {
    fn to_value(&self) -> Value {
        Value::Blob(self.to_vec())
    }
}
impl HasKind for [u8] {
    const KIND: Kind = Kind::Blob;
}
impl ToValue for Vec<u8> {
    fn to_value(&self) -> Value {
        Value::Blob(self.clone())
    }
}
impl HasKind for Vec<u8> {
    const KIND: Kind = Kind::Blob;
}
impl<T: ToValue + ?Sized> ToValue for &T {
    fn to_value(&self) -> Value {
        (**self).to_value()
    }
}
impl<T: HasKind + ?Sized> HasKind for &T {
    const KIND: Kind = T::KIND;
}
impl<T: ToValue + HasKind> ToValue for Option<T> {
    fn to_value(&self) -> Value {
        match self {
            Some(v) => v.to_value(),
            None => Value::Null(T::KIND),
        }
    }
}
impl ToValue for Value {
    fn to_value(&self) -> Value {
        self.clone()
    }
}

/// Statement parameters: `args![a, b, c]`.
#[macro_export]
macro_rules! args {
    () => { &[] as &[&dyn $crate::store::value::ToValue] };
    ($($v:expr),+ $(,)?) => { &[$(&$v as &dyn $crate::store::value::ToValue),+] as &[&dyn $crate::store::value::ToValue] };
}
pub use args;

// ---- values out -----------------------------------------------------------------------

/// A Rust value a column can be read as.
pub trait FromValue: Sized {
    fn from_value(v: Value) -> std::result::Result<Self, String>;
}

fn wrong(v: &Value, wanted: &str) -> String {
    let found = match v {
        Value::Null(_) => "NULL",
        Value::Int(_) => "an integer",
        Value::Real(_) => "a real",
        Value::Text(_) => "text",
        Value::Blob(_) => "bytes",
    };
    format!("expected {wanted}, found {found}")
}

impl FromValue for i64 {
    fn from_value(v: Value) -> std::result::Result<Self, String> {
        match v {
            Value::Int(i) => Ok(i),
            other => Err(wrong(&other, "an integer")),
        }
    }
}
macro_rules! narrow_ints {
    ($($t:ty),*) => {$(
        impl FromValue for $t {
            fn from_value(v: Value) -> std::result::Result<Self, String> {
                let i = i64::from_value(v)?;
                <$t>::try_from(i).map_err(|_| format!("{i} is out of range"))
            }
        }
    )*};
}
narrow_ints!(i32, u32, u64, usize, u16, u8);

impl FromValue for bool {
    fn from_value(v: Value) -> std::result::Result<Self, String> {
        Ok(i64::from_value(v)? != 0)
    }
}
impl FromValue for f64 {
    fn from_value(v: Value) -> std::result::Result<Self, String> {
        match v {
            Value::Real(r) => Ok(r),
            Value::Int(i) => Ok(i as f64),
            other => Err(wrong(&other, "a real")),
        }
    }
}
impl FromValue for String {
    fn from_value(v: Value) -> std::result::Result<Self, String> {
        match v {
            Value::Text(s) => Ok(s),
            other => Err(wrong(&other, "text")),
        }
    }
}
impl FromValue for Vec<u8> {
    fn from_value(v: Value) -> std::result::Result<Self, String> {
        match v {
            Value::Blob(b) => Ok(b),
            other => Err(wrong(&other, "bytes")),
        }
    }
}
impl<T: FromValue> FromValue for Option<T> {
    fn from_value(v: Value) -> std::result::Result<Self, String> {
        match v {
            Value::Null(_) => Ok(None),
            v => T::from_value(v).map(Some),
        }
    }
}
impl FromValue for Value {
    fn from_value(v: Value) -> std::result::Result<Self, String> {
        Ok(v)
    }
}

/// One row of an answer.
pub struct Row<'r>(pub(super) RowInner<'r>);

pub(super) enum RowInner<'r> {
    Sqlite(&'r rusqlite::Row<'r>),
    Postgres(&'r postgres::Row),
}

impl Row<'_> {
    /// Column `i` (from 0) as a `T`.
    pub fn get<T: FromValue>(&self, i: usize) -> Result<T> {
        let v = self.value(i)?;
        T::from_value(v)
            .map_err(|message| Error::Database(DbError::Conversion { column: i, message }))
    }

    fn value(&self, i: usize) -> Result<Value> {
        match &self.0 {
            RowInner::Sqlite(r) => {
                use rusqlite::types::ValueRef;
                Ok(match r.get_ref(i)? {
                    ValueRef::Null => Value::Null(Kind::Text),
                    ValueRef::Integer(n) => Value::Int(n),
                    ValueRef::Real(x) => Value::Real(x),
                    ValueRef::Text(t) => Value::Text(
                        std::str::from_utf8(t)
                            .map_err(|e| DbError::Conversion {
                                column: i,
                                message: e.to_string(),
                            })?
                            .to_owned(),
                    ),
                    ValueRef::Blob(b) => Value::Blob(b.to_vec()),
                })
            }
            RowInner::Postgres(r) => pg_value(r, i),
        }
    }
}

fn pg_value(r: &postgres::Row, i: usize) -> Result<Value> {
    let column = r.columns().get(i).ok_or(DbError::Conversion {
        column: i,
        message: "no such column".into(),
    })?;
    let ty = column.type_().clone();
    let v = if ty == Type::INT8 {
        r.try_get::<_, Option<i64>>(i)?
            .map(Value::Int)
            .unwrap_or(Value::Null(Kind::Int))
    } else if ty == Type::INT4 {
        r.try_get::<_, Option<i32>>(i)?
            .map(|n| Value::Int(n.into()))
            .unwrap_or(Value::Null(Kind::Int))
    } else if ty == Type::INT2 {
        r.try_get::<_, Option<i16>>(i)?
            .map(|n| Value::Int(n.into()))
            .unwrap_or(Value::Null(Kind::Int))
    } else if ty == Type::BOOL {
        r.try_get::<_, Option<bool>>(i)?
            .map(|b| Value::Int(b.into()))
            .unwrap_or(Value::Null(Kind::Int))
    } else if ty == Type::FLOAT8 {
        r.try_get::<_, Option<f64>>(i)?
            .map(Value::Real)
            .unwrap_or(Value::Null(Kind::Real))
    } else if ty == Type::FLOAT4 {
        r.try_get::<_, Option<f32>>(i)?
            .map(|x| Value::Real(x.into()))
            .unwrap_or(Value::Null(Kind::Real))
    } else if ty == Type::TEXT || ty == Type::VARCHAR || ty == Type::NAME || ty == Type::BPCHAR {
        r.try_get::<_, Option<String>>(i)?
            .map(Value::Text)
            .unwrap_or(Value::Null(Kind::Text))
    } else if ty == Type::BYTEA {
        r.try_get::<_, Option<Vec<u8>>>(i)?
            .map(Value::Blob)
            .unwrap_or(Value::Null(Kind::Blob))
    } else {
        return Err(Error::Database(DbError::Conversion {
            column: i,
            message: format!(
                "PostgreSQL type {ty} is not one the store uses (cast it to BIGINT or TEXT)"
            ),
        }));
    };
    Ok(v)
}
