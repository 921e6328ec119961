//! Handlers against a fake application: what the HTTP layer itself decides
//! (statuses, cookies, headers), with no use case or adapter behind it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Mutex;

use actix_web::test::{self, TestRequest};
use actix_web::web;
use auth_application::access::{
    Access, AccessError, ActivityReport, Check, CreatedKey, NewRole, Principal, RoleChange,
    UserAccess,
};
use auth_application::accounts::{
    AccountView, Accounts, ChangePasswordError, ChangePasswordRequest, CurrentUserError,
    RegisterError, RegisterRequest, ResetPasswordError, ResetPasswordRequest, VerifyEmailError,
};
use auth_application::activity::Activity;
use auth_application::admin::{Admin, AdminError, AdminUserView};
use auth_application::health::{HealthReport, Probe};
use auth_application::mfa::{
    ChallengeError, ChallengeSent, MethodsView, Mfa, NewBackupCodes, RegenerateError, RemoveError,
    SessionVerified, SetupDone, SetupError, SetupRequest, Subject, VerifyError,
};
use auth_application::organizations::{
    Dashboard, InvitationView, OrgChange, OrgError, Organizations,
};
use auth_application::sessions::{LogoutError, RefreshError, SessionError, Sessions};
use auth_application::shared::{Proof, StepUpError, StepUpRequired};
use auth_application::sign_in::{
    LoginError, LoginOutcome, LoginRequest, MfaLoginDone, MfaLoginError, ReauthError, SignIn,
};
use auth_application::{Failure, TokenPair};
use auth_domain::access::OrgRole;
use auth_domain::access::{Decision, PermissionInfo, RoleRecord, ServiceKey};
use auth_domain::organizations::{MemberPage, Membership, Organization};
use auth_domain::sessions::TokenRejection;
use auth_domain::{
    AccessClaims, Email, OpaqueToken, PasswordHash, RequestContext, Role, Session, SessionId, User,
    UserId,
};
use auth_domain::{InvitationId, OrganizationId};

use crate::{App, TrustedProxies};

fn pair(remember_me: bool) -> TokenPair {
    let now = chrono::Utc::now();
    let user = User::register(
        Email::parse("fake@example.com").unwrap(),
        PasswordHash::new("x".into()),
        now,
    );
    TokenPair {
        access_token: "at".into(),
        expires_in: 900,
        refresh_token: OpaqueToken::new("rt-next".into()),
        refresh_expires_in: 3600,
        session: Session {
            id: SessionId::generate(),
            user_id: user.id,
            created_at: now,
            last_used_at: now,
            expires_at: now + chrono::TimeDelta::hours(1),
            remember_me,
            ip: None,
            user_agent: None,
            revoked_at: None,
            assurance: auth_domain::Assurance::password(now),
            organization_id: None,
        },
        user,
        roles: vec![Role::user()],
    }
}

/// Answers what the test sets, and remembers what it was asked.
#[derive(Default)]
struct Fake {
    login_fails: bool,
    database_up: bool,
    refreshed_with: Mutex<Vec<Option<String>>>,
    logged_out_with: Mutex<Vec<(Option<String>, Option<String>)>>,
}

