//! Reading the log as the audit trail: a vendor's team reads its vendor's events,
//! platform admins read everything.

use entity::{event, vendor_member};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use super::EVENT_TYPES;
use crate::{
    auth::Viewer,
    error::AppError,
    service::{
        Services,
        pagination::{self, Page, PageRequest},
        vendors,
    },
};

/// What to read.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// One vendor's events; none: every vendor the viewer may read (all for admins).
    pub vendor_id: Option<i64>,
    /// Only these types (none: all).
    pub types: Vec<String>,
    pub newest_first: bool,
}

/// A page of the audit trail as `viewer` may read it.
pub async fn audit_events(
    services: &Services,
    viewer: &Viewer,
    filter: &AuditFilter,
    page: &PageRequest,
) -> Result<Page<event::Model>, AppError> {
    if let Some(unknown) = filter
        .types
        .iter()
        .find(|t| !EVENT_TYPES.contains(&t.as_str()))
    {
        let shown: String = unknown.chars().take(64).collect();
        return Err(AppError::BadUserInput(format!(
            "`{shown}` is not an event type"
        )));
    }
    let mut select = event::Entity::find();
    match (viewer, filter.vendor_id) {
        (Viewer::Anonymous, _) => {
            viewer.require_user()?;
        }
        (Viewer::ApiKey(_), _) => {
            // The audit trail is for people on the team, not for integrations.
            return Err(AppError::Forbidden);
        }
        (v, Some(vendor_id)) if !v.is_admin() => {
            // A vendor the viewer is not on answers like one that does not exist.
            vendors::role_of(&services.db, viewer, vendor_id)
                .await?
                .ok_or(AppError::NotFound)?;
            select = select.filter(event::Column::VendorId.eq(vendor_id));
        }
        (Viewer::User(user), None) if !viewer.is_admin() => {
            let mine = sea_orm::sea_query::Query::select()
                .column(vendor_member::Column::VendorId)
                .from(vendor_member::Entity)
                .and_where(vendor_member::Column::UserId.eq(user.user_id))
                .to_owned();
            select = select.filter(event::Column::VendorId.in_subquery(mine));
        }
        (_, Some(vendor_id)) => select = select.filter(event::Column::VendorId.eq(vendor_id)),
        (_, None) => {}
    }
    select = if filter.types.is_empty() {
        // The indexer's own bookkeeping is nobody's audit trail unless asked for.
        select.filter(event::Column::EventType.ne("search.reindex_requested"))
    } else {
        select.filter(event::Column::EventType.is_in(filter.types.iter().cloned()))
    };
    pagination::by_time(
        &services.db,
        select,
        event::Column::OccurredAt,
        event::Column::Id,
        if filter.newest_first {
            "AUDIT_NEWEST"
        } else {
            "AUDIT_OLDEST"
        },
        !filter.newest_first,
        page,
        |e| (e.occurred_at, e.id),
    )
    .await
}
