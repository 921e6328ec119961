//! Port traits: what the use cases need from the outside world. Adapters in
//! `auth-infrastructure` implement them; in-memory versions back unit tests.
//!
//! Signatures carry no driver types: adapters convert their errors into the
//! port errors below at the boundary.

use std::future::Future;
use std::time::Duration;

use crate::{
    AccessClaims, AuditEvent, MessageId, NewSession, OneTimeToken, OutboxMessage, Password,
    PasswordHash, Session, SessionId, Timestamp, TokenHash, TokenId, TokenPurpose, User, UserId,
};
use crate::{Email, EmailMessage, OpaqueToken};

/// A storage or hot-state failure. The message is for logs only: it may carry
/// driver detail and never reaches a response.
#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    /// The backing service cannot be reached (connection refused, pool
    /// exhausted, timed out): the request may succeed later.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// Anything else.
    #[error("{0}")]
    Other(String),
}

/// Everything a registration writes, atomically: the account, its first
/// verification token, the verification email and the audit events.
#[derive(Clone, Debug)]
pub struct Registration {
    /// The new account.
    pub user: User,
    /// The verification token (hash only).
    pub verification: OneTimeToken,
    /// The verification email, queued in the outbox.
    pub mail: OutboxMessage,
    /// Audit events of the registration.
    pub events: Vec<AuditEvent>,
}

/// Why an account could not be created.
#[derive(Debug, thiserror::Error)]
pub enum CreateUserError {
    /// Another account has the email address.
    #[error("email taken")]
    EmailTaken,
    /// Storage failed.
    #[error(transparent)]
    Repo(#[from] RepoError),
}

/// User accounts.
pub trait UserRepository: Send + Sync + 'static {
    /// Stores a registration in one transaction.
    fn create_user(
        &self,
        registration: Registration,
    ) -> impl Future<Output = Result<(), CreateUserError>> + Send;

    /// The account with this normalized email, if any.
    fn find_user_by_email(
        &self,
        email: &Email,
    ) -> impl Future<Output = Result<Option<User>, RepoError>> + Send;

    /// The account with this id, if any.
    fn find_user_by_id(
        &self,
        id: UserId,
    ) -> impl Future<Output = Result<Option<User>, RepoError>> + Send;

    /// In one transaction: replaces the password hash, revokes every session
    /// of the user but `keep` (all when `None`) and records `event`. Returns
    /// the revoked session ids.
    fn change_password(
        &self,
        id: UserId,
        hash: &PasswordHash,
        keep: Option<SessionId>,
        reason: RevokeReason,
        now: Timestamp,
        event: AuditEvent,
    ) -> impl Future<Output = Result<Vec<SessionId>, RepoError>> + Send;

    /// Replaces the password hash (after a rehash with current parameters).
    fn update_password_hash(
        &self,
        id: UserId,
        hash: &PasswordHash,
        now: Timestamp,
    ) -> impl Future<Output = Result<(), RepoError>> + Send;
}

/// Single-use email tokens.
pub trait OneTimeTokenRepository: Send + Sync + 'static {
    /// The token with this hash and purpose, used or not.
    fn find_one_time_token(
        &self,
        hash: &TokenHash,
        purpose: TokenPurpose,
    ) -> impl Future<Output = Result<Option<OneTimeToken>, RepoError>> + Send;

    /// In one transaction: consumes the token if it is still unconsumed
    /// (compare-and-set), marks the user's email verified and records `event`.
    /// Returns `false`, changing nothing, when the token was consumed first by
    /// someone else.
    fn complete_email_verification(
        &self,
        token: TokenId,
        user: UserId,
        now: Timestamp,
        event: AuditEvent,
    ) -> impl Future<Output = Result<bool, RepoError>> + Send;
}

/// A stored refresh token and the session it belongs to.
#[derive(Clone, Debug)]
pub struct RefreshTokenRecord {
    /// The session.
    pub session: Session,
    /// When the token was rotated out; `None` while it is the current one.
    pub used_at: Option<Timestamp>,
}

