//! Mail delivery: SMTP through mail-send, or `.eml` files for development;
//! and the outbox worker that drives either.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use auth_application::OutboxRelay;
use auth_domain::EmailMessage;
use auth_domain::ports::{Clock, MailError, Mailer, OutboxRepository};
use mail_send::SmtpClientBuilder;
use mail_send::mail_builder::MessageBuilder;
use mail_send::mail_builder::mime::MimePart;
use tokio::sync::Notify;

use crate::settings::{MailSettings, MailTransport, SmtpSettings, SmtpTls};

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
    pub fn from_settings(mail: &MailSettings, smtp: &SmtpSettings) -> anyhow::Result<Self> {
        let from = Sender::parse(&mail.from)?;
        Ok(match mail.transport {
            MailTransport::File => Self::File(FileMailer {
                dir: mail.dir.clone(),
                from,
            }),
            MailTransport::Smtp => Self::Smtp(SmtpMailer {
                settings: Arc::new(smtp.clone()),
                from,
            }),
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

/// Writes each message to `<dir>/<timestamp>-<id>.eml`.
#[derive(Clone, Debug)]
pub struct FileMailer {
    dir: PathBuf,
    from: Sender,
}

impl Mailer for FileMailer {
    async fn send(&self, message: &EmailMessage) -> Result<(), MailError> {
        let bytes = self
            .from
            .build(message)
            .write_to_vec()
            .map_err(|e| MailError(e.to_string()))?;
        tokio::fs::create_dir_all(&self.dir)
            .await
            .map_err(|e| MailError(format!("cannot create {}: {e}", self.dir.display())))?;
        let name = format!(
            "{}-{}.eml",
            chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ"),
            uuid::Uuid::now_v7()
        );
        let path = self.dir.join(name);
        tokio::fs::write(&path, bytes)
            .await
            .map_err(|e| MailError(format!("cannot write {}: {e}", path.display())))?;
        // The path, not the content: the message carries a secret link.
        tracing::info!(path = %path.display(), subject = %message.subject, "email written to file");
        Ok(())
    }
}

/// Sends through an SMTP relay, one connection per message.
#[derive(Clone, Debug)]
pub struct SmtpMailer {
    settings: Arc<SmtpSettings>,
    from: Sender,
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

impl Mailer for MailAdapter {
    async fn send(&self, message: &EmailMessage) -> Result<(), MailError> {
        match self {
            Self::File(mailer) => mailer.send(message).await,
            Self::Smtp(mailer) => mailer.send(message).await,
        }
    }
}

/// How often, at most, finished messages older than the retention are
/// deleted (more often when the retention is shorter).
const PURGE_EVERY: Duration = Duration::from_secs(60);

/// Runs the outbox relay until `shutdown` turns true: at once when `wake` is
/// notified (a message was queued here), when the earliest retry falls due,
/// and every `poll` for messages queued by other instances.
///
/// On shutdown the message being sent is finished (its SMTP exchange is
/// bounded by `smtp.timeout`) and marked; the rest of its batch is released
/// to the other instances. The caller bounds the whole wait.
pub async fn run_outbox_worker<O, M, C>(
    relay: OutboxRelay<O, M, C>,
    wake: Arc<Notify>,
    poll: Duration,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
) where
    O: OutboxRepository,
    M: Mailer,
    C: Clock,
{
    let mut last_purge: Option<std::time::Instant> = None;
    let purge_every = PURGE_EVERY.min(relay.retention());
    loop {
        let stopping = shutdown.clone();
        if let Err(err) = relay.deliver_due(|| *stopping.borrow()).await {
            tracing::warn!(error = %err, "outbox pass failed; will retry");
        }
        if *shutdown.borrow() {
            tracing::info!("outbox worker stopped");
            return;
        }
        if last_purge.is_none_or(|at| at.elapsed() >= purge_every) {
            match relay.purge_finished().await {
                Ok(0) => {}
                Ok(count) => tracing::info!(count, "finished outbox messages deleted"),
                Err(err) => tracing::warn!(error = %err, "outbox purge failed; will retry"),
            }
            last_purge = Some(std::time::Instant::now());
        }
        let next = match relay.next_due_at().await {
            Ok(Some(at)) => (at - chrono::Utc::now())
                .to_std()
                .unwrap_or(Duration::ZERO)
                .min(poll),
            Ok(None) | Err(_) => poll,
        };
        // A failed pass or a due message would spin without a floor.
        let next = next.max(Duration::from_millis(50));
        tokio::select! {
            () = wake.notified() => {}
            () = tokio::time::sleep(next) => {}
            _ = shutdown.changed() => {}
        }
    }
}
