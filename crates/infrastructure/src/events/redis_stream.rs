//! Redis Streams: `XADD {events.redis.stream} MAXLEN ~ {events.redis.maxlen}`
//! with the envelope and its attributes as fields. Weaker than JetStream:
//! memory-bound and without server-side deduplication (consumers dedupe on
//! `id`).

use std::time::Duration;

use auth_domain::MessageId;
use auth_domain::activity::{DeliveryError, EventPublisher};
use fred::prelude::*;

/// Publishes events to a Redis stream.
#[derive(Clone)]
pub struct RedisStreamPublisher {
    client: Client,
    stream: String,
    maxlen: i64,
}

impl std::fmt::Debug for RedisStreamPublisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStreamPublisher")
            .field("stream", &self.stream)
            .finish_non_exhaustive()
    }
}

impl RedisStreamPublisher {
    /// Connects to `url` (reconnecting by itself later).
    ///
    /// # Errors
    /// When the URL is malformed or Redis does not answer within 5 s.
    pub async fn connect(url: &str, stream: &str, maxlen: u64) -> anyhow::Result<Self> {
        let config = Config::from_url(url).map_err(|e| anyhow::anyhow!("redis.url: {e}"))?;
        let client = Builder::from_config(config)
            .with_performance_config(|p| p.default_command_timeout = Duration::from_secs(5))
            .set_policy(ReconnectPolicy::new_exponential(0, 100, 5_000, 2))
            .build()?;
        tokio::time::timeout(Duration::from_secs(5), client.init())
            .await
            .map_err(|_| anyhow::anyhow!("redis.url: no answer from Redis within 5s"))?
            .map_err(|e| anyhow::anyhow!("redis.url: cannot connect to Redis: {e}"))?;
        Ok(Self {
            client,
            stream: stream.to_owned(),
            maxlen: i64::try_from(maxlen).unwrap_or(i64::MAX),
        })
    }
}

impl EventPublisher for RedisStreamPublisher {
    async fn publish(
        &self,
        id: MessageId,
        kind: &str,
        envelope: &str,
    ) -> Result<(), DeliveryError> {
        let fields: Vec<(&str, String)> = vec![
            ("id", id.as_uuid().to_string()),
            ("type", kind.to_owned()),
            ("event", envelope.to_owned()),
        ];
        let _: String = self
            .client
            .xadd(
                self.stream.as_str(),
                false,
                ("MAXLEN", "~", self.maxlen, None),
                "*",
                fields,
            )
            .await
            .map_err(|e| DeliveryError(format!("redis xadd: {e}")))?;
        Ok(())
    }
}
