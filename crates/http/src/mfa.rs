//! `mfa`: second factors — setup, the method list, codes, verification
//! (setup confirmation, step-up and a login's second step), removal, backup
//! codes — and the step-up problem every context answers with.

use actix_web::{HttpResponse, web};
use auth_application::TokenPair;
use auth_application::mfa::{
    ChallengeError, Mfa, RegenerateError, RemoveError, SessionVerified, SetupError, SetupRequest,
    Subject, VerifyError,
};
use auth_application::shared::{Proof, StepUpError};
use auth_application::sign_in::{MfaLoginError, SignIn};
use auth_domain::mfa::{MethodKind, MfaMethod};
use auth_domain::{ChallengeId, Email, MethodId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::app::App;
use crate::auth::{Authenticated, MaybeAuthenticated};
use crate::client::Client;
use crate::dto::TokenPairDto;
use crate::error::{ApiError, ErrorCode, ProblemDetails};
use crate::refresh_cookie;

/// The problem of a step-up refusal (RFC 9470).
impl From<StepUpError> for ApiError {
    fn from(err: StepUpError) -> Self {
        match err {
            StepUpError::Required(required) => {
                Self::step_up(required.acr.as_str(), required.max_age.as_secs())
            }
            StepUpError::Failed(failure) => failure.into(),
        }
    }
}

/// `POST /api/v1/mfa/setup`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetupBody {
    /// `totp`, `email` or `sms`.
    #[serde(rename = "type")]
    #[schema(example = "totp")]
    pub kind: String,
    /// Unique per user; defaults to the kind's name.
    pub name: Option<String>,
    /// `sms`: the number, E.164.
    #[schema(example = "+4915123456742")]
    pub phone: Option<String>,
}

/// A second-factor method; never its secret or full address.
#[derive(Debug, Serialize, ToSchema)]
pub struct MethodDto {
    /// Its id.
    pub id: Uuid,
    /// `totp`, `email` or `sms`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Its name.
    pub name: String,
    /// `pending` or `active`.
    pub status: &'static str,
    /// Email / SMS: the masked address or number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
    /// When it was set up.
    pub created_at: DateTime<Utc>,
    /// When a code of it was last accepted.
    pub last_used_at: Option<DateTime<Utc>>,
}

impl MethodDto {
    fn new(method: &MfaMethod, email: &Email) -> Self {
        Self {
            id: method.id.as_uuid(),
            kind: method.kind.as_str(),
            name: method.name.clone(),
            status: method.status.as_str(),
            hint: method.hint(email),
            created_at: method.created_at,
            last_used_at: method.last_used_at,
        }
    }
}

/// What an authenticator app needs: shown once.
#[derive(Debug, Serialize, ToSchema)]
pub struct TotpDto {
    /// Base32 secret.
    pub secret: String,
    /// `otpauth://totp/…`
    pub otpauth_uri: String,
    /// The URI as an SVG QR code.
    pub qr_svg: String,
}

/// A sent code.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChallengeDto {
    /// Present it with the code (optional for the method's newest code).
    pub challenge_id: Uuid,
    /// `email` or `sms`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Seconds the code stays valid.
    pub expires_in: u64,
}

/// `201` of `POST /api/v1/mfa/setup`.
#[derive(Debug, Serialize, ToSchema)]
pub struct SetupResponse {
    /// The pending method.
    pub method: MethodDto,
    /// TOTP: the secret, URI and QR code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub totp: Option<TotpDto>,
    /// Email / SMS: the code just sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub challenge: Option<ChallengeDto>,
}

/// The backup codes of `GET /api/v1/mfa/methods`.
#[derive(Debug, Serialize, ToSchema)]
pub struct BackupCodesDto {
    /// Unused codes.
    pub remaining: u32,
    /// When the set was generated; `null` without a set.
    pub generated_at: Option<DateTime<Utc>>,
}

/// `GET /api/v1/mfa/methods`
#[derive(Debug, Serialize, ToSchema)]
pub struct MethodsDto {
    /// Whether the user has an active method.
    pub mfa_enabled: bool,
    /// Active methods and setups still waiting for their code.
    pub methods: Vec<MethodDto>,
    /// The backup codes.
    pub backup_codes: BackupCodesDto,
}

/// `POST /api/v1/mfa/challenge`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChallengeBody {
    /// A login's `mfa_token`; without it, the Bearer token's session.
    pub mfa_token: Option<String>,
    /// The email or SMS method.
    pub method_id: Uuid,
}

