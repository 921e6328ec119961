//! The OpenAPI 3.1 document: every route of [`crate::routes`], its schemas and
//! its problem responses.

use std::sync::OnceLock;

use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::dto::{
    ChangePasswordBody, IntrospectionDto, RefreshBody, SessionDto, SessionsDto, ValidateBody,
};
use crate::dto::{
    CheckStatus, HealthChecks, HealthDto, LoginBody, RegisterBody, TokenPairDto, UserDto,
    UserEnvelope, VerifyEmailBody,
};
use crate::error::{FieldError, ProblemDetails};
use crate::handlers::{auth, sessions, system};

/// The document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "auth-service",
        description = "Registration, login, sessions and tokens. Errors are RFC 9457 problem details with a stable `code`.",
        license(name = "MIT OR Apache-2.0")
    ),
    paths(
        auth::register,
        auth::verify_email,
        auth::verify_email_in_path,
        auth::login,
        auth::me,
        sessions::refresh,
        sessions::logout,
        sessions::list_sessions,
        sessions::revoke_sessions_collection,
        sessions::revoke_all_sessions,
        sessions::revoke_session,
        sessions::change_password,
        sessions::validate,
        sessions::verify_token,
        system::health,
        system::metrics,
        system::jwks,
        system::openapi_json,
        crate::docs::page,
    ),
    components(schemas(
        RegisterBody, VerifyEmailBody, LoginBody, UserDto, UserEnvelope, TokenPairDto,
        HealthDto, HealthChecks, CheckStatus, ProblemDetails, FieldError,
        RefreshBody, ChangePasswordBody, ValidateBody, IntrospectionDto, SessionDto, SessionsDto,
    )),
    modifiers(&BearerAuth),
    tags(
        (name = "auth", description = "Registration, verification, login"),
        (name = "sessions", description = "Refresh, logout, devices, password change"),
        (name = "tokens", description = "Access-token validation for other services"),
        (name = "system", description = "Health, keys and documentation"),
    )
)]
#[derive(Debug)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut scheme = Http::new(HttpAuthScheme::Bearer);
        scheme.bearer_format = Some("JWT".to_owned());
        components.add_security_scheme("bearer", SecurityScheme::Http(scheme));
    }
}

/// The document as served at `/openapi.json` and committed as
/// `openapi/openapi.json`: the same bytes.
#[must_use]
pub fn document() -> &'static str {
    static DOCUMENT: OnceLock<String> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        let mut json = ApiDoc::openapi()
            .to_pretty_json()
            .unwrap_or_else(|err| format!("{{\"error\": \"{err}\"}}"));
        json.push('\n');
        json
    })
}
