//! Tokens verified recently: an EdDSA verification costs more than serving
//! a request, a hash lookup almost nothing.

use auth_domain::{AccessClaims, Timestamp};

/// Tokens verified recently, keyed by their SHA-256: an EdDSA verification
/// costs more than serving a request, a hash lookup almost nothing. Bounded;
/// an entry is only used while its token is unexpired, and revocation is
/// checked by the caller on every request regardless.
#[derive(Debug, Default)]
pub(super) struct VerifiedCache(
    std::sync::RwLock<std::collections::HashMap<[u8; 32], AccessClaims>>,
);

const CACHE_CAPACITY: usize = 50_000;

impl VerifiedCache {
    pub(super) fn get(&self, key: &[u8; 32]) -> Option<AccessClaims> {
        self.0.read().ok()?.get(key).cloned()
    }

    pub(super) fn insert(&self, key: [u8; 32], claims: AccessClaims, now: Timestamp) {
        let Ok(mut map) = self.0.write() else { return };
        if map.len() >= CACHE_CAPACITY {
            map.retain(|_, c| c.expires_at > now);
            if map.len() >= CACHE_CAPACITY {
                map.clear();
            }
        }
        map.insert(key, claims);
    }
}
