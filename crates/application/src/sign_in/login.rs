//! Login with a password: check it, apply the sign-in rule, open a session.

use auth_domain::accounts::{SignInRefusal, UserRepository};
use auth_domain::activity::AuditLog;
use auth_domain::mfa::{
    BackupCodeRepository, MethodKind, MethodRepository, PendingLogin, PendingLoginRepository,
};
use auth_domain::organizations::OrganizationRepository as _;
use auth_domain::password::PasswordCheck;
use auth_domain::system::{Clock, SecureRandom};
use auth_domain::{
    Assurance, AuditEvent, AuditEventType, Email, MethodId, OpaqueToken, Password, RequestContext,
    User, after,
};

use super::{SignInPorts, SignInService};
use crate::{Failure, TokenPair};

/// What a right password leads to.
#[derive(Debug)]
pub enum LoginOutcome {
    /// No second factor: the session is open.
    Tokens(Box<TokenPair>),
    /// A second factor is due: no session yet.
    MfaRequired(MfaRequired),
}

impl LoginOutcome {
    /// The pair, when the session is open.
    #[must_use]
    pub fn tokens(self) -> Option<TokenPair> {
        match self {
            Self::Tokens(pair) => Some(*pair),
            Self::MfaRequired(_) => None,
        }
    }
}

/// What the second step needs.
#[derive(Debug)]
pub struct MfaRequired {
    /// The token of this half-finished login (shown once; stored hashed).
    pub mfa_token: OpaqueToken,
    /// Seconds it stays usable.
    pub expires_in: u64,
    /// The user's active methods.
    pub methods: Vec<MethodSummary>,
    /// Unused backup codes, when the user has a set.
    pub backup_codes_remaining: Option<u32>,
    /// The method to offer first: the one used last.
    pub default_method_id: Option<MethodId>,
}

/// An active method as the login answer shows it.
#[derive(Clone, Debug)]
pub struct MethodSummary {
    /// Its id.
    pub id: MethodId,
    /// Its kind.
    pub kind: MethodKind,
    /// Its name.
    pub name: String,
    /// The masked address or number.
    pub hint: Option<String>,
}

/// A validated login request.
#[derive(Debug)]
pub struct LoginRequest {
    /// The account's email.
    pub email: Email,
    /// The password to check.
    pub password: Password,
    /// Keep the session for `sessions.remember_me_ttl` instead of `sessions.ttl`.
    pub remember_me: bool,
    /// The organization the session's tokens name (`org_id`), if the user
    /// is a member of it; otherwise none.
    pub organization_id: Option<auth_domain::OrganizationId>,
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
    /// The client failed too often recently and is blocked.
    #[error("blocked after too many failed logins")]
    Blocked {
        /// What is left of the block.
        retry_after: std::time::Duration,
    },
    /// A dependency failed (or the client went past its share of the
    /// hashing pool); no session was created.
    #[error(transparent)]
    Failed(#[from] Failure),
}

impl LoginError {
    /// The `reason` label of `auth_login_failure_total`.
    #[must_use]
    pub fn reason(&self) -> &'static str {
        match self {
            Self::InvalidCredentials => "invalid_credentials",
            Self::EmailNotVerified => "email_not_verified",
            Self::Suspended => "account_suspended",
            Self::Blocked { .. } => "blocked",
            Self::Failed(Failure::RateLimited { .. }) => "rate_limited",
            Self::Failed(_) => "unavailable",
        }
    }
}

