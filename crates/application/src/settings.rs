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
