//! Text-message delivery: a signed JSON webhook to an SMS gateway
//! ([`WebhookSms`]), or text files for development ([`FileSms`]). The
//! outbox relay is the only caller.

mod file;
mod webhook;

use auth_domain::activity::{MailError, SmsMessage, SmsSender};

use crate::settings::{SmsSettings, SmsTransport};
use crate::system::SharedClock;

pub use file::FileSms;
pub use webhook::{SIGNATURE_HEADER, TIMESTAMP_HEADER, WebhookSms};

/// The configured transport (`sms.transport`).
#[derive(Clone, Debug)]
pub enum SmsAdapter {
    /// Writes text files (`"file"`).
    File(FileSms),
    /// POSTs to a gateway (`"webhook"`).
    Webhook(WebhookSms),
    /// No transport: SMS is not offered, so nothing is queued for it.
    Off,
}

impl SmsAdapter {
    /// The transport `sms.*` names.
    ///
    /// # Errors
    /// When the webhook settings are unusable.
    pub fn from_settings(settings: &SmsSettings, clock: SharedClock) -> anyhow::Result<Self> {
        Ok(match settings.transport {
            None => Self::Off,
            Some(SmsTransport::File) => Self::File(FileSms::new(settings.dir.clone(), clock)),
            Some(SmsTransport::Webhook) => {
                let url = settings
                    .webhook_url
                    .as_deref()
                    .ok_or_else(|| anyhow::anyhow!("sms.webhook_url is required"))?;
                let secret = settings
                    .webhook_secret
                    .as_deref()
                    .ok_or_else(|| anyhow::anyhow!("sms.webhook_secret is required"))?;
                Self::Webhook(
                    WebhookSms::new(url, secret, clock)
                        .map_err(|e| anyhow::anyhow!("sms.webhook_url: {e}"))?,
                )
            }
        })
    }
}

impl SmsSender for SmsAdapter {
    async fn send(&self, message: &SmsMessage) -> Result<(), MailError> {
        match self {
            Self::File(sender) => sender.send(message).await,
            Self::Webhook(sender) => sender.send(message).await,
            Self::Off => Err(MailError("sms.transport is not set".into())),
        }
    }
}
