//! Users and administration: profiles (`/users/{user_id}`, `me` accepted),
//! and the admin API over accounts, sessions, locks and the audit trail.

use actix_web::{HttpResponse, web};
use auth_application::accounts::{Accounts, DeleteAccountError, ProfileAccessError, ProfilePatch};
use auth_application::admin::{Admin, AdminError, AdminUserView};
use auth_domain::accounts::UserFilter;
use auth_domain::activity::AuditFilter;
use auth_domain::{AccountStatus, AuditEventType, EventId, OrganizationId, UserId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::activity::AuditEventDto;
use crate::app::App;
use crate::auth::Authenticated;
use crate::client::Client;
use crate::dto::{UserDto, UserEnvelope};
use crate::error::{ApiError, ErrorCode, ProblemDetails};
use crate::sessions::SessionDto;

impl From<ProfileAccessError> for ApiError {
    fn from(err: ProfileAccessError) -> Self {
        match err {
            ProfileAccessError::NotFound => Self::new(ErrorCode::NotFound),
            ProfileAccessError::Invalid(field, message) => {
                Self::invalid_field(field, "invalid", message)
            }
            ProfileAccessError::InvalidPreference(field, message) => {
                Self::invalid_field(field, "invalid", message)
            }
            ProfileAccessError::Failed(failure) => failure.into(),
        }
    }
}

impl From<AdminError> for ApiError {
    fn from(err: AdminError) -> Self {
        match err {
            AdminError::Forbidden => Self::new(ErrorCode::Forbidden),
            AdminError::NotFound => Self::new(ErrorCode::NotFound),
            AdminError::Invalid(field, message) => Self::invalid_field(field, "invalid", message),
            AdminError::StepUp(required) => {
                Self::step_up(required.acr.as_str(), required.max_age.as_secs())
            }
            AdminError::Failed(failure) => failure.into(),
        }
    }
}

/// `{user_id}`, or `me` for the caller.
fn subject(path: &str, auth: &Authenticated) -> Result<UserId, ApiError> {
    if path == "me" {
        return Ok(auth.claims.user_id);
    }
    path.parse::<Uuid>()
        .map(UserId::from_uuid)
        .map_err(|_| ApiError::new(ErrorCode::NotFound))
}

/// Absent stays absent; `null` becomes `Some(None)` (clear).
fn nullable<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// `PATCH /api/v1/users/{user_id}`: `null` clears a field.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileBody {
    /// At most 100 characters.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub name: Option<Option<String>>,
    /// At most 500 characters.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub bio: Option<Option<String>>,
    /// An `https://` URL of at most 2048 characters.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    pub avatar_url: Option<Option<String>>,
}

