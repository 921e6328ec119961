//! Integration harness: starts the real auth-service on 127.0.0.1:0 against
//! its own database (a fresh SQLite file, or a fresh PostgreSQL database when
//! `AUTH_TEST_DATABASE_URL` is set) and its own Redis key prefix (when
//! `AUTH_TEST_REDIS_URL` is set), with a real SMTP server in this process.
#![forbid(unsafe_code)]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    missing_debug_implementations
)]

pub mod browser;
pub mod cut;
pub mod logs;
pub mod redis_server;
pub mod smtp;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use auth_infrastructure::settings::{Algorithm, MailTransport, Settings, SmtpTls};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Statement};
use serde_json::{Value, json};

pub use smtp::{MailSink, ReceivedMail};

/// Which backends this run uses.
#[derive(Clone, Debug)]
pub struct Backend {
    /// `AUTH_TEST_DATABASE_URL`: a PostgreSQL server to create databases on.
    pub postgres: Option<String>,
    /// `AUTH_TEST_REDIS_URL`.
    pub redis: Option<String>,
}

impl Backend {
    /// From the environment; empty means unset.
    pub fn from_env() -> Self {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        Self {
            postgres: var("AUTH_TEST_DATABASE_URL"),
            redis: var("AUTH_TEST_REDIS_URL"),
        }
    }
}

/// One isolated world: database, Redis prefix, signing key, SMTP sink. Several
/// instances of the service can run in it.
pub struct TestEnv {
    pub backend: Backend,
    pub database_url: String,
    pub key_prefix: String,
    pub mail: MailSink,
    dir: tempfile::TempDir,
    /// The Ed25519 signing key (PEM) every instance of this world shares.
    pub key_file: PathBuf,
    postgres_db: Option<String>,
}

fn config_dir() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../config"))
}

fn unique() -> String {
    uuid::Uuid::now_v7().simple().to_string()
}

impl TestEnv {
    /// A fresh world.
    pub async fn new() -> Arc<Self> {
        logs::capture();
        let backend = Backend::from_env();
        let dir = tempfile::tempdir().expect("tempdir");
        let (database_url, postgres_db) = match &backend.postgres {
            None => (
                format!("sqlite://{}?mode=rwc", dir.path().join("auth.db").display()),
                None,
            ),
            Some(server) => {
                let name = format!("auth_test_{}", unique());
                let admin = Database::connect(server.as_str())
                    .await
                    .expect("AUTH_TEST_DATABASE_URL must be reachable");
                admin
                    .execute_unprepared(&format!("CREATE DATABASE \"{name}\""))
                    .await
                    .expect("create test database");
                admin.close().await.ok();
                (replace_database(server, &name), Some(name))
            }
        };
        let key_file = dir.path().join("jwt-ed25519.pem");
        auth_infrastructure::jwt::generate_key(Algorithm::EdDSA, &key_file).expect("signing key");
        // Every instance of the world shares the key of TOTP secrets.
        let mfa_key = format!("{}{}", unique(), unique());
        std::fs::write(dir.path().join("mfa.key"), mfa_key).expect("mfa key");
        Arc::new(Self {
            backend,
            database_url,
            key_prefix: format!("test:{}:", unique()),
            mail: MailSink::start().await,
            dir,
            key_file,
            postgres_db,
        })
    }

    /// Settings for an instance in this world, as `config/test.toml` plus
    /// what isolates it.
    pub fn settings(&self) -> Settings {
        let mut s = Settings::load_from(
            &config_dir(),
            "test",
            config::Environment::with_prefix("AUTH_TEST_IGNORED"),
        )
        .expect("config/test.toml loads");
        s.http.port = 0;
        s.http.workers = 2;
        s.database.url = self.database_url.clone();
        s.database.max_connections = 8;
        s.redis.url = self.backend.redis.clone();
        s.redis.key_prefix = self.key_prefix.clone();
        s.tokens.signing_key_file = Some(self.key_file.clone());
        s.mail.transport = MailTransport::Smtp;
        s.mail.dir = self.dir.path().join("mail");
        s.mail.poll_interval = Duration::from_millis(500);
        s.smtp.host = "127.0.0.1".to_owned();
        s.smtp.port = self.mail.port();
        s.smtp.tls = SmtpTls::None;
        s.smtp.timeout = Duration::from_secs(5);
        s.mfa.encryption_key_file = Some(self.dir.path().join("mfa.key"));
        s.sms.transport = Some(auth_infrastructure::settings::SmsTransport::File);
        s.sms.dir = self.sms_dir();
        s
    }

    /// Where the file SMS transport of this world writes.
    #[must_use]
    pub fn sms_dir(&self) -> PathBuf {
        self.dir.path().join("sms")
    }

    /// The text messages sent to `to` so far, oldest first.
    #[must_use]
    pub fn sms_to(&self, to: &str) -> Vec<String> {
        let mut files: Vec<_> = std::fs::read_dir(self.sms_dir())
            .map(|entries| entries.filter_map(Result::ok).map(|e| e.path()).collect())
            .unwrap_or_default();
        files.sort();
        files
            .into_iter()
            .filter_map(|path| std::fs::read_to_string(path).ok())
            .filter(|text| text.lines().next() == Some(&format!("To: {to}")))
            .collect()
    }

