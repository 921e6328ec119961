//! Opening a session and issuing its token pair: shared by password login
//! (`sign_in`), refresh (`sessions`) and, later, the second step of an MFA
//! login.

use std::time::Duration;

use auth_domain::access::RoleRepository;
use auth_domain::sessions::{AccessTokenIssuer, SessionRepository};
use auth_domain::system::{Clock, SecureRandom};
use auth_domain::{
    AccessClaims, Assurance, AuditEvent, AuditEventType, Effects, NewSession, OpaqueToken,
    RequestContext, Role, Session, SessionId, User, after,
};

use crate::{AuthSettings, Failure};

/// An access token and a refresh token for one session.
#[derive(Debug)]
pub struct TokenPair {
    /// Signed JWT.
    pub access_token: String,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    /// The session's current refresh token.
    pub refresh_token: OpaqueToken,
    /// Seconds until the session expires.
    pub refresh_expires_in: u64,
    /// The session.
    pub session: Session,
    /// The session's user.
    pub user: User,
    /// The user's global roles.
    pub roles: Vec<Role>,
}

/// Opens sessions and signs their tokens.
#[derive(Clone, Debug)]
pub struct SessionIssuer<S, R, T, N, C> {
    sessions: S,
    roles: R,
    tokens: T,
    random: N,
    clock: C,
    access_ttl: Duration,
    session_ttl: Duration,
    remember_me_ttl: Duration,
}

