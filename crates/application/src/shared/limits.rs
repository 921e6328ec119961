//! The rate limits and the login lockout of API.md, over the limiter port:
//! the keys, the windows, and what a refusal records. A limiter that fails
//! lets the request through with a warning: limits protect availability and
//! must not take it away (the Redis adapter already falls back to counting
//! in-process when Redis is unreachable).

use std::time::Duration;

use auth_domain::limits::{Admission, RateLimiter, Window};
use auth_domain::{MethodId, RequestContext, SessionId, UserId};

use crate::Failure;

/// Every window, count and block length (`limits.*`).
#[derive(Clone, Debug)]
pub struct LimitSettings {
    /// Failed logins from one client before it is blocked.
    pub login_failures: Window,
    /// How long a blocked client stays blocked.
    pub login_block: Duration,
    /// Registrations per client.
    pub register: Window,
    /// Forgot-password requests per normalized email.
    pub forgot_password: Window,
    /// Resend-verification requests per normalized email.
    pub resend_verification: Window,
    /// Refreshes per session.
    pub refresh: Window,
    /// Wrong `current_password`s per session before the session is revoked.
    pub change_password_failures: Window,
    /// Wrong second-factor codes per user before MFA locks
    /// (`mfa.lockout.max_failures` / `mfa.lockout.window`).
    pub mfa_failures: Window,
    /// How long MFA stays locked (`mfa.lockout.duration`).
    pub mfa_lock: Duration,
    /// Challenges and verifications per client IP (30 per minute).
    pub mfa_per_ip: Window,
    /// Codes sent per method (`mfa.resend_interval`).
    pub mfa_send_per_method: Window,
    /// Codes sent per user (`mfa.sends_per_hour`).
    pub mfa_send_per_user: Window,
}

/// The limits, applied.
#[derive(Clone, Debug)]
pub struct Limits<L> {
    limiter: L,
    settings: LimitSettings,
}

/// Which limit refused, for metrics and logs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LimitName {
    /// A client blocked after failed logins.
    LoginLockout,
    /// Registrations per client.
    Register,
    /// Refreshes per session.
    Refresh,
    /// The client's share of the hashing pool.
    HashShare,
    /// Forgot-password requests per email.
    ForgotPassword,
    /// Resend-verification requests per email.
    ResendVerification,
    /// Second-factor requests per client.
    MfaPerIp,
    /// Second-factor code sends.
    MfaSend,
}

impl LimitName {
    /// The `limit` label.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::LoginLockout => "login_lockout",
            Self::Register => "register",
            Self::Refresh => "refresh",
            Self::HashShare => "hash_share",
            Self::ForgotPassword => "forgot_password",
            Self::ResendVerification => "resend_verification",
            Self::MfaPerIp => "mfa_ip",
            Self::MfaSend => "mfa_send",
        }
    }
}

/// Counts a refusal.
pub(crate) fn refused(limit: LimitName) {
    metrics::counter!("auth_rate_limited_total", "limit" => limit.as_str()).increment(1);
}

impl<L: RateLimiter> Limits<L> {
    /// The limits of `settings` over `limiter`.
    pub fn new(limiter: L, settings: LimitSettings) -> Self {
        Self { limiter, settings }
    }

    /// How long the client stays blocked from logging in, if it is. Asked
    /// before any work, so a blocked client costs no hash.
    pub async fn login_blocked(&self, ctx: &RequestContext) -> Option<Duration> {
        let key = format!("login:ip:{}", ctx.client_key());
        match self.limiter.blocked_for(&key).await {
            Ok(blocked) => blocked,
            Err(err) => {
                tracing::warn!(error = %err, "rate limiter unavailable; login lockout not checked");
                None
            }
        }
    }

    /// Counts a failed login of the client; `true` when it now is blocked.
    pub async fn login_failed(&self, ctx: &RequestContext) -> bool {
        let key = format!("login:ip:{}", ctx.client_key());
        self.limiter
            .fail(
                &key,
                self.settings.login_failures,
                self.settings.login_block,
            )
            .await
            .unwrap_or_else(|err| {
                tracing::warn!(error = %err, "rate limiter unavailable; failed login not counted");
                false
            })
    }

    /// The configured block length.
    #[must_use]
    pub fn login_block(&self) -> Duration {
        self.settings.login_block
    }

    /// Admits a registration from the client.
    ///
    /// # Errors
    /// [`Failure::RateLimited`] past the limit.
    pub async fn register(&self, ctx: &RequestContext) -> Result<(), Failure> {
        let key = format!("register:ip:{}", ctx.client_key());
        self.admit(&key, self.settings.register, LimitName::Register)
            .await
    }