impl<P: SignInPorts> SignInService<P> {
    /// Checks the credentials and opens a session.
    ///
    /// An unknown email costs the same password verification as a known one,
    /// and both answer `InvalidCredentials`, so neither the answer nor its
    /// timing reveals which emails have accounts. Account state is only
    /// disclosed to someone who knows the password.
    pub(super) async fn password_login(
        &self,
        request: LoginRequest,
        ctx: &RequestContext,
    ) -> Result<LoginOutcome, LoginError> {
        // Before any work: a blocked client costs no lookup and no hash,
        // whatever email it tries and even with the right password.
        if let Some(retry_after) = self.limits.login_blocked(ctx).await {
            crate::shared::refused(crate::shared::LimitName::LoginLockout);
            tracing::info!(ip = ?ctx.ip, "login refused: client blocked");
            return Err(LoginError::Blocked { retry_after });
        }
        // Decided before the lookup: no account can have such a password,
        // and refusing it for a known email while hashing for an unknown one
        // would tell them apart by timing.
        if self.credentials.is_too_long(&request.password) {
            self.login_failed(None, "password_too_long", ctx).await;
            return Err(LoginError::InvalidCredentials);
        }
        let user = self
            .users
            .find_by_email(&request.email)
            .await
            .map_err(Failure::from)?;
        let Some(user) = user else {
            self.credentials
                .verify_nobody(request.password, ctx)
                .await?;
            self.login_failed(None, "unknown_email", ctx).await;
            return Err(LoginError::InvalidCredentials);
        };
        let check = self
            .credentials
            .verify(request.password.clone(), user.password_hash.clone(), ctx)
            .await?;
        let PasswordCheck::Match { needs_rehash } = check else {
            self.login_failed(Some(&user), "wrong_password", ctx).await;
            return Err(LoginError::InvalidCredentials);
        };
        if let Err(refusal) = user.may_sign_in() {
            // The right password: not a failure the lockout counts.
            let (reason, error) = match refusal {
                SignInRefusal::Suspended => ("account_suspended", LoginError::Suspended),
                SignInRefusal::EmailNotVerified => {
                    ("email_not_verified", LoginError::EmailNotVerified)
                }
            };
            self.record_refusal(Some(&user), reason, ctx).await;
            return Err(error);
        }
        if needs_rehash {
            self.upgrade_hash(&user, request.password, ctx).await;
        }
        let organization = match request.organization_id {
            Some(org) => self
                .orgs
                .membership(org, user.id)
                .await
                .map_err(Failure::from)?
                .map(|m| m.organization_id),
            None => None,
        };
        if let Some(required) = self
            .second_factor_due(&user, request.remember_me, organization, ctx)
            .await?
        {
            return Ok(LoginOutcome::MfaRequired(required));
        }
        let assurance = Assurance::password(self.clock.now());
        Ok(LoginOutcome::Tokens(Box::new(
            self.issuer
                .open(user, request.remember_me, assurance, organization, ctx)
                .await?,
        )))
    }

    /// For a user with an active method: the half-finished login, bound to
    /// this client, and what to offer. `None` without a second factor.
    async fn second_factor_due(
        &self,
        user: &User,
        remember_me: bool,
        organization: Option<auth_domain::OrganizationId>,
        ctx: &RequestContext,
    ) -> Result<Option<MfaRequired>, Failure> {
        let mut active: Vec<_> = self
            .methods
            .list(user.id)
            .await?
            .into_iter()
            .filter(|m| m.is_active())
            .collect();
        if active.is_empty() {
            return Ok(None);
        }
        let now = self.clock.now();
        let token = self.random.token()?;
        let ttl = self.settings.mfa.token_ttl;
        self.pending_logins
            .create(PendingLogin {
                id: uuid::Uuid::now_v7(),
                token_hash: token.hash(),
                user_id: user.id,
                remember_me,
                ip: ctx.ip,
                user_agent: ctx.user_agent.clone(),
                created_at: now,
                expires_at: after(now, ttl),
                attempts: 0,
                consumed_at: None,
                organization_id: organization,
            })
            .await?;
        let backup = self.backup_codes.summary(user.id).await?;
        // The one used last first; never used ones by age.
        active.sort_by_key(|m| std::cmp::Reverse(m.last_used_at));
        let default_method_id = active.first().map(|m| m.id);
        active.sort_by_key(|m| m.created_at);
        Ok(Some(MfaRequired {
            mfa_token: token,
            expires_in: ttl.as_secs(),
            methods: active
                .iter()
                .map(|m| MethodSummary {
                    id: m.id,
                    kind: m.kind,
                    name: m.name.clone(),
                    hint: m.hint(&user.email),
                })
                .collect(),
            backup_codes_remaining: backup.map(|b| b.remaining),
            default_method_id,
        }))
    }

