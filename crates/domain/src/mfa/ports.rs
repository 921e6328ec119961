//! What the `mfa` context needs from storage, keys and the hashing pool.

use std::future::Future;

use super::{BackupCode, BackupCodeSummary, CodeChallenge, MfaMethod, PendingLogin, SealedSecret};
use crate::password::HashError;
use crate::sessions::Assurance;
use crate::{ChallengeId, Effects, MethodId, RepoError, SessionId, Timestamp, TokenHash, UserId};

/// RFC 6238 codes (HMAC-SHA1, 6 digits) for one time step.
pub trait TotpCodes: Send + Sync + 'static {
    /// The code of `secret` at `step`.
    fn code(&self, secret: &[u8], step: u64) -> String;
}

impl<T: TotpCodes + ?Sized> TotpCodes for std::sync::Arc<T> {
    fn code(&self, secret: &[u8], step: u64) -> String {
        (**self).code(secret, step)
    }
}

/// A secret could not be sealed or opened (a wrong key, a damaged value).
#[derive(Debug, thiserror::Error)]
#[error("secret box: {0}")]
pub struct CryptoError(pub String);

/// Authenticated encryption of secrets at rest (TOTP secrets).
pub trait SecretBox: Send + Sync + 'static {
    /// Encrypts `plain` under a fresh nonce.
    ///
    /// # Errors
    /// [`CryptoError`] when encryption fails.
    fn seal(&self, plain: &[u8]) -> Result<SealedSecret, CryptoError>;

    /// Decrypts and authenticates.
    ///
    /// # Errors
    /// [`CryptoError`] when the value was not sealed with this key or was
    /// altered.
    fn open(&self, sealed: &SealedSecret) -> Result<Vec<u8>, CryptoError>;
}

impl<T: SecretBox + ?Sized> SecretBox for std::sync::Arc<T> {
    fn seal(&self, plain: &[u8]) -> Result<SealedSecret, CryptoError> {
        (**self).seal(plain)
    }
    fn open(&self, sealed: &SealedSecret) -> Result<Vec<u8>, CryptoError> {
        (**self).open(sealed)
    }
}

/// Salted slow hashes of backup codes, on the hashing pool.
pub trait BackupCodeHasher: Send + Sync + 'static {
    /// Hashes each code with its own salt.
    fn hash_codes(
        &self,
        codes: Vec<String>,
    ) -> impl Future<Output = Result<Vec<String>, HashError>> + Send;

    /// The index of the first of `hashes` that `code` matches, if any.
    fn find_match(
        &self,
        code: String,
        hashes: Vec<String>,
    ) -> impl Future<Output = Result<Option<usize>, HashError>> + Send;
}

/// The changes a confirmed method brings, made together.
#[derive(Debug)]
pub struct Activation {
    /// The pending method to activate.
    pub method: MethodId,
    /// Its owner.
    pub user: UserId,
    /// TOTP: the step of the confirming code (consumed like any other).
    pub step: Option<u64>,
    /// The code challenge the confirming code answered, consumed with it.
    pub challenge: Option<ChallengeId>,
    /// The user's first active method: the backup-code hashes to store and
    /// the session to keep (every other one is revoked).
    pub first: Option<Vec<String>>,
    /// The session that confirmed it, now at this assurance, with `next` as
    /// its only current refresh token.
    pub session: SessionId,
    /// The session's new assurance.
    pub assurance: Assurance,
    /// Hash of the session's new refresh token.
    pub next: TokenHash,
    /// When.
    pub at: Timestamp,
    /// Audit events and mails.
    pub effects: Effects,
}

/// What removing a method did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Removal {
    /// The other sessions it revoked.
    pub revoked: Vec<SessionId>,
    /// Whether it was the last active method (MFA is off, backup codes gone).
    pub mfa_off: bool,
}

