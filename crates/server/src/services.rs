//! The adapters of a real deployment plugged into the three context
//! services, and those services offered to the HTTP layer as its [`App`].

use std::sync::Arc;

use auth_application::AuthSettings;
use auth_application::access::{AccessAdapters, AccessPorts, AccessService};
use auth_application::accounts::{AccountAdapters, AccountPorts, AccountService};
use auth_application::activity::{ActivityPorts, ActivityService};
use auth_application::admin::{AdminAdapters, AdminPorts, AdminService};
use auth_application::health::{HealthCheck, HealthReport};
use auth_application::mfa::{MfaAdapters, MfaPorts, MfaService};
use auth_application::organizations::{OrgAdapters, OrgPorts, OrganizationService};
use auth_application::sessions::{SessionAdapters, SessionPorts, SessionService};
use auth_application::shared::{FactorAdapters, FactorPorts};
use auth_application::sign_in::{SignInAdapters, SignInPorts, SignInService};
use auth_http::App;
use auth_infrastructure::db::{
    Database, SeaAudit, SeaBackupCodes, SeaInvitations, SeaMethods, SeaOneTimeTokens,
    SeaOrganizations, SeaOutbox, SeaPendingLogins, SeaRoles, SeaServiceKeys, SeaSessions, SeaUsers,
};
use auth_infrastructure::mfa::{AesSecretBox, RfcTotp};
use auth_infrastructure::{HotState, JwtTokens, OsRandom, Pbkdf2Hasher, SharedClock};

use crate::telemetry::Prometheus;

/// The port types of a deployment. The database (SQLite or PostgreSQL) and
/// the hot state (in-process or Redis) are chosen at run time, behind the
/// same types.
#[derive(Debug)]
pub struct ServerPorts;

impl AccountPorts for ServerPorts {
    type Users = SeaUsers;
    type OneTimeTokens = SeaOneTimeTokens;
    type Roles = SeaRoles;
    type Sessions = SeaSessions;
    type Revocations = HotState;
    type Hasher = Pbkdf2Hasher;
    type Random = OsRandom;
    type Clock = SharedClock;
    type Limiter = HotState;
    type Outbox = SeaOutbox;
    type Audit = SeaAudit;
    type Invitations = SeaInvitations;
    type Methods = SeaMethods;
    type Changes = HotState;
}

impl FactorPorts for ServerPorts {
    type Methods = SeaMethods;
    type BackupCodes = SeaBackupCodes;
    type CodeHasher = Pbkdf2Hasher;
    type Totp = RfcTotp;
    type Secrets = Arc<AesSecretBox>;
    type Limiter = HotState;
    type Audit = SeaAudit;
    type Outbox = SeaOutbox;
    type Clock = SharedClock;
}

impl SignInPorts for ServerPorts {
    type Users = SeaUsers;
    type Sessions = SeaSessions;
    type Roles = SeaRoles;
    type Hasher = Pbkdf2Hasher;
    type Tokens = Arc<JwtTokens>;
    type Random = OsRandom;
    type PendingLogins = SeaPendingLogins;
    type Orgs = SeaOrganizations;
}

impl MfaPorts for ServerPorts {
    type Users = SeaUsers;
    type Sessions = SeaSessions;
    type Roles = SeaRoles;
    type Tokens = Arc<JwtTokens>;
    type Random = OsRandom;
    type Revocations = HotState;
    type PendingLogins = SeaPendingLogins;
}

impl SessionPorts for ServerPorts {
    type Users = SeaUsers;
    type Sessions = SeaSessions;
    type Roles = SeaRoles;
    type Hot = HotState;
    type Tokens = Arc<JwtTokens>;
    type Random = OsRandom;
    type Clock = SharedClock;
    type Limiter = HotState;
    type Audit = SeaAudit;
    type Orgs = SeaOrganizations;
}

impl AccessPorts for ServerPorts {
    type Users = SeaUsers;
    type Roles = SeaRoles;
    type Keys = SeaServiceKeys;
    type Changes = HotState;
    type Methods = SeaMethods;
    type Tokens = Arc<JwtTokens>;
    type Hot = HotState;
    type Random = OsRandom;
    type Clock = SharedClock;
    type Audit = SeaAudit;
    type Orgs = SeaOrganizations;
}