impl<S, R, T, N, C> SessionIssuer<S, R, T, N, C>
where
    S: SessionRepository,
    R: RoleRepository,
    T: AccessTokenIssuer,
    N: SecureRandom,
    C: Clock,
{
    /// An issuer over these ports, with the lifetimes of `settings`.
    pub fn new(
        sessions: S,
        roles: R,
        tokens: T,
        random: N,
        clock: C,
        settings: &AuthSettings,
    ) -> Self {
        Self {
            sessions,
            roles,
            tokens,
            random,
            clock,
            access_ttl: settings.access_ttl,
            session_ttl: settings.session_ttl,
            remember_me_ttl: settings.remember_me_ttl,
        }
    }

    /// Opens a session for `user` (who proved who they are, as `assurance`
    /// says) and records `login.succeeded` with it.
    ///
    /// # Errors
    /// [`Failure`] when storage, randomness or signing fails; nothing is
    /// stored then.
    pub async fn open(
        &self,
        user: User,
        remember_me: bool,
        assurance: Assurance,
        organization: Option<auth_domain::OrganizationId>,
        ctx: &RequestContext,
    ) -> Result<TokenPair, Failure> {
        let now = self.clock.now();
        let ttl = if remember_me {
            self.remember_me_ttl
        } else {
            self.session_ttl
        };
        let session = Session {
            id: SessionId::generate(),
            user_id: user.id,
            created_at: now,
            last_used_at: now,
            expires_at: after(now, ttl),
            remember_me,
            ip: ctx.ip,
            user_agent: ctx.user_agent.clone(),
            revoked_at: None,
            assurance,
            organization_id: organization,
        };
        let refresh_token = self.new_refresh_token()?;
        let roles = self.roles.roles_of(user.id).await?;
        let access_token = self.access_token(&user, &roles, &session)?;
        let event = AuditEvent::new(AuditEventType::LoginSucceeded, Some(user.id), ctx, now)
            .with("session_id", session.id.to_string())
            .with("acr", session.assurance.aal.as_str())
            .with("amr", session.assurance.amr_stored());
        let new = NewSession {
            session: session.clone(),
            refresh_token_hash: refresh_token.hash(),
        };
        let login = super::events::user_event(
            "user.login",
            user.id,
            None,
            serde_json::json!({
                "user_id": user.id.to_string(),
                "session_id": session.id.to_string(),
                "acr": session.assurance.aal.as_str(),
                "amr": session.assurance.amr.iter().map(|m| m.as_str()).collect::<Vec<_>>(),
            }),
            now,
        );
        self.sessions
            .create(new, Effects::event(event).and_message(login))
            .await?;
        Ok(self.pair(
            access_token,
            refresh_token,
            ttl.as_secs(),
            session,
            user,
            roles,
        ))
    }

    /// A fresh pair for an existing session whose refresh token was just
    /// rotated to `refresh_token`.
    ///
    /// # Errors
    /// [`Failure`] when roles cannot be read or the token cannot be signed.
    pub async fn reissue(
        &self,
        user: User,
        session: Session,
        refresh_token: OpaqueToken,
    ) -> Result<TokenPair, Failure> {
        let roles = self.roles.roles_of(user.id).await?;
        let access_token = self.access_token(&user, &roles, &session)?;
        let remaining = self.remaining(&session);
        Ok(self.pair(access_token, refresh_token, remaining, session, user, roles))
    }

    /// Records a fresh interactive proof on the live `session` (step-up,
    /// re-authentication): its assurance becomes `assurance`, its refresh
    /// token is replaced, and a pair for the same session is issued.
    ///
    /// `Ok(None)` when the session has ended.
    ///
    /// # Errors
    /// [`Failure`] when storage, randomness or signing fails.
    pub async fn elevate(
        &self,
        user: User,
        mut session: Session,
        assurance: Assurance,
        effects: Effects,
    ) -> Result<Option<TokenPair>, Failure> {
        let now = self.clock.now();
        let refresh_token = self.new_refresh_token()?;
        if !self
            .sessions
            .elevate(session.id, &assurance, &refresh_token.hash(), now, effects)
            .await?
        {
            return Ok(None);
        }
        session.assurance = assurance;
        session.last_used_at = now;
        Ok(Some(self.reissue(user, session, refresh_token).await?))
    }

    /// Points a live session's tokens at `organization` (`None`: none) and
    /// answers a new pair for it (refresh rotated). `None` when the session
    /// has ended.
    ///
    /// # Errors
    /// [`Failure`] when storage or signing fails.
    pub async fn switch_organization(
        &self,
        user: User,
        mut session: Session,
        organization: Option<auth_domain::OrganizationId>,
        effects: Effects,
    ) -> Result<Option<TokenPair>, Failure> {
        let now = self.clock.now();
        let refresh_token = self.new_refresh_token()?;
        if !self
            .sessions
            .switch_organization(
                session.id,
                organization,
                &refresh_token.hash(),
                now,
                effects,
            )
            .await?
        {
            return Ok(None);
        }
        session.organization_id = organization;
        session.last_used_at = now;
        Ok(Some(self.reissue(user, session, refresh_token).await?))
    }

    /// The pair a grace-window replay answers with: the successor already
    /// issued.
    ///
    /// # Errors
    /// [`Failure`] when roles cannot be read.
    pub async fn replay(
        &self,
        user: User,
        session: Session,
        access_token: String,
        refresh_token: OpaqueToken,
    ) -> Result<TokenPair, Failure> {
        let roles = self.roles.roles_of(user.id).await?;
        let remaining = self.remaining(&session);
        Ok(self.pair(access_token, refresh_token, remaining, session, user, roles))
    }

    /// A new refresh token.
    ///
    /// # Errors
    /// [`Failure::Internal`] when the OS randomness fails.
    pub fn new_refresh_token(&self) -> Result<OpaqueToken, Failure> {
        Ok(self.random.token()?)
    }

    /// An access token for `session`, carrying its assurance.
    ///
    /// # Errors
    /// [`Failure::Internal`] when signing fails.
    pub fn access_token(
        &self,
        user: &User,
        roles: &[Role],
        session: &Session,
    ) -> Result<String, Failure> {
        let now = self.clock.now();
        let claims = AccessClaims {
            user_id: user.id,
            email: user.email.clone(),
            email_verified: user.email_verified,
            roles: roles.to_vec(),
            session_id: session.id,
            token_id: uuid::Uuid::now_v7().to_string(),
            issued_at: now,
            expires_at: after(now, self.access_ttl),
            assurance: session.assurance.clone(),
            organization_id: session.organization_id,
        };
        Ok(self.tokens.issue(&claims)?)
    }

    /// Seconds until the session ends.
    fn remaining(&self, session: &Session) -> u64 {
        (session.expires_at - self.clock.now())
            .num_seconds()
            .max(0)
            .unsigned_abs()
    }

    fn pair(
        &self,
        access_token: String,
        refresh_token: OpaqueToken,
        refresh_expires_in: u64,
        session: Session,
        user: User,
        roles: Vec<Role>,
    ) -> TokenPair {
        TokenPair {
            access_token,
            expires_in: self.access_ttl.as_secs(),
            refresh_token,
            refresh_expires_in,
            session,
            user,
            roles,
        }
    }
}
