//! The embedded mode's hot state: this process only.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use auth_domain::sessions::{GraceEntry, RefreshGrace, RevocationList};
use auth_domain::system::HealthProbe;
use auth_domain::{RepoError, SessionId, Timestamp, TokenHash};

use super::mirror::Mirror;
use crate::system::SharedClock;

/// Revocations and refresh grace in this process.
#[derive(Clone, Debug)]
pub struct InProcessHotState {
    mirror: Mirror,
    grace: Arc<RwLock<HashMap<String, (GraceEntry, Instant)>>>,
}

impl InProcessHotState {
    /// Empty state; `clock` ages the revocation entries.
    #[must_use]
    pub fn new(clock: SharedClock) -> Self {
        Self {
            mirror: Mirror::new(clock),
            grace: Arc::default(),
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

impl HealthProbe for InProcessHotState {
    async fn ping(&self) -> Result<(), RepoError> {
        Ok(())
    }
}
