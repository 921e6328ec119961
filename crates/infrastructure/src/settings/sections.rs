//! The sections of the configuration, one struct per `[section]`. Their
//! defaults are `config/default.toml`, compiled in: the one place a default
//! is written.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;
use serde::Deserialize;

use super::Settings;
use super::de::{empty_is_none, empty_is_none_path, humantime_serde, ip_nets, string_list};

/// `[http]`
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSettings {
    /// Listen address.
    pub host: IpAddr,
    /// Listen port; 0 picks a free one.
    pub port: u16,
    /// Base URL for links in emails.
    pub public_url: String,
    /// Proxies whose `X-Forwarded-For` is believed (CIDRs or bare addresses).
    #[serde(deserialize_with = "ip_nets")]
    pub trusted_proxies: Vec<IpNet>,
    /// actix-web worker threads; 0 = one per core.
    pub workers: usize,
    /// On SIGTERM: how long in-flight requests, and the outbox worker's
    /// current message, may take to finish.
    #[serde(with = "humantime_serde")]
    pub shutdown_timeout: Duration,
}

impl Default for HttpSettings {
    /// The built-in default (`config/default.toml`).
    fn default() -> Self {
        Settings::builtin().http.clone()
    }
}

/// `[database]`
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    /// `sqlite://…` or `postgres://…`.
    pub url: String,
    /// Run pending migrations at start-up.
    pub migrate_on_start: bool,
    /// Connection pool size.
    pub max_connections: u32,
    /// How long a request waits for a connection before answering 503.
    #[serde(with = "humantime_serde")]
    pub acquire_timeout: Duration,
}

impl Default for DatabaseSettings {
    /// The built-in default (`config/default.toml`).
    fn default() -> Self {
        Settings::builtin().database.clone()
    }
}

impl DatabaseSettings {
    /// Whether the URL names an embedded SQLite database.
    #[must_use]
    pub fn is_sqlite(&self) -> bool {
        self.url.starts_with("sqlite:")
    }
}

/// `[redis]`
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RedisSettings {
    /// `redis://…`; unset keeps hot state in-process.
    #[serde(default, deserialize_with = "empty_is_none")]
    pub url: Option<String>,
    /// Prefix of every key, so deployments (and tests) can share a server.
    pub key_prefix: String,
    /// How often each instance re-reads recent revocations from the
    /// database, in case a pub/sub message was lost: the worst-case delay
    /// before a revocation whose fan-out failed takes effect everywhere.
    #[serde(with = "humantime_serde")]
    pub resync_interval: Duration,
}

impl Default for RedisSettings {
    /// The built-in default (`config/default.toml`).
    fn default() -> Self {
        Settings::builtin().redis.clone()
    }
}

/// Signing algorithm of access tokens.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
pub enum Algorithm {
    /// Ed25519 signatures: public keys can be published.
    EdDSA,
    /// HMAC-SHA256: one shared secret, for single-service setups.
    HS256,
}

/// `[tokens]`
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TokenSettings {
    /// `iss` of access tokens.
    pub issuer: String,
    /// `aud` of access tokens.
    pub audience: String,
    /// Access-token lifetime.
    #[serde(with = "humantime_serde")]
    pub access_ttl: Duration,
    /// Verification-link lifetime.
    #[serde(with = "humantime_serde")]
    pub verify_email_ttl: Duration,
    /// Reset-link lifetime.
    #[serde(with = "humantime_serde")]
    pub reset_ttl: Duration,
    /// Clock skew allowed on `exp` and `nbf`.
    #[serde(with = "humantime_serde")]
    pub leeway: Duration,
    /// `EdDSA` or `HS256`.
    pub algorithm: Algorithm,
    /// PEM private key (EdDSA) or secret file (HS256); unset: generated and
    /// kept under `var/` (refused in production).
    #[serde(default, deserialize_with = "empty_is_none_path")]
    pub signing_key_file: Option<PathBuf>,
}

impl Default for TokenSettings {
    /// The built-in default (`config/default.toml`).
    fn default() -> Self {
        Settings::builtin().tokens.clone()
    }
}

