//! Role assignments (`roles`, `user_roles`), read for tokens and views.

use auth_domain::access::RoleRepository;
use auth_domain::{RepoError, Role, UserId};
use sea_orm::{
    ColumnTrait, EntityTrait, JoinType, QueryFilter, QueryOrder, QuerySelect, RelationTrait,
};

use super::entities::{roles, user_roles};
use super::{Database, guarded};

/// Role assignments on the pool.
#[derive(Clone, Debug)]
pub struct SeaRoles(pub(super) Database);

impl RoleRepository for SeaRoles {
    async fn roles_of(&self, user: UserId) -> Result<Vec<Role>, RepoError> {
        guarded(async {
            let names: Vec<String> = roles::Entity::find()
                .select_only()
                .column(roles::Column::Name)
                .join(JoinType::InnerJoin, roles::Relation::UserRoles.def())
                .filter(user_roles::Column::UserId.eq(user.as_uuid()))
                .order_by_asc(roles::Column::Name)
                .into_tuple()
                .all(&self.0.conn)
                .await?;
            Ok(names.into_iter().map(Role::new).collect())
        })
        .await
    }
}
