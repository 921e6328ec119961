//! The composition root: reads settings, builds the adapters, wires them into
//! the use cases and the HTTP API, and starts the server and its workers.
#![forbid(unsafe_code)]

use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;

use actix_web::{HttpServer, web};
use auth_application::AuthSettings;
use auth_application::activity::{Deliveries, OutboxRelay, RetryPolicy};
use auth_application::housekeeping::Housekeeping;
use auth_http::TrustedProxies;
use auth_infrastructure::db::{self, Database};
use auth_infrastructure::mfa::AesSecretBox;
use auth_infrastructure::sms::SmsAdapter;
use auth_infrastructure::{
    HotState, JwtTokens, MailAdapter, Pbkdf2Hasher, Settings, SharedClock, SystemClock,
    run_outbox_worker, run_sweeper,
};
use tokio::sync::Notify;
use tokio::task::JoinHandle;

pub use auth_infrastructure::settings;
pub use services::{ServerPorts, Services};

mod services;
pub mod telemetry;

/// Where generated keys are kept outside production.
const DATA_DIR: &str = "var";

/// A built, listening, not yet running service.
pub struct Application {
    server: actix_web::dev::Server,
    port: u16,
    outbox_worker: JoinHandle<()>,
    stop_workers: tokio::sync::watch::Sender<bool>,
    sweeper: JoinHandle<()>,
    shutdown_timeout: std::time::Duration,
    gauges: JoinHandle<()>,
    /// The event publisher (`events.broker = nats`).
    events: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

impl Application {
    /// Connects every dependency, migrates, binds the listener.
    ///
    /// # Errors
    /// When a dependency cannot be reached or a setting cannot be used; the
    /// message names the key where one is at fault.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let clock = SystemClock::shared();
        let outbox_queued = Arc::new(Notify::new());
        let db = Database::new(
            db::connect(&settings.database).await?,
            Arc::clone(&outbox_queued),
        );
        let hot = match &settings.redis.url {
            Some(url) => HotState::redis(url, &settings.redis.key_prefix, clock.clone()).await?,
            None => HotState::in_process(clock.clone()),
        };
        let cores = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
        let concurrency = if settings.password.hash_concurrency == 0 {
            cores
        } else {
            settings.password.hash_concurrency
        };
        let hasher = Pbkdf2Hasher::new(
            settings.password.iterations,
            concurrency,
            settings.password.hash_queue,
            settings.password.hash_queue_per_client,
        )?;
        let auth_settings = auth_settings(&settings);
        // Sessions revoked while this instance was away still have live
        // access tokens: load them before serving, and keep re-reading.
        auth_infrastructure::hot::sync::keep_in_sync(
            &hot,
            db.sessions(),
            clock.clone(),
            auth_settings.revocation_retention(),
            settings.redis.resync_interval,
        )
        .await?;
        let tokens = Arc::new(JwtTokens::from_settings(
            &settings.tokens,
            Path::new(DATA_DIR),
        )?);

        let gauges = telemetry::spawn_gauges(db.sessions(), db.outbox(), clock.clone());
        let (stop_workers, workers_stopping) = tokio::sync::watch::channel(false);
        let sweeper = tokio::spawn(run_sweeper(
            Housekeeping::new(
                (db.users(), db.one_time_tokens(), db.sessions()),
                (db.mfa_methods(), db.pending_logins()),
                clock.clone(),
                hot.clone(),
                &auth_settings,
            ),
            settings.accounts.sweep_interval,
            workers_stopping.clone(),
        ));
        let secrets = Arc::new(AesSecretBox::from_key_file(
            settings.mfa.encryption_key_file.as_deref(),
            Path::new(DATA_DIR),
        )?);
        let access_changes = hot.access_changes();
        let services = Services::new(
            services::Adapters {
                db: db.clone(),
                hot,
                hasher,
                tokens,
                secrets,
                clock: clock.clone(),
                metrics: telemetry::prometheus()?,
                event_source: format!("/auth-service/{}", source_id(&settings.events.source_id)),
            },
            &auth_settings,
        );

