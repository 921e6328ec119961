//! Typed settings: the built-in defaults (`config/default.toml`, compiled
//! in), then `config/default.toml` and `config/{AUTH_ENV}.toml` on disk, then
//! `AUTH__SECTION__KEY` environment variables. Validated once at start-up;
//! every error names the key at fault.

mod de;
mod sections;

use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use serde::Deserialize;

pub use sections::{
    AccountSettings, AdminSettings, Algorithm, AuthzSettings, BackupCodeConfig, DatabaseSettings,
    EventsSettings, HttpSettings, LimitSettings, LinkSettings, LockoutConfig, LogFormat,
    LogSettings, MailSettings, MailTransport, MfaConfig, OrgsSettings, PasswordSettings,
    RedisSettings, SecuritySettings, SessionSettings, SmsSettings, SmsTransport, SmtpSettings,
    SmtpTls, TierSettings, TiersSettings, TokenSettings, TotpConfig,
};

/// The defaults of every key: the one place they are written. The same file
/// sits on disk for operators to read and override.
const DEFAULTS: &str = include_str!("../../../../config/default.toml");

/// Everything the service can be configured with.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The environment name (`AUTH_ENV`), not a key of its own.
    #[serde(skip, default = "development")]
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
    /// Account housekeeping.
    pub accounts: AccountSettings,
    /// Rate limits and the login lockout.
    pub limits: LimitSettings,
    /// Outgoing mail.
    pub mail: MailSettings,
    /// SMTP relay, when `mail.transport = "smtp"`.
    pub smtp: SmtpSettings,
    /// Link templates in emails.
    pub links: LinkSettings,
    /// Logging.
    pub log: LogSettings,
    /// Second factors.
    pub mfa: MfaConfig,
    /// Step-up.
    pub security: SecuritySettings,
    /// Text messages.
    pub sms: SmsSettings,
    /// Authorization caches.
    pub authz: AuthzSettings,
    /// The bootstrap admins.
    pub admin: AdminSettings,
    /// Organizations.
    pub orgs: OrgsSettings,
    /// Domain events.
    pub events: EventsSettings,
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

/// The longest `/me` may show an account changed on another instance.
pub const MAX_VIEW_CACHE_TTL: Duration = Duration::from_secs(60);

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

