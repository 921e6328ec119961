//! The three services wired to one in-memory world, for the unit tests of
//! the flows.

use std::time::Duration;

use auth_domain::limits::Window;
use auth_domain::testing::{
    FakeBox, FakeCodeHasher, FakeHasher, FakeTokens, FakeTotp, MemoryAudit, MemoryBackupCodes,
    MemoryHot, MemoryInvitations, MemoryLimiter, MemoryMethods, MemoryOneTimeTokens,
    MemoryOrganizations, MemoryOutbox, MemoryPendingLogins, MemoryRoles, MemoryServiceKeys,
    MemorySessions, MemoryUsers, RecordedChanges, SequentialRandom, TestClock, World,
};
use auth_domain::{Email, OutboxPayload, Password, RequestContext, User};

use crate::access::{AccessAdapters, AccessPorts, AccessService};
use crate::accounts::{AccountAdapters, AccountPorts, AccountService, Accounts, RegisterRequest};
use crate::admin::{AdminAdapters, AdminPorts, AdminService};
use crate::mfa::{MfaAdapters, MfaPorts, MfaService};
use crate::organizations::{OrgAdapters, OrgPorts, OrganizationService};
use crate::sessions::{SessionAdapters, SessionPorts, SessionService};
use crate::shared::{FactorAdapters, FactorPorts};
use crate::sign_in::{
    LoginOutcome, LoginRequest, SignIn, SignInAdapters, SignInPorts, SignInService,
};
use crate::{AuthSettings, MfaSettings, TokenPair};

pub const STRONG_PASSWORD: &str = "Quiet-Harbor-42-Lantern";

pub struct TestPorts;

impl AccountPorts for TestPorts {
    type Users = MemoryUsers;
    type OneTimeTokens = MemoryOneTimeTokens;
    type Roles = MemoryRoles;
    type Sessions = MemorySessions;
    type Revocations = MemoryHot;
    type Hasher = FakeHasher;
    type Random = SequentialRandom;
    type Clock = TestClock;
    type Limiter = MemoryLimiter;
    type Outbox = MemoryOutbox;
    type Audit = MemoryAudit;
    type Invitations = MemoryInvitations;
    type Methods = MemoryMethods;
    type Changes = RecordedChanges;
}

impl FactorPorts for TestPorts {
    type Methods = MemoryMethods;
    type BackupCodes = MemoryBackupCodes;
    type CodeHasher = FakeCodeHasher;
    type Totp = FakeTotp;
    type Secrets = FakeBox;
    type Limiter = MemoryLimiter;
    type Audit = MemoryAudit;
    type Outbox = MemoryOutbox;
    type Clock = TestClock;
}

impl SignInPorts for TestPorts {
    type Users = MemoryUsers;
    type Sessions = MemorySessions;
    type Roles = MemoryRoles;
    type Hasher = FakeHasher;
    type Tokens = FakeTokens;
    type Random = SequentialRandom;
    type PendingLogins = MemoryPendingLogins;
    type Orgs = MemoryOrganizations;
}

impl MfaPorts for TestPorts {
    type Users = MemoryUsers;
    type Sessions = MemorySessions;
    type Roles = MemoryRoles;
    type Tokens = FakeTokens;
    type Random = SequentialRandom;
    type Revocations = MemoryHot;
    type PendingLogins = MemoryPendingLogins;
}

pub fn factor_adapters(w: &World) -> FactorAdapters<TestPorts> {
    FactorAdapters {
        methods: w.mfa_methods(),
        backup_codes: w.backup_codes(),
        code_hasher: w.code_hasher(),
        totp: FakeTotp,
        secrets: FakeBox,
        limiter: w.limiter(),
        audit: w.audit(),
        outbox: w.outbox(),
        clock: w.clock(),
    }
}

impl AccessPorts for TestPorts {
    type Users = MemoryUsers;
    type Roles = MemoryRoles;
    type Keys = MemoryServiceKeys;
    type Changes = RecordedChanges;
    type Methods = MemoryMethods;
    type Tokens = FakeTokens;
    type Hot = MemoryHot;
    type Random = SequentialRandom;
    type Clock = TestClock;
    type Audit = MemoryAudit;
    type Orgs = MemoryOrganizations;
}

impl OrgPorts for TestPorts {
    type Users = MemoryUsers;
    type Orgs = MemoryOrganizations;
    type Invitations = MemoryInvitations;
    type Roles = MemoryRoles;
    type Methods = MemoryMethods;
    type Sessions = MemorySessions;
    type Tokens = FakeTokens;
    type Random = SequentialRandom;
    type Clock = TestClock;
    type Audit = MemoryAudit;
}

