//! The production transport: a signed JSON POST to an SMS gateway.

use std::time::Duration;

use auth_domain::activity::{MailError, SmsMessage, SmsSender};
use auth_domain::system::Clock;
use hmac::{KeyInit as _, Mac as _};
use sha2::Sha256;

use crate::system::SharedClock;

/// The header carrying the Unix time (seconds) the request was signed at.
pub const TIMESTAMP_HEADER: &str = "X-Auth-Timestamp";
/// The header carrying `sha256=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`.
pub const SIGNATURE_HEADER: &str = "X-Auth-Signature";

/// How long one delivery may take before the outbox retries it.
const TIMEOUT: Duration = Duration::from_secs(10);

type HmacSha256 = hmac::Hmac<Sha256>;

/// The JSON the gateway receives (fields in this order).
#[derive(serde::Serialize)]
struct Payload<'a> {
    to: &'a str,
    body: &'a str,
}

/// POSTs `{"to": …, "body": …}` to `sms.webhook_url`, signed with
/// `sms.webhook_secret`: the receiver recomputes the HMAC over the
/// timestamp header, a `.`, and the raw body, compares in constant time,
/// and should refuse a timestamp more than a few minutes old (replays).
/// Any answer but 2xx is a failed delivery, retried by the outbox.
/// Redirects are not followed: a signed code goes only where configured.
#[derive(Clone)]
pub struct WebhookSms {
    url: reqwest::Url,
    secret: Secret,
    client: reqwest::Client,
    clock: SharedClock,
}

/// The signing key: never shown.
#[derive(Clone)]
struct Secret(Vec<u8>);

impl std::fmt::Debug for WebhookSms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Scheme, host and path only: credentials or tokens in the URL stay
        // out of logs too.
        f.debug_struct("WebhookSms")
            .field("endpoint", &endpoint(&self.url))
            .field("secret", &"[redacted]")
            .finish_non_exhaustive()
    }
}

fn endpoint(url: &reqwest::Url) -> String {
    format!(
        "{}://{}{}",
        url.scheme(),
        url.host_str().unwrap_or_default(),
        url.path()
    )
}

impl WebhookSms {
    /// Posts to `url` (http or https), signing with `secret`.
    ///
    /// # Errors
    /// When the URL is not an http(s) URL, the secret is empty, or the HTTP
    /// client cannot be built.
    pub fn new(url: &str, secret: &str, clock: SharedClock) -> anyhow::Result<Self> {
        let url = reqwest::Url::parse(url)
            .map_err(|e| anyhow::anyhow!("sms.webhook_url is not a URL: {e}"))?;
        anyhow::ensure!(
            matches!(url.scheme(), "http" | "https"),
            "sms.webhook_url must be an http or https URL"
        );
        anyhow::ensure!(!secret.is_empty(), "sms.webhook_secret is empty");
        let client = reqwest::Client::builder()
            .timeout(TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("auth-service/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| anyhow::anyhow!("cannot build the sms webhook client: {e}"))?;
        Ok(Self {
            url,
            secret: Secret(secret.as_bytes().to_vec()),
            client,
            clock,
        })
    }

    /// `sha256=<hex>` over `"<timestamp>.<body>"`.
    fn sign(&self, timestamp: i64, body: &[u8]) -> Result<String, MailError> {
        let mut mac = HmacSha256::new_from_slice(&self.secret.0)
            .map_err(|e| MailError(format!("sms webhook key: {e}")))?;
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        let digest = mac.finalize().into_bytes();
        let mut signature = String::with_capacity(7 + 2 * digest.len());
        signature.push_str("sha256=");
        for byte in digest {
            use std::fmt::Write as _;
            let _ = write!(signature, "{byte:02x}");
        }
        Ok(signature)
    }
}

impl SmsSender for WebhookSms {
    async fn send(&self, message: &SmsMessage) -> Result<(), MailError> {
        let body = serde_json::to_vec(&Payload {
            to: &message.to,
            body: &message.body,
        })
        .map_err(|e| MailError(format!("sms webhook body: {e}")))?;
        let timestamp = self.clock.now().timestamp();
        let signature = self.sign(timestamp, &body)?;
        let response = self
            .client
            .post(self.url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .header(TIMESTAMP_HEADER, timestamp.to_string())
            .header(SIGNATURE_HEADER, signature)
            .body(body)
            .send()
            .await
            // Without the URL: it may carry a token.
            .map_err(|e| {
                MailError(format!(
                    "sms webhook {}: {}",
                    endpoint(&self.url),
                    e.without_url()
                ))
            })?;
        let status = response.status();
        if !status.is_success() {
            return Err(MailError(format!(
                "sms webhook {} answered {status}",
                endpoint(&self.url)
            )));
        }
        tracing::info!(endpoint = %endpoint(&self.url), %status, "sms handed to the webhook");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    use tokio::net::TcpListener;

    use super::*;

    #[derive(Debug)]
    struct FixedClock;

    impl Clock for FixedClock {
        fn now(&self) -> auth_domain::Timestamp {
            chrono::DateTime::from_timestamp(1_700_000_000, 0).expect("time")
        }
    }

    /// What the test server received.
    #[derive(Debug)]
    struct Received {
        head: String,
        body: Vec<u8>,
    }

    impl Received {
        fn header(&self, name: &str) -> Option<&str> {
            self.head.lines().skip(1).find_map(|line| {
                let (key, value) = line.split_once(':')?;
                key.trim()
                    .eq_ignore_ascii_case(name)
                    .then_some(value.trim())
            })
        }
    }

    /// A one-request HTTP server on 127.0.0.1:0 answering `status`.
    async fn serve_once(status: u16) -> (String, tokio::task::JoinHandle<Received>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!(
            "http://{}/sms/send?token=abc",
            listener.local_addr().expect("addr")
        );
        let task = tokio::spawn(async move {
            let (mut stream, _) = listener.accept().await.expect("accept");
            let mut buf = Vec::new();
            let mut chunk = [0u8; 4096];
            let head_end = loop {
                let n = stream.read(&mut chunk).await.expect("read");
                assert!(n > 0, "connection closed before the headers ended");
                buf.extend_from_slice(&chunk[..n]);
                if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    break at + 4;
                }
            };
            let head = String::from_utf8(buf[..head_end].to_vec()).expect("utf-8 head");
            let length: usize = head
                .lines()
                .find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case("content-length")
                        .then(|| v.trim().parse().expect("length"))
                })
                .expect("content-length");
            while buf.len() < head_end + length {
                let n = stream.read(&mut chunk).await.expect("read");
                assert!(n > 0, "connection closed before the body ended");
                buf.extend_from_slice(&chunk[..n]);
            }
            let reason = if status == 200 {
                "OK"
            } else {
                "Internal Server Error"
            };
            let answer = format!(
                "HTTP/1.1 {status} {reason}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
            );
            stream.write_all(answer.as_bytes()).await.expect("write");
            stream.shutdown().await.expect("shutdown");
            Received {
                head,
                body: buf[head_end..head_end + length].to_vec(),
            }
        });
        (url, task)
    }

    fn message() -> SmsMessage {
        SmsMessage {
            to: "+15551234567".into(),
            body: "Your code is 123456".into(),
        }
    }

    #[tokio::test]
    async fn posts_signed_json() {
        let (url, server) = serve_once(200).await;
        let sender = WebhookSms::new(&url, "webhook-secret", Arc::new(FixedClock)).expect("sender");
        sender.send(&message()).await.expect("delivered");
        let received = server.await.expect("server");

        assert!(
            received
                .head
                .starts_with("POST /sms/send?token=abc HTTP/1.1\r\n"),
            "{}",
            received.head
        );
        assert_eq!(received.header("content-type"), Some("application/json"));
        assert_eq!(
            received.body,
            br#"{"to":"+15551234567","body":"Your code is 123456"}"#
        );
        let json: serde_json::Value = serde_json::from_slice(&received.body).expect("json");
        assert_eq!(
            json,
            serde_json::json!({"to": "+15551234567", "body": "Your code is 123456"})
        );
        assert_eq!(received.header(TIMESTAMP_HEADER), Some("1700000000"));

        // Verify as a receiver would.
        let signature = received.header(SIGNATURE_HEADER).expect("signature");
        let hex = signature.strip_prefix("sha256=").expect("sha256=");
        let expected: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).expect("hex"))
            .collect();
        let mut mac = HmacSha256::new_from_slice(b"webhook-secret").expect("key");
        mac.update(b"1700000000.");
        mac.update(&received.body);
        mac.verify_slice(&expected).expect("signature verifies");

