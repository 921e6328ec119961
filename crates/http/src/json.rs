//! JSON bodies: at most 64 KiB, unknown fields refused, every failure a
//! problem+json answer naming the field.

use actix_web::error::JsonPayloadError;
use actix_web::{HttpRequest, web};

use crate::error::{ApiError, ErrorCode};

/// Largest accepted request body.
pub const MAX_BODY: usize = 64 * 1024;

/// The extractor configuration.
#[must_use]
pub fn config() -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(MAX_BODY)
        .error_handler(|err, _req: &HttpRequest| problem(&err).into())
}

/// Whether the request declares a JSON body (`application/json` or any
/// `application/*+json`).
fn declares_json(req: &HttpRequest) -> bool {
    req.headers()
        .get(actix_web::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .is_some_and(|v| {
            v == "application/json" || (v.starts_with("application/") && v.ends_with("+json"))
        })
}

/// Forms (the hosted pages): at most 64 KiB, and a body that is not a form
/// is a problem like any other.
#[must_use]
pub fn form_config() -> web::FormConfig {
    web::FormConfig::default()
        .limit(MAX_BODY)
        .error_handler(|err, _req: &HttpRequest| {
            use actix_web::error::UrlencodedError;
            match err {
                UrlencodedError::Overflow { .. } => ApiError::new(ErrorCode::PayloadTooLarge),
                UrlencodedError::ContentType => ApiError::new(ErrorCode::UnsupportedMediaType),
                other => ApiError::invalid_field("body", "invalid_form", other.to_string()),
            }
            .into()
        })
}

/// Query strings: a malformed or unknown parameter is a 422 naming it.
#[must_use]
pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err, _req: &HttpRequest| {
        let message = err.to_string();
        let field = message.split('`').nth(1).unwrap_or("query").to_owned();
        ApiError::invalid_field(&field, "invalid_query", message).into()
    })
}

/// An optional JSON body: empty means `None`. For endpoints whose body may be
/// left out entirely (refresh and logout read a cookie instead).
///
/// A non-empty body must be declared JSON: the endpoints that act on the
/// cookie would otherwise answer a cross-site form or `text/plain` post,
/// which a browser sends without a CORS preflight (ASVS 13.2.5).
///
/// # Errors
/// 415 for a non-empty body that is not JSON, 413 past [`MAX_BODY`], 422 for
/// malformed JSON or unknown fields.
pub async fn optional<T: serde::de::DeserializeOwned>(
    req: &HttpRequest,
    payload: web::Payload,
) -> Result<Option<T>, ApiError> {
    let bytes = match payload.to_bytes_limited(MAX_BODY).await {
        Ok(Ok(bytes)) => bytes,
        Ok(Err(_)) => {
            return Err(ApiError::invalid_field(
                "body",
                "invalid_json",
                "The request body could not be read",
            ));
        }
        Err(_) => return Err(ApiError::new(ErrorCode::PayloadTooLarge)),
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    if !declares_json(req) {
        return Err(ApiError::new(ErrorCode::UnsupportedMediaType));
    }
    // `null` is as good as no body.
    serde_json::from_slice::<Option<T>>(&bytes).map_err(|err| deserialize_problem(&err))
}

fn problem(err: &JsonPayloadError) -> ApiError {
    match err {
        JsonPayloadError::Overflow { .. } | JsonPayloadError::OverflowKnownLength { .. } => {
            ApiError::new(ErrorCode::PayloadTooLarge)
        }
        JsonPayloadError::ContentType => ApiError::new(ErrorCode::UnsupportedMediaType),
        JsonPayloadError::Deserialize(err) => deserialize_problem(err),
        _ => ApiError::invalid_field("body", "invalid_json", "The request body could not be read"),
    }
}

/// serde names the field in its message; the position suffix is dropped.
fn deserialize_problem(err: &serde_json::Error) -> ApiError {
    if err.is_syntax() || err.is_eof() {
        return ApiError::invalid_field(
            "body",
            "invalid_json",
            "The request body is not valid JSON",
        );
    }
    let message = err.to_string();
    let message = message.split(" at line ").next().unwrap_or_default();
    let field = message.split('`').nth(1).unwrap_or("body");
    if message.starts_with("missing field") {
        ApiError::invalid_field(field, "required", format!("{field} is required"))
    } else if message.starts_with("unknown field") {
        ApiError::invalid_field(field, "unknown_field", format!("unknown field {field}"))
    } else {
        ApiError::invalid_field("body", "invalid_type", message.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        email: String,
    }

    fn problem_for(json: &str) -> String {
        let err = serde_json::from_str::<Body>(json).expect_err("invalid");
        format!("{:?}", deserialize_problem(&err))
    }

    #[test]
    fn names_the_field() {
        assert!(problem_for("{}").contains("field: \"email\", code: \"required\""));
        assert!(
            problem_for(r#"{"email":"a","admin":true}"#)
                .contains("field: \"admin\", code: \"unknown_field\"")
        );
        assert!(problem_for("{not json").contains("invalid_json"));
        assert!(problem_for(r#"{"email":5}"#).contains("invalid_type"));
    }
}
