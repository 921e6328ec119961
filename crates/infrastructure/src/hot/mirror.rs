//! The in-memory copy of the revocation list every instance reads.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use auth_domain::system::Clock;
use auth_domain::{SessionId, Timestamp};

use crate::system::SharedClock;

/// Revoked sessions and when each entry may be forgotten.
#[derive(Clone)]
pub(super) struct Mirror {
    entries: Arc<RwLock<HashMap<SessionId, Timestamp>>>,
    clock: SharedClock,
}

impl std::fmt::Debug for Mirror {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mirror").finish_non_exhaustive()
    }
}

impl Mirror {
    pub(super) fn new(clock: SharedClock) -> Self {
        Self {
            entries: Arc::default(),
            clock,
        }
    }

    /// A poisoned lock answers "revoked": failing closed.
    pub(super) fn contains(&self, session: SessionId) -> bool {
        self.entries
            .read()
            .map(|map| map.contains_key(&session))
            .unwrap_or(true)
    }

    /// Adds entries, dropping those past their time.
    pub(super) fn insert_all(&self, entries: impl IntoIterator<Item = (SessionId, Timestamp)>) {
        if let Ok(mut map) = self.entries.write() {
            let now = self.clock.now();
            map.retain(|_, until| *until > now);
            map.extend(entries);
        }
    }
}
