//! Sliding windows and blocks counted in this process: the embedded mode's
//! limiter, and the Redis backend's fallback while Redis is unreachable.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use auth_domain::limits::{Admission, Window};
use auth_domain::system::Clock;
use auth_domain::{Timestamp, after, before};

use crate::system::SharedClock;

/// Past this many keys, idle ones are swept on the next call.
const SWEEP_AT: usize = 10_000;

#[derive(Default)]
struct Counts {
    events: HashMap<String, Vec<Timestamp>>,
    blocks: HashMap<String, Timestamp>,
}

/// In-process sliding-window counts.
pub(super) struct LocalWindows {
    counts: Mutex<Counts>,
    clock: SharedClock,
}

impl std::fmt::Debug for LocalWindows {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalWindows").finish_non_exhaustive()
    }
}

impl LocalWindows {
    pub(super) fn new(clock: SharedClock) -> Self {
        Self {
            counts: Mutex::default(),
            clock,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Counts> {
        self.counts.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The recent events of `key`, older ones dropped.
    fn recent<'a>(
        counts: &'a mut Counts,
        key: &str,
        window: Window,
        now: Timestamp,
    ) -> &'a mut Vec<Timestamp> {
        if counts.events.len() > SWEEP_AT {
            counts.events.retain(|_, events| {
                events
                    .last()
                    .is_some_and(|at| *at > before(now, Duration::from_secs(24 * 3600)))
            });
            counts.blocks.retain(|_, until| *until > now);
        }
        let events = counts.events.entry(key.to_owned()).or_default();
        let since = before(now, window.period);
        events.retain(|at| *at > since);
        events
    }

    pub(super) fn admit(&self, key: &str, window: Window) -> Admission {
        let now = self.clock.now();
        let mut counts = self.lock();
        let events = Self::recent(&mut counts, key, window, now);
        if events.len() >= usize::try_from(window.max).unwrap_or(usize::MAX) {
            let oldest = events.first().copied().unwrap_or(now);
            let frees = after(oldest, window.period);
            return Admission::Refused {
                retry_after: (frees - now).to_std().unwrap_or(Duration::ZERO),
            };
        }
        events.push(now);
        Admission::Allowed
    }

    pub(super) fn fail(&self, key: &str, window: Window, block: Duration) -> bool {
        let now = self.clock.now();
        let mut counts = self.lock();
        let events = Self::recent(&mut counts, key, window, now);
        events.push(now);
        if events.len() < usize::try_from(window.max).unwrap_or(usize::MAX) {
            return false;
        }
        events.clear();
        counts.blocks.insert(key.to_owned(), after(now, block));
        true
    }

    pub(super) fn reset(&self, key: &str) {
        let mut counts = self.lock();
        counts.events.remove(key);
        counts.blocks.remove(key);
    }

    pub(super) fn blocked_for(&self, key: &str) -> Option<Duration> {
        let now = self.clock.now();
        let counts = self.lock();
        counts
            .blocks
            .get(key)
            .filter(|until| **until > now)
            .and_then(|until| (*until - now).to_std().ok())
    }
}
