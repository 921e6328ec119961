//! The hosted pages the mailed links point at by default, so a fresh install
//! works end to end with nothing in front of it: verify an email, reset a
//! password, ask for a reset link.
//!
//! Server-rendered HTML (askama templates compiled into the binary), no
//! script, one stylesheet served by the binary, and the headers API.md asks
//! for. A GET never consumes a token — mail scanners follow links — only the
//! form's POST does. These are pages for browsers, not API operations: they
//! stay out of the route table and the OpenAPI document.

use actix_web::http::header;
use actix_web::{HttpResponse, web};
use askama::Template;
use auth_application::Failure;
use auth_application::accounts::{
    Accounts, ResetPasswordError, ResetPasswordRequest, VerifyEmailError,
};
use auth_domain::{Email, Password};
use serde::Deserialize;

use crate::app::App;
use crate::client::Client;

/// The policy API.md sets for the pages.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'";

const STYLESHEET: &str = include_str!("../assets/pages/pages.css");

/// What the verification page shows.
#[derive(Debug)]
pub enum VerifyState {
    /// The button that posts the token.
    Ready(String),
    /// Done.
    Verified,
    /// Expired, with the form to ask for a new link.
    Expired,
    /// Unknown or used.
    Invalid,
    /// A new link was asked for.
    Resent,
    /// Try again later.
    Unavailable(String),
}

/// What the reset page shows.
#[derive(Debug)]
pub enum ResetState {
    /// The form, with the rules the last attempt broke (`(code, message)`).
    Form(String, Vec<(String, String)>),
    /// Done.
    Done,
    /// Expired.
    Expired,
    /// Unknown or used.
    Invalid,
    /// Try again later.
    Unavailable(String),
}

/// What the forgot-password page shows.
#[derive(Debug)]
pub enum ForgotState {
    /// The form, with a problem of the last attempt.
    Form(Option<String>),
    /// The answer, whatever the address.
    Sent,
}

#[derive(Template)]
#[template(path = "verify_email.html")]
struct VerifyPage<'a> {
    product: &'a str,
    state: VerifyState,
}

#[derive(Template)]
#[template(path = "reset_password.html")]
struct ResetPage<'a> {
    product: &'a str,
    state: ResetState,
}

#[derive(Template)]
#[template(path = "forgot_password.html")]
struct ForgotPage<'a> {
    product: &'a str,
    state: ForgotState,
}

/// `?token=`
#[derive(Debug, Deserialize)]
pub struct TokenQuery {
    #[serde(default)]
    token: String,
}

/// The verification form.
#[derive(Debug, Deserialize)]
pub struct VerifyForm {
    #[serde(default)]
    token: String,
}

/// The reset form.
#[derive(Debug, Deserialize)]
pub struct ResetForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    confirm: String,
}

/// The forgot-password and resend forms.
#[derive(Debug, Deserialize)]
pub struct EmailForm {
    #[serde(default)]
    email: String,
}

/// Registers the pages and their stylesheet.
pub fn configure<A: App>(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/verify-email")
            .route(web::get().to(verify_email_page::<A>))
            .route(web::post().to(verify_email_submit::<A>)),
    )
    .service(web::resource("/verify-email/resend").route(web::post().to(resend_submit::<A>)))
    .service(
        web::resource("/reset-password")
            .route(web::get().to(reset_password_page::<A>))
            .route(web::post().to(reset_password_submit::<A>)),
    )
    .service(
        web::resource("/forgot-password")
            .route(web::get().to(forgot_password_page::<A>))
            .route(web::post().to(forgot_password_submit::<A>)),
    )
    .route("/assets/pages.css", web::get().to(stylesheet));
}

fn html(status: actix_web::http::StatusCode, page: Result<String, askama::Error>) -> HttpResponse {
    match page {
        Ok(body) => HttpResponse::build(status)
            .content_type("text/html; charset=utf-8")
            .insert_header((header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY))
            .insert_header((header::REFERRER_POLICY, "no-referrer"))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
            .body(body),
        Err(err) => {
            tracing::error!(error = %err, "page rendering failed");
            HttpResponse::InternalServerError().finish()
        }
    }
}

fn ok(page: Result<String, askama::Error>) -> HttpResponse {
    html(actix_web::http::StatusCode::OK, page)
}

/// The words a page shows for a failure: never a detail.
fn unavailable(failure: &Failure) -> String {
    match failure {
        Failure::RateLimited { .. } => "Too many requests. Please try again later".to_owned(),
        _ => "The service is temporarily unavailable. Please try again later".to_owned(),
    }
}

async fn verify_email_page<A: App>(
    app: web::Data<A>,
    query: web::Query<TokenQuery>,
) -> HttpResponse {
    let state = if query.token.trim().is_empty() {
        VerifyState::Invalid
    } else {
        VerifyState::Ready(query.into_inner().token)
    };
    ok(VerifyPage {
        product: app.product_name(),
        state,
    }
    .render())
}

