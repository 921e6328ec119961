//! Whether a user's global roles grant a permission, read now from the role
//! tables (not from the token, not cached): what administration, profiles
//! and organization creation check. `authorize` keeps its own cached path.

use auth_domain::UserId;
use auth_domain::access::{Permission, RoleCatalog, RoleRepository};

use crate::Failure;

/// Whether `user`'s global roles grant `permission`; a malformed
/// permission grants nothing.
pub(crate) async fn holds_global<R: RoleRepository>(
    roles: &R,
    user: UserId,
    permission: &str,
) -> Result<bool, Failure> {
    let Some(permission) = Permission::parse(permission) else {
        return Ok(false);
    };
    let held = roles.roles_of(user).await?;
    let catalog = RoleCatalog::new(roles.list_roles().await?, [permission.as_str().to_owned()]);
    Ok(catalog.granting_role(&held, &permission).is_some())
}
