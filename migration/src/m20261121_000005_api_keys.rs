//! Vendor API keys for server-to-server calls: prefixed, stored as SHA-256 hashes,
//! scoped, revocable, with the time of last use.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Vendor {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum ApiKey {
    Table,
    Id,
    VendorId,
    Name,
    Prefix,
    SecretHash,
    Scopes,
    CreatedByUserId,
    CreatedAt,
    LastUsedAt,
    RevokedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ApiKey::Table)
                    .col(big_pk_auto(ApiKey::Id))
                    .col(big_integer(ApiKey::VendorId))
                    .col(string_len(ApiKey::Name, 100))
                    .col(string_len(ApiKey::Prefix, 32))
                    .col(char_len_uniq(ApiKey::SecretHash, 64))
                    .col(string_len(ApiKey::Scopes, 255))
                    .col(big_integer_null(ApiKey::CreatedByUserId))
                    .col(timestamp_with_time_zone(ApiKey::CreatedAt))
                    .col(timestamp_with_time_zone_null(ApiKey::LastUsedAt))
                    .col(timestamp_with_time_zone_null(ApiKey::RevokedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_api_key_vendor")
                            .from(ApiKey::Table, ApiKey::VendorId)
                            .to(Vendor::Table, Vendor::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_api_key_vendor")
                    .table(ApiKey::Table)
                    .col(ApiKey::VendorId)
                    .col(ApiKey::CreatedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ApiKey::Table).to_owned())
            .await
    }
}