/// Outcome of a rotation attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rotation {
    /// The presented token was current; the successor is now.
    Rotated,
    /// The presented token was no longer current (a concurrent refresh won).
    NotCurrent,
    /// The session was revoked or expired, or its account is no longer
    /// active: nothing rotated.
    SessionEnded,
}

/// Why sessions are revoked (stored with them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RevokeReason {
    /// The user logged out of this session.
    Logout,
    /// The user revoked the session from another one.
    Revoked,
    /// The user logged out everywhere.
    LogoutAll,
    /// A rotated-out refresh token was presented again.
    TokenReuse,
    /// The password was changed.
    PasswordChanged,
    /// The password was reset.
    PasswordReset,
}

impl RevokeReason {
    /// The stored name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Logout => "logout",
            Self::Revoked => "revoked",
            Self::LogoutAll => "logout_all",
            Self::TokenReuse => "token_reuse",
            Self::PasswordChanged => "password_changed",
            Self::PasswordReset => "password_reset",
        }
    }
}

/// Which sessions to revoke.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RevokeScope {
    /// One session, if it belongs to the user.
    One(SessionId),
    /// Every session of the user.
    All,
    /// Every session of the user but this one.
    AllExcept(SessionId),
}

/// Login sessions and their refresh tokens.
pub trait SessionRepository: Send + Sync + 'static {
    /// Stores a new session with its first refresh token and the login event.
    fn create_session(
        &self,
        new: NewSession,
        event: AuditEvent,
    ) -> impl Future<Output = Result<(), RepoError>> + Send;

    /// The session with this id, if any.
    fn find_session(
        &self,
        id: SessionId,
    ) -> impl Future<Output = Result<Option<Session>, RepoError>> + Send;

    /// The refresh token with this hash (current or rotated out) and its session.
    fn find_refresh_token(
        &self,
        hash: &TokenHash,
    ) -> impl Future<Output = Result<Option<RefreshTokenRecord>, RepoError>> + Send;

    /// One atomic compare-and-set: marks `presented` used if it is still
    /// current and its session is live (not revoked, not expired, account
    /// active), stores `next` as the session's current token, touches the
    /// session and records `event`. Of concurrent rotations of one token,
    /// on any number of instances, exactly one gets `Rotated`.
    fn rotate_refresh_token(
        &self,
        session: SessionId,
        presented: &TokenHash,
        next: &TokenHash,
        now: Timestamp,
        event: AuditEvent,
    ) -> impl Future<Output = Result<Rotation, RepoError>> + Send;

    /// Marks the user's active sessions in `scope` revoked and records
    /// `event`; returns the ids that were revoked by this call.
    fn revoke_sessions(
        &self,
        user: UserId,
        scope: RevokeScope,
        reason: RevokeReason,
        now: Timestamp,
        event: AuditEvent,
    ) -> impl Future<Output = Result<Vec<SessionId>, RepoError>> + Send;

    /// The user's sessions that are neither revoked nor expired, newest first.
    fn list_active_sessions(
        &self,
        user: UserId,
        now: Timestamp,
    ) -> impl Future<Output = Result<Vec<Session>, RepoError>> + Send;

    /// Sessions revoked at or after `since`, to rebuild revocation mirrors.
    fn revoked_since(
        &self,
        since: Timestamp,
    ) -> impl Future<Output = Result<Vec<SessionId>, RepoError>> + Send;
}

/// The audit trail.
pub trait AuditLog: Send + Sync + 'static {
    /// Appends an event.
    fn record(&self, event: AuditEvent) -> impl Future<Output = Result<(), RepoError>> + Send;
}

