//! Use cases of auth-service. Each flow is a method of [`AuthService`], in a
//! module of its own, generic over the ports of `auth-domain`; each names its
//! outcomes in its own error enum. Nothing here does I/O.
#![forbid(unsafe_code)]

mod authenticate;
mod change_password;
mod failure;
mod login;
mod mail_templates;
mod outbox;
mod refresh;
mod register;
mod sessions;
mod settings;
mod verify_email;

#[cfg(test)]
mod testing;

pub use authenticate::AuthenticateError;
pub use change_password::{ChangePasswordError, ChangePasswordRequest};
pub use failure::Failure;
pub use login::{LoginError, LoginRequest, TokenPair};
pub use outbox::{DeliveryReport, OutboxRelay, RetryPolicy};
pub use refresh::RefreshError;
pub use register::{RegisterError, RegisterRequest};
pub use sessions::{LogoutError, SessionError};
pub use settings::AuthSettings;
pub use verify_email::VerifyEmailError;

use auth_domain::ports::{
    AccessTokenIssuer, AccessTokenVerifier, AuditLog, Clock, HealthProbe, OneTimeTokenRepository,
    OutboxRepository, PasswordHasher, RefreshGrace, RevocationList, SecureRandom,
    SessionRepository, UserRepository,
};
use auth_domain::{PasswordPolicy, Timestamp};

/// The adapters a deployment plugs in. One implementation per composition
/// root; unit tests plug in-memory ones.
pub trait Ports: Send + Sync + 'static {
    /// Durable state: users, sessions, tokens, audit trail, outbox.
    type Store: UserRepository
        + OneTimeTokenRepository
        + SessionRepository
        + AuditLog
        + OutboxRepository
        + HealthProbe
        + Clone;
    /// Password hashing.
    type Hasher: PasswordHasher;
    /// Access-token signing and verification.
    type Tokens: AccessTokenIssuer + AccessTokenVerifier;
    /// Hot state shared across instances: revoked sessions, refresh grace.
    type Hot: RevocationList + RefreshGrace + HealthProbe;
    /// Time.
    type Clock: Clock + Clone;
    /// Randomness for tokens.
    type Random: SecureRandom;
}

/// The auth use cases, wired to a set of ports.
pub struct AuthService<P: Ports> {
    store: P::Store,
    hasher: P::Hasher,
    tokens: P::Tokens,
    hot: P::Hot,
    clock: P::Clock,
    random: P::Random,
    settings: AuthSettings,
    policy: PasswordPolicy,
}

impl<P: Ports> std::fmt::Debug for AuthService<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthService")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// Reachability of the dependencies, for `/health`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HealthReport {
    /// The database answered.
    pub database: bool,
    /// The hot store (Redis, or the in-process one) answered.
    pub hot_store: bool,
}

impl HealthReport {
    /// Whether everything answered.
    #[must_use]
    pub fn healthy(&self) -> bool {
        self.database && self.hot_store
    }
}

impl<P: Ports> AuthService<P> {
    /// Wires the use cases to their ports.
    #[allow(clippy::too_many_arguments)]
    #[must_use]
    pub fn new(
        store: P::Store,
        hasher: P::Hasher,
        tokens: P::Tokens,
        hot: P::Hot,
        clock: P::Clock,
        random: P::Random,
        settings: AuthSettings,
    ) -> Self {
        Self {
            store,
            hasher,
            tokens,
            hot,
            clock,
            random,
            settings,
            policy: PasswordPolicy::default(),
        }
    }

    /// The settings the service runs with.
    #[must_use]
    pub fn settings(&self) -> &AuthSettings {
        &self.settings
    }

    /// Checks every dependency.
    pub async fn health(&self) -> HealthReport {
        let (database, hot_store) = (self.store.ping().await, self.hot.ping().await);
        if let Err(err) = &database {
            tracing::warn!(error = %err, "health: database check failed");
        }
        if let Err(err) = &hot_store {
            tracing::warn!(error = %err, "health: hot store check failed");
        }
        HealthReport {
            database: database.is_ok(),
            hot_store: hot_store.is_ok(),
        }
    }

    fn now(&self) -> Timestamp {
        self.clock.now()
    }
}

/// `now + ttl`, saturating instead of overflowing on absurd durations.
pub(crate) fn after(now: Timestamp, ttl: std::time::Duration) -> Timestamp {
    chrono::TimeDelta::from_std(ttl)
        .ok()
        .and_then(|delta| now.checked_add_signed(delta))
        .unwrap_or(chrono::DateTime::<chrono::Utc>::MAX_UTC)
}
