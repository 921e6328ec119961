//! Mail delivery: SMTP through mail-send ([`smtp`]), or `.eml` files for
//! development ([`file`]). The outbox relay is the only caller.

mod file;
mod smtp;

use std::sync::Arc;

use auth_domain::EmailMessage;
use auth_domain::activity::{MailError, Mailer};
use mail_send::mail_builder::MessageBuilder;
use mail_send::mail_builder::mime::MimePart;

pub use file::FileMailer;
pub use smtp::SmtpMailer;

use crate::settings::{MailSettings, MailTransport, SmtpSettings};
use crate::system::SharedClock;

/// The configured transport.
#[derive(Clone, Debug)]
pub enum MailAdapter {
    /// Writes `.eml` files.
    File(FileMailer),
    /// Sends through an SMTP relay.
    Smtp(SmtpMailer),
}

impl MailAdapter {
    /// The transport named by `mail.transport`.
    ///
    /// # Errors
    /// When the sender address is unusable.
    pub fn from_settings(
        mail: &MailSettings,
        smtp: &SmtpSettings,
        clock: SharedClock,
    ) -> anyhow::Result<Self> {
        let from = Sender::parse(&mail.from)?;
        Ok(match mail.transport {
            MailTransport::File => Self::File(FileMailer::new(mail.dir.clone(), from, clock)),
            MailTransport::Smtp => Self::Smtp(SmtpMailer::new(Arc::new(smtp.clone()), from)),
        })
    }
}

/// `Name <address>` or a bare address.
#[derive(Clone, Debug)]
struct Sender {
    name: String,
    address: String,
}

impl Sender {
    fn parse(raw: &str) -> anyhow::Result<Self> {
        let raw = raw.trim();
        let (name, address) = match raw.split_once('<') {
            Some((name, rest)) => (
                name.trim().trim_matches('"').to_owned(),
                rest.trim_end_matches('>').trim().to_owned(),
            ),
            None => (String::new(), raw.to_owned()),
        };
        anyhow::ensure!(
            address.contains('@'),
            "mail.from: {raw:?} has no email address"
        );
        Ok(Self { name, address })
    }

    fn build(&self, message: &EmailMessage) -> MessageBuilder<'static> {
        let builder = MessageBuilder::new();
        let builder = if self.name.is_empty() {
            builder.from(self.address.clone())
        } else {
            builder.from((self.name.clone(), self.address.clone()))
        };
        // 7bit keeps the link on one line in the raw message, so a developer
        // can copy it out of a `.eml` file; lines stay under SMTP's 998.
        let part = |content_type: &'static str, body: &str| {
            MimePart::new(
                content_type,
                body.replace("\r\n", "\n").replace('\n', "\r\n"),
            )
            .transfer_encoding("7bit")
        };
        builder
            .to(message.to.as_str().to_owned())
            .subject(message.subject.clone())
            .body(MimePart::new(
                "multipart/alternative",
                vec![
                    part("text/plain", &message.text_body),
                    part("text/html", &message.html_body),
                ],
            ))
    }
}

impl Mailer for MailAdapter {
    async fn send(&self, message: &EmailMessage) -> Result<(), MailError> {
        match self {
            Self::File(mailer) => mailer.send(message).await,
            Self::Smtp(mailer) => mailer.send(message).await,
        }
    }
}
