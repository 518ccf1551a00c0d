//! A registered document of automatic persisted queries, by the SHA-256 of its text.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "persisted_query")]
pub struct Model {
    /// Lower-case hex SHA-256 of `document`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub hash: String,
    pub document: String,
    pub created_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
