//! The `activity` context: the audit trail's reader, and the outbox relay
//! that delivers what changes queued. (Domain events land here too.)

pub mod events;
mod relay;
mod trail;

pub use relay::{Deliveries, Delivery, DeliveryReport, OutboxRelay, RetryPolicy};
pub use trail::{Activity, ActivityPorts, ActivityService, DEFAULT_PAGE, MAX_PAGE};
