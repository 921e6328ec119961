//! The `accounts` context: registration, email verification, the current
//! user, password change. (Recovery, profiles, preferences, export and
//! deletion land here too.)

mod change_password;
mod mail;
mod register;
mod verify_email;

use std::future::Future;

use auth_domain::access::RoleRepository;
use auth_domain::accounts::{OneTimeTokenRepository, UserRepository};
use auth_domain::limits::RateLimiter;
use auth_domain::password::PasswordHasher;
use auth_domain::sessions::{RevocationList, SessionRepository};
use auth_domain::system::{Clock, SecureRandom};
use auth_domain::{AccessClaims, RequestContext, Role, User, UserId};

pub use change_password::{ChangePasswordError, ChangePasswordRequest};
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
}

/// The `accounts` use cases.
pub struct AccountService<P: AccountPorts> {
    users: P::Users,
    one_time_tokens: P::OneTimeTokens,
    roles: P::Roles,
    credentials: Credentials<P::Hasher>,
    revoker: Revoker<P::Sessions, P::Revocations, P::Clock>,
    limits: Limits<P::Limiter>,
    random: P::Random,
    clock: P::Clock,
    settings: AuthSettings,
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
        } = adapters;
        Self {
            users,
            one_time_tokens,
            roles,
            credentials: Credentials::new(hasher),
            revoker: Revoker::new(sessions, revocations, clock.clone(), &settings),
            limits: Limits::new(limiter, settings.limits.clone()),
            random,
            clock,
            settings,
        }
    }

    async fn view(&self, user: User) -> Result<AccountView, Failure> {
        let roles = self.roles.roles_of(user.id).await?;
        Ok(AccountView { user, roles })
    }
}

impl<P: AccountPorts> Accounts for AccountService<P> {
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
        let user = self
            .users
            .find_by_id(user)
            .await
            .map_err(Failure::from)?
            .ok_or(CurrentUserError::Unknown)?;
        Ok(self.view(user).await?)
    }

    async fn change_password(
        &self,
        claims: &AccessClaims,
        request: ChangePasswordRequest,
        ctx: &RequestContext,
    ) -> Result<(), ChangePasswordError> {
        self.change(claims, request, ctx).await
    }
}
