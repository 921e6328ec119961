//! The bench's own database, seeded directly: users with the production
//! password hash, one session with a known refresh token per seeded user (up
//! to [`SESSIONS`]), and access tokens signed with the service's key.

use std::path::PathBuf;
use std::time::Instant;

use auth_domain::password::PasswordHasher as _;
use auth_domain::sessions::AccessTokenIssuer as _;
use auth_domain::{AccessClaims, Email, OpaqueToken, Password, Role, SessionId, UserId};
use auth_infrastructure::jwt::generate_key;
use auth_infrastructure::settings::{Algorithm, TokenSettings};
use auth_infrastructure::{JwtTokens, Pbkdf2Hasher};
use chrono::{TimeDelta, Utc};
use sea_orm::sea_query::{Alias, Expr, OnConflict, Query};
use sea_orm::{ConnectionTrait, Database, Statement, TransactionTrait};
use uuid::Uuid;

use crate::{ITERATIONS, Options};

/// Every seeded user's password.
pub const PASSWORD: &str = "Correct-Horse-42";

/// Sessions with a known refresh token (for the refresh run).
pub const SESSIONS: usize = 2_000;

/// Rows per INSERT statement.
const BATCH: usize = 1_000;

/// Where one bench run keeps its state.
#[derive(Debug)]
pub struct World {
    /// The service's working directory (its `var/`, its mail files).
    pub dir: PathBuf,
    temp: Option<tempfile::TempDir>,
    pub database_url: String,
    /// Set when the bench created a PostgreSQL database it must drop.
    postgres: Option<(String, String)>,
    pub redis_url: String,
    pub redis_prefix: String,
    pub key_file: PathBuf,
    /// The seeded users' emails, in order.
    pub emails: Vec<String>,
    /// `(user, session, refresh token)` for the first [`SESSIONS`] users.
    pub sessions: Vec<(Uuid, Uuid, String)>,
    /// A service key with `authz:check` (a gateway), as `Bearer sk_…`.
    pub service_key: String,
}

impl World {
    /// A fresh folder, signing key and database (SQLite file, or a new
    /// PostgreSQL database on the test server).
    pub async fn create(options: &Options) -> anyhow::Result<Self> {
        let temp = tempfile::Builder::new().prefix("auth-bench-").tempdir()?;
        let dir = temp.path().to_path_buf();
        let key_file = dir.join("signing-key.pem");
        generate_key(Algorithm::EdDSA, &key_file)?;
        let run = Uuid::now_v7().simple().to_string();
        let (database_url, postgres) = if options.postgres {
            let server = std::env::var("AUTH_TEST_DATABASE_URL")
                .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
            let name = format!("auth_bench_{run}");
            let admin = Database::connect(&server).await?;
            admin
                .execute_unprepared(&format!("CREATE DATABASE {name}"))
                .await?;
            admin.close().await?;
            let (address, query) = server.split_once('?').unwrap_or((&server, ""));
            let url = match address.rsplit_once('/') {
                Some((root, _)) if query.is_empty() => format!("{root}/{name}"),
                Some((root, _)) => format!("{root}/{name}?{query}"),
                None => anyhow::bail!("AUTH_TEST_DATABASE_URL has no database name"),
            };
            (url, Some((server, name)))
        } else {
            (format!("sqlite://{}/auth.db?mode=rwc", dir.display()), None)
        };
        Ok(Self {
            dir,
            temp: Some(temp),
            database_url,
            postgres,
            redis_url: std::env::var("AUTH_TEST_REDIS_URL")
                .unwrap_or_else(|_| "redis://127.0.0.1:6379".into()),
            redis_prefix: format!("bench:{run}:"),
            key_file,
            emails: Vec::new(),
            sessions: Vec::new(),
            service_key: String::new(),
        })
    }

    /// Email of seeded user `i`.
    fn email(i: usize) -> String {
        format!("user{i}@bench.example.com")
    }

