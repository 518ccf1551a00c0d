//! Listings: vendors and their teams, categories, programs with tiers and commission
//! rules, and the exchange rates used to compare amounts across currencies.
//!
//! Sort keys are denormalised into non-null program columns (`listed_at`, `sort_name`,
//! `best_rate_bps`, `best_flat_usd_cents`) so keyset pagination never meets a NULL.
//! Partner types and countries are stored as delimited code lists (`,AFFILIATE,RESELLER,`)
//! so a list filter is one portable `LIKE '%,CODE,%'` on both engines.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Vendor {
    Table,
    Id,
    Slug,
    Name,
    Website,
    Description,
    LogoUrl,
    Country,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum VendorMember {
    Table,
    Id,
    VendorId,
    UserId,
    Role,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Category {
    Table,
    Id,
    Slug,
    Name,
    Position,
}

#[derive(DeriveIden)]
enum Program {
    Table,
    Id,
    VendorId,
    Slug,
    Name,
    SortName,
    Tagline,
    Description,
    CategoryId,
    Website,
    Status,
    Visibility,
    ApprovalMode,
    PartnerTypes,
    Countries,
    Currency,
    CookieWindowDays,
    HoldingPeriodDays,
    MinimumPayoutMinor,
    PayoutSchedule,
    PayoutMethods,
    TermsUrl,
    TermsVersion,
    ArpaMinor,
    ReapplyPolicy,
    HasPercentage,
    HasFlat,
    BestRateBps,
    BestFlatMinor,
    BestFlatUsdCents,
    ListedAt,
    PublishedAt,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ProgramTier {
    Table,
    Id,
    ProgramId,
    Name,
    Rank,
    IsDefault,
    PromotionThresholdMinor,
    CreatedAt,
}

#[derive(DeriveIden)]
enum CommissionRule {
    Table,
    Id,
    ProgramId,
    TierId,
    Event,
    Model,
    RateBps,
    FlatAmountMinor,
    Duration,
    RecurringMonths,
    CapPerCustomerMinor,
    Position,
    CreatedAt,
    RetiredAt,
}

#[derive(DeriveIden)]
enum ExchangeRate {
    Table,
    Currency,
    UsdMicrosPerUnit,
    UpdatedAt,
}

fn index(name: &str, table: impl IntoIden, cols: &[&'static str]) -> IndexCreateStatement {
    let mut index = Index::create();
    index.name(name).table(table);
    for col in cols {
        index.col(Alias::new(*col));
    }
    index.to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Vendor::Table)
                    .col(big_pk_auto(Vendor::Id))
                    .col(string_len_uniq(Vendor::Slug, 64))
                    .col(string_len(Vendor::Name, 100))
                    .col(string_len_null(Vendor::Website, 2048))
                    .col(text_null(Vendor::Description))
                    .col(string_len_null(Vendor::LogoUrl, 2048))
                    .col(string_len_null(Vendor::Country, 2))
                    .col(integer(Vendor::Version).default(1))
                    .col(timestamp_with_time_zone(Vendor::CreatedAt))
                    .col(timestamp_with_time_zone(Vendor::UpdatedAt))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(VendorMember::Table)
                    .col(big_pk_auto(VendorMember::Id))
                    .col(big_integer(VendorMember::VendorId))
                    .col(big_integer(VendorMember::UserId))
                    .col(string_len(VendorMember::Role, 16))
                    .col(timestamp_with_time_zone(VendorMember::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_vendor_member_vendor")
                            .from(VendorMember::Table, VendorMember::VendorId)
                            .to(Vendor::Table, Vendor::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_vendor_member_user")
                            .from(VendorMember::Table, VendorMember::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                index(
                    "uq_vendor_member",
                    VendorMember::Table,
                    &["vendor_id", "user_id"],
                )
                .unique()
                .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_vendor_member_user",
                VendorMember::Table,
                &["user_id"],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Category::Table)
                    .col(big_pk_auto(Category::Id))
                    .col(string_len_uniq(Category::Slug, 64))
                    .col(string_len(Category::Name, 100))
                    .col(integer(Category::Position).default(0))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Program::Table)
                    .col(big_pk_auto(Program::Id))
                    .col(big_integer(Program::VendorId))
                    .col(string_len_uniq(Program::Slug, 64))
                    .col(string_len(Program::Name, 100))
                    .col(string_len(Program::SortName, 100))
                    .col(string_len(Program::Tagline, 160).default(""))
                    .col(text(Program::Description).default(""))
                    .col(big_integer_null(Program::CategoryId))
                    .col(string_len_null(Program::Website, 2048))
                    .col(string_len(Program::Status, 16))
                    .col(string_len(Program::Visibility, 16))
                    .col(string_len(Program::ApprovalMode, 16))
                    .col(string_len(Program::PartnerTypes, 255).default(""))
                    .col(text(Program::Countries).default(""))
                    .col(char_len(Program::Currency, 3))
                    .col(integer(Program::CookieWindowDays))
                    .col(integer(Program::HoldingPeriodDays))
                    .col(big_integer(Program::MinimumPayoutMinor))
                    .col(string_len(Program::PayoutSchedule, 16))
                    .col(string_len(Program::PayoutMethods, 255).default(""))
                    .col(string_len_null(Program::TermsUrl, 2048))
                    .col(integer(Program::TermsVersion).default(1))
                    .col(big_integer_null(Program::ArpaMinor))
                    .col(string_len(Program::ReapplyPolicy, 16))
                    .col(boolean(Program::HasPercentage).default(false))
                    .col(boolean(Program::HasFlat).default(false))
                    .col(integer(Program::BestRateBps).default(0))
                    .col(big_integer(Program::BestFlatMinor).default(0))
                    .col(big_integer(Program::BestFlatUsdCents).default(0))
                    .col(timestamp_with_time_zone(Program::ListedAt))
                    .col(timestamp_with_time_zone_null(Program::PublishedAt))
                    .col(integer(Program::Version).default(1))
                    .col(timestamp_with_time_zone(Program::CreatedAt))
                    .col(timestamp_with_time_zone(Program::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_program_vendor")
                            .from(Program::Table, Program::VendorId)
                            .to(Vendor::Table, Vendor::Id)
                            .on_delete(ForeignKeyAction::Restrict),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_program_category")
                            .from(Program::Table, Program::CategoryId)
                            .to(Category::Table, Category::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        // Keyset orderings of the public listing, each ending in the id tie-breaker.
        for (name, cols) in [
            ("idx_program_newest", &["status", "listed_at", "id"][..]),
            ("idx_program_name", &["status", "sort_name", "id"][..]),
            ("idx_program_rate", &["status", "best_rate_bps", "id"][..]),
            (
                "idx_program_flat",
                &["status", "best_flat_usd_cents", "id"][..],
            ),
            ("idx_program_vendor", &["vendor_id", "listed_at", "id"][..]),
            ("idx_program_category", &["category_id", "status"][..]),
        ] {
            manager
                .create_index(index(name, Program::Table, cols))
                .await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(ProgramTier::Table)
                    .col(big_pk_auto(ProgramTier::Id))
                    .col(big_integer(ProgramTier::ProgramId))
                    .col(string_len(ProgramTier::Name, 50))
                    .col(integer(ProgramTier::Rank))
                    .col(boolean(ProgramTier::IsDefault).default(false))
                    .col(big_integer_null(ProgramTier::PromotionThresholdMinor))
                    .col(timestamp_with_time_zone(ProgramTier::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_program_tier_program")
                            .from(ProgramTier::Table, ProgramTier::ProgramId)
                            .to(Program::Table, Program::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                index(
                    "uq_program_tier_rank",
                    ProgramTier::Table,
                    &["program_id", "rank"],
                )
                .unique()
                .to_owned(),
            )
            .await?;
        manager
            .create_index(
                index(
                    "uq_program_tier_name",
                    ProgramTier::Table,
                    &["program_id", "name"],
                )
                .unique()
                .to_owned(),
            )
            .await?;
        // At most one default tier per program, enforced by the database on both engines.
        manager
            .get_connection()
            .execute_unprepared(
                "CREATE UNIQUE INDEX uq_program_tier_default ON program_tier (program_id) WHERE is_default",
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(CommissionRule::Table)
                    .col(big_pk_auto(CommissionRule::Id))
                    .col(big_integer(CommissionRule::ProgramId))
                    .col(big_integer_null(CommissionRule::TierId))
                    .col(string_len(CommissionRule::Event, 16))
                    .col(string_len(CommissionRule::Model, 16))
                    .col(integer_null(CommissionRule::RateBps))
                    .col(big_integer_null(CommissionRule::FlatAmountMinor))
                    .col(string_len(CommissionRule::Duration, 16))
                    .col(integer_null(CommissionRule::RecurringMonths))
                    .col(big_integer_null(CommissionRule::CapPerCustomerMinor))
                    .col(integer(CommissionRule::Position))
                    .col(timestamp_with_time_zone(CommissionRule::CreatedAt))
                    // Rules are retired, never deleted: commissions will point at the rule
                    // that applied when they were earned.
                    .col(timestamp_with_time_zone_null(CommissionRule::RetiredAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_commission_rule_program")
                            .from(CommissionRule::Table, CommissionRule::ProgramId)
                            .to(Program::Table, Program::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_commission_rule_tier")
                            .from(CommissionRule::Table, CommissionRule::TierId)
                            .to(ProgramTier::Table, ProgramTier::Id)
                            .on_delete(ForeignKeyAction::SetNull),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_commission_rule_program",
                CommissionRule::Table,
                &["program_id", "retired_at"],
            ))
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(ExchangeRate::Table)
                    .col(char_len(ExchangeRate::Currency, 3).primary_key())
                    // Value of one major unit in millionths of a US dollar.
                    .col(big_integer(ExchangeRate::UsdMicrosPerUnit))
                    .col(timestamp_with_time_zone(ExchangeRate::UpdatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            ExchangeRate::Table.into_iden(),
            CommissionRule::Table.into_iden(),
            ProgramTier::Table.into_iden(),
            Program::Table.into_iden(),
            Category::Table.into_iden(),
            VendorMember::Table.into_iden(),
            Vendor::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
