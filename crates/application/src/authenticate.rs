//! Access-token checks for authenticated requests.

use auth_domain::ports::{AccessTokenVerifier, RevocationList, TokenRejection, UserRepository};
use auth_domain::{AccessClaims, User};

use crate::{AuthService, Failure, Ports};

/// Why a request is not authenticated.
#[derive(Debug, thiserror::Error)]
pub enum AuthenticateError {
    /// The token is not (or no longer) valid.
    #[error("token rejected: {0}")]
    Rejected(TokenRejection),
    /// A dependency failed.
    #[error(transparent)]
    Failed(#[from] Failure),
}

impl<P: Ports> AuthService<P> {
    /// Verifies a bearer token offline and checks its session against the
    /// revocation mirror. No network round trip.
    ///
    /// # Errors
    /// [`TokenRejection`] when the token is invalid, expired or revoked.
    pub fn authenticate(&self, token: &str) -> Result<AccessClaims, TokenRejection> {
        let claims = self.tokens.verify(token, self.now())?;
        if self.hot.is_revoked(claims.session_id) {
            return Err(TokenRejection::Revoked);
        }
        Ok(claims)
    }

    /// The account behind valid claims.
    ///
    /// # Errors
    /// `Rejected(Revoked)` when the account no longer exists.
    pub async fn current_user(&self, claims: &AccessClaims) -> Result<User, AuthenticateError> {
        self.store
            .find_user_by_id(claims.user_id)
            .await
            .map_err(Failure::from)?
            .ok_or(AuthenticateError::Rejected(TokenRejection::Revoked))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::LoginRequest;
    use crate::testing::{register_user, service, strong_password};
    use auth_domain::{Email, Password, RequestContext};

    #[tokio::test]
    async fn issued_token_authenticates_until_its_session_is_revoked() {
        let (svc, state) = service();
        let (_, token) = register_user(&svc, &state, "gus@example.com").await;
        svc.verify_email(&token, &RequestContext::default())
            .await
            .expect("verified");
        let request = LoginRequest {
            email: Email::parse("gus@example.com").expect("valid"),
            password: Password::new(strong_password().into()),
            remember_me: false,
        };
        let pair = svc
            .login(request, &RequestContext::default())
            .await
            .expect("login");
        let claims = svc.authenticate(&pair.access_token).expect("valid");
        assert_eq!(
            svc.current_user(&claims)
                .await
                .expect("user")
                .email
                .as_str(),
            "gus@example.com"
        );

        state.lock().expect("lock").revoked.push(pair.session.id);
        assert_eq!(
            svc.authenticate(&pair.access_token),
            Err(TokenRejection::Revoked)
        );
    }

    #[tokio::test]
    async fn garbage_is_malformed() {
        let (svc, _) = service();
        assert_eq!(
            svc.authenticate("not-a-token"),
            Err(TokenRejection::Malformed)
        );
    }
}
