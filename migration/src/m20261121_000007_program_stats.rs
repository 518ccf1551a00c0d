//! Derived figures per program, rewritten in the transaction of every ledger or
//! application change that moves them.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Program {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum ProgramStats {
    Table,
    ProgramId,
    EnrolledPartners,
    ActivatedPartners,
    EarningPartners,
    AverageMonthlyMinor,
    MedianMonthlyMinor,
    Conversions,
    AveragePerConversionMinor,
    Decisions,
    Approvals,
    MedianDecisionSecs,
    MedianFirstCommissionSecs,
    UpdatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(ProgramStats::Table)
                    .col(big_integer(ProgramStats::ProgramId).primary_key())
                    .col(integer(ProgramStats::EnrolledPartners))
                    .col(integer(ProgramStats::ActivatedPartners))
                    .col(integer(ProgramStats::EarningPartners))
                    .col(big_integer(ProgramStats::AverageMonthlyMinor))
                    .col(big_integer(ProgramStats::MedianMonthlyMinor))
                    .col(integer(ProgramStats::Conversions))
                    .col(big_integer(ProgramStats::AveragePerConversionMinor))
                    .col(integer(ProgramStats::Decisions))
                    .col(integer(ProgramStats::Approvals))
                    .col(big_integer_null(ProgramStats::MedianDecisionSecs))
                    .col(big_integer_null(ProgramStats::MedianFirstCommissionSecs))
                    .col(timestamp_with_time_zone(ProgramStats::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_program_stats_program")
                            .from(ProgramStats::Table, ProgramStats::ProgramId)
                            .to(Program::Table, Program::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(ProgramStats::Table).to_owned())
            .await
    }
}