/// `[sessions]`
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SessionSettings {
    /// Session lifetime.
    #[serde(with = "humantime_serde")]
    pub ttl: Duration,
    /// Session lifetime with remember-me.
    #[serde(with = "humantime_serde")]
    pub remember_me_ttl: Duration,
    /// A rotated-out refresh token presented again within this window of its
    /// rotation gets the same successor instead of a reuse alarm (racing
    /// browser tabs). `0s`: off.
    #[serde(with = "humantime_serde")]
    pub refresh_reuse_grace: Duration,
    /// How long ended sessions and spent email tokens are kept.
    #[serde(with = "humantime_serde")]
    pub retention: Duration,
}

/// `[accounts]`
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountSettings {
    /// How long an account may stay unverified before it is deleted.
    #[serde(with = "humantime_serde")]
    pub unverified_ttl: Duration,
    /// How often the housekeeping sweep runs.
    #[serde(with = "humantime_serde")]
    pub sweep_interval: Duration,
    /// How long `GET /me` may answer from a cached account view.
    #[serde(with = "humantime_serde")]
    pub view_cache_ttl: Duration,
}

impl Default for AccountSettings {
    /// The built-in default (`config/default.toml`).
    fn default() -> Self {
        Settings::builtin().accounts.clone()
    }
}

impl Default for SessionSettings {
    /// The built-in default (`config/default.toml`).
    fn default() -> Self {
        Settings::builtin().sessions.clone()
    }
}

/// `[password]`
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PasswordSettings {
    /// PBKDF2-HMAC-SHA256 iterations (at least 1000).
    pub iterations: u32,
    /// Hashes computed at once; 0 = one per core.
    pub hash_concurrency: usize,
    /// Hashes allowed to wait for a thread before requests get 503.
    pub hash_queue: usize,
    /// Hashes one client may have running or queued at once.
    pub hash_queue_per_client: usize,
}

impl Default for PasswordSettings {
    /// The built-in default (`config/default.toml`).
    fn default() -> Self {
        Settings::builtin().password.clone()
    }
}

/// `[limits]`: every window, count and block length.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LimitSettings {
    /// Failed logins from one client before it is blocked.
    pub login_failures: u32,
    /// The window those failures are counted in.
    #[serde(with = "humantime_serde")]
    pub login_failure_window: Duration,
    /// How long a blocked client stays blocked.
    #[serde(with = "humantime_serde")]
    pub login_block: Duration,
    /// Registrations per client within `register_window`.
    pub register_per_ip: u32,
    /// The registration window.
    #[serde(with = "humantime_serde")]
    pub register_window: Duration,
    /// Forgot-password requests per normalized email within the window.
    pub forgot_password_per_email: u32,
    /// The forgot-password window.
    #[serde(with = "humantime_serde")]
    pub forgot_password_window: Duration,
    /// Resend-verification requests per normalized email within the window.
    pub resend_verification_per_email: u32,
    /// The resend-verification window.
    #[serde(with = "humantime_serde")]
    pub resend_verification_window: Duration,
    /// Refreshes per session within `refresh_window`.
    pub refresh_per_session: u32,
    /// The refresh window.
    #[serde(with = "humantime_serde")]
    pub refresh_window: Duration,
    /// Wrong `current_password`s per session before it is revoked.
    pub change_password_failures: u32,
    /// The window those are counted in.
    #[serde(with = "humantime_serde")]
    pub change_password_failure_window: Duration,
}

impl Default for LimitSettings {
    /// The built-in default (`config/default.toml`).
    fn default() -> Self {
        Settings::builtin().limits.clone()
    }
}

/// How mail leaves the service.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum MailTransport {
    /// Write `.eml` files (development).
    File,
    /// Send through `[smtp]`.
    Smtp,
}

/// `[mail]`
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MailSettings {
    /// `file` or `smtp`.
    pub transport: MailTransport,
    /// Sender, `Name <address>` or a bare address.
    pub from: String,
    /// Folder of the file transport.
    pub dir: PathBuf,
    /// Delivery attempts before a message is marked failed.
    pub max_attempts: u32,
    /// Delay after the first failed attempt (doubles each time).
    #[serde(with = "humantime_serde")]
    pub retry_base: Duration,
    /// Longest delay between attempts.
    #[serde(with = "humantime_serde")]
    pub retry_max: Duration,
    /// How often the worker looks for mail queued by other instances.
    #[serde(with = "humantime_serde")]
    pub poll_interval: Duration,
    /// How long sent (or given-up) messages are kept, bodies cleared, before
    /// they are deleted.
    #[serde(with = "humantime_serde")]
    pub retention: Duration,
}

