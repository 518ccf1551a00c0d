//! Figures partners choose programs by, derived from the ledger and the applications
//! and rewritten in the transaction of every change that moves them.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "program_stats")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub program_id: i64,
    /// Active or suspended partnerships.
    pub enrolled_partners: i32,
    /// … of which have had a commission approved.
    pub activated_partners: i32,
    /// Partners with net earnings in the trailing 90 days: the sample size.
    pub earning_partners: i32,
    /// Per earning partner and month over the trailing 90 days (program currency).
    pub average_monthly_minor: i64,
    pub median_monthly_minor: i64,
    /// Conversions with a commission in the trailing 90 days.
    pub conversions: i32,
    pub average_per_conversion_minor: i64,
    /// Applications decided in the trailing 180 days, and how many were approved.
    pub decisions: i32,
    pub approvals: i32,
    pub median_decision_secs: Option<i64>,
    /// From joining to the first commission.
    pub median_first_commission_secs: Option<i64>,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
