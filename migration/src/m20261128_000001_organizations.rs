//! Organizations (tenants): `organizations` (soft-deleted with
//! `deleted_at`; a deleted one keeps its slug), `organization_members` (one
//! organization role per member), `organization_invitations` (by email, only
//! the SHA-256 of the mailed token stored); the organization a session's
//! tokens name (`sessions.organization_id`) and the organization an audit
//! event is filed under (`audit_events.organization_id`).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const AUDIT_INDEX: &str = "idx_audit_events_organization_at";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Organizations::Table)
                    .col(pk_uuid(Organizations::Id))
                    .col(string_len(Organizations::Name, 128))
                    // Unique among every organization, deleted ones too.
                    .col(string_len_uniq(Organizations::Slug, 48))
                    .col(string_len(Organizations::Tier, 16).default("basic"))
                    // A JSON object, as text.
                    .col(text(Organizations::Settings))
                    .col(timestamp_with_time_zone(Organizations::CreatedAt))
                    .col(timestamp_with_time_zone(Organizations::UpdatedAt))
                    .col(timestamp_with_time_zone_null(Organizations::DeletedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(OrganizationMembers::Table)
                    .col(uuid(OrganizationMembers::OrganizationId))
                    .col(uuid(OrganizationMembers::UserId))
                    .col(string_len(OrganizationMembers::Role, 16))
                    .col(timestamp_with_time_zone(OrganizationMembers::JoinedAt))
                    .primary_key(
                        Index::create()
                            .col(OrganizationMembers::OrganizationId)
                            .col(OrganizationMembers::UserId),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(
                                OrganizationMembers::Table,
                                OrganizationMembers::OrganizationId,
                            )
                            .to(Organizations::Table, Organizations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(OrganizationMembers::Table, OrganizationMembers::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // A user's organizations.
        manager
            .create_index(
                Index::create()
                    .name("idx_organization_members_user")
                    .table(OrganizationMembers::Table)
                    .col(OrganizationMembers::UserId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(OrganizationInvitations::Table)
                    .col(pk_uuid(OrganizationInvitations::Id))
                    .col(uuid(OrganizationInvitations::OrganizationId))
                    .col(string_len(OrganizationInvitations::Email, 320))
                    .col(string_len(OrganizationInvitations::Role, 16))
                    .col(string_len(OrganizationInvitations::Status, 16))
                    // No foreign key: an invitation outlives its sender.
                    .col(uuid(OrganizationInvitations::InviterId))
                    .col(string_len_uniq(OrganizationInvitations::TokenHash, 64))
                    .col(timestamp_with_time_zone(OrganizationInvitations::ExpiresAt))
                    .col(timestamp_with_time_zone(OrganizationInvitations::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(
                                OrganizationInvitations::Table,
                                OrganizationInvitations::OrganizationId,
                            )
                            .to(Organizations::Table, Organizations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // A new invitation revokes the pending ones of its address.
        manager
            .create_index(
                Index::create()
                    .name("idx_organization_invitations_org_email")
                    .table(OrganizationInvitations::Table)
                    .col(OrganizationInvitations::OrganizationId)
                    .col(OrganizationInvitations::Email)
                    .to_owned(),
            )
            .await?;
        // The list, newest first, and the daily count.
        manager
            .create_index(
                Index::create()
                    .name("idx_organization_invitations_org_created")
                    .table(OrganizationInvitations::Table)
                    .col(OrganizationInvitations::OrganizationId)
                    .col(OrganizationInvitations::CreatedAt)
                    .to_owned(),
            )
            .await?;
        // No foreign keys: a session outlives a deleted organization (the
        // next decision checks membership), the trail outlives everything.
        manager
            .alter_table(
                Table::alter()
                    .table(Sessions::Table)
                    .add_column(uuid_null(Sessions::OrganizationId))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(AuditEvents::Table)
                    .add_column(uuid_null(AuditEvents::OrganizationId))
                    .to_owned(),
            )
            .await?;
        // A login waiting for its second factor keeps the organization it
        // asked for.
        manager
            .alter_table(
                Table::alter()
                    .table(MfaPendingLogins::Table)
                    .add_column(uuid_null(MfaPendingLogins::OrganizationId))
                    .to_owned(),
            )
            .await?;
        // An organization's recent activity.
        manager
            .create_index(
                Index::create()
                    .name(AUDIT_INDEX)
                    .table(AuditEvents::Table)
                    .col(AuditEvents::OrganizationId)
                    .col(AuditEvents::At)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(MfaPendingLogins::Table)
                    .drop_column(MfaPendingLogins::OrganizationId)
                    .to_owned(),
            )
            .await?;
        // SQLite drops no indexed column: the index goes first.
        manager
            .drop_index(Index::drop().name(AUDIT_INDEX).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(AuditEvents::Table)
                    .drop_column(AuditEvents::OrganizationId)
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Sessions::Table)
                    .drop_column(Sessions::OrganizationId)
                    .to_owned(),
            )
            .await?;
        for table in [
            OrganizationInvitations::Table.into_iden(),
            OrganizationMembers::Table.into_iden(),
            Organizations::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    OrganizationId,
}

#[derive(DeriveIden)]
enum MfaPendingLogins {
    Table,
    OrganizationId,
}

#[derive(DeriveIden)]
enum AuditEvents {
    Table,
    OrganizationId,
    At,
}

#[derive(DeriveIden)]
enum Organizations {
    Table,
    Id,
    Name,
    Slug,
    Tier,
    Settings,
    CreatedAt,
    UpdatedAt,
    DeletedAt,
}

#[derive(DeriveIden)]
enum OrganizationMembers {
    Table,
    OrganizationId,
    UserId,
    Role,
    JoinedAt,
}

#[derive(DeriveIden)]
enum OrganizationInvitations {
    Table,
    Id,
    OrganizationId,
    Email,
    Role,
    Status,
    InviterId,
    TokenHash,
    ExpiresAt,
    CreatedAt,
}