impl Accounts for Fake {
    async fn preferences(
        &self,
        _: &AccessClaims,
        _: UserId,
    ) -> Result<
        auth_application::accounts::Preferences,
        auth_application::accounts::ProfileAccessError,
    > {
        Ok(auth_application::accounts::Preferences::default())
    }
    async fn update_preferences(
        &self,
        _: &AccessClaims,
        _: UserId,
        _: &serde_json::Value,
        _: &RequestContext,
    ) -> Result<
        auth_application::accounts::Preferences,
        auth_application::accounts::ProfileAccessError,
    > {
        Err(auth_application::accounts::ProfileAccessError::NotFound)
    }
    async fn delete_account(
        &self,
        _: &AccessClaims,
        _: UserId,
        _: Option<auth_domain::Password>,
        _: &RequestContext,
    ) -> Result<(), auth_application::accounts::DeleteAccountError> {
        Err(auth_application::accounts::DeleteAccountError::LastOwner)
    }
    async fn profile(
        &self,
        _: &AccessClaims,
        _: UserId,
    ) -> Result<AccountView, auth_application::accounts::ProfileAccessError> {
        Err(auth_application::accounts::ProfileAccessError::NotFound)
    }
    async fn update_profile(
        &self,
        _: &AccessClaims,
        _: UserId,
        _: auth_application::accounts::ProfilePatch,
        _: &RequestContext,
    ) -> Result<AccountView, auth_application::accounts::ProfileAccessError> {
        Err(auth_application::accounts::ProfileAccessError::Invalid(
            "name", "too long",
        ))
    }
    async fn register(
        &self,
        _: RegisterRequest,
        _: &RequestContext,
    ) -> Result<AccountView, RegisterError> {
        Err(RegisterError::EmailTaken)
    }
    async fn verify_email(
        &self,
        _: &str,
        _: &RequestContext,
    ) -> Result<AccountView, VerifyEmailError> {
        Err(VerifyEmailError::Expired)
    }
    async fn current_user(&self, _: UserId) -> Result<AccountView, CurrentUserError> {
        Err(CurrentUserError::Failed(Failure::Unavailable("db".into())))
    }
    async fn change_password(
        &self,
        _: &AccessClaims,
        _: ChangePasswordRequest,
        _: &RequestContext,
    ) -> Result<(), ChangePasswordError> {
        Ok(())
    }
    async fn forgot_password(&self, _: Email, _: &RequestContext) -> Result<(), Failure> {
        Ok(())
    }
    async fn resend_verification(&self, _: Email, _: &RequestContext) -> Result<(), Failure> {
        Ok(())
    }
    async fn reset_password(
        &self,
        _: ResetPasswordRequest,
        _: &RequestContext,
    ) -> Result<(), ResetPasswordError> {
        Err(ResetPasswordError::WeakPassword(vec![
            auth_domain::PolicyViolation::TooShort,
        ]))
    }
}

impl SignIn for Fake {
    async fn login(
        &self,
        request: LoginRequest,
        _: &RequestContext,
    ) -> Result<LoginOutcome, LoginError> {
        if self.login_fails {
            Err(LoginError::InvalidCredentials)
        } else {
            Ok(LoginOutcome::Tokens(Box::new(pair(request.remember_me))))
        }
    }
    async fn complete_mfa_login(
        &self,
        _: &str,
        _: Proof,
        _: &RequestContext,
    ) -> Result<MfaLoginDone, MfaLoginError> {
        Err(MfaLoginError::Locked {
            retry_after: std::time::Duration::from_secs(600),
        })
    }
    async fn reauthenticate(
        &self,
        _: &AccessClaims,
        _: auth_domain::Password,
        _: &RequestContext,
    ) -> Result<TokenPair, ReauthError> {
        Err(ReauthError::InvalidCredentials)
    }
}

/// Every MFA operation needs a step-up here.
impl Mfa for Fake {
    async fn setup(
        &self,
        _: &AccessClaims,
        _: SetupRequest,
        _: &RequestContext,
    ) -> Result<SetupDone, SetupError> {
        Err(SetupError::StepUp(StepUpError::Required(StepUpRequired {
            acr: auth_domain::Aal::Aal2,
            max_age: std::time::Duration::from_secs(600),
        })))
    }
    async fn methods(&self, _: UserId) -> Result<MethodsView, Failure> {
        Err(Failure::Unavailable("db".into()))
    }
    async fn challenge(
        &self,
        _: Subject<'_>,
        _: auth_domain::MethodId,
        _: &RequestContext,
    ) -> Result<ChallengeSent, ChallengeError> {
        Err(ChallengeError::TokenInvalid)
    }
    async fn verify(
        &self,
        _: &AccessClaims,
        _: Proof,
        _: &RequestContext,
    ) -> Result<SessionVerified, VerifyError> {
        Err(VerifyError::CodeInvalid)
    }
    async fn remove(
        &self,
        _: &AccessClaims,
        _: auth_domain::MethodId,
        _: &RequestContext,
    ) -> Result<(), RemoveError> {
        Err(RemoveError::NotFound)
    }
    async fn regenerate_backup_codes(
        &self,
        _: &AccessClaims,
        _: &RequestContext,
    ) -> Result<NewBackupCodes, RegenerateError> {
        Err(RegenerateError::NotEnabled)
    }
}

