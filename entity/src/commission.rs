//! A row of the commission ledger. Amounts are never edited: a refund appends a
//! `REVERSAL` row with the negative amount; only the status moves.

use sea_orm::entity::prelude::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum CommissionStatus {
    /// Within the program's holding period.
    #[sea_orm(string_value = "PENDING")]
    Pending,
    /// Owed to the partner.
    #[sea_orm(string_value = "APPROVED")]
    Approved,
    /// Settled by the vendor.
    #[sea_orm(string_value = "PAID")]
    Paid,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum CommissionKind {
    #[sea_orm(string_value = "EARNING")]
    Earning,
    /// The negative of an earning, for a refunded conversion.
    #[sea_orm(string_value = "REVERSAL")]
    Reversal,
}

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "commission")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub conversion_id: i64,
    pub enrollment_id: i64,
    pub program_id: i64,
    pub partner_id: i64,
    /// The rule that applied (rules are retired, never deleted).
    pub rule_id: Option<i64>,
    pub kind: CommissionKind,
    /// Minor units of `currency`; negative for reversals.
    pub amount_minor: i64,
    pub currency: String,
    pub status: CommissionStatus,
    /// When the holding period ends.
    pub available_at: DateTimeUtc,
    pub approved_at: Option<DateTimeUtc>,
    pub paid_at: Option<DateTimeUtc>,
    pub payout_reference: Option<String>,
    /// For a reversal: the earning it cancels.
    pub reverses_id: Option<i64>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
