//! What the `sessions` context needs from storage, hot state and keys.

use std::future::Future;
use std::time::Duration;

use super::Assurance;
use crate::{
    AccessClaims, Effects, NewSession, OrganizationId, RepoError, Session, SessionId, Timestamp,
    TokenHash, UserId,
};

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
    /// Too many wrong `current_password`s were tried with this session's
    /// token: a stolen token must not become a password-guessing oracle.
    PasswordGuessing,
    /// A second factor was added first or removed: other devices sign in
    /// again.
    MfaChanged,
    /// An administrator suspended the account.
    Suspended,
    /// An administrator revoked the user's sessions or reset their MFA.
    AdminRevoked,
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
            Self::PasswordGuessing => "password_guessing",
            Self::MfaChanged => "mfa_changed",
            Self::Suspended => "suspended",
            Self::AdminRevoked => "admin_revoked",
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

impl RevokeScope {
    /// Whether `session` is in the scope.
    #[must_use]
    pub fn covers(self, session: SessionId) -> bool {
        match self {
            Self::One(id) => id == session,
            Self::All => true,
            Self::AllExcept(id) => id != session,
        }
    }
}

/// Login sessions and their refresh tokens (the `sessions` aggregate).
pub trait SessionRepository: Send + Sync + 'static {
    /// Stores a new session with its first refresh token, and `effects`.
    fn create(
        &self,
        new: NewSession,
        effects: Effects,
    ) -> impl Future<Output = Result<(), RepoError>> + Send;

    /// The session with this id, if any.
    fn find(
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
    /// session and writes `effects`. Of concurrent rotations of one token,
    /// on any number of instances, exactly one gets `Rotated`.
    fn rotate_refresh_token(
        &self,
        session: SessionId,
        presented: &TokenHash,
        next: &TokenHash,
        now: Timestamp,
        effects: Effects,
    ) -> impl Future<Output = Result<Rotation, RepoError>> + Send;

    /// Records a fresh interactive proof on a live session (step-up,
    /// re-authentication, a confirmed first factor): sets its assurance,
    /// rotates every unused refresh token of the session out in favour of
    /// `next` (so the pair handed back is the session's only current one),
    /// and writes `effects`, in one transaction. `false` when the session
    /// has ended.
    fn elevate(
        &self,
        session: SessionId,
        assurance: &Assurance,
        next: &TokenHash,
        now: Timestamp,
        effects: Effects,
    ) -> impl Future<Output = Result<bool, RepoError>> + Send;

    /// Sets the organization a live session's tokens name (`None` clears
    /// it), rotating every unused refresh token out in favour of `next` as
    /// [`elevate`](Self::elevate) does, and writes `effects`, in one
    /// transaction. `false` when the session has ended.
    fn switch_organization(
        &self,
        session: SessionId,
        organization: Option<OrganizationId>,
        next: &TokenHash,
        now: Timestamp,
        effects: Effects,
    ) -> impl Future<Output = Result<bool, RepoError>> + Send;

    /// Marks the user's active sessions in `scope` revoked and, when any
    /// was, writes `effects`; returns the ids revoked by this call.
    fn revoke(
        &self,
        user: UserId,
        scope: RevokeScope,
        reason: RevokeReason,
        now: Timestamp,
        effects: Effects,
    ) -> impl Future<Output = Result<Vec<SessionId>, RepoError>> + Send;

    /// The user's sessions that are neither revoked nor expired, newest first.
    fn list_active(
        &self,
        user: UserId,
        now: Timestamp,
    ) -> impl Future<Output = Result<Vec<Session>, RepoError>> + Send;

    /// How many sessions are neither revoked nor expired (a gauge).
    fn count_active(&self, now: Timestamp) -> impl Future<Output = Result<u64, RepoError>> + Send;

    /// Deletes sessions (with their refresh tokens) that expired, or were
    /// revoked, before `before`.
    fn purge_ended(&self, before: Timestamp)
    -> impl Future<Output = Result<u64, RepoError>> + Send;

    /// Sessions revoked at or after `since`, to rebuild revocation mirrors.
    fn revoked_since(
        &self,
        since: Timestamp,
    ) -> impl Future<Output = Result<Vec<SessionId>, RepoError>> + Send;
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

impl<T: AccessTokenIssuer + ?Sized> AccessTokenIssuer for std::sync::Arc<T> {
    fn issue(&self, claims: &AccessClaims) -> Result<String, SigningError> {
        (**self).issue(claims)
    }
}

impl<T: AccessTokenVerifier + ?Sized> AccessTokenVerifier for std::sync::Arc<T> {
    fn verify(&self, token: &str, now: Timestamp) -> Result<AccessClaims, TokenRejection> {
        (**self).verify(token, now)
    }
}

/// Revoked sessions, shared by every instance. Reads hit an in-memory mirror
/// so checking a token costs no network round trip.
pub trait RevocationList: Send + Sync + 'static {
    /// Whether the session was revoked.
    fn is_revoked(&self, session: SessionId) -> bool;

    /// Marks sessions revoked on every instance; entries may be forgotten after
    /// `until` (the last moment an access token issued for them is accepted).
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
