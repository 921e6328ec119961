//! The `accounts` context: registration, email verification, the current
//! user, password change. (Recovery, profiles, preferences, export and
//! deletion land here too.)

mod cache;
mod change_password;
mod delete;
mod mail;
mod preferences;
mod profile;
mod recovery;
mod register;
mod verify_email;

use std::future::Future;

use auth_domain::access::RoleRepository;
use auth_domain::accounts::{OneTimeTokenRepository, UserRepository};
use auth_domain::activity::{AuditLog, OutboxRepository};
use auth_domain::limits::RateLimiter;
use auth_domain::organizations::InvitationRepository;
use auth_domain::password::PasswordHasher;
use auth_domain::sessions::{RevocationList, SessionRepository};
use auth_domain::system::{Clock, SecureRandom};
use auth_domain::{
    AccessClaims, AccountRequestKind, Email, Password, RequestContext, Role, User, UserId,
};

pub use cache::ViewCache;
pub use change_password::{ChangePasswordError, ChangePasswordRequest};
pub use delete::DeleteAccountError;
pub use preferences::{Notifications, Preferences, Theme};
pub use profile::{ProfileAccessError, ProfilePatch};
pub use recovery::{ResetPasswordError, ResetPasswordRequest};
pub use register::{RegisterError, RegisterRequest};
pub use verify_email::VerifyEmailError;

use crate::{AuthSettings, Credentials, Failure, Limits, Revoker};

/// An account as the API shows it: the user and their global roles.
#[derive(Clone, Debug)]
pub struct AccountView {
    /// The account.
    pub user: User,
    /// Its global roles.
    pub roles: Vec<Role>,
}

/// Why the current user could not be read.
#[derive(Debug, thiserror::Error)]
pub enum CurrentUserError {
    /// The token's account no longer exists.
    #[error("unknown account")]
    Unknown,
    /// A dependency failed.
    #[error(transparent)]
    Failed(#[from] Failure),
}

/// What the HTTP layer may ask of the `accounts` context.
pub trait Accounts: Send + Sync + 'static {
    /// Registers an account and queues its verification email.
    fn register(
        &self,
        request: RegisterRequest,
        ctx: &RequestContext,
    ) -> impl Future<Output = Result<AccountView, RegisterError>> + Send;

    /// Verifies an address with the raw token from its email.
    fn verify_email(
        &self,
        token: &str,
        ctx: &RequestContext,
    ) -> impl Future<Output = Result<AccountView, VerifyEmailError>> + Send;

    /// The account behind an access token.
    fn current_user(
        &self,
        user: UserId,
    ) -> impl Future<Output = Result<AccountView, CurrentUserError>> + Send;

    /// Changes the password of the token's user, keeping the token's session
    /// and revoking every other one.
    fn change_password(
        &self,
        claims: &AccessClaims,
        request: ChangePasswordRequest,
        ctx: &RequestContext,
    ) -> impl Future<Output = Result<(), ChangePasswordError>> + Send;

    /// Asks for a reset link for `email`: the same answer, and the same
    /// work before it, whether or not the address has an account.
    fn forgot_password(
        &self,
        email: Email,
        ctx: &RequestContext,
    ) -> impl Future<Output = Result<(), Failure>> + Send;

    /// Asks for a new verification link for `email`: the same answer for
    /// unknown, unverified and verified addresses.
    fn resend_verification(
        &self,
        email: Email,
        ctx: &RequestContext,
    ) -> impl Future<Output = Result<(), Failure>> + Send;

    /// Sets a new password with a mailed reset token.
    fn reset_password(
        &self,
        request: ResetPasswordRequest,
        ctx: &RequestContext,
    ) -> impl Future<Output = Result<(), ResetPasswordError>> + Send;

    /// A user's profile: one's own, or anyone's with `users:read`.
    fn profile(
        &self,
        caller: &AccessClaims,
        user: UserId,
    ) -> impl Future<Output = Result<AccountView, ProfileAccessError>> + Send;

    /// Changes a profile: one's own, or anyone's with `users:write`.
    fn update_profile(
        &self,
        caller: &AccessClaims,
        user: UserId,
        patch: ProfilePatch,
        ctx: &RequestContext,
    ) -> impl Future<Output = Result<AccountView, ProfileAccessError>> + Send;

