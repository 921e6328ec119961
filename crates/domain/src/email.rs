//! The email address value object.

use std::fmt;

/// A syntactically valid email address, trimmed and lower-cased, so that one
/// mailbox maps to one account whatever the case it was typed in.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Email(String);

/// Why a string is not an acceptable email address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    /// Empty after trimming.
    #[error("email is required")]
    Empty,
    /// Longer than RFC 5321 allows (254 characters).
    #[error("email is too long")]
    TooLong,
    /// Not of the form `local@domain.tld`.
    #[error("email is not a valid address")]
    Malformed,
}

impl Email {
    /// Longest address SMTP can carry (RFC 5321 §4.5.3.1).
    pub const MAX_LEN: usize = 254;

    /// Normalizes (trim, lower-case) and validates an address.
    ///
    /// # Errors
    /// [`EmailError`] names the first rule the input breaks.
    pub fn parse(raw: &str) -> Result<Self, EmailError> {
        let normalized = raw.trim().to_lowercase();
        if normalized.is_empty() {
            return Err(EmailError::Empty);
        }
        if normalized.len() > Self::MAX_LEN {
            return Err(EmailError::TooLong);
        }
        let (local, domain) = normalized.split_once('@').ok_or(EmailError::Malformed)?;
        let local_ok = !local.is_empty() && local.len() <= 64;
        let domain_ok = domain.contains('.')
            && !domain.starts_with('.')
            && !domain.ends_with('.')
            && !domain.contains("..")
            && domain
                .chars()
                .all(|c| c.is_alphanumeric() || c == '-' || c == '.');
        let no_forbidden = !normalized.chars().any(|c| {
            c.is_whitespace() || c.is_control() || matches!(c, '<' | '>' | ',' | ';' | '"')
        }) && !domain.contains('@');
        if local_ok && domain_ok && no_forbidden {
            Ok(Self(normalized))
        } else {
            Err(EmailError::Malformed)
        }
    }

    /// Wraps an address that was normalized before it was stored.
    #[must_use]
    pub fn from_trusted(stored: String) -> Self {
        Self(stored)
    }

    /// The normalized address.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes_case_and_whitespace() {
        let email = Email::parse("  Alice@Example.COM ").expect("valid");
        assert_eq!(email.as_str(), "alice@example.com");
    }

    #[test]
    fn rejects_malformed_addresses() {
        for raw in [
            "",
            "   ",
            "alice",
            "alice@",
            "@example.com",
            "alice@example",
            "a b@example.com",
            "alice@example..com",
            "alice@.example.com",
            "alice@example.com.",
            "a@b@example.com",
        ] {
            assert!(Email::parse(raw).is_err(), "{raw:?} should be rejected");
        }
    }

    #[test]
    fn rejects_overlong_addresses() {
        let raw = format!("{}@example.com", "a".repeat(250));
        assert_eq!(Email::parse(&raw), Err(EmailError::TooLong));
    }
}
