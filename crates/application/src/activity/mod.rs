//! The `activity` context: the outbox relay that delivers what changes
//! queued. (The audit trail's reader and domain events land here too.)

mod relay;

pub use relay::{DeliveryReport, OutboxRelay, RetryPolicy};
