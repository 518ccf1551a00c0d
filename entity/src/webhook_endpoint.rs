//! Where a vendor's (or a partner's) events are delivered, signed.

use sea_orm::entity::prelude::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum EndpointStatus {
    #[sea_orm(string_value = "ACTIVE")]
    Active,
    /// Paused by its owner: receives nothing until resumed.
    #[sea_orm(string_value = "PAUSED")]
    Paused,
    /// Disabled by the server after failing for a day: receives nothing until resumed.
    #[sea_orm(string_value = "DISABLED")]
    Disabled,
}

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_endpoint")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// `vendor:<id>` or `partner:<id>`.
    pub owner: String,
    pub vendor_id: Option<i64>,
    pub partner_id: Option<i64>,
    pub url: String,
    pub description: String,
    /// Event types it receives, as a `,a,b,` code list.
    pub event_types: String,
    pub status: EndpointStatus,
    pub disabled_reason: Option<String>,
    /// `whsec_` + base64: signs every delivery (needed in clear to sign).
    pub secret: String,
    /// The secret before the last rotation, signing alongside the new one until expiry.
    pub previous_secret: Option<String>,
    pub previous_secret_expires_at: Option<DateTimeUtc>,
    /// Since when every attempt has failed (none: the last one succeeded).
    pub failing_since: Option<DateTimeUtc>,
    pub consecutive_failures: i32,
    pub created_by_user_id: Option<i64>,
    pub version: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