impl AdminPorts for TestPorts {
    type Users = MemoryUsers;
    type Roles = MemoryRoles;
    type Orgs = MemoryOrganizations;
    type Methods = MemoryMethods;
    type BackupCodes = MemoryBackupCodes;
    type Sessions = MemorySessions;
    type Hot = MemoryHot;
    type Limiter = MemoryLimiter;
    type Changes = RecordedChanges;
    type Audit = MemoryAudit;
    type Clock = TestClock;
    type Feed = MemoryOutbox;
}

impl SessionPorts for TestPorts {
    type Users = MemoryUsers;
    type Sessions = MemorySessions;
    type Roles = MemoryRoles;
    type Hot = MemoryHot;
    type Tokens = FakeTokens;
    type Random = SequentialRandom;
    type Clock = TestClock;
    type Limiter = MemoryLimiter;
    type Audit = MemoryAudit;
    type Orgs = MemoryOrganizations;
}

/// The defaults of `config/default.toml`.
pub fn settings() -> AuthSettings {
    AuthSettings {
        access_ttl: Duration::from_secs(15 * 60),
        leeway: Duration::from_secs(5),
        verify_email_ttl: Duration::from_secs(24 * 3600),
        reset_ttl: Duration::from_secs(3600),
        session_ttl: Duration::from_secs(24 * 3600),
        remember_me_ttl: Duration::from_secs(30 * 24 * 3600),
        refresh_reuse_grace: Duration::ZERO,
        public_url: "http://localhost:8001".to_owned(),
        product_name: "auth-service".to_owned(),
        unverified_ttl: Duration::from_secs(7 * 24 * 3600),
        view_cache_ttl: Duration::from_secs(2),
        retention: Duration::from_secs(30 * 24 * 3600),
        verify_email_link: "{public_url}/verify-email?token={token}".to_owned(),
        reset_password_link: "{public_url}/reset-password?token={token}".to_owned(),
        limits: crate::shared::LimitSettings {
            login_failures: Window {
                max: 5,
                period: Duration::from_secs(600),
            },
            login_block: Duration::from_secs(1800),
            register: Window {
                max: 5,
                period: Duration::from_secs(3600),
            },
            forgot_password: Window {
                max: 3,
                period: Duration::from_secs(3600),
            },
            resend_verification: Window {
                max: 3,
                period: Duration::from_secs(3600),
            },
            refresh: Window {
                max: 60,
                period: Duration::from_secs(60),
            },
            change_password_failures: Window {
                max: 5,
                period: Duration::from_secs(900),
            },
            mfa_failures: Window {
                max: 10,
                period: Duration::from_secs(900),
            },
            mfa_lock: Duration::from_secs(900),
            mfa_per_ip: Window {
                max: 30,
                period: Duration::from_secs(60),
            },
            mfa_send_per_method: Window {
                max: 1,
                period: Duration::from_secs(60),
            },
            mfa_send_per_user: Window {
                max: 5,
                period: Duration::from_secs(3600),
            },
        },
        mfa: MfaSettings {
            issuer: "auth-service".to_owned(),
            totp_skew: 1,
            token_ttl: Duration::from_secs(300),
            max_attempts_per_token: 5,
            code_ttl: Duration::from_secs(300),
            code_length: 6,
            max_attempts_per_code: 5,
            backup_codes: 10,
            max_methods: 10,
            sms_enabled: true,
            step_up_max_age: Duration::from_secs(600),
        },
        access: crate::AccessSettings {
            cache_ttl: Duration::from_secs(30),
            bootstrap_emails: Vec::new(),
        },
        orgs: crate::OrgSettings {
            max_per_user: 20,
            invitation_ttl: Duration::from_secs(7 * 24 * 3600),
            max_members: 10,
            invitation_link: "{public_url}/invitations/accept?token={token}".to_owned(),
        },
    }
}

pub struct Harness {
    pub world: World,
    pub accounts: AccountService<TestPorts>,
    pub sign_in: SignInService<TestPorts>,
    pub sessions: SessionService<TestPorts>,
    pub mfa: MfaService<TestPorts>,
    pub access: AccessService<TestPorts>,
    pub organizations: OrganizationService<TestPorts>,
    pub admin: AdminService<TestPorts>,
}

pub fn harness() -> Harness {
    harness_with(settings())
}

