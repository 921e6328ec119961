//! What the `accounts` context needs from storage.

use std::future::Future;

use super::{AccountStatus, Profile, Suspension};
use crate::sessions::{RevokeReason, RevokeScope};
use crate::{
    Effects, Email, OneTimeToken, PasswordHash, RepoError, Role, SessionId, Timestamp, TokenHash,
    TokenId, TokenPurpose, User, UserId,
};

/// Everything a registration writes, atomically: the account, its roles, its
/// first verification token, and the effects (audit events, the
/// verification email).
#[derive(Clone, Debug)]
pub struct NewAccount {
    /// The new account.
    pub user: User,
    /// Its global roles.
    pub roles: Vec<Role>,
    /// The verification token (hash only).
    pub verification: OneTimeToken,
    /// Audit events and queued messages of the registration.
    pub effects: Effects,
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

/// User accounts (the `users` aggregate).
pub trait UserRepository: Send + Sync + 'static {
    /// Stores a registration in one transaction.
    fn create(
        &self,
        account: NewAccount,
    ) -> impl Future<Output = Result<(), CreateUserError>> + Send;

    /// The account with this normalized email, if any.
    fn find_by_email(
        &self,
        email: &Email,
    ) -> impl Future<Output = Result<Option<User>, RepoError>> + Send;

    /// The account with this id, if any.
    fn find_by_id(
        &self,
        id: UserId,
    ) -> impl Future<Output = Result<Option<User>, RepoError>> + Send;

    /// In one transaction: replaces the password hash, revokes the user's
    /// sessions in `revoke`, and writes `effects`. Returns the revoked
    /// session ids.
    fn change_password(
        &self,
        id: UserId,
        hash: &PasswordHash,
        revoke: RevokeScope,
        reason: RevokeReason,
        now: Timestamp,
        effects: Effects,
    ) -> impl Future<Output = Result<Vec<SessionId>, RepoError>> + Send;

    /// Deletes accounts still unverified that were registered before
    /// `before` (with everything that hangs off them; audit rows stay).
    fn delete_unverified(
        &self,
        before: Timestamp,
    ) -> impl Future<Output = Result<u64, RepoError>> + Send;

    /// Replaces the password hash (after a rehash with current parameters).
    fn set_password_hash(
        &self,
        id: UserId,
        hash: &PasswordHash,
        now: Timestamp,
    ) -> impl Future<Output = Result<(), RepoError>> + Send;

    /// Replaces the profile and writes `effects`; the updated account, or
    /// `None` when there is none.
    fn update_profile(
        &self,
        id: UserId,
        profile: &Profile,
        now: Timestamp,
        effects: Effects,
    ) -> impl Future<Output = Result<Option<User>, RepoError>> + Send;

    /// In one transaction: marks the account suspended with `suspension`,
    /// revokes every active session of the user (reason `Suspended`) and
    /// writes `effects`. The revoked session ids, or `None` when there is
    /// no such account.
    fn suspend(
        &self,
        id: UserId,
        suspension: &Suspension,
        now: Timestamp,
        effects: Effects,
    ) -> impl Future<Output = Result<Option<Vec<SessionId>>, RepoError>> + Send;

    /// Makes the account active again and writes `effects`; `false` when
    /// there is no such account.
    fn reactivate(
        &self,
        id: UserId,
        now: Timestamp,
        effects: Effects,
    ) -> impl Future<Output = Result<bool, RepoError>> + Send;

    /// Reactivates every account whose suspension had an `until` at or
    /// before `now`; returns them.
    fn lift_suspensions(
        &self,
        now: Timestamp,
    ) -> impl Future<Output = Result<Vec<UserId>, RepoError>> + Send;

    /// The user's preferences as stored (a JSON object), `None` when never
    /// set or no such user.
    fn preferences(
        &self,
        id: UserId,
    ) -> impl Future<Output = Result<Option<String>, RepoError>> + Send;

    /// Replaces the preferences (a JSON object) and writes `effects`;
    /// `false` when there is no such user.
    fn set_preferences(
        &self,
        id: UserId,
        preferences: &str,
        now: Timestamp,
        effects: Effects,
    ) -> impl Future<Output = Result<bool, RepoError>> + Send;

    /// Deletes the account and everything personal that hangs off it
    /// (sessions, tokens, methods, codes, memberships, preferences), keeps
    /// its audit rows with the user id only (addresses, user agents and
    /// details cleared), writes `effects`, in one transaction — unless the
    /// user is the last owner of a live organization. Returns the revoked
    /// sessions.
    fn delete_account(
        &self,
        id: UserId,
        now: Timestamp,
        effects: Effects,
    ) -> impl Future<Output = Result<AccountDeletion, RepoError>> + Send;

    /// Accounts matching `filter`, in id order after `after`, at most
    /// `limit`, and the id the next page starts after (when there is one).
    fn search(
        &self,
        filter: &UserFilter,
        after: Option<UserId>,
        limit: u32,
    ) -> impl Future<Output = Result<(Vec<User>, Option<UserId>), RepoError>> + Send;
}

/// What deleting an account did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum AccountDeletion {
    /// Deleted; these sessions were live and must be refused everywhere.
    Deleted(Vec<SessionId>),
    /// The user is the last owner of an organization: nothing changed.
    LastOwner,
    /// The user is the last holder of `admin`: nothing changed.
    LastAdmin,
    /// No such account.
    NotFound,
}

/// What an administrator searches users by.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserFilter {
    /// A prefix of the (normalized) email, or a part of the name
    /// (case-insensitive).
    pub query: Option<String>,
    /// Only this status.
    pub status: Option<AccountStatus>,
    /// Only holders of this global role.
    pub role: Option<String>,
    /// Only members of this organization.
    pub organization: Option<crate::OrganizationId>,
}

/// Single-use email tokens (the `one_time_tokens` aggregate).
pub trait OneTimeTokenRepository: Send + Sync + 'static {
    /// In one transaction: marks the user's unused tokens of the same
    /// purpose consumed (superseded), stores `token`, and writes `effects`
    /// (the mail that carries it).
    fn issue(
        &self,
        token: OneTimeToken,
        effects: Effects,
    ) -> impl Future<Output = Result<(), RepoError>> + Send;

    /// In one transaction: consumes the reset token if still unconsumed
    /// (compare-and-set), sets the password hash, marks the email verified
    /// (the reset proved the address), revokes every session of the user
    /// and writes `effects`. `None`, changing nothing, when the token was
    /// consumed first; otherwise the revoked sessions.
    fn complete_password_reset(
        &self,
        token: TokenId,
        user: UserId,
        hash: &PasswordHash,
        now: Timestamp,
        effects: Effects,
    ) -> impl Future<Output = Result<Option<Vec<SessionId>>, RepoError>> + Send;

    /// Deletes tokens used, superseded or expired before `before`.
    fn purge_spent(&self, before: Timestamp)
    -> impl Future<Output = Result<u64, RepoError>> + Send;

    /// The token with this hash and purpose, used or not.
    fn find(
        &self,
        hash: &TokenHash,
        purpose: TokenPurpose,
    ) -> impl Future<Output = Result<Option<OneTimeToken>, RepoError>> + Send;

    /// In one transaction: consumes the token if it is still unconsumed
    /// (compare-and-set), marks the user's email verified and writes
    /// `effects`. Returns `false`, changing nothing, when the token was
    /// consumed first by someone else.
    fn complete_email_verification(
        &self,
        token: TokenId,
        user: UserId,
        now: Timestamp,
        effects: Effects,
    ) -> impl Future<Output = Result<bool, RepoError>> + Send;
}