        let mut wrong = HmacSha256::new_from_slice(b"another-secret").expect("key");
        wrong.update(b"1700000000.");
        wrong.update(&received.body);
        assert!(wrong.verify_slice(&expected).is_err());
    }

    #[tokio::test]
    async fn a_non_2xx_answer_is_a_failed_delivery() {
        let (url, server) = serve_once(500).await;
        let sender = WebhookSms::new(&url, "webhook-secret", Arc::new(FixedClock)).expect("sender");
        let error = sender.send(&message()).await.expect_err("500 fails");
        server.await.expect("server");
        let shown = error.to_string();
        assert!(shown.contains("500"), "{shown}");
        assert!(!shown.contains("token=abc"), "no query in errors: {shown}");
    }

    #[tokio::test]
    async fn an_unreachable_gateway_is_a_failed_delivery() {
        // A port nothing listens on any more.
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let url = format!(
            "http://{}/sms?token=abc",
            listener.local_addr().expect("addr")
        );
        drop(listener);
        let sender = WebhookSms::new(&url, "webhook-secret", Arc::new(FixedClock)).expect("sender");
        let error = sender.send(&message()).await.expect_err("refused");
        assert!(!error.to_string().contains("token=abc"), "{error}");
    }

    #[test]
    fn refuses_bad_settings_and_never_shows_the_secret() {
        let clock: SharedClock = Arc::new(FixedClock);
        assert!(WebhookSms::new("not a url", "s", clock.clone()).is_err());
        assert!(WebhookSms::new("ftp://example.com/x", "s", clock.clone()).is_err());
        assert!(WebhookSms::new("https://example.com/x", "", clock.clone()).is_err());
        let sender = WebhookSms::new(
            "https://user:pw@example.com/sms?token=abc",
            "webhook-secret",
            clock,
        )
        .expect("sender");
        let shown = format!("{sender:?}");
        assert!(!shown.contains("webhook-secret"), "{shown}");
        assert!(!shown.contains("pw"), "{shown}");
        assert!(!shown.contains("token"), "{shown}");
        assert!(shown.contains("https://example.com/sms"), "{shown}");
    }
}
