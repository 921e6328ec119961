//! The audit trail as its owner reads it: newest first, a page at a time.

use std::future::Future;

use auth_domain::activity::AuditLog;
use auth_domain::{AuditPage, EventId, UserId};

use crate::Failure;

/// Events per page unless asked otherwise.
pub const DEFAULT_PAGE: u32 = 50;
/// Events per page at most; larger asks get this many.
pub const MAX_PAGE: u32 = 200;

/// What the HTTP layer may ask of the `activity` context.
pub trait Activity: Send + Sync + 'static {
    /// The user's own security events older than `before`, newest first.
    /// `limit` is clamped to 1..=[`MAX_PAGE`].
    fn audit_trail(
        &self,
        user: UserId,
        before: Option<EventId>,
        limit: Option<u32>,
    ) -> impl Future<Output = Result<AuditPage, Failure>> + Send;
}

/// The ports the `activity` context reads.
pub trait ActivityPorts: Send + Sync + 'static {
    /// The audit trail.
    type Audit: AuditLog + Clone;
}

/// The `activity` use cases.
pub struct ActivityService<P: ActivityPorts> {
    audit: P::Audit,
}

impl<P: ActivityPorts> std::fmt::Debug for ActivityService<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActivityService").finish_non_exhaustive()
    }
}

impl<P: ActivityPorts> ActivityService<P> {
    /// Reads from `audit`.
    #[must_use]
    pub fn new(audit: P::Audit) -> Self {
        Self { audit }
    }
}

impl<P: ActivityPorts> Activity for ActivityService<P> {
    async fn audit_trail(
        &self,
        user: UserId,
        before: Option<EventId>,
        limit: Option<u32>,
    ) -> Result<AuditPage, Failure> {
        let limit = limit.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE);
        // One more than asked tells whether an older page exists.
        let mut events = self.audit.list_for_user(user, before, limit + 1).await?;
        let more = events.len() > usize::try_from(limit).unwrap_or(usize::MAX);
        events.truncate(usize::try_from(limit).unwrap_or(usize::MAX));
        let next_before = if more {
            events.last().map(|e| e.id)
        } else {
            None
        };
        Ok(AuditPage {
            events,
            next_before,
        })
    }
}

#[cfg(test)]
mod tests {
    use auth_domain::testing::World;
    use auth_domain::{AuditEvent, AuditEventType, RequestContext};

    use super::*;

    struct Ports;
    impl ActivityPorts for Ports {
        type Audit = auth_domain::testing::MemoryAudit;
    }

    #[tokio::test]
    async fn pages_follow_the_cursor_to_the_end() {
        let world = World::new();
        let service = ActivityService::<Ports>::new(world.audit());
        let user = UserId::generate();
        let now = world.now();
        for _ in 0..5 {
            let event = AuditEvent::new(
                AuditEventType::LoginSucceeded,
                Some(user),
                &RequestContext::default(),
                now,
            );
            world.lock().events.push(event);
        }
        let first = service
            .audit_trail(user, None, Some(2))
            .await
            .expect("page");
        assert_eq!(first.events.len(), 2);
        let second = service
            .audit_trail(user, first.next_before, Some(2))
            .await
            .expect("page");
        let last = service
            .audit_trail(user, second.next_before, Some(2))
            .await
            .expect("page");
        assert_eq!(last.events.len(), 1);
        assert_eq!(last.next_before, None, "the last page says so");
        let all = service
            .audit_trail(user, None, Some(10_000))
            .await
            .expect("page");
        assert_eq!(
            all.events.len(),
            5,
            "asking too much gets at most the maximum"
        );
    }
}
