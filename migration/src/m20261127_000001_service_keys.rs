//! Service keys: the bearer credentials of other services. Only the SHA-256
//! of a key is stored (`key_hash`, hex, unique); `permissions` holds the
//! key's grants as their texts (`*`, `resource:*`, `resource:action`),
//! sorted and separated by single spaces (a grant never contains a space).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ServiceKeys::Table)
                    .col(pk_uuid(ServiceKeys::Id))
                    .col(string_len(ServiceKeys::Name, 128))
                    .col(string_len(ServiceKeys::KeyHash, 64))
                    // Grant texts, sorted, space-separated.
                    .col(text(ServiceKeys::Permissions))
                    .col(timestamp_with_time_zone(ServiceKeys::CreatedAt))
                    .col(timestamp_with_time_zone_null(ServiceKeys::RevokedAt))
                    .to_owned(),
            )
            .await?;
        // Every presented key is looked up by its hash.
        manager
            .create_index(
                Index::create()
                    .name("idx_service_keys_key_hash")
                    .table(ServiceKeys::Table)
                    .col(ServiceKeys::KeyHash)
                    .unique()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ServiceKeys::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum ServiceKeys {
    Table,
    Id,
    Name,
    KeyHash,
    Permissions,
    CreatedAt,
    RevokedAt,
}
