//! The OpenAPI 3.1 document: every route of [`crate::routes`], its schemas and
//! its problem responses.

use std::sync::OnceLock;

use actix_web::HttpResponse;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::access::{
    ActivityBody, AssignRoleBody, AuthorizeBody, AuthorizeResponse, CheckBody, ChecksBody,
    CreateKeyBody, CreateRoleBody, CreatedKeyDto, DecisionDto, DecisionsDto, PermissionDto,
    PermissionsDto, ResourceBody, RoleDto, RoleEnvelope, RoleRefDto, RolesDto, ServiceKeyDto,
    ServiceKeysDto, SubjectBody, UpdateRoleBody, UserContextDto, UserPermissionsDto, UserRolesDto,
};
use crate::accounts::{
    ChangePasswordBody, EmailBody, EmptyObject, RegisterBody, ResetPasswordBody, VerifyEmailBody,
};
use crate::activity::{AuditEventDto, AuditPageDto};
use crate::dto::{TokenPairDto, UserDto, UserEnvelope};
use crate::error::{FieldError, ProblemDetails};
use crate::mfa::{
    BackupCodesDto, BackupCodesRegeneratedDto, ChallengeBody, ChallengeDto, MethodDto, MethodsDto,
    SetupBody, SetupConfirmedDto, SetupResponse, TotpDto, VerifiedPairDto, VerifyBody,
    VerifyResponse,
};
use crate::organizations::{
    AcceptedDto, AddMemberBody, ByRoleDto, CreateOrganizationBody, DashboardDto, InvitationDto,
    InvitationEnvelope, InvitationLookupDto, InvitationTokenBody, InvitationsDto, InviteBody,
    MemberCountsDto, MemberDto, MemberRoleBody, MemberUserDto, MembersDto, MembershipDto,
    MembershipEnvelope, MyOrganizationDto, OrganizationDto, OrganizationEnvelope,
    OrganizationRefDto, OrganizationsDto, SeatsDto, SwitchOrganizationBody, UpdateOrganizationBody,
};
use crate::sessions::{IntrospectionDto, RefreshBody, SessionDto, SessionsDto, ValidateBody};
use crate::sign_in::{
    LoginBody, LoginResponse, LoginTokensDto, MfaMethodOffer, MfaRequiredDto, ReauthenticateBody,
};
use crate::system::{
    CheckStatus, HealthChecks, HealthDetails, HealthDto, LimiterDto, OutboxDto, OverallStatus,
    ProbeDto,
};
use crate::users::{
    AdminAuditDto, AdminMethodDto, AdminMfaDto, AdminSessionListDto, AdminSessionsDto,
    AdminUserDto, DeleteAccountBody, EventsPageDto, LockDto, PreferencesEnvelope, ProfileBody,
    RegisterProfile, RegisterWithProfileBody, SecurityDto, SuspendBody, UserDashboardDto,
    UserExportDto, UserOrganizationDto, UsersPageDto,
};
use crate::{
    access, accounts, activity, docs, mfa, organizations, sessions, sign_in, system, users,
};

