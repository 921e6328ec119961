//! NATS JetStream: one stream (created if missing) over
//! `{events.subject_prefix}.>`, each event on `{prefix}.{type}` with
//! `Nats-Msg-Id` = the event id, so the server drops a duplicate sent again
//! after a crash between its ack and our mark.

use std::time::Duration;

use async_nats::jetstream;
use auth_domain::MessageId;
use auth_domain::activity::{DeliveryError, EventPublisher};

/// How long one publish may wait for the server's ack.
const ACK_TIMEOUT: Duration = Duration::from_secs(10);

/// Publishes events to a JetStream stream.
#[derive(Clone)]
pub struct NatsPublisher {
    jetstream: jetstream::Context,
    prefix: String,
}

impl std::fmt::Debug for NatsPublisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsPublisher")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl NatsPublisher {
    /// Connects (retrying in the background when the server is away) and
    /// makes sure the stream exists.
    ///
    /// # Errors
    /// When the URL is malformed or the stream cannot be created.
    pub async fn connect(url: &str, stream: &str, prefix: &str) -> anyhow::Result<Self> {
        let client = async_nats::ConnectOptions::new()
            .connection_timeout(Duration::from_secs(5))
            .retry_on_initial_connect()
            .connect(url)
            .await
            .map_err(|e| anyhow::anyhow!("events.nats.url: cannot connect to NATS: {e}"))?;
        let jetstream = jetstream::new(client);
        let config = jetstream::stream::Config {
            name: stream.to_owned(),
            subjects: vec![format!("{prefix}.>")],
            ..Default::default()
        };
        tokio::time::timeout(
            Duration::from_secs(10),
            jetstream.get_or_create_stream(config),
        )
        .await
        .map_err(|_| anyhow::anyhow!("events.nats.url: no answer from NATS JetStream within 10s"))?
        .map_err(|e| anyhow::anyhow!("events.nats.stream: cannot create the stream: {e}"))?;
        Ok(Self {
            jetstream,
            prefix: prefix.to_owned(),
        })
    }
}

impl EventPublisher for NatsPublisher {
    async fn publish(
        &self,
        id: MessageId,
        kind: &str,
        envelope: &str,
    ) -> Result<(), DeliveryError> {
        let mut headers = async_nats::HeaderMap::new();
        headers.insert("Nats-Msg-Id", id.as_uuid().to_string().as_str());
        headers.insert("Content-Type", "application/cloudevents+json");
        let subject = format!("{}.{kind}", self.prefix);
        let publish = async {
            let ack = self
                .jetstream
                .publish_with_headers(subject, headers, envelope.to_owned().into())
                .await
                .map_err(|e| DeliveryError(format!("nats publish: {e}")))?;
            ack.await
                .map_err(|e| DeliveryError(format!("nats ack: {e}")))?;
            Ok::<(), DeliveryError>(())
        };
        tokio::time::timeout(ACK_TIMEOUT, publish)
            .await
            .map_err(|_| DeliveryError("nats: no ack within 10s".into()))?
    }
}
