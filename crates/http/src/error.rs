//! RFC 9457 problem details. The one place that decides a status code: every
//! use-case outcome is mapped here, and a table test covers the mapping.

use std::fmt;

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use auth_application::{
    AuthenticateError, ChangePasswordError, Failure, LoginError, LogoutError, RefreshError,
    RegisterError, SessionError, VerifyEmailError,
};
use auth_domain::PolicyViolation;
use serde::Serialize;
use utoipa::ToSchema;

use crate::request_id;

/// Stable machine-readable error codes of the API contract.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    /// 422: malformed input.
    ValidationFailed,
    /// 422: the password policy failed.
    WeakPassword,
    /// 409: the email is registered.
    EmailTaken,
    /// 401: unknown email or wrong password.
    InvalidCredentials,
    /// 403: the email is not verified.
    EmailNotVerified,
    /// 403: the account may not log in.
    AccountSuspended,
    /// 429: the client IP is blocked after failed logins.
    TooManyAttempts,
    /// 429: any other rate limit.
    RateLimited,
    /// 400: unknown or used email/reset token.
    TokenInvalid,
    /// 400: expired email/reset token.
    TokenExpired,
    /// 401: missing or invalid access token.
    Unauthorized,
    /// 401: unknown, expired or revoked refresh token.
    RefreshTokenInvalid,
    /// 401: a rotated-out refresh token was presented.
    RefreshTokenReused,
    /// 403: authenticated but not allowed.
    Forbidden,
    /// 404.
    NotFound,
    /// 405.
    MethodNotAllowed,
    /// 413.
    PayloadTooLarge,
    /// 415: the body is not JSON.
    UnsupportedMediaType,
    /// 503: a dependency is down or the service is shedding load.
    ServiceUnavailable,
    /// 500.
    Internal,
}

