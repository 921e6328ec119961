//! Login: password check, then a new session with its token pair.

use auth_domain::ports::{
    AccessTokenIssuer, AuditLog, PasswordCheck, PasswordHasher, SecureRandom, SessionRepository,
    UserRepository,
};
use auth_domain::{
    AccessClaims, AccountStatus, AuditEvent, AuditEventType, Email, NewSession, OpaqueToken,
    Password, RequestContext, Session, SessionId, User,
};

use crate::{AuthService, Failure, Ports, after};

/// A validated login request.
#[derive(Debug)]
pub struct LoginRequest {
    /// The account's email.
    pub email: Email,
    /// The password to check.
    pub password: Password,
    /// Keep the session for `sessions.remember_me_ttl` instead of `sessions.ttl`.
    pub remember_me: bool,
}

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
}

/// Why a login was refused.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// Unknown email or wrong password: deliberately indistinguishable.
    #[error("invalid credentials")]
    InvalidCredentials,
    /// Right password, but the address is not verified yet.
    #[error("email not verified")]
    EmailNotVerified,
    /// Right password, but the account may not log in.
    #[error("account suspended")]
    Suspended,
    /// A dependency failed; no session was created.
    #[error(transparent)]
    Failed(#[from] Failure),
}

impl<P: Ports> AuthService<P> {
    /// Checks the credentials and opens a session.
    ///
    /// An unknown email costs the same password verification as a known one,
    /// and both answer `InvalidCredentials`, so neither the answer nor its
    /// timing reveals which emails have accounts. Account state is only
    /// disclosed to someone who knows the password.
    ///
    /// # Errors
    /// See [`LoginError`].
    pub async fn login(
        &self,
        request: LoginRequest,
        ctx: &RequestContext,
    ) -> Result<TokenPair, LoginError> {
        // Decided before the lookup: no account can have such a password,
        // and refusing it for a known email while hashing for an unknown one
        // would tell them apart by timing.
        if request.password.expose().chars().count() > self.policy.max_len {
            self.login_failed(None, "password_too_long", ctx).await;
            return Err(LoginError::InvalidCredentials);
        }
        let user = self
            .store
            .find_user_by_email(&request.email)
            .await
            .map_err(Failure::from)?;
        let Some(user) = user else {
            let _ = self
                .hasher
                .verify(request.password, self.hasher.dummy_hash())
                .await
                .map_err(Failure::from)?;
            self.login_failed(None, "unknown_email", ctx).await;
            return Err(LoginError::InvalidCredentials);
        };
        let check = self
            .hasher
            .verify(request.password.clone(), user.password_hash.clone())
            .await
            .map_err(Failure::from)?;
        let PasswordCheck::Match { needs_rehash } = check else {
            self.login_failed(Some(&user), "wrong_password", ctx).await;
            return Err(LoginError::InvalidCredentials);
        };
        if user.status != AccountStatus::Active {
            self.login_failed(Some(&user), "account_suspended", ctx)
                .await;
            return Err(LoginError::Suspended);
        }
        if !user.email_verified {
            self.login_failed(Some(&user), "email_not_verified", ctx)
                .await;
            return Err(LoginError::EmailNotVerified);
        }
        if needs_rehash {
            self.upgrade_hash(&user, request.password).await;
        }

        let now = self.now();
        let ttl = if request.remember_me {
            self.settings.remember_me_ttl
        } else {
            self.settings.session_ttl
        };
        let session = Session {
            id: SessionId::generate(),
            user_id: user.id,
            created_at: now,
            last_used_at: now,
            expires_at: after(now, ttl),
            remember_me: request.remember_me,
            ip: ctx.ip,
            user_agent: ctx.user_agent.clone(),
            revoked_at: None,
        };
        let refresh_token = self.random.token().map_err(Failure::from)?;
        let access_token = self.issue_access_token(&user, session.id)?;
        let event = AuditEvent::new(AuditEventType::LoginSucceeded, Some(user.id), ctx, now)
            .with("session_id", session.id.to_string());
        let new = NewSession {
            session: session.clone(),
            refresh_token_hash: refresh_token.hash(),
        };
        self.store
            .create_session(new, event)
            .await
            .map_err(Failure::from)?;
        tracing::info!(user_id = %user.id, session_id = %session.id, event = "login.succeeded", "login succeeded");

        Ok(TokenPair {
            access_token,
            expires_in: self.settings.access_ttl.as_secs(),
            refresh_token,
            refresh_expires_in: ttl.as_secs(),
            session,
            user,
        })
    }

    /// Signs an access token for `user` in `session`.
    pub(crate) fn issue_access_token(
        &self,
        user: &User,
        session: SessionId,
    ) -> Result<String, Failure> {
        let now = self.now();
        let claims = AccessClaims {
            user_id: user.id,
            email: user.email.clone(),
            email_verified: user.email_verified,
            roles: user.roles.clone(),
            session_id: session,
            token_id: uuid::Uuid::now_v7().to_string(),
            issued_at: now,
            expires_at: after(now, self.settings.access_ttl),
        };
        Ok(self.tokens.issue(&claims)?)
    }

    /// Replaces an outdated hash. Best effort: the login succeeds regardless.
    async fn upgrade_hash(&self, user: &User, password: Password) {
        let result = match self.hasher.hash(password).await {
            Ok(hash) => self
                .store
                .update_password_hash(user.id, &hash, self.now())
                .await
                .map_err(Failure::from),
            Err(err) => Err(Failure::from(err)),
        };
        match result {
            Ok(()) => {
                tracing::info!(user_id = %user.id, "password hash upgraded to current parameters")
            }
            Err(err) => {
                tracing::warn!(user_id = %user.id, error = %err, "password hash upgrade skipped")
            }
        }
    }

