//! The domain-event log: one row per thing that happened, written in the transaction
//! that made it happen. Append-only.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "event")]
pub struct Model {
    /// Monotonic, in the order events were written (not always the order they commit in
    /// on PostgreSQL: consumers read by `(txid, id)`).
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The writing transaction's id on PostgreSQL (set by the database); 0 on SQLite.
    pub txid: i64,
    /// Dotted, past tense: `application.approved`.
    pub event_type: String,
    pub occurred_at: DateTimeUtc,
    pub actor_user_id: Option<i64>,
    pub actor_api_key_id: Option<i64>,
    pub request_id: Option<String>,
    /// Whose business it is: what authorization of readers and subscribers goes by.
    pub vendor_id: Option<i64>,
    pub program_id: Option<i64>,
    pub partner_id: Option<i64>,
    /// The object it happened to (`Application`, 12).
    pub subject_type: String,
    pub subject_id: Option<i64>,
    /// `{ "v": <schema version>, … }`.
    pub payload: Json,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
