//! The audit trail: its standalone writes (most events are written with
//! their change, see `effects`) and its owner's paged reads.

use std::net::IpAddr;

use auth_domain::activity::{AuditFilter, AuditLog};
use auth_domain::{AuditEvent, AuditEventType, EventId, OrganizationId, RepoError, UserId};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect};

use super::entities::audit_events;
use super::{Database, effects, guarded};

/// The audit trail on the pool.
#[derive(Clone, Debug)]
pub struct SeaAudit(pub(super) Database);

/// A stored event; rows of a type this build does not know are skipped.
fn to_event(model: audit_events::Model) -> Option<AuditEvent> {
    let details =
        serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(&model.details)
            .map(|map| {
                map.into_iter()
                    .map(|(k, v)| (k, v.as_str().map_or_else(|| v.to_string(), str::to_owned)))
                    .collect()
            })
            .unwrap_or_default();
    Some(AuditEvent {
        id: EventId::from_uuid(model.id),
        user_id: model.user_id.map(UserId::from_uuid),
        kind: AuditEventType::from_stored(&model.event_type)?,
        at: model.at,
        ip: model.ip.and_then(|ip| ip.parse::<IpAddr>().ok()),
        user_agent: model.user_agent,
        details,
        organization_id: model.organization_id.map(OrganizationId::from_uuid),
    })
}

impl AuditLog for SeaAudit {
    async fn record(&self, event: AuditEvent) -> Result<(), RepoError> {
        guarded(async {
            audit_events::Entity::insert(effects::audit_row(&event))
                .exec_without_returning(&self.0.conn)
                .await?;
            Ok(())
        })
        .await?;
        effects::log(&event);
        Ok(())
    }

    async fn list_for_user(
        &self,
        user: UserId,
        before: Option<EventId>,
        limit: u32,
    ) -> Result<Vec<AuditEvent>, RepoError> {
        guarded(async {
            let mut query = audit_events::Entity::find()
                .filter(audit_events::Column::UserId.eq(user.as_uuid()));
            if let Some(before) = before {
                query = query.filter(audit_events::Column::Id.lt(before.as_uuid()));
            }
            Ok(query
                .order_by_desc(audit_events::Column::Id)
                .limit(u64::from(limit))
                .all(&self.0.conn)
                .await?
                .into_iter()
                .filter_map(to_event)
                .collect())
        })
        .await
    }

    async fn list(
        &self,
        filter: &AuditFilter,
        before: Option<EventId>,
        limit: u32,
    ) -> Result<Vec<AuditEvent>, RepoError> {
        guarded(async {
            let mut query = audit_events::Entity::find();
            if let Some(user) = filter.user {
                query = query.filter(audit_events::Column::UserId.eq(user.as_uuid()));
            }
            if let Some(kind) = filter.kind {
                query = query.filter(audit_events::Column::EventType.eq(kind.as_str()));
            }
            if let Some(before) = before {
                query = query.filter(audit_events::Column::Id.lt(before.as_uuid()));
            }
            Ok(query
                .order_by_desc(audit_events::Column::Id)
                .limit(u64::from(limit))
                .all(&self.0.conn)
                .await?
                .into_iter()
                .filter_map(to_event)
                .collect())
        })
        .await
    }

    async fn list_for_organization(
        &self,
        org: OrganizationId,
        limit: u32,
    ) -> Result<Vec<AuditEvent>, RepoError> {
        guarded(async {
            Ok(audit_events::Entity::find()
                .filter(audit_events::Column::OrganizationId.eq(org.as_uuid()))
                .order_by_desc(audit_events::Column::Id)
                .limit(u64::from(limit))
                .all(&self.0.conn)
                .await?
                .into_iter()
                .filter_map(to_event)
                .collect())
        })
        .await
    }
}
