//! The `access` fakes: roles, permissions and assignments, service keys,
//! and the announced changes.

use super::World;
use super::store::store_effects;
use crate::access::{
    AccessChange, AccessChanges, Grant, PermissionInfo, Role, RoleRecord, RoleRepository,
    RoleWriteError, ServiceKey, ServiceKeyRepository, Unassigned, parse_grants,
};
use crate::{Effects, RepoError, RoleId, ServiceKeyId, Timestamp, TokenHash, UserId};

/// The permissions the roles migration creates.
#[must_use]
pub fn default_permissions() -> Vec<PermissionInfo> {
    [
        "users:read",
        "users:write",
        "users:suspend",
        "users:unlock",
        "users:mfa_reset",
        "roles:read",
        "roles:write",
        "orgs:read",
        "orgs:write",
        "orgs:create",
        "audit:read",
        "events:read",
        "authz:check",
        "activity:write",
        "service_keys:write",
        "profile:read",
        "profile:write",
    ]
    .into_iter()
    .map(|name| PermissionInfo {
        name: name.to_owned(),
        description: String::new(),
    })
    .collect()
}

/// The system roles the roles migration creates.
#[must_use]
pub fn system_roles() -> Vec<RoleRecord> {
    let role = |name: &str, grants: &[&str]| RoleRecord {
        id: RoleId::generate(),
        name: Role::new(name),
        description: String::new(),
        grants: parse_grants(grants).expect("valid grants"),
        system: true,
    };
    vec![
        role("admin", &["*"]),
        role(
            "manager",
            &[
                "users:read",
                "users:suspend",
                "users:unlock",
                "orgs:read",
                "audit:read",
            ],
        ),
        role("user", &["profile:read", "profile:write", "orgs:create"]),
    ]
}

#[derive(Clone, Debug)]
pub struct MemoryRoles(pub(super) World);

impl RoleRepository for MemoryRoles {
    async fn roles_of(&self, user: UserId) -> Result<Vec<Role>, RepoError> {
        let state = self.0.lock();
        state.check()?;
        let mut roles: Vec<Role> = state
            .user_roles
            .iter()
            .filter(|(u, _)| *u == user)
            .map(|(_, r)| r.clone())
            .collect();
        roles.sort();
        Ok(roles)
    }

    async fn list_roles(&self) -> Result<Vec<RoleRecord>, RepoError> {
        let state = self.0.lock();
        state.check()?;
        let mut roles = state.roles.clone();
        roles.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(roles)
    }

    async fn list_permissions(&self) -> Result<Vec<PermissionInfo>, RepoError> {
        let state = self.0.lock();
        state.check()?;
        let mut permissions = state.permissions.clone();
        permissions.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(permissions)
    }

    async fn create_role(
        &self,
        role: &RoleRecord,
        _now: Timestamp,
        effects: Effects,
    ) -> Result<(), RoleWriteError> {
        let mut state = self.0.lock();
        state.check()?;
        if state.roles.iter().any(|r| r.name == role.name) {
            return Err(RoleWriteError::NameTaken);
        }
        state.roles.push(role.clone());
        store_effects(&mut state, effects);
        Ok(())
    }

    async fn update_role(
        &self,
        id: RoleId,
        description: Option<String>,
        grants: Option<Vec<Grant>>,
        _now: Timestamp,
        effects: Effects,
    ) -> Result<Option<RoleRecord>, RepoError> {
        let mut state = self.0.lock();
        state.check()?;
        let Some(role) = state.roles.iter_mut().find(|r| r.id == id) else {
            return Ok(None);
        };
        if let Some(description) = description {
            role.description = description;
        }
        if let Some(grants) = grants {
            role.grants = grants;
        }
        let updated = role.clone();
        store_effects(&mut state, effects);
        Ok(Some(updated))
    }

