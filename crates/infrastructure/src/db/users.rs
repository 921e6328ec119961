//! The `users` aggregate (and, in the same transactions, the rows a
//! registration or a password change writes with it, and those an account
//! deletion erases).

use auth_domain::access::OrgRole;
use auth_domain::accounts::{
    AccountDeletion, CreateUserError, NewAccount, Profile, Suspension, UserFilter, UserRepository,
};
use auth_domain::sessions::{RevokeReason, RevokeScope};
use auth_domain::{
    AccountStatus, Effects, Email, OrganizationId, PasswordHash, RepoError, SessionId, Timestamp,
    User, UserId,
};
use sea_orm::sea_query::{Expr, ExprTrait, Func, LikeExpr, Query, SelectStatement};
use sea_orm::{
    ActiveValue::Set, ColumnTrait, Condition, ConnectionTrait, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, QuerySelect, TransactionTrait,
};

use super::entities::{
    audit_events, mfa_backup_codes, mfa_challenges, mfa_methods, mfa_pending_logins,
    one_time_tokens as one_time_token_rows, organization_invitations, organization_members,
    organizations, outbox as outbox_rows, refresh_tokens, roles, sessions as session_rows,
    user_roles, users,
};
use super::organizations::{count_members, lock_organization};
use super::{Database, DbError, effects, guarded, one_time_tokens, sessions};

/// Sets `mfa_enabled` on `users`: one query for all of them.
async fn with_mfa<C: ConnectionTrait>(
    conn: &C,
    mut users: Vec<User>,
) -> Result<Vec<User>, DbError> {
    if users.is_empty() {
        return Ok(users);
    }
    let enabled: Vec<uuid::Uuid> = mfa_methods::Entity::find()
        .select_only()
        .column(mfa_methods::Column::UserId)
        .filter(mfa_methods::Column::UserId.is_in(users.iter().map(|u| u.id.as_uuid())))
        .filter(mfa_methods::Column::Status.eq(auth_domain::mfa::MethodStatus::Active.as_str()))
        .into_tuple()
        .all(conn)
        .await?;
    for user in &mut users {
        user.mfa_enabled = enabled.contains(&user.id.as_uuid());
    }
    Ok(users)
}

async fn one_with_mfa<C: ConnectionTrait>(
    conn: &C,
    user: Option<User>,
) -> Result<Option<User>, DbError> {
    Ok(with_mfa(conn, user.into_iter().collect())
        .await?
        .into_iter()
        .next())
}

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
        profile: Profile {
            name: model.name,
            bio: model.bio,
            avatar_url: model.avatar_url,
        },
        suspension: model.suspended_at.map(|since| Suspension {
            reason: model.suspended_reason.unwrap_or_default(),
            since,
            until: model.suspended_until,
        }),
        mfa_enabled: false,
        created_at: model.created_at,
        updated_at: model.updated_at,
    }
}

/// The escape character of the `LIKE` patterns built here.
const LIKE_ESCAPE: char = '!';

/// `text` with the `LIKE` wildcards (and the escape character) escaped.
fn escape_like(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | LIKE_ESCAPE) {
            escaped.push(LIKE_ESCAPE);
        }
        escaped.push(c);
    }
    escaped
}

/// The holders of the global role `name`.
fn holders_of(name: &str) -> SelectStatement {
    Query::select()
        .column((user_roles::Entity, user_roles::Column::UserId))
        .from(user_roles::Entity)
        .inner_join(
            roles::Entity,
            Expr::col((roles::Entity, roles::Column::Id))
                .equals((user_roles::Entity, user_roles::Column::RoleId)),
        )
        .and_where(Expr::col((roles::Entity, roles::Column::Name)).eq(name))
        .to_owned()
}

/// The members of `org`, while it is live (not deleted).
fn members_of(org: OrganizationId) -> SelectStatement {
    Query::select()
        .column((
            organization_members::Entity,
            organization_members::Column::UserId,
        ))
        .from(organization_members::Entity)
        .inner_join(
            organizations::Entity,
            Expr::col((organizations::Entity, organizations::Column::Id)).equals((
                organization_members::Entity,
                organization_members::Column::OrganizationId,
            )),
        )
        .and_where(
            Expr::col((
                organization_members::Entity,
                organization_members::Column::OrganizationId,
            ))
            .eq(org.as_uuid()),
        )
        .and_where(Expr::col((organizations::Entity, organizations::Column::DeletedAt)).is_null())
        .to_owned()
}

