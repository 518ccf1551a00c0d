//! The commission ledger: conversions reported by vendors, and the commission rows
//! computed from them. Commission amounts are never edited: a refund appends negative
//! rows, and only a row's status moves (`PENDING` → `APPROVED` → `PAID`).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Program {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Enrollment {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Conversion {
    Table,
    Id,
    VendorId,
    ProgramId,
    EnrollmentId,
    PartnerId,
    Event,
    CustomerRef,
    AmountMinor,
    Currency,
    OccurredAt,
    IdempotencyKey,
    RequestHash,
    RecordedByApiKeyId,
    RecordedByUserId,
    ReversedAt,
    ReversalReason,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Commission {
    Table,
    Id,
    ConversionId,
    EnrollmentId,
    ProgramId,
    PartnerId,
    RuleId,
    Kind,
    AmountMinor,
    Currency,
    Status,
    AvailableAt,
    ApprovedAt,
    PaidAt,
    PayoutReference,
    ReversesId,
    CreatedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Conversion::Table)
                    .col(big_pk_auto(Conversion::Id))
                    .col(big_integer(Conversion::VendorId))
                    .col(big_integer(Conversion::ProgramId))
                    .col(big_integer(Conversion::EnrollmentId))
                    .col(big_integer(Conversion::PartnerId))
                    .col(string_len(Conversion::Event, 16))
                    .col(string_len(Conversion::CustomerRef, 200))
                    .col(big_integer(Conversion::AmountMinor))
                    .col(char_len(Conversion::Currency, 3))
                    .col(timestamp_with_time_zone(Conversion::OccurredAt))
                    .col(string_len(Conversion::IdempotencyKey, 100))
                    .col(char_len(Conversion::RequestHash, 64))
                    .col(big_integer_null(Conversion::RecordedByApiKeyId))
                    .col(big_integer_null(Conversion::RecordedByUserId))
                    .col(timestamp_with_time_zone_null(Conversion::ReversedAt))
                    .col(text_null(Conversion::ReversalReason))
                    .col(timestamp_with_time_zone(Conversion::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_conversion_program")
                            .from(Conversion::Table, Conversion::ProgramId)
                            .to(Program::Table, Program::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_conversion_enrollment")
                            .from(Conversion::Table, Conversion::EnrollmentId)
                            .to(Enrollment::Table, Enrollment::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_conversion_idempotency")
                    .table(Conversion::Table)
                    .col(Conversion::VendorId)
                    .col(Conversion::IdempotencyKey)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_conversion_customer")
                    .table(Conversion::Table)
                    .col(Conversion::EnrollmentId)
                    .col(Conversion::CustomerRef)
                    .col(Conversion::OccurredAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Commission::Table)
                    .col(big_pk_auto(Commission::Id))
                    .col(big_integer(Commission::ConversionId))
                    .col(big_integer(Commission::EnrollmentId))
                    .col(big_integer(Commission::ProgramId))
                    .col(big_integer(Commission::PartnerId))
                    .col(big_integer_null(Commission::RuleId))
                    .col(string_len(Commission::Kind, 16))
                    .col(big_integer(Commission::AmountMinor))
                    .col(char_len(Commission::Currency, 3))
                    .col(string_len(Commission::Status, 16))
                    .col(timestamp_with_time_zone(Commission::AvailableAt))
                    .col(timestamp_with_time_zone_null(Commission::ApprovedAt))
                    .col(timestamp_with_time_zone_null(Commission::PaidAt))
                    .col(string_len_null(Commission::PayoutReference, 100))
                    .col(big_integer_null(Commission::ReversesId))
                    .col(timestamp_with_time_zone(Commission::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_commission_conversion")
                            .from(Commission::Table, Commission::ConversionId)
                            .to(Conversion::Table, Conversion::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, cols) in [
            ("idx_commission_due", &["status", "available_at"][..]),
            ("idx_commission_partner", &["partner_id", "created_at"][..]),
            ("idx_commission_program", &["program_id", "created_at"][..]),
            ("idx_commission_conversion", &["conversion_id"][..]),
        ] {
            let mut index = Index::create();
            index.name(name).table(Commission::Table);
            for col in cols {
                index.col(Alias::new(*col));
            }
            manager.create_index(index.to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [Commission::Table.into_iden(), Conversion::Table.into_iden()] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
