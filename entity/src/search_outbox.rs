//! A listing change waiting to reach the search engine.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "search_outbox")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// The program whose document must be rebuilt (or removed) from the database state.
    pub program_id: i64,
    pub created_at: DateTimeUtc,
    pub attempts: i32,
    /// Not before this time (exponential backoff after failures).
    pub next_attempt_at: DateTimeUtc,
    pub last_error: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