fn development() -> String {
    "development".to_owned()
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
            .add_source(config::File::from_str(DEFAULTS, config::FileFormat::Toml))
            .add_source(config::File::from(dir.join("default.toml")).required(false))
            .add_source(config::File::from(dir.join(format!("{env}.toml"))).required(false))
            .add_source(vars)
            .build()?
            .try_deserialize()?;
        env.clone_into(&mut settings.env);
        settings.validate()?;
        Ok(settings)
    }

    /// The built-in defaults: `config/default.toml` as compiled in, for the
    /// development environment.
    ///
    /// # Panics
    /// Never in a build whose `config/default.toml` parses, which
    /// `the_builtin_defaults_load` checks.
    #[must_use]
    pub fn builtin() -> &'static Self {
        static BUILTIN: OnceLock<Settings> = OnceLock::new();
        BUILTIN.get_or_init(|| {
            config::Config::builder()
                .add_source(config::File::from_str(DEFAULTS, config::FileFormat::Toml))
                .build()
                .and_then(config::Config::try_deserialize::<Self>)
                .unwrap_or_else(|err| panic!("config/default.toml does not load: {err}"))
        })
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
        if !matches!(self.events.broker.as_str(), "none" | "nats" | "redis") {
            return Err(invalid(
                "events.broker",
                "`none` (kept in the database, read at GET /api/v1/admin/events), `nats` or `redis`; kafka is not built in this version",
            ));
        }
        if self.events.broker == "redis" && self.redis.url.is_none() {
            return Err(invalid(
                "events.broker",
                "`redis` publishes to the Redis of redis.url, which is not set",
            ));
        }
        if let Some(bad) = self
            .admin
            .bootstrap_emails
            .iter()
            .find(|e| auth_domain::Email::parse(e).is_err())
        {
            return Err(invalid(
                "admin.bootstrap_emails",
                format!("{bad:?} is not an email address"),
            ));
        }
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
            ("sessions.retention", self.sessions.retention),
            ("accounts.unverified_ttl", self.accounts.unverified_ttl),
            ("accounts.sweep_interval", self.accounts.sweep_interval),
            ("mfa.token_ttl", self.mfa.token_ttl),
            ("mfa.code_ttl", self.mfa.code_ttl),
            ("mfa.lockout.window", self.mfa.lockout.window),
            ("mfa.lockout.duration", self.mfa.lockout.duration),
            ("security.step_up_max_age", self.security.step_up_max_age),
        ] {
            if value.is_zero() {
                return Err(invalid(key, "must be longer than zero"));
            }
        }
        if !(4..=10).contains(&self.mfa.code_length) {
            return Err(invalid("mfa.code_length", "must be between 4 and 10"));
        }
        for (key, count) in [
            (
                "mfa.max_attempts_per_token",
                self.mfa.max_attempts_per_token,
            ),
            ("mfa.sends_per_hour", self.mfa.sends_per_hour),
            ("mfa.lockout.max_failures", self.mfa.lockout.max_failures),
        ] {
            if count == 0 {
                return Err(invalid(key, "must be at least 1"));
            }
        }
        if !(1..=20).contains(&self.mfa.backup_codes.count) {
            return Err(invalid(
                "mfa.backup_codes.count",
                "must be between 1 and 20",
            ));
        }
        if self.mfa.totp.skew > 2 {
            return Err(invalid(
                "mfa.totp.skew",
                "must be at most 2 steps (each widens the window a code works in by 30s)",
            ));
        }
        if self.sms.transport == Some(SmsTransport::Webhook)
            && (self.sms.webhook_url.is_none() || self.sms.webhook_secret.is_none())
        {
            return Err(invalid(
                "sms.webhook_url",
                "the webhook transport needs sms.webhook_url and sms.webhook_secret",
            ));
        }
        if self.accounts.view_cache_ttl > MAX_VIEW_CACHE_TTL {
            return Err(invalid(
                "accounts.view_cache_ttl",
                "must be at most 60s: another instance's change shows only after it",
            ));
        }
        if self.tokens.leeway > MAX_LEEWAY {
            return Err(invalid(
                "tokens.leeway",
                "must be at most 60s: revocations are remembered for access_ttl + leeway",
            ));
        }
        let limits = &self.limits;
        for (key, count, window) in [
            (
                "limits.login_failures",
                limits.login_failures,
                limits.login_failure_window,
            ),
            (
                "limits.register_per_ip",
                limits.register_per_ip,
                limits.register_window,
            ),
            (
                "limits.forgot_password_per_email",
                limits.forgot_password_per_email,
                limits.forgot_password_window,
            ),
            (
                "limits.resend_verification_per_email",
                limits.resend_verification_per_email,
                limits.resend_verification_window,
            ),
            (
                "limits.refresh_per_session",
                limits.refresh_per_session,
                limits.refresh_window,
            ),
            (
                "limits.change_password_failures",
                limits.change_password_failures,
                limits.change_password_failure_window,
            ),
        ] {
            if count == 0 || window.is_zero() {
                return Err(invalid(
                    key,
                    "a limit needs a count and a window above zero",
                ));
            }
        }
        if self.password.hash_queue_per_client == 0 {
            return Err(invalid(
                "password.hash_queue_per_client",
                "must be at least 1",
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
        if self.mfa.encryption_key_file.is_none() {
            return Err(invalid(
                "mfa.encryption_key_file",
                "production requires a key file for TOTP secrets; generated keys are refused",
            ));
        }
        if self.sms.transport == Some(SmsTransport::File) {
            return Err(invalid(
                "sms.transport",
                "production requires webhook (or empty); the file transport is for development",
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
    fn the_builtin_defaults_load() {
        let builtin = Settings::builtin();
        assert_eq!(builtin.env, "development");
        builtin.validate().expect("the defaults are valid");
        // An empty config folder gives exactly the built-in defaults.
        let loaded = load(&[], "development").expect("loads");
        assert_eq!(format!("{loaded:?}"), format!("{builtin:?}"));
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
        .chain([
            (
                "AUTH__TOKENS__SIGNING_KEY_FILE".to_owned(),
                key.display().to_string(),
            ),
            (
                "AUTH__MFA__ENCRYPTION_KEY_FILE".to_owned(),
                key.display().to_string(),
            ),
        ])
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
