//! A vendor's API key for server-to-server calls. Only the SHA-256 of the secret is
//! stored; the secret is shown once, at creation.

use sea_orm::entity::prelude::*;

use crate::code_list::Code;

/// What a key may do. A key reaches only its own vendor's data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ApiScope {
    /// Report conversions and refunds.
    ConversionsWrite,
    /// Read the vendor's applications (and the applicants' profiles).
    ApplicationsRead,
    /// Read the vendor's partnerships (and the enrolled partners' profiles).
    EnrollmentsRead,
}

impl Code for ApiScope {
    const ALL: &'static [Self] = &[
        Self::ConversionsWrite,
        Self::ApplicationsRead,
        Self::EnrollmentsRead,
    ];

    fn code(self) -> &'static str {
        match self {
            Self::ConversionsWrite => "conversions:write",
            Self::ApplicationsRead => "applications:read",
            Self::EnrollmentsRead => "enrollments:read",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "api_key")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub vendor_id: i64,
    pub name: String,
    /// The first characters of the secret, to tell keys apart (`mk_live_AbCd1234`).
    pub prefix: String,
    #[sea_orm(unique)]
    pub secret_hash: String,
    /// Code list of [`ApiScope`].
    pub scopes: String,
    pub created_by_user_id: Option<i64>,
    pub created_at: DateTimeUtc,
    pub last_used_at: Option<DateTimeUtc>,
    pub revoked_at: Option<DateTimeUtc>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