/// A user's methods and the codes sent for them.
pub trait MethodRepository: Send + Sync + 'static {
    /// Stores a new (pending) method, replacing an expired pending one of
    /// the same name. `false` when the user already has a live method of
    /// that name.
    fn add(
        &self,
        method: MfaMethod,
        effects: Effects,
    ) -> impl Future<Output = Result<bool, RepoError>> + Send;

    /// One method.
    fn find(
        &self,
        id: MethodId,
    ) -> impl Future<Output = Result<Option<MfaMethod>, RepoError>> + Send;

    /// Every method of the user, oldest first.
    fn list(&self, user: UserId) -> impl Future<Output = Result<Vec<MfaMethod>, RepoError>> + Send;

    /// Confirms a pending method with the changes of [`Activation`], in one
    /// transaction. `None` when the method is no longer pending (another
    /// confirmation won), its challenge was already used, or the session
    /// ended; otherwise the sessions revoked.
    fn activate(
        &self,
        activation: Activation,
    ) -> impl Future<Output = Result<Option<Vec<SessionId>>, RepoError>> + Send;

    /// The compare-and-set that makes a TOTP code single-use: records `step`
    /// on the active method only when it is after the last used one.
    fn use_step(
        &self,
        method: MethodId,
        step: u64,
        now: Timestamp,
    ) -> impl Future<Output = Result<bool, RepoError>> + Send;

    /// Removes the method; revokes the user's other sessions (all but
    /// `keep`); when no active method is left, deletes the backup codes and
    /// pending methods too. One transaction. `None` when the method was not
    /// the user's.
    fn remove(
        &self,
        method: MethodId,
        user: UserId,
        keep: SessionId,
        now: Timestamp,
        effects: Effects,
    ) -> impl Future<Output = Result<Option<Removal>, RepoError>> + Send;

    /// Stores a sent code, with the message that carries it.
    fn add_challenge(
        &self,
        challenge: CodeChallenge,
        effects: Effects,
    ) -> impl Future<Output = Result<(), RepoError>> + Send;

    /// One challenge.
    fn find_challenge(
        &self,
        id: ChallengeId,
    ) -> impl Future<Output = Result<Option<CodeChallenge>, RepoError>> + Send;

    /// The newest challenge of a method.
    fn latest_challenge(
        &self,
        method: MethodId,
    ) -> impl Future<Output = Result<Option<CodeChallenge>, RepoError>> + Send;

    /// Counts a wrong code against the challenge.
    fn fail_challenge(&self, id: ChallengeId)
    -> impl Future<Output = Result<(), RepoError>> + Send;

    /// Uses the challenge: `true` for exactly one caller, while it is
    /// unused, unexpired and has tries left.
    fn consume_challenge(
        &self,
        id: ChallengeId,
        max_attempts: u32,
        now: Timestamp,
    ) -> impl Future<Output = Result<bool, RepoError>> + Send;

    /// Touches an active method after a code of it was accepted.
    fn touch(
        &self,
        method: MethodId,
        now: Timestamp,
    ) -> impl Future<Output = Result<(), RepoError>> + Send;

    /// Deletes pending methods set up before `before` and challenges that
    /// expired before it.
    fn purge_expired(
        &self,
        before: Timestamp,
    ) -> impl Future<Output = Result<u64, RepoError>> + Send;
}

/// A user's backup codes.
pub trait BackupCodeRepository: Send + Sync + 'static {
    /// Replaces the user's whole set with `hashes`, generated at `at`.
    fn replace(
        &self,
        user: UserId,
        hashes: Vec<String>,
        at: Timestamp,
        effects: Effects,
    ) -> impl Future<Output = Result<(), RepoError>> + Send;

    /// The unused codes.
    fn unused(
        &self,
        user: UserId,
    ) -> impl Future<Output = Result<Vec<BackupCode>, RepoError>> + Send;

    /// Remaining count and generation time; `None` without a set.
    fn summary(
        &self,
        user: UserId,
    ) -> impl Future<Output = Result<Option<BackupCodeSummary>, RepoError>> + Send;

    /// Uses one code: `true` for exactly one of concurrent callers.
    fn use_code(
        &self,
        id: uuid::Uuid,
        now: Timestamp,
        effects: Effects,
    ) -> impl Future<Output = Result<bool, RepoError>> + Send;
}

/// Logins waiting for their second factor.
pub trait PendingLoginRepository: Send + Sync + 'static {
    /// Stores one.
    fn create(&self, login: PendingLogin) -> impl Future<Output = Result<(), RepoError>> + Send;

    /// By the hash of its token.
    fn find(
        &self,
        token: &TokenHash,
    ) -> impl Future<Output = Result<Option<PendingLogin>, RepoError>> + Send;

    /// Counts a wrong code against it.
    fn fail(&self, id: uuid::Uuid) -> impl Future<Output = Result<(), RepoError>> + Send;

    /// Finishes it: `true` for exactly one caller, while it is unused,
    /// unexpired and has tries left.
    fn consume(
        &self,
        id: uuid::Uuid,
        max_attempts: u32,
        now: Timestamp,
    ) -> impl Future<Output = Result<bool, RepoError>> + Send;

    /// Deletes those that expired before `before`.
    fn purge_expired(
        &self,
        before: Timestamp,
    ) -> impl Future<Output = Result<u64, RepoError>> + Send;
}
