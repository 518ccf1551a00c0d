//! A partner's application to a program, with its answers and the vendor's decision.

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum ApplicationStatus {
    #[sea_orm(string_value = "PENDING")]
    Pending,
    #[sea_orm(string_value = "APPROVED")]
    Approved,
    #[sea_orm(string_value = "REJECTED")]
    Rejected,
    #[sea_orm(string_value = "WITHDRAWN")]
    Withdrawn,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(24))")]
pub enum JoinSource {
    #[sea_orm(string_value = "MARKETPLACE_SEARCH")]
    MarketplaceSearch,
    #[sea_orm(string_value = "MARKETPLACE_BROWSE")]
    MarketplaceBrowse,
    #[sea_orm(string_value = "DIRECT_LINK")]
    DirectLink,
    #[sea_orm(string_value = "INVITATION")]
    Invitation,
    #[sea_orm(string_value = "PARTNER_REFERRAL")]
    PartnerReferral,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum RejectionReason {
    #[sea_orm(string_value = "NOT_A_FIT")]
    NotAFit,
    #[sea_orm(string_value = "INCOMPLETE")]
    Incomplete,
    #[sea_orm(string_value = "AUDIENCE")]
    Audience,
    #[sea_orm(string_value = "REGION")]
    Region,
    #[sea_orm(string_value = "OTHER")]
    Other,
}

/// One answer as submitted: the question's prompt and kind are copied, so later edits of
/// the questions never change what the partner answered.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    pub question_id: i64,
    pub prompt: String,
    pub kind: String,
    /// One value for text, URL and single select; any number for multi select.
    pub values: Vec<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "application")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub program_id: i64,
    pub partner_id: i64,
    pub status: ApplicationStatus,
    /// Pending, or approved with the partnership still running. At most one live
    /// application per partner and program (partial unique index).
    pub live: bool,
    /// JSON array of [`Answer`].
    pub answers: Json,
    pub pitch: String,
    pub join_source: JoinSource,
    pub invitation_id: Option<i64>,
    pub idempotency_key: Option<String>,
    pub decided_by_user_id: Option<i64>,
    pub decided_at: Option<DateTimeUtc>,
    pub rejection_reason: Option<RejectionReason>,
    pub rejection_note: Option<String>,
    pub version: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

impl Model {
    pub fn answer_list(&self) -> Vec<Answer> {
        serde_json::from_value(self.answers.clone()).unwrap_or_default()
    }
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
