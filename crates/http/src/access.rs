//! `access`: the questions other services ask (`authorize`, a user's
//! permissions, roles and context, activity reports), role administration
//! and service keys. Callers are users or service keys ([`Caller`]).

use actix_web::{HttpResponse, web};
use auth_application::access::{
    Access, AccessError, ActivityReport, Check, NewRole, RoleChange, SubjectRef, UserAccess,
};
use auth_domain::access::{Decision, Grant, PermissionInfo, RoleRecord, ServiceKey};
use auth_domain::{OrganizationId, RoleId, ServiceKeyId, UserId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::accounts::EmptyObject;
use crate::app::App;
use crate::auth::Caller;
use crate::client::Client;
use crate::dto::UserDto;
use crate::error::{ApiError, ErrorCode, ProblemDetails};

/// Largest `metadata` of an activity report, as JSON text.
const MAX_METADATA: usize = 4 * 1024;

impl From<AccessError> for ApiError {
    fn from(err: AccessError) -> Self {
        match err {
            AccessError::Forbidden => Self::new(ErrorCode::Forbidden),
            AccessError::NotFound => Self::new(ErrorCode::NotFound),
            AccessError::Invalid(field, message) => Self::invalid_field(field, "invalid", message),
            AccessError::RoleProtected => Self::new(ErrorCode::RoleProtected),
            AccessError::LastAdmin => Self::new(ErrorCode::LastAdmin),
            AccessError::NameTaken => Self::new(ErrorCode::RoleExists),
            AccessError::StepUp(required) => {
                Self::step_up(required.acr.as_str(), required.max_age.as_secs())
            }
            AccessError::Failed(failure) => failure.into(),
        }
    }
}

fn user_id(path: &str) -> Result<UserId, ApiError> {
    path.parse::<Uuid>()
        .map(UserId::from_uuid)
        .map_err(|_| ApiError::new(ErrorCode::NotFound))
}

fn grant_texts(grants: &[Grant]) -> Vec<String> {
    grants.iter().map(Grant::to_text).collect()
}

/// Whom a check is about: exactly one of `user_id` and `token`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SubjectBody {
    /// A user id.
    pub user_id: Option<Uuid>,
    /// An access token (denied as `token_inactive` when not valid).
    pub token: Option<String>,
}

/// The resource a check is about.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResourceBody {
    /// Its kind, for the caller's records.
    #[serde(rename = "type")]
    pub kind: String,
    /// Its id.
    pub id: String,
    /// The organization it belongs to.
    pub organization_id: Option<Uuid>,
}

/// One authorization question.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckBody {
    /// About whom; omitted = the calling user.
    pub subject: Option<SubjectBody>,
    /// `resource:action`.
    #[schema(example = "users:read")]
    pub permission: String,
    /// The organization it is asked in.
    pub organization_id: Option<Uuid>,
    /// The resource.
    pub resource: Option<ResourceBody>,
}

/// Several questions at once.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChecksBody {
    /// At most 50, answered in order.
    pub checks: Vec<CheckBody>,
}

/// `POST /api/v1/auth/authorize`: one check or `{checks}`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum AuthorizeBody {
    /// Several.
    Batch(ChecksBody),
    /// One.
    Single(CheckBody),
}

fn to_check(body: CheckBody) -> Result<Check, ApiError> {
    let subject = match body.subject {
        None => None,
        Some(SubjectBody {
            user_id: Some(id),
            token: None,
        }) => Some(SubjectRef::User(UserId::from_uuid(id))),
        Some(SubjectBody {
            user_id: None,
            token: Some(token),
        }) => Some(SubjectRef::Token(token)),
        Some(_) => {
            return Err(ApiError::invalid_field(
                "subject",
                "invalid",
                "give exactly one of user_id and token",
            ));
        }
    };
    Ok(Check {
        subject,
        permission: body.permission,
        organization_id: body.organization_id.map(OrganizationId::from_uuid),
        resource_organization_id: body
            .resource
            .and_then(|r| r.organization_id)
            .map(OrganizationId::from_uuid),
    })
}