    /// Replaces an outdated hash. Best effort: the login succeeds regardless.
    async fn upgrade_hash(&self, user: &User, password: Password, ctx: &RequestContext) {
        let result = match self.credentials.hash(password, ctx).await {
            Ok(hash) => self
                .users
                .set_password_hash(user.id, &hash, self.clock.now())
                .await
                .map_err(Failure::from),
            Err(err) => Err(err),
        };
        match result {
            Ok(()) => {
                tracing::info!(user_id = %user.id, "password hash upgraded to current parameters");
            }
            Err(err) => {
                tracing::warn!(user_id = %user.id, error = %err, "password hash upgrade skipped");
            }
        }
    }

    /// A failed proof of identity: recorded, and counted against the
    /// client; the failure that completes the window blocks the client.
    pub(super) async fn login_failed(
        &self,
        user: Option<&User>,
        reason: &str,
        ctx: &RequestContext,
    ) {
        self.record_refusal(user, reason, ctx).await;
        if self.limits.login_failed(ctx).await {
            let block = self.limits.login_block();
            tracing::warn!(ip = ?ctx.ip, blocked_secs = block.as_secs(), "client blocked after failed logins");
            let event = AuditEvent::new(AuditEventType::IpBlocked, None, ctx, self.clock.now())
                .with("blocked_secs", block.as_secs().to_string());
            self.record(event).await;
            if let Some(ip) = ctx.ip {
                let suspicious =
                    crate::shared::events::suspicious_client("ip_blocked", ip, self.clock.now());
                if let Err(err) =
                    auth_domain::activity::OutboxRepository::queue(&self.outbox, suspicious).await
                {
                    tracing::warn!(error = %err, "could not queue the ip_blocked event");
                }
            }
        }
    }

    /// Records `login.failed`. Best effort: an audit outage does not turn a
    /// 401 into a 503.
    async fn record_refusal(&self, user: Option<&User>, reason: &str, ctx: &RequestContext) {
        let event = AuditEvent::new(
            AuditEventType::LoginFailed,
            user.map(|u| u.id),
            ctx,
            self.clock.now(),
        )
        .with("reason", reason);
        self.record(event).await;
    }