/// A user's profile: one's own (`me`), or anyone's with `users:read`;
/// anyone else's id answers 404.
#[utoipa::path(
    get, path = "/api/v1/users/{user_id}", tag = "users",
    params(("user_id" = String, Path, description = "A user id, or `me`")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The user", body = UserEnvelope),
        (status = 401, description = "`unauthorized`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
pub async fn profile<A: App>(
    app: web::Data<A>,
    auth: Authenticated,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let user = subject(&path, &auth)?;
    let view = app.accounts().profile(&auth.claims, user).await?;
    Ok(HttpResponse::Ok().json(UserEnvelope::from(&view)))
}

/// Change a profile: one's own, or anyone's with `users:write`.
#[utoipa::path(
    patch, path = "/api/v1/users/{user_id}", tag = "users",
    params(("user_id" = String, Path, description = "A user id, or `me`")),
    request_body = ProfileBody,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The user", body = UserEnvelope),
        (status = 401, description = "`unauthorized`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: lengths, https avatars only, control characters", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
pub async fn update_profile<A: App>(
    app: web::Data<A>,
    auth: Authenticated,
    client: Client,
    path: web::Path<String>,
    body: web::Json<ProfileBody>,
) -> Result<HttpResponse, ApiError> {
    let user = subject(&path, &auth)?;
    let body = body.into_inner();
    let view = app
        .accounts()
        .update_profile(
            &auth.claims,
            user,
            ProfilePatch {
                name: body.name,
                bio: body.bio,
                avatar_url: body.avatar_url,
            },
            &client.0,
        )
        .await?;
    Ok(HttpResponse::Ok().json(UserEnvelope::from(&view)))
}

/// `?query&status&role&organization_id&limit&cursor`
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct UsersQuery {
    /// An email prefix, or a part of the name.
    pub query: Option<String>,
    /// `active` or `suspended`.
    pub status: Option<String>,
    /// A global role name.
    pub role: Option<String>,
    /// Members of this organization.
    pub organization_id: Option<Uuid>,
    /// Page size, 1 to 100 (default 50).
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<Uuid>,
}

/// A page of users.
#[derive(Debug, Serialize, ToSchema)]
pub struct UsersPageDto {
    /// The users.
    pub users: Vec<UserDto>,
    /// The cursor of the next page; `null` on the last.
    pub next_cursor: Option<Uuid>,
}

/// Find users (`users:read`).
#[utoipa::path(
    get, path = "/api/v1/admin/users", tag = "admin",
    params(UsersQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Users", body = UsersPageDto),
        (status = 401, description = "`unauthorized`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
pub async fn users<A: App>(
    app: web::Data<A>,
    auth: Authenticated,
    query: web::Query<UsersQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let status = match query.status.as_deref() {
        None => None,
        Some("active") => Some(AccountStatus::Active),
        Some("suspended") => Some(AccountStatus::Suspended),
        Some(_) => {
            return Err(ApiError::invalid_field(
                "status",
                "invalid",
                "active or suspended",
            ));
        }
    };
    let filter = UserFilter {
        query: query.query.filter(|q| !q.trim().is_empty()),
        status,
        role: query.role,
        organization: query.organization_id.map(OrganizationId::from_uuid),
    };
    let (users, next) = app
        .admin()
        .users(
            &auth.claims,
            filter,
            query.cursor.map(UserId::from_uuid),
            query.limit.unwrap_or(50),
        )
        .await?;
    Ok(HttpResponse::Ok().json(UsersPageDto {
        users: users.iter().map(|u| UserDto::new(u, &[])).collect(),
        next_cursor: next.map(|u| u.as_uuid()),
    }))
}

/// An organization a user is in.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserOrganizationDto {
    /// Organization id.
    pub id: Uuid,
    /// Its name.
    pub name: String,
    /// The user's role there.
    pub role: &'static str,
}

/// A second-factor method, as an administrator sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminMethodDto {
    /// Method id.
    pub id: Uuid,
    /// `totp`, `email` or `sms`.
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Its name.
    pub name: String,
    /// `pending` or `active`.
    pub status: &'static str,
}

/// MFA state.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminMfaDto {
    /// Whether an active method exists.
    pub enabled: bool,
    /// The methods (never a secret).
    pub methods: Vec<AdminMethodDto>,
}

/// Session counts.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminSessionsDto {
    /// Active sessions.
    pub active: u64,
}

/// A lock on an account.
#[derive(Debug, Serialize, ToSchema)]
pub struct LockDto {
    /// `mfa` or `suspended`.
    pub kind: &'static str,
    /// When it ends (`null`: until lifted).
    pub until: Option<DateTime<Utc>>,
}

/// One user, as an administrator sees them.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminUserDto {
    /// The account.
    pub user: UserDto,
    /// Global roles.
    pub roles: Vec<String>,
    /// Organizations.
    pub organizations: Vec<UserOrganizationDto>,
    /// Second factors.
    pub mfa: AdminMfaDto,
    /// Sessions.
    pub sessions: AdminSessionsDto,
    /// Current locks.
    pub locks: Vec<LockDto>,
}

