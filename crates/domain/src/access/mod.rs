//! The `access` context: roles. Roles live in tables (`roles`,
//! `role_permissions`, `user_roles`), never in a constant or a column; the
//! access token's `roles` claim lists a user's global role names.

use std::future::Future;

use crate::{RepoError, UserId};

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

/// Role assignments, read by the contexts that issue tokens or show users.
pub trait RoleRepository: Send + Sync + 'static {
    /// The user's global roles, sorted by name.
    fn roles_of(&self, user: UserId) -> impl Future<Output = Result<Vec<Role>, RepoError>> + Send;
}