impl Sessions for Fake {
    fn authenticate(&self, _: &str) -> Result<AccessClaims, TokenRejection> {
        Err(TokenRejection::Malformed)
    }
    async fn refresh(
        &self,
        presented: Option<&str>,
        _: &RequestContext,
    ) -> Result<TokenPair, RefreshError> {
        self.refreshed_with
            .lock()
            .unwrap()
            .push(presented.map(str::to_owned));
        Ok(pair(false))
    }
    async fn logout(
        &self,
        bearer: Option<&str>,
        refresh_token: Option<&str>,
        _: &RequestContext,
    ) -> Result<(), LogoutError> {
        self.logged_out_with
            .lock()
            .unwrap()
            .push((bearer.map(str::to_owned), refresh_token.map(str::to_owned)));
        Ok(())
    }
    async fn list(&self, _: UserId) -> Result<Vec<Session>, Failure> {
        Ok(Vec::new())
    }
    async fn revoke(&self, _: UserId, _: &str, _: &RequestContext) -> Result<(), SessionError> {
        Err(SessionError::NotFound)
    }
    async fn revoke_all(&self, _: UserId, _: &RequestContext) -> Result<(), Failure> {
        Ok(())
    }
}

impl Activity for Fake {
    async fn audit_trail(
        &self,
        _: UserId,
        _: Option<auth_domain::EventId>,
        _: Option<u32>,
    ) -> Result<auth_domain::AuditPage, Failure> {
        Ok(auth_domain::AuditPage {
            events: Vec::new(),
            next_before: None,
        })
    }
}

/// The key store is down; nobody holds a permission.
impl Access for Fake {
    async fn authenticate_key(&self, _: &str) -> Result<Option<ServiceKey>, Failure> {
        Err(Failure::Unavailable("db".into()))
    }
    async fn authorize(&self, _: &Principal, _: &[Check]) -> Result<Vec<Decision>, AccessError> {
        Err(AccessError::Forbidden)
    }
    fn decision_ttl(&self) -> std::time::Duration {
        std::time::Duration::from_secs(30)
    }
    async fn user_access(
        &self,
        _: &Principal,
        _: UserId,
        _: Option<auth_domain::OrganizationId>,
    ) -> Result<UserAccess, AccessError> {
        Err(AccessError::NotFound)
    }
    async fn report_activity(
        &self,
        _: &Principal,
        _: UserId,
        _: ActivityReport,
        _: &RequestContext,
    ) -> Result<(), AccessError> {
        Err(AccessError::Forbidden)
    }
    async fn permissions(&self, _: &Principal) -> Result<Vec<PermissionInfo>, AccessError> {
        Err(AccessError::Forbidden)
    }
    async fn roles(&self, _: &Principal) -> Result<Vec<RoleRecord>, AccessError> {
        Err(AccessError::Forbidden)
    }
    async fn role(&self, _: &Principal, _: auth_domain::RoleId) -> Result<RoleRecord, AccessError> {
        Err(AccessError::NotFound)
    }
    async fn create_role(
        &self,
        _: &Principal,
        _: NewRole,
        _: &RequestContext,
    ) -> Result<RoleRecord, AccessError> {
        Err(AccessError::LastAdmin)
    }
    async fn update_role(
        &self,
        _: &Principal,
        _: auth_domain::RoleId,
        _: RoleChange,
        _: &RequestContext,
    ) -> Result<RoleRecord, AccessError> {
        Err(AccessError::RoleProtected)
    }
    async fn delete_role(
        &self,
        _: &Principal,
        _: auth_domain::RoleId,
        _: &RequestContext,
    ) -> Result<(), AccessError> {
        Err(AccessError::RoleProtected)
    }
    async fn assign_role(
        &self,
        _: &Principal,
        _: UserId,
        _: &str,
        _: &RequestContext,
    ) -> Result<(), AccessError> {
        Err(AccessError::Forbidden)
    }
    async fn remove_role(
        &self,
        _: &Principal,
        _: UserId,
        _: &str,
        _: &RequestContext,
    ) -> Result<(), AccessError> {
        Err(AccessError::LastAdmin)
    }
    async fn create_service_key(
        &self,
        _: &Principal,
        _: &str,
        _: &[String],
        _: &RequestContext,
    ) -> Result<CreatedKey, AccessError> {
        Err(AccessError::Forbidden)
    }
    async fn service_keys(&self, _: &Principal) -> Result<Vec<ServiceKey>, AccessError> {
        Err(AccessError::Forbidden)
    }
    async fn revoke_service_key(
        &self,
        _: &Principal,
        _: auth_domain::ServiceKeyId,
        _: &RequestContext,
    ) -> Result<(), AccessError> {
        Err(AccessError::NotFound)
    }
}