/// `POST /api/v1/mfa/verify`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyBody {
    /// A login's `mfa_token`; without it, the Bearer token's session.
    pub mfa_token: Option<String>,
    /// `totp`, `email`, `sms` or `backup_code`.
    #[serde(rename = "type")]
    #[schema(example = "totp")]
    pub kind: String,
    /// The method (TOTP: optional, any active TOTP method matches).
    pub method_id: Option<Uuid>,
    /// Email / SMS: the challenge (optional: the method's newest).
    pub challenge_id: Option<Uuid>,
    /// The code.
    #[schema(example = "123456")]
    pub code: String,
}

/// A token pair, and what a used backup code left.
#[derive(Debug, Serialize, ToSchema)]
pub struct VerifiedPairDto {
    /// The pair.
    #[serde(flatten)]
    pub pair: TokenPairDto,
    /// Backup codes left, when one was used.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup_codes_remaining: Option<u32>,
}

/// `200` of a setup confirmation.
#[derive(Debug, Serialize, ToSchema)]
pub struct SetupConfirmedDto {
    /// The method, now active.
    pub method: MethodDto,
    /// The 10 backup codes, shown once, for the user's first method.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backup_codes: Option<Vec<String>>,
    /// A pair for the same session, now `aal2`.
    pub tokens: TokenPairDto,
}

/// `200` of `POST /api/v1/mfa/backup-codes/regenerate`
#[derive(Debug, Serialize, ToSchema)]
pub struct BackupCodesRegeneratedDto {
    /// The new codes, shown once.
    pub backup_codes: Vec<String>,
    /// When they were generated.
    pub generated_at: DateTime<Utc>,
}

fn qr_svg(uri: &str) -> Result<String, ApiError> {
    let code = qrcode::QrCode::new(uri.as_bytes()).map_err(|e| {
        tracing::error!(error = %e, "cannot draw the QR code");
        ApiError::new(ErrorCode::Internal)
    })?;
    Ok(code
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(200, 200)
        .build())
}

fn method_kind(raw: &str, field: &str) -> Result<MethodKind, ApiError> {
    MethodKind::parse(raw)
        .ok_or_else(|| ApiError::invalid_field(field, "invalid", "type must be totp, email or sms"))
}

/// The proof a verify body presents.
fn proof_of(body: &VerifyBody) -> Result<Proof, ApiError> {
    let method = body.method_id.map(MethodId::from_uuid);
    let challenge = body.challenge_id.map(ChallengeId::from_uuid);
    let code = body.code.trim().to_owned();
    if code.is_empty() {
        return Err(ApiError::invalid_field(
            "code",
            "required",
            "code is required",
        ));
    }
    if code.len() > 64 {
        return Err(ApiError::invalid_field(
            "code",
            "too_long",
            "code is too long",
        ));
    }
    Ok(match body.kind.as_str() {
        "totp" => Proof::Totp { method, code },
        "backup_code" => Proof::BackupCode { code },
        other => {
            let kind = MethodKind::parse(other).ok_or_else(|| {
                ApiError::invalid_field(
                    "type",
                    "invalid",
                    "type must be totp, email, sms or backup_code",
                )
            })?;
            if method.is_none() && challenge.is_none() {
                return Err(ApiError::invalid_field(
                    "method_id",
                    "required",
                    "method_id or challenge_id is required for email and sms codes",
                ));
            }
            Proof::Sent {
                kind,
                method,
                challenge,
                code,
            }
        }
    })
}