impl From<&AdminUserView> for AdminUserDto {
    fn from(v: &AdminUserView) -> Self {
        Self {
            user: UserDto::new(&v.user, &v.roles),
            roles: v.roles.iter().map(|r| r.as_str().to_owned()).collect(),
            organizations: v
                .organizations
                .iter()
                .map(|(org, role)| UserOrganizationDto {
                    id: org.id.as_uuid(),
                    name: org.name.clone(),
                    role: role.as_str(),
                })
                .collect(),
            mfa: AdminMfaDto {
                enabled: v.methods.iter().any(|m| m.is_active()),
                methods: v
                    .methods
                    .iter()
                    .map(|m| AdminMethodDto {
                        id: m.id.as_uuid(),
                        kind: m.kind.as_str(),
                        name: m.name.clone(),
                        status: m.status.as_str(),
                    })
                    .collect(),
            },
            sessions: AdminSessionsDto {
                active: v.active_sessions,
            },
            locks: v
                .locks
                .iter()
                .map(|l| LockDto {
                    kind: l.kind,
                    until: l.until,
                })
                .collect(),
        }
    }
}

fn user_id(path: &str) -> Result<UserId, ApiError> {
    path.parse::<Uuid>()
        .map(UserId::from_uuid)
        .map_err(|_| ApiError::new(ErrorCode::NotFound))
}

