//! The audit trail's standalone writes (most events are written with their
//! change, see `effects`).

use auth_domain::activity::AuditLog;
use auth_domain::{AuditEvent, RepoError};
use sea_orm::EntityTrait;

use super::entities::audit_events;
use super::{Database, effects, guarded};

/// The audit trail on the pool.
#[derive(Clone, Debug)]
pub struct SeaAudit(pub(super) Database);

impl AuditLog for SeaAudit {
    async fn record(&self, event: AuditEvent) -> Result<(), RepoError> {
        guarded(async {
            audit_events::Entity::insert(effects::audit_row(&event))
                .exec_without_returning(&self.0.conn)
                .await?;
            Ok(())
        })
        .await
    }
}
