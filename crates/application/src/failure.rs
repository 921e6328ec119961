//! The outcome every use case shares: a dependency let it down.

use std::time::Duration;

use auth_domain::RepoError;
use auth_domain::password::HashError;
use auth_domain::sessions::SigningError;
use auth_domain::system::RandomError;

/// A use case could not complete for a reason that is not about what the
/// request asked: a dependency failed, the service sheds load, or the caller
/// went past a rate limit. The messages are for logs; responses show none of
/// them.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// A dependency (database, Redis) is down: nothing was changed, retry later.
    #[error("dependency unavailable: {0}")]
    Unavailable(String),
    /// The service sheds load (hashing queue full): retry after a moment.
    #[error("overloaded")]
    Overloaded {
        /// A reasonable time to wait.
        retry_after: Duration,
    },
    /// The caller went past a rate limit (or its share of the hashing
    /// pool): retry after the given time.
    #[error("rate limited")]
    RateLimited {
        /// When a slot frees.
        retry_after: Duration,
    },
    /// A bug or a broken deployment.
    #[error("internal error: {0}")]
    Internal(String),
}

impl From<RepoError> for Failure {
    fn from(err: RepoError) -> Self {
        match err {
            RepoError::Unavailable(msg) => Self::Unavailable(msg),
            RepoError::Other(msg) => Self::Internal(msg),
        }
    }
}

impl From<HashError> for Failure {
    fn from(err: HashError) -> Self {
        match err {
            HashError::Busy { retry_after } => Self::Overloaded { retry_after },
            HashError::ClientBusy { retry_after } => {
                crate::shared::refused(crate::shared::LimitName::HashShare);
                Self::RateLimited { retry_after }
            }
            HashError::Failed(msg) => Self::Internal(msg),
        }
    }
}

impl From<SigningError> for Failure {
    fn from(err: SigningError) -> Self {
        Self::Internal(err.to_string())
    }
}

impl From<RandomError> for Failure {
    fn from(err: RandomError) -> Self {
        Self::Internal(err.to_string())
    }
}