/// Sets the account's status and suspension columns (`None` clears them).
async fn set_status<C: ConnectionTrait>(
    db: &C,
    id: UserId,
    status: AccountStatus,
    suspension: Option<&Suspension>,
    now: Timestamp,
) -> Result<bool, DbError> {
    let updated = users::Entity::update_many()
        .col_expr(users::Column::Status, Expr::value(status.as_str()))
        .col_expr(
            users::Column::SuspendedReason,
            Expr::value(suspension.map(|s| s.reason.clone())),
        )
        .col_expr(
            users::Column::SuspendedAt,
            Expr::value(suspension.map(|s| s.since)),
        )
        .col_expr(
            users::Column::SuspendedUntil,
            Expr::value(suspension.and_then(|s| s.until)),
        )
        .col_expr(users::Column::UpdatedAt, Expr::value(now))
        .filter(users::Column::Id.eq(id.as_uuid()))
        .exec(db)
        .await?;
    Ok(updated.rows_affected > 0)
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
            name: Set(user.profile.name.clone()),
            bio: Set(user.profile.bio.clone()),
            avatar_url: Set(user.profile.avatar_url.clone()),
            suspended_reason: Set(user.suspension.as_ref().map(|s| s.reason.clone())),
            suspended_at: Set(user.suspension.as_ref().map(|s| s.since)),
            suspended_until: Set(user.suspension.as_ref().and_then(|s| s.until)),
            preferences: Set(None),
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

/// The live organizations `user` owns, in id order (the order their rows
/// are locked in).
async fn owned_organizations<C: ConnectionTrait>(
    db: &C,
    user: UserId,
) -> Result<Vec<OrganizationId>, DbError> {
    let owned: Vec<uuid::Uuid> = organization_members::Entity::find()
        .select_only()
        .column(organization_members::Column::OrganizationId)
        .inner_join(organizations::Entity)
        .filter(organization_members::Column::UserId.eq(user.as_uuid()))
        .filter(organization_members::Column::Role.eq(OrgRole::Owner.as_str()))
        .filter(organizations::Column::DeletedAt.is_null())
        .order_by_asc(organization_members::Column::OrganizationId)
        .into_tuple()
        .all(db)
        .await?;
    Ok(owned.into_iter().map(OrganizationId::from_uuid).collect())
}

/// Deletes everything personal of `user` but its row (inside the caller's
/// transaction, after the row was locked): sessions and their refresh
/// tokens, one-time tokens, second factors and their codes, pending
/// logins, memberships, role grants; revokes the pending invitations to
/// `email`; clears addresses, user agents and details of the user's audit
/// rows (which stay). The foreign keys would cascade most of it; it is
/// deleted here explicitly so that nothing depends on the cascade.
async fn erase_personal_data<C: ConnectionTrait>(
    db: &C,
    user: UserId,
    email: &str,
) -> Result<(), DbError> {
    let id = user.as_uuid();
    // Messages to the person (mail to the address, texts to the numbers of
    // their methods): the recipient is inside the stored payload, written
    // by serde as `"to":"…"`.
    let phones: Vec<Option<String>> = mfa_methods::Entity::find()
        .select_only()
        .column(mfa_methods::Column::Phone)
        .filter(mfa_methods::Column::UserId.eq(id))
        .into_tuple()
        .all(db)
        .await?;
    let recipients = std::iter::once(email.to_owned()).chain(phones.into_iter().flatten());
    for recipient in recipients {
        let quoted =
            serde_json::to_string(&recipient).map_err(|e| sea_orm::DbErr::Custom(e.to_string()))?;
        // Mails and texts to them, and kept events that name the address
        // (`user.created`).
        for field in ["to", "email"] {
            let pattern = format!("%{}%", escape_like(&format!("\"{field}\":{quoted}")));
            outbox_rows::Entity::delete_many()
                .filter(
                    Expr::col(outbox_rows::Column::Payload)
                        .like(LikeExpr::new(pattern).escape(LIKE_ESCAPE)),
                )
                .exec(db)
                .await?;
        }
    }
    let sessions_of_user = Query::select()
        .column(session_rows::Column::Id)
        .from(session_rows::Entity)
        .and_where(Expr::col(session_rows::Column::UserId).eq(id))
        .to_owned();
    refresh_tokens::Entity::delete_many()
        .filter(refresh_tokens::Column::SessionId.in_subquery(sessions_of_user))
        .exec(db)
        .await?;
    session_rows::Entity::delete_many()
        .filter(session_rows::Column::UserId.eq(id))
        .exec(db)
        .await?;
    one_time_token_rows::Entity::delete_many()
        .filter(one_time_token_rows::Column::UserId.eq(id))
        .exec(db)
        .await?;
    mfa_challenges::Entity::delete_many()
        .filter(mfa_challenges::Column::UserId.eq(id))
        .exec(db)
        .await?;
    mfa_backup_codes::Entity::delete_many()
        .filter(mfa_backup_codes::Column::UserId.eq(id))
        .exec(db)
        .await?;
    mfa_pending_logins::Entity::delete_many()
        .filter(mfa_pending_logins::Column::UserId.eq(id))
        .exec(db)
        .await?;
    mfa_methods::Entity::delete_many()
        .filter(mfa_methods::Column::UserId.eq(id))
        .exec(db)
        .await?;
    organization_members::Entity::delete_many()
        .filter(organization_members::Column::UserId.eq(id))
        .exec(db)
        .await?;
    user_roles::Entity::delete_many()
        .filter(user_roles::Column::UserId.eq(id))
        .exec(db)
        .await?;
    // Invitations to the address go whatever their state: the address is
    // personal data, the organization's audit rows keep the invitation ids.
    organization_invitations::Entity::delete_many()
        .filter(organization_invitations::Column::Email.eq(email))
        .exec(db)
        .await?;
    audit_events::Entity::update_many()
        .col_expr(audit_events::Column::Ip, Expr::value(None::<String>))
        .col_expr(audit_events::Column::UserAgent, Expr::value(None::<String>))
        .col_expr(audit_events::Column::Details, Expr::value("{}"))
        .filter(audit_events::Column::UserId.eq(id))
        .exec(db)
        .await?;
    Ok(())
}

impl SeaUsers {
    /// The transaction of [`UserRepository::delete_account`].
    async fn delete_in_transaction(
        &self,
        id: UserId,
        now: Timestamp,
        effects: &Effects,
    ) -> Result<AccountDeletion, DbError> {
        let txn = self.0.conn.begin().await?;
        // Write first: the account's row, locked until the end.
        let locked = users::Entity::update_many()
            .col_expr(users::Column::UpdatedAt, Expr::value(now))
            .filter(users::Column::Id.eq(id.as_uuid()))
            .exec(&txn)
            .await?;
        if locked.rows_affected == 0 {
            txn.rollback().await?;
            return Ok(AccountDeletion::NotFound);
        }
        let Some(user) = users::Entity::find_by_id(id.as_uuid()).one(&txn).await? else {
            txn.rollback().await?;
            return Ok(AccountDeletion::NotFound);
        };
        // Each owned organization's row is locked as a membership change
        // locks it, so an owner leaving meanwhile is counted (and the two
        // cannot both leave the organization without an owner).
        for org in owned_organizations(&txn, id).await? {
            if lock_organization(&txn, org, true).await?
                && count_members(&txn, org, Some(OrgRole::Owner)).await? <= 1
            {
                txn.rollback().await?;
                return Ok(AccountDeletion::LastOwner);
            }
        }
        // The `admin` role's row is locked as taking the role locks it, so
        // two last admins cannot delete each other.
        roles::Entity::update_many()
            .col_expr(
                roles::Column::UpdatedAt,
                Expr::col(roles::Column::UpdatedAt),
            )
            .filter(roles::Column::Name.eq(auth_domain::Role::ADMIN))
            .exec(&txn)
            .await?;
        let admin: Option<uuid::Uuid> = roles::Entity::find()
            .select_only()
            .column(roles::Column::Id)
            .filter(roles::Column::Name.eq(auth_domain::Role::ADMIN))
            .into_tuple()
            .one(&txn)
            .await?;
        if let Some(admin) = admin {
            let holds = user_roles::Entity::find()
                .filter(user_roles::Column::RoleId.eq(admin))
                .filter(user_roles::Column::UserId.eq(id.as_uuid()))
                .count(&txn)
                .await?
                > 0;
            if holds
                && user_roles::Entity::find()
                    .filter(user_roles::Column::RoleId.eq(admin))
                    .count(&txn)
                    .await?
                    <= 1
            {
                txn.rollback().await?;
                return Ok(AccountDeletion::LastAdmin);
            }
        }
        let live: Vec<uuid::Uuid> = session_rows::Entity::find()
            .select_only()
            .column(session_rows::Column::Id)
            .filter(session_rows::Column::UserId.eq(id.as_uuid()))
            .filter(session_rows::Column::RevokedAt.is_null())
            .filter(session_rows::Column::ExpiresAt.gt(now))
            .order_by_asc(session_rows::Column::Id)
            .into_tuple()
            .all(&txn)
            .await?;
        erase_personal_data(&txn, id, &user.email).await?;
        users::Entity::delete_many()
            .filter(users::Column::Id.eq(id.as_uuid()))
            .exec(&txn)
            .await?;
        effects::write(&txn, effects).await?;
        txn.commit().await?;
        Ok(AccountDeletion::Deleted(
            live.into_iter().map(SessionId::from_uuid).collect(),
        ))
    }
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
            let user = users::Entity::find()
                .filter(users::Column::Email.eq(email.as_str()))
                .one(&self.0.conn)
                .await?
                .map(to_user);
            one_with_mfa(&self.0.conn, user).await
        })
        .await
    }

    async fn find_by_id(&self, id: UserId) -> Result<Option<User>, RepoError> {
        guarded(async {
            let user = users::Entity::find_by_id(id.as_uuid())
                .one(&self.0.conn)
                .await?
                .map(to_user);
            one_with_mfa(&self.0.conn, user).await
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

    async fn update_profile(
        &self,
        id: UserId,
        profile: &Profile,
        now: Timestamp,
        effects: Effects,
    ) -> Result<Option<User>, RepoError> {
        let updated = guarded(async {
            let txn = self.0.conn.begin().await?;
            let updated = users::Entity::update_many()
                .col_expr(users::Column::Name, Expr::value(profile.name.clone()))
                .col_expr(users::Column::Bio, Expr::value(profile.bio.clone()))
                .col_expr(
                    users::Column::AvatarUrl,
                    Expr::value(profile.avatar_url.clone()),
                )
                .col_expr(users::Column::UpdatedAt, Expr::value(now))
                .filter(users::Column::Id.eq(id.as_uuid()))
                .exec(&txn)
                .await?;
            if updated.rows_affected == 0 {
                // Nothing written: the transaction rolls back on drop.
                return Ok(None);
            }
            effects::write(&txn, &effects).await?;
            let user = users::Entity::find_by_id(id.as_uuid()).one(&txn).await?;
            txn.commit().await?;
            one_with_mfa(&self.0.conn, user.map(to_user)).await
        })
        .await?;
        if updated.is_some() {
            self.0.committed(&effects);
        }
        Ok(updated)
    }

    async fn suspend(
        &self,
        id: UserId,
        suspension: &Suspension,
        now: Timestamp,
        effects: Effects,
    ) -> Result<Option<Vec<SessionId>>, RepoError> {
        let revoked = guarded(async {
            // Write first: the account, then its sessions.
            let txn = self.0.conn.begin().await?;
            if !set_status(&txn, id, AccountStatus::Suspended, Some(suspension), now).await? {
                return Ok(None);
            }
            let revoked =
                sessions::revoke_in(&txn, id, RevokeScope::All, RevokeReason::Suspended, now)
                    .await?;
            effects::write(&txn, &effects).await?;
            txn.commit().await?;
            Ok(Some(revoked))
        })
        .await?;
        if revoked.is_some() {
            self.0.committed(&effects);
        }
        Ok(revoked)
    }

    async fn reactivate(
        &self,
        id: UserId,
        now: Timestamp,
        effects: Effects,
    ) -> Result<bool, RepoError> {
        let found = guarded(async {
            let txn = self.0.conn.begin().await?;
            if !set_status(&txn, id, AccountStatus::Active, None, now).await? {
                return Ok(false);
            }
            effects::write(&txn, &effects).await?;
            txn.commit().await?;
            Ok(true)
        })
        .await?;
        if found {
            self.0.committed(&effects);
        }
        Ok(found)
    }

    async fn lift_suspensions(&self, now: Timestamp) -> Result<Vec<UserId>, RepoError> {
        guarded(async {
            let due: Vec<uuid::Uuid> = users::Entity::find()
                .select_only()
                .column(users::Column::Id)
                .filter(users::Column::Status.ne(AccountStatus::Active.as_str()))
                .filter(users::Column::SuspendedUntil.lte(now))
                .order_by_asc(users::Column::Id)
                .into_tuple()
                .all(&self.0.conn)
                .await?;
            // One compare-and-set per account: a suspension renewed
            // meanwhile stays, and of two sweepers only one reports it.
            let mut lifted = Vec::new();
            for id in due {
                let updated = users::Entity::update_many()
                    .col_expr(
                        users::Column::Status,
                        Expr::value(AccountStatus::Active.as_str()),
                    )
                    .col_expr(users::Column::SuspendedReason, Expr::value(None::<String>))
                    .col_expr(users::Column::SuspendedAt, Expr::value(None::<Timestamp>))
                    .col_expr(
                        users::Column::SuspendedUntil,
                        Expr::value(None::<Timestamp>),
                    )
                    .col_expr(users::Column::UpdatedAt, Expr::value(now))
                    .filter(users::Column::Id.eq(id))
                    .filter(users::Column::Status.ne(AccountStatus::Active.as_str()))
                    .filter(users::Column::SuspendedUntil.lte(now))
                    .exec(&self.0.conn)
                    .await?;
                if updated.rows_affected == 1 {
                    lifted.push(UserId::from_uuid(id));
                }
            }
            Ok(lifted)
        })
        .await
    }

    async fn preferences(&self, id: UserId) -> Result<Option<String>, RepoError> {
        guarded(async {
            let stored: Option<Option<String>> = users::Entity::find_by_id(id.as_uuid())
                .select_only()
                .column(users::Column::Preferences)
                .into_tuple()
                .one(&self.0.conn)
                .await?;
            Ok(stored.flatten())
        })
        .await
    }

    async fn set_preferences(
        &self,
        id: UserId,
        preferences: &str,
        now: Timestamp,
        effects: Effects,
    ) -> Result<bool, RepoError> {
        let found = guarded(async {
            let txn = self.0.conn.begin().await?;
            let updated = users::Entity::update_many()
                .col_expr(users::Column::Preferences, Expr::value(preferences))
                .col_expr(users::Column::UpdatedAt, Expr::value(now))
                .filter(users::Column::Id.eq(id.as_uuid()))
                .exec(&txn)
                .await?;
            if updated.rows_affected == 0 {
                // Nothing written: the transaction rolls back on drop.
                return Ok(false);
            }
            effects::write(&txn, &effects).await?;
            txn.commit().await?;
            Ok(true)
        })
        .await?;
        if found {
            self.0.committed(&effects);
        }
        Ok(found)
    }

    async fn delete_account(
        &self,
        id: UserId,
        now: Timestamp,
        effects: Effects,
    ) -> Result<AccountDeletion, RepoError> {
        let deletion = guarded(self.delete_in_transaction(id, now, &effects)).await?;
        if matches!(deletion, AccountDeletion::Deleted(_)) {
            self.0.committed(&effects);
        }
        Ok(deletion)
    }

    async fn search(
        &self,
        filter: &UserFilter,
        after: Option<UserId>,
        limit: u32,
    ) -> Result<(Vec<User>, Option<UserId>), RepoError> {
        guarded(async {
            let mut select = users::Entity::find();
            if let Some(query) = &filter.query {
                // Emails are stored normalized (lower case).
                let query = escape_like(&query.to_lowercase());
                select = select.filter(
                    Condition::any()
                        .add(
                            Expr::col((users::Entity, users::Column::Email))
                                .like(LikeExpr::new(format!("{query}%")).escape(LIKE_ESCAPE)),
                        )
                        .add(
                            Expr::expr(Func::lower(Expr::col((
                                users::Entity,
                                users::Column::Name,
                            ))))
                            .like(LikeExpr::new(format!("%{query}%")).escape(LIKE_ESCAPE)),
                        ),
                );
            }
            match filter.status {
                Some(AccountStatus::Active) => {
                    select =
                        select.filter(users::Column::Status.eq(AccountStatus::Active.as_str()));
                }
                // Any other stored status reads as suspended.
                Some(AccountStatus::Suspended) => {
                    select =
                        select.filter(users::Column::Status.ne(AccountStatus::Active.as_str()));
                }
                None => {}
            }
            if let Some(role) = &filter.role {
                select = select.filter(users::Column::Id.in_subquery(holders_of(role)));
            }
            if let Some(org) = filter.organization {
                select = select.filter(users::Column::Id.in_subquery(members_of(org)));
            }
            if let Some(after) = after {
                select = select.filter(users::Column::Id.gt(after.as_uuid()));
            }
            let mut found: Vec<User> = select
                .order_by_asc(users::Column::Id)
                .limit(u64::from(limit) + 1)
                .all(&self.0.conn)
                .await?
                .into_iter()
                .map(to_user)
                .collect();
            found = with_mfa(&self.0.conn, found).await?;
            let limit = usize::try_from(limit).unwrap_or(usize::MAX);
            let more = found.len() > limit;
            found.truncate(limit);
            let next = if more {
                found.last().map(|u| u.id)
            } else {
                None
            };
            Ok((found, next))
        })
        .await
    }
}