    /// Starts an instance with the default test settings.
    pub async fn spawn(self: &Arc<Self>) -> TestApp {
        self.spawn_with(|_| {}).await
    }

    /// Starts an instance with adjusted settings.
    pub async fn spawn_with(self: &Arc<Self>, adjust: impl FnOnce(&mut Settings)) -> TestApp {
        let mut settings = self.settings();
        adjust(&mut settings);
        let app = auth_server::Application::build(settings)
            .await
            .expect("application starts");
        let port = app.port();
        let handle = app.handle();
        tokio::spawn(app.run_until_stopped());
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .expect("client");
        TestApp {
            env: Arc::clone(self),
            base: format!("http://127.0.0.1:{port}"),
            client,
            handle,
        }
    }

    /// A connection to this world's database, for assertions on stored state.
    pub async fn db(&self) -> DatabaseConnection {
        Database::connect(self.database_url.as_str())
            .await
            .expect("test database")
    }

    /// The first column of the first row (`SELECT COUNT(*) …` and the like).
    pub async fn query_one<T: sea_orm::TryGetable>(&self, sql: &str) -> T {
        let db = self.db().await;
        let row = db
            .query_one_raw(Statement::from_string(db.get_database_backend(), sql))
            .await
            .expect("query")
            .expect("row");
        row.try_get_by_index::<T>(0)
            .expect("value of the expected type")
    }

    /// An integer from the database.
    pub async fn query_i64(&self, sql: &str) -> i64 {
        self.query_one(sql).await
    }

    /// Runs an update with one timestamp parameter (`$1`, or `?` on SQLite).
    pub async fn set_timestamp(&self, sql: &str, at: chrono::DateTime<chrono::Utc>) {
        let db = self.db().await;
        let backend = db.get_database_backend();
        let sql = if self.backend.postgres.is_some() {
            sql.to_owned()
        } else {
            sql.replace("$1", "?")
        };
        db.execute_raw(Statement::from_sql_and_values(backend, sql, [at.into()]))
            .await
            .expect("update");
    }

    /// A string from the database.
    pub async fn query_string(&self, sql: &str) -> String {
        self.query_one(sql).await
    }

    /// Everything the database holds, as text to search: every row of every
    /// table as JSON (blobs as hex).
    pub async fn dump(&self) -> String {
        let db = self.db().await;
        let backend = db.get_database_backend();
        let strings = |sql: String| {
            let db = db.clone();
            async move {
                db.query_all_raw(Statement::from_string(backend, sql))
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|row| row.try_get_by_index::<String>(0).unwrap())
                    .collect::<Vec<String>>()
            }
        };
        let sqlite = self.backend.postgres.is_none();
        let tables = if sqlite {
            strings("SELECT name FROM sqlite_master WHERE type = 'table'".to_owned()).await
        } else {
            strings("SELECT table_name::text FROM information_schema.tables WHERE table_schema = 'public'".to_owned()).await
        };
        let mut dump = String::new();
        for table in tables {
            let select = if sqlite {
                let columns =
                    strings(format!("SELECT name FROM pragma_table_info('{table}')")).await;
                let pairs: Vec<String> = columns
                    .iter()
                    .map(|c| format!("'{c}', CASE WHEN typeof(\"{c}\") = 'blob' THEN hex(\"{c}\") ELSE \"{c}\" END"))
                    .collect();
                format!("SELECT json_object({}) FROM \"{table}\"", pairs.join(", "))
            } else {
                format!("SELECT row_to_json(t)::text FROM \"{table}\" t")
            };
            let rows = strings(select).await;
            for row in rows {
                dump.push_str(&row);
                dump.push('\n');
            }
        }
        dump
    }
}

impl Drop for TestEnv {
    fn drop(&mut self) {
        let (Some(server), Some(name)) = (self.backend.postgres.clone(), self.postgres_db.take())
        else {
            return;
        };
        // Async cleanup from a synchronous drop: a runtime of its own.
        let _ = std::thread::spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async {
                if let Ok(admin) = Database::connect(server.as_str()).await {
                    let _ = admin
                        .execute_unprepared(&format!(
                            "DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"
                        ))
                        .await;
                }
            });
        })
        .join();
    }
}

