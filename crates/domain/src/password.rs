//! Passwords, their stored hashes, the password policy, and the hashing port.

use std::fmt;
use std::future::Future;
use std::time::Duration;

use crate::email::Email;

/// A password as typed by a user. Never logged, never serialized.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    /// Wraps a password taken from a request.
    #[must_use]
    pub fn new(raw: String) -> Self {
        Self(raw)
    }

    /// The secret, for the hasher and the policy only.
    #[must_use]
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password([redacted])")
    }
}

/// A password hash in PHC string format (`$pbkdf2-sha256$i=…,l=32$salt$hash`).
/// Carries its own parameters, so old hashes keep verifying after the
/// configured cost changes.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

impl PasswordHash {
    /// Wraps a PHC string produced by a hasher or read from storage.
    #[must_use]
    pub fn new(phc: String) -> Self {
        Self(phc)
    }

    /// The PHC string, for storage.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHash([redacted])")
    }
}

/// One rule of the password policy that a password breaks. The codes are part
/// of the API contract (`errors[].code` of `weak_password`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyViolation {
    /// Fewer than the minimum number of characters.
    TooShort,
    /// More than the maximum number of characters.
    TooLong,
    /// No uppercase letter.
    MissingUppercase,
    /// No lowercase letter.
    MissingLowercase,
    /// No digit.
    MissingDigit,
    /// The same as the account's email address.
    SameAsEmail,
    /// Guessable: a common password or a trivial variation of one.
    TooCommon,
}

impl PolicyViolation {
    /// The stable machine-readable code.
    #[must_use]
    pub const fn code(self) -> &'static str {
        match self {
            Self::TooShort => "too_short",
            Self::TooLong => "too_long",
            Self::MissingUppercase => "missing_uppercase",
            Self::MissingLowercase => "missing_lowercase",
            Self::MissingDigit => "missing_digit",
            Self::SameAsEmail => "same_as_email",
            Self::TooCommon => "too_common",
        }
    }

    /// A human-readable explanation.
    #[must_use]
    pub const fn message(self) -> &'static str {
        match self {
            Self::TooShort => "Password must be at least 8 characters long",
            Self::TooLong => "Password must be at most 128 characters long",
            Self::MissingUppercase => "Password must contain an uppercase letter",
            Self::MissingLowercase => "Password must contain a lowercase letter",
            Self::MissingDigit => "Password must contain a digit",
            Self::SameAsEmail => "Password must not be the same as the email address",
            Self::TooCommon => "Password is too common or easy to guess",
        }
    }
}

/// The password policy of API.md.
#[derive(Clone, Copy, Debug)]
pub struct PasswordPolicy {
    /// Minimum length in characters.
    pub min_len: usize,
    /// Maximum length in characters; longer passwords are never hashed.
    pub max_len: usize,
    /// Minimum zxcvbn score (0–4) a password must reach.
    pub min_strength: u8,
}

impl PasswordPolicy {
    /// Whether a password is longer than any account can have: refused
    /// without spending a hash on it.
    #[must_use]
    pub fn is_too_long(&self, password: &Password) -> bool {
        password.expose().chars().count() > self.max_len
    }
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        Self {
            min_len: 8,
            max_len: 128,
            min_strength: 2,
        }
    }
}

