//! A partner program listing: what a partner earns and how the vendor pays.

use sea_orm::entity::prelude::*;

use crate::code_list::Code;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum ProgramStatus {
    #[sea_orm(string_value = "DRAFT")]
    Draft,
    #[sea_orm(string_value = "PUBLISHED")]
    Published,
    #[sea_orm(string_value = "PAUSED")]
    Paused,
    #[sea_orm(string_value = "ARCHIVED")]
    Archived,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum Visibility {
    #[sea_orm(string_value = "PUBLIC")]
    Public,
    /// Reachable by slug, never listed; applying needs an invitation.
    #[sea_orm(string_value = "INVITE_ONLY")]
    InviteOnly,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum ApprovalMode {
    #[sea_orm(string_value = "MANUAL")]
    Manual,
    #[sea_orm(string_value = "AUTOMATIC")]
    Automatic,
    #[sea_orm(string_value = "RULE_BASED")]
    RuleBased,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum PayoutSchedule {
    #[sea_orm(string_value = "WEEKLY")]
    Weekly,
    #[sea_orm(string_value = "BIWEEKLY")]
    Biweekly,
    #[sea_orm(string_value = "MONTHLY")]
    Monthly,
    #[sea_orm(string_value = "QUARTERLY")]
    Quarterly,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum ReapplyPolicy {
    #[sea_orm(string_value = "INSTANT")]
    Instant,
    #[sea_orm(string_value = "AFTER_30_DAYS")]
    After30Days,
    #[sea_orm(string_value = "NEVER")]
    Never,
}

/// The kinds of partner a program accepts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PartnerType {
    Affiliate,
    Referral,
    Reseller,
    Agency,
    Influencer,
    Technology,
}

impl Code for PartnerType {
    const ALL: &'static [Self] = &[
        Self::Affiliate,
        Self::Referral,
        Self::Reseller,
        Self::Agency,
        Self::Influencer,
        Self::Technology,
    ];

    fn code(self) -> &'static str {
        match self {
            Self::Affiliate => "AFFILIATE",
            Self::Referral => "REFERRAL",
            Self::Reseller => "RESELLER",
            Self::Agency => "AGENCY",
            Self::Influencer => "INFLUENCER",
            Self::Technology => "TECHNOLOGY",
        }
    }
}

/// How a vendor pays its partners.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PayoutMethod {
    Paypal,
    BankTransfer,
    Wise,
    StripeConnect,
    Payoneer,
    AccountCredit,
}

impl Code for PayoutMethod {
    const ALL: &'static [Self] = &[
        Self::Paypal,
        Self::BankTransfer,
        Self::Wise,
        Self::StripeConnect,
        Self::Payoneer,
        Self::AccountCredit,
    ];

    fn code(self) -> &'static str {
        match self {
            Self::Paypal => "PAYPAL",
            Self::BankTransfer => "BANK_TRANSFER",
            Self::Wise => "WISE",
            Self::StripeConnect => "STRIPE_CONNECT",
            Self::Payoneer => "PAYONEER",
            Self::AccountCredit => "ACCOUNT_CREDIT",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "program")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub vendor_id: i64,
    #[sea_orm(unique)]
    pub slug: String,
    pub name: String,
    /// Lower-cased name: the key of the by-name ordering on both engines.
    pub sort_name: String,
    pub tagline: String,
    /// Markdown.
    pub description: String,
    pub category_id: Option<i64>,
    pub website: Option<String>,
    pub status: ProgramStatus,
    pub visibility: Visibility,
    pub approval_mode: ApprovalMode,
    /// Code list of [`PartnerType`]; empty means every type.
    pub partner_types: String,
    /// Code list of ISO 3166-1 alpha-2 codes; empty means worldwide.
    pub countries: String,
    /// ISO 4217; every amount of the program is in this currency.
    pub currency: String,
    pub cookie_window_days: i32,
    pub holding_period_days: i32,
    pub minimum_payout_minor: i64,
    pub payout_schedule: PayoutSchedule,
    /// Code list of [`PayoutMethod`].
    pub payout_methods: String,
    pub terms_url: Option<String>,
    /// Bumped whenever the terms of a published program change.
    pub terms_version: i32,
    /// Vendor-declared average monthly revenue per account, minor units.
    pub arpa_minor: Option<i64>,
    pub reapply_policy: ReapplyPolicy,
    /// Derived from the active rules (kept in sync by the service layer).
    pub has_percentage: bool,
    pub has_flat: bool,
    pub best_rate_bps: i32,
    pub best_flat_minor: i64,
    /// `best_flat_minor` in US cents at the current exchange rate (cross-currency sort).
    pub best_flat_usd_cents: i64,
    /// First publication time, or creation time until then: the "newest" sort key.
    pub listed_at: DateTimeUtc,
    pub published_at: Option<DateTimeUtc>,
    /// Optimistic-locking version, bumped on every change.
    pub version: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::vendor::Entity",
        from = "Column::VendorId",
        to = "super::vendor::Column::Id"
    )]
    Vendor,
    #[sea_orm(
        belongs_to = "super::category::Entity",
        from = "Column::CategoryId",
        to = "super::category::Column::Id"
    )]
    Category,
    #[sea_orm(has_many = "super::program_tier::Entity")]
    ProgramTier,
    #[sea_orm(has_many = "super::commission_rule::Entity")]
    CommissionRule,
}

impl Related<super::vendor::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Vendor.def()
    }
}

impl Related<super::category::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Category.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