/// No organization exists.
impl Organizations for Fake {
    async fn create(
        &self,
        _: &AccessClaims,
        _: &str,
        _: Option<&str>,
        _: &RequestContext,
    ) -> Result<Organization, OrgError> {
        Err(OrgError::SlugTaken)
    }
    async fn list(&self, _: &AccessClaims) -> Result<Vec<(Organization, OrgRole)>, OrgError> {
        Ok(Vec::new())
    }
    async fn get(
        &self,
        _: &AccessClaims,
        _: OrganizationId,
    ) -> Result<(Organization, OrgRole), OrgError> {
        Err(OrgError::NotFound)
    }
    async fn update(
        &self,
        _: &AccessClaims,
        _: OrganizationId,
        _: OrgChange,
        _: &RequestContext,
    ) -> Result<Organization, OrgError> {
        Err(OrgError::NotFound)
    }
    async fn delete(
        &self,
        _: &AccessClaims,
        _: OrganizationId,
        _: &RequestContext,
    ) -> Result<(), OrgError> {
        Err(OrgError::NotFound)
    }
    async fn dashboard(&self, _: &AccessClaims, _: OrganizationId) -> Result<Dashboard, OrgError> {
        Err(OrgError::NotFound)
    }
    async fn members(
        &self,
        _: &AccessClaims,
        _: OrganizationId,
        _: Option<OrgRole>,
        _: Option<UserId>,
        _: u32,
    ) -> Result<MemberPage, OrgError> {
        Err(OrgError::NotFound)
    }
    async fn add_member(
        &self,
        _: &AccessClaims,
        _: OrganizationId,
        _: UserId,
        _: OrgRole,
        _: &RequestContext,
    ) -> Result<Membership, OrgError> {
        Err(OrgError::NotFound)
    }
    async fn set_role(
        &self,
        _: &AccessClaims,
        _: OrganizationId,
        _: UserId,
        _: OrgRole,
        _: &RequestContext,
    ) -> Result<Membership, OrgError> {
        Err(OrgError::NotFound)
    }
    async fn remove_member(
        &self,
        _: &AccessClaims,
        _: OrganizationId,
        _: UserId,
        _: &RequestContext,
    ) -> Result<(), OrgError> {
        Err(OrgError::NotFound)
    }
    async fn invite(
        &self,
        _: &AccessClaims,
        _: OrganizationId,
        _: Email,
        _: OrgRole,
        _: &RequestContext,
    ) -> Result<InvitationView, OrgError> {
        Err(OrgError::NotFound)
    }
    async fn invitations(
        &self,
        _: &AccessClaims,
        _: OrganizationId,
    ) -> Result<Vec<InvitationView>, OrgError> {
        Err(OrgError::NotFound)
    }
    async fn revoke_invitation(
        &self,
        _: &AccessClaims,
        _: OrganizationId,
        _: InvitationId,
        _: &RequestContext,
    ) -> Result<(), OrgError> {
        Err(OrgError::NotFound)
    }
    async fn resend_invitation(
        &self,
        _: &AccessClaims,
        _: OrganizationId,
        _: InvitationId,
        _: &RequestContext,
    ) -> Result<(), OrgError> {
        Err(OrgError::NotFound)
    }
    async fn lookup_invitation(&self, _: &str) -> Result<(InvitationView, Organization), OrgError> {
        Err(OrgError::TokenExpired)
    }
    async fn accept_invitation(
        &self,
        _: &AccessClaims,
        _: &str,
        _: &RequestContext,
    ) -> Result<(Organization, OrgRole), OrgError> {
        Err(OrgError::EmailMismatch)
    }
    async fn decline_invitation(&self, _: &str, _: &RequestContext) -> Result<(), OrgError> {
        Err(OrgError::TokenInvalid)
    }
    async fn switch_organization(
        &self,
        _: &AccessClaims,
        _: Option<OrganizationId>,
        _: &RequestContext,
    ) -> Result<TokenPair, OrgError> {
        Err(OrgError::NotFound)
    }
}

