//! Typed settings: `config/default.toml`, then `config/{AUTH_ENV}.toml`, then
//! `AUTH__SECTION__KEY` environment variables. Validated once at start-up;
//! every error names the key at fault.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

use ipnet::IpNet;
use serde::Deserialize;

/// Everything the service can be configured with.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Settings {
    /// The environment name (`AUTH_ENV`), not a key of its own.
    #[serde(skip)]
    pub env: String,
    /// Listener and public address.
    pub http: HttpSettings,
    /// Durable storage.
    pub database: DatabaseSettings,
    /// Hot state.
    pub redis: RedisSettings,
    /// Access tokens and email links.
    pub tokens: TokenSettings,
    /// Session lifetimes.
    pub sessions: SessionSettings,
    /// Password hashing.
    pub password: PasswordSettings,
    /// Outgoing mail.
    pub mail: MailSettings,
    /// SMTP relay, when `mail.transport = "smtp"`.
    pub smtp: SmtpSettings,
    /// Link templates in emails.
    pub links: LinkSettings,
    /// Logging.
    pub log: LogSettings,
}

/// `[http]`
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
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
    fn default() -> Self {
        Self {
            host: IpAddr::from([127, 0, 0, 1]),
            port: 8001,
            public_url: "http://localhost:8001".to_owned(),
            trusted_proxies: Vec::new(),
            workers: 0,
            shutdown_timeout: Duration::from_secs(10),
        }
    }
}

