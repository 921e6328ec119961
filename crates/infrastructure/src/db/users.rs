//! The `users` aggregate (and, in the same transactions, the rows a
//! registration or a password change writes with it).

use auth_domain::accounts::{CreateUserError, NewAccount, UserRepository};
use auth_domain::sessions::{RevokeReason, RevokeScope};
use auth_domain::{
    AccountStatus, Effects, Email, PasswordHash, RepoError, SessionId, Timestamp, User, UserId,
};
use sea_orm::sea_query::{Expr, Query};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, TransactionTrait,
};

use super::entities::{roles, user_roles, users};
use super::{Database, DbError, effects, guarded, one_time_tokens, sessions};

/// User accounts on the pool.
#[derive(Clone, Debug)]
pub struct SeaUsers(pub(super) Database);

fn to_user(model: users::Model) -> User {
    User {
        id: UserId::from_uuid(model.id),
        email: Email::from_trusted(model.email),
        email_verified: model.email_verified,
        password_hash: PasswordHash::new(model.password_hash),
        status: AccountStatus::from_stored(&model.status),
        created_at: model.created_at,
        updated_at: model.updated_at,
    }
}

/// Why a registration's transaction stopped.
enum CreateFailure {
    EmailTaken,
    Db(DbError),
}

impl From<DbError> for CreateFailure {
    fn from(err: DbError) -> Self {
        Self::Db(err)
    }
}

impl From<sea_orm::DbErr> for CreateFailure {
    fn from(err: sea_orm::DbErr) -> Self {
        Self::Db(err.into())
    }
}

impl SeaUsers {
    async fn insert_account(&self, account: &NewAccount) -> Result<(), CreateFailure> {
        let NewAccount {
            user,
            roles,
            verification,
            effects,
        } = account;
        let txn = self.0.conn.begin().await?;
        let row = users::ActiveModel {
            id: Set(user.id.as_uuid()),
            email: Set(user.email.as_str().to_owned()),
            email_verified: Set(user.email_verified),
            password_hash: Set(user.password_hash.as_str().to_owned()),
            status: Set(user.status.as_str().to_owned()),
            created_at: Set(user.created_at),
            updated_at: Set(user.updated_at),
        };
        if let Err(err) = users::Entity::insert(row)
            .exec_without_returning(&txn)
            .await
        {
            let err = DbError::from(err);
            return Err(if err.is_unique_violation() {
                CreateFailure::EmailTaken
            } else {
                err.into()
            });
        }
        grant_roles(&txn, user.id, roles, user.created_at).await?;
        one_time_tokens::insert(&txn, verification).await?;
        effects::write(&txn, effects).await?;
        txn.commit().await?;
        Ok(())
    }
}

/// Grants roles by name; every name must exist.
async fn grant_roles<C: ConnectionTrait>(
    db: &C,
    user: UserId,
    names: &[auth_domain::Role],
    at: Timestamp,
) -> Result<(), DbError> {
    if names.is_empty() {
        return Ok(());
    }
    let select = Query::select()
        .expr(Expr::val(user.as_uuid()))
        .column(roles::Column::Id)
        .expr(Expr::val(at))
        .from(roles::Entity)
        .and_where(roles::Column::Name.is_in(names.iter().map(auth_domain::Role::as_str)))
        .to_owned();
    let insert = Query::insert()
        .into_table(user_roles::Entity)
        .columns([
            user_roles::Column::UserId,
            user_roles::Column::RoleId,
            user_roles::Column::GrantedAt,
        ])
        .select_from(select)
        .map_err(|e| sea_orm::DbErr::Custom(e.to_string()))?
        .to_owned();
    let granted = db.execute(&insert).await?;
    if granted.rows_affected() != names.len() as u64 {
        return Err(sea_orm::DbErr::Custom(format!(
            "granted {} of the roles {names:?}: a role does not exist",
            granted.rows_affected()
        ))
        .into());
    }
    Ok(())
}

async fn set_hash<C: ConnectionTrait>(
    db: &C,
    id: UserId,
    hash: &PasswordHash,
    now: Timestamp,
) -> Result<(), DbError> {
    users::Entity::update_many()
        .col_expr(users::Column::PasswordHash, Expr::value(hash.as_str()))
        .col_expr(users::Column::UpdatedAt, Expr::value(now))
        .filter(users::Column::Id.eq(id.as_uuid()))
        .exec(db)
        .await?;
    Ok(())
}

impl UserRepository for SeaUsers {
    async fn create(&self, account: NewAccount) -> Result<(), CreateUserError> {
        match self.insert_account(&account).await {
            Ok(()) => {
                self.0.committed(&account.effects);
                Ok(())
            }
            Err(CreateFailure::EmailTaken) => Err(CreateUserError::EmailTaken),
            Err(CreateFailure::Db(err)) => Err(RepoError::from(err).into()),
        }
    }

    async fn find_by_email(&self, email: &Email) -> Result<Option<User>, RepoError> {
        guarded(async {
            Ok(users::Entity::find()
                .filter(users::Column::Email.eq(email.as_str()))
                .one(&self.0.conn)
                .await?
                .map(to_user))
        })
        .await
    }

    async fn find_by_id(&self, id: UserId) -> Result<Option<User>, RepoError> {
        guarded(async {
            Ok(users::Entity::find_by_id(id.as_uuid())
                .one(&self.0.conn)
                .await?
                .map(to_user))
        })
        .await
    }

    async fn change_password(
        &self,
        id: UserId,
        hash: &PasswordHash,
        revoke: RevokeScope,
        reason: RevokeReason,
        now: Timestamp,
        effects: Effects,
    ) -> Result<Vec<SessionId>, RepoError> {
        let revoked = guarded(async {
            let txn = self.0.conn.begin().await?;
            set_hash(&txn, id, hash, now).await?;
            let revoked = sessions::revoke_in(&txn, id, revoke, reason, now).await?;
            effects::write(&txn, &effects).await?;
            txn.commit().await?;
            Ok(revoked)
        })
        .await?;
        self.0.committed(&effects);
        Ok(revoked)
    }

    async fn delete_unverified(&self, before: Timestamp) -> Result<u64, RepoError> {
        guarded(async {
            // Sessions, tokens and role grants go with them (foreign keys
            // cascade); audit rows have no foreign key and stay.
            let deleted = users::Entity::delete_many()
                .filter(users::Column::EmailVerified.eq(false))
                .filter(users::Column::CreatedAt.lt(before))
                .exec(&self.0.conn)
                .await?;
            Ok(deleted.rows_affected)
        })
        .await
    }

    async fn set_password_hash(
        &self,
        id: UserId,
        hash: &PasswordHash,
        now: Timestamp,
    ) -> Result<(), RepoError> {
        guarded(set_hash(&self.0.conn, id, hash, now)).await
    }
}
