//! Roles in tables: `permissions`, `roles`, `role_permissions`, `user_roles`,
//! with the system roles of API-ACCESS.md. Existing users keep the roles of
//! their comma-separated `users.roles` column (every one has `user`), which
//! is then dropped.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;
use uuid::Uuid;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The default global permissions and what each allows.
const PERMISSIONS: [(&str, &str); 17] = [
    ("users:read", "Read user accounts"),
    ("users:write", "Change user accounts"),
    ("users:suspend", "Suspend and reactivate accounts"),
    ("users:unlock", "Lift lockouts and IP blocks"),
    ("users:mfa_reset", "Reset a user's second factors"),
    ("roles:read", "Read roles and permissions"),
    ("roles:write", "Create, change and assign roles"),
    ("orgs:read", "Read any organization"),
    ("orgs:write", "Change any organization"),
    ("orgs:create", "Create organizations"),
    ("audit:read", "Read the whole audit trail"),
    ("events:read", "Read the domain event feed"),
    (
        "authz:check",
        "Ask authorization questions about any subject",
    ),
    ("activity:write", "Report activity for users"),
    ("service_keys:write", "Create and revoke service keys"),
    ("profile:read", "Read one's own profile"),
    ("profile:write", "Change one's own profile"),
];

/// System roles: created here, never deletable.
const SYSTEM_ROLES: [(&str, &str, &[&str]); 3] = [
    ("admin", "Administrators: every permission", &["*"]),
    (
        "manager",
        "Support staff",
        &[
            "users:read",
            "users:suspend",
            "users:unlock",
            "orgs:read",
            "audit:read",
        ],
    ),
    (
        "user",
        "Every account",
        &["profile:read", "profile:write", "orgs:create"],
    ),
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Permissions::Table)
                    .col(string_len(Permissions::Name, 128).primary_key())
                    .col(string_len(Permissions::Description, 256))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Roles::Table)
                    .col(pk_uuid(Roles::Id))
                    .col(string_len_uniq(Roles::Name, 64))
                    .col(string_len(Roles::Description, 256).default(""))
                    .col(boolean(Roles::System).default(false))
                    .col(timestamp_with_time_zone(Roles::CreatedAt))
                    .col(timestamp_with_time_zone(Roles::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(RolePermissions::Table)
                    .col(uuid(RolePermissions::RoleId))
                    // `resource:action`, `resource:*` or `*`.
                    .col(string_len(RolePermissions::Permission, 128))
                    .primary_key(
                        Index::create()
                            .col(RolePermissions::RoleId)
                            .col(RolePermissions::Permission),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(RolePermissions::Table, RolePermissions::RoleId)
                            .to(Roles::Table, Roles::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(UserRoles::Table)
                    .col(uuid(UserRoles::UserId))
                    .col(uuid(UserRoles::RoleId))
                    .col(timestamp_with_time_zone(UserRoles::GrantedAt))
                    .primary_key(
                        Index::create()
                            .col(UserRoles::UserId)
                            .col(UserRoles::RoleId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(UserRoles::Table, UserRoles::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(UserRoles::Table, UserRoles::RoleId)
                            .to(Roles::Table, Roles::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_user_roles_role")
                    .table(UserRoles::Table)
                    .col(UserRoles::RoleId)
                    .to_owned(),
            )
            .await?;

        let mut permissions = Query::insert()
            .into_table(Permissions::Table)
            .columns([Permissions::Name, Permissions::Description])
            .to_owned();
        for (name, description) in PERMISSIONS {
            permissions.values_panic([name.into(), description.into()]);
        }
        manager.exec_stmt(permissions).await?;

        let now = chrono_now();
        for (name, description, granted) in SYSTEM_ROLES {
            let id = Uuid::now_v7();
            manager
                .exec_stmt(
                    Query::insert()
                        .into_table(Roles::Table)
                        .columns([
                            Roles::Id,
                            Roles::Name,
                            Roles::Description,
                            Roles::System,
                            Roles::CreatedAt,
                            Roles::UpdatedAt,
                        ])
                        .values_panic([
                            id.into(),
                            name.into(),
                            description.into(),
                            true.into(),
                            now.into(),
                            now.into(),
                        ])
                        .to_owned(),
                )
                .await?;
            let mut grants = Query::insert()
                .into_table(RolePermissions::Table)
                .columns([RolePermissions::RoleId, RolePermissions::Permission])
                .to_owned();
            for permission in granted {
                grants.values_panic([id.into(), (*permission).into()]);
            }
            manager.exec_stmt(grants).await?;
        }

        // Every role named in the old column that exists now, kept; the
        // column's default was `user`, so every account has that one.
        let db = manager.get_connection();
        db.execute_unprepared(
            "INSERT INTO user_roles (user_id, role_id, granted_at) \
             SELECT u.id, r.id, u.created_at FROM users u JOIN roles r \
             ON (',' || REPLACE(u.roles, ' ', '') || ',') LIKE ('%,' || r.name || ',%')",
        )
        .await?;
        db.execute_unprepared("ALTER TABLE users DROP COLUMN roles")
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .add_column(string_len(Users::Roles, 1024).default("user"))
                    .to_owned(),
            )
            .await?;
        let aggregate = match manager.get_database_backend() {
            sea_orm_migration::sea_orm::DatabaseBackend::Sqlite => "group_concat(r.name, ',')",
            _ => "string_agg(r.name, ',')",
        };
        // Back to the column: the roles each user has, comma-separated.
        manager
            .get_connection()
            .execute_unprepared(&format!(
                "UPDATE users SET roles = COALESCE((SELECT {aggregate} FROM user_roles ur \
                 JOIN roles r ON r.id = ur.role_id WHERE ur.user_id = users.id), 'user')"
            ))
            .await?;
        for table in [
            UserRoles::Table.into_iden(),
            RolePermissions::Table.into_iden(),
            Roles::Table.into_iden(),
            Permissions::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}

/// Migrations run inside the service's process or the CLI: the wall clock is
/// the right one here.
fn chrono_now() -> sea_orm_migration::sea_orm::prelude::DateTimeUtc {
    sea_orm_migration::sea_orm::prelude::DateTimeUtc::from(std::time::SystemTime::now())
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Roles,
}

#[derive(DeriveIden)]
enum Permissions {
    Table,
    Name,
    Description,
}

#[derive(DeriveIden)]
enum Roles {
    Table,
    Id,
    Name,
    Description,
    System,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum RolePermissions {
    Table,
    RoleId,
    Permission,
}

#[derive(DeriveIden)]
enum UserRoles {
    Table,
    UserId,
    RoleId,
    GrantedAt,
}