/// `[database]`
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
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
    fn default() -> Self {
        Self {
            url: "sqlite://var/auth.db?mode=rwc".to_owned(),
            migrate_on_start: true,
            max_connections: 16,
            acquire_timeout: Duration::from_secs(5),
        }
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
#[serde(default, deny_unknown_fields)]
pub struct RedisSettings {
    /// `redis://…`; unset keeps hot state in-process.
    #[serde(deserialize_with = "empty_is_none")]
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
    fn default() -> Self {
        Self {
            url: None,
            key_prefix: "auth:".to_owned(),
            resync_interval: Duration::from_secs(5),
        }
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
#[serde(default, deny_unknown_fields)]
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
    #[serde(deserialize_with = "empty_is_none_path")]
    pub signing_key_file: Option<PathBuf>,
}

impl Default for TokenSettings {
    fn default() -> Self {
        Self {
            issuer: "auth-service".to_owned(),
            audience: "auth-service".to_owned(),
            access_ttl: Duration::from_secs(15 * 60),
            verify_email_ttl: Duration::from_secs(24 * 3600),
            reset_ttl: Duration::from_secs(3600),
            leeway: Duration::from_secs(5),
            algorithm: Algorithm::EdDSA,
            signing_key_file: None,
        }
    }
}

/// `[sessions]`
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
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
}

impl Default for SessionSettings {
    fn default() -> Self {
        Self {
            ttl: Duration::from_secs(24 * 3600),
            remember_me_ttl: Duration::from_secs(30 * 24 * 3600),
            refresh_reuse_grace: Duration::ZERO,
        }
    }
}

/// `[password]`
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PasswordSettings {
    /// PBKDF2-HMAC-SHA256 iterations (at least 1000).
    pub iterations: u32,
    /// Hashes computed at once; 0 = one per core.
    pub hash_concurrency: usize,
    /// Hashes allowed to wait for a thread before requests get 503.
    pub hash_queue: usize,
}

impl Default for PasswordSettings {
    fn default() -> Self {
        Self {
            iterations: 600_000,
            hash_concurrency: 0,
            hash_queue: 64,
        }
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
#[serde(default, deny_unknown_fields)]
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
    fn default() -> Self {
        Self {
            transport: MailTransport::File,
            from: "auth-service <no-reply@localhost>".to_owned(),
            dir: PathBuf::from("var/mail"),
            max_attempts: 20,
            retry_base: Duration::from_secs(5),
            retry_max: Duration::from_secs(15 * 60),
            poll_interval: Duration::from_secs(5),
            retention: Duration::from_secs(7 * 24 * 3600),
        }
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
#[serde(default, deny_unknown_fields)]
pub struct SmtpSettings {
    /// Relay host.
    pub host: String,
    /// Relay port.
    pub port: u16,
    /// `none`, `starttls` or `implicit`.
    pub tls: SmtpTls,
    /// Login, if the relay wants one.
    #[serde(deserialize_with = "empty_is_none")]
    pub username: Option<String>,
    /// Password, from the environment.
    #[serde(deserialize_with = "empty_is_none")]
    pub password: Option<String>,
    /// Connect and command timeout.
    #[serde(with = "humantime_serde")]
    pub timeout: Duration,
}

impl Default for SmtpSettings {
    fn default() -> Self {
        Self {
            host: "localhost".to_owned(),
            port: 587,
            tls: SmtpTls::Starttls,
            username: None,
            password: None,
            timeout: Duration::from_secs(10),
        }
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
#[serde(default, deny_unknown_fields)]
pub struct LinkSettings {
    /// Verification link, with `{public_url}` and `{token}`.
    pub verify_email: String,
    /// Reset link, with `{public_url}` and `{token}`.
    pub reset_password: String,
}

impl Default for LinkSettings {
    fn default() -> Self {
        Self {
            verify_email: "{public_url}/verify-email?token={token}".to_owned(),
            reset_password: "{public_url}/reset-password?token={token}".to_owned(),
        }
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
#[serde(default, deny_unknown_fields)]
pub struct LogSettings {
    /// `pretty` or `json`; unset: `pretty` in development, `json` otherwise.
    pub format: Option<LogFormat>,
    /// A `tracing` filter such as `info` or `auth=debug,info`.
    pub level: String,
}

impl Default for LogSettings {
    fn default() -> Self {
        Self {
            format: None,
            level: "info".to_owned(),
        }
    }
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            env: "development".to_owned(),
            http: HttpSettings::default(),
            database: DatabaseSettings::default(),
            redis: RedisSettings::default(),
            tokens: TokenSettings::default(),
            sessions: SessionSettings::default(),
            password: PasswordSettings::default(),
            mail: MailSettings::default(),
            smtp: SmtpSettings::default(),
            links: LinkSettings::default(),
            log: LogSettings::default(),
        }
    }
}

/// Settings could not be loaded or are not acceptable.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// A file or variable could not be read or parsed.
    #[error("invalid configuration: {0}")]
    Load(#[from] config::ConfigError),
    /// A value breaks a rule.
    #[error("invalid configuration: {key}: {message}")]
    Invalid {
        /// The key at fault, e.g. `http.public_url`.
        key: &'static str,
        /// What is wrong.
        message: String,
    },
}

/// Clock skew verification may allow, at most: the revocation list keeps
/// entries for `access_ttl + leeway`, so the leeway needs a bound.
pub const MAX_LEEWAY: Duration = Duration::from_secs(60);

/// PBKDF2-HMAC-SHA256 iterations production insists on (OWASP 2023).
pub const PRODUCTION_MIN_ITERATIONS: u32 = 600_000;

/// A key file must exist and be readable by its owner only.
fn check_private_file(path: &std::path::Path) -> Result<(), SettingsError> {
    let key = "tokens.signing_key_file";
    let metadata = std::fs::metadata(path)
        .map_err(|e| invalid(key, format!("cannot read {}: {e}", path.display())))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = metadata.permissions().mode();
        if mode & 0o044 != 0 {
            return Err(invalid(
                key,
                format!(
                    "{} is readable by group or others (mode {:o}); chmod 600 it",
                    path.display(),
                    mode & 0o777
                ),
            ));
        }
    }
    #[cfg(not(unix))]
    let _ = metadata;
    Ok(())
}

fn invalid(key: &'static str, message: impl Into<String>) -> SettingsError {
    SettingsError::Invalid {
        key,
        message: message.into(),
    }
}

impl Settings {
    /// Loads from `AUTH_CONFIG_DIR` (default `./config`), `AUTH_ENV` (default
    /// `development`) and the process environment, then validates.
    ///
    /// # Errors
    /// [`SettingsError`] naming the key at fault.
    pub fn load() -> Result<Self, SettingsError> {
        let env = std::env::var("AUTH_ENV")
            .ok()
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| "development".to_owned());
        let dir = std::env::var("AUTH_CONFIG_DIR")
            .ok()
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| "config".to_owned());
        Self::load_from(
            &PathBuf::from(dir),
            &env,
            config::Environment::with_prefix("AUTH"),
        )
    }

    /// Loads from an explicit folder, environment name and variable source.
    ///
    /// # Errors
    /// [`SettingsError`] naming the key at fault.
    pub fn load_from(
        dir: &std::path::Path,
        env: &str,
        vars: config::Environment,
    ) -> Result<Self, SettingsError> {
        let vars = vars
            .prefix_separator("__")
            .separator("__")
            .ignore_empty(true)
            .try_parsing(false);
        let mut settings: Self = config::Config::builder()
            .add_source(config::File::from(dir.join("default.toml")).required(false))
            .add_source(config::File::from(dir.join(format!("{env}.toml"))).required(false))
            .add_source(vars)
            .build()?
            .try_deserialize()?;
        env.clone_into(&mut settings.env);
        settings.validate()?;
        Ok(settings)
    }

    /// Whether the production guards apply: in every environment but
    /// `development` and `test`, so a typo'd or new environment name fails
    /// closed.
    #[must_use]
    pub fn is_production(&self) -> bool {
        !matches!(self.env.as_str(), "development" | "test")
    }

    /// The log format in effect.
    #[must_use]
    pub fn log_format(&self) -> LogFormat {
        self.log.format.unwrap_or(if self.env == "development" {
            LogFormat::Pretty
        } else {
            LogFormat::Json
        })
    }

    /// Checks rules no type can express.
    ///
    /// # Errors
    /// [`SettingsError::Invalid`] naming the first key at fault.
    pub fn validate(&self) -> Result<(), SettingsError> {
        let url = &self.http.public_url;
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(invalid(
                "http.public_url",
                "must start with http:// or https://",
            ));
        }
        if !(self.database.is_sqlite()
            || self.database.url.starts_with("postgres://")
            || self.database.url.starts_with("postgresql://"))
        {
            return Err(invalid(
                "database.url",
                "must be a sqlite:// or postgres:// URL",
            ));
        }
        if let Some(redis) = &self.redis.url
            && !(redis.starts_with("redis://")
                || redis.starts_with("rediss://")
                || redis.starts_with("redis-"))
        {
            return Err(invalid(
                "redis.url",
                "must be a redis:// URL, or empty for in-process hot state",
            ));
        }
        if self.password.iterations < 1000 {
            return Err(invalid("password.iterations", "must be at least 1000"));
        }
        for (key, value) in [
            ("tokens.access_ttl", self.tokens.access_ttl),
            ("tokens.verify_email_ttl", self.tokens.verify_email_ttl),
            ("tokens.reset_ttl", self.tokens.reset_ttl),
            ("sessions.ttl", self.sessions.ttl),
            ("sessions.remember_me_ttl", self.sessions.remember_me_ttl),
            ("mail.poll_interval", self.mail.poll_interval),
        ] {
            if value.is_zero() {
                return Err(invalid(key, "must be longer than zero"));
            }
        }
        if self.tokens.leeway > MAX_LEEWAY {
            return Err(invalid(
                "tokens.leeway",
                "must be at most 60s: revocations are remembered for access_ttl + leeway",
            ));
        }
        if self.mail.max_attempts == 0 {
            return Err(invalid("mail.max_attempts", "must be at least 1"));
        }
        for (key, template) in [
            ("links.verify_email", &self.links.verify_email),
            ("links.reset_password", &self.links.reset_password),
        ] {
            if !template.contains("{token}") {
                return Err(invalid(key, "must contain {token}"));
            }
        }
        if self.is_production() {
            self.validate_production()?;
        }
        Ok(())
    }

    /// What production refuses: embedded storage, generated or exposed
    /// keys, plain-text links and credentials, weak hashing, proxies that
    /// would let anyone pick their IP, and unbounded lifetimes.
    fn validate_production(&self) -> Result<(), SettingsError> {
        if self.database.is_sqlite() {
            return Err(invalid(
                "database.url",
                "production refuses an embedded SQLite database; use postgres://",
            ));
        }
        let Some(key_file) = &self.tokens.signing_key_file else {
            return Err(invalid(
                "tokens.signing_key_file",
                "production requires a signing key file; generated keys are refused",
            ));
        };
        if !self.http.public_url.starts_with("https://") {
            return Err(invalid(
                "http.public_url",
                "production requires an https:// public URL",
            ));
        }
        check_private_file(key_file)?;
        if self.password.iterations < PRODUCTION_MIN_ITERATIONS {
            return Err(invalid(
                "password.iterations",
                "production requires at least 600000 (OWASP's PBKDF2-HMAC-SHA256 figure)",
            ));
        }
        if self.mail.transport == MailTransport::File {
            return Err(invalid(
                "mail.transport",
                "production requires smtp; the file transport is for development",
            ));
        }
        if self.smtp.tls == SmtpTls::None
            && (self.smtp.username.is_some() || self.smtp.password.is_some())
        {
            return Err(invalid(
                "smtp.tls",
                "production refuses SMTP credentials over a connection without TLS",
            ));
        }
        if let Some(net) = self
            .http
            .trusted_proxies
            .iter()
            .find(|n| n.prefix_len() == 0)
        {
            return Err(invalid(
                "http.trusted_proxies",
                format!("{net} trusts every address: any client could choose its IP"),
            ));
        }
        for (key, value, max, text) in [
            ("tokens.access_ttl", self.tokens.access_ttl, 3600, "1h"),
            (
                "tokens.verify_email_ttl",
                self.tokens.verify_email_ttl,
                7 * 86_400,
                "7d",
            ),
            ("tokens.reset_ttl", self.tokens.reset_ttl, 86_400, "24h"),
            ("sessions.ttl", self.sessions.ttl, 30 * 86_400, "30d"),
            (
                "sessions.remember_me_ttl",
                self.sessions.remember_me_ttl,
                90 * 86_400,
                "90d",
            ),
            (
                "sessions.refresh_reuse_grace",
                self.sessions.refresh_reuse_grace,
                60,
                "60s",
            ),
        ] {
            if value > Duration::from_secs(max) {
                return Err(invalid(key, format!("production allows at most {text}")));
            }
        }
        Ok(())
    }
}

fn ip_nets<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Vec<IpNet>, D::Error> {
    /// Files give lists; environment variables give comma-separated strings.
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum ListOrCsv {
        List(Vec<String>),
        Csv(String),
    }
    let raw = match ListOrCsv::deserialize(deserializer)? {
        ListOrCsv::List(items) => items,
        ListOrCsv::Csv(csv) => csv.split(',').map(str::to_owned).collect(),
    };
    raw.iter()
        .map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.parse::<IpNet>()
                .or_else(|_| s.parse::<IpAddr>().map(IpNet::from))
                .map_err(|_| {
                    serde::de::Error::custom(format!(
                        "{s:?} is not a CIDR like 10.0.0.0/8 or an IP address"
                    ))
                })
        })
        .collect()
}

