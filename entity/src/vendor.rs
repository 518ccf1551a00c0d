//! A SaaS company that publishes partner programs, run by a team of users.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "vendor")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub slug: String,
    pub name: String,
    pub website: Option<String>,
    pub description: Option<String>,
    pub logo_url: Option<String>,
    /// ISO 3166-1 alpha-2.
    pub country: Option<String>,
    /// Optimistic-locking version, bumped on every update.
    pub version: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::vendor_member::Entity")]
    VendorMember,
    #[sea_orm(has_many = "super::program::Entity")]
    Program,
}

impl Related<super::vendor_member::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::VendorMember.def()
    }
}

impl Related<super::program::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Program.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