/// The delivery side of the transactional outbox. Messages are written by the
/// other repositories, in the transaction of the change that caused them.
pub trait OutboxRepository: Send + Sync + 'static {
    /// Leases up to `limit` due messages until `lease_until`, so that no other
    /// worker (on any instance) delivers them meanwhile.
    fn claim_due_messages(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
    ) -> impl Future<Output = Result<Vec<OutboxMessage>, RepoError>> + Send;

    /// Marks a message delivered and clears its body: a sent message keeps
    /// its metadata (kind, recipient, subject, times, attempts) but no longer
    /// the content, which may hold a one-time token.
    fn mark_sent(
        &self,
        message: &OutboxMessage,
        now: Timestamp,
    ) -> impl Future<Output = Result<(), RepoError>> + Send;

    /// Gives back the lease of messages claimed but not attempted (the
    /// worker is stopping), so another worker may deliver them at once.
    fn release(&self, ids: &[MessageId]) -> impl Future<Output = Result<(), RepoError>> + Send;

    /// Deletes messages sent, or given up on, before `before`; returns how
    /// many.
    fn purge_finished(
        &self,
        before: Timestamp,
    ) -> impl Future<Output = Result<u64, RepoError>> + Send;

    /// Records a failed attempt and when to try again.
    fn schedule_retry(
        &self,
        id: MessageId,
        attempts: u32,
        next_attempt_at: Timestamp,
        error: &str,
    ) -> impl Future<Output = Result<(), RepoError>> + Send;

    /// Gives up on a message after its last attempt.
    fn mark_failed(
        &self,
        id: MessageId,
        attempts: u32,
        now: Timestamp,
        error: &str,
    ) -> impl Future<Output = Result<(), RepoError>> + Send;

    /// When the earliest pending message falls due, if any.
    fn next_due_at(&self) -> impl Future<Output = Result<Option<Timestamp>, RepoError>> + Send;

    /// Number of messages not yet delivered nor given up on.
    fn pending_count(&self) -> impl Future<Output = Result<u64, RepoError>> + Send;
}

/// A dependency whose reachability `/health` reports.
pub trait HealthProbe: Send + Sync + 'static {
    /// Succeeds when the dependency answers.
    fn ping(&self) -> impl Future<Output = Result<(), RepoError>> + Send;
}

/// Why a password could not be hashed or verified.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// The hashing pool's queue is full: shed load, ask the client to retry.
    #[error("password hashing pool is saturated")]
    Busy {
        /// A reasonable time to wait.
        retry_after: Duration,
    },
    /// The stored hash is unreadable or the hasher failed.
    #[error("password hashing failed: {0}")]
    Failed(String),
}

/// Result of checking a password against a hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PasswordCheck {
    /// Wrong password.
    Mismatch,
    /// Right password; `needs_rehash` when the hash has outdated parameters.
    Match {
        /// The hash should be replaced by one with current parameters.
        needs_rehash: bool,
    },
}

/// Slow, salted password hashing. Implementations keep the CPU-bound work off
/// the request threads.
pub trait PasswordHasher: Send + Sync + 'static {
    /// Hashes with the current parameters.
    fn hash(
        &self,
        password: Password,
    ) -> impl Future<Output = Result<PasswordHash, HashError>> + Send;

    /// Checks a password against a stored hash.
    fn verify(
        &self,
        password: Password,
        hash: PasswordHash,
    ) -> impl Future<Output = Result<PasswordCheck, HashError>> + Send;

    /// A valid hash of no one's password, to verify against when an account
    /// does not exist so that timing reveals nothing.
    fn dummy_hash(&self) -> PasswordHash;
}

/// Why an access token was not accepted. Callers answer all of these the same
/// way; the variants are for logs and metrics.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum TokenRejection {
    /// Not a well-formed JWT, or a claim is missing or mistyped.
    #[error("malformed token")]
    Malformed,
    /// Wrong algorithm, unknown key or bad signature.
    #[error("bad signature or algorithm")]
    BadSignature,
    /// Wrong `iss`, `aud` or `typ`.
    #[error("wrong issuer, audience or type")]
    WrongAudience,
    /// Past `exp` (beyond the leeway).
    #[error("expired")]
    Expired,
    /// Before `nbf` (beyond the leeway).
    #[error("not yet valid")]
    NotYetValid,
    /// The session was revoked.
    #[error("revoked")]
    Revoked,
}

