//! Users, sessions, refresh tokens, one-time email tokens, the outbox and the
//! audit trail.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(pk_uuid(Users::Id))
                    // Stored trimmed and lower-cased by the domain; unique.
                    .col(string_len_uniq(Users::Email, 254))
                    .col(boolean(Users::EmailVerified).default(false))
                    .col(string_len(Users::PasswordHash, 255))
                    .col(string_len(Users::Status, 32).default("active"))
                    // Comma-separated role names until roles get tables of their own.
                    .col(string_len(Users::Roles, 1024).default("user"))
                    .col(timestamp_with_time_zone(Users::CreatedAt))
                    .col(timestamp_with_time_zone(Users::UpdatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Sessions::Table)
                    .col(pk_uuid(Sessions::Id))
                    .col(uuid(Sessions::UserId))
                    .col(timestamp_with_time_zone(Sessions::CreatedAt))
                    .col(timestamp_with_time_zone(Sessions::LastUsedAt))
                    .col(timestamp_with_time_zone(Sessions::ExpiresAt))
                    .col(boolean(Sessions::RememberMe).default(false))
                    .col(string_len_null(Sessions::Ip, 64))
                    .col(string_len_null(Sessions::UserAgent, 512))
                    .col(timestamp_with_time_zone_null(Sessions::RevokedAt))
                    .col(string_len_null(Sessions::RevokedReason, 64))
                    .foreign_key(
                        ForeignKey::create()
                            .from(Sessions::Table, Sessions::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_sessions_user")
                    .table(Sessions::Table)
                    .col(Sessions::UserId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_sessions_revoked_at")
                    .table(Sessions::Table)
                    .col(Sessions::RevokedAt)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(RefreshTokens::Table)
                    .col(pk_uuid(RefreshTokens::Id))
                    .col(uuid(RefreshTokens::SessionId))
                    .col(string_len_uniq(RefreshTokens::TokenHash, 64))
                    .col(timestamp_with_time_zone(RefreshTokens::CreatedAt))
                    // Set when rotated out: presenting it again is reuse.
                    .col(timestamp_with_time_zone_null(RefreshTokens::UsedAt))
                    .col(uuid_null(RefreshTokens::ReplacedBy))
                    .foreign_key(
                        ForeignKey::create()
                            .from(RefreshTokens::Table, RefreshTokens::SessionId)
                            .to(Sessions::Table, Sessions::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_refresh_tokens_session")
                    .table(RefreshTokens::Table)
                    .col(RefreshTokens::SessionId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(OneTimeTokens::Table)
                    .col(pk_uuid(OneTimeTokens::Id))
                    .col(uuid(OneTimeTokens::UserId))
                    .col(string_len(OneTimeTokens::Purpose, 32))
                    .col(string_len_uniq(OneTimeTokens::TokenHash, 64))
                    .col(timestamp_with_time_zone(OneTimeTokens::CreatedAt))
                    .col(timestamp_with_time_zone(OneTimeTokens::ExpiresAt))
                    .col(timestamp_with_time_zone_null(OneTimeTokens::ConsumedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(OneTimeTokens::Table, OneTimeTokens::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_one_time_tokens_user_purpose")
                    .table(OneTimeTokens::Table)
                    .col(OneTimeTokens::UserId)
                    .col(OneTimeTokens::Purpose)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Outbox::Table)
                    .col(pk_uuid(Outbox::Id))
                    // What the payload is ("email"); the outbox is not tied to mail.
                    .col(string_len(Outbox::Kind, 64))
                    .col(text(Outbox::Payload))
                    .col(string_len(Outbox::Status, 16).default("pending"))
                    .col(integer(Outbox::Attempts).default(0))
                    .col(timestamp_with_time_zone(Outbox::NextAttemptAt))
                    .col(timestamp_with_time_zone_null(Outbox::LockedUntil))
                    .col(text_null(Outbox::LastError))
                    .col(timestamp_with_time_zone(Outbox::CreatedAt))
                    .col(timestamp_with_time_zone_null(Outbox::SentAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_outbox_due")
                    .table(Outbox::Table)
                    .col(Outbox::Status)
                    .col(Outbox::NextAttemptAt)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AuditEvents::Table)
                    .col(pk_uuid(AuditEvents::Id))
                    // No foreign key: the trail outlives what it talks about.
                    .col(uuid_null(AuditEvents::UserId))
                    .col(string_len(AuditEvents::EventType, 64))
                    .col(string_len_null(AuditEvents::Ip, 64))
                    .col(string_len_null(AuditEvents::UserAgent, 512))
                    .col(text(AuditEvents::Details))
                    .col(timestamp_with_time_zone(AuditEvents::At))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_audit_events_user_at")
                    .table(AuditEvents::Table)
                    .col(AuditEvents::UserId)
                    .col(AuditEvents::At)
                    .to_owned(),
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            AuditEvents::Table.into_iden(),
            Outbox::Table.into_iden(),
            OneTimeTokens::Table.into_iden(),
            RefreshTokens::Table.into_iden(),
            Sessions::Table.into_iden(),
            Users::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).if_exists().to_owned())
                .await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Email,
    EmailVerified,
    PasswordHash,
    Status,
    Roles,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    Id,
    UserId,
    CreatedAt,
    LastUsedAt,
    ExpiresAt,
    RememberMe,
    Ip,
    UserAgent,
    RevokedAt,
    RevokedReason,
}

#[derive(DeriveIden)]
enum RefreshTokens {
    Table,
    Id,
    SessionId,
    TokenHash,
    CreatedAt,
    UsedAt,
    ReplacedBy,
}

#[derive(DeriveIden)]
enum OneTimeTokens {
    Table,
    Id,
    UserId,
    Purpose,
    TokenHash,
    CreatedAt,
    ExpiresAt,
    ConsumedAt,
}

#[derive(DeriveIden)]
enum Outbox {
    Table,
    Id,
    Kind,
    Payload,
    Status,
    Attempts,
    NextAttemptAt,
    LockedUntil,
    LastError,
    CreatedAt,
    SentAt,
}

#[derive(DeriveIden)]
enum AuditEvents {
    Table,
    Id,
    UserId,
    EventType,
    Ip,
    UserAgent,
    Details,
    At,
}