impl Default for MailSettings {
    /// The built-in default (`config/default.toml`).
    fn default() -> Self {
        Settings::builtin().mail.clone()
    }
}

/// SMTP connection security.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SmtpTls {
    /// Plain text (local relays and tests only).
    None,
    /// Upgrade with STARTTLS (port 587).
    Starttls,
    /// TLS from the first byte (port 465).
    Implicit,
}

/// `[smtp]`
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmtpSettings {
    /// Relay host.
    pub host: String,
    /// Relay port.
    pub port: u16,
    /// `none`, `starttls` or `implicit`.
    pub tls: SmtpTls,
    /// Login, if the relay wants one.
    #[serde(default, deserialize_with = "empty_is_none")]
    pub username: Option<String>,
    /// Password, from the environment.
    #[serde(default, deserialize_with = "empty_is_none")]
    pub password: Option<String>,
    /// Connect and command timeout.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
}

impl Default for SmtpSettings {
    /// The built-in default (`config/default.toml`).
    fn default() -> Self {
        Settings::builtin().smtp.clone()
    }
}

impl std::fmt::Debug for SmtpSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("username", &self.username)
            .field("password", &self.password.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

/// `[links]`
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinkSettings {
    /// The product's name on the hosted pages and in mails.
    pub product_name: String,
    /// Verification link, with `{public_url}` and `{token}`.
    pub verify_email: String,
    /// Reset link, with `{public_url}` and `{token}`.
    pub reset_password: String,
    /// Invitation link, with `{public_url}` and `{token}`.
    pub invitation: String,
}

impl Default for LinkSettings {
    /// The built-in default (`config/default.toml`).
    fn default() -> Self {
        Settings::builtin().links.clone()
    }
}

/// Log line format.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable.
    Pretty,
    /// One JSON object per line.
    Json,
}

/// `[log]`
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSettings {
    /// `pretty` or `json`; unset: `pretty` in development, `json` otherwise.
    #[serde(default)]
    pub format: Option<LogFormat>,
    /// A `tracing` filter such as `info` or `auth=debug,info`.
    pub level: String,
}

impl Default for LogSettings {
    /// The built-in default (`config/default.toml`).
    fn default() -> Self {
        Settings::builtin().log.clone()
    }
}

/// `[mfa]`
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MfaConfig {
    /// The issuer authenticator apps show; empty = `tokens.issuer`.
    #[serde(default, deserialize_with = "empty_is_none")]
    pub issuer: Option<String>,
    /// Lifetime of an `mfa_token`.
    #[serde(with = "humantime_serde")]
    pub token_ttl: Duration,
    /// Wrong codes an `mfa_token` survives.
    pub max_attempts_per_token: u32,
    /// Lifetime of an emailed or texted code.
    #[serde(with = "humantime_serde")]
    pub code_ttl: Duration,
    /// Digits of an emailed or texted code.
    pub code_length: usize,
    /// Least time between two codes sent for one method.
    #[serde(with = "humantime_serde")]
    pub resend_interval: Duration,
    /// Codes sent per user per hour.
    pub sends_per_hour: u32,
    /// Methods (active or pending) per user.
    pub max_methods: usize,
    /// AES-256-GCM key of TOTP secrets at rest; empty = generated under
    /// `var/` (refused in production).
    #[serde(default, deserialize_with = "empty_is_none_path")]
    pub encryption_key_file: Option<PathBuf>,
    /// `[mfa.totp]`
    pub totp: TotpConfig,
    /// `[mfa.lockout]`
    pub lockout: LockoutConfig,
    /// `[mfa.backup_codes]`
    pub backup_codes: BackupCodeConfig,
}

/// `[mfa.totp]`
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TotpConfig {
    /// Steps accepted either side of now.
    pub skew: u64,
}

/// `[mfa.lockout]`
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LockoutConfig {
    /// Wrong codes per user within `window` that lock.
    pub max_failures: u32,
    /// The counting window.
    #[serde(with = "humantime_serde")]
    pub window: Duration,
    /// How long the lock lasts.
    #[serde(with = "humantime_serde")]
    pub duration: Duration,
}

