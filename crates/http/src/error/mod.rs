//! RFC 9457 problem details. Codes, statuses and titles are one table
//! ([`codes`]); each context's module maps its use-case outcomes onto them
//! (`impl From<LoginError> for ApiError` and so on) — the one place each
//! outcome gets its status — and `tests/outcomes.rs`-style table tests there
//! cover the mappings. Dependency failures are mapped here, once.

mod codes;

use std::fmt;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use auth_application::Failure;
use auth_domain::PolicyViolation;
use serde::Serialize;
use utoipa::ToSchema;

pub use codes::{ErrorCode, Spec};

use crate::request_id;

impl ErrorCode {
    /// The `code` field.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        self.spec().code
    }

    /// The HTTP status.
    #[must_use]
    pub fn status(self) -> StatusCode {
        StatusCode::from_u16(self.spec().status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR)
    }

    /// The `title` field.
    #[must_use]
    pub const fn title(self) -> &'static str {
        self.spec().title
    }

    /// The `detail` field unless the error carries its own.
    #[must_use]
    pub const fn default_detail(self) -> &'static str {
        self.spec().detail
    }
}

/// One problem with one field.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    /// The JSON field (`body` for the document as a whole).
    pub field: String,
    /// Machine-readable rule.
    pub code: String,
    /// Human-readable explanation.
    pub message: String,
}

/// An RFC 9457 problem document.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProblemDetails {
    /// A URI naming the problem type.
    #[serde(rename = "type")]
    pub problem_type: String,
    /// Short summary of the problem type.
    pub title: String,
    /// HTTP status.
    pub status: u16,
    /// Stable machine-readable code.
    pub code: String,
    /// Explanation of this occurrence.
    pub detail: String,
    /// Same as the `X-Request-Id` header and the server log line.
    pub request_id: String,
    /// Per-field problems (`validation_failed`, `weak_password`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// `step_up_required`: the level to prove (`aal1` or `aal2`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub acr_values: Option<String>,
    /// `step_up_required`: how recent the proof must be, in seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max_age: Option<u64>,
}

/// An error answered as problem+json.
#[derive(Debug)]
pub struct ApiError {
    code: ErrorCode,
    detail: Option<String>,
    errors: Vec<FieldError>,
    retry_after: Option<u64>,
    /// Whether a bearer token was presented (RFC 6750 §3 challenge).
    token_presented: bool,
    /// The `Allow` header of a 405.
    allow: Option<String>,
    /// `step_up_required`: `acr_values` and `max_age`.
    step_up: Option<(&'static str, u64)>,
}

impl ApiError {
    /// An error with the code's default detail.
    #[must_use]
    pub const fn new(code: ErrorCode) -> Self {
        Self {
            code,
            detail: None,
            errors: Vec::new(),
            retry_after: None,
            token_presented: false,
            allow: None,
            step_up: None,
        }
    }

    /// `step_up_required` (RFC 9470): prove `acr` within `max_age_secs`.
    #[must_use]
    pub fn step_up(acr: &'static str, max_age_secs: u64) -> Self {
        let mut err = Self::new(ErrorCode::StepUpRequired);
        err.step_up = Some((acr, max_age_secs));
        err
    }

    /// `method_not_allowed`, with the methods the resource serves.
    #[must_use]
    pub fn method_not_allowed(allow: String) -> Self {
        let mut err = Self::new(ErrorCode::MethodNotAllowed);
        err.allow = Some(allow);
        err
    }

    /// Replaces the detail.
    #[must_use]
    pub fn with_detail(mut self, detail: impl Into<String>) -> Self {
        self.detail = Some(detail.into());
        self
    }

    /// `validation_failed` for one field.
    #[must_use]
    pub fn invalid_field(field: &str, code: &str, message: impl Into<String>) -> Self {
        let message = message.into();
        let mut err = Self::new(ErrorCode::ValidationFailed).with_detail(message.clone());
        err.errors.push(FieldError {
            field: field.to_owned(),
            code: code.to_owned(),
            message,
        });
        err
    }

