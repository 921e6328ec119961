//! A second-factor method of a user and the codes sent for it.

use std::time::Duration;

use crate::{Email, MethodId, Timestamp, TokenHash, UserId};

/// How long a method waits for its confirming code.
pub const PENDING_METHOD_TTL: Duration = Duration::from_secs(15 * 60);

/// The kinds of method.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MethodKind {
    /// RFC 6238 codes from an authenticator app.
    Totp,
    /// Codes mailed to the account's address.
    Email,
    /// Codes sent by SMS.
    Sms,
}

impl MethodKind {
    /// The API and storage name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Totp => "totp",
            Self::Email => "email",
            Self::Sms => "sms",
        }
    }

    /// Parses a stored or requested name.
    #[must_use]
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "totp" => Some(Self::Totp),
            "email" => Some(Self::Email),
            "sms" => Some(Self::Sms),
            _ => None,
        }
    }

    /// Whether codes are sent (and so need a challenge).
    #[must_use]
    pub const fn sends_codes(self) -> bool {
        matches!(self, Self::Email | Self::Sms)
    }
}

/// Whether a method is usable.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MethodStatus {
    /// Set up, waiting for its first code (for [`PENDING_METHOD_TTL`]).
    Pending,
    /// Confirmed: a second factor of the user.
    Active,
}

impl MethodStatus {
    /// The API and storage name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Active => "active",
        }
    }

    /// Parses a stored name.
    #[must_use]
    pub fn parse(raw: &str) -> Option<Self> {
        match raw {
            "pending" => Some(Self::Pending),
            "active" => Some(Self::Active),
            _ => None,
        }
    }
}

/// A TOTP secret encrypted at rest (nonce and ciphertext, encoded); only a
/// [`super::SecretBox`] opens it.
#[derive(Clone, PartialEq, Eq)]
pub struct SealedSecret(pub String);

impl std::fmt::Debug for SealedSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealedSecret([sealed])")
    }
}

/// An E.164 phone number (`+` and 8 to 15 digits).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Phone(String);

impl Phone {
    /// Parses an E.164 number; spaces, dashes, dots and parentheses are
    /// dropped first.
    #[must_use]
    pub fn parse(raw: &str) -> Option<Self> {
        let compact: String = raw
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
            .collect();
        let digits = compact.strip_prefix('+')?;
        let valid = (8..=15).contains(&digits.len())
            && digits.chars().all(|c| c.is_ascii_digit())
            && !digits.starts_with('0');
        valid.then_some(Self(compact))
    }

    /// Wraps a stored number.
    #[must_use]
    pub fn from_stored(number: String) -> Self {
        Self(number)
    }

    /// The number.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// `+•••••••42`: the plus, one dot per hidden digit, the last two.
    #[must_use]
    pub fn masked(&self) -> String {
        let digits: Vec<char> = self.0.chars().skip(1).collect();
        let shown = digits.len().saturating_sub(2);
        let mut out = String::from("+");
        out.extend(std::iter::repeat_n('•', shown));
        out.extend(&digits[shown..]);
        out
    }
}

/// `a•••@example.com`: the first character of the local part, three dots,
/// the domain.
#[must_use]
pub fn mask_email(email: &Email) -> String {
    let (local, domain) = email
        .as_str()
        .split_once('@')
        .unwrap_or((email.as_str(), ""));
    let first: String = local.chars().take(1).collect();
    format!("{first}•••@{domain}")
}

/// One second-factor method.
#[derive(Clone, Debug)]
pub struct MfaMethod {
    /// Its id.
    pub id: MethodId,
    /// Its owner.
    pub user_id: UserId,
    /// What it is.
    pub kind: MethodKind,
    /// The name the user gave it (unique per user).
    pub name: String,
    /// Pending or active.
    pub status: MethodStatus,
    /// TOTP: the encrypted secret.
    pub secret: Option<SealedSecret>,
    /// SMS: the number.
    pub phone: Option<Phone>,
    /// TOTP: the last time step a code was accepted for (no replay).
    pub last_used_step: Option<u64>,
    /// When it was set up.
    pub created_at: Timestamp,
    /// When its last code was accepted.
    pub last_used_at: Option<Timestamp>,
}

impl MfaMethod {
    /// Whether it counts as a second factor.
    #[must_use]
    pub fn is_active(&self) -> bool {
        self.status == MethodStatus::Active
    }

    /// Whether it is a setup that can still be confirmed at `now`.
    #[must_use]
    pub fn is_confirmable(&self, now: Timestamp) -> bool {
        self.status == MethodStatus::Pending
            && crate::after(self.created_at, PENDING_METHOD_TTL) > now
    }

    /// Whether it takes a slot (active, or pending and not expired).
    #[must_use]
    pub fn is_live(&self, now: Timestamp) -> bool {
        self.is_active() || self.is_confirmable(now)
    }

    /// The masked address or number shown for it, never the full one.
    #[must_use]
    pub fn hint(&self, email: &Email) -> Option<String> {
        match self.kind {
            MethodKind::Totp => None,
            MethodKind::Email => Some(mask_email(email)),
            MethodKind::Sms => self.phone.as_ref().map(Phone::masked),
        }
    }
}

/// A code sent by email or SMS, stored hashed, with its own tries.
#[derive(Clone, Debug)]
pub struct CodeChallenge {
    /// Its id (`challenge_id`).
    pub id: crate::ChallengeId,
    /// The method it was sent for.
    pub method_id: MethodId,
    /// The method's owner.
    pub user_id: UserId,
    /// SHA-256 of the challenge id and the code.
    pub code_hash: TokenHash,
    /// When it was sent.
    pub created_at: Timestamp,
    /// When it stops working.
    pub expires_at: Timestamp,
    /// Wrong codes so far.
    pub attempts: u32,
    /// When it was used.
    pub consumed_at: Option<Timestamp>,
}

impl CodeChallenge {
    /// The stored hash of `code` for the challenge `id`.
    #[must_use]
    pub fn hash_code(id: crate::ChallengeId, code: &str) -> TokenHash {
        TokenHash::of(format!("{id}:{code}").as_bytes())
    }

    /// Whether `code` is this challenge's code (constant time).
    #[must_use]
    pub fn matches(&self, code: &str) -> bool {
        use subtle::ConstantTimeEq as _;
        let candidate = Self::hash_code(self.id, code);
        bool::from(
            candidate
                .as_str()
                .as_bytes()
                .ct_eq(self.code_hash.as_str().as_bytes()),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_parse_as_e164_and_mask_all_but_two_digits() {
        let phone = Phone::parse("+49 151 2345-6742").expect("valid");
        assert_eq!(phone.as_str(), "+4915123456742");
        assert_eq!(phone.masked(), "+•••••••••••42");
        assert!(Phone::parse("0151 234567").is_none(), "no plus");
        assert!(Phone::parse("+0151234567").is_none(), "no country code 0");
        assert!(Phone::parse("+1234567").is_none(), "too short");
        assert!(Phone::parse("+1234567890123456").is_none(), "too long");
        assert!(Phone::parse("+12345abc90").is_none());
    }

    #[test]
    fn emails_mask_to_the_first_letter_and_the_domain() {
        let email = Email::parse("alice@example.com").expect("email");
        assert_eq!(mask_email(&email), "a•••@example.com");
    }
}