    /// A user's preferences: one's own, or anyone's with `users:read`.
    fn preferences(
        &self,
        caller: &AccessClaims,
        user: UserId,
    ) -> impl Future<Output = Result<Preferences, ProfileAccessError>> + Send;

    /// Changes preferences by a merge patch: one's own, or anyone's with
    /// `users:write`.
    fn update_preferences(
        &self,
        caller: &AccessClaims,
        user: UserId,
        patch: &serde_json::Value,
        ctx: &RequestContext,
    ) -> impl Future<Output = Result<Preferences, ProfileAccessError>> + Send;

    /// Deletes an account: one's own with a recent proof and the password,
    /// or anyone's with `users:write` and a recent proof.
    fn delete_account(
        &self,
        caller: &AccessClaims,
        user: UserId,
        password: Option<Password>,
        ctx: &RequestContext,
    ) -> impl Future<Output = Result<(), DeleteAccountError>> + Send;
}

/// The ports the `accounts` context uses.
pub trait AccountPorts: Send + Sync + 'static {
    /// User accounts.
    type Users: UserRepository + Clone;
    /// Mailed single-use tokens.
    type OneTimeTokens: OneTimeTokenRepository + Clone;
    /// Role assignments.
    type Roles: RoleRepository + Clone;
    /// Sessions (revoked on a password change).
    type Sessions: SessionRepository + Clone;
    /// The revocation list.
    type Revocations: RevocationList + Clone;
    /// Password hashing.
    type Hasher: PasswordHasher + Clone;
    /// Randomness for tokens.
    type Random: SecureRandom + Clone;
    /// Time.
    type Clock: Clock + Clone;
    /// Rate limits.
    type Limiter: RateLimiter + Clone;
    /// The outbox, for requests handled after the response.
    type Outbox: OutboxRepository + Clone;
    /// The audit trail, for requests about unknown addresses.
    type Audit: AuditLog + Clone;
    /// Invitations, for registrations that follow one.
    type Invitations: InvitationRepository + Clone;
    /// Second-factor methods (what step-up asks for).
    type Methods: auth_domain::mfa::MethodRepository + Clone;
    /// The other instances' access caches.
    type Changes: auth_domain::access::AccessChanges + Clone;
}

/// The adapters an [`AccountService`] is built from.
#[derive(Debug)]
pub struct AccountAdapters<P: AccountPorts> {
    /// User accounts.
    pub users: P::Users,
    /// Mailed single-use tokens.
    pub one_time_tokens: P::OneTimeTokens,
    /// Role assignments.
    pub roles: P::Roles,
    /// Sessions.
    pub sessions: P::Sessions,
    /// The revocation list.
    pub revocations: P::Revocations,
    /// Password hashing.
    pub hasher: P::Hasher,
    /// Randomness.
    pub random: P::Random,
    /// Time.
    pub clock: P::Clock,
    /// Rate limits.
    pub limiter: P::Limiter,
    /// The outbox.
    pub outbox: P::Outbox,
    /// The audit trail.
    pub audit: P::Audit,
    /// Invitations.
    pub invitations: P::Invitations,
    /// Second-factor methods.
    pub methods: P::Methods,
    /// Change announcements.
    pub changes: P::Changes,
}

/// The `accounts` use cases.
pub struct AccountService<P: AccountPorts> {
    users: P::Users,
    one_time_tokens: P::OneTimeTokens,
    roles: P::Roles,
    credentials: Credentials<P::Hasher>,
    revoker: Revoker<P::Sessions, P::Revocations, P::Clock>,
    limits: Limits<P::Limiter>,
    outbox: P::Outbox,
    audit: P::Audit,
    invitations: P::Invitations,
    changes: P::Changes,
    step_up: crate::shared::StepUp<P::Methods, P::Clock>,
    random: P::Random,
    clock: P::Clock,
    settings: AuthSettings,
    views: ViewCache,
}

impl<P: AccountPorts> std::fmt::Debug for AccountService<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountService").finish_non_exhaustive()
    }
}