/// An answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct DecisionDto {
    /// Whether the subject may.
    pub allowed: bool,
    /// `granted:<role>`, `no_permission`, `not_member`, `account_suspended`,
    /// `token_inactive`, `unknown_subject`, `unknown_permission` or
    /// `org_mismatch`.
    #[schema(example = "granted:admin")]
    pub reason: String,
    /// Seconds a gateway may cache this answer.
    pub cache_ttl: u64,
}

/// Answers to `{checks}`, in order.
#[derive(Debug, Serialize, ToSchema)]
pub struct DecisionsDto {
    /// One per check.
    pub results: Vec<DecisionDto>,
}

/// One answer, or `{results}` for `{checks}`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum AuthorizeResponse {
    /// For `{checks}`.
    Batch(DecisionsDto),
    /// For one check.
    Single(DecisionDto),
}

/// May a subject do this? A deny is `200 {allowed: false}`, never 403.
/// A service key with `authz:check` asks about anyone; a user only about
/// itself.
#[utoipa::path(
    post, path = "/api/v1/auth/authorize", tag = "access",
    request_body = AuthorizeBody,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The decision(s)", body = AuthorizeResponse),
        (status = 401, description = "`unauthorized`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`: this caller may not ask about that subject", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: malformed permission, more than 50 checks", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
pub async fn authorize<A: App>(
    app: web::Data<A>,
    caller: Caller,
    body: web::Json<AuthorizeBody>,
) -> Result<HttpResponse, ApiError> {
    let (checks, batch) = match body.into_inner() {
        AuthorizeBody::Batch(ChecksBody { checks }) => (checks, true),
        AuthorizeBody::Single(check) => (vec![check], false),
    };
    let checks = checks
        .into_iter()
        .map(to_check)
        .collect::<Result<Vec<_>, _>>()?;
    let access = app.access();
    let decisions = access.authorize(&caller.0, &checks).await?;
    let ttl = access.decision_ttl().as_secs();
    let dto = |d: Decision| DecisionDto {
        allowed: d.allowed,
        reason: d.reason.to_text(),
        cache_ttl: ttl,
    };
    let mut decisions = decisions.into_iter().map(dto);
    Ok(HttpResponse::Ok().json(if batch {
        AuthorizeResponse::Batch(DecisionsDto {
            results: decisions.collect(),
        })
    } else {
        AuthorizeResponse::Single(
            decisions
                .next()
                .ok_or_else(|| ApiError::new(ErrorCode::Internal))?,
        )
    }))
}

/// `?organization_id`
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct OrgQuery {
    /// The organization asked about.
    pub organization_id: Option<Uuid>,
}

/// A user's effective permissions.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserPermissionsDto {
    /// The user.
    pub user_id: Uuid,
    /// The organization asked about.
    pub organization_id: Option<Uuid>,
    /// Sorted (`*` and `resource:*` as granted).
    pub permissions: Vec<String>,
}

/// A role held.
#[derive(Debug, Serialize, ToSchema)]
pub struct RoleRefDto {
    /// The role name.
    pub name: String,
    /// `global` or `organization`.
    pub scope: &'static str,
    /// For organization roles.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub organization_id: Option<Uuid>,
}

/// A user's roles.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserRolesDto {
    /// Global roles, then organization roles.
    pub roles: Vec<RoleRefDto>,
}

/// Everything a service needs about a user.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserContextDto {
    /// The account.
    pub user: UserDto,
    /// The organization asked about (none until organizations exist).
    pub organization: Option<serde_json::Value>,
    /// Roles held.
    pub roles: Vec<RoleRefDto>,
    /// Effective permissions, sorted.
    pub permissions: Vec<String>,
}

fn role_refs(access: &UserAccess) -> Vec<RoleRefDto> {
    let global = access.roles.iter().map(|r| RoleRefDto {
        name: r.as_str().to_owned(),
        scope: "global",
        organization_id: None,
    });
    let organization = access
        .organization_role
        .zip(access.organization_id)
        .map(|(role, org)| RoleRefDto {
            name: role.as_str().to_owned(),
            scope: "organization",
            organization_id: Some(org.as_uuid()),
        });
    global.chain(organization).collect()
}

