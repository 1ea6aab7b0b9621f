use sea_orm::{DbErr, SqlErr};

/// What the store can refuse. The API maps each to its problem code; raw database errors are
/// only ever reported as 5xx and logged.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("record not found")]
    NotFound,
    /// The caller's `If-Match` names a version that is no longer current.
    #[error("record version {expected} is stale; the current version is {current}")]
    StaleVersion { expected: i32, current: i32 },
    /// A uniqueness rule of the schema refused the write (e.g. a duplicate code).
    #[error("conflicts with an existing record: {0}")]
    Duplicate(String),
    #[error("refers to a record that does not exist: {0}")]
    MissingReference(String),
    #[error("invalid cursor")]
    InvalidCursor,
    #[error(transparent)]
    Database(DbErr),
}

impl From<DbErr> for StoreError {
    fn from(e: DbErr) -> Self {
        match e.sql_err() {
            Some(SqlErr::UniqueConstraintViolation(m)) => StoreError::Duplicate(m),
            Some(SqlErr::ForeignKeyConstraintViolation(m)) => StoreError::MissingReference(m),
            _ => StoreError::Database(e),
        }
    }
}

pub type StoreResult<T> = Result<T, StoreError>;
