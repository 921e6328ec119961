//! A real SMTP server in the test process: accepts what the service sends,
//! parses it, and can be told to refuse mail (an outage).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::Mutex;

/// A delivered message.
#[derive(Clone, Debug)]
pub struct ReceivedMail {
    pub envelope_to: Vec<String>,
    pub raw: Vec<u8>,
    pub subject: String,
    pub text: String,
    pub html: String,
}

impl ReceivedMail {
    fn parse(envelope_to: Vec<String>, raw: Vec<u8>) -> Self {
        let parsed = mail_parser::MessageParser::default().parse(&raw[..]);
        let (subject, text, html) = parsed.as_ref().map_or_else(Default::default, |m| {
            (
                m.subject().unwrap_or_default().to_owned(),
                m.body_text(0).map(|t| t.into_owned()).unwrap_or_default(),
                m.body_html(0).map(|t| t.into_owned()).unwrap_or_default(),
            )
        });
        Self {
            envelope_to,
            raw,
            subject,
            text,
            html,
        }
    }

    /// The link in the text part.
    pub fn link(&self) -> String {
        self.text
            .split_whitespace()
            .find(|w| w.starts_with("http"))
            .expect("a link in the text part")
            .to_owned()
    }

    /// The token of the link.
    pub fn link_token(&self) -> String {
        self.link()
            .split("token=")
            .nth(1)
            .expect("token in the link")
            .to_owned()
    }
}

#[derive(Default)]
struct Inbox {
    mails: Vec<ReceivedMail>,
}

/// The server and what it received.
#[derive(Clone)]
pub struct MailSink {
    port: u16,
    inbox: Arc<Mutex<Inbox>>,
    refusing: Arc<AtomicBool>,
}

impl MailSink {
    /// Listens on 127.0.0.1:0.
    pub async fn start() -> Self {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("smtp listener");
        let port = listener.local_addr().expect("addr").port();
        let sink = Self {
            port,
            inbox: Arc::default(),
            refusing: Arc::default(),
        };
        let server = sink.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let session = server.clone();
                tokio::spawn(async move {
                    let _ = session.serve(stream).await;
                });
            }
        });
        sink
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// While set, every message is refused with a transient 451.
    pub fn refuse(&self, refusing: bool) {
        self.refusing.store(refusing, Ordering::SeqCst);
    }

    /// Everything received so far.
    pub async fn all(&self) -> Vec<ReceivedMail> {
        self.inbox.lock().await.mails.clone()
    }

    /// The first message to `to`, polling until `deadline`.
    pub async fn wait_for(&self, to: &str, deadline: Duration) -> ReceivedMail {
        let to = to.to_lowercase();
        crate::eventually(deadline, || async {
            self.inbox
                .lock()
                .await
                .mails
                .iter()
                .find(|m| m.envelope_to.iter().any(|r| r.to_lowercase() == to))
                .cloned()
        })
        .await
        .unwrap_or_else(|| panic!("no mail to {to} within {deadline:?}"))
    }

    /// The first message to `to` whose subject contains `subject`, polling
    /// until `deadline`.
    pub async fn wait_for_subject(
        &self,
        to: &str,
        subject: &str,
        deadline: Duration,
    ) -> ReceivedMail {
        let to = to.to_lowercase();
        crate::eventually(deadline, || async {
            self.inbox
                .lock()
                .await
                .mails
                .iter()
                .rev()
                .find(|m| {
                    m.envelope_to.iter().any(|r| r.to_lowercase() == to)
                        && m.subject.contains(subject)
                })
                .cloned()
        })
        .await
        .unwrap_or_else(|| panic!("no mail to {to} about {subject:?} within {deadline:?}"))
    }

    /// How many messages went to `to`.
    pub async fn count_for(&self, to: &str) -> usize {
        let to = to.to_lowercase();
        self.inbox
            .lock()
            .await
            .mails
            .iter()
            .filter(|m| m.envelope_to.iter().any(|r| r.to_lowercase() == to))
            .count()
    }

    async fn serve(&self, stream: tokio::net::TcpStream) -> std::io::Result<()> {
        let (read, mut write) = stream.into_split();
        let mut lines = BufReader::new(read);
        write.write_all(b"220 sink.test ESMTP\r\n").await?;
        let mut recipients = Vec::new();
        let mut line = String::new();
        loop {
            line.clear();
            if lines.read_line(&mut line).await? == 0 {
                return Ok(());
            }
            let command = line.trim_end().to_ascii_uppercase();
            let reply: &[u8] = if command.starts_with("EHLO") {
                b"250-sink.test\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n"
            } else if command.starts_with("MAIL FROM") {
                recipients.clear();
                if self.refusing.load(Ordering::SeqCst) {
                    b"451 4.3.0 try again later\r\n"
                } else {
                    b"250 OK\r\n"
                }
            } else if command.starts_with("RCPT TO") {
                let address = line.trim_end()[8..]
                    .trim()
                    .trim_start_matches('<')
                    .split('>')
                    .next()
                    .unwrap_or_default()
                    .to_owned();
                recipients.push(address);
                b"250 OK\r\n"
            } else if command == "DATA" {
                write.write_all(b"354 end with <CRLF>.<CRLF>\r\n").await?;
                let mut raw = Vec::new();
                loop {
                    line.clear();
                    if lines.read_line(&mut line).await? == 0 {
                        return Ok(());
                    }
                    if line == ".\r\n" || line == ".\n" {
                        break;
                    }
                    let content = line.strip_prefix('.').unwrap_or(&line);
                    raw.extend_from_slice(content.as_bytes());
                }
                let mail = ReceivedMail::parse(std::mem::take(&mut recipients), raw);
                self.inbox.lock().await.mails.push(mail);
                b"250 OK queued\r\n"
            } else if command == "QUIT" {
                write.write_all(b"221 bye\r\n").await?;
                return Ok(());
            } else {
                b"250 OK\r\n"
            };
            write.write_all(reply).await?;
        }
    }
}
