//! `organizations`: tenants, members, invitations, and switching the
//! organization a session's tokens name. An organization the caller is not
//! in answers 404, exactly like an unknown id.

use actix_web::{HttpResponse, web};
use auth_application::organizations::{
    Dashboard, InvitationView, OrgChange, OrgError, Organizations,
};
use auth_domain::access::OrgRole;
use auth_domain::organizations::{InvitationStatus, MemberPage, Membership, Organization};
use auth_domain::{Email, InvitationId, OrganizationId, UserId};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use crate::accounts::EmptyObject;
use crate::activity::AuditEventDto;
use crate::app::App;
use crate::auth::Authenticated;
use crate::client::Client;
use crate::dto::TokenPairDto;
use crate::error::{ApiError, ErrorCode, ProblemDetails};
use crate::refresh_cookie;

impl From<OrgError> for ApiError {
    fn from(err: OrgError) -> Self {
        match err {
            OrgError::NotFound => Self::new(ErrorCode::NotFound),
            OrgError::Forbidden => Self::new(ErrorCode::Forbidden),
            OrgError::Invalid(field, message) => Self::invalid_field(field, "invalid", message),
            OrgError::SlugTaken => Self::new(ErrorCode::SlugTaken),
            OrgError::TooMany => Self::new(ErrorCode::OrganizationLimitReached),
            OrgError::AlreadyMember => Self::new(ErrorCode::AlreadyMember),
            OrgError::SeatLimit => Self::new(ErrorCode::SeatLimitReached),
            OrgError::LastOwner => Self::new(ErrorCode::LastOwner),
            OrgError::EmailMismatch => Self::new(ErrorCode::InvitationEmailMismatch),
            OrgError::TokenInvalid => Self::new(ErrorCode::TokenInvalid),
            OrgError::TokenExpired => Self::new(ErrorCode::TokenExpired),
            OrgError::DailyLimit => {
                Self::retry_later(ErrorCode::RateLimited, std::time::Duration::from_secs(3600))
            }
            OrgError::StepUp(required) => {
                Self::step_up(required.acr.as_str(), required.max_age.as_secs())
            }
            OrgError::Failed(failure) => failure.into(),
        }
    }
}

fn org_id(path: &str) -> Result<OrganizationId, ApiError> {
    path.parse::<Uuid>()
        .map(OrganizationId::from_uuid)
        .map_err(|_| ApiError::new(ErrorCode::NotFound))
}

fn uuid_or_404(text: &str) -> Result<Uuid, ApiError> {
    text.parse::<Uuid>()
        .map_err(|_| ApiError::new(ErrorCode::NotFound))
}

fn role(text: &str) -> Result<OrgRole, ApiError> {
    OrgRole::parse(text)
        .ok_or_else(|| ApiError::invalid_field("role", "invalid", "one of owner, admin, member"))
}

/// An organization.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrganizationDto {
    /// Organization id.
    pub id: Uuid,
    /// Display name.
    pub name: String,
    /// Unique, URL-safe.
    pub slug: String,
    /// `basic`.
    pub tier: String,
    /// A JSON object.
    #[schema(value_type = Object)]
    pub settings: serde_json::Value,
    /// Creation time.
    pub created_at: DateTime<Utc>,
}

impl From<&Organization> for OrganizationDto {
    fn from(org: &Organization) -> Self {
        Self {
            id: org.id.as_uuid(),
            name: org.name.clone(),
            slug: org.slug.clone(),
            tier: org.tier.clone(),
            settings: serde_json::from_str(&org.settings).unwrap_or_else(|_| serde_json::json!({})),
            created_at: org.created_at,
        }
    }
}

/// `{organization}`
#[derive(Debug, Serialize, ToSchema)]
pub struct OrganizationEnvelope {
    /// The organization.
    pub organization: OrganizationDto,
}

/// An organization with the caller's role in it.
#[derive(Debug, Serialize, ToSchema)]
pub struct MyOrganizationDto {
    /// The organization.
    #[serde(flatten)]
    pub organization: OrganizationDto,
    /// The caller's role: `owner`, `admin` or `member`.
    pub role: &'static str,
}

