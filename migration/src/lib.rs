//! Database migrations of auth-service. One set for SQLite and PostgreSQL.
#![forbid(unsafe_code)]

pub use sea_orm_migration::prelude::*;

mod m20261123_000001_initial;
mod m20261125_000001_roles;
mod m20261125_000002_session_indexes;
mod m20261126_000001_mfa;
mod m20261127_000001_service_keys;
mod m20261128_000001_organizations;
mod m20261129_000001_profiles;
mod m20261130_000001_preferences;

/// Every migration, oldest first.
#[derive(Debug)]
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261123_000001_initial::Migration),
            Box::new(m20261125_000001_roles::Migration),
            Box::new(m20261125_000002_session_indexes::Migration),
            Box::new(m20261126_000001_mfa::Migration),
            Box::new(m20261127_000001_service_keys::Migration),
            Box::new(m20261128_000001_organizations::Migration),
            Box::new(m20261129_000001_profiles::Migration),
            Box::new(m20261130_000001_preferences::Migration),
        ]
    }
}
