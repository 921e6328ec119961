//! Service keys: bearer credentials of other services (`sk_…`), each with
//! the permissions it was given. Only the SHA-256 of a key is stored.

use super::{Grant, Permission};
use crate::{OpaqueToken, ServiceKeyId, Timestamp, TokenHash};

/// What every service key starts with, so a presented bearer tells a key
/// from an access token without parsing either.
pub const SERVICE_KEY_PREFIX: &str = "sk_";

/// The key handed out once: `sk_` and 256 random bits.
#[must_use]
pub fn service_key_text(secret: &OpaqueToken) -> String {
    format!("{SERVICE_KEY_PREFIX}{}", secret.expose())
}

/// The hash a presented key is looked up by; `None` for a text that cannot
/// be one of ours.
#[must_use]
pub fn presented_key_hash(presented: &str) -> Option<TokenHash> {
    let presented = presented.trim();
    (presented.starts_with(SERVICE_KEY_PREFIX) && presented.len() <= OpaqueToken::MAX_PRESENTED_LEN)
        .then(|| TokenHash::of(presented.as_bytes()))
}

/// A stored service key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceKey {
    /// Its id (the actor of what it does).
    pub id: ServiceKeyId,
    /// A name for people.
    pub name: String,
    /// SHA-256 of the whole key text.
    pub key_hash: TokenHash,
    /// What it may do, sorted.
    pub grants: Vec<Grant>,
    /// When it was created.
    pub created_at: Timestamp,
}

impl ServiceKey {
    /// Whether the key grants `permission`.
    #[must_use]
    pub fn allows(&self, permission: &Permission) -> bool {
        self.grants.iter().any(|grant| grant.allows(permission))
    }
}
