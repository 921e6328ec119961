//! The development transport: each message as a text file.

use std::path::PathBuf;

use auth_domain::activity::{MailError, SmsMessage, SmsSender};
use auth_domain::system::Clock;

use crate::system::SharedClock;

/// Writes each message to `<dir>/<timestamp>-<id>.txt`: a `To:` line, a
/// blank line, then the text.
#[derive(Clone)]
pub struct FileSms {
    dir: PathBuf,
    clock: SharedClock,
}

impl std::fmt::Debug for FileSms {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileSms")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl FileSms {
    /// Writes into `dir` (created when missing), naming files by `clock`'s
    /// time.
    #[must_use]
    pub fn new(dir: PathBuf, clock: SharedClock) -> Self {
        Self { dir, clock }
    }
}

impl SmsSender for FileSms {
    async fn send(&self, message: &SmsMessage) -> Result<(), MailError> {
        tokio::fs::create_dir_all(&self.dir)
            .await
            .map_err(|e| MailError(format!("cannot create {}: {e}", self.dir.display())))?;
        let name = format!(
            "{}-{}.txt",
            self.clock.now().format("%Y%m%dT%H%M%S%.3fZ"),
            uuid::Uuid::now_v7()
        );
        let path = self.dir.join(name);
        let contents = format!("To: {}\n\n{}\n", message.to, message.body);
        tokio::fs::write(&path, contents)
            .await
            .map_err(|e| MailError(format!("cannot write {}: {e}", path.display())))?;
        // The path, not the content: the text carries a code.
        tracing::info!(path = %path.display(), "sms written to file");
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[derive(Debug)]
    struct FixedClock;

    impl Clock for FixedClock {
        fn now(&self) -> auth_domain::Timestamp {
            chrono::DateTime::from_timestamp(1_700_000_000, 0).expect("time")
        }
    }

    #[tokio::test]
    async fn writes_a_readable_file_per_message() {
        let dir = tempfile::tempdir().expect("tempdir");
        let out = dir.path().join("var").join("sms");
        let sender = FileSms::new(out.clone(), Arc::new(FixedClock));
        let message = SmsMessage {
            to: "+15551234567".into(),
            body: "Your code is 123456".into(),
        };
        sender.send(&message).await.expect("send");
        sender.send(&message).await.expect("send");

        let mut files: Vec<_> = std::fs::read_dir(&out)
            .expect("dir")
            .map(|entry| entry.expect("entry").path())
            .collect();
        files.sort();
        assert_eq!(files.len(), 2, "one file per message");
        let name = files[0]
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        assert!(name.starts_with("20231114T221320.000Z-"), "{name}");
        assert!(name.ends_with(".txt"), "{name}");
        assert_eq!(
            std::fs::read_to_string(&files[0]).expect("read"),
            "To: +15551234567\n\nYour code is 123456\n"
        );
    }
}
