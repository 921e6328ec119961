//! Global roles: names, and the stored role with its grants.

use super::Grant;
use crate::RoleId;

/// A global role's name, as carried in access tokens.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Role(String);

impl Role {
    /// The system role every new account gets.
    pub const USER: &'static str = "user";
    /// The system role that may do everything.
    pub const ADMIN: &'static str = "admin";
    /// The system role of support staff.
    pub const MANAGER: &'static str = "manager";

    /// The role every new account gets.
    #[must_use]
    pub fn user() -> Self {
        Self(Self::USER.to_owned())
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

/// A stored global role (`{id, name, description, permissions, system}`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RoleRecord {
    /// Its id.
    pub id: RoleId,
    /// Its unique name.
    pub name: Role,
    /// What it is for.
    pub description: String,
    /// What it grants, sorted.
    pub grants: Vec<Grant>,
    /// A system role (`admin`, `manager`, `user`): never deletable.
    pub system: bool,
}

impl RoleRecord {
    /// Whether its permissions may change: not those of `admin` (everything)
    /// and `user` (what every account may do).
    #[must_use]
    pub fn permissions_fixed(&self) -> bool {
        self.system && matches!(self.name.as_str(), Role::ADMIN | Role::USER)
    }
}

/// A name a custom role may take: 1 to 64 of `a-z 0-9 _ -`, starting with a
/// letter.
#[must_use]
pub fn valid_role_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    matches!(bytes.next(), Some(b'a'..=b'z'))
        && name.len() <= 64
        && bytes.all(|b| matches!(b, b'a'..=b'z' | b'0'..=b'9' | b'_' | b'-'))
}