    async fn record(&self, event: AuditEvent) {
        if let Err(err) = self.audit.record(event).await {
            tracing::warn!(error = %err, "could not record an audit event");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::accounts::Accounts;
    use crate::sign_in::SignIn;
    use crate::testing::{STRONG_PASSWORD, harness, register_user};

    fn login(email: &str, password: &str) -> LoginRequest {
        LoginRequest {
            organization_id: None,
            email: Email::parse(email).expect("valid"),
            password: Password::new(password.into()),
            remember_me: false,
        }
    }

    async fn verified(h: &crate::testing::Harness, email: &str) {
        let (_, token) = register_user(h, email).await;
        h.accounts
            .verify_email(&token, &RequestContext::default())
            .await
            .expect("verified");
    }

    #[tokio::test]
    async fn verified_user_gets_a_session_and_token_pair() {
        let h = harness();
        verified(&h, "dave@example.com").await;
        let pair = h
            .sign_in
            .login(
                login("dave@example.com", STRONG_PASSWORD),
                &RequestContext::default(),
            )
            .await
            .expect("login")
            .tokens()
            .expect("no second factor");
        assert_eq!(pair.expires_in, 900);
        assert_eq!(pair.refresh_expires_in, 86_400);
        assert_eq!(pair.roles, [auth_domain::Role::user()]);
        let state = h.world.lock();
        assert_eq!(state.sessions.len(), 1);
        assert_eq!(
            state.refresh_tokens[0].hash,
            pair.refresh_token.hash(),
            "only the hash is stored"
        );
    }

    #[tokio::test]
    async fn remember_me_uses_the_long_lifetime() {
        let h = harness();
        verified(&h, "dave@example.com").await;
        let mut request = login("dave@example.com", STRONG_PASSWORD);
        request.remember_me = true;
        let pair = h
            .sign_in
            .login(request, &RequestContext::default())
            .await
            .expect("login")
            .tokens()
            .expect("no second factor");
        assert_eq!(pair.refresh_expires_in, 30 * 86_400);
        assert!(pair.session.remember_me);
    }

    #[tokio::test]
    async fn unknown_email_and_wrong_password_look_the_same_and_both_hash() {
        let h = harness();
        verified(&h, "dave@example.com").await;
        let before = h.world.lock().verifications;
        let unknown = h
            .sign_in
            .login(
                login("nobody@example.com", STRONG_PASSWORD),
                &RequestContext::default(),
            )
            .await;
        let wrong = h
            .sign_in
            .login(
                login("dave@example.com", "Wrong-Password-123"),
                &RequestContext::default(),
            )
            .await;
        assert!(matches!(unknown, Err(LoginError::InvalidCredentials)));
        assert!(matches!(wrong, Err(LoginError::InvalidCredentials)));
        let state = h.world.lock();
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
        let h = harness();
        verified(&h, "dave@example.com").await;
        let before = h.world.lock().verifications;
        let long = format!("Aa1{}", "x".repeat(200));
        for email in ["dave@example.com", "nobody@example.com"] {
            let result = h
                .sign_in
                .login(login(email, &long), &RequestContext::default())
                .await;
            assert!(matches!(result, Err(LoginError::InvalidCredentials)));
        }
        assert_eq!(h.world.lock().verifications, before, "no hash for either");
    }

    #[tokio::test]
    async fn unverified_email_is_refused_after_the_password_check() {
        let h = harness();
        register_user(&h, "erin@example.com").await;
        let wrong = h
            .sign_in
            .login(
                login("erin@example.com", "Wrong-Password-123"),
                &RequestContext::default(),
            )
            .await;
        assert!(matches!(wrong, Err(LoginError::InvalidCredentials)));
        let right = h
            .sign_in
            .login(
                login("erin@example.com", STRONG_PASSWORD),
                &RequestContext::default(),
            )
            .await;
        assert!(matches!(right, Err(LoginError::EmailNotVerified)));
    }

    #[tokio::test]
    async fn five_failures_block_the_client_even_for_the_right_password() {
        let h = harness();
        verified(&h, "gil@example.com").await;
        let ctx = RequestContext {
            ip: Some("203.0.113.9".parse().expect("ip")),
            user_agent: None,
        };
        for email in [
            "gil@example.com",
            "x@example.com",
            "y@example.com",
            "gil@example.com",
            "z@example.com",
        ] {
            let result = h
                .sign_in
                .login(login(email, "Wrong-Password-123"), &ctx)
                .await;
            assert!(matches!(result, Err(LoginError::InvalidCredentials)));
        }
        let before = h.world.lock().verifications;
        let right = h
            .sign_in
            .login(login("gil@example.com", STRONG_PASSWORD), &ctx)
            .await;
        assert!(
            matches!(right, Err(LoginError::Blocked { retry_after }) if retry_after.as_secs() == 30 * 60)
        );
        assert_eq!(
            h.world.lock().verifications,
            before,
            "refused before any hash"
        );
        let blocked = h
            .world
            .lock()
            .events
            .iter()
            .filter(|e| e.kind == AuditEventType::IpBlocked)
            .count();
        assert_eq!(blocked, 1);
        assert!(
            h.world
                .lock()
                .outbox
                .iter()
                .any(|row| matches!(&row.message.payload,
                auth_domain::OutboxPayload::Event(e)
                    if e.kind == "auth.suspicious_activity" && e.data.contains("ip_blocked"))),
            "the block is an auth.suspicious_activity event"
        );
        // Another client is not concerned; the block ends on time.
        let elsewhere = RequestContext::default();
        assert!(
            h.sign_in
                .login(login("gil@example.com", STRONG_PASSWORD), &elsewhere)
                .await
                .is_ok()
        );
        h.world.advance(std::time::Duration::from_secs(30 * 60 + 1));
        assert!(
            h.sign_in
                .login(login("gil@example.com", STRONG_PASSWORD), &ctx)
                .await
                .is_ok()
        );
    }

    #[tokio::test]
    async fn outdated_hash_is_upgraded_on_login() {
        let h = harness();
        verified(&h, "fay@example.com").await;
        {
            let mut state = h.world.lock();
            state.users[0].password_hash =
                auth_domain::PasswordHash::new(format!("old:{STRONG_PASSWORD}"));
        }
        h.sign_in
            .login(
                login("fay@example.com", STRONG_PASSWORD),
                &RequestContext::default(),
            )
            .await
            .expect("login");
        assert!(
            h.world.lock().users[0]
                .password_hash
                .as_str()
                .starts_with("v2:")
        );
    }
}
