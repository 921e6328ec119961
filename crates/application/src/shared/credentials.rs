//! The password policy and the slow hashing behind one name.

use auth_domain::password::{PasswordCheck, PasswordHasher};
use auth_domain::{Email, Password, PasswordHash, PasswordPolicy, PolicyViolation};

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
    pub async fn hash(&self, password: Password) -> Result<PasswordHash, Failure> {
        Ok(self.hasher.hash(password).await?)
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
    ) -> Result<PasswordCheck, Failure> {
        if self.is_too_long(&password) {
            return Ok(PasswordCheck::Mismatch);
        }
        Ok(self.hasher.verify(password, hash).await?)
    }

    /// Spends the same work as a real verification, for a request about an
    /// account that does not exist, so timing reveals nothing.
    ///
    /// # Errors
    /// [`Failure::Overloaded`] when the hashing pool sheds load.
    pub async fn verify_nobody(&self, password: Password) -> Result<(), Failure> {
        let _ = self
            .hasher
            .verify(password, self.hasher.dummy_hash())
            .await?;
        Ok(())
    }
}
