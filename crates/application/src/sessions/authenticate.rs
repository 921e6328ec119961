//! Access-token checks for authenticated requests.

use auth_domain::AccessClaims;
use auth_domain::sessions::{AccessTokenVerifier, TokenRejection};
use auth_domain::system::Clock;

use super::{SessionPorts, SessionService};

impl<P: SessionPorts> SessionService<P> {
    /// Verifies a bearer token offline and checks its session against the
    /// revocation mirror. No network round trip.
    pub(super) fn check_access_token(&self, token: &str) -> Result<AccessClaims, TokenRejection> {
        let claims = self.tokens.verify(token, self.clock.now())?;
        if self.revoker.is_revoked(claims.session_id) {
            return Err(TokenRejection::Revoked);
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sessions::Sessions;
    use crate::testing::{harness, verified_login};

    #[tokio::test]
    async fn issued_token_authenticates_until_its_session_is_revoked() {
        let h = harness();
        let pair = verified_login(&h, "gus@example.com").await;
        let claims = h.sessions.authenticate(&pair.access_token).expect("valid");
        assert_eq!(claims.email.as_str(), "gus@example.com");
        h.world.lock().revoked.push(pair.session.id);
        assert_eq!(
            h.sessions.authenticate(&pair.access_token),
            Err(TokenRejection::Revoked)
        );
    }

    #[tokio::test]
    async fn garbage_is_malformed() {
        let h = harness();
        assert_eq!(
            h.sessions.authenticate("not-a-token"),
            Err(TokenRejection::Malformed)
        );
    }
}
