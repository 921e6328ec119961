//! The error every repository and hot-state port answers with.

/// A storage or hot-state failure. The message is for logs only: it may carry
/// driver detail and never reaches a response. Adapters convert their driver
/// errors into it at their boundary.
#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    /// The backing service cannot be reached (connection refused, pool
    /// exhausted, timed out, busy): the request may succeed later.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// Anything else.
    #[error("{0}")]
    Other(String),
}
