//! One structured commission term: for which event, how much, for how long.

use sea_orm::entity::prelude::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum CommissionEvent {
    #[sea_orm(string_value = "SALE")]
    Sale,
    #[sea_orm(string_value = "LEAD")]
    Lead,
    #[sea_orm(string_value = "SIGNUP")]
    Signup,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum CommissionModel {
    /// `rate_bps` of the conversion amount.
    #[sea_orm(string_value = "PERCENTAGE")]
    Percentage,
    /// `flat_amount_minor` per conversion.
    #[sea_orm(string_value = "FLAT")]
    Flat,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum CommissionDuration {
    /// Only the customer's first conversion pays.
    #[sea_orm(string_value = "ONE_TIME")]
    OneTime,
    /// Every conversion within `recurring_months` of the customer's first.
    #[sea_orm(string_value = "RECURRING")]
    Recurring,
    /// Every conversion of the customer, forever.
    #[sea_orm(string_value = "LIFETIME")]
    Lifetime,
}

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "commission_rule")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub program_id: i64,
    /// `None`: applies to every tier (tier-specific rules take precedence).
    pub tier_id: Option<i64>,
    pub event: CommissionEvent,
    pub model: CommissionModel,
    /// 1–10,000 basis points; set exactly when `model` is `Percentage`.
    pub rate_bps: Option<i32>,
    /// Minor units of the program currency; set exactly when `model` is `Flat`.
    pub flat_amount_minor: Option<i64>,
    pub duration: CommissionDuration,
    /// 1–120; set exactly when `duration` is `Recurring`.
    pub recurring_months: Option<i32>,
    pub cap_per_customer_minor: Option<i64>,
    pub position: i32,
    pub created_at: DateTimeUtc,
    /// Set when the terms were replaced; retired rules stay for the ledger's history.
    pub retired_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::program::Entity",
        from = "Column::ProgramId",
        to = "super::program::Column::Id",
        on_delete = "Cascade"
    )]
    Program,
    #[sea_orm(
        belongs_to = "super::program_tier::Entity",
        from = "Column::TierId",
        to = "super::program_tier::Column::Id",
        on_delete = "SetNull"
    )]
    Tier,
}

impl Related<super::program_tier::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Tier.def()
    }
}

impl Related<super::program::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Program.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