        let access = services.access_service();
        let granted = access
            .bootstrap_admins()
            .await
            .map_err(|e| anyhow::anyhow!("admin.bootstrap_emails: cannot grant admin: {e}"))?;
        if granted > 0 {
            tracing::info!(granted, "bootstrap admins granted");
        }
        tokio::spawn(forward_access_changes(access_changes, access));

        let retry = RetryPolicy {
            max_attempts: settings.mail.max_attempts,
            base_delay: settings.mail.retry_base,
            max_delay: settings.mail.retry_max,
            retention: settings.mail.retention,
            ..RetryPolicy::default()
        };
        let deliveries = Deliveries {
            mailer: MailAdapter::from_settings(&settings.mail, &settings.smtp, clock.clone())?,
            accounts: services.account_requests(),
            sms: SmsAdapter::from_settings(&settings.sms, clock.clone())?,
        };
        let relay = OutboxRelay::new(db.outbox(), deliveries, clock.clone(), retry);
        let outbox_worker = tokio::spawn(run_outbox_worker(
            relay,
            clock.clone(),
            outbox_queued,
            settings.mail.poll_interval,
            workers_stopping,
        ));

        let policy = auth_application::activity::events::EventRelayPolicy {
            max_attempts: settings.events.max_attempts,
            batch_size: settings.events.batch_size,
            ..Default::default()
        };
        let event_source = format!("/auth-service/{}", source_id(&settings.events.source_id));
        let events = match settings.events.broker.as_str() {
            "nats" => {
                let publisher = auth_infrastructure::events::NatsPublisher::connect(
                    &settings.events.nats.url,
                    &settings.events.nats.stream,
                    &settings.events.subject_prefix,
                )
                .await?;
                let relay = auth_application::activity::events::EventRelay::new(
                    db.outbox(),
                    publisher,
                    clock.clone(),
                    policy.clone(),
                    event_source.clone(),
                );
                Some(tokio::spawn(run_event_relay(relay)))
            }
            "redis" => {
                let url = settings.redis.url.as_deref().unwrap_or_default();
                let publisher = auth_infrastructure::events::RedisStreamPublisher::connect(
                    url,
                    &settings.events.redis.stream,
                    settings.events.redis.maxlen,
                )
                .await?;
                let relay = auth_application::activity::events::EventRelay::new(
                    db.outbox(),
                    publisher,
                    clock.clone(),
                    policy.clone(),
                    event_source.clone(),
                );
                Some(tokio::spawn(run_event_relay(relay)))
            }
            _ => None,
        };

        let listener =
            TcpListener::bind((settings.http.host, settings.http.port)).map_err(|e| {
                anyhow::anyhow!(
                    "http.host/http.port: cannot listen on {}:{}: {e}",
                    settings.http.host,
                    settings.http.port
                )
            })?;
        let port = listener.local_addr()?.port();
        let state = web::Data::new(services);
        let proxies = web::Data::new(TrustedProxies(settings.http.trusted_proxies.clone()));
        let shutdown_timeout = settings.http.shutdown_timeout;
        let mut server = HttpServer::new(move || auth_http::app(state.clone(), proxies.clone()))
            .shutdown_timeout(shutdown_timeout.as_secs());
        if settings.http.workers > 0 {
            server = server.workers(settings.http.workers);
        }
        let server = server.listen(listener)?.run();
        tracing::info!(address = %format!("{}:{port}", settings.http.host), database = db_kind(&settings), hot_state = if settings.redis.url.is_some() { "redis" } else { "in-process" }, "auth-service listening");
        Ok(Self {
            server,
            port,
            outbox_worker,
            stop_workers,
            sweeper,
            shutdown_timeout,
            gauges,
            events,
        })
    }

