//! Reading the ledger: a partner's earnings (totals by status, by program, by month),
//! and the commissions of conversions the caller may see.

use std::collections::{BTreeMap, HashMap};

use entity::{
    api_key::ApiScope,
    commission::{self, CommissionStatus},
    conversion,
};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};

use crate::{
    auth::Viewer,
    error::AppError,
    service::{
        Services,
        applications::{scoped, visible_by_ids},
        partners,
    },
};

/// Sums by status, in one currency (minor units). Every total is the sum of its rows.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatusTotals {
    pub currency: String,
    pub pending: i64,
    pub approved: i64,
    pub paid: i64,
}

impl StatusTotals {
    fn add(&mut self, row: &commission::Model) {
        match row.status {
            CommissionStatus::Pending => self.pending += row.amount_minor,
            CommissionStatus::Approved => self.approved += row.amount_minor,
            CommissionStatus::Paid => self.paid += row.amount_minor,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgramTotal {
    pub program_id: i64,
    pub totals: StatusTotals,
}

/// Net commissions of a calendar month (by conversion date), one currency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MonthTotal {
    /// `YYYY-MM`.
    pub month: String,
    pub currency: String,
    pub amount_minor: i64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EarningsSummary {
    pub totals: Vec<StatusTotals>,
    pub by_program: Vec<ProgramTotal>,
    pub by_month: Vec<MonthTotal>,
}

/// The caller's own earnings as a partner (empty without a profile).
pub async fn earnings(services: &Services, viewer: &Viewer) -> Result<EarningsSummary, AppError> {
    viewer.require_user()?;
    let Some(partner) = partners::mine(services, viewer).await? else {
        return Ok(EarningsSummary::default());
    };
    let rows = commission::Entity::find()
        .filter(commission::Column::PartnerId.eq(partner.id))
        .order_by_asc(commission::Column::Id)
        .all(&services.db)
        .await?;
    let conversion_ids: Vec<i64> = rows.iter().map(|c| c.conversion_id).collect();
    let occurred: HashMap<i64, chrono::DateTime<chrono::Utc>> = conversion::Entity::find()
        .filter(conversion::Column::Id.is_in(conversion_ids))
        .all(&services.db)
        .await?
        .into_iter()
        .map(|c| (c.id, c.occurred_at))
        .collect();
    let mut totals: BTreeMap<String, StatusTotals> = BTreeMap::new();
    let mut by_program: BTreeMap<(i64, String), StatusTotals> = BTreeMap::new();
    let mut by_month: BTreeMap<(String, String), i64> = BTreeMap::new();
    for row in &rows {
        let blank = || StatusTotals {
            currency: row.currency.clone(),
            ..StatusTotals::default()
        };
        totals
            .entry(row.currency.clone())
            .or_insert_with(blank)
            .add(row);
        by_program
            .entry((row.program_id, row.currency.clone()))
            .or_insert_with(blank)
            .add(row);
        if let Some(at) = occurred.get(&row.conversion_id) {
            *by_month
                .entry((at.format("%Y-%m").to_string(), row.currency.clone()))
                .or_default() += row.amount_minor;
        }
    }
    Ok(EarningsSummary {
        totals: totals.into_values().collect(),
        by_program: by_program
            .into_iter()
            .map(|((program_id, _), totals)| ProgramTotal { program_id, totals })
            .collect(),
        by_month: by_month
            .into_iter()
            .map(|((month, currency), amount_minor)| MonthTotal {
                month,
                currency,
                amount_minor,
            })
            .collect(),
    })
}

/// Conversions the viewer may see, with their ledger rows: the partner's own, the
/// vendor team's (and platform admins'), and a vendor key's that reports conversions.
pub async fn conversions_by_ids(
    services: &Services,
    viewer: &Viewer,
    ids: &[i64],
) -> Result<Vec<(conversion::Model, Vec<commission::Model>)>, AppError> {
    let visible = scoped(
        viewer,
        conversion::Column::ProgramId,
        conversion::Column::PartnerId,
        ApiScope::ConversionsWrite,
    );
    let conversions =
        visible_by_ids::<conversion::Entity>(services, visible, conversion::Column::Id, ids)
            .await?;
    let ids: Vec<i64> = conversions.iter().map(|c| c.id).collect();
    let mut rows = commissions_of(services, &ids).await?;
    Ok(conversions
        .into_iter()
        .map(|c| {
            let commissions = rows.remove(&c.id).unwrap_or_default();
            (c, commissions)
        })
        .collect())
}

/// Ledger rows the viewer may see (as their conversions).
pub async fn commissions_by_ids(
    services: &Services,
    viewer: &Viewer,
    ids: &[i64],
) -> Result<Vec<commission::Model>, AppError> {
    let visible = scoped(
        viewer,
        commission::Column::ProgramId,
        commission::Column::PartnerId,
        ApiScope::ConversionsWrite,
    );
    visible_by_ids::<commission::Entity>(services, visible, commission::Column::Id, ids).await
}

/// The ledger rows of conversions, in order.
pub async fn commissions_of(
    services: &Services,
    conversion_ids: &[i64],
) -> Result<HashMap<i64, Vec<commission::Model>>, AppError> {
    let mut out: HashMap<i64, Vec<commission::Model>> = HashMap::new();
    for row in commission::Entity::find()
        .filter(commission::Column::ConversionId.is_in(conversion_ids.iter().copied()))
        .order_by_asc(commission::Column::Id)
        .all(&services.db)
        .await?
    {
        out.entry(row.conversion_id).or_default().push(row);
    }
    Ok(out)
}