impl PasswordPolicy {
    /// Every rule the password breaks, in a stable order; empty when it passes.
    ///
    /// An overlong password is reported as `too_long` alone: it is never
    /// examined further, so it costs nothing to reject.
    #[must_use]
    pub fn check(&self, password: &Password, email: &Email) -> Vec<PolicyViolation> {
        let pw = password.expose();
        let len = pw.chars().count();
        if len > self.max_len {
            return vec![PolicyViolation::TooLong];
        }
        let mut violations = Vec::new();
        if len < self.min_len {
            violations.push(PolicyViolation::TooShort);
        }
        if !pw.chars().any(char::is_uppercase) {
            violations.push(PolicyViolation::MissingUppercase);
        }
        if !pw.chars().any(char::is_lowercase) {
            violations.push(PolicyViolation::MissingLowercase);
        }
        if !pw.chars().any(|c| c.is_ascii_digit()) {
            violations.push(PolicyViolation::MissingDigit);
        }
        if pw.trim().to_lowercase() == email.as_str() {
            violations.push(PolicyViolation::SameAsEmail);
        }
        // zxcvbn knows common passwords, keyboard walks, dates and l33t
        // variations; the email is a user input it also penalizes.
        let local_part = email.as_str().split('@').next().unwrap_or_default();
        let score = zxcvbn::zxcvbn(pw, &[email.as_str(), local_part]).score();
        if u8::from(score) < self.min_strength {
            violations.push(PolicyViolation::TooCommon);
        }
        violations
    }
}

/// Why a password could not be hashed or verified.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// The hashing pool's queue is full: shed load, ask the client to retry.
    #[error("password hashing pool is saturated")]
    Busy {
        /// A reasonable time to wait.
        retry_after: Duration,
    },
    /// This client already holds its fair share of the pool.
    #[error("this client holds its share of the hashing pool")]
    ClientBusy {
        /// A reasonable time to wait.
        retry_after: Duration,
    },
    /// The stored hash is unreadable or the hasher failed.
    #[error("password hashing failed: {0}")]
    Failed(String),
}

/// Result of checking a password against a hash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PasswordCheck {
    /// Wrong password.
    Mismatch,
    /// Right password; `needs_rehash` when the hash has outdated parameters.
    Match {
        /// The hash should be replaced by one with current parameters.
        needs_rehash: bool,
    },
}

/// Slow, salted password hashing. Implementations keep the CPU-bound work off
/// the request threads, and let no one `client` (a client key) hold more
/// than a fair share of the pool.
pub trait PasswordHasher: Send + Sync + 'static {
    /// Hashes with the current parameters.
    fn hash(
        &self,
        password: Password,
        client: &str,
    ) -> impl Future<Output = Result<PasswordHash, HashError>> + Send;

    /// Checks a password against a stored hash.
    fn verify(
        &self,
        password: Password,
        hash: PasswordHash,
        client: &str,
    ) -> impl Future<Output = Result<PasswordCheck, HashError>> + Send;

    /// A valid hash of no one's password, to verify against when an account
    /// does not exist so that timing reveals nothing.
    fn dummy_hash(&self) -> PasswordHash;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email() -> Email {
        Email::parse("alice@example.com").expect("valid")
    }

    fn check(pw: &str) -> Vec<PolicyViolation> {
        PasswordPolicy::default().check(&Password::new(pw.into()), &email())
    }

    #[test]
    fn strong_password_passes() {
        assert!(check("Correct-Horse-9-Battery").is_empty());
    }

    #[test]
    fn each_rule_is_reported() {
        use PolicyViolation::*;
        assert!(check("Ab1").contains(&TooShort));
        assert!(check("lowercase-only-99-words").contains(&MissingUppercase));
        assert!(check("UPPERCASE-ONLY-99-WORDS").contains(&MissingLowercase));
        assert!(check("No-Digits-Here-Anywhere").contains(&MissingDigit));
        assert!(check("Password1").contains(&TooCommon));
        assert_eq!(check(&"Aa1".repeat(50)), vec![TooLong]);
    }

    #[test]
    fn password_equal_to_email_is_rejected() {
        let email = Email::parse("Strong.Mail9@Example.com").expect("valid");
        let found = PasswordPolicy::default()
            .check(&Password::new("strong.mail9@example.com".into()), &email);
        assert!(found.contains(&PolicyViolation::SameAsEmail));
    }

    #[test]
    fn secrets_are_redacted_in_debug() {
        assert_eq!(
            format!("{:?}", Password::new("hunter2".into())),
            "Password([redacted])"
        );
        assert_eq!(
            format!("{:?}", PasswordHash::new("$pbkdf2".into())),
            "PasswordHash([redacted])"
        );
    }
}
