//! The development transport: each message as a `.eml` file.

use std::path::PathBuf;

use auth_domain::EmailMessage;
use auth_domain::activity::{MailError, Mailer};
use auth_domain::system::Clock;

use super::Sender;
use crate::system::SharedClock;

/// Writes each message to `<dir>/<timestamp>-<id>.eml`.
#[derive(Clone)]
pub struct FileMailer {
    dir: PathBuf,
    from: Sender,
    clock: SharedClock,
}

impl std::fmt::Debug for FileMailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FileMailer")
            .field("dir", &self.dir)
            .finish_non_exhaustive()
    }
}

impl FileMailer {
    /// Writes into `dir`, naming files by `clock`'s time.
    pub(super) fn new(dir: PathBuf, from: Sender, clock: SharedClock) -> Self {
        Self { dir, from, clock }
    }
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
            self.clock.now().format("%Y%m%dT%H%M%S%.3fZ"),
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
