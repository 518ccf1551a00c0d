//! The commission ledger: vendors report conversions (with an API key or as a vendor
//! admin); commissions are computed from the program's rules and the partner's tier,
//! appended to the ledger, approved when the holding period ends, paid in batches, and
//! reversed by appending negative rows — amounts are never edited.

mod lifecycle;
pub mod math;
mod read;
mod record;

pub use lifecycle::{approve_due, mark_paid, reverse};
pub use read::{
    EarningsSummary, MonthTotal, ProgramTotal, StatusTotals, commissions_by_ids, commissions_of,
    conversions_by_ids, earnings,
};
pub use record::{NewConversion, Recorded, record};

use entity::{api_key::ApiScope, conversion, program};
use sea_orm::EntityTrait;

use super::{Actor, Services, vendors};
use crate::{auth::Viewer, error::AppError};

/// Whether the caller may write to the ledger of `vendor_id`: as that vendor's API key
/// (with `conversions:write`), or as a user who manages the vendor.
async fn may_write(services: &Services, actor: &Actor, vendor_id: i64) -> Result<bool, AppError> {
    match &actor.viewer {
        Viewer::ApiKey(key) => {
            Ok(key.vendor_id == vendor_id && key.allows(ApiScope::ConversionsWrite))
        }
        Viewer::User(_) => Ok(vendors::role_of(&services.db, &actor.viewer, vendor_id)
            .await?
            .is_some_and(|r| r.can_manage_programs())),
        Viewer::Anonymous => Ok(false),
    }
}

/// A conversion the caller may change (reverse): `NOT_FOUND` otherwise, the answer for
/// a missing id.
async fn conversion_for(
    services: &Services,
    actor: &Actor,
    id: i64,
) -> Result<(conversion::Model, program::Model), AppError> {
    let found = conversion::Entity::find_by_id(id)
        .one(&services.db)
        .await?
        .ok_or(AppError::NotFound)?;
    let program = program::Entity::find_by_id(found.program_id)
        .one(&services.db)
        .await?
        .ok_or(AppError::NotFound)?;
    if !may_write(services, actor, program.vendor_id).await? {
        return Err(AppError::NotFound);
    }
    Ok((found, program))
}
