//! The embedded mode's hot state: this process only.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use auth_domain::access::AccessChange;
use auth_domain::limits::{Admission, LimiterMode, RateLimiter, Window};
use auth_domain::sessions::{GraceEntry, RefreshGrace, RevocationList};
use auth_domain::system::HealthProbe;
use auth_domain::{RepoError, SessionId, Timestamp, TokenHash};

use super::mirror::Mirror;
use super::windows::LocalWindows;
use crate::system::SharedClock;

/// Revocations and refresh grace in this process.
#[derive(Clone, Debug)]
pub struct InProcessHotState {
    mirror: Mirror,
    grace: Arc<RwLock<HashMap<String, (GraceEntry, Instant)>>>,
    windows: Arc<LocalWindows>,
    /// Access changes, for this process's own caches.
    access_changes: tokio::sync::broadcast::Sender<Option<AccessChange>>,
}

impl InProcessHotState {
    /// The changes announced in this process.
    #[must_use]
    pub fn access_changes(&self) -> tokio::sync::broadcast::Receiver<Option<AccessChange>> {
        self.access_changes.subscribe()
    }

    /// Tells this process's caches (there is no other instance).
    pub fn announce(&self, change: AccessChange) {
        // No receiver yet (before start-up finished): nothing is cached.
        let _ = self.access_changes.send(Some(change));
    }

    /// Empty state; `clock` ages the revocation entries.
    #[must_use]
    pub fn new(clock: SharedClock) -> Self {
        Self {
            mirror: Mirror::new(clock.clone()),
            grace: Arc::default(),
            windows: Arc::new(LocalWindows::new(clock)),
            access_changes: tokio::sync::broadcast::channel(1024).0,
        }
    }
}

impl RevocationList for InProcessHotState {
    fn is_revoked(&self, session: SessionId) -> bool {
        self.mirror.contains(session)
    }

    async fn revoke(&self, sessions: &[SessionId], until: Timestamp) -> Result<(), RepoError> {
        self.mirror
            .insert_all(sessions.iter().map(|session| (*session, until)));
        Ok(())
    }
}

impl RefreshGrace for InProcessHotState {
    async fn remember(
        &self,
        presented: &TokenHash,
        entry: &GraceEntry,
        ttl: Duration,
    ) -> Result<(), RepoError> {
        if let Ok(mut map) = self.grace.write() {
            let now = Instant::now();
            map.retain(|_, (_, until)| *until > now);
            map.insert(presented.as_str().to_owned(), (entry.clone(), now + ttl));
        }
        Ok(())
    }

    async fn recall(&self, presented: &TokenHash) -> Result<Option<GraceEntry>, RepoError> {
        Ok(self.grace.read().ok().and_then(|map| {
            map.get(presented.as_str())
                .filter(|(_, until)| *until > Instant::now())
                .map(|(entry, _)| entry.clone())
        }))
    }
}

impl RateLimiter for InProcessHotState {
    async fn admit(&self, key: &str, window: Window) -> Result<Admission, RepoError> {
        Ok(self.windows.admit(key, window))
    }

    async fn fail(&self, key: &str, window: Window, block: Duration) -> Result<bool, RepoError> {
        Ok(self.windows.fail(key, window, block))
    }

    async fn blocked_for(&self, key: &str) -> Result<Option<Duration>, RepoError> {
        Ok(self.windows.blocked_for(key))
    }

    fn mode(&self) -> LimiterMode {
        LimiterMode::Local
    }

    async fn reset(&self, key: &str) -> Result<(), RepoError> {
        self.windows.reset(key);
        Ok(())
    }
}

impl HealthProbe for InProcessHotState {
    async fn ping(&self) -> Result<(), RepoError> {
        Ok(())
    }
}