impl OrgPorts for ServerPorts {
    type Users = SeaUsers;
    type Orgs = SeaOrganizations;
    type Invitations = SeaInvitations;
    type Roles = SeaRoles;
    type Methods = SeaMethods;
    type Sessions = SeaSessions;
    type Tokens = Arc<JwtTokens>;
    type Random = OsRandom;
    type Clock = SharedClock;
    type Audit = SeaAudit;
}

impl AdminPorts for ServerPorts {
    type Users = SeaUsers;
    type Roles = SeaRoles;
    type Orgs = SeaOrganizations;
    type Methods = SeaMethods;
    type BackupCodes = SeaBackupCodes;
    type Sessions = SeaSessions;
    type Hot = HotState;
    type Limiter = HotState;
    type Changes = HotState;
    type Audit = SeaAudit;
    type Clock = SharedClock;
    type Feed = SeaOutbox;
}

impl ActivityPorts for ServerPorts {
    type Audit = SeaAudit;
}

/// Everything the service's handlers call.
pub struct Services {
    accounts: Arc<AccountService<ServerPorts>>,
    sign_in: SignInService<ServerPorts>,
    sessions: SessionService<ServerPorts>,
    activity: ActivityService<ServerPorts>,
    mfa: MfaService<ServerPorts>,
    access: Arc<AccessService<ServerPorts>>,
    organizations: OrganizationService<ServerPorts>,
    admin: AdminService<ServerPorts>,
    health: HealthCheck<Database, HotState, SeaOutbox, HotState>,
    product_name: String,
    event_source: String,
    jwks: String,
    metrics: Prometheus,
}

impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Services").finish_non_exhaustive()
    }
}

/// The adapters the services are built from.
pub(crate) struct Adapters {
    pub db: Database,
    pub hot: HotState,
    pub hasher: Pbkdf2Hasher,
    pub tokens: Arc<JwtTokens>,
    pub secrets: Arc<AesSecretBox>,
    pub clock: SharedClock,
    pub metrics: Prometheus,
    /// The CloudEvents `source` of the events.
    pub event_source: String,
}

