//! Vendor analytics: a program's funnel, activation, revenue and commissions, month by
//! month, for the vendor's team (and platform admins).

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Datelike, Months, TimeZone, Utc};
use entity::{
    application::{self, ApplicationStatus, JoinSource},
    commission::{self, CommissionStatus},
    conversion, enrollment, program,
};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};

use super::{Services, stats::median, vendors};
use crate::{auth::Viewer, error::AppError};

pub const MAX_MONTHS: u32 = 24;
const TOP_PARTNERS: usize = 5;

/// One partner's month.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartnerMonth {
    pub partner_id: i64,
    pub revenue_minor: i64,
    pub commission_minor: i64,
}

/// One month of one program. Counts are by the month things happened in.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Month {
    /// `YYYY-MM`.
    pub month: String,
    /// Applications submitted this month, by their status today.
    pub applications: BTreeMap<String, i64>,
    /// Applications submitted this month, by join source.
    pub join_sources: BTreeMap<String, i64>,
    pub approvals: i64,
    pub rejections: i64,
    /// Partners who joined this month, and how many of them are activated by now.
    pub joined: i64,
    pub activated: i64,
    pub median_days_to_first_commission: Option<i64>,
    /// Amounts of the conversions partners brought this month (net of refunds).
    pub revenue_minor: i64,
    pub conversions: i64,
    /// Commissions on this month's conversions, by status (net of reversals).
    pub commissions: BTreeMap<String, i64>,
    pub top_partners: Vec<PartnerMonth>,
}

fn month_of(at: DateTime<Utc>) -> String {
    at.format("%Y-%m").to_string()
}

fn status_name(status: ApplicationStatus) -> &'static str {
    match status {
        ApplicationStatus::Pending => "PENDING",
        ApplicationStatus::Approved => "APPROVED",
        ApplicationStatus::Rejected => "REJECTED",
        ApplicationStatus::Withdrawn => "WITHDRAWN",
    }
}

fn source_name(source: JoinSource) -> &'static str {
    match source {
        JoinSource::MarketplaceSearch => "MARKETPLACE_SEARCH",
        JoinSource::MarketplaceBrowse => "MARKETPLACE_BROWSE",
        JoinSource::DirectLink => "DIRECT_LINK",
        JoinSource::Invitation => "INVITATION",
        JoinSource::PartnerReferral => "PARTNER_REFERRAL",
    }
}

