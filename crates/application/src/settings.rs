//! What the use cases need to know of the configuration. Built by the
//! composition root from the loaded settings; the defaults live there, once.

use std::time::Duration;

/// Lifetimes and link templates used by the flows.
#[derive(Clone, Debug)]
pub struct AuthSettings {
    /// Lifetime of an access token.
    pub access_ttl: Duration,
    /// Clock skew verification allows on `exp` and `nbf`.
    pub leeway: Duration,
    /// Lifetime of an email-verification link.
    pub verify_email_ttl: Duration,
    /// Lifetime of a password-reset link.
    pub reset_ttl: Duration,
    /// Lifetime of a session.
    pub session_ttl: Duration,
    /// Lifetime of a remember-me session.
    pub remember_me_ttl: Duration,
    /// How long a rotated-out refresh token still returns its successor
    /// instead of raising a reuse alarm (zero: never).
    pub refresh_reuse_grace: Duration,
    /// Base URL of the service, for links in emails (no trailing slash).
    pub public_url: String,
    /// The product's name in mails (and on the hosted pages).
    pub product_name: String,
    /// How long an unverified account may wait before it is deleted.
    pub unverified_ttl: Duration,
    /// How long `GET /me` may answer from a cached account view (zero: off).
    pub view_cache_ttl: Duration,
    /// How long ended sessions and spent tokens are kept.
    pub retention: Duration,
    /// Verification link template with `{public_url}` and `{token}`.
    pub verify_email_link: String,
    /// Reset link template with `{public_url}` and `{token}`.
    pub reset_password_link: String,
    /// Rate limits and the login lockout.
    pub limits: crate::shared::LimitSettings,
    /// Second factors and step-up.
    pub mfa: MfaSettings,
    /// `authz.*` and `admin.bootstrap_emails`.
    pub access: AccessSettings,
    /// `orgs.*` and `links.invitation`.
    pub orgs: OrgSettings,
}

/// `orgs.*` and `links.invitation` (API-ACCESS.md, Organizations).
#[derive(Clone, Debug, Default)]
pub struct OrgSettings {
    /// Organizations one user may own.
    pub max_per_user: u32,
    /// How long an invitation link works.
    pub invitation_ttl: Duration,
    /// Seats of the `basic` tier.
    pub max_members: u32,
    /// Invitation link template with `{public_url}` and `{token}`.
    pub invitation_link: String,
}

/// `authz.cache_ttl` and `admin.bootstrap_emails` (API-ACCESS.md).
#[derive(Clone, Debug, Default)]
pub struct AccessSettings {
    /// How long a user's role set and the role maps are cached, and how long
    /// a gateway may cache a decision.
    pub cache_ttl: Duration,
    /// Verified users with these (normalized) emails get `admin`.
    pub bootstrap_emails: Vec<auth_domain::Email>,
}

/// `mfa.*` and `security.step_up_max_age` (API-MFA.md, Configuration).
#[derive(Clone, Debug)]
pub struct MfaSettings {
    /// The issuer shown in authenticator apps.
    pub issuer: String,
    /// TOTP steps accepted either side of now.
    pub totp_skew: u64,
    /// Lifetime of an `mfa_token`.
    pub token_ttl: Duration,
    /// Wrong codes an `mfa_token` survives.
    pub max_attempts_per_token: u32,
    /// Lifetime of an emailed or texted code.
    pub code_ttl: Duration,
    /// Digits of an emailed or texted code.
    pub code_length: usize,
    /// Wrong codes a sent code survives.
    pub max_attempts_per_code: u32,
    /// Backup codes per set.
    pub backup_codes: usize,
    /// Methods (active or pending) per user.
    pub max_methods: usize,
    /// Whether SMS is offered (`sms.transport` is set).
    pub sms_enabled: bool,
    /// How recent the last interactive proof must be for step-up.
    pub step_up_max_age: Duration,
}

/// Kept on top of the longest an access token stays acceptable, so that
/// clocks a little apart never forget a revocation early.
const REVOCATION_MARGIN: Duration = Duration::from_secs(60);

impl AuthSettings {
    /// How long a revoked session must stay on the revocation list: an access
    /// token issued just before the revocation is accepted until its `exp`
    /// plus the leeway. The one place this window is computed.
    #[must_use]
    pub fn revocation_retention(&self) -> Duration {
        self.access_ttl + self.leeway + REVOCATION_MARGIN
    }

    /// Fills a link template.
    #[must_use]
    pub fn link(&self, template: &str, token: &str) -> String {
        template
            .replace("{public_url}", self.public_url.trim_end_matches('/'))
            .replace("{token}", token)
    }
}
