//! Ports every context may use: time, randomness, and health probes.

use std::future::Future;

use crate::{OpaqueToken, RepoError, Timestamp};

/// The current time. Injected so tests control it; every adapter that needs
/// the time takes one too.
pub trait Clock: Send + Sync + 'static {
    /// Now, in UTC.
    fn now(&self) -> Timestamp;
}

impl<C: Clock + ?Sized> Clock for std::sync::Arc<C> {
    fn now(&self) -> Timestamp {
        (**self).now()
    }
}

/// The operating system's randomness could not be read.
#[derive(Debug, thiserror::Error)]
#[error("secure random source failed: {0}")]
pub struct RandomError(pub String);

/// Cryptographically secure randomness for tokens.
pub trait SecureRandom: Send + Sync + 'static {
    /// A fresh 256-bit token, URL-safe base64 without padding.
    ///
    /// # Errors
    /// [`RandomError`] when the OS source fails.
    fn token(&self) -> Result<OpaqueToken, RandomError>;

    /// Fills `buf` with random bytes (secrets, codes).
    ///
    /// # Errors
    /// [`RandomError`] when the OS source fails.
    fn fill(&self, buf: &mut [u8]) -> Result<(), RandomError>;
}

/// A dependency whose reachability `/health` reports.
pub trait HealthProbe: Send + Sync + 'static {
    /// Succeeds when the dependency answers.
    fn ping(&self) -> impl Future<Output = Result<(), RepoError>> + Send;
}