/// The last `months` calendar months of a program (oldest first, this month last), for
/// the vendor's team; `NOT_FOUND` for anyone else, as for a missing program.
pub async fn program_months(
    services: &Services,
    viewer: &Viewer,
    program_id: i64,
    months: u32,
    now: DateTime<Utc>,
) -> Result<Vec<Month>, AppError> {
    viewer.require_user()?;
    if !(1..=MAX_MONTHS).contains(&months) {
        return Err(AppError::BadUserInput(format!(
            "`months` must be between 1 and {MAX_MONTHS}"
        )));
    }
    let program = program::Entity::find_by_id(program_id)
        .one(&services.db)
        .await?
        .ok_or(AppError::NotFound)?;
    if !viewer.is_admin()
        && vendors::role_of(&services.db, viewer, program.vendor_id)
            .await?
            .is_none()
    {
        return Err(AppError::NotFound);
    }
    let this_month = Utc
        .with_ymd_and_hms(now.year(), now.month(), 1, 0, 0, 0)
        .single()
        .ok_or_else(|| AppError::internal(anyhow::anyhow!("no first of month")))?;
    let start = this_month
        .checked_sub_months(Months::new(months - 1))
        .unwrap_or(this_month);
    let mut by_month: BTreeMap<String, Month> = (0..months)
        .filter_map(|i| start.checked_add_months(Months::new(i)))
        .map(|m| {
            let key = month_of(m);
            (
                key.clone(),
                Month {
                    month: key,
                    ..Month::default()
                },
            )
        })
        .collect();

    let db = &services.db;
    for a in application::Entity::find()
        .filter(application::Column::ProgramId.eq(program_id))
        .filter(application::Column::CreatedAt.gte(start))
        .all(db)
        .await?
    {
        if let Some(m) = by_month.get_mut(&month_of(a.created_at)) {
            *m.applications
                .entry(status_name(a.status).to_owned())
                .or_default() += 1;
            *m.join_sources
                .entry(source_name(a.join_source).to_owned())
                .or_default() += 1;
        }
        if let Some(m) = a.decided_at.and_then(|d| by_month.get_mut(&month_of(d))) {
            match a.status {
                ApplicationStatus::Approved => m.approvals += 1,
                ApplicationStatus::Rejected => m.rejections += 1,
                _ => {}
            }
        }
    }
    let enrollments = enrollment::Entity::find()
        .filter(enrollment::Column::ProgramId.eq(program_id))
        .all(db)
        .await?;
    let conversions = conversion::Entity::find()
        .filter(conversion::Column::ProgramId.eq(program_id))
        .all(db)
        .await?;
    let commissions = commission::Entity::find()
        .filter(commission::Column::ProgramId.eq(program_id))
        .all(db)
        .await?;
    let occurred: HashMap<i64, &conversion::Model> =
        conversions.iter().map(|c| (c.id, c)).collect();
    let mut first_commission: HashMap<i64, DateTime<Utc>> = HashMap::new();
    for c in &commissions {
        if let Some(conv) = occurred.get(&c.conversion_id)
            && c.amount_minor > 0
        {
            first_commission
                .entry(c.enrollment_id)
                .and_modify(|t| *t = (*t).min(conv.occurred_at))
                .or_insert(conv.occurred_at);
        }
    }
    let mut to_first: BTreeMap<String, Vec<i64>> = BTreeMap::new();
    for e in &enrollments {
        if let Some(m) = by_month.get_mut(&month_of(e.joined_at)) {
            m.joined += 1;
            if e.activated_at.is_some() {
                m.activated += 1;
            }
            if let Some(first) = first_commission.get(&e.id) {
                to_first
                    .entry(m.month.clone())
                    .or_default()
                    .push((*first - e.joined_at).num_days().max(0));
            }
        }
    }
    for (month, mut days) in to_first {
        if let Some(m) = by_month.get_mut(&month) {
            m.median_days_to_first_commission = median(&mut days);
        }
    }
    let mut partners: HashMap<(String, i64), (i64, i64)> = HashMap::new();
    for c in conversions.iter().filter(|c| c.reversed_at.is_none()) {
        let key = month_of(c.occurred_at);
        if let Some(m) = by_month.get_mut(&key) {
            m.revenue_minor += c.amount_minor;
            m.conversions += 1;
            partners.entry((key, c.partner_id)).or_default().0 += c.amount_minor;
        }
    }
    for c in &commissions {
        let Some(conv) = occurred.get(&c.conversion_id) else {
            continue;
        };
        let key = month_of(conv.occurred_at);
        if let Some(m) = by_month.get_mut(&key) {
            let status = match c.status {
                CommissionStatus::Pending => "PENDING",
                CommissionStatus::Approved => "APPROVED",
                CommissionStatus::Paid => "PAID",
            };
            *m.commissions.entry(status.to_owned()).or_default() += c.amount_minor;
            partners.entry((key, c.partner_id)).or_default().1 += c.amount_minor;
        }
    }
    for ((month, partner_id), (revenue, commission)) in partners {
        if let Some(m) = by_month.get_mut(&month) {
            m.top_partners.push(PartnerMonth {
                partner_id,
                revenue_minor: revenue,
                commission_minor: commission,
            });
        }
    }
    Ok(by_month
        .into_values()
        .map(|mut m| {
            m.top_partners.sort_by(|a, b| {
                b.revenue_minor
                    .cmp(&a.revenue_minor)
                    .then(a.partner_id.cmp(&b.partner_id))
            });
            m.top_partners.truncate(TOP_PARTNERS);
            m
        })
        .collect())
}
