//! Business rules of auth-service: entities, value objects, policies and the
//! port traits that adapters implement. Nothing in this crate does I/O.
//!
//! Sliced by context, the same names in every layer (ARCHITECTURE.md,
//! "Contexts"): [`accounts`], [`sessions`], [`access`], [`activity`]. What
//! every context uses — ids, emails, passwords, opaque tokens, the port
//! error and the system ports (clock, randomness, health) — sits at the top.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod access;
pub mod accounts;
pub mod activity;
pub mod email;
pub mod error;
pub mod ids;
pub mod limits;
pub mod mfa;
pub mod organizations;
pub mod password;
pub mod sessions;
pub mod system;
pub mod token;

#[cfg(any(test, feature = "testing"))]
pub mod testing;

pub use access::Role;
pub use accounts::{AccountStatus, OneTimeToken, SignInRefusal, TokenPurpose, User};
pub use activity::{
    AccountRequest, AccountRequestKind, AuditEvent, AuditEventType, AuditPage, DomainEvent,
    Effects, EmailMessage, OutboxMessage, OutboxPayload, OutboxStatus, RequestContext,
};
pub use email::{Email, EmailError};
pub use error::RepoError;
pub use ids::{
    ChallengeId, EventId, InvitationId, MessageId, MethodId, OrganizationId, RoleId, ServiceKeyId,
    SessionId, TokenId, UserId,
};
pub use password::{Password, PasswordHash, PasswordPolicy, PolicyViolation};
pub use sessions::{Aal, AccessClaims, Amr, Assurance, NewSession, Session};
pub use token::{OpaqueToken, TokenHash};

/// Every instant in the domain is a UTC timestamp.
pub type Timestamp = chrono::DateTime<chrono::Utc>;

/// `at + duration`, saturating at the end of time instead of overflowing on
/// absurd durations.
#[must_use]
pub fn after(at: Timestamp, duration: std::time::Duration) -> Timestamp {
    chrono::TimeDelta::from_std(duration)
        .ok()
        .and_then(|delta| at.checked_add_signed(delta))
        .unwrap_or(chrono::DateTime::<chrono::Utc>::MAX_UTC)
}

/// `at - duration`, saturating at the beginning of time.
#[must_use]
pub fn before(at: Timestamp, duration: std::time::Duration) -> Timestamp {
    chrono::TimeDelta::from_std(duration)
        .ok()
        .and_then(|delta| at.checked_sub_signed(delta))
        .unwrap_or(chrono::DateTime::<chrono::Utc>::MIN_UTC)
}
