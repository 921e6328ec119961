//! What the use cases need to know of the configuration.

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
    /// Verification link template with `{public_url}` and `{token}`.
    pub verify_email_link: String,
    /// Reset link template with `{public_url}` and `{token}`.
    pub reset_password_link: String,
}

impl Default for AuthSettings {
    fn default() -> Self {
        Self {
            access_ttl: Duration::from_secs(15 * 60),
            leeway: Duration::from_secs(5),
            verify_email_ttl: Duration::from_secs(24 * 3600),
            reset_ttl: Duration::from_secs(3600),
            session_ttl: Duration::from_secs(24 * 3600),
            remember_me_ttl: Duration::from_secs(30 * 24 * 3600),
            refresh_reuse_grace: Duration::ZERO,
            public_url: "http://localhost:8001".to_owned(),
            verify_email_link: "{public_url}/verify-email?token={token}".to_owned(),
            reset_password_link: "{public_url}/reset-password?token={token}".to_owned(),
        }
    }
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
