//! A partner profile: one per user, reused for every application.

use sea_orm::entity::prelude::*;

use crate::code_list::Code;

/// Where a partner promotes the programs it joins.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PromotionChannel {
    Blog,
    Newsletter,
    Youtube,
    Podcast,
    Social,
    PaidAds,
    Community,
    Events,
    Consulting,
    Marketplace,
}

impl Code for PromotionChannel {
    const ALL: &'static [Self] = &[
        Self::Blog,
        Self::Newsletter,
        Self::Youtube,
        Self::Podcast,
        Self::Social,
        Self::PaidAds,
        Self::Community,
        Self::Events,
        Self::Consulting,
        Self::Marketplace,
    ];

    fn code(self) -> &'static str {
        match self {
            Self::Blog => "BLOG",
            Self::Newsletter => "NEWSLETTER",
            Self::Youtube => "YOUTUBE",
            Self::Podcast => "PODCAST",
            Self::Social => "SOCIAL",
            Self::PaidAds => "PAID_ADS",
            Self::Community => "COMMUNITY",
            Self::Events => "EVENTS",
            Self::Consulting => "CONSULTING",
            Self::Marketplace => "MARKETPLACE",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "partner")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub user_id: i64,
    #[sea_orm(unique)]
    pub slug: String,
    pub display_name: String,
    /// Code list of [`crate::program::PartnerType`].
    pub partner_types: String,
    pub website: Option<String>,
    pub audience_description: String,
    /// Followers, subscribers or clients, as the partner declares it.
    pub audience_size: Option<i64>,
    /// Code list of ISO 3166-1 alpha-2 codes the audience lives in.
    pub countries: String,
    /// Code list of ISO 639-1 codes (lower case).
    pub languages: String,
    /// Code list of [`PromotionChannel`].
    pub channels: String,
    pub version: i32,
    pub created_at: DateTimeUtc,
    pub updated_at: DateTimeUtc,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
