//! The `access` context: permissions, global roles (in tables, never in a
//! constant or a column), service keys, and the authorization decision
//! other services ask for. The access token's `roles` claim lists a user's
//! global role names.

mod decision;
mod permission;
mod ports;
mod role;
mod service_key;

pub use decision::{
    Decision, ORG_PERMISSIONS, OrgRole, OrgScope, Reason, RoleCatalog, Subject, decide,
};
pub use permission::{Grant, Permission, parse_grants};
pub use ports::{
    AccessChange, AccessChanges, PermissionInfo, RoleRepository, RoleWriteError,
    ServiceKeyRepository, Unassigned,
};
pub use role::{Role, RoleRecord, valid_role_name};
pub use service_key::{SERVICE_KEY_PREFIX, ServiceKey, presented_key_hash, service_key_text};
