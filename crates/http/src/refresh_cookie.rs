//! The refresh-token cookie, and the token-pair answer that sets it: shared
//! by login (`sign_in`) and refresh (`sessions`).

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse};
use auth_application::TokenPair;

use crate::dto::TokenPairDto;

/// Name of the refresh-token cookie.
pub const NAME: &str = "refresh_token";
const PATH: &str = "/api/v1/auth";

/// `refresh_token=…; HttpOnly; Secure; SameSite=Strict; Path=/api/v1/auth`.
fn cookie_with(value: String) -> Cookie<'static> {
    Cookie::build(NAME, value)
        .http_only(true)
        .secure(true)
        .same_site(SameSite::Strict)
        .path(PATH)
        .finish()
}

/// The session's refresh cookie, with `Max-Age` only for remember-me
/// sessions (otherwise it ends with the browser session).
fn for_pair(pair: &TokenPair) -> Cookie<'static> {
    let mut cookie = cookie_with(pair.refresh_token.expose().to_owned());
    if pair.session.remember_me {
        cookie.set_max_age(CookieDuration::seconds(
            i64::try_from(pair.refresh_expires_in).unwrap_or(i64::MAX),
        ));
    }
    cookie
}

/// Expires the refresh cookie in the browser.
#[must_use]
pub fn cleared() -> Cookie<'static> {
    let mut cookie = cookie_with(String::new());
    cookie.make_removal();
    cookie
}

/// The answer of login and refresh: the pair, and the pair's cookie.
#[must_use]
pub fn token_pair_response(pair: &TokenPair) -> HttpResponse {
    pair_response(pair, &TokenPairDto::from(pair))
}

/// `body` (which carries `pair`), with the pair's cookie.
#[must_use]
pub fn pair_response<T: serde::Serialize>(pair: &TokenPair, body: &T) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .cookie(for_pair(pair))
        .json(body)
}

/// The refresh token a request presents: the body field first, then the
/// cookie.
#[must_use]
pub fn presented(req: &HttpRequest, body_field: Option<String>) -> Option<String> {
    body_field.filter(|t| !t.trim().is_empty()).or_else(|| {
        req.cookie(NAME)
            .map(|c| c.value().to_owned())
            .filter(|t| !t.is_empty())
    })
}
