//! The `sessions` context: access-token checks, refresh rotation with reuse
//! detection, logout, the session list and its revocation. (Organization
//! switch lands here too.)

mod authenticate;
mod logout;
mod refresh;

use std::future::Future;

use auth_domain::access::RoleRepository;
use auth_domain::accounts::UserRepository;
use auth_domain::activity::AuditLog;
use auth_domain::limits::RateLimiter;
use auth_domain::sessions::{
    AccessTokenIssuer, AccessTokenVerifier, RefreshGrace, RevocationList, SessionRepository,
    TokenRejection,
};
use auth_domain::system::{Clock, SecureRandom};
use auth_domain::{AccessClaims, RequestContext, Session, UserId};

pub use logout::{LogoutError, SessionError};
pub use refresh::RefreshError;

use crate::{AuthSettings, Failure, Limits, Revoker, SessionIssuer, TokenPair};

/// What the HTTP layer may ask of the `sessions` context.
pub trait Sessions: Send + Sync + 'static {
    /// Verifies an access token offline and checks its session against the
    /// revocation mirror: no network round trip.
    ///
    /// # Errors
    /// Why the token is not accepted.
    fn authenticate(&self, token: &str) -> Result<AccessClaims, TokenRejection>;

    /// Rotates a presented refresh token (body field or cookie, as sent).
    fn refresh(
        &self,
        presented: Option<&str>,
        ctx: &RequestContext,
    ) -> impl Future<Output = Result<TokenPair, RefreshError>> + Send;

    /// Ends one session: the Bearer token's if it is valid, else the session
    /// of the presented refresh token.
    fn logout(
        &self,
        bearer: Option<&str>,
        refresh_token: Option<&str>,
        ctx: &RequestContext,
    ) -> impl Future<Output = Result<(), LogoutError>> + Send;

    /// The user's active sessions, newest first.
    fn list(&self, user: UserId) -> impl Future<Output = Result<Vec<Session>, Failure>> + Send;

    /// Revokes one of the user's sessions, named by its id as sent.
    fn revoke(
        &self,
        user: UserId,
        session: &str,
        ctx: &RequestContext,
    ) -> impl Future<Output = Result<(), SessionError>> + Send;

    /// Revokes every session of the user.
    fn revoke_all(
        &self,
        user: UserId,
        ctx: &RequestContext,
    ) -> impl Future<Output = Result<(), Failure>> + Send;
}

/// The ports the `sessions` context uses.
pub trait SessionPorts: Send + Sync + 'static {
    /// User accounts (status checks on refresh).
    type Users: UserRepository + Clone;
    /// Sessions and refresh tokens.
    type Sessions: SessionRepository + Clone;
    /// Role assignments, for tokens.
    type Roles: RoleRepository + Clone;
    /// Hot state: the revocation list and the refresh grace.
    type Hot: RevocationList + RefreshGrace + Clone;
    /// Access-token signing and verification.
    type Tokens: AccessTokenIssuer + AccessTokenVerifier + Clone;
    /// Randomness for refresh tokens.
    type Random: SecureRandom + Clone;
    /// Time.
    type Clock: Clock + Clone;
    /// The refresh rate limit.
    type Limiter: RateLimiter + Clone;
    /// The audit trail, for refusals that change nothing else.
    type Audit: AuditLog + Clone;
    /// Memberships: a session's organization must still be the user's.
    type Orgs: auth_domain::organizations::OrganizationRepository + Clone;
}

/// The session issuer over this context's ports.
type Issuer<P> = SessionIssuer<
    <P as SessionPorts>::Sessions,
    <P as SessionPorts>::Roles,
    <P as SessionPorts>::Tokens,
    <P as SessionPorts>::Random,
    <P as SessionPorts>::Clock,
>;