/// One user: roles, organizations, MFA, sessions, locks (`users:read`).
#[utoipa::path(
    get, path = "/api/v1/admin/users/{user_id}", tag = "admin",
    params(("user_id" = Uuid, Path, description = "The user")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The user", body = AdminUserDto),
        (status = 401, description = "`unauthorized`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
pub async fn user<A: App>(
    app: web::Data<A>,
    auth: Authenticated,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let view = app.admin().user(&auth.claims, user_id(&path)?).await?;
    Ok(HttpResponse::Ok().json(AdminUserDto::from(&view)))
}

/// `POST /api/v1/admin/users/{user_id}/suspend`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SuspendBody {
    /// Why (1 to 500 characters).
    pub reason: String,
    /// When it lifts by itself.
    pub until: Option<DateTime<Utc>>,
}

/// Suspend (`users:suspend` + step-up; not oneself): every session ends at
/// once on every instance; login and refresh answer 403
/// `account_suspended`; `until` lifts it by itself.
#[utoipa::path(
    post, path = "/api/v1/admin/users/{user_id}/suspend", tag = "admin",
    params(("user_id" = Uuid, Path, description = "The user")),
    request_body = SuspendBody,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Suspended", body = UserEnvelope),
        (status = 401, description = "`unauthorized` or `step_up_required`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed` (also oneself)", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
pub async fn suspend<A: App>(
    app: web::Data<A>,
    auth: Authenticated,
    client: Client,
    path: web::Path<String>,
    body: web::Json<SuspendBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let user = app
        .admin()
        .suspend(
            &auth.claims,
            user_id(&path)?,
            body.reason,
            body.until,
            &client.0,
        )
        .await?;
    Ok(HttpResponse::Ok().json(UserEnvelope {
        user: UserDto::new(&user, &[]),
    }))
}

/// Reactivate (`users:suspend` + step-up).
#[utoipa::path(
    post, path = "/api/v1/admin/users/{user_id}/reactivate", tag = "admin",
    params(("user_id" = Uuid, Path, description = "The user")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Active again", body = UserEnvelope),
        (status = 401, description = "`unauthorized` or `step_up_required`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
pub async fn reactivate<A: App>(
    app: web::Data<A>,
    auth: Authenticated,
    client: Client,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let user = app
        .admin()
        .reactivate(&auth.claims, user_id(&path)?, &client.0)
        .await?;
    Ok(HttpResponse::Ok().json(UserEnvelope {
        user: UserDto::new(&user, &[]),
    }))
}

/// Clear the MFA lockout (`users:unlock`).
#[utoipa::path(
    post, path = "/api/v1/admin/users/{user_id}/unlock", tag = "admin",
    params(("user_id" = Uuid, Path, description = "The user")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Unlocked", body = UserEnvelope),
        (status = 401, description = "`unauthorized`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
pub async fn unlock<A: App>(
    app: web::Data<A>,
    auth: Authenticated,
    client: Client,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let user = app
        .admin()
        .unlock(&auth.claims, user_id(&path)?, &client.0)
        .await?;
    Ok(HttpResponse::Ok().json(UserEnvelope {
        user: UserDto::new(&user, &[]),
    }))
}

/// Remove every second factor and end every session
/// (`users:mfa_reset` + step-up).
#[utoipa::path(
    delete, path = "/api/v1/admin/users/{user_id}/mfa", tag = "admin",
    params(("user_id" = Uuid, Path, description = "The user")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Reset"),
        (status = 401, description = "`unauthorized` or `step_up_required`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
pub async fn reset_mfa<A: App>(
    app: web::Data<A>,
    auth: Authenticated,
    client: Client,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    app.admin()
        .reset_mfa(&auth.claims, user_id(&path)?, &client.0)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A user's sessions.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminSessionListDto {
    /// Active sessions, newest first.
    pub sessions: Vec<SessionDto>,
}

/// A user's active sessions (`users:read`).
#[utoipa::path(
    get, path = "/api/v1/admin/users/{user_id}/sessions", tag = "admin",
    params(("user_id" = Uuid, Path, description = "The user")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Sessions", body = AdminSessionListDto),
        (status = 401, description = "`unauthorized`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
pub async fn sessions<A: App>(
    app: web::Data<A>,
    auth: Authenticated,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let sessions = app.admin().sessions(&auth.claims, user_id(&path)?).await?;
    Ok(HttpResponse::Ok().json(AdminSessionListDto {
        sessions: sessions
            .iter()
            .map(|s| SessionDto::new(s, auth.claims.session_id))
            .collect(),
    }))
}

/// End every session of a user (`users:suspend`).
#[utoipa::path(
    delete, path = "/api/v1/admin/users/{user_id}/sessions", tag = "admin",
    params(("user_id" = Uuid, Path, description = "The user")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, description = "`unauthorized`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
pub async fn revoke_sessions<A: App>(
    app: web::Data<A>,
    auth: Authenticated,
    client: Client,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    app.admin()
        .revoke_sessions(&auth.claims, user_id(&path)?, &client.0)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Lift the login block of an address (`users:unlock`).
#[utoipa::path(
    delete, path = "/api/v1/admin/ip-blocks/{ip}", tag = "admin",
    params(("ip" = String, Path, description = "An IPv4 or IPv6 address")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Lifted (or was not blocked)"),
        (status = 401, description = "`unauthorized`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: not an address", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
pub async fn unblock_ip<A: App>(
    app: web::Data<A>,
    auth: Authenticated,
    client: Client,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let ip = path
        .parse()
        .map_err(|_| ApiError::invalid_field("ip", "invalid", "not an IP address"))?;
    app.admin().unblock_ip(&auth.claims, ip, &client.0).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `?user_id&type&limit&before`
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct AdminAuditQuery {
    /// Only this user's events.
    pub user_id: Option<Uuid>,
    /// Only this type, e.g. `login.failed`.
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub kind: Option<String>,
    /// Page size, 1 to 100 (default 50).
    pub limit: Option<u32>,
    /// `next_before` of the previous page.
    pub before: Option<Uuid>,
}

/// A page of the whole audit trail.
#[derive(Debug, Serialize, ToSchema)]
pub struct AdminAuditDto {
    /// Newest first.
    pub events: Vec<AuditEventDto>,
    /// The cursor of the next (older) page; `null` on the last.
    pub next_before: Option<Uuid>,
}

/// Every audit event, those without a user included (`audit:read`).
#[utoipa::path(
    get, path = "/api/v1/admin/audit", tag = "admin",
    params(AdminAuditQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Events", body = AdminAuditDto),
        (status = 401, description = "`unauthorized`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: unknown type", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
pub async fn audit<A: App>(
    app: web::Data<A>,
    auth: Authenticated,
    query: web::Query<AdminAuditQuery>,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let kind = match query.kind.as_deref() {
        None => None,
        Some(name) => Some(AuditEventType::from_stored(name).ok_or_else(|| {
            ApiError::invalid_field("type", "invalid", "not an audit event type")
        })?),
    };
    let limit = query.limit.unwrap_or(50).clamp(1, 100);
    let events = app
        .admin()
        .audit(
            &auth.claims,
            AuditFilter {
                user: query.user_id.map(UserId::from_uuid),
                kind,
            },
            query.before.map(EventId::from_uuid),
            limit,
        )
        .await?;
    let next_before = (events.len() == limit as usize)
        .then(|| events.last().map(|e| e.id.as_uuid()))
        .flatten();
    Ok(HttpResponse::Ok().json(AdminAuditDto {
        events: events.iter().map(AuditEventDto::from).collect(),
        next_before,
    }))
}

/// `?limit&before&type`
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ActivityQuery {
    /// Page size, 1 to 100 (default 50).
    pub limit: Option<u32>,
    /// `next_before` of the previous page.
    pub before: Option<Uuid>,
    /// Only this type, e.g. `activity.reported`.
    #[serde(rename = "type")]
    #[param(rename = "type")]
    pub kind: Option<String>,
}

/// The user's activity: own audit events and what services reported,
/// newest first (self or `users:read`).
#[utoipa::path(
    get, path = "/api/v1/users/{user_id}/activity", tag = "users",
    params(("user_id" = String, Path, description = "A user id, or `me`"), ActivityQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Events", body = AdminAuditDto),
        (status = 401, description = "`unauthorized`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: unknown type", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
pub async fn activity<A: App>(
    app: web::Data<A>,
    auth: Authenticated,
    path: web::Path<String>,
    query: web::Query<ActivityQuery>,
) -> Result<HttpResponse, ApiError> {
    let user = subject(&path, &auth)?;
    let query = query.into_inner();
    let kind = match query.kind.as_deref() {
        None => None,
        Some(name) => Some(
            AuditEventType::from_stored(name)
                .ok_or_else(|| ApiError::invalid_field("type", "invalid", "not an event type"))?,
        ),
    };
    let limit = query.limit.unwrap_or(50).clamp(1, 100);
    let events = app
        .admin()
        .activity(
            &auth.claims,
            user,
            kind,
            query.before.map(EventId::from_uuid),
            limit,
        )
        .await?;
    let next_before = (events.len() == limit as usize)
        .then(|| events.last().map(|e| e.id.as_uuid()))
        .flatten();
    Ok(HttpResponse::Ok().json(AdminAuditDto {
        events: events
            .iter()
            .map(|e| AuditEventDto::seen_by(e, user))
            .collect(),
        next_before,
    }))
}

/// The security part of the dashboard.
#[derive(Debug, Serialize, ToSchema)]
pub struct SecurityDto {
    /// Whether an active second factor exists.
    pub mfa_enabled: bool,
    /// The methods.
    pub methods: Vec<AdminMethodDto>,
    /// Unused backup codes.
    pub backup_codes_remaining: u32,
    /// Active sessions.
    pub active_sessions: u64,
    /// The last successful login.
    pub last_login_at: Option<DateTime<Utc>>,
    /// From where.
    pub last_login_ip: Option<String>,
}

/// A settings page in one round trip.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserDashboardDto {
    /// The account.
    pub user: UserDto,
    /// Security.
    pub security: SecurityDto,
    /// Organizations.
    pub organizations: Vec<UserOrganizationDto>,
    /// The five newest events.
    pub recent_activity: Vec<AuditEventDto>,
}

fn methods_dto(methods: &[auth_domain::mfa::MfaMethod]) -> Vec<AdminMethodDto> {
    methods
        .iter()
        .map(|m| AdminMethodDto {
            id: m.id.as_uuid(),
            kind: m.kind.as_str(),
            name: m.name.clone(),
            status: m.status.as_str(),
        })
        .collect()
}

fn organizations_dto(
    organizations: &[(
        auth_domain::organizations::Organization,
        auth_domain::access::OrgRole,
    )],
) -> Vec<UserOrganizationDto> {
    organizations
        .iter()
        .map(|(org, role)| UserOrganizationDto {
            id: org.id.as_uuid(),
            name: org.name.clone(),
            role: role.as_str(),
        })
        .collect()
}

/// Profile, security, organizations and recent activity at once (self or
/// `users:read`).
#[utoipa::path(
    get, path = "/api/v1/users/{user_id}/dashboard", tag = "users",
    params(("user_id" = String, Path, description = "A user id, or `me`")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Dashboard", body = UserDashboardDto),
        (status = 401, description = "`unauthorized`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
pub async fn dashboard<A: App>(
    app: web::Data<A>,
    auth: Authenticated,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let user = subject(&path, &auth)?;
    let d = app.admin().dashboard(&auth.claims, user).await?;
    Ok(HttpResponse::Ok().json(UserDashboardDto {
        user: UserDto::new(&d.user, &d.roles),
        security: SecurityDto {
            mfa_enabled: d.methods.iter().any(|m| m.is_active()),
            methods: methods_dto(&d.methods),
            backup_codes_remaining: d.backup_codes_remaining,
            active_sessions: d.active_sessions,
            last_login_at: d.last_login.map(|(at, _)| at),
            last_login_ip: d.last_login.and_then(|(_, ip)| ip).map(|ip| ip.to_string()),
        },
        organizations: organizations_dto(&d.organizations),
        recent_activity: d
            .recent_activity
            .iter()
            .map(|e| AuditEventDto::seen_by(e, user))
            .collect(),
    }))
}

/// Everything held about a user: no secret, no hash.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserExportDto {
    /// The account.
    pub user: UserDto,
    /// Active sessions.
    pub sessions: Vec<SessionDto>,
    /// Second-factor methods (never a secret).
    pub mfa_methods: Vec<AdminMethodDto>,
    /// Memberships.
    pub organizations: Vec<UserOrganizationDto>,
    /// The audit trail about the user.
    pub audit_events: Vec<AuditEventDto>,
    /// Preferences (`null` when never set).
    #[schema(value_type = Option<Object>)]
    pub preferences: Option<serde_json::Value>,
    /// When this export was made.
    pub exported_at: DateTime<Utc>,
}

/// Export everything held about a user (self after step-up, or
/// `users:read`).
#[utoipa::path(
    get, path = "/api/v1/users/{user_id}/export", tag = "users",
    params(("user_id" = String, Path, description = "A user id, or `me`")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The export", body = UserExportDto),
        (status = 401, description = "`unauthorized` or `step_up_required`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
pub async fn export<A: App>(
    app: web::Data<A>,
    auth: Authenticated,
    client: Client,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let user = subject(&path, &auth)?;
    let e = app.admin().export(&auth.claims, user, &client.0).await?;
    Ok(HttpResponse::Ok().json(UserExportDto {
        user: UserDto::new(&e.user, &e.roles),
        sessions: e
            .sessions
            .iter()
            .map(|s| SessionDto::new(s, auth.claims.session_id))
            .collect(),
        mfa_methods: methods_dto(&e.methods),
        organizations: organizations_dto(&e.organizations),
        audit_events: e
            .events
            .iter()
            .map(|event| AuditEventDto::seen_by(event, user))
            .collect(),
        preferences: e
            .preferences
            .as_deref()
            .and_then(|text| serde_json::from_str(text).ok()),
        exported_at: Utc::now(),
    }))
}

/// The profile given at registration.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterProfile {
    /// At most 100 characters.
    pub name: Option<String>,
    /// At most 500 characters.
    pub bio: Option<String>,
    /// An `https://` URL.
    pub avatar_url: Option<String>,
}

/// `POST /api/v1/users/profile`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterWithProfileBody {
    /// Email address.
    #[schema(example = "alice@example.com")]
    pub email: String,
    /// As for `register`.
    #[schema(example = "Correct-Horse-42")]
    pub password: String,
    /// Name, bio, avatar.
    pub profile: Option<RegisterProfile>,
    /// Preferences (as for `PATCH …/preferences`).
    #[schema(value_type = Option<Object>)]
    pub preferences: Option<serde_json::Value>,
}

/// Register with a complete profile: the same rules, limits and
/// verification mail as `register`.
#[utoipa::path(
    post, path = "/api/v1/users/profile", tag = "users",
    request_body = RegisterWithProfileBody,
    responses(
        (status = 201, description = "Account created; a verification email is on its way", body = UserEnvelope),
        (status = 409, description = "`email_taken`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed` or `weak_password`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
pub async fn register_with_profile<A: App>(
    app: web::Data<A>,
    client: Client,
    body: web::Json<RegisterWithProfileBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let profile = body.profile.unwrap_or_default();
    let request = auth_application::accounts::RegisterRequest {
        email: crate::accounts::parse_email(&body.email)?,
        password: crate::accounts::required_password(body.password)?,
        invitation_token: None,
        profile: auth_domain::accounts::Profile {
            name: profile.name,
            bio: profile.bio,
            avatar_url: profile.avatar_url,
        },
        preferences: body.preferences,
    };
    let view = app.accounts().register(request, &client.0).await?;
    Ok(HttpResponse::Created().json(UserEnvelope::from(&view)))
}

/// `{preferences}`
#[derive(Debug, Serialize, ToSchema)]
pub struct PreferencesEnvelope {
    /// `{locale, timezone, theme, notifications: {security_email, product_email}}`.
    #[schema(value_type = Object)]
    pub preferences: auth_application::accounts::Preferences,
}

/// A user's preferences (self, or `users:read`).
#[utoipa::path(
    get, path = "/api/v1/users/{user_id}/preferences", tag = "users",
    params(("user_id" = String, Path, description = "A user id, or `me`")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Preferences", body = PreferencesEnvelope),
        (status = 401, description = "`unauthorized`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
pub async fn preferences<A: App>(
    app: web::Data<A>,
    auth: Authenticated,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let user = subject(&path, &auth)?;
    let preferences = app.accounts().preferences(&auth.claims, user).await?;
    Ok(HttpResponse::Ok().json(PreferencesEnvelope { preferences }))
}

/// Change preferences with an RFC 7396 merge patch (self, or
/// `users:write`): `locale` BCP 47, `timezone` IANA, `theme` light, dark or
/// system; unknown keys and turning `security_email` off are 422.
#[utoipa::path(
    patch, path = "/api/v1/users/{user_id}/preferences", tag = "users",
    params(("user_id" = String, Path, description = "A user id, or `me`")),
    request_body(content = Object, description = "A merge patch", content_type = "application/merge-patch+json"),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Preferences", body = PreferencesEnvelope),
        (status = 401, description = "`unauthorized`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
pub async fn update_preferences<A: App>(
    app: web::Data<A>,
    auth: Authenticated,
    client: Client,
    path: web::Path<String>,
    body: web::Json<serde_json::Value>,
) -> Result<HttpResponse, ApiError> {
    let user = subject(&path, &auth)?;
    let preferences = app
        .accounts()
        .update_preferences(&auth.claims, user, &body, &client.0)
        .await?;
    Ok(HttpResponse::Ok().json(PreferencesEnvelope { preferences }))
}

/// `DELETE /api/v1/users/{user_id}`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeleteAccountBody {
    /// The password: required to delete one's own account.
    pub password: Option<String>,
}

/// Delete an account: one's own (step-up and the password), or anyone's
/// with `users:write` + step-up. Personal data goes; audit rows keep the id.
#[utoipa::path(
    delete, path = "/api/v1/users/{user_id}", tag = "users",
    params(("user_id" = String, Path, description = "A user id, or `me`")),
    request_body(content = DeleteAccountBody, description = "`{password}` for one's own account"),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "`unauthorized`, `invalid_credentials` or `step_up_required`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 409, description = "`last_owner` or `last_admin`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: the password is required", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
pub async fn delete_account<A: App>(
    app: web::Data<A>,
    auth: Authenticated,
    client: Client,
    path: web::Path<String>,
    body: Option<web::Json<DeleteAccountBody>>,
) -> Result<HttpResponse, ApiError> {
    let user = subject(&path, &auth)?;
    let password = body
        .and_then(|b| b.into_inner().password)
        .map(auth_domain::Password::new);
    app.accounts()
        .delete_account(&auth.claims, user, password, &client.0)
        .await
        .map_err(|err| match err {
            DeleteAccountError::NotFound => ApiError::new(ErrorCode::NotFound),
            DeleteAccountError::PasswordRequired => {
                ApiError::invalid_field("password", "required", "password is required")
            }
            DeleteAccountError::InvalidCredentials => ApiError::new(ErrorCode::InvalidCredentials),
            DeleteAccountError::LastOwner => ApiError::new(ErrorCode::LastOwner),
            DeleteAccountError::LastAdmin => ApiError::new(ErrorCode::LastAdmin),
            DeleteAccountError::StepUp(required) => {
                ApiError::step_up(required.acr.as_str(), required.max_age.as_secs())
            }
            DeleteAccountError::Failed(failure) => failure.into(),
        })?;
    Ok(HttpResponse::NoContent().finish())
}

/// `?after&limit`
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct EventsQuery {
    /// `next_after` of the previous page (an event id).
    pub after: Option<Uuid>,
    /// Page size, 1 to 1000 (default 100).
    pub limit: Option<u32>,
}

/// A page of the event feed: CloudEvents 1.0 envelopes, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventsPageDto {
    /// CloudEvents envelopes (structured JSON, EVENTS.md).
    #[schema(value_type = Vec<Object>)]
    pub events: Vec<serde_json::Value>,
    /// The id to ask `after` next; `null` when the feed is read to its end.
    pub next_after: Option<Uuid>,
}

/// The domain events kept in the database (`events.broker = none`), oldest
/// first (`events:read`): a pull feed for small deployments.
#[utoipa::path(
    get, path = "/api/v1/admin/events", tag = "admin",
    params(EventsQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Events", body = EventsPageDto),
        (status = 401, description = "`unauthorized`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
pub async fn events<A: App>(
    app: web::Data<A>,
    auth: Authenticated,
    query: web::Query<EventsQuery>,
) -> Result<HttpResponse, ApiError> {
    let limit = query.limit.unwrap_or(100).clamp(1, 1000);
    let events = app
        .admin()
        .events(
            &auth.claims,
            query.after.map(auth_domain::MessageId::from_uuid),
            limit,
        )
        .await?;
    let next_after = (events.len() == limit as usize)
        .then(|| events.last().map(|(id, _, _)| id.as_uuid()))
        .flatten();
    let source = app.event_source();
    let envelopes = events
        .iter()
        .map(|(id, time, event)| {
            auth_application::activity::events::envelope(*id, *time, event, source)
        })
        .collect();
    Ok(HttpResponse::Ok().json(EventsPageDto {
        events: envelopes,
        next_after,
    }))
}
