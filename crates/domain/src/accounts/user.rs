//! The user account, and the one rule that says whether it may sign in.

use crate::{Email, PasswordHash, Timestamp, UserId};

/// Whether an account may be used at all. Checked on login, refresh and
/// every authorization decision.
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

    /// Whether the account may be used (sign in, refresh, be authorized).
    #[must_use]
    pub const fn allows_access(self) -> bool {
        matches!(self, Self::Active)
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
    /// Whether the account may be used.
    pub status: AccountStatus,
    /// When the account was registered.
    pub created_at: Timestamp,
    /// Last change to the record.
    pub updated_at: Timestamp,
}

/// Why an account that proved its password still may not sign in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignInRefusal {
    /// The account is not active.
    Suspended,
    /// The address is not verified yet.
    EmailNotVerified,
}

impl User {
    /// A freshly registered, unverified, active account.
    #[must_use]
    pub fn register(email: Email, password_hash: PasswordHash, now: Timestamp) -> Self {
        Self {
            id: UserId::generate(),
            email,
            email_verified: false,
            password_hash,
            status: AccountStatus::Active,
            created_at: now,
            updated_at: now,
        }
    }

    /// Whether the account may open a session: active, and the address
    /// verified. Disclosed only to someone who proved the password.
    ///
    /// # Errors
    /// The first rule the account breaks.
    pub const fn may_sign_in(&self) -> Result<(), SignInRefusal> {
        if !self.status.allows_access() {
            Err(SignInRefusal::Suspended)
        } else if !self.email_verified {
            Err(SignInRefusal::EmailNotVerified)
        } else {
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user() -> User {
        User::register(
            Email::parse("a@example.com").expect("valid"),
            PasswordHash::new("x".into()),
            chrono::Utc::now(),
        )
    }

    #[test]
    fn only_active_verified_accounts_may_sign_in() {
        let mut user = user();
        assert_eq!(user.may_sign_in(), Err(SignInRefusal::EmailNotVerified));
        user.email_verified = true;
        assert_eq!(user.may_sign_in(), Ok(()));
        user.status = AccountStatus::Suspended;
        assert_eq!(user.may_sign_in(), Err(SignInRefusal::Suspended));
        assert_eq!(
            AccountStatus::from_stored("frozen"),
            AccountStatus::Suspended
        );
    }
}