fn replace_database(server_url: &str, name: &str) -> String {
    let (base, query) = server_url
        .split_once('?')
        .map_or((server_url, None), |(b, q)| (b, Some(q)));
    let after_scheme = base.find("://").map_or(0, |i| i + 3);
    let base = match base[after_scheme..].find('/') {
        Some(slash) => &base[..after_scheme + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

/// One running instance.
pub struct TestApp {
    pub env: Arc<TestEnv>,
    pub base: String,
    pub client: reqwest::Client,
    handle: actix_web::dev::ServerHandle,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        let stop = self.handle.stop(false);
        drop(tokio::spawn(stop));
    }
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The problem `code`.
    pub fn str(&self, field: &str) -> String {
        self.body[field].as_str().unwrap_or_default().to_owned()
    }

    pub fn code(&self) -> &str {
        self.body["code"].as_str().unwrap_or_default()
    }

    /// Asserts a problem+json answer with this status and code.
    #[track_caller]
    pub fn assert_problem(&self, status: u16, code: &str) {
        assert_eq!(self.status, status, "status of {}", self.text);
        assert_eq!(self.code(), code, "code of {}", self.text);
        assert_eq!(
            self.header("content-type"),
            Some("application/problem+json"),
            "content type of {}",
            self.text
        );
        let request_id = self.header("x-request-id").expect("x-request-id header");
        assert_eq!(
            self.body["request_id"].as_str(),
            Some(request_id),
            "request_id in body and header"
        );
        assert_eq!(self.body["status"].as_u64(), Some(u64::from(status)));
    }
}

pub const PASSWORD: &str = "Correct-Horse-42";

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub async fn send(&self, request: reqwest::RequestBuilder) -> Reply {
        let response = request.send().await.expect("request sent");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.expect("body");
        let body = serde_json::from_str(&text).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            body,
            text,
        }
    }

    pub async fn post(&self, path: &str, body: &Value) -> Reply {
        self.send(self.client.post(self.url(path)).json(body)).await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(self.client.get(self.url(path))).await
    }

    pub async fn post_authed(&self, path: &str, token: &str, body: &Value) -> Reply {
        self.send(
            self.client
                .post(self.url(path))
                .bearer_auth(token)
                .json(body),
        )
        .await
    }

    pub async fn delete_authed(&self, path: &str, token: &str) -> Reply {
        self.send(self.client.delete(self.url(path)).bearer_auth(token))
            .await
    }

    /// Logs in with a user agent of its own: another device.
    pub async fn login_as_device(&self, email: &str, device: &str) -> Reply {
        let body = json!({ "email": email, "password": PASSWORD });
        self.send(
            self.client
                .post(self.url("/api/v1/auth/login"))
                .header("user-agent", device)
                .json(&body),
        )
        .await
    }

    pub async fn refresh(&self, refresh_token: &str) -> Reply {
        self.post(
            "/api/v1/auth/refresh",
            &json!({ "refresh_token": refresh_token }),
        )
        .await
    }

    /// A request from the client address `ip`, as a trusted proxy in front
    /// would say it (`http.trusted_proxies` must include 127.0.0.1).
    pub async fn post_from(&self, ip: &str, path: &str, body: &Value) -> Reply {
        self.send(
            self.client
                .post(self.url(path))
                .header("x-forwarded-for", ip)
                .json(body),
        )
        .await
    }

    pub async fn get_authed(&self, path: &str, token: &str) -> Reply {
        self.send(self.client.get(self.url(path)).bearer_auth(token))
            .await
    }

    pub async fn register(&self, email: &str) -> Reply {
        self.post(
            "/api/v1/auth/register",
            &json!({ "email": email, "password": PASSWORD }),
        )
        .await
    }

    pub async fn login(&self, email: &str, password: &str) -> Reply {
        self.post(
            "/api/v1/auth/login",
            &json!({ "email": email, "password": password }),
        )
        .await
    }

    /// The verification token mailed to `email`.
    pub async fn verification_token(&self, email: &str) -> String {
        let mail = self.env.mail.wait_for(email, Duration::from_secs(20)).await;
        mail.link_token()
    }

    /// Registers, follows the mailed link, and returns the login reply.
    pub async fn verified_login(&self, email: &str) -> Reply {
        assert_eq!(self.register(email).await.status, 201);
        let token = self.verification_token(email).await;
        assert_eq!(
            self.post(&format!("/api/v1/auth/verify-email/{token}"), &json!(null))
                .await
                .status,
            200
        );
        let reply = self.login(email, PASSWORD).await;
        assert_eq!(reply.status, 200, "{}", reply.text);
        reply
    }
}

/// Polls `check` until it returns `Some` or the deadline passes.
pub async fn eventually<T, F, Fut>(deadline: Duration, mut check: F) -> Option<T>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let until = Instant::now() + deadline;
    loop {
        if let Some(value) = check().await {
            return Some(value);
        }
        if Instant::now() >= until {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// A unique address for one test.
pub fn email(tag: &str) -> String {
    format!("{tag}-{}@example.com", &unique()[20..])
}

#[cfg(test)]
mod tests {
    use super::replace_database;

    #[test]
    fn database_name_is_replaced() {
        assert_eq!(
            replace_database("postgres://postgres@127.0.0.1:5432/postgres", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            replace_database("postgres://u@h/db?sslmode=disable", "x"),
            "postgres://u@h/x?sslmode=disable"
        );
        assert_eq!(
            replace_database("postgres://u@h:5432", "x"),
            "postgres://u@h:5432/x"
        );
    }
}
