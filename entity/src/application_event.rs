//! The funnel: one append-only row per step of an application and its enrollment.

use sea_orm::entity::prelude::*;

use crate::application::JoinSource;

#[derive(Clone, Copy, Debug, PartialEq, Eq, EnumIter, DeriveActiveEnum)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
pub enum ApplicationEventKind {
    #[sea_orm(string_value = "SUBMITTED")]
    Submitted,
    #[sea_orm(string_value = "APPROVED")]
    Approved,
    #[sea_orm(string_value = "REJECTED")]
    Rejected,
    #[sea_orm(string_value = "WITHDRAWN")]
    Withdrawn,
    #[sea_orm(string_value = "ENROLLED")]
    Enrolled,
    #[sea_orm(string_value = "LEFT")]
    Left,
    #[sea_orm(string_value = "SUSPENDED")]
    Suspended,
    #[sea_orm(string_value = "REINSTATED")]
    Reinstated,
    #[sea_orm(string_value = "TERMINATED")]
    Terminated,
}

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "application_event")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub application_id: i64,
    pub program_id: i64,
    pub partner_id: i64,
    pub kind: ApplicationEventKind,
    /// `None` when the system acted (automatic approval).
    pub actor_user_id: Option<i64>,
    pub join_source: JoinSource,
    pub data: Option<Json>,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
