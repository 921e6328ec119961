//! The one place driver errors become port errors.

use auth_domain::RepoError;
use sea_orm::{DbErr, RuntimeErr, SqlErr};

/// A sea-orm error on its way out of this adapter. `?` makes one from a
/// `DbErr`; `From` makes a `RepoError` of it, classifying outages (which a
/// client may retry: 503) apart from everything else.
#[derive(Debug)]
pub struct DbError(DbErr);

impl From<DbErr> for DbError {
    fn from(err: DbErr) -> Self {
        Self(err)
    }
}

impl DbError {
    /// Whether a unique constraint refused the write.
    #[must_use]
    pub fn is_unique_violation(&self) -> bool {
        matches!(self.0.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
    }

    fn is_unavailable(&self) -> bool {
        use sea_orm::sqlx::Error as Sqlx;
        match &self.0 {
            DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
            DbErr::Exec(RuntimeErr::SqlxError(e)) | DbErr::Query(RuntimeErr::SqlxError(e)) => {
                match e.as_ref() {
                    Sqlx::Io(_)
                    | Sqlx::PoolTimedOut
                    | Sqlx::PoolClosed
                    | Sqlx::Tls(_)
                    | Sqlx::Protocol(_)
                    | Sqlx::WorkerCrashed => true,
                    // SQLite busy/locked (5, 6 and their extended codes):
                    // contention, not a bug.
                    Sqlx::Database(db) => db.code().is_some_and(|code| {
                        let primary = code.parse::<u32>().map_or(0, |c| c & 0xff);
                        matches!(primary, 5 | 6)
                    }),
                    _ => false,
                }
            }
            _ => false,
        }
    }
}

impl From<DbError> for RepoError {
    /// The message keeps the driver's detail for the log line; responses
    /// never show it.
    fn from(err: DbError) -> Self {
        if err.is_unavailable() {
            Self::Unavailable(err.0.to_string())
        } else {
            Self::Other(err.0.to_string())
        }
    }
}
