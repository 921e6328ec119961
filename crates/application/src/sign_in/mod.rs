//! The `sign_in` context: proving who you are to open a session. (The
//! second step of an MFA login, re-authentication and IP lockout land here.)

mod login;

use std::future::Future;

use auth_domain::RequestContext;
use auth_domain::access::RoleRepository;
use auth_domain::accounts::UserRepository;
use auth_domain::activity::AuditLog;
use auth_domain::limits::RateLimiter;
use auth_domain::password::PasswordHasher;
use auth_domain::sessions::{AccessTokenIssuer, SessionRepository};
use auth_domain::system::{Clock, SecureRandom};

pub use login::{LoginError, LoginRequest};

use crate::{AuthSettings, Credentials, Limits, SessionIssuer, TokenPair};

/// What the HTTP layer may ask of the `sign_in` context.
pub trait SignIn: Send + Sync + 'static {
    /// Checks the credentials and opens a session.
    fn login(
        &self,
        request: LoginRequest,
        ctx: &RequestContext,
    ) -> impl Future<Output = Result<TokenPair, LoginError>> + Send;
}

/// The ports the `sign_in` context uses.
pub trait SignInPorts: Send + Sync + 'static {
    /// User accounts.
    type Users: UserRepository + Clone;
    /// Sessions, opened on success.
    type Sessions: SessionRepository + Clone;
    /// Role assignments, for the token.
    type Roles: RoleRepository + Clone;
    /// The audit trail, for failed attempts.
    type Audit: AuditLog + Clone;
    /// Password hashing.
    type Hasher: PasswordHasher + Clone;
    /// Access-token signing.
    type Tokens: AccessTokenIssuer + Clone;
    /// Randomness for refresh tokens.
    type Random: SecureRandom + Clone;
    /// Time.
    type Clock: Clock + Clone;
    /// The login lockout.
    type Limiter: RateLimiter + Clone;
}

/// The session issuer over this context's ports.
type Issuer<P> = SessionIssuer<
    <P as SignInPorts>::Sessions,
    <P as SignInPorts>::Roles,
    <P as SignInPorts>::Tokens,
    <P as SignInPorts>::Random,
    <P as SignInPorts>::Clock,
>;

/// The adapters a [`SignInService`] is built from.
#[derive(Debug)]
pub struct SignInAdapters<P: SignInPorts> {
    /// User accounts.
    pub users: P::Users,
    /// Sessions.
    pub sessions: P::Sessions,
    /// Role assignments.
    pub roles: P::Roles,
    /// The audit trail.
    pub audit: P::Audit,
    /// Password hashing.
    pub hasher: P::Hasher,
    /// Access-token signing.
    pub tokens: P::Tokens,
    /// Randomness.
    pub random: P::Random,
    /// Time.
    pub clock: P::Clock,
    /// The login lockout.
    pub limiter: P::Limiter,
}

/// The `sign_in` use cases.
pub struct SignInService<P: SignInPorts> {
    users: P::Users,
    audit: P::Audit,
    credentials: Credentials<P::Hasher>,
    issuer: Issuer<P>,
    limits: Limits<P::Limiter>,
    clock: P::Clock,
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
            audit,
            hasher,
            tokens,
            random,
            clock,
            limiter,
        } = adapters;
        Self {
            users,
            audit,
            credentials: Credentials::new(hasher),
            issuer: SessionIssuer::new(sessions, roles, tokens, random, clock.clone(), settings),
            limits: Limits::new(limiter, settings.limits.clone()),
            clock,
        }
    }
}

impl<P: SignInPorts> SignIn for SignInService<P> {
    async fn login(
        &self,
        request: LoginRequest,
        ctx: &RequestContext,
    ) -> Result<TokenPair, LoginError> {
        let started = std::time::Instant::now();
        let result = self.password_login(request, ctx).await;
        metrics::histogram!("auth_operation_duration_seconds", "operation" => "login")
            .record(started.elapsed().as_secs_f64());
        match &result {
            Ok(_) => metrics::counter!("auth_login_success_total").increment(1),
            Err(err) => {
                metrics::counter!("auth_login_failure_total", "reason" => err.reason())
                    .increment(1);
            }
        }
        result
    }
}