impl Services {
    /// Wires every context to the deployment's adapters.
    pub(crate) fn new(adapters: Adapters, settings: &AuthSettings) -> Self {
        let Adapters {
            db,
            hot,
            hasher,
            tokens,
            secrets,
            clock,
            metrics,
            event_source,
        } = adapters;
        let factors = || FactorAdapters::<ServerPorts> {
            methods: db.mfa_methods(),
            backup_codes: db.backup_codes(),
            code_hasher: hasher.clone(),
            totp: RfcTotp,
            secrets: Arc::clone(&secrets),
            limiter: hot.clone(),
            audit: db.audit(),
            outbox: db.outbox(),
            clock: clock.clone(),
        };
        let jwks = tokens.jwks().to_string();
        Self {
            accounts: Arc::new(AccountService::new(
                AccountAdapters {
                    users: db.users(),
                    one_time_tokens: db.one_time_tokens(),
                    roles: db.roles(),
                    sessions: db.sessions(),
                    revocations: hot.clone(),
                    hasher: hasher.clone(),
                    random: OsRandom,
                    clock: clock.clone(),
                    limiter: hot.clone(),
                    outbox: db.outbox(),
                    audit: db.audit(),
                    invitations: db.invitations(),
                    methods: db.mfa_methods(),
                    changes: hot.clone(),
                },
                settings.clone(),
            )),
            sign_in: SignInService::new(
                SignInAdapters {
                    users: db.users(),
                    sessions: db.sessions(),
                    roles: db.roles(),
                    hasher: hasher.clone(),
                    tokens: Arc::clone(&tokens),
                    random: OsRandom,
                    pending_logins: db.pending_logins(),
                    orgs: db.organizations(),
                    factors: factors(),
                },
                settings,
            ),
            mfa: MfaService::new(
                MfaAdapters {
                    users: db.users(),
                    sessions: db.sessions(),
                    roles: db.roles(),
                    tokens: Arc::clone(&tokens),
                    random: OsRandom,
                    revocations: hot.clone(),
                    pending_logins: db.pending_logins(),
                    factors: factors(),
                },
                settings,
            ),
            access: Arc::new(AccessService::new(
                AccessAdapters {
                    users: db.users(),
                    roles: db.roles(),
                    keys: db.service_keys(),
                    changes: hot.clone(),
                    methods: db.mfa_methods(),
                    tokens: Arc::clone(&tokens),
                    hot: hot.clone(),
                    random: OsRandom,
                    clock: clock.clone(),
                    audit: db.audit(),
                    orgs: db.organizations(),
                },
                settings,
            )),
            admin: AdminService::new(
                AdminAdapters {
                    users: db.users(),
                    roles: db.roles(),
                    orgs: db.organizations(),
                    methods: db.mfa_methods(),
                    backup_codes: db.backup_codes(),
                    sessions: db.sessions(),
                    hot: hot.clone(),
                    limiter: hot.clone(),
                    changes: hot.clone(),
                    audit: db.audit(),
                    clock: clock.clone(),
                    feed: db.outbox(),
                },
                settings,
            ),
            organizations: OrganizationService::new(
                OrgAdapters {
                    users: db.users(),
                    orgs: db.organizations(),
                    invitations: db.invitations(),
                    roles: db.roles(),
                    methods: db.mfa_methods(),
                    sessions: db.sessions(),
                    tokens: Arc::clone(&tokens),
                    random: OsRandom,
                    clock: clock.clone(),
                    audit: db.audit(),
                },
                settings,
            ),
            sessions: SessionService::new(
                SessionAdapters {
                    users: db.users(),
                    sessions: db.sessions(),
                    roles: db.roles(),
                    hot: hot.clone(),
                    tokens,
                    random: OsRandom,
                    clock,
                    limiter: hot.clone(),
                    audit: db.audit(),
                    orgs: db.organizations(),
                },
                settings.clone(),
            ),
            activity: ActivityService::new(db.audit()),
            health: HealthCheck::new(db.clone(), hot.clone(), db.outbox(), hot),
            jwks,
            metrics,
            product_name: settings.product_name.clone(),
            event_source,
        }
    }
}

impl Services {
    /// The `accounts` context as the handler of the requests the relay
    /// delivers after the response.
    pub(crate) fn account_requests(&self) -> Arc<AccountService<ServerPorts>> {
        Arc::clone(&self.accounts)
    }

    /// The `access` context, for the fan-out listener, the bootstrap and the
    /// command line.
    pub(crate) fn access_service(&self) -> Arc<AccessService<ServerPorts>> {
        Arc::clone(&self.access)
    }
}

impl App for Services {
    type Accounts = AccountService<ServerPorts>;
    type SignIn = SignInService<ServerPorts>;
    type Sessions = SessionService<ServerPorts>;
    type Activity = ActivityService<ServerPorts>;
    type Mfa = MfaService<ServerPorts>;
    type Access = AccessService<ServerPorts>;
    type Organizations = OrganizationService<ServerPorts>;
    type Admin = AdminService<ServerPorts>;

    fn accounts(&self) -> &Self::Accounts {
        &self.accounts
    }

    fn sign_in(&self) -> &Self::SignIn {
        &self.sign_in
    }

    fn sessions(&self) -> &Self::Sessions {
        &self.sessions
    }

    fn activity(&self) -> &Self::Activity {
        &self.activity
    }

    fn mfa(&self) -> &Self::Mfa {
        &self.mfa
    }

    fn access(&self) -> &Self::Access {
        &self.access
    }

    fn organizations(&self) -> &Self::Organizations {
        &self.organizations
    }

    fn admin(&self) -> &Self::Admin {
        &self.admin
    }

    async fn health(&self) -> HealthReport {
        self.health.check().await
    }

    fn product_name(&self) -> &str {
        &self.product_name
    }

    fn jwks(&self) -> &str {
        &self.jwks
    }

    fn event_source(&self) -> &str {
        &self.event_source
    }

    fn metrics(&self) -> String {
        self.metrics.render()
    }
}