/// Nobody is an administrator.
impl Admin for Fake {
    async fn events(
        &self,
        _: &AccessClaims,
        _: Option<auth_domain::MessageId>,
        _: u32,
    ) -> Result<
        Vec<(
            auth_domain::MessageId,
            auth_domain::Timestamp,
            auth_domain::DomainEvent,
        )>,
        AdminError,
    > {
        Err(AdminError::Forbidden)
    }
    async fn activity(
        &self,
        _: &AccessClaims,
        _: UserId,
        _: Option<auth_domain::AuditEventType>,
        _: Option<auth_domain::EventId>,
        _: u32,
    ) -> Result<Vec<auth_domain::AuditEvent>, AdminError> {
        Err(AdminError::NotFound)
    }
    async fn dashboard(
        &self,
        _: &AccessClaims,
        _: UserId,
    ) -> Result<auth_application::admin::UserDashboard, AdminError> {
        Err(AdminError::NotFound)
    }
    async fn export(
        &self,
        _: &AccessClaims,
        _: UserId,
        _: &RequestContext,
    ) -> Result<auth_application::admin::UserExport, AdminError> {
        Err(AdminError::NotFound)
    }
    async fn users(
        &self,
        _: &AccessClaims,
        _: auth_domain::accounts::UserFilter,
        _: Option<UserId>,
        _: u32,
    ) -> Result<(Vec<User>, Option<UserId>), AdminError> {
        Err(AdminError::Forbidden)
    }
    async fn user(&self, _: &AccessClaims, _: UserId) -> Result<AdminUserView, AdminError> {
        Err(AdminError::Forbidden)
    }
    async fn suspend(
        &self,
        _: &AccessClaims,
        _: UserId,
        _: String,
        _: Option<auth_domain::Timestamp>,
        _: &RequestContext,
    ) -> Result<User, AdminError> {
        Err(AdminError::Forbidden)
    }
    async fn reactivate(
        &self,
        _: &AccessClaims,
        _: UserId,
        _: &RequestContext,
    ) -> Result<User, AdminError> {
        Err(AdminError::Forbidden)
    }
    async fn unlock(
        &self,
        _: &AccessClaims,
        _: UserId,
        _: &RequestContext,
    ) -> Result<User, AdminError> {
        Err(AdminError::Forbidden)
    }
    async fn reset_mfa(
        &self,
        _: &AccessClaims,
        _: UserId,
        _: &RequestContext,
    ) -> Result<(), AdminError> {
        Err(AdminError::Forbidden)
    }
    async fn sessions(&self, _: &AccessClaims, _: UserId) -> Result<Vec<Session>, AdminError> {
        Err(AdminError::Forbidden)
    }
    async fn revoke_sessions(
        &self,
        _: &AccessClaims,
        _: UserId,
        _: &RequestContext,
    ) -> Result<(), AdminError> {
        Err(AdminError::Forbidden)
    }
    async fn unblock_ip(
        &self,
        _: &AccessClaims,
        _: std::net::IpAddr,
        _: &RequestContext,
    ) -> Result<(), AdminError> {
        Err(AdminError::Forbidden)
    }
    async fn audit(
        &self,
        _: &AccessClaims,
        _: auth_domain::activity::AuditFilter,
        _: Option<auth_domain::EventId>,
        _: u32,
    ) -> Result<Vec<auth_domain::AuditEvent>, AdminError> {
        Err(AdminError::Forbidden)
    }
}

