//! Rate limits and lockouts: sliding windows counted across every instance.

use std::future::Future;
use std::time::Duration;

use crate::RepoError;

/// At most `max` events within any `period`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    /// Events allowed within the period.
    pub max: u32,
    /// The sliding period.
    pub period: Duration,
}

/// What the limiter answers to one event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    /// Counted; go ahead.
    Allowed,
    /// Not counted: the window is full until a slot frees.
    Refused {
        /// When the oldest counted event leaves the window.
        retry_after: Duration,
    },
}

/// Where the limiter's counts live right now, for `/health` and metrics.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LimiterMode {
    /// In this process (the embedded mode).
    Local,
    /// Shared by every instance (Redis).
    Shared,
    /// Redis is unreachable: counted in this process until it returns.
    Fallback,
}

impl LimiterMode {
    /// The name `/health` shows.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Local => "in-process",
            Self::Shared => "shared",
            Self::Fallback => "fallback",
        }
    }
}

/// Sliding-window limits and blocks, keyed by strings the callers build
/// (`login:ip:…`, `refresh:session:…`). Each call is atomic across
/// instances.
pub trait RateLimiter: Send + Sync + 'static {
    /// Counts one event for `key` if fewer than `window.max` were counted in
    /// the last `window.period`; otherwise counts nothing and says when a
    /// slot frees.
    fn admit(
        &self,
        key: &str,
        window: Window,
    ) -> impl Future<Output = Result<Admission, RepoError>> + Send;

    /// Counts one failure for `key`; when this makes `window.max` failures
    /// within `window.period`, blocks `key` for `block` and forgets the
    /// failures. Returns `true` when this failure started the block.
    fn fail(
        &self,
        key: &str,
        window: Window,
        block: Duration,
    ) -> impl Future<Output = Result<bool, RepoError>> + Send;

    /// How long `key` stays blocked, if it is.
    fn blocked_for(
        &self,
        key: &str,
    ) -> impl Future<Output = Result<Option<Duration>, RepoError>> + Send;

    /// Where the counts live right now.
    fn mode(&self) -> LimiterMode;

    /// Forgets the key's counts and block (a success that resets a
    /// failure count).
    fn reset(&self, key: &str) -> impl Future<Output = Result<(), RepoError>> + Send;
}
