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

/// What a user says about themselves (API-USERS.md limits, checked by
/// [`Profile::validated`]).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Profile {
    /// Display name, at most 100 characters.
    pub name: Option<String>,
    /// At most 500 characters.
    pub bio: Option<String>,
    /// An `https://` URL of at most 2048 characters.
    pub avatar_url: Option<String>,
}

/// Why a profile field was refused: the field and the reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProfileError(pub &'static str, pub &'static str);

fn clean(
    field: &'static str,
    value: Option<String>,
    max_chars: usize,
) -> Result<Option<String>, ProfileError> {
    let Some(value) = value else {
        return Ok(None);
    };
    let value = value.trim();
    if value.chars().any(char::is_control) {
        return Err(ProfileError(field, "control characters are not allowed"));
    }
    if value.chars().count() > max_chars {
        return Err(ProfileError(field, "too long"));
    }
    Ok((!value.is_empty()).then(|| value.to_owned()))
}

impl Profile {
    /// The profile with strings trimmed (empty = unset), or the first field
    /// that breaks the limits: `name` ≤ 100 characters, `bio` ≤ 500,
    /// `avatar_url` an `https://` URL ≤ 2048, no control characters.
    ///
    /// # Errors
    /// The field and why.
    pub fn validated(self) -> Result<Self, ProfileError> {
        let avatar_url = clean("avatar_url", self.avatar_url, 2048)?;
        if let Some(url) = &avatar_url {
            let host = url.strip_prefix("https://").unwrap_or_default();
            if host.is_empty() || host.starts_with('/') || url.contains(char::is_whitespace) {
                return Err(ProfileError("avatar_url", "must be an https:// URL"));
            }
        }
        Ok(Self {
            name: clean("name", self.name, 100)?,
            bio: clean("bio", self.bio, 500)?,
            avatar_url,
        })
    }
}

/// An administrator's suspension.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Suspension {
    /// Why, as the administrator wrote it.
    pub reason: String,
    /// Since when.
    pub since: Timestamp,
    /// When it lifts by itself, if ever.
    pub until: Option<Timestamp>,
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
    /// Name, bio and avatar, as the user set them.
    pub profile: Profile,
    /// Why and until when the account is suspended (with `Suspended`).
    pub suspension: Option<Suspension>,
    /// Whether the user has an active second factor (read with the
    /// account, never written through it).
    pub mfa_enabled: bool,
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
            profile: Profile::default(),
            suspension: None,
            mfa_enabled: false,
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
    fn profiles_are_trimmed_and_limited() {
        let ok = Profile {
            name: Some("  Ada  ".into()),
            bio: Some(String::new()),
            avatar_url: Some("https://example.com/a.png".into()),
        }
        .validated()
        .expect("valid");
        assert_eq!(ok.name.as_deref(), Some("Ada"));
        assert_eq!(ok.bio, None, "empty is unset");
        for (profile, field) in [
            (
                Profile {
                    name: Some("a".repeat(101)),
                    ..Profile::default()
                },
                "name",
            ),
            (
                Profile {
                    bio: Some("line\u{7}".into()),
                    ..Profile::default()
                },
                "bio",
            ),
            (
                Profile {
                    avatar_url: Some("http://example.com/a.png".into()),
                    ..Profile::default()
                },
                "avatar_url",
            ),
            (
                Profile {
                    avatar_url: Some("data:image/png;base64,AAAA".into()),
                    ..Profile::default()
                },
                "avatar_url",
            ),
        ] {
            assert_eq!(profile.validated().map_err(|e| e.0), Err(field));
        }
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