pub fn harness_with(settings: AuthSettings) -> Harness {
    let w = World::new();
    Harness {
        accounts: AccountService::new(
            AccountAdapters {
                users: w.users(),
                one_time_tokens: w.one_time_tokens(),
                roles: w.roles(),
                sessions: w.sessions(),
                revocations: w.hot(),
                hasher: w.hasher(),
                random: w.random(),
                clock: w.clock(),
                limiter: w.limiter(),
                outbox: w.outbox(),
                audit: w.audit(),
                invitations: w.invitations(),
                methods: w.mfa_methods(),
                changes: w.access_changes(),
            },
            settings.clone(),
        ),
        sign_in: SignInService::new(
            SignInAdapters {
                users: w.users(),
                sessions: w.sessions(),
                roles: w.roles(),
                hasher: w.hasher(),
                tokens: w.tokens(),
                random: w.random(),
                pending_logins: w.pending_logins(),
                orgs: w.organizations(),
                factors: factor_adapters(&w),
            },
            &settings,
        ),
        mfa: MfaService::new(
            MfaAdapters {
                users: w.users(),
                sessions: w.sessions(),
                roles: w.roles(),
                tokens: w.tokens(),
                random: w.random(),
                revocations: w.hot(),
                pending_logins: w.pending_logins(),
                factors: factor_adapters(&w),
            },
            &settings,
        ),
        access: AccessService::new(
            AccessAdapters {
                users: w.users(),
                roles: w.roles(),
                keys: w.service_keys(),
                changes: w.access_changes(),
                methods: w.mfa_methods(),
                tokens: w.tokens(),
                hot: w.hot(),
                random: w.random(),
                clock: w.clock(),
                audit: w.audit(),
                orgs: w.organizations(),
            },
            &settings,
        ),
        admin: AdminService::new(
            AdminAdapters {
                users: w.users(),
                roles: w.roles(),
                orgs: w.organizations(),
                methods: w.mfa_methods(),
                backup_codes: w.backup_codes(),
                sessions: w.sessions(),
                hot: w.hot(),
                limiter: w.limiter(),
                changes: w.access_changes(),
                audit: w.audit(),
                clock: w.clock(),
                feed: w.outbox(),
            },
            &settings,
        ),
        organizations: OrganizationService::new(
            OrgAdapters {
                users: w.users(),
                orgs: w.organizations(),
                invitations: w.invitations(),
                roles: w.roles(),
                methods: w.mfa_methods(),
                sessions: w.sessions(),
                tokens: w.tokens(),
                random: w.random(),
                clock: w.clock(),
                audit: w.audit(),
            },
            &settings,
        ),
        sessions: SessionService::new(
            SessionAdapters {
                users: w.users(),
                sessions: w.sessions(),
                roles: w.roles(),
                hot: w.hot(),
                tokens: w.tokens(),
                random: w.random(),
                clock: w.clock(),
                limiter: w.limiter(),
                audit: w.audit(),
                orgs: w.organizations(),
            },
            settings,
        ),
        world: w,
    }
}

/// Registers `email` and returns the user and the raw token of its mail.
pub async fn register_user(h: &Harness, email: &str) -> (User, String) {
    let request = RegisterRequest {
        email: Email::parse(email).expect("valid"),
        password: Password::new(STRONG_PASSWORD.into()),
        invitation_token: None,
        profile: auth_domain::accounts::Profile::default(),
        preferences: None,
    };
    let view = h
        .accounts
        .register(request, &RequestContext::default())
        .await
        .expect("registered");
    let state = h.world.lock();
    let Some(OutboxPayload::Email(mail)) = state.outbox.last().map(|row| &row.message.payload)
    else {
        panic!("a mail is queued");
    };
    let token = mail
        .text_body
        .split("token=")
        .nth(1)
        .expect("link")
        .split_whitespace()
        .next()
        .expect("token");
    (view.user, token.to_owned())
}

/// Logs in with the strong password.
pub async fn login(h: &Harness, email: &str) -> TokenPair {
    let request = LoginRequest {
        organization_id: None,
        email: Email::parse(email).expect("valid"),
        password: Password::new(STRONG_PASSWORD.into()),
        remember_me: false,
    };
    match h
        .sign_in
        .login(request, &RequestContext::default())
        .await
        .expect("login")
    {
        LoginOutcome::Tokens(pair) => *pair,
        LoginOutcome::MfaRequired(_) => panic!("a second factor is due"),
    }
}

/// Registers, verifies and logs in.
pub async fn verified_login(h: &Harness, email: &str) -> TokenPair {
    let (_, token) = register_user(h, email).await;
    h.accounts
        .verify_email(&token, &RequestContext::default())
        .await
        .expect("verified");
    login(h, email).await
}
