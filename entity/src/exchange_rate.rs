//! Operator-maintained exchange rates, used only to compare amounts across currencies
//! (sorting, filters). Amounts themselves are never converted.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "exchange_rate")]
pub struct Model {
    /// ISO 4217 code.
    #[sea_orm(primary_key, auto_increment = false)]
    pub currency: String,
    /// Value of one major unit in millionths of a US dollar.
    pub usd_micros_per_unit: i64,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
