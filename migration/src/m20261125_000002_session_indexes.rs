//! `idx_sessions_revoked_at` only over revoked sessions. Over every row it
//! also matched `revoked_at IS NULL`, and PostgreSQL sometimes chose it for
//! a refresh's `WHERE id = $1 AND revoked_at IS NULL`, scanning every live
//! session instead of one primary-key lookup. Partial, it serves what it is
//! for (revocations since a moment, the purge) and nothing else.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

const INDEX: &str = "idx_sessions_revoked_at";

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        recreate(manager, true).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        recreate(manager, false).await
    }
}

/// Replaces the index by one over revoked sessions only (`partial`) or
/// over every session.
async fn recreate(manager: &SchemaManager<'_>, partial: bool) -> Result<(), DbErr> {
    manager
        .drop_index(Index::drop().name(INDEX).to_owned())
        .await?;
    let mut index = Index::create();
    index
        .name(INDEX)
        .table(Sessions::Table)
        .col(Sessions::RevokedAt);
    if partial {
        index.and_where(Expr::col(Sessions::RevokedAt).is_not_null());
    }
    manager.create_index(index).await
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    RevokedAt,
}