impl<P: AccountPorts> AccountService<P> {
    /// Wires the use cases to their adapters.
    #[must_use]
    pub fn new(adapters: AccountAdapters<P>, settings: AuthSettings) -> Self {
        let AccountAdapters {
            users,
            one_time_tokens,
            roles,
            sessions,
            revocations,
            hasher,
            random,
            clock,
            limiter,
            outbox,
            audit,
            invitations,
            methods,
            changes,
        } = adapters;
        Self {
            invitations,
            changes,
            step_up: crate::shared::StepUp::new(
                methods,
                clock.clone(),
                settings.mfa.step_up_max_age,
            ),
            users,
            one_time_tokens,
            roles,
            credentials: Credentials::new(hasher),
            revoker: Revoker::new(sessions, revocations, clock.clone(), &settings),
            limits: Limits::new(limiter, settings.limits.clone()),
            outbox,
            audit,
            random,
            clock,
            views: ViewCache::new(settings.view_cache_ttl),
            settings,
        }
    }

    /// The cache of account views `current_user` reads through; whatever
    /// else changes accounts drops its entries.
    #[must_use]
    pub fn view_cache(&self) -> &ViewCache {
        &self.views
    }

    async fn view(&self, user: User) -> Result<AccountView, Failure> {
        let roles = self.roles.roles_of(user.id).await?;
        Ok(AccountView { user, roles })
    }
}

impl<P: AccountPorts> Accounts for AccountService<P> {
    async fn preferences(
        &self,
        caller: &AccessClaims,
        user: UserId,
    ) -> Result<Preferences, ProfileAccessError> {
        self.read_preferences(caller, user).await
    }

    async fn update_preferences(
        &self,
        caller: &AccessClaims,
        user: UserId,
        patch: &serde_json::Value,
        ctx: &RequestContext,
    ) -> Result<Preferences, ProfileAccessError> {
        self.change_preferences(caller, user, patch, ctx).await
    }

    async fn delete_account(
        &self,
        caller: &AccessClaims,
        user: UserId,
        password: Option<Password>,
        ctx: &RequestContext,
    ) -> Result<(), DeleteAccountError> {
        self.delete_user(caller, user, password, ctx).await
    }

    async fn profile(
        &self,
        caller: &AccessClaims,
        user: UserId,
    ) -> Result<AccountView, ProfileAccessError> {
        self.read_profile(caller, user).await
    }

    async fn update_profile(
        &self,
        caller: &AccessClaims,
        user: UserId,
        patch: ProfilePatch,
        ctx: &RequestContext,
    ) -> Result<AccountView, ProfileAccessError> {
        self.change_profile(caller, user, patch, ctx).await
    }

    async fn register(
        &self,
        request: RegisterRequest,
        ctx: &RequestContext,
    ) -> Result<AccountView, RegisterError> {
        let started = std::time::Instant::now();
        let result = self.register_account(request, ctx).await;
        metrics::histogram!("auth_operation_duration_seconds", "operation" => "register")
            .record(started.elapsed().as_secs_f64());
        if result.is_ok() {
            metrics::counter!("auth_registrations_total").increment(1);
        }
        result
    }

    async fn verify_email(
        &self,
        token: &str,
        ctx: &RequestContext,
    ) -> Result<AccountView, VerifyEmailError> {
        self.verify_address(token, ctx).await
    }

    async fn current_user(&self, user: UserId) -> Result<AccountView, CurrentUserError> {
        let now = self.clock.now();
        if let Some(view) = self.views.get(user, now) {
            return Ok(view);
        }
        let user = self
            .users
            .find_by_id(user)
            .await
            .map_err(Failure::from)?
            .ok_or(CurrentUserError::Unknown)?;
        let view = self.view(user).await?;
        self.views.put(&view, now);
        Ok(view)
    }

    async fn change_password(
        &self,
        claims: &AccessClaims,
        request: ChangePasswordRequest,
        ctx: &RequestContext,
    ) -> Result<(), ChangePasswordError> {
        self.change(claims, request, ctx).await
    }

    async fn forgot_password(&self, email: Email, ctx: &RequestContext) -> Result<(), Failure> {
        self.queue_request(AccountRequestKind::ResetPassword, email, ctx)
            .await
    }

    async fn resend_verification(&self, email: Email, ctx: &RequestContext) -> Result<(), Failure> {
        self.queue_request(AccountRequestKind::ResendVerification, email, ctx)
            .await
    }

    async fn reset_password(
        &self,
        request: ResetPasswordRequest,
        ctx: &RequestContext,
    ) -> Result<(), ResetPasswordError> {
        self.reset(request, ctx).await
    }
}
