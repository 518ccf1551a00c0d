//! A conversion reported by a vendor: a sale, lead or sign-up attributed to a partner.

use sea_orm::entity::prelude::*;

use crate::commission_rule::CommissionEvent;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "conversion")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub vendor_id: i64,
    pub program_id: i64,
    pub enrollment_id: i64,
    pub partner_id: i64,
    pub event: CommissionEvent,
    /// The vendor's own reference of the customer (recurring rules and caps count per
    /// customer).
    pub customer_ref: String,
    /// Never negative: refunds go through a reversal.
    pub amount_minor: i64,
    pub currency: String,
    pub occurred_at: DateTimeUtc,
    /// Unique per vendor.
    pub idempotency_key: String,
    /// SHA-256 of the request's fields: the same key with another payload is a conflict.
    pub request_hash: String,
    pub recorded_by_api_key_id: Option<i64>,
    pub recorded_by_user_id: Option<i64>,
    pub reversed_at: Option<DateTimeUtc>,
    pub reversal_reason: Option<String>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
