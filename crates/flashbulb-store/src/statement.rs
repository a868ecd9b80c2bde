//! Statements built from pieces for either backend, and the values whose types the two
//! backends store differently.

use sqlx::{
    any::{AnyArguments, AnyTypeInfo, AnyTypeInfoKind},
    Any, Arguments, Decode, Type, ValueRef,
};

use crate::Backend;

/// A yes/no read from either backend: PostgreSQL answers booleans, SQLite integers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Flag(pub bool);

impl From<Flag> for bool {
    fn from(flag: Flag) -> bool {
        flag.0
    }
}

impl Type<Any> for Flag {
    fn type_info() -> AnyTypeInfo {
        <bool as Type<Any>>::type_info()
    }

    fn compatible(ty: &AnyTypeInfo) -> bool {
        ty.kind() == AnyTypeInfoKind::Bool || ty.kind().is_integer()
    }
}

impl<'r> Decode<'r, Any> for Flag {
    fn decode(value: sqlx::any::AnyValueRef<'r>) -> Result<Self, sqlx::error::BoxDynError> {
        // Asked by type, not by trying: a failed decode formats an error message, and a
        // segment reads 500 flags.
        if value.type_info().kind() == AnyTypeInfoKind::Bool {
            Ok(Flag(<bool as Decode<Any>>::decode(value)?))
        } else {
            Ok(Flag(<i64 as Decode<Any>>::decode(value)? != 0))
        }
    }
}

/// A statement assembled from pieces whose values are bound in order, each written as its
/// backend's placeholder: `?` for SQLite, `$1, $2, …` for PostgreSQL. (sqlx's own builder
/// writes `?` through the `Any` driver, which PostgreSQL refuses; SQLite reads `$n` too, but
/// looks each name up in a list, which costs a multi-row insert of thousands of values the
/// square of their number.)
pub struct Statement {
    backend: Backend,
    sql: String,
    arguments: AnyArguments<'static>,
    bound: usize,
    error: Option<sqlx::error::BoxDynError>,
}

impl Statement {
    pub fn new(backend: Backend, sql: &str) -> Self {
        Self {
            backend,
            sql: sql.to_string(),
            arguments: AnyArguments::default(),
            bound: 0,
            error: None,
        }
    }

    pub fn push(&mut self, sql: &str) -> &mut Self {
        self.sql.push_str(sql);
        self
    }

    pub fn push_bind<T>(&mut self, value: T) -> &mut Self
    where
        T: 'static + Send + sqlx::Encode<'static, Any> + Type<Any>,
    {
        self.bound += 1;
        match self.backend {
            Backend::Sqlite => self.sql.push('?'),
            Backend::Postgres => {
                self.sql.push('$');
                self.sql.push_str(&self.bound.to_string());
            }
        }
        if let Err(error) = self.arguments.add(value) {
            self.error.get_or_insert(error);
        }
        self
    }

    pub fn sql(&self) -> &str {
        &self.sql
    }

    /// The statement, ready to run.
    pub fn query(&mut self) -> Result<sqlx::query::Query<'_, Any, AnyArguments<'_>>, sqlx::Error> {
        self.check()?;
        let arguments = std::mem::take(&mut self.arguments);
        Ok(sqlx::query_with(&self.sql, arguments))
    }

    /// The statement, ready to run for rows of `O`.
    pub fn query_as<O>(
        &mut self,
    ) -> Result<sqlx::query::QueryAs<'_, Any, O, AnyArguments<'_>>, sqlx::Error>
    where
        O: for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow>,
    {
        self.check()?;
        let arguments = std::mem::take(&mut self.arguments);
        Ok(sqlx::query_as_with(&self.sql, arguments))
    }

    /// The statement, ready to run for one value per row.
    pub fn query_scalar<O>(
        &mut self,
    ) -> Result<sqlx::query::QueryScalar<'_, Any, O, AnyArguments<'_>>, sqlx::Error>
    where
        (O,): for<'r> sqlx::FromRow<'r, sqlx::any::AnyRow>,
    {
        self.check()?;
        let arguments = std::mem::take(&mut self.arguments);
        Ok(sqlx::query_scalar_with(&self.sql, arguments))
    }

    fn check(&mut self) -> Result<(), sqlx::Error> {
        match self.error.take() {
            Some(error) => Err(sqlx::Error::Encode(error)),
            None => Ok(()),
        }
    }
}