/// The adapters a [`SessionService`] is built from.
#[derive(Debug)]
pub struct SessionAdapters<P: SessionPorts> {
    /// User accounts.
    pub users: P::Users,
    /// Sessions.
    pub sessions: P::Sessions,
    /// Role assignments.
    pub roles: P::Roles,
    /// Hot state.
    pub hot: P::Hot,
    /// Access tokens.
    pub tokens: P::Tokens,
    /// Randomness.
    pub random: P::Random,
    /// Time.
    pub clock: P::Clock,
    /// The refresh rate limit.
    pub limiter: P::Limiter,
    /// The audit trail.
    pub audit: P::Audit,
    /// Memberships.
    pub orgs: P::Orgs,
}

/// The `sessions` use cases.
pub struct SessionService<P: SessionPorts> {
    users: P::Users,
    sessions: P::Sessions,
    hot: P::Hot,
    tokens: P::Tokens,
    issuer: Issuer<P>,
    revoker: Revoker<P::Sessions, P::Hot, P::Clock>,
    limits: Limits<P::Limiter>,
    audit: P::Audit,
    orgs: P::Orgs,
    clock: P::Clock,
    settings: AuthSettings,
}

impl<P: SessionPorts> std::fmt::Debug for SessionService<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SessionService").finish_non_exhaustive()
    }
}

impl<P: SessionPorts> SessionService<P> {
    /// Wires the use cases to their adapters.
    #[must_use]
    pub fn new(adapters: SessionAdapters<P>, settings: AuthSettings) -> Self {
        let SessionAdapters {
            users,
            sessions,
            roles,
            hot,
            tokens,
            random,
            clock,
            limiter,
            audit,
            orgs,
        } = adapters;
        Self {
            orgs,
            limits: Limits::new(limiter, settings.limits.clone()),
            audit,
            issuer: SessionIssuer::new(
                sessions.clone(),
                roles,
                tokens.clone(),
                random,
                clock.clone(),
                &settings,
            ),
            revoker: Revoker::new(sessions.clone(), hot.clone(), clock.clone(), &settings),
            users,
            sessions,
            hot,
            tokens,
            clock,
            settings,
        }
    }
}

impl<P: SessionPorts> Sessions for SessionService<P> {
    fn authenticate(&self, token: &str) -> Result<AccessClaims, TokenRejection> {
        let started = std::time::Instant::now();
        let result = self.check_access_token(token);
        metrics::histogram!("auth_operation_duration_seconds", "operation" => "verify_token")
            .record(started.elapsed().as_secs_f64());
        result
    }

    async fn refresh(
        &self,
        presented: Option<&str>,
        ctx: &RequestContext,
    ) -> Result<TokenPair, RefreshError> {
        let started = std::time::Instant::now();
        let result = self.rotate(presented, ctx).await;
        metrics::histogram!("auth_operation_duration_seconds", "operation" => "refresh")
            .record(started.elapsed().as_secs_f64());
        let outcome = match &result {
            Ok(_) => "rotated",
            Err(RefreshError::Invalid) => "invalid",
            Err(RefreshError::Reused) => "reused",
            Err(RefreshError::Suspended) => "suspended",
            Err(RefreshError::Failed(Failure::RateLimited { .. })) => "rate_limited",
            Err(RefreshError::Failed(_)) => "unavailable",
        };
        metrics::counter!("auth_token_refresh_total", "outcome" => outcome).increment(1);
        result
    }

    async fn logout(
        &self,
        bearer: Option<&str>,
        refresh_token: Option<&str>,
        ctx: &RequestContext,
    ) -> Result<(), LogoutError> {
        self.end_session(bearer, refresh_token, ctx).await
    }

    async fn list(&self, user: UserId) -> Result<Vec<Session>, Failure> {
        Ok(self.sessions.list_active(user, self.clock.now()).await?)
    }

    async fn revoke(
        &self,
        user: UserId,
        session: &str,
        ctx: &RequestContext,
    ) -> Result<(), SessionError> {
        self.revoke_one(user, session, ctx).await
    }

    async fn revoke_all(&self, user: UserId, ctx: &RequestContext) -> Result<(), Failure> {
        self.revoke_every(user, ctx).await
    }
}