/// `[mfa.backup_codes]`
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackupCodeConfig {
    /// Codes per set.
    pub count: usize,
}

/// `[security]`
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecuritySettings {
    /// How recent the last interactive proof must be for step-up.
    #[serde(with = "humantime_serde")]
    pub step_up_max_age: Duration,
}

/// `[orgs]`
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OrgsSettings {
    /// Organizations one user may own.
    pub max_per_user: u32,
    /// How long an invitation link works.
    #[serde(with = "humantime_serde")]
    pub invitation_ttl: Duration,
    /// Limits per tier.
    pub tiers: TiersSettings,
}

/// `[orgs.tiers]`
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TiersSettings {
    /// The only tier of v1.
    pub basic: TierSettings,
}

/// `[orgs.tiers.<tier>]`
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TierSettings {
    /// Seats: members of every role, owners included.
    pub max_members: u32,
}

/// `[events]`
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventsSettings {
    /// `none` (kept in the database for the pull feed) or `nats`.
    pub broker: String,
    /// The CloudEvents source id; empty = the host name.
    pub source_id: String,
    /// Subjects are `{subject_prefix}.{type}`.
    pub subject_prefix: String,
    /// Events per relay pass.
    pub batch_size: u32,
    /// Attempts before an event is marked failed.
    pub max_attempts: u32,
    /// How long events stay in the database.
    #[serde(with = "humantime_serde")]
    pub retention: Duration,
    /// `[events.nats]`
    pub nats: NatsSettings,
    /// `[events.kafka]` (not built in this version).
    pub kafka: KafkaSettings,
    /// `[events.redis]` (not built in this version).
    pub redis: StreamSettings,
}

/// `[events.nats]`
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NatsSettings {
    /// The server.
    pub url: String,
    /// The JetStream stream, created if missing.
    pub stream: String,
}

/// `[events.kafka]`
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaSettings {
    /// Bootstrap brokers.
    #[serde(deserialize_with = "string_list")]
    pub brokers: Vec<String>,
    /// The topic.
    pub topic: String,
}

/// `[events.redis]`
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamSettings {
    /// The stream key.
    pub stream: String,
    /// `MAXLEN ~`.
    pub maxlen: u64,
}

/// `[authz]`
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AuthzSettings {
    /// How long a user's role set and the role maps stay cached per
    /// instance (changes drop them at once), and how long a gateway may
    /// cache a decision.
    #[serde(with = "humantime_serde")]
    pub cache_ttl: Duration,
}

/// `[admin]`
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminSettings {
    /// Verified users with these emails get `admin`.
    #[serde(deserialize_with = "string_list")]
    pub bootstrap_emails: Vec<String>,
}

/// How text messages leave.
#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SmsTransport {
    /// Write them under `sms.dir` (development).
    File,
    /// POST them, signed, to `sms.webhook_url`.
    Webhook,
}

/// `[sms]`
#[derive(Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SmsSettings {
    /// Empty: SMS is not offered.
    #[serde(default, deserialize_with = "sms_transport")]
    pub transport: Option<SmsTransport>,
    /// Folder of the file transport.
    pub dir: PathBuf,
    /// Where the webhook transport posts.
    #[serde(default, deserialize_with = "empty_is_none")]
    pub webhook_url: Option<String>,
    /// HMAC-SHA256 key of the webhook signature (from the environment).
    #[serde(default, deserialize_with = "empty_is_none")]
    pub webhook_secret: Option<String>,
}

impl std::fmt::Debug for SmsSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmsSettings")
            .field("transport", &self.transport)
            .field("dir", &self.dir)
            .field("webhook_url", &self.webhook_url)
            .field(
                "webhook_secret",
                &self.webhook_secret.as_ref().map(|_| "[redacted]"),
            )
            .finish()
    }
}

fn sms_transport<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<SmsTransport>, D::Error> {
    let raw: Option<String> = Option::deserialize(deserializer)?;
    match raw.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some("file") => Ok(Some(SmsTransport::File)),
        Some("webhook") => Ok(Some(SmsTransport::Webhook)),
        Some(other) => Err(serde::de::Error::custom(format!(
            "unknown sms transport {other:?} (file or webhook)"
        ))),
    }
}
