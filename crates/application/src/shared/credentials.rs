//! The password policy and the slow hashing behind one name.

use auth_domain::password::{PasswordCheck, PasswordHasher};
use auth_domain::{Email, Password, PasswordHash, PasswordPolicy, PolicyViolation, RequestContext};

use crate::Failure;

/// Checks passwords against the policy and hashes them.
#[derive(Clone, Debug)]
pub struct Credentials<H> {
    hasher: H,
    policy: PasswordPolicy,
}

impl<H: PasswordHasher> Credentials<H> {
    /// The policy of API.md over `hasher`.
    pub fn new(hasher: H) -> Self {
        Self {
            hasher,
            policy: PasswordPolicy::default(),
        }
    }

    /// The rules a new password breaks; empty when it is acceptable.
    #[must_use]
    pub fn violations(&self, password: &Password, email: &Email) -> Vec<PolicyViolation> {
        self.policy.check(password, email)
    }

    /// Whether no account can have this password: never worth a hash.
    #[must_use]
    pub fn is_too_long(&self, password: &Password) -> bool {
        self.policy.is_too_long(password)
    }

    /// Hashes a new password.
    ///
    /// # Errors
    /// [`Failure::Overloaded`] when the hashing pool sheds load.
    pub async fn hash(
        &self,
        password: Password,
        ctx: &RequestContext,
    ) -> Result<PasswordHash, Failure> {
        let started = std::time::Instant::now();
        let hash = self.hasher.hash(password, &ctx.client_key()).await?;
        record_hash_time(started);
        Ok(hash)
    }

    /// Checks a password against a stored hash; an over-long password is a
    /// mismatch without a hash.
    ///
    /// # Errors
    /// [`Failure::Overloaded`] when the hashing pool sheds load.
    pub async fn verify(
        &self,
        password: Password,
        hash: PasswordHash,
        ctx: &RequestContext,
    ) -> Result<PasswordCheck, Failure> {
        if self.is_too_long(&password) {
            return Ok(PasswordCheck::Mismatch);
        }
        let started = std::time::Instant::now();
        let check = self
            .hasher
            .verify(password, hash, &ctx.client_key())
            .await?;
        record_hash_time(started);
        Ok(check)
    }

    /// Spends the same work as a real verification, for a request about an
    /// account that does not exist, so timing reveals nothing.
    ///
    /// # Errors
    /// [`Failure::Overloaded`] when the hashing pool sheds load.
    pub async fn verify_nobody(
        &self,
        password: Password,
        ctx: &RequestContext,
    ) -> Result<(), Failure> {
        let started = std::time::Instant::now();
        let _ = self
            .hasher
            .verify(password, self.hasher.dummy_hash(), &ctx.client_key())
            .await?;
        record_hash_time(started);
        Ok(())
    }
}

/// Time from asking the pool to the answer, queueing included.
fn record_hash_time(started: std::time::Instant) {
    metrics::histogram!("auth_operation_duration_seconds", "operation" => "hash_password")
        .record(started.elapsed().as_secs_f64());
}