impl ErrorCode {
    /// The `code` field.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::ValidationFailed => "validation_failed",
            Self::WeakPassword => "weak_password",
            Self::EmailTaken => "email_taken",
            Self::InvalidCredentials => "invalid_credentials",
            Self::EmailNotVerified => "email_not_verified",
            Self::AccountSuspended => "account_suspended",
            Self::TooManyAttempts => "too_many_attempts",
            Self::RateLimited => "rate_limited",
            Self::TokenInvalid => "token_invalid",
            Self::TokenExpired => "token_expired",
            Self::Unauthorized => "unauthorized",
            Self::RefreshTokenInvalid => "refresh_token_invalid",
            Self::RefreshTokenReused => "refresh_token_reused",
            Self::Forbidden => "forbidden",
            Self::NotFound => "not_found",
            Self::MethodNotAllowed => "method_not_allowed",
            Self::PayloadTooLarge => "payload_too_large",
            Self::UnsupportedMediaType => "unsupported_media_type",
            Self::ServiceUnavailable => "service_unavailable",
            Self::Internal => "internal",
        }
    }

    /// The HTTP status.
    #[must_use]
    pub const fn status(self) -> StatusCode {
        match self {
            Self::ValidationFailed | Self::WeakPassword => StatusCode::UNPROCESSABLE_ENTITY,
            Self::EmailTaken => StatusCode::CONFLICT,
            Self::InvalidCredentials
            | Self::Unauthorized
            | Self::RefreshTokenInvalid
            | Self::RefreshTokenReused => StatusCode::UNAUTHORIZED,
            Self::EmailNotVerified | Self::AccountSuspended | Self::Forbidden => {
                StatusCode::FORBIDDEN
            }
            Self::TooManyAttempts | Self::RateLimited => StatusCode::TOO_MANY_REQUESTS,
            Self::TokenInvalid | Self::TokenExpired => StatusCode::BAD_REQUEST,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            Self::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::ServiceUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The `title` field.
    #[must_use]
    pub const fn title(self) -> &'static str {
        match self {
            Self::ValidationFailed => "Validation failed",
            Self::WeakPassword => "Weak password",
            Self::EmailTaken => "Email already registered",
            Self::InvalidCredentials => "Invalid email or password",
            Self::EmailNotVerified => "Email not verified",
            Self::AccountSuspended => "Account suspended",
            Self::TooManyAttempts => "Too many attempts",
            Self::RateLimited => "Too many requests",
            Self::TokenInvalid => "Invalid token",
            Self::TokenExpired => "Token expired",
            Self::Unauthorized => "Unauthorized",
            Self::RefreshTokenInvalid => "Invalid refresh token",
            Self::RefreshTokenReused => "Refresh token reused",
            Self::Forbidden => "Forbidden",
            Self::NotFound => "Not found",
            Self::MethodNotAllowed => "Method not allowed",
            Self::PayloadTooLarge => "Payload too large",
            Self::UnsupportedMediaType => "Unsupported media type",
            Self::ServiceUnavailable => "Service unavailable",
            Self::Internal => "Internal server error",
        }
    }

    /// The `detail` field unless the error carries its own.
    #[must_use]
    pub const fn default_detail(self) -> &'static str {
        match self {
            Self::ValidationFailed => "The request is invalid",
            Self::WeakPassword => "The password does not meet the password policy",
            Self::EmailTaken => "An account with this email already exists",
            Self::InvalidCredentials => "Invalid email or password",
            Self::EmailNotVerified => "Please verify your email",
            Self::AccountSuspended => "This account is suspended",
            Self::TooManyAttempts => "Too many attempts. Please try again later",
            Self::RateLimited => "Too many requests. Please try again later",
            Self::TokenInvalid => "This link is invalid or has already been used",
            Self::TokenExpired => "This link has expired. Please request a new one",
            Self::Unauthorized => "A valid access token is required",
            Self::RefreshTokenInvalid => "The refresh token is invalid or expired",
            Self::RefreshTokenReused => {
                "The refresh token was already used; its session has been revoked"
            }
            Self::Forbidden => "You are not allowed to do this",
            Self::NotFound => "The requested resource was not found",
            Self::MethodNotAllowed => "This method is not allowed on this resource",
            Self::PayloadTooLarge => "The request body is larger than 64 KiB",
            Self::UnsupportedMediaType => "The request body must be application/json",
            Self::ServiceUnavailable => {
                "The service is temporarily unavailable. Please try again later"
            }
            Self::Internal => "An unexpected error occurred",
        }
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
        }
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

    /// The code.
    #[must_use]
    pub const fn code(&self) -> ErrorCode {
        self.code
    }

    fn problem(&self) -> ProblemDetails {
        ProblemDetails {
            problem_type: format!(
                "https://docs.auth-service.dev/problems/{}",
                self.code.as_str()
            ),
            title: self.code.title().to_owned(),
            status: self.code.status().as_u16(),
            code: self.code.as_str().to_owned(),
            detail: self
                .detail
                .clone()
                .unwrap_or_else(|| self.code.default_detail().to_owned()),
            request_id: request_id::current().unwrap_or_default(),
            errors: self.errors.clone(),
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
            Failure::Internal(reason) => {
                tracing::error!(error = %reason, "internal error");
                Self::new(ErrorCode::Internal)
            }
        }
    }
}

fn policy_errors(violations: &[PolicyViolation]) -> Vec<FieldError> {
    violations
        .iter()
        .map(|v| FieldError {
            field: "password".to_owned(),
            code: v.code().to_owned(),
            message: v.message().to_owned(),
        })
        .collect()
}

impl From<RegisterError> for ApiError {
    fn from(err: RegisterError) -> Self {
        match err {
            RegisterError::WeakPassword(violations) => {
                let mut api = Self::new(ErrorCode::WeakPassword);
                api.errors = policy_errors(&violations);
                api
            }
            RegisterError::EmailTaken => Self::new(ErrorCode::EmailTaken),
            RegisterError::Failed(failure) => failure.into(),
        }
    }
}

impl From<VerifyEmailError> for ApiError {
    fn from(err: VerifyEmailError) -> Self {
        match err {
            VerifyEmailError::Invalid => Self::new(ErrorCode::TokenInvalid),
            VerifyEmailError::Expired => Self::new(ErrorCode::TokenExpired),
            VerifyEmailError::Failed(failure) => failure.into(),
        }
    }
}

