//! What the `access` context stores and announces.

use std::future::Future;

use super::{Grant, Role, RoleRecord, ServiceKey};
use crate::{Effects, RepoError, RoleId, ServiceKeyId, Timestamp, TokenHash, UserId};

/// A permission as listed (`{name, description}`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PermissionInfo {
    /// `resource:action`.
    pub name: String,
    /// What it allows.
    pub description: String,
}

/// Why a role could not be written.
#[derive(Debug, thiserror::Error)]
pub enum RoleWriteError {
    /// Another role has that name.
    #[error("role name taken")]
    NameTaken,
    /// Storage failed.
    #[error(transparent)]
    Repo(#[from] RepoError),
}

/// What taking a role from a user did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Unassigned {
    /// The role was taken.
    Removed,
    /// The user did not have it.
    NotAssigned,
    /// It is `admin` and the user is the last admin: nothing changed.
    LastAdmin,
}

/// Roles, permissions and assignments (`roles`, `role_permissions`,
/// `permissions`, `user_roles`).
pub trait RoleRepository: Send + Sync + 'static {
    /// The user's global roles, sorted by name.
    fn roles_of(&self, user: UserId) -> impl Future<Output = Result<Vec<Role>, RepoError>> + Send;

    /// Every role with its grants, by name.
    fn list_roles(&self) -> impl Future<Output = Result<Vec<RoleRecord>, RepoError>> + Send;

    /// Every global permission, by name.
    fn list_permissions(
        &self,
    ) -> impl Future<Output = Result<Vec<PermissionInfo>, RepoError>> + Send;

    /// Stores a new custom role and `effects`.
    fn create_role(
        &self,
        role: &RoleRecord,
        now: Timestamp,
        effects: Effects,
    ) -> impl Future<Output = Result<(), RoleWriteError>> + Send;

    /// Changes a role's description and/or grants; `None` when there is no
    /// such role.
    fn update_role(
        &self,
        id: RoleId,
        description: Option<String>,
        grants: Option<Vec<Grant>>,
        now: Timestamp,
        effects: Effects,
    ) -> impl Future<Output = Result<Option<RoleRecord>, RepoError>> + Send;

    /// Deletes a custom role and its assignments; returns the users who had
    /// it, or `None` when there is no such custom role.
    fn delete_role(
        &self,
        id: RoleId,
        effects: Effects,
    ) -> impl Future<Output = Result<Option<Vec<UserId>>, RepoError>> + Send;

    /// Gives `user` the role named `role`; `false` when the user already had
    /// it (nothing written).
    fn assign(
        &self,
        user: UserId,
        role: &Role,
        now: Timestamp,
        effects: Effects,
    ) -> impl Future<Output = Result<bool, RepoError>> + Send;

    /// Takes the role named `role` from `user`, refusing to take `admin`
    /// from the last admin (decided in the same transaction).
    fn unassign(
        &self,
        user: UserId,
        role: &Role,
        now: Timestamp,
        effects: Effects,
    ) -> impl Future<Output = Result<Unassigned, RepoError>> + Send;
}

/// Service keys (`service_keys`).
pub trait ServiceKeyRepository: Send + Sync + 'static {
    /// Stores a new key and `effects`.
    fn create(
        &self,
        key: &ServiceKey,
        effects: Effects,
    ) -> impl Future<Output = Result<(), RepoError>> + Send;

    /// The unrevoked key with this hash.
    fn find_active(
        &self,
        hash: &TokenHash,
    ) -> impl Future<Output = Result<Option<ServiceKey>, RepoError>> + Send;

    /// Every unrevoked key, newest first.
    fn list_active(&self) -> impl Future<Output = Result<Vec<ServiceKey>, RepoError>> + Send;

    /// Revokes a key; `false` when there is no such unrevoked key.
    fn revoke(
        &self,
        id: ServiceKeyId,
        now: Timestamp,
        effects: Effects,
    ) -> impl Future<Output = Result<bool, RepoError>> + Send;
}

/// A change that other instances must see at once: they drop what they
/// cached of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AccessChange {
    /// A user's roles changed.
    User(UserId),
    /// A role's permissions changed, or a role went: every map and role set.
    Roles,
    /// A service key was revoked.
    ServiceKey(ServiceKeyId),
}

/// Tells the other instances about access changes (the revocation fan-out
/// carries them). Best effort: caches also expire on their own.
pub trait AccessChanges: Send + Sync + 'static {
    /// Announces `change` to every other instance.
    fn announce(&self, change: AccessChange) -> impl Future<Output = ()> + Send;
}