    /// Records a failed login. Best effort: an audit outage does not turn a
    /// 401 into a 503.
    async fn login_failed(&self, user: Option<&User>, reason: &str, ctx: &RequestContext) {
        let event = AuditEvent::new(
            AuditEventType::LoginFailed,
            user.map(|u| u.id),
            ctx,
            self.now(),
        )
        .with("reason", reason);
        tracing::info!(user_id = ?user.map(|u| u.id.to_string()), reason, event = "login.failed", "login failed");
        if let Err(err) = self.store.record(event).await {
            tracing::warn!(error = %err, "could not record login.failed audit event");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{register_user, service, strong_password};

    fn login(email: &str, password: &str) -> LoginRequest {
        LoginRequest {
            email: Email::parse(email).expect("valid"),
            password: Password::new(password.into()),
            remember_me: false,
        }
    }

    #[tokio::test]
    async fn verified_user_gets_a_session_and_token_pair() {
        let (svc, state) = service();
        let (_, token) = register_user(&svc, &state, "dave@example.com").await;
        svc.verify_email(&token, &RequestContext::default())
            .await
            .expect("verified");
        let pair = svc
            .login(
                login("dave@example.com", strong_password()),
                &RequestContext::default(),
            )
            .await
            .expect("login");
        assert_eq!(pair.expires_in, 900);
        assert_eq!(pair.refresh_expires_in, 86_400);
        let state = state.lock().expect("lock");
        assert_eq!(state.sessions.len(), 1);
        assert_eq!(
            state.sessions[0].1,
            pair.refresh_token.hash(),
            "only the hash is stored"
        );
    }

    #[tokio::test]
    async fn remember_me_uses_the_long_lifetime() {
        let (svc, state) = service();
        let (_, token) = register_user(&svc, &state, "dave@example.com").await;
        svc.verify_email(&token, &RequestContext::default())
            .await
            .expect("verified");
        let mut request = login("dave@example.com", strong_password());
        request.remember_me = true;
        let pair = svc
            .login(request, &RequestContext::default())
            .await
            .expect("login");
        assert_eq!(pair.refresh_expires_in, 30 * 86_400);
        assert!(pair.session.remember_me);
    }

    #[tokio::test]
    async fn unknown_email_and_wrong_password_look_the_same_and_both_hash() {
        let (svc, state) = service();
        let (_, token) = register_user(&svc, &state, "dave@example.com").await;
        svc.verify_email(&token, &RequestContext::default())
            .await
            .expect("verified");
        let before = state.lock().expect("lock").verifications;
        let unknown = svc
            .login(
                login("nobody@example.com", strong_password()),
                &RequestContext::default(),
            )
            .await;
        let wrong = svc
            .login(
                login("dave@example.com", "Wrong-Password-123"),
                &RequestContext::default(),
            )
            .await;
        assert!(matches!(unknown, Err(LoginError::InvalidCredentials)));
        assert!(matches!(wrong, Err(LoginError::InvalidCredentials)));
        let state = state.lock().expect("lock");
        assert_eq!(
            state.verifications - before,
            2,
            "the unknown email was verified against the dummy hash"
        );
        let failed: Vec<_> = state
            .events
            .iter()
            .filter(|e| e.kind == AuditEventType::LoginFailed)
            .collect();
        assert_eq!(failed.len(), 2);
        assert!(failed[0].user_id.is_none());
    }

    /// An over-long password costs the same (nothing) for a known and an
    /// unknown email: the length is decided before the user lookup.
    #[tokio::test]
    async fn overlong_password_is_refused_alike_for_known_and_unknown_emails() {
        let (svc, state) = service();
        let (_, token) = register_user(&svc, &state, "dave@example.com").await;
        svc.verify_email(&token, &RequestContext::default())
            .await
            .expect("verified");
        let before = state.lock().expect("lock").verifications;
        let long = format!("Aa1{}", "x".repeat(200));
        for email in ["dave@example.com", "nobody@example.com"] {
            let result = svc
                .login(login(email, &long), &RequestContext::default())
                .await;
            assert!(matches!(result, Err(LoginError::InvalidCredentials)));
        }
        assert_eq!(
            state.lock().expect("lock").verifications,
            before,
            "no hash for either"
        );
    }

    #[tokio::test]
    async fn unverified_email_is_refused_after_the_password_check() {
        let (svc, state) = service();
        register_user(&svc, &state, "erin@example.com").await;
        let wrong = svc
            .login(
                login("erin@example.com", "Wrong-Password-123"),
                &RequestContext::default(),
            )
            .await;
        assert!(matches!(wrong, Err(LoginError::InvalidCredentials)));
        let right = svc
            .login(
                login("erin@example.com", strong_password()),
                &RequestContext::default(),
            )
            .await;
        assert!(matches!(right, Err(LoginError::EmailNotVerified)));
    }

    #[tokio::test]
    async fn outdated_hash_is_upgraded_on_login() {
        let (svc, state) = service();
        let (user, token) = register_user(&svc, &state, "fay@example.com").await;
        svc.verify_email(&token, &RequestContext::default())
            .await
            .expect("verified");
        state
            .lock()
            .expect("lock")
            .set_hash(user.id, &format!("old:{}", strong_password()));
        svc.login(
            login("fay@example.com", strong_password()),
            &RequestContext::default(),
        )
        .await
        .expect("login");
        let state = state.lock().expect("lock");
        assert!(state.users[0].password_hash.as_str().starts_with("v2:"));
    }
}