/// The document.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "auth-service",
        description = "Registration, login, sessions and tokens. Errors are RFC 9457 problem details with a stable `code`.",
        license(name = "MIT OR Apache-2.0")
    ),
    paths(
        accounts::register,
        accounts::verify_email,
        accounts::verify_email_in_path,
        accounts::resend_verification,
        sign_in::login,
        accounts::me,
        sessions::refresh,
        accounts::forgot_password,
        accounts::reset_password,
        sessions::logout,
        sessions::list_sessions,
        sessions::revoke_sessions_collection,
        sessions::revoke_all_sessions,
        sessions::revoke_session,
        accounts::change_password,
        sessions::validate,
        sessions::verify_token,
        activity::audit,
        sign_in::reauthenticate,
        mfa::setup,
        mfa::methods,
        mfa::challenge,
        mfa::verify,
        mfa::remove,
        mfa::regenerate_backup_codes,
        access::authorize,
        access::user_permissions,
        access::user_roles,
        access::user_context,
        access::report_activity,
        access::permissions,
        access::roles,
        access::create_role,
        access::role,
        access::update_role,
        access::delete_role,
        access::assign_role,
        access::remove_role,
        access::create_service_key,
        access::service_keys,
        access::revoke_service_key,
        organizations::create,
        organizations::list,
        organizations::get,
        organizations::update,
        organizations::delete,
        organizations::dashboard,
        organizations::members,
        organizations::add_member,
        organizations::set_role,
        organizations::remove_member,
        organizations::invite,
        organizations::invitations,
        organizations::revoke_invitation,
        organizations::resend_invitation,
        organizations::lookup_invitation,
        organizations::accept_invitation,
        organizations::decline_invitation,
        organizations::switch_organization,
        users::register_with_profile,
        users::profile,
        users::update_profile,
        users::delete_account,
        users::preferences,
        users::update_preferences,
        users::activity,
        users::dashboard,
        users::export,
        users::users,
        users::user,
        users::suspend,
        users::reactivate,
        users::unlock,
        users::reset_mfa,
        users::sessions,
        users::revoke_sessions,
        users::unblock_ip,
        users::audit,
        users::events,
        system::health,
        system::metrics,
        system::jwks,
        openapi_json,
        docs::page,
    ),
    components(schemas(
        RegisterBody, VerifyEmailBody, LoginBody, UserDto, UserEnvelope, TokenPairDto,
        HealthDto, HealthChecks, CheckStatus, OverallStatus, HealthDetails, ProbeDto, OutboxDto,
        LimiterDto, ProblemDetails, FieldError,
        RefreshBody, ChangePasswordBody, ValidateBody, IntrospectionDto, SessionDto, SessionsDto,
        AuditEventDto, AuditPageDto, EmailBody, EmptyObject, ResetPasswordBody,
        LoginResponse, LoginTokensDto, MfaRequiredDto, MfaMethodOffer, ReauthenticateBody,
        SetupBody, SetupResponse, MethodDto, TotpDto, ChallengeDto, MethodsDto, BackupCodesDto,
        ChallengeBody, VerifyBody, VerifyResponse, VerifiedPairDto, SetupConfirmedDto,
        BackupCodesRegeneratedDto,
        AuthorizeBody, CheckBody, ChecksBody, SubjectBody, ResourceBody, AuthorizeResponse,
        DecisionDto, DecisionsDto, UserPermissionsDto, UserRolesDto, RoleRefDto, UserContextDto,
        ActivityBody, PermissionDto, PermissionsDto, RoleDto, RoleEnvelope, RolesDto,
        CreateRoleBody, UpdateRoleBody, AssignRoleBody, ServiceKeyDto, ServiceKeysDto,
        CreatedKeyDto, CreateKeyBody,
        OrganizationDto, OrganizationEnvelope, MyOrganizationDto, OrganizationsDto,
        CreateOrganizationBody, UpdateOrganizationBody, ByRoleDto, MemberCountsDto, SeatsDto,
        DashboardDto, MemberUserDto, MemberDto, MembersDto, MembershipDto, MembershipEnvelope,
        AddMemberBody, MemberRoleBody, InvitationDto, InvitationEnvelope, InvitationsDto,
        InviteBody, InvitationTokenBody, OrganizationRefDto, InvitationLookupDto, AcceptedDto,
        SwitchOrganizationBody,
        ProfileBody, UsersPageDto, UserOrganizationDto, AdminMethodDto, AdminMfaDto,
        AdminSessionsDto, LockDto, AdminUserDto, SuspendBody, AdminSessionListDto, AdminAuditDto,
        SecurityDto, UserDashboardDto, UserExportDto, RegisterProfile, RegisterWithProfileBody,
        PreferencesEnvelope, DeleteAccountBody, EventsPageDto,
    )),
    modifiers(&BearerAuth),
    tags(
        (name = "auth", description = "Registration, verification, login"),
        (name = "sessions", description = "Refresh, logout, devices, password change"),
        (name = "tokens", description = "Access-token validation for other services"),
        (name = "mfa", description = "Second factors, step-up and backup codes"),
        (name = "organizations", description = "Tenants, members, invitations and the organization context of tokens"),
        (name = "users", description = "Profiles"),
        (name = "admin", description = "Administration of users, sessions, locks and the audit trail"),
        (name = "access", description = "Authorization for other services, roles, permissions and service keys"),
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

/// This document.
#[utoipa::path(
    get, path = "/openapi.json", tag = "system",
    responses((status = 200, description = "The OpenAPI 3.1 document", content_type = "application/json", body = Object))
)]
pub async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(document())
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