    /// `unauthorized`, with the challenge that says whether a token was sent.
    #[must_use]
    pub const fn unauthorized(token_presented: bool) -> Self {
        let mut err = Self::new(ErrorCode::Unauthorized);
        err.token_presented = token_presented;
        err
    }

    /// A 503 with `Retry-After`.
    #[must_use]
    pub fn unavailable(retry_after_secs: u64) -> Self {
        let mut err = Self::new(ErrorCode::ServiceUnavailable);
        err.retry_after = Some(retry_after_secs.max(1));
        err
    }

    /// A 429 (`rate_limited` or `too_many_attempts`) whose `Retry-After` is
    /// the wait, in whole seconds rounded up.
    #[must_use]
    pub fn retry_later(code: ErrorCode, wait: std::time::Duration) -> Self {
        let mut err = Self::new(code);
        let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        err.retry_after = Some(secs.max(1));
        err
    }

    /// The code.
    #[must_use]
    pub const fn code(&self) -> ErrorCode {
        self.code
    }

    fn problem(&self) -> ProblemDetails {
        ProblemDetails {
            problem_type: self.code.spec().type_uri.to_owned(),
            title: self.code.title().to_owned(),
            status: self.code.status().as_u16(),
            code: self.code.as_str().to_owned(),
            detail: self
                .detail
                .clone()
                .unwrap_or_else(|| self.code.default_detail().to_owned()),
            request_id: request_id::current().unwrap_or_default(),
            errors: self.errors.clone(),
            acr_values: self.step_up.map(|(acr, _)| acr.to_owned()),
            max_age: self.step_up.map(|(_, age)| age),
        }
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code.as_str())
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.code.status()
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.code.status());
        response.insert_header((
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        ));
        response.insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")));
        let retry_after = match self.code {
            ErrorCode::ServiceUnavailable | ErrorCode::TooManyAttempts | ErrorCode::RateLimited => {
                Some(self.retry_after.unwrap_or(1))
            }
            _ => self.retry_after,
        };
        if let Some(secs) = retry_after {
            response.insert_header((header::RETRY_AFTER, secs.to_string()));
        }
        if let Some(allow) = &self.allow {
            response.insert_header((header::ALLOW, allow.as_str()));
        }
        if self.code == ErrorCode::Unauthorized {
            let challenge = if self.token_presented {
                r#"Bearer realm="auth-service", error="invalid_token""#
            } else {
                r#"Bearer realm="auth-service""#
            };
            response.insert_header((header::WWW_AUTHENTICATE, challenge));
        }
        if let Some((acr, max_age)) = self.step_up {
            response.insert_header((
                header::WWW_AUTHENTICATE,
                format!(
                    r#"Bearer realm="auth-service", error="insufficient_user_authentication", error_description="A recent second factor is required", acr_values="{acr}", max_age={max_age}"#
                ),
            ));
        }
        response.json(self.problem())
    }
}

/// Dependency failures: logged here once with the request id, never shown.
impl From<Failure> for ApiError {
    fn from(failure: Failure) -> Self {
        match failure {
            Failure::Unavailable(reason) => {
                tracing::error!(error = %reason, "dependency unavailable");
                Self::unavailable(5)
            }
            Failure::Overloaded { retry_after } => {
                tracing::warn!("password hashing pool saturated; shedding load");
                Self::unavailable(retry_after.as_secs())
            }
            Failure::RateLimited { retry_after } => {
                Self::retry_later(ErrorCode::RateLimited, retry_after)
            }
            Failure::Internal(reason) => {
                tracing::error!(error = %reason, "internal error");
                Self::new(ErrorCode::Internal)
            }
        }
    }
}

