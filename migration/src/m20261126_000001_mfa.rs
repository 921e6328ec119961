//! Second factors: `mfa_methods` (TOTP secrets encrypted, SMS numbers),
//! `mfa_challenges` (sent codes, hashed), `mfa_backup_codes` (each its own
//! salted hash), `mfa_pending_logins` (the `mfa_token`s, hashed); and the
//! assurance of each session (`aal`, `amr`, `auth_time`).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite takes one column per ALTER TABLE.
        for column in [
            string_len(Sessions::Aal, 8).default("aal1").to_owned(),
            string_len(Sessions::Amr, 64).default("pwd").to_owned(),
            timestamp_with_time_zone_null(Sessions::AuthTime).to_owned(),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Sessions::Table)
                        .add_column(column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(MfaMethods::Table)
                    .col(pk_uuid(MfaMethods::Id))
                    .col(uuid(MfaMethods::UserId))
                    .col(string_len(MfaMethods::Kind, 16))
                    .col(string_len(MfaMethods::Name, 64))
                    .col(string_len(MfaMethods::Status, 16))
                    .col(text_null(MfaMethods::Secret))
                    .col(string_len_null(MfaMethods::Phone, 32))
                    .col(big_integer_null(MfaMethods::LastUsedStep))
                    .col(timestamp_with_time_zone(MfaMethods::CreatedAt))
                    .col(timestamp_with_time_zone_null(MfaMethods::LastUsedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(MfaMethods::Table, MfaMethods::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_mfa_methods_user_name")
                    .table(MfaMethods::Table)
                    .col(MfaMethods::UserId)
                    .col(MfaMethods::Name)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(MfaChallenges::Table)
                    .col(pk_uuid(MfaChallenges::Id))
                    .col(uuid(MfaChallenges::MethodId))
                    .col(uuid(MfaChallenges::UserId))
                    .col(string_len(MfaChallenges::CodeHash, 64))
                    .col(timestamp_with_time_zone(MfaChallenges::CreatedAt))
                    .col(timestamp_with_time_zone(MfaChallenges::ExpiresAt))
                    .col(integer(MfaChallenges::Attempts).default(0))
                    .col(timestamp_with_time_zone_null(MfaChallenges::ConsumedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(MfaChallenges::Table, MfaChallenges::MethodId)
                            .to(MfaMethods::Table, MfaMethods::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_mfa_challenges_method")
                    .table(MfaChallenges::Table)
                    .col(MfaChallenges::MethodId)
                    .col(MfaChallenges::CreatedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(MfaBackupCodes::Table)
                    .col(pk_uuid(MfaBackupCodes::Id))
                    .col(uuid(MfaBackupCodes::UserId))
                    .col(string_len(MfaBackupCodes::CodeHash, 255))
                    .col(timestamp_with_time_zone(MfaBackupCodes::CreatedAt))
                    .col(timestamp_with_time_zone_null(MfaBackupCodes::UsedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(MfaBackupCodes::Table, MfaBackupCodes::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_mfa_backup_codes_user")
                    .table(MfaBackupCodes::Table)
                    .col(MfaBackupCodes::UserId)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(MfaPendingLogins::Table)
                    .col(pk_uuid(MfaPendingLogins::Id))
                    .col(string_len_uniq(MfaPendingLogins::TokenHash, 64))
                    .col(uuid(MfaPendingLogins::UserId))
                    .col(boolean(MfaPendingLogins::RememberMe).default(false))
                    .col(string_len_null(MfaPendingLogins::Ip, 64))
                    .col(string_len_null(MfaPendingLogins::UserAgent, 512))
                    .col(timestamp_with_time_zone(MfaPendingLogins::CreatedAt))
                    .col(timestamp_with_time_zone(MfaPendingLogins::ExpiresAt))
                    .col(integer(MfaPendingLogins::Attempts).default(0))
                    .col(timestamp_with_time_zone_null(MfaPendingLogins::ConsumedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(MfaPendingLogins::Table, MfaPendingLogins::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            MfaPendingLogins::Table.into_iden(),
            MfaBackupCodes::Table.into_iden(),
            MfaChallenges::Table.into_iden(),
            MfaMethods::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        for column in [Sessions::AuthTime, Sessions::Amr, Sessions::Aal] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Sessions::Table)
                        .drop_column(column)
                        .to_owned(),
                )
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
    Aal,
    Amr,
    AuthTime,
}

#[derive(DeriveIden)]
enum MfaMethods {
    Table,
    Id,
    UserId,
    Kind,
    Name,
    Status,
    Secret,
    Phone,
    LastUsedStep,
    CreatedAt,
    LastUsedAt,
}

#[derive(DeriveIden)]
enum MfaChallenges {
    Table,
    Id,
    MethodId,
    UserId,
    CodeHash,
    CreatedAt,
    ExpiresAt,
    Attempts,
    ConsumedAt,
}

#[derive(DeriveIden)]
enum MfaBackupCodes {
    Table,
    Id,
    UserId,
    CodeHash,
    CreatedAt,
    UsedAt,
}

#[derive(DeriveIden)]
enum MfaPendingLogins {
    Table,
    Id,
    TokenHash,
    UserId,
    RememberMe,
    Ip,
    UserAgent,
    CreatedAt,
    ExpiresAt,
    Attempts,
    ConsumedAt,
}
