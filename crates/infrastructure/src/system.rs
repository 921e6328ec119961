//! The system clock and the operating system's randomness.

use std::sync::Arc;

use auth_domain::system::{Clock, RandomError, SecureRandom};
use auth_domain::{OpaqueToken, Timestamp};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The clock adapters share: the system clock in a deployment, a fixed one
/// in tests.
pub type SharedClock = Arc<dyn Clock>;

/// Wall-clock time.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl SystemClock {
    /// The system clock as a [`SharedClock`].
    #[must_use]
    pub fn shared() -> SharedClock {
        Arc::new(Self)
    }
}

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        chrono::Utc::now()
    }
}

/// Tokens from the OS CSPRNG (`getrandom`).
#[derive(Clone, Copy, Debug, Default)]
pub struct OsRandom;

impl SecureRandom for OsRandom {
    fn token(&self) -> Result<OpaqueToken, RandomError> {
        Ok(OpaqueToken::new(
            URL_SAFE_NO_PAD.encode(random_bytes::<{ OpaqueToken::BYTES }>()?),
        ))
    }

    fn fill(&self, buf: &mut [u8]) -> Result<(), RandomError> {
        getrandom::fill(buf).map_err(|e| RandomError(e.to_string()))
    }
}

/// Fills a buffer from the OS CSPRNG.
///
/// # Errors
/// When the OS source fails.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], RandomError> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|e| RandomError(e.to_string()))?;
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_256_bit_url_safe_and_distinct() {
        let a = OsRandom.token().expect("token");
        let b = OsRandom.token().expect("token");
        assert_eq!(a.expose().len(), 43);
        assert!(
            a.expose()
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        );
        assert_ne!(a, b);
    }
}