impl App for Fake {
    type Admin = Self;
    fn admin(&self) -> &Self {
        self
    }
    type Organizations = Self;
    fn organizations(&self) -> &Self {
        self
    }
    type Access = Self;
    fn access(&self) -> &Self {
        self
    }
    type Accounts = Self;
    type SignIn = Self;
    type Sessions = Self;
    type Activity = Self;
    type Mfa = Self;
    fn mfa(&self) -> &Self {
        self
    }
    fn accounts(&self) -> &Self {
        self
    }
    fn sign_in(&self) -> &Self {
        self
    }
    fn sessions(&self) -> &Self {
        self
    }
    fn activity(&self) -> &Self {
        self
    }
    async fn health(&self) -> HealthReport {
        let probe = |ok| Probe {
            ok,
            latency: std::time::Duration::from_micros(1500),
        };
        HealthReport {
            database: probe(self.database_up),
            hot_store: probe(false),
            outbox: None,
            limiter: auth_domain::limits::LimiterMode::Fallback,
        }
    }
    fn product_name(&self) -> &str {
        "auth-service"
    }
    fn jwks(&self) -> &str {
        "{\"keys\":[]}"
    }
    fn event_source(&self) -> &str {
        "/auth-service/test"
    }
    fn metrics(&self) -> String {
        "auth_fake 1\n".into()
    }
}

/// The whole application around a fake, and the fake to look into.
macro_rules! serve {
    ($fake:expr) => {{
        let data = web::Data::new($fake);
        let service = test::init_service(crate::app(
            data.clone(),
            web::Data::new(TrustedProxies::default()),
        ))
        .await;
        (data, service)
    }};
}

fn set_cookie(
    response: &actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>,
) -> String {
    response
        .headers()
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

#[actix_web::test]
async fn login_sets_the_refresh_cookie_and_forbids_caching() {
    let (_, service) = serve!(Fake::default());
    let request = TestRequest::post()
        .uri("/api/v1/auth/login")
        .set_json(
            serde_json::json!({"email": "a@example.com", "password": "x", "remember_me": true}),
        )
        .to_request();
    let response = test::call_service(&service, request).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers().get("cache-control").unwrap(), "no-store");
    let cookie = set_cookie(&response);
    for part in [
        "refresh_token=rt-next",
        "HttpOnly",
        "Secure",
        "SameSite=Strict",
        "Path=/api/v1/auth",
        "Max-Age=3600",
    ] {
        assert!(cookie.contains(part), "{part} in {cookie}");
    }
}