async fn verify_email_submit<A: App>(
    app: web::Data<A>,
    client: Client,
    form: web::Form<VerifyForm>,
) -> HttpResponse {
    let state = match app.accounts().verify_email(&form.token, &client.0).await {
        Ok(_) => VerifyState::Verified,
        Err(VerifyEmailError::Expired) => VerifyState::Expired,
        Err(VerifyEmailError::Invalid) => VerifyState::Invalid,
        Err(VerifyEmailError::Failed(failure)) => VerifyState::Unavailable(unavailable(&failure)),
    };
    ok(VerifyPage {
        product: app.product_name(),
        state,
    }
    .render())
}

async fn resend_submit<A: App>(
    app: web::Data<A>,
    client: Client,
    form: web::Form<EmailForm>,
) -> HttpResponse {
    let state = match Email::parse(&form.email) {
        // A malformed address can have no account: the same answer.
        Err(_) => VerifyState::Resent,
        Ok(email) => match app.accounts().resend_verification(email, &client.0).await {
            Ok(()) => VerifyState::Resent,
            Err(failure) => VerifyState::Unavailable(unavailable(&failure)),
        },
    };
    ok(VerifyPage {
        product: app.product_name(),
        state,
    }
    .render())
}

async fn reset_password_page<A: App>(
    app: web::Data<A>,
    query: web::Query<TokenQuery>,
) -> HttpResponse {
    let state = if query.token.trim().is_empty() {
        ResetState::Invalid
    } else {
        ResetState::Form(query.into_inner().token, Vec::new())
    };
    ok(ResetPage {
        product: app.product_name(),
        state,
    }
    .render())
}

async fn reset_password_submit<A: App>(
    app: web::Data<A>,
    client: Client,
    form: web::Form<ResetForm>,
) -> HttpResponse {
    let ResetForm {
        token,
        password,
        confirm,
    } = form.into_inner();
    let state = if password != confirm {
        ResetState::Form(
            token,
            vec![("mismatch".to_owned(), "The two passwords differ".to_owned())],
        )
    } else {
        let request = ResetPasswordRequest {
            token: token.clone(),
            new_password: Password::new(password),
        };
        match app.accounts().reset_password(request, &client.0).await {
            Ok(()) => ResetState::Done,
            Err(ResetPasswordError::WeakPassword(violations)) => ResetState::Form(
                token,
                violations
                    .iter()
                    .map(|v| (v.code().to_owned(), v.message().to_owned()))
                    .collect(),
            ),
            Err(ResetPasswordError::Expired) => ResetState::Expired,
            Err(ResetPasswordError::Invalid) => ResetState::Invalid,
            Err(ResetPasswordError::Failed(failure)) => {
                ResetState::Unavailable(unavailable(&failure))
            }
        }
    };
    ok(ResetPage {
        product: app.product_name(),
        state,
    }
    .render())
}

async fn forgot_password_page<A: App>(app: web::Data<A>) -> HttpResponse {
    ok(ForgotPage {
        product: app.product_name(),
        state: ForgotState::Form(None),
    }
    .render())
}

async fn forgot_password_submit<A: App>(
    app: web::Data<A>,
    client: Client,
    form: web::Form<EmailForm>,
) -> HttpResponse {
    let state = match Email::parse(&form.email) {
        Err(_) => ForgotState::Form(Some("Please enter a valid email address".to_owned())),
        Ok(email) => match app.accounts().forgot_password(email, &client.0).await {
            Ok(()) => ForgotState::Sent,
            Err(failure) => ForgotState::Form(Some(unavailable(&failure))),
        },
    };
    ok(ForgotPage {
        product: app.product_name(),
        state,
    }
    .render())
}

async fn stylesheet() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/css; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=3600"))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .body(STYLESHEET)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_escape_what_they_show_and_reference_only_this_origin() {
        let page = VerifyPage {
            product: "<Acme>",
            state: VerifyState::Ready("\"><script>x</script>".to_owned()),
        }
        .render()
        .expect("renders");
        assert!(!page.contains("<script>"), "{page}");
        assert!(!page.contains("<Acme>"), "the product name is escaped");
        for attribute in ["src=\"", "href=\"", "action=\""] {
            for (at, _) in page.match_indices(attribute) {
                let value = &page[at + attribute.len()..];
                assert!(
                    value.starts_with('/') && !value.starts_with("//"),
                    "{value}"
                );
            }
        }
    }

    #[test]
    fn policy_failures_are_listed_by_rule() {
        let page = ResetPage {
            product: "auth-service",
            state: ResetState::Form(
                "t".to_owned(),
                vec![("too_short".to_owned(), "at least 8 characters".to_owned())],
            ),
        }
        .render()
        .expect("renders");
        assert!(page.contains("data-rule=\"too_short\""), "{page}");
    }
}