    /// The bound port (useful with `http.port = 0`).
    #[must_use]
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A handle that stops the server.
    #[must_use]
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// Serves until the process is told to stop (SIGINT/SIGTERM), then drains.
    ///
    /// # Errors
    /// When the server fails.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let result = self.server.await;
        self.gauges.abort();
        // Let the message being sent finish, within the same bound as the
        // in-flight requests; a message cut off is retried after its lease.
        let _ = self.stop_workers.send(true);
        self.sweeper.abort();
        if let Some(events) = &self.events {
            events.abort();
        }
        let worker = self.outbox_worker;
        let abort = worker.abort_handle();
        if tokio::time::timeout(self.shutdown_timeout, worker)
            .await
            .is_err()
        {
            tracing::warn!("outbox worker did not stop in time; aborted");
            abort.abort();
        }
        result
    }
}

/// Publishes due events, in order, until aborted: at once while there is
/// work, every 200 ms when idle, and backs off when the database fails.
async fn run_event_relay<O, P, C>(relay: auth_application::activity::events::EventRelay<O, P, C>)
where
    O: auth_domain::activity::OutboxRepository + auth_domain::activity::EventFeed,
    P: auth_domain::activity::EventPublisher,
    C: auth_domain::system::Clock,
{
    loop {
        let wait = match relay.publish_due().await {
            Ok(pass) if pass.published > 0 && pass.retried == 0 => std::time::Duration::ZERO,
            Ok(_) => std::time::Duration::from_millis(200),
            Err(err) => {
                tracing::warn!(error = %err, "event relay pass failed; will retry");
                std::time::Duration::from_secs(2)
            }
        };
        tokio::time::sleep(wait).await;
    }
}

/// `events.source_id`, or the host name when empty.
fn source_id(configured: &str) -> String {
    if !configured.trim().is_empty() {
        return configured.trim().to_owned();
    }
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "auth-service".to_owned())
}

/// Drops what other instances' access changes made stale in this one's
/// caches; when messages were lost, everything.
async fn forward_access_changes(
    mut changes: tokio::sync::broadcast::Receiver<Option<auth_domain::access::AccessChange>>,
    access: Arc<auth_application::access::AccessService<services::ServerPorts>>,
) {
    use tokio::sync::broadcast::error::RecvError;
    loop {
        match changes.recv().await {
            Ok(change) => access.changed(change),
            Err(RecvError::Lagged(_)) => access.changed(None),
            Err(RecvError::Closed) => break,
        }
    }
}

/// `auth-service admin grant EMAIL ROLE`: gives a role from the command
/// line, with the service's own settings, and tells running instances.
///
/// # Errors
/// Unknown user or role, or an unreachable database or Redis.
pub async fn grant_role(settings: &Settings, email: &str, role: &str) -> anyhow::Result<String> {
    let email = auth_domain::Email::parse(email)
        .map_err(|_| anyhow::anyhow!("{email:?} is not an email address"))?;
    let clock: SharedClock = Arc::new(SystemClock);
    let db = Database::new(
        db::connect(&settings.database).await?,
        Arc::new(Notify::new()),
    );
    let hot = match &settings.redis.url {
        Some(url) => HotState::redis(url, &settings.redis.key_prefix, clock.clone()).await?,
        None => HotState::in_process(clock.clone()),
    };
    let tokens = Arc::new(JwtTokens::from_settings(
        &settings.tokens,
        Path::new(DATA_DIR),
    )?);
    let access = auth_application::access::AccessService::<services::ServerPorts>::new(
        auth_application::access::AccessAdapters {
            users: db.users(),
            roles: db.roles(),
            keys: db.service_keys(),
            changes: hot.clone(),
            methods: db.mfa_methods(),
            tokens,
            hot,
            random: auth_infrastructure::OsRandom,
            clock,
            audit: db.audit(),
            orgs: db.organizations(),
        },
        &auth_settings(settings),
    );
    Ok(match access.grant_by_email(&email, role).await? {
        auth_application::access::Granted::Granted => format!("{role} granted to {email}"),
        auth_application::access::Granted::AlreadyHeld => format!("{email} already has {role}"),
    })
}

