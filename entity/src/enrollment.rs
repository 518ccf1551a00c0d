//! The partnership: an approved partner in a program, with its tier and referral code.

use sea_orm::entity::prelude::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum EnrollmentStatus {
    #[sea_orm(string_value = "ACTIVE")]
    Active,
    #[sea_orm(string_value = "SUSPENDED")]
    Suspended,
    #[sea_orm(string_value = "LEFT")]
    Left,
    #[sea_orm(string_value = "TERMINATED")]
    Terminated,
}

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "enrollment")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub program_id: i64,
    pub partner_id: i64,
    #[sea_orm(unique)]
    pub application_id: i64,
    pub tier_id: Option<i64>,
    #[sea_orm(unique)]
    pub referral_code: String,
    pub status: EnrollmentStatus,
    /// Active or suspended; at most one per partner and program (partial unique index).
    pub live: bool,
    /// The program's terms version the partner accepted by joining.
    pub terms_version: i32,
    pub joined_at: DateTimeUtc,
    /// First approved commission (set by the earnings ledger).
    pub activated_at: Option<DateTimeUtc>,
    /// When the partnership first earned: the occurrence of its earliest earning
    /// commission (set by the ledger; reversals do not clear it).
    pub first_commission_at: Option<DateTimeUtc>,
    /// When the partner left or was terminated.
    pub ended_at: Option<DateTimeUtc>,
    pub end_reason: Option<String>,
    pub version: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
