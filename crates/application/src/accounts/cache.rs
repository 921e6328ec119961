//! A short-lived read-through cache of account views for `GET /me`.
//!
//! `/me` is asked on every page load of a client; without the cache each
//! answer costs two database reads (the user row and its roles). Entries
//! live `accounts.view_cache_ttl` at most and are dropped by every change
//! this instance makes to the account; another instance's change shows
//! within the TTL. Nothing that decides access reads it: tokens carry their
//! own claims, and login and password checks read the database.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use auth_domain::{Timestamp, UserId, after};

use super::AccountView;

/// The most accounts kept at once; past it, expired entries go first and
/// then everything (the cache refills from the next reads).
const CAPACITY: usize = 10_000;

/// Account views by user id. Cheap to clone; clones share the entries.
#[derive(Clone, Debug, Default)]
pub struct ViewCache {
    ttl: Duration,
    entries: Arc<Mutex<HashMap<UserId, (AccountView, Timestamp)>>>,
}

impl ViewCache {
    /// A cache whose entries live `ttl`; zero turns it off.
    #[must_use]
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Arc::default(),
        }
    }

    /// The view of `user`, if cached and still fresh at `now`.
    #[must_use]
    pub fn get(&self, user: UserId, now: Timestamp) -> Option<AccountView> {
        if self.ttl.is_zero() {
            return None;
        }
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries
            .get(&user)
            .filter(|(_, expires)| now < *expires)
            .map(|(view, _)| view.clone())
    }

    /// Keeps `view`, read at `now`.
    pub fn put(&self, view: &AccountView, now: Timestamp) {
        if self.ttl.is_zero() {
            return;
        }
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= CAPACITY {
            entries.retain(|_, (_, expires)| now < *expires);
            if entries.len() >= CAPACITY {
                entries.clear();
            }
        }
        entries.insert(view.user.id, (view.clone(), after(now, self.ttl)));
    }

    /// Drops `user`'s entry: called after every change to the account.
    pub fn forget(&self, user: UserId) {
        self.entries
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&user);
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use auth_domain::RequestContext;

    use crate::accounts::Accounts;
    use crate::testing::{harness, register_user};

    #[tokio::test]
    async fn me_reads_through_the_cache_until_the_ttl() {
        let h = harness();
        let (user, _) = register_user(&h, "ann@example.com").await;
        let first = h.accounts.current_user(user.id).await.expect("read");
        assert!(!first.user.email_verified);
        // A change behind this instance's back (another instance).
        h.world.lock().users[0].email_verified = true;
        let cached = h.accounts.current_user(user.id).await.expect("read");
        assert!(!cached.user.email_verified, "answered from the cache");
        h.world.advance(Duration::from_secs(3));
        let fresh = h.accounts.current_user(user.id).await.expect("read");
        assert!(fresh.user.email_verified, "re-read after the TTL");
    }

    #[tokio::test]
    async fn a_change_on_this_instance_drops_the_entry_at_once() {
        let h = harness();
        let (user, token) = register_user(&h, "ben@example.com").await;
        let before = h.accounts.current_user(user.id).await.expect("read");
        assert!(!before.user.email_verified);
        h.accounts
            .verify_email(&token, &RequestContext::default())
            .await
            .expect("verified");
        let after = h.accounts.current_user(user.id).await.expect("read");
        assert!(after.user.email_verified, "no stale view after verifying");
    }

    #[tokio::test]
    async fn a_zero_ttl_turns_the_cache_off() {
        let mut settings = crate::testing::settings();
        settings.view_cache_ttl = Duration::ZERO;
        let h = crate::testing::harness_with(settings);
        let (user, _) = register_user(&h, "cy@example.com").await;
        h.accounts.current_user(user.id).await.expect("read");
        h.world.lock().users[0].email_verified = true;
        let read = h.accounts.current_user(user.id).await.expect("read");
        assert!(read.user.email_verified);
    }
}