async fn user_access<A: App>(
    app: &A,
    caller: &Caller,
    path: &str,
    query: &OrgQuery,
) -> Result<UserAccess, ApiError> {
    Ok(app
        .access()
        .user_access(
            &caller.0,
            user_id(path)?,
            query.organization_id.map(OrganizationId::from_uuid),
        )
        .await?)
}

/// A user's effective permissions: for the user itself, holders of
/// `users:read` and service keys with `authz:check`; 404 for anyone else.
#[utoipa::path(
    get, path = "/api/v1/auth/permissions/{user_id}", tag = "access",
    params(("user_id" = Uuid, Path, description = "The user"), OrgQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Effective permissions", body = UserPermissionsDto),
        (status = 401, description = "`unauthorized`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "`not_found` (also outside the caller's view)", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
pub async fn user_permissions<A: App>(
    app: web::Data<A>,
    caller: Caller,
    path: web::Path<String>,
    query: web::Query<OrgQuery>,
) -> Result<HttpResponse, ApiError> {
    let access = user_access(app.get_ref(), &caller, &path, &query).await?;
    Ok(HttpResponse::Ok().json(UserPermissionsDto {
        user_id: access.user.id.as_uuid(),
        organization_id: access.organization_id.map(|o| o.as_uuid()),
        permissions: access.permissions,
    }))
}

/// A user's roles; same callers as the permissions.
#[utoipa::path(
    get, path = "/api/v1/auth/roles/{user_id}", tag = "access",
    params(("user_id" = Uuid, Path, description = "The user"), OrgQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Roles", body = UserRolesDto),
        (status = 401, description = "`unauthorized`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "`not_found` (also outside the caller's view)", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
pub async fn user_roles<A: App>(
    app: web::Data<A>,
    caller: Caller,
    path: web::Path<String>,
    query: web::Query<OrgQuery>,
) -> Result<HttpResponse, ApiError> {
    let access = user_access(app.get_ref(), &caller, &path, &query).await?;
    Ok(HttpResponse::Ok().json(UserRolesDto {
        roles: role_refs(&access),
    }))
}

/// The user, roles and permissions in one call; same callers.
#[utoipa::path(
    get, path = "/api/v1/auth/users/{user_id}/context", tag = "access",
    params(("user_id" = Uuid, Path, description = "The user"), OrgQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Context", body = UserContextDto),
        (status = 401, description = "`unauthorized`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "`not_found` (also outside the caller's view)", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
pub async fn user_context<A: App>(
    app: web::Data<A>,
    caller: Caller,
    path: web::Path<String>,
    query: web::Query<OrgQuery>,
) -> Result<HttpResponse, ApiError> {
    let access = user_access(app.get_ref(), &caller, &path, &query).await?;
    Ok(HttpResponse::Ok().json(UserContextDto {
        user: UserDto::new(&access.user, &access.roles),
        organization: access.organization.as_ref().map(
            |org| serde_json::json!({ "id": org.id.as_uuid(), "name": org.name, "slug": org.slug }),
        ),
        roles: role_refs(&access),
        permissions: access.permissions,
    }))
}

/// `POST /api/v1/auth/users/{user_id}/activity`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActivityBody {
    /// What the user did.
    #[schema(example = "report.exported")]
    pub action: String,
    /// On what: a string, or an object such as `{type, id}`.
    pub resource: Option<serde_json::Value>,
    /// A JSON object of at most 4 KiB.
    pub metadata: Option<serde_json::Map<String, serde_json::Value>>,
}

/// Report what a user did elsewhere (`activity:write`): appended to the
/// user's activity as `activity.reported`.
#[utoipa::path(
    post, path = "/api/v1/auth/users/{user_id}/activity", tag = "access",
    params(("user_id" = Uuid, Path, description = "The user")),
    request_body = ActivityBody,
    security(("bearer" = [])),
    responses(
        (status = 202, description = "Recorded", body = EmptyObject),
        (status = 401, description = "`unauthorized`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`: no `activity:write`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed` (metadata over 4 KiB)", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
pub async fn report_activity<A: App>(
    app: web::Data<A>,
    caller: Caller,
    client: Client,
    path: web::Path<String>,
    body: web::Json<ActivityBody>,
) -> Result<HttpResponse, ApiError> {
    let user = user_id(&path)?;
    let body = body.into_inner();
    let metadata = match body.metadata {
        Some(map) => {
            let text = serde_json::Value::Object(map).to_string();
            if text.len() > MAX_METADATA {
                return Err(ApiError::invalid_field(
                    "metadata",
                    "too_long",
                    "at most 4 KiB of JSON",
                ));
            }
            Some(text)
        }
        None => None,
    };
    app.access()
        .report_activity(
            &caller.0,
            user,
            ActivityReport {
                action: body.action,
                resource: body.resource.map(|r| match r {
                    serde_json::Value::String(text) => text,
                    other => other.to_string(),
                }),
                metadata,
            },
            &client.0,
        )
        .await?;
    Ok(HttpResponse::Accepted().json(serde_json::json!({})))
}

/// A permission.
#[derive(Debug, Serialize, ToSchema)]
pub struct PermissionDto {
    /// `resource:action`.
    pub name: String,
    /// What it allows.
    pub description: String,
}

/// Every global permission.
#[derive(Debug, Serialize, ToSchema)]
pub struct PermissionsDto {
    /// By name.
    pub permissions: Vec<PermissionDto>,
}

/// The global permissions (`roles:read`).
#[utoipa::path(
    get, path = "/api/v1/permissions", tag = "access",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Permissions", body = PermissionsDto),
        (status = 401, description = "`unauthorized`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
pub async fn permissions<A: App>(
    app: web::Data<A>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let list = app.access().permissions(&caller.0).await?;
    Ok(HttpResponse::Ok().json(PermissionsDto {
        permissions: list
            .into_iter()
            .map(|PermissionInfo { name, description }| PermissionDto { name, description })
            .collect(),
    }))
}

/// A role.
#[derive(Debug, Serialize, ToSchema)]
pub struct RoleDto {
    /// Role id.
    pub id: Uuid,
    /// Unique name.
    pub name: String,
    /// What it is for.
    pub description: String,
    /// What it grants, sorted.
    pub permissions: Vec<String>,
    /// A system role (never deletable).
    pub system: bool,
}

impl From<RoleRecord> for RoleDto {
    fn from(role: RoleRecord) -> Self {
        Self {
            id: role.id.as_uuid(),
            permissions: grant_texts(&role.grants),
            name: role.name.as_str().to_owned(),
            description: role.description,
            system: role.system,
        }
    }
}

/// `{role}`
#[derive(Debug, Serialize, ToSchema)]
pub struct RoleEnvelope {
    /// The role.
    pub role: RoleDto,
}

/// `{roles}`
#[derive(Debug, Serialize, ToSchema)]
pub struct RolesDto {
    /// By name.
    pub roles: Vec<RoleDto>,
}

/// `POST /api/v1/roles`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateRoleBody {
    /// Unique: 1 to 64 of `a-z 0-9 _ -`, starting with a letter.
    #[schema(example = "support")]
    pub name: String,
    /// What it is for.
    pub description: Option<String>,
    /// Known permissions, `resource:*` or `*`.
    pub permissions: Vec<String>,
}

/// `PATCH /api/v1/roles/{role_id}`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateRoleBody {
    /// A new description.
    pub description: Option<String>,
    /// The new permissions, replacing the old.
    pub permissions: Option<Vec<String>>,
}

fn role_id(path: &str) -> Result<RoleId, ApiError> {
    path.parse::<Uuid>()
        .map(RoleId::from_uuid)
        .map_err(|_| ApiError::new(ErrorCode::NotFound))
}

/// Every role (`roles:read`).
#[utoipa::path(
    get, path = "/api/v1/roles", tag = "access",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Roles", body = RolesDto),
        (status = 401, description = "`unauthorized`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
pub async fn roles<A: App>(app: web::Data<A>, caller: Caller) -> Result<HttpResponse, ApiError> {
    let roles = app.access().roles(&caller.0).await?;
    Ok(HttpResponse::Ok().json(RolesDto {
        roles: roles.into_iter().map(RoleDto::from).collect(),
    }))
}

/// Create a custom role (`roles:write` + step-up).
#[utoipa::path(
    post, path = "/api/v1/roles", tag = "access",
    request_body = CreateRoleBody,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Created", body = RoleEnvelope),
        (status = 401, description = "`unauthorized` or `step_up_required`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 409, description = "`role_exists`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: bad name, unknown permission", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
pub async fn create_role<A: App>(
    app: web::Data<A>,
    caller: Caller,
    client: Client,
    body: web::Json<CreateRoleBody>,
) -> Result<HttpResponse, ApiError> {
    let CreateRoleBody {
        name,
        description,
        permissions,
    } = body.into_inner();
    let role = app
        .access()
        .create_role(
            &caller.0,
            NewRole {
                name,
                description,
                permissions,
            },
            &client.0,
        )
        .await?;
    Ok(HttpResponse::Created().json(RoleEnvelope { role: role.into() }))
}

/// One role (`roles:read`).
#[utoipa::path(
    get, path = "/api/v1/roles/{role_id}", tag = "access",
    params(("role_id" = Uuid, Path, description = "The role")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The role", body = RoleEnvelope),
        (status = 401, description = "`unauthorized`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
pub async fn role<A: App>(
    app: web::Data<A>,
    caller: Caller,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let role = app.access().role(&caller.0, role_id(&path)?).await?;
    Ok(HttpResponse::Ok().json(RoleEnvelope { role: role.into() }))
}

/// Change a role (`roles:write` + step-up). The permissions of `admin` and
/// `user` are fixed.
#[utoipa::path(
    patch, path = "/api/v1/roles/{role_id}", tag = "access",
    params(("role_id" = Uuid, Path, description = "The role")),
    request_body = UpdateRoleBody,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Changed", body = RoleEnvelope),
        (status = 401, description = "`unauthorized` or `step_up_required`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 409, description = "`role_protected`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
pub async fn update_role<A: App>(
    app: web::Data<A>,
    caller: Caller,
    client: Client,
    path: web::Path<String>,
    body: web::Json<UpdateRoleBody>,
) -> Result<HttpResponse, ApiError> {
    let UpdateRoleBody {
        description,
        permissions,
    } = body.into_inner();
    let role = app
        .access()
        .update_role(
            &caller.0,
            role_id(&path)?,
            RoleChange {
                description,
                permissions,
            },
            &client.0,
        )
        .await?;
    Ok(HttpResponse::Ok().json(RoleEnvelope { role: role.into() }))
}

/// Delete a custom role (`roles:write` + step-up); system roles are
/// protected.
#[utoipa::path(
    delete, path = "/api/v1/roles/{role_id}", tag = "access",
    params(("role_id" = Uuid, Path, description = "The role")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "`unauthorized` or `step_up_required`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 409, description = "`role_protected`", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
pub async fn delete_role<A: App>(
    app: web::Data<A>,
    caller: Caller,
    client: Client,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    app.access()
        .delete_role(&caller.0, role_id(&path)?, &client.0)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /api/v1/users/{user_id}/roles`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssignRoleBody {
    /// The role name.
    #[schema(example = "manager")]
    pub role: String,
}

/// Give a user a global role (`roles:write` + step-up).
#[utoipa::path(
    post, path = "/api/v1/users/{user_id}/roles", tag = "access",
    params(("user_id" = Uuid, Path, description = "The user")),
    request_body = AssignRoleBody,
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Assigned (or already held)"),
        (status = 401, description = "`unauthorized` or `step_up_required`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`: no such user", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: no such role", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
pub async fn assign_role<A: App>(
    app: web::Data<A>,
    caller: Caller,
    client: Client,
    path: web::Path<String>,
    body: web::Json<AssignRoleBody>,
) -> Result<HttpResponse, ApiError> {
    app.access()
        .assign_role(&caller.0, user_id(&path)?, &body.role, &client.0)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Take a global role from a user (`roles:write` + step-up); never the
/// last admin's `admin`.
#[utoipa::path(
    delete, path = "/api/v1/users/{user_id}/roles/{role}", tag = "access",
    params(
        ("user_id" = Uuid, Path, description = "The user"),
        ("role" = String, Path, description = "The role name"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "`unauthorized` or `step_up_required`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`: no such user, or the user does not hold it", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 409, description = "`last_admin`", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
pub async fn remove_role<A: App>(
    app: web::Data<A>,
    caller: Caller,
    client: Client,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (user, role) = path.into_inner();
    app.access()
        .remove_role(&caller.0, user_id(&user)?, &role, &client.0)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// A service key, without its secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceKeyDto {
    /// Key id.
    pub id: Uuid,
    /// A name for people.
    pub name: String,
    /// What it may do.
    pub permissions: Vec<String>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

impl From<&ServiceKey> for ServiceKeyDto {
    fn from(key: &ServiceKey) -> Self {
        Self {
            id: key.id.as_uuid(),
            name: key.name.clone(),
            permissions: grant_texts(&key.grants),
            created_at: key.created_at,
        }
    }
}

/// A new service key: the only time `key` is shown.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedKeyDto {
    /// Key id.
    pub id: Uuid,
    /// A name for people.
    pub name: String,
    /// `sk_…`: send as `Authorization: Bearer`. Shown once.
    pub key: String,
    /// What it may do.
    pub permissions: Vec<String>,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

/// `{service_keys}`
#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceKeysDto {
    /// Active keys, newest first.
    pub service_keys: Vec<ServiceKeyDto>,
}

/// `POST /api/v1/admin/service-keys`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKeyBody {
    /// A name for people.
    #[schema(example = "api-gateway")]
    pub name: String,
    /// Known permissions, `resource:*` or `*`.
    pub permissions: Vec<String>,
}

/// Create a service key (`service_keys:write` + step-up).
#[utoipa::path(
    post, path = "/api/v1/admin/service-keys", tag = "access",
    request_body = CreateKeyBody,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Created; `key` is shown only here", body = CreatedKeyDto),
        (status = 401, description = "`unauthorized` or `step_up_required`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
pub async fn create_service_key<A: App>(
    app: web::Data<A>,
    caller: Caller,
    client: Client,
    body: web::Json<CreateKeyBody>,
) -> Result<HttpResponse, ApiError> {
    let created = app
        .access()
        .create_service_key(&caller.0, &body.name, &body.permissions, &client.0)
        .await?;
    let dto = ServiceKeyDto::from(&created.key);
    Ok(HttpResponse::Created().json(CreatedKeyDto {
        id: dto.id,
        name: dto.name,
        key: created.secret,
        permissions: dto.permissions,
        created_at: dto.created_at,
    }))
}

/// The active service keys (`service_keys:write`), never their secrets.
#[utoipa::path(
    get, path = "/api/v1/admin/service-keys", tag = "access",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Keys", body = ServiceKeysDto),
        (status = 401, description = "`unauthorized`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
pub async fn service_keys<A: App>(
    app: web::Data<A>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let keys = app.access().service_keys(&caller.0).await?;
    Ok(HttpResponse::Ok().json(ServiceKeysDto {
        service_keys: keys.iter().map(ServiceKeyDto::from).collect(),
    }))
}

/// Revoke a service key (`service_keys:write` + step-up): refused at once
/// on every instance.
#[utoipa::path(
    delete, path = "/api/v1/admin/service-keys/{id}", tag = "access",
    params(("id" = Uuid, Path, description = "The key")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, description = "`unauthorized` or `step_up_required`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
pub async fn revoke_service_key<A: App>(
    app: web::Data<A>,
    caller: Caller,
    client: Client,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let id = path
        .parse::<Uuid>()
        .map(ServiceKeyId::from_uuid)
        .map_err(|_| ApiError::new(ErrorCode::NotFound))?;
    app.access()
        .revoke_service_key(&caller.0, id, &client.0)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}
