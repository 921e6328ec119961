//! Profiles and suspensions: a user's display `name` (at most 100
//! characters, so up to 400 bytes of UTF-8), `bio` and `avatar_url`, and an
//! administrator's suspension (`suspended_reason`, `suspended_at`, and
//! `suspended_until` when it lifts by itself). All nullable: existing
//! accounts keep an empty profile and no suspension.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The sweeper looks up suspensions that are due to lift.
const UNTIL_INDEX: &str = "idx_users_suspended_until";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite adds one column per ALTER TABLE.
        for mut column in [
            string_len_null(Users::Name, 400),
            text_null(Users::Bio),
            text_null(Users::AvatarUrl),
            text_null(Users::SuspendedReason),
            timestamp_with_time_zone_null(Users::SuspendedAt),
            timestamp_with_time_zone_null(Users::SuspendedUntil),
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Users::Table)
                        .add_column(&mut column)
                        .to_owned(),
                )
                .await?;
        }
        manager
            .create_index(
                Index::create()
                    .name(UNTIL_INDEX)
                    .table(Users::Table)
                    .col(Users::SuspendedUntil)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // SQLite drops no indexed column: the index goes first.
        manager
            .drop_index(Index::drop().name(UNTIL_INDEX).to_owned())
            .await?;
        for column in [
            Users::SuspendedUntil,
            Users::SuspendedAt,
            Users::SuspendedReason,
            Users::AvatarUrl,
            Users::Bio,
            Users::Name,
        ] {
            manager
                .alter_table(
                    Table::alter()
                        .table(Users::Table)
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
    Name,
    Bio,
    AvatarUrl,
    SuspendedReason,
    SuspendedAt,
    SuspendedUntil,
}
