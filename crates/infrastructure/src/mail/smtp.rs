//! The production transport: an SMTP relay through mail-send.

use std::sync::Arc;

use auth_domain::EmailMessage;
use auth_domain::activity::{MailError, Mailer};
use mail_send::SmtpClientBuilder;

use super::Sender;
use crate::settings::{SmtpSettings, SmtpTls};

/// Sends through an SMTP relay, one connection per message.
#[derive(Clone, Debug)]
pub struct SmtpMailer {
    settings: Arc<SmtpSettings>,
    from: Sender,
}

impl SmtpMailer {
    /// Sends through the relay of `settings`.
    pub(super) fn new(settings: Arc<SmtpSettings>, from: Sender) -> Self {
        Self { settings, from }
    }
}

impl Mailer for SmtpMailer {
    async fn send(&self, message: &EmailMessage) -> Result<(), MailError> {
        let s = &self.settings;
        let mut builder = SmtpClientBuilder::new(s.host.clone(), s.port)
            .map_err(MailError)?
            .implicit_tls(s.tls == SmtpTls::Implicit)
            .timeout(s.timeout);
        if let (Some(user), Some(password)) = (&s.username, &s.password) {
            builder = builder.credentials((user.clone(), password.clone()));
        }
        let email = self.from.build(message);
        let result = match s.tls {
            SmtpTls::None => match builder.connect_plain().await {
                Ok(mut client) => client.send(email).await,
                Err(err) => Err(err),
            },
            SmtpTls::Starttls | SmtpTls::Implicit => match builder.connect().await {
                Ok(mut client) => client.send(email).await,
                Err(err) => Err(err),
            },
        };
        result
            .map(|_| ())
            .map_err(|e| MailError(format!("smtp {}:{}: {e}", s.host, s.port)))
    }
}