#[actix_web::test]
async fn a_refused_login_is_a_problem_without_a_cookie() {
    let (_, service) = serve!(Fake {
        login_fails: true,
        ..Fake::default()
    });
    let request = TestRequest::post()
        .uri("/api/v1/auth/login")
        .set_json(serde_json::json!({"email": "a@example.com", "password": "x"}))
        .to_request();
    let response = test::call_service(&service, request).await;
    assert_eq!(response.status(), 401);
    assert_eq!(
        response.headers().get("content-type").unwrap(),
        "application/problem+json"
    );
    assert!(set_cookie(&response).is_empty());
}

#[actix_web::test]
async fn refresh_takes_the_body_field_before_the_cookie() {
    let (fake, service) = serve!(Fake::default());
    let from_body = TestRequest::post()
        .uri("/api/v1/auth/refresh")
        .cookie(actix_web::cookie::Cookie::new(
            "refresh_token",
            "from-cookie",
        ))
        .set_json(serde_json::json!({"refresh_token": "from-body"}))
        .to_request();
    assert_eq!(test::call_service(&service, from_body).await.status(), 200);
    let from_cookie = TestRequest::post()
        .uri("/api/v1/auth/refresh")
        .cookie(actix_web::cookie::Cookie::new(
            "refresh_token",
            "from-cookie",
        ))
        .to_request();
    assert_eq!(
        test::call_service(&service, from_cookie).await.status(),
        200
    );
    let nothing = TestRequest::post().uri("/api/v1/auth/refresh").to_request();
    assert_eq!(test::call_service(&service, nothing).await.status(), 200);
    assert_eq!(
        *fake.refreshed_with.lock().unwrap(),
        [
            Some("from-body".to_owned()),
            Some("from-cookie".to_owned()),
            None
        ]
    );
}

#[actix_web::test]
async fn logout_hands_bearer_and_cookie_to_the_use_case_and_clears_the_cookie() {
    let (fake, service) = serve!(Fake::default());
    let request = TestRequest::post()
        .uri("/api/v1/auth/logout")
        .insert_header(("authorization", "Bearer expired-token"))
        .cookie(actix_web::cookie::Cookie::new("refresh_token", "rt"))
        .to_request();
    let response = test::call_service(&service, request).await;
    assert_eq!(response.status(), 204);
    assert!(
        set_cookie(&response).contains("Max-Age=0"),
        "{}",
        set_cookie(&response)
    );
    assert_eq!(
        *fake.logged_out_with.lock().unwrap(),
        [(Some("expired-token".to_owned()), Some("rt".to_owned()))]
    );
}

#[actix_web::test]
async fn health_is_degraded_without_redis_and_503_without_the_database() {
    let (_, service) = serve!(Fake {
        database_up: true,
        ..Fake::default()
    });
    let response =
        test::call_service(&service, TestRequest::get().uri("/health").to_request()).await;
    assert_eq!(response.status(), 200);
    let body: serde_json::Value = test::read_body_json(response).await;
    assert_eq!(body["status"], "degraded");
    assert_eq!(body["checks"]["database"], "ok");
    assert_eq!(body["checks"]["redis"], "unavailable");
    assert_eq!(body["details"]["database"]["latency_ms"], 1.5);
    assert_eq!(body["details"]["rate_limiter"]["mode"], "fallback");

    let (_, service) = serve!(Fake::default());
    let response =
        test::call_service(&service, TestRequest::get().uri("/health").to_request()).await;
    assert_eq!(response.status(), 503);
    assert!(response.headers().contains_key("retry-after"));
    let body: serde_json::Value = test::read_body_json(response).await;
    assert_eq!(body["status"], "unavailable");
}