    /// Admits a forgot-password request for the address (known or not: the
    /// limit must not tell them apart).
    ///
    /// # Errors
    /// [`Failure::RateLimited`] past the limit.
    pub async fn forgot_password(&self, email: &auth_domain::Email) -> Result<(), Failure> {
        let key = format!("forgot_password:email:{email}");
        self.admit(
            &key,
            self.settings.forgot_password,
            LimitName::ForgotPassword,
        )
        .await
    }

    /// Admits a resend-verification request for the address.
    ///
    /// # Errors
    /// [`Failure::RateLimited`] past the limit.
    pub async fn resend_verification(&self, email: &auth_domain::Email) -> Result<(), Failure> {
        let key = format!("resend_verification:email:{email}");
        self.admit(
            &key,
            self.settings.resend_verification,
            LimitName::ResendVerification,
        )
        .await
    }

    /// Admits a refresh of the session.
    ///
    /// # Errors
    /// [`Failure::RateLimited`] past the limit.
    pub async fn refresh(&self, session: SessionId) -> Result<(), Failure> {
        let key = format!("refresh:session:{session}");
        self.admit(&key, self.settings.refresh, LimitName::Refresh)
            .await
    }

    /// Counts a wrong `current_password` in the session; `true` when the
    /// session has had too many and must end.
    pub async fn change_password_failed(&self, session: SessionId) -> bool {
        let key = format!("change_password:session:{session}");
        let window = self.settings.change_password_failures;
        self.limiter
            .fail(&key, window, window.period)
            .await
            .unwrap_or_else(|err| {
                tracing::warn!(error = %err, "rate limiter unavailable; wrong password not counted");
                false
            })
    }

    /// How long the user's second-factor checks stay locked, if they are.
    pub async fn mfa_locked(&self, user: UserId) -> Option<Duration> {
        let key = format!("mfa:user:{user}");
        self.limiter.blocked_for(&key).await.unwrap_or_else(|err| {
            tracing::warn!(error = %err, "rate limiter unavailable; MFA lockout not checked");
            None
        })
    }

    /// Counts a wrong code of the user; `true` when it locked MFA.
    pub async fn mfa_failed(&self, user: UserId) -> bool {
        let key = format!("mfa:user:{user}");
        self.limiter
            .fail(&key, self.settings.mfa_failures, self.settings.mfa_lock)
            .await
            .unwrap_or_else(|err| {
                tracing::warn!(error = %err, "rate limiter unavailable; MFA failure not counted");
                false
            })
    }

    /// A right code: the user's failure count starts again.
    pub async fn mfa_succeeded(&self, user: UserId) {
        let key = format!("mfa:user:{user}");
        if let Err(err) = self.limiter.reset(&key).await {
            tracing::warn!(error = %err, "rate limiter unavailable; MFA failures not reset");
        }
    }

    /// The configured MFA lock length.
    #[must_use]
    pub fn mfa_lock(&self) -> Duration {
        self.settings.mfa_lock
    }

    /// Admits a challenge or verification from the client.
    ///
    /// # Errors
    /// [`Failure::RateLimited`] past the limit.
    pub async fn mfa_request(&self, ctx: &RequestContext) -> Result<(), Failure> {
        let key = format!("mfa:ip:{}", ctx.client_key());
        self.admit(&key, self.settings.mfa_per_ip, LimitName::MfaPerIp)
            .await
    }

    /// Admits sending a code for the method: one per resend interval per
    /// method, a few per hour per user.
    ///
    /// # Errors
    /// [`Failure::RateLimited`] past either limit.
    pub async fn mfa_send(&self, method: MethodId, user: UserId) -> Result<(), Failure> {
        let per_method = format!("mfa:send:method:{method}");
        self.admit(
            &per_method,
            self.settings.mfa_send_per_method,
            LimitName::MfaSend,
        )
        .await?;
        let per_user = format!("mfa:send:user:{user}");
        self.admit(
            &per_user,
            self.settings.mfa_send_per_user,
            LimitName::MfaSend,
        )
        .await
    }

    async fn admit(&self, key: &str, window: Window, name: LimitName) -> Result<(), Failure> {
        match self.limiter.admit(key, window).await {
            Ok(Admission::Allowed) => Ok(()),
            Ok(Admission::Refused { retry_after }) => {
                refused(name);
                tracing::info!(limit = name.as_str(), "rate limited");
                Err(Failure::RateLimited { retry_after })
            }
            Err(err) => {
                tracing::warn!(error = %err, limit = name.as_str(), "rate limiter unavailable; request admitted");
                Ok(())
            }
        }
    }
}
