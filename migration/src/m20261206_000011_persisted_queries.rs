//! Automatic persisted queries (Apollo's APQ): documents registered by their SHA-256, so a
//! client may send the hash alone. One table, so every replica knows what any registered.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum PersistedQuery {
    Table,
    /// Lower-case hex SHA-256 of the document text.
    Hash,
    Document,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(PersistedQuery::Table)
                    .col(string_len(PersistedQuery::Hash, 64).primary_key())
                    .col(text(PersistedQuery::Document))
                    .col(timestamp_with_time_zone(PersistedQuery::CreatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(PersistedQuery::Table).to_owned())
            .await
    }
}
