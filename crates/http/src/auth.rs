//! Reusable guards: actix-web extractors for "authentication required"
//! ([`Authenticated`]) and "authentication optional" ([`MaybeAuthenticated`]),
//! built on the [`BearerAuthenticator`] port, so another actix-web service can
//! protect its own routes with the same code. Inside auth-service the
//! authenticator is the `sessions` context (which also checks revocation);
//! elsewhere [`OfflineVerifier`] checks tokens against this service's JWKS
//! without a network round trip — `crates/server/examples/offline_guard.rs`
//! shows that wiring, compiled with the workspace.

use std::future::{Future, Ready, ready};
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, web};
use auth_application::Failure;
use auth_application::access::{Access, Principal};
use auth_application::sessions::Sessions;
use auth_domain::AccessClaims;
use auth_domain::access::{SERVICE_KEY_PREFIX, ServiceKey};
use auth_domain::sessions::{AccessTokenVerifier, TokenRejection};
use auth_domain::system::Clock;

use crate::app::App;
use crate::error::ApiError;

/// Checks a bearer token: signature, claims, expiry, revocation.
pub trait BearerAuthenticator: Send + Sync + 'static {
    /// The claims of a valid, unrevoked token.
    ///
    /// # Errors
    /// Why the token is not accepted.
    fn authenticate(&self, token: &str) -> Result<AccessClaims, TokenRejection>;
}

/// Offline verification with any [`AccessTokenVerifier`] and clock
/// (signature, claims, time; no revocation list, which only auth-service
/// instances hold).
#[derive(Debug)]
pub struct OfflineVerifier<V, C>(pub V, pub C);

impl<V: AccessTokenVerifier, C: Clock> BearerAuthenticator for OfflineVerifier<V, C> {
    fn authenticate(&self, token: &str) -> Result<AccessClaims, TokenRejection> {
        self.0.verify(token, self.1.now())
    }
}

/// The application's own authenticator: its `sessions` context.
pub(crate) struct AppAuthenticator<A>(pub(crate) web::Data<A>);

impl<A: App> BearerAuthenticator for AppAuthenticator<A> {
    fn authenticate(&self, token: &str) -> Result<AccessClaims, TokenRejection> {
        self.0.sessions().authenticate(token)
    }
}

/// Looks up service keys (`sk_…` bearers).
pub trait KeyAuthenticator: Send + Sync + 'static {
    /// The active key `presented` is, if any.
    fn authenticate_key<'a>(
        &'a self,
        presented: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<Option<ServiceKey>, Failure>> + Send + 'a>>;
}

impl<A: App> KeyAuthenticator for AppAuthenticator<A> {
    fn authenticate_key<'a>(
        &'a self,
        presented: &'a str,
    ) -> Pin<Box<dyn Future<Output = Result<Option<ServiceKey>, Failure>> + Send + 'a>> {
        Box::pin(self.0.access().authenticate_key(presented))
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

/// A request from a user (access token) or another service (service key,
/// `Authorization: Bearer sk_…`). Rejects with 401 `unauthorized`; a
/// failing store answers 503.
#[derive(Clone, Debug)]
pub struct Caller(pub Principal);

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, Self::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let key = bearer(req)
            .filter(|token| token.starts_with(SERVICE_KEY_PREFIX))
            .map(str::to_owned);
        let Some(key) = key else {
            let user = Authenticated::from_request(req, payload).into_inner();
            return Box::pin(ready(user.map(|a| Self(Principal::User(a.claims)))));
        };
        let keys = req.app_data::<web::Data<dyn KeyAuthenticator>>().cloned();
        Box::pin(async move {
            let Some(keys) = keys else {
                tracing::error!("no KeyAuthenticator registered in app data");
                return Err(ApiError::new(crate::error::ErrorCode::Internal));
            };
            match keys.authenticate_key(&key).await? {
                Some(found) => Ok(Self(Principal::Service(found))),
                None => {
                    tracing::info!("service key rejected");
                    Err(ApiError::unauthorized(true))
                }
            }
        })
    }
}
