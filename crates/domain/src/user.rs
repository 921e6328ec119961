//! The user account.

use crate::{Email, PasswordHash, Timestamp, UserId};

/// Whether an account may log in. Checked on login and refresh.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccountStatus {
    /// May log in.
    Active,
    /// Blocked by an administrator.
    Suspended,
}

impl AccountStatus {
    /// The stored name.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Suspended => "suspended",
        }
    }

    /// Parses a stored name; anything unknown is treated as suspended, so a
    /// status added later never grants access by accident.
    #[must_use]
    pub fn from_stored(name: &str) -> Self {
        if name == "active" {
            Self::Active
        } else {
            Self::Suspended
        }
    }
}

/// A role name carried in access tokens. Roles come from data; every account
/// has at least [`Role::user`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Role(String);

impl Role {
    /// The role every account has.
    #[must_use]
    pub fn user() -> Self {
        Self("user".to_owned())
    }

    /// Wraps a stored role name.
    #[must_use]
    pub fn new(name: impl Into<String>) -> Self {
        Self(name.into())
    }

    /// The role name.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A user account.
#[derive(Clone, Debug)]
pub struct User {
    /// Stable id.
    pub id: UserId,
    /// Normalized, unique email address.
    pub email: Email,
    /// Whether the user proved they own the address.
    pub email_verified: bool,
    /// PHC hash of the password.
    pub password_hash: PasswordHash,
    /// Whether the account may log in.
    pub status: AccountStatus,
    /// Role names, for access tokens.
    pub roles: Vec<Role>,
    /// When the account was registered.
    pub created_at: Timestamp,
    /// Last change to the record.
    pub updated_at: Timestamp,
}

impl User {
    /// A freshly registered, unverified, active account with the default role.
    #[must_use]
    pub fn register(email: Email, password_hash: PasswordHash, now: Timestamp) -> Self {
        Self {
            id: UserId::generate(),
            email,
            email_verified: false,
            password_hash,
            status: AccountStatus::Active,
            roles: vec![Role::user()],
            created_at: now,
            updated_at: now,
        }
    }
}