/// `errors[]` of `weak_password`: one entry per broken rule of the policy,
/// on the field that carried the password.
pub(crate) fn weak_password(field: &str, violations: &[PolicyViolation]) -> ApiError {
    let mut api = ApiError::new(ErrorCode::WeakPassword);
    api.errors = violations
        .iter()
        .map(|v| FieldError {
            field: field.to_owned(),
            code: v.code().to_owned(),
            message: v.message().to_owned(),
        })
        .collect();
    api
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use actix_web::body::to_bytes;

    use super::*;

    /// Dependency failures and the generic problems.
    #[test]
    fn failure_to_status_table() {
        let cases: Vec<(ApiError, u16, &str)> = vec![
            (
                Failure::Unavailable("db down".into()).into(),
                503,
                "service_unavailable",
            ),
            (
                Failure::Overloaded {
                    retry_after: Duration::from_secs(1),
                }
                .into(),
                503,
                "service_unavailable",
            ),
            (Failure::Internal("bug".into()).into(), 500, "internal"),
            (
                Failure::RateLimited {
                    retry_after: Duration::from_millis(1500),
                }
                .into(),
                429,
                "rate_limited",
            ),
            (
                ApiError::new(ErrorCode::PayloadTooLarge),
                413,
                "payload_too_large",
            ),
            (ApiError::new(ErrorCode::NotFound), 404, "not_found"),
            (
                ApiError::method_not_allowed("GET".into()),
                405,
                "method_not_allowed",
            ),
            (
                ApiError::new(ErrorCode::TooManyAttempts),
                429,
                "too_many_attempts",
            ),
            (
                weak_password("password", &[PolicyViolation::TooShort]),
                422,
                "weak_password",
            ),
        ];
        for (err, status, code) in cases {
            assert_eq!(err.code().status().as_u16(), status, "{code}");
            assert_eq!(err.code().as_str(), code);
        }
    }

    #[actix_web::test]
    async fn problem_body_has_the_contract_fields_and_no_internals() {
        let response = ApiError::from(Failure::Unavailable(
            "connection refused to 10.0.0.5:5432".into(),
        ))
        .error_response();
        assert_eq!(response.status(), 503);
        assert_eq!(
            response
                .headers()
                .get(header::CONTENT_TYPE)
                .and_then(|v| v.to_str().ok()),
            Some("application/problem+json")
        );
        assert_eq!(
            response
                .headers()
                .get(header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok()),
            Some("5")
        );
        let body = to_bytes(response.into_body()).await.expect("body");
        let json: serde_json::Value = serde_json::from_slice(&body).expect("json");
        for field in ["type", "title", "status", "code", "detail", "request_id"] {
            assert!(json.get(field).is_some(), "missing {field}");
        }
        assert!(!String::from_utf8_lossy(&body).contains("5432"));
    }

    #[test]
    fn exact_details_of_the_contract() {
        assert_eq!(
            ErrorCode::InvalidCredentials.default_detail(),
            "Invalid email or password"
        );
        assert_eq!(
            ErrorCode::EmailNotVerified.default_detail(),
            "Please verify your email"
        );
        assert_eq!(
            ErrorCode::TooManyAttempts.default_detail(),
            "Too many attempts. Please try again later"
        );
        assert_eq!(
            ErrorCode::TokenExpired.default_detail(),
            "This link has expired. Please request a new one"
        );
    }

    #[test]
    fn unauthorized_challenge_depends_on_whether_a_token_was_sent() {
        let none = ApiError::unauthorized(false).error_response();
        let bad = ApiError::unauthorized(true).error_response();
        let challenge = |r: &HttpResponse| {
            r.headers()
                .get(header::WWW_AUTHENTICATE)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        assert_eq!(
            challenge(&none).as_deref(),
            Some(r#"Bearer realm="auth-service""#)
        );
        assert_eq!(
            challenge(&bad).as_deref(),
            Some(r#"Bearer realm="auth-service", error="invalid_token""#)
        );
    }
}
