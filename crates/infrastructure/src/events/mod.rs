//! Publishing domain events to a broker: NATS JetStream, or Redis Streams.

mod nats;
mod redis_stream;

pub use nats::NatsPublisher;
pub use redis_stream::RedisStreamPublisher;