impl From<LoginError> for ApiError {
    fn from(err: LoginError) -> Self {
        match err {
            LoginError::InvalidCredentials => Self::new(ErrorCode::InvalidCredentials),
            LoginError::EmailNotVerified => Self::new(ErrorCode::EmailNotVerified),
            LoginError::Suspended => Self::new(ErrorCode::AccountSuspended),
            LoginError::Failed(failure) => failure.into(),
        }
    }
}

impl From<AuthenticateError> for ApiError {
    fn from(err: AuthenticateError) -> Self {
        match err {
            AuthenticateError::Rejected(_) => Self::unauthorized(true),
            AuthenticateError::Failed(failure) => failure.into(),
        }
    }
}

impl From<RefreshError> for ApiError {
    fn from(err: RefreshError) -> Self {
        match err {
            RefreshError::Invalid => Self::new(ErrorCode::RefreshTokenInvalid),
            RefreshError::Reused => Self::new(ErrorCode::RefreshTokenReused),
            RefreshError::Suspended => Self::new(ErrorCode::AccountSuspended),
            RefreshError::Failed(failure) => failure.into(),
        }
    }
}

impl From<LogoutError> for ApiError {
    fn from(err: LogoutError) -> Self {
        match err {
            LogoutError::Unauthenticated => Self::unauthorized(false),
            LogoutError::Failed(failure) => failure.into(),
        }
    }
}

impl From<SessionError> for ApiError {
    fn from(err: SessionError) -> Self {
        match err {
            SessionError::NotFound => Self::new(ErrorCode::NotFound).with_detail("No such session"),
            SessionError::Failed(failure) => failure.into(),
        }
    }
}

impl From<ChangePasswordError> for ApiError {
    fn from(err: ChangePasswordError) -> Self {
        match err {
            ChangePasswordError::InvalidCredentials => Self::new(ErrorCode::InvalidCredentials),
            ChangePasswordError::WeakPassword(violations) => {
                let mut api = Self::new(ErrorCode::WeakPassword);
                api.errors = policy_errors(&violations)
                    .into_iter()
                    .map(|e| FieldError {
                        field: "new_password".to_owned(),
                        ..e
                    })
                    .collect();
                api
            }
            ChangePasswordError::Unauthenticated => Self::unauthorized(true),
            ChangePasswordError::Failed(failure) => failure.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use actix_web::body::to_bytes;
    use auth_domain::ports::TokenRejection;

    use super::*;

    /// Every use-case outcome and the status, code and headers it answers with.
    #[test]
    fn outcome_to_status_table() {
        let cases: Vec<(ApiError, u16, &str)> = vec![
            (
                RegisterError::WeakPassword(vec![PolicyViolation::TooShort]).into(),
                422,
                "weak_password",
            ),
            (RegisterError::EmailTaken.into(), 409, "email_taken"),
            (VerifyEmailError::Invalid.into(), 400, "token_invalid"),
            (VerifyEmailError::Expired.into(), 400, "token_expired"),
            (
                LoginError::InvalidCredentials.into(),
                401,
                "invalid_credentials",
            ),
            (
                LoginError::EmailNotVerified.into(),
                403,
                "email_not_verified",
            ),
            (LoginError::Suspended.into(), 403, "account_suspended"),
            (
                AuthenticateError::Rejected(TokenRejection::Expired).into(),
                401,
                "unauthorized",
            ),
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
                ApiError::new(ErrorCode::PayloadTooLarge),
                413,
                "payload_too_large",
            ),
            (ApiError::new(ErrorCode::NotFound), 404, "not_found"),
            (
                ApiError::new(ErrorCode::MethodNotAllowed),
                405,
                "method_not_allowed",
            ),
            (
                ApiError::new(ErrorCode::TooManyAttempts),
                429,
                "too_many_attempts",
            ),
            (
                ApiError::new(ErrorCode::RefreshTokenReused),
                401,
                "refresh_token_reused",
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
