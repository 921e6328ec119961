//! Durable state on SQLite or PostgreSQL through sea-orm: one adapter file
//! per aggregate, one migration set, driver errors converted once at this
//! boundary ([`DbError`] → [`auth_domain::RepoError`]).
//!
//! Every multi-row change is one transaction whose first statement writes,
//! so SQLite takes its write lock up front (a transaction that reads before
//! it writes can fail to upgrade its lock under contention).

mod audit;
mod effects;
mod entities;
mod error;
mod invitations;
mod mfa;
mod one_time_tokens;
mod organizations;
mod outbox;
mod roles;
mod service_keys;
mod sessions;
mod users;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use auth_domain::RepoError;
use auth_domain::system::HealthProbe;
use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, ConnectionTrait, DatabaseConnection};
use tokio::sync::Notify;

pub use audit::SeaAudit;
pub use error::DbError;
pub use invitations::SeaInvitations;
pub use mfa::{SeaBackupCodes, SeaMethods, SeaPendingLogins};
pub use one_time_tokens::SeaOneTimeTokens;
pub use organizations::SeaOrganizations;
pub use outbox::SeaOutbox;
pub use roles::SeaRoles;
pub use service_keys::SeaServiceKeys;
pub use sessions::SeaSessions;
pub use users::SeaUsers;

use crate::settings::DatabaseSettings;

/// The connection pool, and the signal that wakes the outbox relay after a
/// commit that queued a message. Cheap to clone; every repository holds one.
#[derive(Clone, Debug)]
pub struct Database {
    conn: DatabaseConnection,
    outbox_queued: Arc<Notify>,
}

impl Database {
    /// Wraps a migrated pool. `outbox_queued` is notified after every commit
    /// that queued a message.
    #[must_use]
    pub fn new(conn: DatabaseConnection, outbox_queued: Arc<Notify>) -> Self {
        Self {
            conn,
            outbox_queued,
        }
    }

    /// The pool.
    #[must_use]
    pub fn connection(&self) -> &DatabaseConnection {
        &self.conn
    }

    /// User accounts.
    #[must_use]
    pub fn users(&self) -> SeaUsers {
        SeaUsers(self.clone())
    }

    /// Mailed single-use tokens.
    #[must_use]
    pub fn one_time_tokens(&self) -> SeaOneTimeTokens {
        SeaOneTimeTokens(self.clone())
    }

    /// Sessions and refresh tokens.
    #[must_use]
    pub fn sessions(&self) -> SeaSessions {
        SeaSessions(self.clone())
    }

    /// Roles, their permissions, and their assignments.
    #[must_use]
    pub fn roles(&self) -> SeaRoles {
        SeaRoles(self.clone())
    }

    /// Service keys.
    #[must_use]
    pub fn service_keys(&self) -> SeaServiceKeys {
        SeaServiceKeys(self.clone())
    }

    /// Organizations and their memberships.
    #[must_use]
    pub fn organizations(&self) -> SeaOrganizations {
        SeaOrganizations(self.clone())
    }

    /// Invitations to organizations.
    #[must_use]
    pub fn invitations(&self) -> SeaInvitations {
        SeaInvitations(self.clone())
    }

    /// The audit trail.
    #[must_use]
    pub fn audit(&self) -> SeaAudit {
        SeaAudit(self.clone())
    }

    /// The outbox.
    #[must_use]
    pub fn outbox(&self) -> SeaOutbox {
        SeaOutbox(self.clone())
    }

    /// Second-factor methods and their sent codes.
    #[must_use]
    pub fn mfa_methods(&self) -> SeaMethods {
        SeaMethods(self.clone())
    }

    /// Backup codes.
    #[must_use]
    pub fn backup_codes(&self) -> SeaBackupCodes {
        SeaBackupCodes(self.clone())
    }

    /// Logins waiting for their second factor.
    #[must_use]
    pub fn pending_logins(&self) -> SeaPendingLogins {
        SeaPendingLogins(self.clone())
    }

    /// After the commit of a change: logs its audit events, and wakes the
    /// relay when it queued messages.
    fn committed(&self, effects: &auth_domain::Effects) {
        for event in &effects.events {
            effects::log(event);
        }
        if effects.queues_messages() {
            self.outbox_queued.notify_one();
        }
    }
}

impl HealthProbe for Database {
    async fn ping(&self) -> Result<(), RepoError> {
        guarded(async { Ok(self.conn.ping().await?) }).await
    }
}

/// Runs a database operation and converts its driver error at the boundary:
/// inside, `?` turns a `DbErr` into a [`DbError`]; out comes a `RepoError`.
async fn guarded<T>(op: impl Future<Output = Result<T, DbError>>) -> Result<T, RepoError> {
    Ok(op.await?)
}

/// Opens the pool (creating the SQLite file and its folder when needed) and
/// runs pending migrations unless `database.migrate_on_start = false`.
///
/// # Errors
/// When the database cannot be reached or a migration fails.
pub async fn connect(settings: &DatabaseSettings) -> anyhow::Result<DatabaseConnection> {
    if settings.is_sqlite() {
        ensure_sqlite_folder(&settings.url)?;
    }
    if settings.migrate_on_start {
        // On one connection of its own: over a pool, SQLite can hand the
        // next DDL statement to a connection still reading the schema as it
        // was before the previous one (a dropped index "already exists").
        let db = sea_orm::Database::connect(connect_options(settings, 1))
            .await
            .map_err(|err| anyhow::anyhow!("cannot connect to the database: {err}"))?;
        if settings.is_sqlite() {
            // WAL lets readers proceed while one writer commits; the
            // setting persists in the file.
            db.execute_unprepared("PRAGMA journal_mode=WAL").await?;
        }
        Migrator::up(&db, None)
            .await
            .map_err(|err| anyhow::anyhow!("database migration failed: {err}"))?;
        db.close().await?;
    }
    let db = sea_orm::Database::connect(connect_options(settings, settings.max_connections))
        .await
        .map_err(|err| anyhow::anyhow!("cannot connect to the database: {err}"))?;
    if settings.is_sqlite() {
        db.execute_unprepared("PRAGMA journal_mode=WAL").await?;
    }
    Ok(db)
}

fn connect_options(settings: &DatabaseSettings, max_connections: u32) -> ConnectOptions {
    let mut options = ConnectOptions::new(settings.url.clone());
    options
        .max_connections(max_connections)
        .min_connections(1)
        .connect_timeout(Duration::from_secs(5))
        .acquire_timeout(settings.acquire_timeout)
        // Statement logs would carry bound values: hashes and emails.
        .sqlx_logging(false)
        // SQLite: deleted and overwritten content (a sent mail's body, a
        // spent token's row) is zeroed in the file, not left in free pages.
        // A per-connection setting, so it is set on every connection.
        .map_sqlx_sqlite_opts(|opts| opts.pragma("secure_delete", "ON"));
    options
}

fn ensure_sqlite_folder(url: &str) -> anyhow::Result<()> {
    let path = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    let path = path.split('?').next().unwrap_or_default();
    if path.is_empty() || path == ":memory:" {
        return Ok(());
    }
    if let Some(dir) = Path::new(path)
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
    {
        std::fs::create_dir_all(dir)
            .map_err(|err| anyhow::anyhow!("cannot create {}: {err}", dir.display()))?;
    }
    Ok(())
}

/// Client-controlled text is cut to what its column holds.
fn truncate(text: &str, max_chars: usize) -> String {
    text.chars().take(max_chars).collect()
}
