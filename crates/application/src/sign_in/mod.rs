//! The `sign_in` context: proving who you are to open a session — the
//! password step, the second step of an MFA login, re-authentication — and
//! the IP lockout.

mod login;
mod reauth;
mod second_step;

use std::future::Future;

use auth_domain::access::RoleRepository;
use auth_domain::accounts::UserRepository;
use auth_domain::mfa::PendingLoginRepository;
use auth_domain::password::PasswordHasher;
use auth_domain::sessions::{AccessTokenIssuer, SessionRepository};
use auth_domain::system::SecureRandom;
use auth_domain::{AccessClaims, RequestContext};

pub use login::{LoginError, LoginOutcome, LoginRequest, MethodSummary, MfaRequired};
pub use reauth::ReauthError;
pub use second_step::{MfaLoginDone, MfaLoginError};

use crate::shared::{FactorAdapters, FactorPorts, Factors, Proof};
use crate::{AuthSettings, Credentials, Limits, SessionIssuer, TokenPair};

/// What the HTTP layer may ask of the `sign_in` context.
pub trait SignIn: Send + Sync + 'static {
    /// Checks the password; opens a session, or — for a user with a second
    /// factor — answers what the second step needs.
    fn login(
        &self,
        request: LoginRequest,
        ctx: &RequestContext,
    ) -> impl Future<Output = Result<LoginOutcome, LoginError>> + Send;

    /// The second step: a factor with the `mfa_token` of the first.
    fn complete_mfa_login(
        &self,
        mfa_token: &str,
        proof: Proof,
        ctx: &RequestContext,
    ) -> impl Future<Output = Result<MfaLoginDone, MfaLoginError>> + Send;

    /// Proves the password again in the token's session (step-up for users
    /// without a second factor): a pair for the same session with a fresh
    /// `auth_time`.
    fn reauthenticate(
        &self,
        claims: &AccessClaims,
        password: auth_domain::Password,
        ctx: &RequestContext,
    ) -> impl Future<Output = Result<TokenPair, ReauthError>> + Send;
}

/// The ports the `sign_in` context uses, on top of those of a factor check.
pub trait SignInPorts: FactorPorts {
    /// User accounts.
    type Users: UserRepository + Clone;
    /// Sessions, opened on success.
    type Sessions: SessionRepository + Clone;
    /// Role assignments, for the token.
    type Roles: RoleRepository + Clone;
    /// Password hashing.
    type Hasher: PasswordHasher + Clone;
    /// Access-token signing.
    type Tokens: AccessTokenIssuer + Clone;
    /// Randomness for refresh and `mfa_token`s.
    type Random: SecureRandom + Clone;
    /// Logins waiting for their second factor.
    type PendingLogins: PendingLoginRepository + Clone;
    /// Memberships, for a login into an organization.
    type Orgs: auth_domain::organizations::OrganizationRepository + Clone;
}

/// The session issuer over this context's ports.
type Issuer<P> = SessionIssuer<
    <P as SignInPorts>::Sessions,
    <P as SignInPorts>::Roles,
    <P as SignInPorts>::Tokens,
    <P as SignInPorts>::Random,
    <P as FactorPorts>::Clock,
>;

/// The adapters a [`SignInService`] is built from.
pub struct SignInAdapters<P: SignInPorts> {
    /// User accounts.
    pub users: P::Users,
    /// Sessions.
    pub sessions: P::Sessions,
    /// Role assignments.
    pub roles: P::Roles,
    /// Password hashing.
    pub hasher: P::Hasher,
    /// Access-token signing.
    pub tokens: P::Tokens,
    /// Randomness.
    pub random: P::Random,
    /// Pending second steps.
    pub pending_logins: P::PendingLogins,
    /// Memberships.
    pub orgs: P::Orgs,
    /// Second factors, the audit trail, limits and time.
    pub factors: FactorAdapters<P>,
}

/// The `sign_in` use cases.
pub struct SignInService<P: SignInPorts> {
    users: P::Users,
    sessions: P::Sessions,
    audit: P::Audit,
    methods: P::Methods,
    backup_codes: P::BackupCodes,
    pending_logins: P::PendingLogins,
    random: P::Random,
    credentials: Credentials<P::Hasher>,
    issuer: Issuer<P>,
    limits: Limits<P::Limiter>,
    factors: Factors<P>,
    /// For events that change nothing else (a blocked client).
    outbox: <P as FactorPorts>::Outbox,
    clock: P::Clock,
    settings: AuthSettings,
    orgs: P::Orgs,
}

impl<P: SignInPorts> std::fmt::Debug for SignInAdapters<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignInAdapters").finish_non_exhaustive()
    }
}

impl<P: SignInPorts> std::fmt::Debug for SignInService<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SignInService").finish_non_exhaustive()
    }
}

impl<P: SignInPorts> SignInService<P> {
    /// Wires the use cases to their adapters.
    #[must_use]
    pub fn new(adapters: SignInAdapters<P>, settings: &AuthSettings) -> Self {
        let SignInAdapters {
            users,
            sessions,
            roles,
            hasher,
            tokens,
            random,
            pending_logins,
            orgs,
            factors,
        } = adapters;
        let clock = factors.clock.clone();
        Self {
            orgs,
            users,
            sessions: sessions.clone(),
            audit: factors.audit.clone(),
            outbox: factors.outbox.clone(),
            methods: factors.methods.clone(),
            backup_codes: factors.backup_codes.clone(),
            pending_logins,
            random: random.clone(),
            credentials: Credentials::new(hasher),
            issuer: SessionIssuer::new(sessions, roles, tokens, random, clock.clone(), settings),
            limits: Limits::new(factors.limiter.clone(), settings.limits.clone()),
            factors: Factors::new(factors, settings),
            clock,
            settings: settings.clone(),
        }
    }
}

impl<P: SignInPorts> SignIn for SignInService<P> {
    async fn login(
        &self,
        request: LoginRequest,
        ctx: &RequestContext,
    ) -> Result<LoginOutcome, LoginError> {
        let started = std::time::Instant::now();
        let result = self.password_login(request, ctx).await;
        metrics::histogram!("auth_operation_duration_seconds", "operation" => "login")
            .record(started.elapsed().as_secs_f64());
        match &result {
            Ok(LoginOutcome::Tokens(_)) => {
                metrics::counter!("auth_login_success_total").increment(1);
            }
            Ok(LoginOutcome::MfaRequired(_)) => {}
            Err(err) => {
                metrics::counter!("auth_login_failure_total", "reason" => err.reason())
                    .increment(1);
            }
        }
        result
    }

    async fn complete_mfa_login(
        &self,
        mfa_token: &str,
        proof: Proof,
        ctx: &RequestContext,
    ) -> Result<MfaLoginDone, MfaLoginError> {
        let result = self.second_step(mfa_token, proof, ctx).await;
        if result.is_ok() {
            metrics::counter!("auth_login_success_total").increment(1);
        }
        result
    }

    async fn reauthenticate(
        &self,
        claims: &AccessClaims,
        password: auth_domain::Password,
        ctx: &RequestContext,
    ) -> Result<TokenPair, ReauthError> {
        self.reauth(claims, password, ctx).await
    }
}