/// Start setting up a second factor (pending until its first code).
#[utoipa::path(
    post, path = "/api/v1/mfa/setup", tag = "mfa",
    request_body = SetupBody,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Pending method (TOTP: secret, URI, QR; email/SMS: a code was sent)", body = SetupResponse),
        (status = 401, description = "`unauthorized` or `step_up_required` (the user already has a method)", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 409, description = "`mfa_method_exists`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
pub async fn setup<A: App>(
    app: web::Data<A>,
    auth: Authenticated,
    client: Client,
    body: web::Json<SetupBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let request = SetupRequest {
        kind: method_kind(&body.kind, "type")?,
        name: body.name,
        phone: body.phone,
    };
    let done = app
        .mfa()
        .setup(&auth.claims, request, &client.0)
        .await
        .map_err(|err| match err {
            SetupError::StepUp(err) => err.into(),
            SetupError::Exists => ApiError::new(ErrorCode::MfaMethodExists),
            SetupError::SmsUnavailable => {
                ApiError::invalid_field("type", "unavailable", "sms is not offered here")
            }
            SetupError::InvalidPhone => ApiError::invalid_field(
                "phone",
                "invalid_phone",
                "phone must be an E.164 number such as +4915123456742",
            ),
            SetupError::InvalidName => {
                ApiError::invalid_field("name", "too_long", "name is at most 64 characters")
            }
            SetupError::Unauthenticated => ApiError::unauthorized(true),
            SetupError::Failed(failure) => failure.into(),
        })?;
    let totp = match done.totp {
        Some(totp) => Some(TotpDto {
            qr_svg: qr_svg(&totp.otpauth_uri)?,
            secret: totp.secret,
            otpauth_uri: totp.otpauth_uri,
        }),
        None => None,
    };
    Ok(HttpResponse::Created()
        .insert_header(("Cache-Control", "no-store"))
        .json(SetupResponse {
            method: MethodDto::new(&done.method, &auth.claims.email),
            totp,
            challenge: done.challenge.map(|c| ChallengeDto {
                challenge_id: c.id.as_uuid(),
                kind: c.kind.as_str(),
                expires_in: c.expires_in,
            }),
        }))
}

/// The user's methods and backup codes; never a secret.
#[utoipa::path(
    get, path = "/api/v1/mfa/methods", tag = "mfa",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Methods", body = MethodsDto),
        (status = 401, description = "`unauthorized`", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
pub async fn methods<A: App>(
    app: web::Data<A>,
    auth: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let view = app.mfa().methods(auth.claims.user_id).await?;
    Ok(HttpResponse::Ok().json(MethodsDto {
        mfa_enabled: view.mfa_enabled,
        methods: view
            .methods
            .iter()
            .map(|m| MethodDto::new(m, &view.email))
            .collect(),
        backup_codes: BackupCodesDto {
            remaining: view.backup_codes.map_or(0, |b| b.remaining),
            generated_at: view.backup_codes.map(|b| b.generated_at),
        },
    }))
}

/// Send a code for an email or SMS method (login second step or session).
#[utoipa::path(
    post, path = "/api/v1/mfa/challenge", tag = "mfa",
    request_body = ChallengeBody,
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "Code sent", body = ChallengeDto),
        (status = 401, description = "`mfa_token_invalid` or `unauthorized`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`: no such method of the user", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed` (TOTP needs no challenge)", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited` (one code per minute per method, five per hour)", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
pub async fn challenge<A: App>(
    app: web::Data<A>,
    auth: MaybeAuthenticated,
    client: Client,
    body: web::Json<ChallengeBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let subject = match (&body.mfa_token, &auth.0) {
        (Some(token), _) => Subject::Login(token),
        (None, Some(claims)) => Subject::Session(claims),
        (None, None) => return Err(ApiError::unauthorized(false)),
    };
    let sent = app
        .mfa()
        .challenge(subject, MethodId::from_uuid(body.method_id), &client.0)
        .await
        .map_err(|err| match err {
            ChallengeError::TokenInvalid => ApiError::new(ErrorCode::MfaTokenInvalid),
            ChallengeError::NotFound => ApiError::new(ErrorCode::NotFound),
            ChallengeError::NothingToSend => ApiError::invalid_field(
                "method_id",
                "no_challenge",
                "TOTP codes come from the authenticator app: nothing to send",
            ),
            ChallengeError::Failed(failure) => failure.into(),
        })?;
    Ok(HttpResponse::Ok().json(ChallengeDto {
        challenge_id: sent.id.as_uuid(),
        kind: sent.kind.as_str(),
        expires_in: sent.expires_in,
    }))
}

/// One of the answers of `POST /api/v1/mfa/verify`, by purpose.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum VerifyResponse {
    /// Login second step or step-up: a token pair.
    Pair(VerifiedPairDto),
    /// Setup confirmation.
    SetupConfirmed(SetupConfirmedDto),
}

fn code_error(code: ErrorCode, retry_after: Option<std::time::Duration>) -> ApiError {
    match retry_after {
        Some(wait) => ApiError::retry_later(code, wait),
        None => ApiError::new(code),
    }
}

/// Verify a second factor: finishes a login (`mfa_token`), confirms a
/// pending method or steps the Bearer token's session up.
#[utoipa::path(
    post, path = "/api/v1/mfa/verify", tag = "mfa",
    request_body = VerifyBody,
    security((), ("bearer" = [])),
    responses(
        (status = 200, description = "Login finished or step-up (token pair, aal2; refresh cookie set), or setup confirmed (`{method, backup_codes?, tokens}`)", body = VerifyResponse),
        (status = 401, description = "`mfa_code_invalid`, `mfa_code_expired`, `mfa_token_invalid` or `unauthorized`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 429, description = "`too_many_attempts` (MFA locked) or `rate_limited`", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
pub async fn verify<A: App>(
    app: web::Data<A>,
    auth: MaybeAuthenticated,
    client: Client,
    body: web::Json<VerifyBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let proof = proof_of(&body)?;
    if let Some(mfa_token) = &body.mfa_token {
        let done = app
            .sign_in()
            .complete_mfa_login(mfa_token, proof, &client.0)
            .await
            .map_err(|err| match err {
                MfaLoginError::TokenInvalid => ApiError::new(ErrorCode::MfaTokenInvalid),
                MfaLoginError::CodeInvalid => ApiError::new(ErrorCode::MfaCodeInvalid),
                MfaLoginError::CodeExpired => ApiError::new(ErrorCode::MfaCodeExpired),
                MfaLoginError::Locked { retry_after } => {
                    code_error(ErrorCode::TooManyAttempts, Some(retry_after))
                }
                MfaLoginError::Failed(failure) => failure.into(),
            })?;
        return Ok(pair_with_remaining(&done.pair, done.backup_codes_remaining));
    }
    let Some(claims) = auth.0 else {
        return Err(ApiError::unauthorized(false));
    };
    let verified = app
        .mfa()
        .verify(&claims, proof, &client.0)
        .await
        .map_err(|err| match err {
            VerifyError::CodeInvalid => ApiError::new(ErrorCode::MfaCodeInvalid),
            VerifyError::CodeExpired => ApiError::new(ErrorCode::MfaCodeExpired),
            VerifyError::Locked { retry_after } => {
                code_error(ErrorCode::TooManyAttempts, Some(retry_after))
            }
            VerifyError::Unauthenticated => ApiError::unauthorized(true),
            VerifyError::Failed(failure) => failure.into(),
        })?;
    Ok(match verified {
        SessionVerified::SteppedUp {
            pair,
            backup_codes_remaining,
        } => pair_with_remaining(&pair, backup_codes_remaining),
        SessionVerified::SetupConfirmed {
            method,
            backup_codes,
            pair,
        } => refresh_cookie::pair_response(
            &pair,
            &VerifyResponse::SetupConfirmed(SetupConfirmedDto {
                method: MethodDto::new(&method, &claims.email),
                backup_codes,
                tokens: TokenPairDto::from(&pair),
            }),
        ),
    })
}

fn pair_with_remaining(pair: &TokenPair, backup_codes_remaining: Option<u32>) -> HttpResponse {
    refresh_cookie::pair_response(
        pair,
        &VerifyResponse::Pair(VerifiedPairDto {
            pair: TokenPairDto::from(pair),
            backup_codes_remaining,
        }),
    )
}

/// Remove a method (step-up). Every other session of the user is revoked;
/// removing the last one turns MFA off and deletes the backup codes.
#[utoipa::path(
    delete, path = "/api/v1/mfa/methods/{method_id}", tag = "mfa",
    params(("method_id" = Uuid, Path, description = "The method")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "`unauthorized` or `step_up_required`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "`not_found` (also another user's method)", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
pub async fn remove<A: App>(
    app: web::Data<A>,
    auth: Authenticated,
    client: Client,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let Ok(id) = path.parse::<Uuid>() else {
        return Err(ApiError::new(ErrorCode::NotFound));
    };
    app.mfa()
        .remove(&auth.claims, MethodId::from_uuid(id), &client.0)
        .await
        .map_err(|err| match err {
            RemoveError::StepUp(err) => err.into(),
            RemoveError::NotFound => ApiError::new(ErrorCode::NotFound),
            RemoveError::Failed(failure) => failure.into(),
        })?;
    Ok(HttpResponse::NoContent().finish())
}

/// Replace the backup codes (step-up).
#[utoipa::path(
    post, path = "/api/v1/mfa/backup-codes/regenerate", tag = "mfa",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The new codes, shown once", body = BackupCodesRegeneratedDto),
        (status = 401, description = "`unauthorized` or `step_up_required`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 409, description = "`mfa_not_enabled`", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
pub async fn regenerate_backup_codes<A: App>(
    app: web::Data<A>,
    auth: Authenticated,
    client: Client,
) -> Result<HttpResponse, ApiError> {
    let codes = app
        .mfa()
        .regenerate_backup_codes(&auth.claims, &client.0)
        .await
        .map_err(|err| match err {
            RegenerateError::StepUp(err) => err.into(),
            RegenerateError::NotEnabled => ApiError::new(ErrorCode::MfaNotEnabled),
            RegenerateError::Failed(failure) => failure.into(),
        })?;
    Ok(HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(BackupCodesRegeneratedDto {
            backup_codes: codes.codes,
            generated_at: codes.generated_at,
        }))
}