    /// Inserts the users (migrations already applied by a first start).
    pub async fn seed(&mut self, options: &Options) -> anyhow::Result<()> {
        let started = Instant::now();
        let hash = Pbkdf2Hasher::new(ITERATIONS, 1, 1, 1)?
            .hash(Password::new(PASSWORD.into()), "seed")
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let db = Database::connect(&self.database_url).await?;
        let role: Uuid = db
            .query_one_raw(Statement::from_string(
                db.get_database_backend(),
                "SELECT id FROM roles WHERE name = 'user'",
            ))
            .await?
            .ok_or_else(|| anyhow::anyhow!("the migrations did not create the user role"))?
            .try_get("", "id")?;
        let now = Utc::now();
        let mut users = Vec::with_capacity(options.users);
        for start in (0..options.users).step_by(BATCH) {
            let end = (start + BATCH).min(options.users);
            let ids: Vec<Uuid> = (start..end).map(|_| Uuid::now_v7()).collect();
            let mut insert_users = Query::insert();
            insert_users.into_table(Alias::new("users")).columns(
                [
                    "id",
                    "email",
                    "email_verified",
                    "password_hash",
                    "status",
                    "created_at",
                    "updated_at",
                ]
                .map(Alias::new),
            );
            let mut insert_roles = Query::insert();
            insert_roles
                .into_table(Alias::new("user_roles"))
                .columns(["user_id", "role_id", "granted_at"].map(Alias::new))
                .on_conflict(OnConflict::new().do_nothing().to_owned());
            for (i, id) in (start..end).zip(&ids) {
                insert_users.values_panic([
                    Expr::val(*id),
                    Expr::val(Self::email(i)),
                    Expr::val(true),
                    Expr::val(hash.as_str()),
                    Expr::val("active"),
                    Expr::val(now),
                    Expr::val(now),
                ]);
                insert_roles.values_panic([Expr::val(*id), Expr::val(role), Expr::val(now)]);
            }
            let txn = db.begin().await?;
            txn.execute(&insert_users).await?;
            txn.execute(&insert_roles).await?;
            txn.commit().await?;
            users.extend(ids);
            if options.users >= 100_000 && end.is_multiple_of(100_000) {
                eprintln!("auth-bench: {end} users seeded");
            }
        }
        self.emails = (0..options.users).map(Self::email).collect();

        let expires = now + TimeDelta::days(1);
        for chunk in users
            .iter()
            .take(SESSIONS)
            .collect::<Vec<_>>()
            .chunks(BATCH)
        {
            let mut insert_sessions = Query::insert();
            insert_sessions.into_table(Alias::new("sessions")).columns(
                [
                    "id",
                    "user_id",
                    "created_at",
                    "last_used_at",
                    "expires_at",
                    "remember_me",
                ]
                .map(Alias::new),
            );
            let mut insert_tokens = Query::insert();
            insert_tokens
                .into_table(Alias::new("refresh_tokens"))
                .columns(["id", "session_id", "token_hash", "created_at"].map(Alias::new));
            for user in chunk {
                let session = Uuid::now_v7();
                let raw = format!("bench-{}", Uuid::now_v7().simple());
                let hash = OpaqueToken::new(raw.clone()).hash();
                insert_sessions.values_panic([
                    Expr::val(session),
                    Expr::val(**user),
                    Expr::val(now),
                    Expr::val(now),
                    Expr::val(expires),
                    Expr::val(false),
                ]);
                insert_tokens.values_panic([
                    Expr::val(Uuid::now_v7()),
                    Expr::val(session),
                    Expr::val(hash.as_str()),
                    Expr::val(now),
                ]);
                self.sessions.push((**user, session, raw));
            }
            let txn = db.begin().await?;
            txn.execute(&insert_sessions).await?;
            txn.execute(&insert_tokens).await?;
            txn.commit().await?;
        }
        // A gateway's key, stored as the service stores keys: SHA-256 only.
        let key = format!("sk_bench{}", Uuid::now_v7().simple());
        let mut insert_key = Query::insert();
        insert_key
            .into_table(Alias::new("service_keys"))
            .columns(["id", "name", "key_hash", "permissions", "created_at"].map(Alias::new))
            .values_panic([
                Expr::val(Uuid::now_v7()),
                Expr::val("bench gateway"),
                Expr::val(auth_domain::TokenHash::of(key.as_bytes()).as_str()),
                Expr::val("authz:check"),
                Expr::val(now),
            ]);
        db.execute(&insert_key).await?;
        self.service_key = format!("Bearer {key}");
        // Fresh planner statistics, as a database in service has.
        db.execute_unprepared("ANALYZE").await?;
        db.close().await?;
        eprintln!(
            "auth-bench: seeded {} users and {} sessions in {:.1?}",
            options.users,
            self.sessions.len(),
            started.elapsed()
        );
        Ok(())
    }

    /// `n` distinct access tokens for seeded sessions, signed with the
    /// service's key, as `Bearer …` header values.
    pub fn access_tokens(&self, n: usize) -> anyhow::Result<Vec<String>> {
        let settings = TokenSettings {
            signing_key_file: Some(self.key_file.clone()),
            ..TokenSettings::default()
        };
        let issuer = JwtTokens::from_settings(&settings, &self.dir)?;
        let now = Utc::now();
        self.sessions
            .iter()
            .enumerate()
            .cycle()
            .take(n)
            .enumerate()
            .map(|(k, (i, (user, session, _)))| {
                let claims = AccessClaims {
                    user_id: UserId::from_uuid(*user),
                    email: Email::parse(&Self::email(i))?,
                    email_verified: true,
                    roles: vec![Role::user()],
                    session_id: SessionId::from_uuid(*session),
                    token_id: format!("bench-{k}"),
                    issued_at: now,
                    expires_at: now + TimeDelta::hours(1),
                    assurance: auth_domain::Assurance::password(now),
                    organization_id: None,
                };
                Ok(format!("Bearer {}", issuer.issue(&claims)?))
            })
            .collect()
    }

    /// Leaves the folder on disk and returns it.
    pub fn keep(&mut self) -> PathBuf {
        if let Some(temp) = self.temp.take() {
            let _ = temp.keep();
        }
        self.dir.clone()
    }

    /// Drops the PostgreSQL database the run created (the SQLite file goes
    /// with the temporary folder).
    pub async fn drop_database(&self) {
        if let Some((server, name)) = &self.postgres
            && let Ok(admin) = Database::connect(server).await
        {
            let _ = admin
                .execute_unprepared(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .await;
            let _ = admin.close().await;
        }
    }
}