fn empty_is_none<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    let value: Option<String> = Option::deserialize(deserializer)?;
    Ok(value.filter(|v| !v.trim().is_empty()))
}

fn empty_is_none_path<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<PathBuf>, D::Error> {
    Ok(empty_is_none(deserializer)?.map(PathBuf::from))
}

/// Durations written as `2s`, `15m`, `24h`, `30d`.
mod humantime_serde {
    use std::time::Duration;

    use serde::Deserialize;

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Duration, D::Error> {
        let raw = String::deserialize(deserializer)?;
        humantime::parse_duration(raw.trim()).map_err(|err| {
            serde::de::Error::custom(format!(
                "{raw:?} is not a duration like 2s, 15m, 24h or 30d ({err})"
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn load(vars: &[(&str, &str)], env: &str) -> Result<Settings, SettingsError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let dir = tempfile::tempdir().expect("tempdir");
        Settings::load_from(
            dir.path(),
            env,
            config::Environment::with_prefix("AUTH").source(Some(map)),
        )
    }

    #[test]
    fn defaults_are_the_embedded_mode() {
        let settings = load(&[], "development").expect("defaults load");
        assert_eq!(settings.http.port, 8001);
        assert!(settings.database.is_sqlite());
        assert!(settings.redis.url.is_none());
        assert_eq!(settings.mail.transport, MailTransport::File);
        assert_eq!(settings.tokens.access_ttl, Duration::from_secs(900));
        assert_eq!(settings.log_format(), LogFormat::Pretty);
    }

    #[test]
    fn environment_variables_override_with_durations_lists_and_empty_as_unset() {
        let settings = load(
            &[
                ("AUTH__TOKENS__ACCESS_TTL", "2s"),
                ("AUTH__SESSIONS__REMEMBER_ME_TTL", "30d"),
                ("AUTH__HTTP__TRUSTED_PROXIES", "10.0.0.0/8,127.0.0.1/32"),
                ("AUTH__REDIS__URL", ""),
                ("AUTH__HTTP__PORT", "0"),
                ("AUTH__SMTP__TLS", "none"),
                ("AUTH__SMTP__PASSWORD", "12345"),
            ],
            "development",
        )
        .expect("loads");
        assert_eq!(settings.tokens.access_ttl, Duration::from_secs(2));
        assert_eq!(
            settings.sessions.remember_me_ttl,
            Duration::from_secs(30 * 86_400)
        );
        assert_eq!(settings.http.trusted_proxies.len(), 2);
        assert!(settings.redis.url.is_none());
        assert_eq!(settings.http.port, 0);
        assert_eq!(settings.smtp.tls, SmtpTls::None);
        assert_eq!(settings.smtp.password.as_deref(), Some("12345"));
        assert!(!format!("{:?}", settings.smtp).contains("12345"));
    }

    #[test]
    fn a_bad_value_names_its_key() {
        let err =
            load(&[("AUTH__TOKENS__ACCESS_TTL", "soon")], "development").expect_err("bad duration");
        assert!(err.to_string().contains("access_ttl"), "{err}");
        let err = load(&[("AUTH__HTTP__PORT", "eighty")], "development").expect_err("bad port");
        assert!(err.to_string().contains("port"), "{err}");
        let err =
            load(&[("AUTH__PASSWORD__ITERATIONS", "10")], "development").expect_err("too few");
        assert!(err.to_string().contains("password.iterations"), "{err}");
    }

    /// The settings a production deployment would use, with a key file.
    fn production_vars(key: &std::path::Path) -> Vec<(String, String)> {
        [
            ("AUTH__DATABASE__URL", "postgres://db/auth"),
            ("AUTH__HTTP__PUBLIC_URL", "https://auth.example.com"),
            ("AUTH__MAIL__TRANSPORT", "smtp"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .chain([(
            "AUTH__TOKENS__SIGNING_KEY_FILE".to_owned(),
            key.display().to_string(),
        )])
        .collect()
    }

    fn private_key_file(dir: &tempfile::TempDir, mode: u32) -> std::path::PathBuf {
        let path = dir.path().join("key.pem");
        std::fs::write(&path, b"key").expect("write");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).expect("chmod");
        }
        path
    }

    fn load_with(
        base: &[(String, String)],
        extra: &[(&str, &str)],
        env: &str,
    ) -> Result<Settings, SettingsError> {
        let mut vars: Vec<(&str, &str)> =
            base.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        vars.extend_from_slice(extra);
        load(&vars, env)
    }

    #[test]
    fn every_environment_but_development_and_test_gets_the_production_guards() {
        for env in ["production", "staging", "prod", "Production", ""] {
            let err = load(&[], env).expect_err("guarded");
            assert!(err.to_string().contains("database.url"), "{env}: {err}");
        }
        assert!(load(&[], "development").is_ok());
        assert!(load(&[], "test").is_ok());
    }

    #[test]
    fn production_refuses_weak_or_exposed_settings() {
        let dir = tempfile::tempdir().expect("dir");
        let key = private_key_file(&dir, 0o600);
        let base = production_vars(&key);
        load_with(&base, &[], "production").expect("a sound production configuration");
        for (extra, key_at_fault) in [
            (
                vec![("AUTH__PASSWORD__ITERATIONS", "599999")],
                "password.iterations",
            ),
            (vec![("AUTH__MAIL__TRANSPORT", "file")], "mail.transport"),
            (
                vec![("AUTH__SMTP__TLS", "none"), ("AUTH__SMTP__PASSWORD", "x")],
                "smtp.tls",
            ),
            (
                vec![("AUTH__HTTP__TRUSTED_PROXIES", "10.0.0.0/8,0.0.0.0/0")],
                "http.trusted_proxies",
            ),
            (
                vec![("AUTH__HTTP__TRUSTED_PROXIES", "::/0")],
                "http.trusted_proxies",
            ),
            (
                vec![("AUTH__TOKENS__ACCESS_TTL", "2h")],
                "tokens.access_ttl",
            ),
            (vec![("AUTH__TOKENS__RESET_TTL", "2d")], "tokens.reset_ttl"),
            (
                vec![("AUTH__TOKENS__VERIFY_EMAIL_TTL", "30d")],
                "tokens.verify_email_ttl",
            ),
            (vec![("AUTH__SESSIONS__TTL", "60d")], "sessions.ttl"),
            (
                vec![("AUTH__SESSIONS__REMEMBER_ME_TTL", "1y")],
                "sessions.remember_me_ttl",
            ),
            (
                vec![("AUTH__SESSIONS__REFRESH_REUSE_GRACE", "5m")],
                "sessions.refresh_reuse_grace",
            ),
            (vec![("AUTH__TOKENS__LEEWAY", "2m")], "tokens.leeway"),
        ] {
            let err = load_with(&base, &extra, "production").expect_err(key_at_fault);
            assert!(
                err.to_string().contains(key_at_fault),
                "{key_at_fault}: {err}"
            );
        }
    }

    #[cfg(unix)]
    #[test]
    fn production_refuses_a_key_file_others_can_read() {
        let dir = tempfile::tempdir().expect("dir");
        let key = private_key_file(&dir, 0o644);
        let err = load_with(&production_vars(&key), &[], "production").expect_err("exposed key");
        assert!(err.to_string().contains("tokens.signing_key_file"), "{err}");
        assert!(err.to_string().contains("644"), "{err}");
        let missing = dir.path().join("absent.pem");
        let err =
            load_with(&production_vars(&missing), &[], "production").expect_err("missing key");
        assert!(err.to_string().contains("cannot read"), "{err}");
    }

    #[test]
    fn leeway_is_capped_everywhere() {
        let err = load(&[("AUTH__TOKENS__LEEWAY", "61s")], "development").expect_err("capped");
        assert!(err.to_string().contains("tokens.leeway"), "{err}");
        assert!(load(&[("AUTH__TOKENS__LEEWAY", "60s")], "development").is_ok());
    }

    #[test]
    fn production_refuses_unsafe_defaults() {
        let err = load(&[], "production").expect_err("sqlite refused");
        assert!(err.to_string().contains("database.url"), "{err}");
        let err = load(
            &[("AUTH__DATABASE__URL", "postgres://db/auth")],
            "production",
        )
        .expect_err("key refused");
        assert!(err.to_string().contains("tokens.signing_key_file"), "{err}");
        let err = load(
            &[
                ("AUTH__DATABASE__URL", "postgres://db/auth"),
                ("AUTH__TOKENS__SIGNING_KEY_FILE", "/run/key.pem"),
            ],
            "production",
        )
        .expect_err("http refused");
        assert!(err.to_string().contains("http.public_url"), "{err}");
        let dir = tempfile::tempdir().expect("dir");
        let key = private_key_file(&dir, 0o600);
        let ok = load_with(&production_vars(&key), &[], "production").expect("acceptable");
        assert_eq!(ok.log_format(), LogFormat::Json);
    }
}