#[actix_web::test]
async fn the_reset_page_lists_broken_rules_and_carries_the_headers_of_api_md() {
    let (_, service) = serve!(Fake::default());
    let page = test::call_service(
        &service,
        TestRequest::get()
            .uri("/reset-password?token=tok")
            .to_request(),
    )
    .await;
    assert_eq!(page.status(), 200);
    assert_eq!(
        page.headers().get("content-security-policy").unwrap(),
        "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'"
    );
    assert_eq!(
        page.headers().get("referrer-policy").unwrap(),
        "no-referrer"
    );
    assert_eq!(page.headers().get("cache-control").unwrap(), "no-store");
    let submitted = test::call_service(
        &service,
        TestRequest::post()
            .uri("/reset-password")
            .set_form([
                ("token", "tok"),
                ("password", "short"),
                ("confirm", "short"),
            ])
            .to_request(),
    )
    .await;
    let body = String::from_utf8(test::read_body(submitted).await.to_vec()).unwrap();
    assert!(body.contains("data-rule=\"too_short\""), "{body}");
    assert!(
        body.contains("value=\"tok\""),
        "the token stays in the form"
    );
}

#[actix_web::test]
async fn mfa_verify_with_a_locked_factor_is_429_with_retry_after() {
    let (_, service) = serve!(Fake::default());
    let request = TestRequest::post()
        .uri("/api/v1/mfa/verify")
        .set_json(serde_json::json!({"mfa_token": "t", "type": "totp", "code": "123456"}))
        .to_request();
    let response = test::call_service(&service, request).await;
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers().get("retry-after").unwrap(), "600");
    let body: serde_json::Value = test::read_body_json(response).await;
    assert_eq!(body["code"], "too_many_attempts");
}

#[actix_web::test]
async fn step_up_problems_carry_the_rfc_9470_challenge() {
    let err = crate::error::ApiError::from(StepUpError::Required(StepUpRequired {
        acr: auth_domain::Aal::Aal2,
        max_age: std::time::Duration::from_secs(600),
    }));
    let response = actix_web::ResponseError::error_response(&err);
    assert_eq!(response.status(), 401);
    assert_eq!(
        response.headers().get("www-authenticate").unwrap(),
        r#"Bearer realm="auth-service", error="insufficient_user_authentication", error_description="A recent second factor is required", acr_values="aal2", max_age=600"#
    );
    let body = actix_web::body::to_bytes(response.into_body())
        .await
        .unwrap();
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["code"], "step_up_required");
    assert_eq!(body["acr_values"], "aal2");
    assert_eq!(body["max_age"], 600);
}

#[actix_web::test]
async fn mfa_routes_without_a_token_are_401() {
    let (_, service) = serve!(Fake::default());
    for (method, uri) in [
        (actix_web::http::Method::GET, "/api/v1/mfa/methods"),
        (
            actix_web::http::Method::POST,
            "/api/v1/mfa/backup-codes/regenerate",
        ),
    ] {
        let request = TestRequest::default().method(method).uri(uri).to_request();
        let response = test::call_service(&service, request).await;
        assert_eq!(response.status(), 401, "{uri}");
    }
}

#[actix_web::test]
async fn a_service_key_is_looked_up_and_a_failing_store_answers_503() {
    let (_, service) = serve!(Fake::default());
    let request = TestRequest::post()
        .uri("/api/v1/auth/authorize")
        .insert_header(("authorization", "Bearer sk_anything"))
        .set_json(serde_json::json!({ "permission": "users:read" }))
        .to_request();
    let response = test::call_service(&service, request).await;
    assert_eq!(response.status(), 503);
    let request = TestRequest::post()
        .uri("/api/v1/auth/authorize")
        .set_json(serde_json::json!({ "permission": "users:read" }))
        .to_request();
    assert_eq!(test::call_service(&service, request).await.status(), 401);
}

#[actix_web::test]
async fn an_expired_invitation_lookup_is_400_token_expired() {
    let (_, service) = serve!(Fake::default());
    let request = TestRequest::post()
        .uri("/api/v1/invitations/lookup")
        .set_json(serde_json::json!({ "token": "t" }))
        .to_request();
    let response = test::call_service(&service, request).await;
    assert_eq!(response.status(), 400);
    let body: serde_json::Value = test::read_body_json(response).await;
    assert_eq!(body["code"], "token_expired");
}
