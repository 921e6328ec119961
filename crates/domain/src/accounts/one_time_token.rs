//! Single-use tokens sent by email (verification, password reset).

use crate::{Timestamp, TokenHash, TokenId, UserId};

/// What a one-time token proves.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenPurpose {
    /// Ownership of the email address.
    VerifyEmail,
    /// The right to set a new password.
    ResetPassword,
}

impl TokenPurpose {
    /// The stored name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::VerifyEmail => "verify_email",
            Self::ResetPassword => "reset_password",
        }
    }

    /// Parses a stored name.
    #[must_use]
    pub fn from_stored(name: &str) -> Option<Self> {
        match name {
            "verify_email" => Some(Self::VerifyEmail),
            "reset_password" => Some(Self::ResetPassword),
            _ => None,
        }
    }
}

/// A stored one-time token: only its hash is kept.
#[derive(Clone, Debug)]
pub struct OneTimeToken {
    /// Record id.
    pub id: TokenId,
    /// Whose token it is.
    pub user_id: UserId,
    /// What it may be used for.
    pub purpose: TokenPurpose,
    /// SHA-256 of the secret that was mailed.
    pub token_hash: TokenHash,
    /// When it was issued.
    pub created_at: Timestamp,
    /// When it stops working.
    pub expires_at: Timestamp,
    /// When it was used, or superseded by a newer token.
    pub consumed_at: Option<Timestamp>,
}

/// Whether a presented one-time token may be used now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenState {
    /// Unused and within its lifetime.
    Usable,
    /// Already used or superseded.
    Consumed,
    /// Past its lifetime.
    Expired,
}

impl OneTimeToken {
    /// Its state at `now`. A consumed token is reported as consumed even when
    /// it has also expired: "already used" is the more useful answer.
    #[must_use]
    pub fn state(&self, now: Timestamp) -> TokenState {
        if self.consumed_at.is_some() {
            TokenState::Consumed
        } else if self.expires_at <= now {
            TokenState::Expired
        } else {
            TokenState::Usable
        }
    }
}