    async fn delete_role(
        &self,
        id: RoleId,
        effects: Effects,
    ) -> Result<Option<Vec<UserId>>, RepoError> {
        let mut state = self.0.lock();
        state.check()?;
        let Some(at) = state.roles.iter().position(|r| r.id == id && !r.system) else {
            return Ok(None);
        };
        let role = state.roles.remove(at);
        let holders = state
            .user_roles
            .iter()
            .filter(|(_, r)| *r == role.name)
            .map(|(u, _)| *u)
            .collect();
        state.user_roles.retain(|(_, r)| *r != role.name);
        store_effects(&mut state, effects);
        Ok(Some(holders))
    }

    async fn assign(
        &self,
        user: UserId,
        role: &Role,
        _now: Timestamp,
        effects: Effects,
    ) -> Result<bool, RepoError> {
        let mut state = self.0.lock();
        state.check()?;
        if !state.roles.iter().any(|r| r.name == *role) {
            return Err(RepoError::Other(format!("no role {}", role.as_str())));
        }
        if state
            .user_roles
            .iter()
            .any(|(u, r)| *u == user && r == role)
        {
            return Ok(false);
        }
        state.user_roles.push((user, role.clone()));
        store_effects(&mut state, effects);
        Ok(true)
    }

    async fn unassign(
        &self,
        user: UserId,
        role: &Role,
        _now: Timestamp,
        effects: Effects,
    ) -> Result<Unassigned, RepoError> {
        let mut state = self.0.lock();
        state.check()?;
        if !state
            .user_roles
            .iter()
            .any(|(u, r)| *u == user && r == role)
        {
            return Ok(Unassigned::NotAssigned);
        }
        if role.as_str() == Role::ADMIN
            && state
                .user_roles
                .iter()
                .filter(|(_, r)| r.as_str() == Role::ADMIN)
                .count()
                <= 1
        {
            return Ok(Unassigned::LastAdmin);
        }
        state.user_roles.retain(|(u, r)| !(*u == user && r == role));
        store_effects(&mut state, effects);
        Ok(Unassigned::Removed)
    }
}

#[derive(Clone, Debug)]
pub struct MemoryServiceKeys(pub(super) World);

impl ServiceKeyRepository for MemoryServiceKeys {
    async fn create(&self, key: &ServiceKey, effects: Effects) -> Result<(), RepoError> {
        let mut state = self.0.lock();
        state.check()?;
        state.service_keys.push((key.clone(), None));
        store_effects(&mut state, effects);
        Ok(())
    }

    async fn find_active(&self, hash: &TokenHash) -> Result<Option<ServiceKey>, RepoError> {
        let state = self.0.lock();
        state.check()?;
        Ok(state
            .service_keys
            .iter()
            .find(|(k, revoked)| k.key_hash == *hash && revoked.is_none())
            .map(|(k, _)| k.clone()))
    }

    async fn list_active(&self) -> Result<Vec<ServiceKey>, RepoError> {
        let state = self.0.lock();
        state.check()?;
        let mut keys: Vec<ServiceKey> = state
            .service_keys
            .iter()
            .filter(|(_, revoked)| revoked.is_none())
            .map(|(k, _)| k.clone())
            .collect();
        keys.sort_by_key(|k| std::cmp::Reverse(k.created_at));
        Ok(keys)
    }

    async fn revoke(
        &self,
        id: ServiceKeyId,
        now: Timestamp,
        effects: Effects,
    ) -> Result<bool, RepoError> {
        let mut state = self.0.lock();
        state.check()?;
        let Some((_, revoked)) = state
            .service_keys
            .iter_mut()
            .find(|(k, revoked)| k.id == id && revoked.is_none())
        else {
            return Ok(false);
        };
        *revoked = Some(now);
        store_effects(&mut state, effects);
        Ok(true)
    }
}

/// Records announced changes in the world.
#[derive(Clone, Debug)]
pub struct RecordedChanges(pub(super) World);

impl AccessChanges for RecordedChanges {
    async fn announce(&self, change: AccessChange) {
        self.0.lock().access_changes.push(change);
    }
}