/// `{organizations}`
#[derive(Debug, Serialize, ToSchema)]
pub struct OrganizationsDto {
    /// The caller's organizations.
    pub organizations: Vec<MyOrganizationDto>,
}

/// `POST /api/v1/organizations`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateOrganizationBody {
    /// Display name (1 to 128 characters).
    #[schema(example = "Acme")]
    pub name: String,
    /// 3 to 48 of `a-z 0-9 -`; made from the name when absent.
    pub slug: Option<String>,
}

/// `PATCH /api/v1/organizations/{org_id}`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateOrganizationBody {
    /// A new name.
    pub name: Option<String>,
    /// A new settings object (≤ 16 KiB as JSON).
    pub settings: Option<serde_json::Map<String, serde_json::Value>>,
}

/// Create an organization (`orgs:create`); the caller becomes its owner.
#[utoipa::path(
    post, path = "/api/v1/organizations", tag = "organizations",
    request_body = CreateOrganizationBody,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Created", body = OrganizationEnvelope),
        (status = 401, description = "`unauthorized`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`: no `orgs:create`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 409, description = "`slug_taken` or `organization_limit_reached`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
pub async fn create<A: App>(
    app: web::Data<A>,
    auth: Authenticated,
    client: Client,
    body: web::Json<CreateOrganizationBody>,
) -> Result<HttpResponse, ApiError> {
    let org = app
        .organizations()
        .create(&auth.claims, &body.name, body.slug.as_deref(), &client.0)
        .await?;
    Ok(HttpResponse::Created().json(OrganizationEnvelope {
        organization: (&org).into(),
    }))
}

/// The caller's organizations, with the caller's role.
#[utoipa::path(
    get, path = "/api/v1/organizations", tag = "organizations",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Organizations", body = OrganizationsDto),
        (status = 401, description = "`unauthorized`", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
pub async fn list<A: App>(
    app: web::Data<A>,
    auth: Authenticated,
) -> Result<HttpResponse, ApiError> {
    let orgs = app.organizations().list(&auth.claims).await?;
    Ok(HttpResponse::Ok().json(OrganizationsDto {
        organizations: orgs
            .iter()
            .map(|(org, role)| MyOrganizationDto {
                organization: org.into(),
                role: role.as_str(),
            })
            .collect(),
    }))
}

/// One of the caller's organizations.
#[utoipa::path(
    get, path = "/api/v1/organizations/{org_id}", tag = "organizations",
    params(("org_id" = Uuid, Path, description = "The organization")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The organization", body = OrganizationEnvelope),
        (status = 401, description = "`unauthorized`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`: unknown, or not the caller's", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
pub async fn get<A: App>(
    app: web::Data<A>,
    auth: Authenticated,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let (org, _) = app
        .organizations()
        .get(&auth.claims, org_id(&path)?)
        .await?;
    Ok(HttpResponse::Ok().json(OrganizationEnvelope {
        organization: (&org).into(),
    }))
}

/// Change name and/or settings (`org:update`).
#[utoipa::path(
    patch, path = "/api/v1/organizations/{org_id}", tag = "organizations",
    params(("org_id" = Uuid, Path, description = "The organization")),
    request_body = UpdateOrganizationBody,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Changed", body = OrganizationEnvelope),
        (status = 401, description = "`unauthorized`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed` (settings over 16 KiB)", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
pub async fn update<A: App>(
    app: web::Data<A>,
    auth: Authenticated,
    client: Client,
    path: web::Path<String>,
    body: web::Json<UpdateOrganizationBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let org = app
        .organizations()
        .update(
            &auth.claims,
            org_id(&path)?,
            OrgChange {
                name: body.name,
                settings: body
                    .settings
                    .map(|s| serde_json::Value::Object(s).to_string()),
            },
            &client.0,
        )
        .await?;
    Ok(HttpResponse::Ok().json(OrganizationEnvelope {
        organization: (&org).into(),
    }))
}

/// Delete (owner + step-up). Soft: the slug stays taken.
#[utoipa::path(
    delete, path = "/api/v1/organizations/{org_id}", tag = "organizations",
    params(("org_id" = Uuid, Path, description = "The organization")),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "`unauthorized` or `step_up_required`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`: not an owner", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
pub async fn delete<A: App>(
    app: web::Data<A>,
    auth: Authenticated,
    client: Client,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    app.organizations()
        .delete(&auth.claims, org_id(&path)?, &client.0)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Members by role.
#[derive(Debug, Serialize, ToSchema)]
pub struct ByRoleDto {
    /// Owners.
    pub owner: u64,
    /// Admins.
    pub admin: u64,
    /// Members.
    pub member: u64,
}

/// Member counts.
#[derive(Debug, Serialize, ToSchema)]
pub struct MemberCountsDto {
    /// Everyone.
    pub count: u64,
    /// By role.
    pub by_role: ByRoleDto,
}

/// Seats of the tier.
#[derive(Debug, Serialize, ToSchema)]
pub struct SeatsDto {
    /// Taken (every member, owners included).
    pub used: u64,
    /// Of the tier.
    pub limit: u32,
}

/// An organization at a glance.
#[derive(Debug, Serialize, ToSchema)]
pub struct DashboardDto {
    /// The organization.
    pub organization: OrganizationDto,
    /// Member counts.
    pub members: MemberCountsDto,
    /// Invitations waiting for an answer.
    pub invitations_pending: u64,
    /// Seats.
    pub seats: SeatsDto,
    /// The newest events (at most 10), without addresses or user agents.
    pub recent_activity: Vec<AuditEventDto>,
}

impl From<&Dashboard> for DashboardDto {
    fn from(d: &Dashboard) -> Self {
        let [owner, admin, member] = d.by_role;
        let count = owner + admin + member;
        Self {
            organization: (&d.organization).into(),
            members: MemberCountsDto {
                count,
                by_role: ByRoleDto {
                    owner,
                    admin,
                    member,
                },
            },
            invitations_pending: d.invitations_pending,
            seats: SeatsDto {
                used: count,
                limit: d.seat_limit,
            },
            recent_activity: d
                .recent_activity
                .iter()
                .map(|event| AuditEventDto {
                    ip: None,
                    user_agent: None,
                    ..event.into()
                })
                .collect(),
        }
    }
}

/// Members, invitations, seats and recent activity (`org:read`).
#[utoipa::path(
    get, path = "/api/v1/organizations/{org_id}/dashboard", tag = "organizations",
    params(("org_id" = Uuid, Path, description = "The organization")),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Dashboard", body = DashboardDto),
        (status = 401, description = "`unauthorized`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
pub async fn dashboard<A: App>(
    app: web::Data<A>,
    auth: Authenticated,
    path: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let dashboard = app
        .organizations()
        .dashboard(&auth.claims, org_id(&path)?)
        .await?;
    Ok(HttpResponse::Ok().json(DashboardDto::from(&dashboard)))
}

/// `?limit&cursor&role`
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct MembersQuery {
    /// Page size, 1 to 100 (default 50).
    pub limit: Option<u32>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<Uuid>,
    /// Only this role.
    pub role: Option<String>,
}

/// A member's public profile.
#[derive(Debug, Serialize, ToSchema)]
pub struct MemberUserDto {
    /// User id.
    pub id: Uuid,
    /// Email.
    pub email: String,
    /// Display name (`null` when unset).
    pub name: Option<String>,
    /// Avatar.
    pub avatar_url: Option<String>,
}

/// A member.
#[derive(Debug, Serialize, ToSchema)]
pub struct MemberDto {
    /// Who.
    pub user: MemberUserDto,
    /// `owner`, `admin` or `member`.
    pub role: &'static str,
    /// When they joined.
    pub joined_at: DateTime<Utc>,
}

/// A page of members.
#[derive(Debug, Serialize, ToSchema)]
pub struct MembersDto {
    /// The members.
    pub users: Vec<MemberDto>,
    /// The cursor of the next page; `null` on the last.
    pub next_cursor: Option<Uuid>,
}

impl From<&MemberPage> for MembersDto {
    fn from(page: &MemberPage) -> Self {
        Self {
            users: page
                .members
                .iter()
                .map(|row| MemberDto {
                    user: MemberUserDto {
                        id: row.membership.user_id.as_uuid(),
                        email: row.email.as_str().to_owned(),
                        name: row.name.clone(),
                        avatar_url: row.avatar_url.clone(),
                    },
                    role: row.membership.role.as_str(),
                    joined_at: row.membership.joined_at,
                })
                .collect(),
            next_cursor: page.next_after.map(|u| u.as_uuid()),
        }
    }
}

/// Members, in pages (`members:read`).
#[utoipa::path(
    get, path = "/api/v1/organizations/{org_id}/users", tag = "organizations",
    params(("org_id" = Uuid, Path, description = "The organization"), MembersQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Members", body = MembersDto),
        (status = 401, description = "`unauthorized`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
pub async fn members<A: App>(
    app: web::Data<A>,
    auth: Authenticated,
    path: web::Path<String>,
    query: web::Query<MembersQuery>,
) -> Result<HttpResponse, ApiError> {
    let role = query.role.as_deref().map(role).transpose()?;
    let page = app
        .organizations()
        .members(
            &auth.claims,
            org_id(&path)?,
            role,
            query.cursor.map(UserId::from_uuid),
            query.limit.unwrap_or(50),
        )
        .await?;
    Ok(HttpResponse::Ok().json(MembersDto::from(&page)))
}

/// A membership.
#[derive(Debug, Serialize, ToSchema)]
pub struct MembershipDto {
    /// The member.
    pub user_id: Uuid,
    /// The organization.
    pub organization_id: Uuid,
    /// `owner`, `admin` or `member`.
    pub role: &'static str,
    /// When they joined.
    pub joined_at: DateTime<Utc>,
}

impl From<&Membership> for MembershipDto {
    fn from(m: &Membership) -> Self {
        Self {
            user_id: m.user_id.as_uuid(),
            organization_id: m.organization_id.as_uuid(),
            role: m.role.as_str(),
            joined_at: m.joined_at,
        }
    }
}

/// `{membership}`
#[derive(Debug, Serialize, ToSchema)]
pub struct MembershipEnvelope {
    /// The membership.
    pub membership: MembershipDto,
}

/// `POST /api/v1/organizations/{org_id}/users`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddMemberBody {
    /// An existing user.
    pub user_id: Uuid,
    /// `owner` (owners only), `admin` or `member`.
    #[schema(example = "member")]
    pub role: String,
}

/// `PATCH /api/v1/organizations/{org_id}/users/{user_id}`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MemberRoleBody {
    /// `owner` (owners only), `admin` or `member`.
    #[schema(example = "admin")]
    pub role: String,
}

/// Add an existing user (`members:invite`).
#[utoipa::path(
    post, path = "/api/v1/organizations/{org_id}/users", tag = "organizations",
    params(("org_id" = Uuid, Path, description = "The organization")),
    request_body = AddMemberBody,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Added", body = MembershipEnvelope),
        (status = 401, description = "`unauthorized`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 409, description = "`already_member` or `seat_limit_reached`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: unknown user or role", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
pub async fn add_member<A: App>(
    app: web::Data<A>,
    auth: Authenticated,
    client: Client,
    path: web::Path<String>,
    body: web::Json<AddMemberBody>,
) -> Result<HttpResponse, ApiError> {
    let org = org_id(&path)?;
    let role = role(&body.role)?;
    let membership = app
        .organizations()
        .add_member(
            &auth.claims,
            org,
            UserId::from_uuid(body.user_id),
            role,
            &client.0,
        )
        .await?;
    Ok(HttpResponse::Created().json(MembershipEnvelope {
        membership: (&membership).into(),
    }))
}

/// Change a member's role (`members:update_role`; only owners touch
/// `owner`).
#[utoipa::path(
    patch, path = "/api/v1/organizations/{org_id}/users/{user_id}", tag = "organizations",
    params(
        ("org_id" = Uuid, Path, description = "The organization"),
        ("user_id" = Uuid, Path, description = "The member"),
    ),
    request_body = MemberRoleBody,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Changed", body = MembershipEnvelope),
        (status = 401, description = "`unauthorized`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 409, description = "`last_owner`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
pub async fn set_role<A: App>(
    app: web::Data<A>,
    auth: Authenticated,
    client: Client,
    path: web::Path<(String, String)>,
    body: web::Json<MemberRoleBody>,
) -> Result<HttpResponse, ApiError> {
    let (org, user) = path.into_inner();
    let org = org_id(&org)?;
    let user = UserId::from_uuid(uuid_or_404(&user)?);
    let role = role(&body.role)?;
    let membership = app
        .organizations()
        .set_role(&auth.claims, org, user, role, &client.0)
        .await?;
    Ok(HttpResponse::Ok().json(MembershipEnvelope {
        membership: (&membership).into(),
    }))
}

/// Remove a member (`members:remove`); one's own id leaves.
#[utoipa::path(
    delete, path = "/api/v1/organizations/{org_id}/users/{user_id}", tag = "organizations",
    params(
        ("org_id" = Uuid, Path, description = "The organization"),
        ("user_id" = Uuid, Path, description = "The member"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "`unauthorized`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 409, description = "`last_owner`", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
pub async fn remove_member<A: App>(
    app: web::Data<A>,
    auth: Authenticated,
    client: Client,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (org, user) = path.into_inner();
    let org = org_id(&org)?;
    let user = UserId::from_uuid(uuid_or_404(&user)?);
    app.organizations()
        .remove_member(&auth.claims, org, user, &client.0)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// An invitation (never its token).
#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationDto {
    /// Invitation id.
    pub id: Uuid,
    /// Who is invited.
    pub email: String,
    /// The role they get.
    pub role: &'static str,
    /// `pending`, `accepted`, `declined`, `revoked` or `expired`.
    pub status: &'static str,
    /// Who invited.
    pub inviter_id: Uuid,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
}

impl From<&InvitationView> for InvitationDto {
    fn from(i: &InvitationView) -> Self {
        Self {
            id: i.id.as_uuid(),
            email: i.email.as_str().to_owned(),
            role: i.role.as_str(),
            status: i.status.as_str(),
            inviter_id: i.inviter_id.as_uuid(),
            expires_at: i.expires_at,
        }
    }
}

/// `{invitation}`
#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationEnvelope {
    /// The invitation.
    pub invitation: InvitationDto,
}

/// `{invitations}`
#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationsDto {
    /// Newest first.
    pub invitations: Vec<InvitationDto>,
}

/// `POST /api/v1/organizations/{org_id}/invitations`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InviteBody {
    /// Who to invite.
    #[schema(example = "bob@example.com")]
    pub email: String,
    /// `owner` (owners only), `admin` or `member`.
    #[schema(example = "member")]
    pub role: String,
}

/// `?status`
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct InvitationsQuery {
    /// Only this status.
    pub status: Option<String>,
}

/// Invite by email (`members:invite`); re-inviting an address revokes its
/// pending invitation. 50 per day per organization.
#[utoipa::path(
    post, path = "/api/v1/organizations/{org_id}/invitations", tag = "organizations",
    params(("org_id" = Uuid, Path, description = "The organization")),
    request_body = InviteBody,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "Invited; the mail is on its way", body = InvitationEnvelope),
        (status = 401, description = "`unauthorized`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 409, description = "`already_member`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`: 50 today", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
pub async fn invite<A: App>(
    app: web::Data<A>,
    auth: Authenticated,
    client: Client,
    path: web::Path<String>,
    body: web::Json<InviteBody>,
) -> Result<HttpResponse, ApiError> {
    let org = org_id(&path)?;
    let email = Email::parse(&body.email)
        .map_err(|_| ApiError::invalid_field("email", "invalid_email", "not an email address"))?;
    let role = role(&body.role)?;
    let invitation = app
        .organizations()
        .invite(&auth.claims, org, email, role, &client.0)
        .await?;
    Ok(HttpResponse::Created().json(InvitationEnvelope {
        invitation: (&invitation).into(),
    }))
}

/// The organization's invitations (`members:invite`).
#[utoipa::path(
    get, path = "/api/v1/organizations/{org_id}/invitations", tag = "organizations",
    params(("org_id" = Uuid, Path, description = "The organization"), InvitationsQuery),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Invitations", body = InvitationsDto),
        (status = 401, description = "`unauthorized`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed`: unknown status", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
pub async fn invitations<A: App>(
    app: web::Data<A>,
    auth: Authenticated,
    path: web::Path<String>,
    query: web::Query<InvitationsQuery>,
) -> Result<HttpResponse, ApiError> {
    let status = match query.status.as_deref() {
        None => None,
        Some(text) => Some(InvitationStatus::parse(text).ok_or_else(|| {
            ApiError::invalid_field(
                "status",
                "invalid",
                "one of pending, accepted, declined, revoked, expired",
            )
        })?),
    };
    let list = app
        .organizations()
        .invitations(&auth.claims, org_id(&path)?)
        .await?;
    Ok(HttpResponse::Ok().json(InvitationsDto {
        invitations: list
            .iter()
            .filter(|i| status.is_none_or(|s| i.status == s))
            .map(InvitationDto::from)
            .collect(),
    }))
}

/// Revoke a pending invitation (`members:invite`).
#[utoipa::path(
    delete, path = "/api/v1/organizations/{org_id}/invitations/{invitation_id}", tag = "organizations",
    params(
        ("org_id" = Uuid, Path, description = "The organization"),
        ("invitation_id" = Uuid, Path, description = "The invitation"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Revoked"),
        (status = 401, description = "`unauthorized`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "`not_found` (also not pending)", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
pub async fn revoke_invitation<A: App>(
    app: web::Data<A>,
    auth: Authenticated,
    client: Client,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (org, id) = path.into_inner();
    let org = org_id(&org)?;
    let id = InvitationId::from_uuid(uuid_or_404(&id)?);
    app.organizations()
        .revoke_invitation(&auth.claims, org, id, &client.0)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Mail a pending invitation again with a new token; the old one stops
/// working (`members:invite`).
#[utoipa::path(
    post, path = "/api/v1/organizations/{org_id}/invitations/{invitation_id}/resend", tag = "organizations",
    params(
        ("org_id" = Uuid, Path, description = "The organization"),
        ("invitation_id" = Uuid, Path, description = "The invitation"),
    ),
    security(("bearer" = [])),
    responses(
        (status = 202, description = "Sent again", body = EmptyObject),
        (status = 401, description = "`unauthorized`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 403, description = "`forbidden`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "`not_found` (also not pending)", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
pub async fn resend_invitation<A: App>(
    app: web::Data<A>,
    auth: Authenticated,
    client: Client,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse, ApiError> {
    let (org, id) = path.into_inner();
    let org = org_id(&org)?;
    let id = InvitationId::from_uuid(uuid_or_404(&id)?);
    app.organizations()
        .resend_invitation(&auth.claims, org, id, &client.0)
        .await?;
    Ok(HttpResponse::Accepted().json(serde_json::json!({})))
}

/// `{token}` of an invitation link.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InvitationTokenBody {
    /// The token from the mailed link.
    pub token: String,
}

/// An organization as an invitee sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrganizationRefDto {
    /// Organization id.
    pub id: Uuid,
    /// Display name.
    pub name: String,
}

/// What an invitation invites to.
#[derive(Debug, Serialize, ToSchema)]
pub struct InvitationLookupDto {
    /// The organization.
    pub organization: OrganizationRefDto,
    /// The invited address.
    pub email: String,
    /// The role offered.
    pub role: &'static str,
    /// When it stops working.
    pub expires_at: DateTime<Utc>,
}

/// The result of accepting.
#[derive(Debug, Serialize, ToSchema)]
pub struct AcceptedDto {
    /// The organization joined.
    pub organization: OrganizationDto,
    /// The role in it.
    pub role: &'static str,
}

/// What an invitation token invites to (public; the token stays in the
/// body).
#[utoipa::path(
    post, path = "/api/v1/invitations/lookup", tag = "organizations",
    request_body = InvitationTokenBody,
    responses(
        (status = 200, description = "The invitation", body = InvitationLookupDto),
        (status = 400, description = "`token_invalid` or `token_expired`", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
pub async fn lookup_invitation<A: App>(
    app: web::Data<A>,
    body: web::Json<InvitationTokenBody>,
) -> Result<HttpResponse, ApiError> {
    let (invitation, org) = app.organizations().lookup_invitation(&body.token).await?;
    Ok(HttpResponse::Ok().json(InvitationLookupDto {
        organization: OrganizationRefDto {
            id: org.id.as_uuid(),
            name: org.name,
        },
        email: invitation.email.as_str().to_owned(),
        role: invitation.role.as_str(),
        expires_at: invitation.expires_at,
    }))
}

/// Join with an invitation: the caller's verified email must be the
/// invited one.
#[utoipa::path(
    post, path = "/api/v1/invitations/accept", tag = "organizations",
    request_body = InvitationTokenBody,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Joined", body = AcceptedDto),
        (status = 400, description = "`token_invalid` (used, revoked) or `token_expired`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 401, description = "`unauthorized`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 403, description = "`invitation_email_mismatch`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 409, description = "`already_member` or `seat_limit_reached`", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
pub async fn accept_invitation<A: App>(
    app: web::Data<A>,
    auth: Authenticated,
    client: Client,
    body: web::Json<InvitationTokenBody>,
) -> Result<HttpResponse, ApiError> {
    let (org, role) = app
        .organizations()
        .accept_invitation(&auth.claims, &body.token, &client.0)
        .await?;
    Ok(HttpResponse::Ok().json(AcceptedDto {
        organization: (&org).into(),
        role: role.as_str(),
    }))
}

/// Decline an invitation (the token is the credential).
#[utoipa::path(
    post, path = "/api/v1/invitations/decline", tag = "organizations",
    request_body = InvitationTokenBody,
    responses(
        (status = 204, description = "Declined"),
        (status = 400, description = "`token_invalid` or `token_expired`", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
pub async fn decline_invitation<A: App>(
    app: web::Data<A>,
    client: Client,
    body: web::Json<InvitationTokenBody>,
) -> Result<HttpResponse, ApiError> {
    app.organizations()
        .decline_invitation(&body.token, &client.0)
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// `POST /api/v1/auth/switch-organization`
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SwitchOrganizationBody {
    /// The organization; `null` for none.
    pub organization_id: Option<Uuid>,
}

/// Point this session's tokens at an organization (`org_id` claim, a hint:
/// every decision checks membership again). Same session, refresh rotated.
#[utoipa::path(
    post, path = "/api/v1/auth/switch-organization", tag = "organizations",
    request_body = SwitchOrganizationBody,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A new pair for the same session (refresh cookie set)", body = TokenPairDto),
        (status = 401, description = "`unauthorized`", body = ProblemDetails, content_type = "application/problem+json"),
        (status = 404, description = "`not_found`: not a member", body = ProblemDetails, content_type = "application/problem+json"),
    )
)]
pub async fn switch_organization<A: App>(
    app: web::Data<A>,
    auth: Authenticated,
    client: Client,
    body: web::Json<SwitchOrganizationBody>,
) -> Result<HttpResponse, ApiError> {
    let pair = app
        .organizations()
        .switch_organization(
            &auth.claims,
            body.organization_id.map(OrganizationId::from_uuid),
            &client.0,
        )
        .await?;
    Ok(refresh_cookie::token_pair_response(&pair))
}
