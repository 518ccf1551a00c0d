//! Production hardening: what statistics need to stay cheap, and the shared rate-limit
//! buckets.
//!
//! - `enrollment.first_commission_at`: when a partnership first earned (the occurrence
//!   of its first earning commission), kept by the ledger, so the median time to first
//!   commission reads one row per partnership instead of the program's whole ledger.
//! - indexes for the statistics' trailing windows (conversions by occurrence, decisions
//!   by decision time).
//! - `rate_limit_bucket`: one row per limited key (GCRA: the theoretical arrival time),
//!   shared by every replica.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Enrollment {
    Table,
    FirstCommissionAt,
}

#[derive(DeriveIden)]
enum RateLimitBucket {
    Table,
    Key,
    TatMs,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Enrollment::Table)
                    .add_column(timestamp_with_time_zone_null(Enrollment::FirstCommissionAt))
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        db.execute_unprepared(
            "UPDATE enrollment SET first_commission_at = (
                SELECT MIN(conversion.occurred_at) FROM commission
                JOIN conversion ON conversion.id = commission.conversion_id
                WHERE commission.enrollment_id = enrollment.id
                  AND commission.kind = 'EARNING' AND commission.amount_minor > 0)",
        )
        .await?;
        for (name, table, cols) in [
            (
                "idx_conversion_program_occurred",
                "conversion",
                &["program_id", "occurred_at"][..],
            ),
            (
                "idx_application_decided",
                "application",
                &["program_id", "decided_at"][..],
            ),
        ] {
            let mut index = Index::create();
            index.name(name).table(Alias::new(table));
            for col in cols {
                index.col(Alias::new(*col));
            }
            manager.create_index(index.to_owned()).await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(RateLimitBucket::Table)
                    .col(string_len(RateLimitBucket::Key, 200).primary_key())
                    .col(big_integer(RateLimitBucket::TatMs))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(RateLimitBucket::Table).to_owned())
            .await?;
        for (name, table) in [
            ("idx_conversion_program_occurred", "conversion"),
            ("idx_application_decided", "application"),
        ] {
            manager
                .drop_index(Index::drop().name(name).table(Alias::new(table)).to_owned())
                .await?;
        }
        manager
            .alter_table(
                Table::alter()
                    .table(Enrollment::Table)
                    .drop_column(Enrollment::FirstCommissionAt)
                    .to_owned(),
            )
            .await
    }
}
