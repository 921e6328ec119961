//! Durable state on SQLite or PostgreSQL through sea-orm.

mod entities;
mod store;

pub use store::SeaStore;

use std::path::Path;
use std::time::Duration;

use migration::{Migrator, MigratorTrait};
use sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection};

use crate::settings::DatabaseSettings;

/// Opens the pool (creating the SQLite file and its folder when needed) and
/// runs pending migrations unless `database.migrate_on_start = false`.
///
/// # Errors
/// When the database cannot be reached or a migration fails.
pub async fn connect(settings: &DatabaseSettings) -> anyhow::Result<DatabaseConnection> {
    if settings.is_sqlite() {
        ensure_sqlite_folder(&settings.url)?;
    }
    let mut options = ConnectOptions::new(settings.url.clone());
    options
        .max_connections(settings.max_connections)
        .min_connections(1)
        .connect_timeout(Duration::from_secs(5))
        .acquire_timeout(settings.acquire_timeout)
        // Statement logs would carry bound values: hashes and emails.
        .sqlx_logging(false);
    let db = Database::connect(options).await.map_err(|err| {
        anyhow::anyhow!("cannot connect to the database: {}", store::describe(&err))
    })?;
    if settings.is_sqlite() {
        // WAL lets readers proceed while one writer commits; the setting
        // persists in the file.
        db.execute_unprepared("PRAGMA journal_mode=WAL").await?;
    }
    if settings.migrate_on_start {
        Migrator::up(&db, None)
            .await
            .map_err(|err| anyhow::anyhow!("database migration failed: {err}"))?;
    }
    Ok(db)
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
