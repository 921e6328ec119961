//! What `authorize` reads on every call, kept in memory so a cached answer
//! costs no database trip: the role-permission maps, each user's role set
//! and status, and the service keys seen. Entries live `authz.cache_ttl` at
//! most and are dropped at once when this or another instance announces a
//! change ([`AccessChange`]).

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};
use std::time::Duration;

use auth_domain::access::{AccessChange, RoleCatalog, ServiceKey, Subject};
use auth_domain::{Timestamp, TokenHash, UserId, after};

/// The most users (and keys) kept at once; past it, expired entries go
/// first and then everything.
const CAPACITY: usize = 50_000;

#[derive(Debug, Default)]
struct Entries {
    catalog: Option<(Arc<RoleCatalog>, Timestamp)>,
    subjects: HashMap<UserId, (Subject, Timestamp)>,
    /// By the hex SHA-256 of the key: a lookup by hash reveals nothing of
    /// the key itself.
    keys: HashMap<String, (ServiceKey, Timestamp)>,
}

/// The access caches of one instance. Cheap to clone; clones share.
#[derive(Clone, Debug, Default)]
pub struct AccessCache {
    ttl: Duration,
    entries: Arc<RwLock<Entries>>,
}

fn bounded<K: std::hash::Hash + Eq, V>(map: &mut HashMap<K, (V, Timestamp)>, now: Timestamp) {
    if map.len() >= CAPACITY {
        map.retain(|_, (_, expires)| now < *expires);
        if map.len() >= CAPACITY {
            map.clear();
        }
    }
}

impl AccessCache {
    /// Caches whose entries live `ttl`; zero turns them off.
    #[must_use]
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Arc::default(),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Entries> {
        self.entries.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Entries> {
        self.entries.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// The role maps, if loaded and fresh.
    #[must_use]
    pub fn catalog(&self, now: Timestamp) -> Option<Arc<RoleCatalog>> {
        self.read()
            .catalog
            .as_ref()
            .filter(|(_, expires)| now < *expires)
            .map(|(catalog, _)| Arc::clone(catalog))
    }

    /// Keeps the role maps read at `now`.
    pub fn put_catalog(&self, catalog: Arc<RoleCatalog>, now: Timestamp) {
        if !self.ttl.is_zero() {
            self.write().catalog = Some((catalog, after(now, self.ttl)));
        }
    }

    /// A user's cached state.
    #[must_use]
    pub fn subject(&self, user: UserId, now: Timestamp) -> Option<Subject> {
        self.read()
            .subjects
            .get(&user)
            .filter(|(_, expires)| now < *expires)
            .map(|(subject, _)| subject.clone())
    }

    /// Keeps a user's state read at `now`. Unknown users are not kept: one
    /// registered a moment later must not wait for the entry to expire.
    pub fn put_subject(&self, user: UserId, subject: &Subject, now: Timestamp) {
        if self.ttl.is_zero() || *subject == Subject::Unknown {
            return;
        }
        let mut entries = self.write();
        bounded(&mut entries.subjects, now);
        entries
            .subjects
            .insert(user, (subject.clone(), after(now, self.ttl)));
    }

    /// The active key with this hash, if seen lately.
    #[must_use]
    pub fn key(&self, hash: &TokenHash, now: Timestamp) -> Option<ServiceKey> {
        self.read()
            .keys
            .get(hash.as_str())
            .filter(|(_, expires)| now < *expires)
            .map(|(key, _)| key.clone())
    }

    /// Keeps an active key read at `now`.
    pub fn put_key(&self, key: &ServiceKey, now: Timestamp) {
        if self.ttl.is_zero() {
            return;
        }
        let mut entries = self.write();
        bounded(&mut entries.keys, now);
        entries.keys.insert(
            key.key_hash.as_str().to_owned(),
            (key.clone(), after(now, self.ttl)),
        );
    }

    /// Drops what `change` made stale.
    pub fn forget(&self, change: AccessChange) {
        let mut entries = self.write();
        match change {
            AccessChange::User(user) => {
                entries.subjects.remove(&user);
            }
            AccessChange::Roles => {
                entries.catalog = None;
                entries.subjects.clear();
            }
            AccessChange::ServiceKey(id) => entries.keys.retain(|_, (key, _)| key.id != id),
        }
    }

    /// Drops everything (messages may have been lost).
    pub fn clear(&self) {
        *self.write() = Entries::default();
    }
}