/// Signing failed (a broken key: a deployment fault).
#[derive(Debug, thiserror::Error)]
#[error("token signing failed: {0}")]
pub struct SigningError(pub String);

/// Issues signed access tokens.
pub trait AccessTokenIssuer: Send + Sync + 'static {
    /// Signs `claims` into a compact JWS.
    ///
    /// # Errors
    /// [`SigningError`] when the key cannot sign.
    fn issue(&self, claims: &AccessClaims) -> Result<String, SigningError>;
}

/// Verifies access tokens offline (signature, algorithm, issuer, audience,
/// type, time). Revocation is checked separately, against the
/// [`RevocationList`].
pub trait AccessTokenVerifier: Send + Sync + 'static {
    /// The claims of a valid token.
    ///
    /// # Errors
    /// [`TokenRejection`] says why the token is not valid at `now`.
    fn verify(&self, token: &str, now: Timestamp) -> Result<AccessClaims, TokenRejection>;
}

/// Revoked sessions, shared by every instance. Reads hit an in-memory mirror
/// so checking a token costs no network round trip.
pub trait RevocationList: Send + Sync + 'static {
    /// Whether the session was revoked.
    fn is_revoked(&self, session: SessionId) -> bool;

    /// Marks sessions revoked on every instance; entries may be forgotten after
    /// `until` (the last expiry of an access token issued for them).
    fn revoke(
        &self,
        sessions: &[SessionId],
        until: Timestamp,
    ) -> impl Future<Output = Result<(), RepoError>> + Send;
}

/// A refresh answer kept for `sessions.refresh_reuse_grace`, so a client
/// that races itself (two tabs) gets the same successor instead of a reuse
/// alarm. Kept only in the hot store, only for the window.
#[derive(Clone, PartialEq, Eq)]
pub struct GraceEntry {
    /// The successor refresh token (raw).
    pub refresh_token: String,
    /// The access token issued with it.
    pub access_token: String,
}

impl std::fmt::Debug for GraceEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("GraceEntry([redacted])")
    }
}

/// Short-lived memory of recent rotations, keyed by the rotated-out token.
pub trait RefreshGrace: Send + Sync + 'static {
    /// Remembers the successor of `presented` for `ttl`.
    fn remember(
        &self,
        presented: &TokenHash,
        entry: &GraceEntry,
        ttl: Duration,
    ) -> impl Future<Output = Result<(), RepoError>> + Send;

    /// The successor of `presented`, if still remembered.
    fn recall(
        &self,
        presented: &TokenHash,
    ) -> impl Future<Output = Result<Option<GraceEntry>, RepoError>> + Send;
}

/// Delivers email. Used only by the outbox worker, never by a use case.
pub trait Mailer: Send + Sync + 'static {
    /// Sends one message.
    fn send(&self, message: &EmailMessage) -> impl Future<Output = Result<(), MailError>> + Send;
}

/// Delivery failed; the outbox will retry.
#[derive(Debug, thiserror::Error)]
#[error("mail delivery failed: {0}")]
pub struct MailError(pub String);

/// The current time. Injected so tests control it.
pub trait Clock: Send + Sync + 'static {
    /// Now, in UTC.
    fn now(&self) -> Timestamp;
}

/// The operating system's randomness could not be read.
#[derive(Debug, thiserror::Error)]
#[error("secure random source failed: {0}")]
pub struct RandomError(pub String);

/// Cryptographically secure randomness for tokens.
pub trait SecureRandom: Send + Sync + 'static {
    /// A fresh 256-bit token, URL-safe base64 without padding.
    ///
    /// # Errors
    /// [`RandomError`] when the OS source fails.
    fn token(&self) -> Result<OpaqueToken, RandomError>;
}
