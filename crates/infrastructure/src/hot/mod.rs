//! Hot, rebuildable state: the revoked-session list, the refresh grace and
//! the rate-limit windows.
//! One module per backend — [`memory`] for the embedded mode, [`redis`]
//! (sorted set + pub/sub) for several instances — and this enum, chosen at
//! start-up, only hands each call to the backend in use. Either way reads
//! hit an in-memory [`mirror`], so checking a token costs no round trip;
//! [`sync`] keeps the mirror complete from the database.

pub mod memory;
mod mirror;
pub mod redis;
pub mod sync;
mod windows;

use std::time::Duration;

use auth_domain::access::{AccessChange, AccessChanges};
use auth_domain::limits::{Admission, LimiterMode, RateLimiter, Window};
use auth_domain::sessions::{GraceEntry, RefreshGrace, RevocationList};
use auth_domain::system::HealthProbe;
use auth_domain::{RepoError, SessionId, Timestamp, TokenHash};

pub use memory::InProcessHotState;
pub use redis::RedisHotState;

use crate::system::SharedClock;

/// The hot state of one deployment.
#[derive(Clone, Debug)]
pub enum HotState {
    /// One process: the mirror is the list.
    InProcess(InProcessHotState),
    /// Several instances sharing Redis.
    Redis(RedisHotState),
}

impl HotState {
    /// Hot state in this process only.
    #[must_use]
    pub fn in_process(clock: SharedClock) -> Self {
        Self::InProcess(InProcessHotState::new(clock))
    }

    /// Connects to Redis, subscribes to revocations and loads the current
    /// list.
    ///
    /// # Errors
    /// When Redis cannot be reached within a few seconds.
    pub async fn redis(url: &str, key_prefix: &str, clock: SharedClock) -> anyhow::Result<Self> {
        Ok(Self::Redis(
            RedisHotState::connect(url, key_prefix, clock).await?,
        ))
    }
}

impl HotState {
    /// Access changes announced by any instance, this one included;
    /// `None` = drop every cache.
    #[must_use]
    pub fn access_changes(&self) -> tokio::sync::broadcast::Receiver<Option<AccessChange>> {
        match self {
            Self::InProcess(hot) => hot.access_changes(),
            Self::Redis(hot) => hot.access_changes(),
        }
    }
}

impl AccessChanges for HotState {
    async fn announce(&self, change: AccessChange) {
        match self {
            Self::InProcess(hot) => hot.announce(change),
            Self::Redis(hot) => hot.announce(change).await,
        }
    }
}

impl RevocationList for HotState {
    fn is_revoked(&self, session: SessionId) -> bool {
        match self {
            Self::InProcess(hot) => hot.is_revoked(session),
            Self::Redis(hot) => hot.is_revoked(session),
        }
    }

    async fn revoke(&self, sessions: &[SessionId], until: Timestamp) -> Result<(), RepoError> {
        match self {
            Self::InProcess(hot) => hot.revoke(sessions, until).await,
            Self::Redis(hot) => hot.revoke(sessions, until).await,
        }
    }
}

impl RefreshGrace for HotState {
    async fn remember(
        &self,
        presented: &TokenHash,
        entry: &GraceEntry,
        ttl: Duration,
    ) -> Result<(), RepoError> {
        match self {
            Self::InProcess(hot) => hot.remember(presented, entry, ttl).await,
            Self::Redis(hot) => hot.remember(presented, entry, ttl).await,
        }
    }

    async fn recall(&self, presented: &TokenHash) -> Result<Option<GraceEntry>, RepoError> {
        match self {
            Self::InProcess(hot) => hot.recall(presented).await,
            Self::Redis(hot) => hot.recall(presented).await,
        }
    }
}

impl RateLimiter for HotState {
    async fn admit(&self, key: &str, window: Window) -> Result<Admission, RepoError> {
        match self {
            Self::InProcess(hot) => hot.admit(key, window).await,
            Self::Redis(hot) => hot.admit(key, window).await,
        }
    }

    async fn fail(&self, key: &str, window: Window, block: Duration) -> Result<bool, RepoError> {
        match self {
            Self::InProcess(hot) => hot.fail(key, window, block).await,
            Self::Redis(hot) => hot.fail(key, window, block).await,
        }
    }

    async fn blocked_for(&self, key: &str) -> Result<Option<Duration>, RepoError> {
        match self {
            Self::InProcess(hot) => hot.blocked_for(key).await,
            Self::Redis(hot) => hot.blocked_for(key).await,
        }
    }

    fn mode(&self) -> LimiterMode {
        match self {
            Self::InProcess(hot) => hot.mode(),
            Self::Redis(hot) => hot.mode(),
        }
    }

    async fn reset(&self, key: &str) -> Result<(), RepoError> {
        match self {
            Self::InProcess(hot) => hot.reset(key).await,
            Self::Redis(hot) => hot.reset(key).await,
        }
    }
}

impl HealthProbe for HotState {
    async fn ping(&self) -> Result<(), RepoError> {
        match self {
            Self::InProcess(hot) => hot.ping().await,
            Self::Redis(hot) => hot.ping().await,
        }
    }
}
