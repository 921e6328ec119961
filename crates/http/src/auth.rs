//! Reusable guards: actix-web extractors for "authentication required" and
//! "authentication optional", built on the [`BearerAuthenticator`] port so any
//! actix-web service can protect its routes with the same code.
//!
//! ```ignore
//! use actix_web::{web, App, HttpResponse};
//! use auth_http::auth::{Authenticated, BearerAuthenticator};
//!
//! async fn orders(user: Authenticated) -> HttpResponse {
//!     HttpResponse::Ok().body(format!("orders of {}", user.claims.user_id))
//! }
//!
//! let verifier: std::sync::Arc<dyn BearerAuthenticator> = build_verifier_from_jwks();
//! App::new().app_data(web::Data::from(verifier)).route("/orders", web::get().to(orders));
//! ```

use std::future::{Ready, ready};

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use auth_application::{AuthService, Ports};
use auth_domain::AccessClaims;
use auth_domain::ports::TokenRejection;

use crate::error::ApiError;

/// Checks a bearer token: signature, claims, expiry, revocation.
pub trait BearerAuthenticator: Send + Sync + 'static {
    /// The claims of a valid, unrevoked token.
    ///
    /// # Errors
    /// Why the token is not accepted.
    fn authenticate(&self, token: &str) -> Result<AccessClaims, TokenRejection>;
}

impl<P: Ports> BearerAuthenticator for AuthService<P> {
    fn authenticate(&self, token: &str) -> Result<AccessClaims, TokenRejection> {
        Self::authenticate(self, token)
    }
}

/// The bearer token of a request, if it has an `Authorization: Bearer` header.
pub fn bearer(req: &HttpRequest) -> Option<&str> {
    let value = req.headers().get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// A request with a valid access token. Rejects with 401 `unauthorized`.
#[derive(Clone, Debug)]
pub struct Authenticated {
    /// The verified claims.
    pub claims: AccessClaims,
}

impl FromRequest for Authenticated {
    type Error = ApiError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let Some(token) = bearer(req) else {
            return ready(Err(ApiError::unauthorized(
                req.headers().contains_key(header::AUTHORIZATION),
            )));
        };
        let Some(verifier) = req.app_data::<web::Data<dyn BearerAuthenticator>>() else {
            tracing::error!("no BearerAuthenticator registered in app data");
            return ready(Err(ApiError::new(crate::error::ErrorCode::Internal)));
        };
        ready(match verifier.authenticate(token) {
            Ok(claims) => Ok(Self { claims }),
            Err(rejection) => {
                tracing::info!(reason = %rejection, "access token rejected");
                Err(ApiError::unauthorized(true))
            }
        })
    }
}

/// The caller's claims when a valid token was sent; `None` when no token was
/// sent. A token that was sent but is invalid is still rejected.
#[derive(Clone, Debug)]
pub struct MaybeAuthenticated(pub Option<AccessClaims>);

impl FromRequest for MaybeAuthenticated {
    type Error = ApiError;
    type Future = Ready<Result<Self, Self::Error>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        if !req.headers().contains_key(header::AUTHORIZATION) {
            return ready(Ok(Self(None)));
        }
        let result = Authenticated::from_request(req, payload)
            .into_inner()
            .map(|a| Self(Some(a.claims)));
        ready(result)
    }
}
