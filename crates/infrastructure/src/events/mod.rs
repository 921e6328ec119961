//! Publishing domain events to a broker: NATS JetStream.

mod nats;

pub use nats::NatsPublisher;