fn db_kind(settings: &Settings) -> &'static str {
    if settings.database.is_sqlite() {
        "sqlite"
    } else {
        "postgres"
    }
}

fn auth_settings(settings: &Settings) -> AuthSettings {
    AuthSettings {
        access_ttl: settings.tokens.access_ttl,
        leeway: settings.tokens.leeway,
        verify_email_ttl: settings.tokens.verify_email_ttl,
        reset_ttl: settings.tokens.reset_ttl,
        session_ttl: settings.sessions.ttl,
        remember_me_ttl: settings.sessions.remember_me_ttl,
        refresh_reuse_grace: settings.sessions.refresh_reuse_grace,
        public_url: settings.http.public_url.trim_end_matches('/').to_owned(),
        product_name: settings.links.product_name.clone(),
        unverified_ttl: settings.accounts.unverified_ttl,
        view_cache_ttl: settings.accounts.view_cache_ttl,
        retention: settings.sessions.retention,
        verify_email_link: settings.links.verify_email.clone(),
        reset_password_link: settings.links.reset_password.clone(),
        limits: limit_settings(settings),
        mfa: auth_application::MfaSettings {
            issuer: settings
                .mfa
                .issuer
                .clone()
                .unwrap_or_else(|| settings.tokens.issuer.clone()),
            totp_skew: settings.mfa.totp.skew,
            token_ttl: settings.mfa.token_ttl,
            max_attempts_per_token: settings.mfa.max_attempts_per_token,
            code_ttl: settings.mfa.code_ttl,
            code_length: settings.mfa.code_length,
            max_attempts_per_code: settings.mfa.max_attempts_per_token,
            backup_codes: settings.mfa.backup_codes.count,
            max_methods: settings.mfa.max_methods,
            sms_enabled: settings.sms.transport.is_some(),
            step_up_max_age: settings.security.step_up_max_age,
        },
        orgs: auth_application::OrgSettings {
            max_per_user: settings.orgs.max_per_user,
            invitation_ttl: settings.orgs.invitation_ttl,
            max_members: settings.orgs.tiers.basic.max_members,
            invitation_link: settings.links.invitation.clone(),
        },
        access: auth_application::AccessSettings {
            cache_ttl: settings.authz.cache_ttl,
            // Checked by `Settings::validate`.
            bootstrap_emails: settings
                .admin
                .bootstrap_emails
                .iter()
                .filter_map(|e| auth_domain::Email::parse(e).ok())
                .collect(),
        },
    }
}

fn limit_settings(settings: &Settings) -> auth_application::shared::LimitSettings {
    let limits = &settings.limits;
    let mfa = &settings.mfa;
    use auth_domain::limits::Window;
    auth_application::shared::LimitSettings {
        login_failures: Window {
            max: limits.login_failures,
            period: limits.login_failure_window,
        },
        login_block: limits.login_block,
        register: Window {
            max: limits.register_per_ip,
            period: limits.register_window,
        },
        forgot_password: Window {
            max: limits.forgot_password_per_email,
            period: limits.forgot_password_window,
        },
        resend_verification: Window {
            max: limits.resend_verification_per_email,
            period: limits.resend_verification_window,
        },
        refresh: Window {
            max: limits.refresh_per_session,
            period: limits.refresh_window,
        },
        change_password_failures: Window {
            max: limits.change_password_failures,
            period: limits.change_password_failure_window,
        },
        mfa_failures: Window {
            max: mfa.lockout.max_failures,
            period: mfa.lockout.window,
        },
        mfa_lock: mfa.lockout.duration,
        // API-MFA.md: 30 challenges and verifications per minute per IP.
        mfa_per_ip: Window {
            max: 30,
            period: std::time::Duration::from_secs(60),
        },
        mfa_send_per_method: Window {
            max: 1,
            period: mfa.resend_interval,
        },
        mfa_send_per_user: Window {
            max: mfa.sends_per_hour,
            period: std::time::Duration::from_secs(3600),
        },
    }
}
