//! Program statistics: what partners choose programs by, derived from the ledger and the
//! applications. `refresh` recomputes a program's row from the base tables inside the
//! caller's transaction, so the figures move with every change that moves them.

use std::collections::HashMap;

use chrono::{DateTime, Duration, Utc};
use entity::{
    application::{self, ApplicationStatus},
    commission, conversion,
    enrollment::{self},
    program_stats,
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, sea_query::OnConflict,
};

use crate::error::AppError;

/// Below this many contributing partners, partner-facing earnings are withheld, so no
/// single partner's earnings can be read off a listing.
pub const MIN_SAMPLE: i32 = 5;
/// The trailing window of the earnings figures.
pub const EARNINGS_WINDOW_DAYS: i64 = 90;
/// The trailing window of the decision figures.
pub const DECISIONS_WINDOW_DAYS: i64 = 180;

/// The median of integer samples (the mean of the middle two for an even count).
pub fn median(values: &mut [i64]) -> Option<i64> {
    if values.is_empty() {
        return None;
    }
    values.sort_unstable();
    let mid = values.len() / 2;
    Some(if values.len().is_multiple_of(2) {
        (values[mid - 1] + values[mid]) / 2
    } else {
        values[mid]
    })
}

/// The average monthly earnings per earning partner that anyone may see (program
/// currency, minor units): `None` below the minimum sample.
pub fn public_average_monthly(stats: &program_stats::Model) -> Option<i64> {
    (stats.earning_partners >= MIN_SAMPLE).then_some(stats.average_monthly_minor)
}

/// Approved ÷ decided over the decisions window, in basis points: `None` below the
/// minimum number of decisions.
pub fn public_approval_rate_bps(stats: &program_stats::Model) -> Option<i64> {
    (stats.decisions >= MIN_SAMPLE)
        .then(|| i64::from(stats.approvals) * 10_000 / i64::from(stats.decisions))
}

/// Whether `viewer` may see a program's earnings figures (k-anonymity): from
/// [`MIN_SAMPLE`] earning partners on, everyone; below it, only the vendor's team (its
/// users, its API keys) and platform admins, so no single partner's earnings can be read
/// off a listing. `my_teams` (a logged-in user's role by vendor) is only asked when the
/// answer depends on it.
pub async fn disclosed(
    viewer: &crate::auth::Viewer,
    stats: Option<&program_stats::Model>,
    vendor_id: i64,
    my_teams: impl AsyncFnOnce() -> Result<
        std::sync::Arc<HashMap<i64, entity::vendor_member::VendorRole>>,
        AppError,
    >,
) -> Result<bool, AppError> {
    use crate::auth::Viewer;
    if stats.is_some_and(|s| s.earning_partners >= MIN_SAMPLE) || viewer.is_admin() {
        return Ok(true);
    }
    Ok(match viewer {
        Viewer::User(_) => my_teams().await?.contains_key(&vendor_id),
        Viewer::ApiKey(key) => key.vendor_id == vendor_id,
        Viewer::Anonymous => false,
    })
}

/// What of a program's figures its search document carries.
fn searchable(stats: Option<&program_stats::Model>) -> (Option<i64>, Option<i64>) {
    stats.map_or((None, None), |s| {
        (public_average_monthly(s), public_approval_rate_bps(s))
    })
}

fn count(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

/// Recomputes and stores the statistics of one program; returns them as stored.
///
/// Runs inside the caller's write transaction, which took the program's lock first
/// (`db::begin_program_write`, the documented lock order), so concurrent changes of one
/// program recompute one after the other, each seeing the other's rows. Everything is
/// read as aggregates or as the few columns a median needs: the cost follows the number
/// of partners and the trailing windows, never the program's history or the size of
/// applications' answers and pitches.
pub async fn refresh(
    conn: &impl ConnectionTrait,
    program_id: i64,
    now: DateTime<Utc>,
) -> Result<program_stats::Model, AppError> {
    let before = program_stats::Entity::find_by_id(program_id)
        .one(conn)
        .await?;
    let partnerships = partnerships(conn, program_id).await?;

    // Earnings: net commissions (reversals included) of conversions in the window, summed
    // per partner and per conversion by the database.
    let since = now - Duration::days(EARNINGS_WINDOW_DAYS);
    let per_partner = partner_nets(conn, program_id, since).await?;
    let per_conversion = paying_conversions(conn, program_id, since).await?;
    let months = EARNINGS_WINDOW_DAYS / 30;
    let mut monthly: Vec<i64> = per_partner
        .iter()
        .filter(|net| **net > 0)
        .map(|net| net / months)
        .collect();
    let earning = monthly.len();
    let average_monthly = if earning == 0 {
        0
    } else {
        monthly.iter().sum::<i64>() / i64::try_from(earning).unwrap_or(1)
    };
    let median_monthly = median(&mut monthly).unwrap_or(0);
    let average_per_conversion = if per_conversion.count == 0 {
        0
    } else {
        per_conversion.total / per_conversion.count
    };

    // Decisions of the trailing 180 days: two timestamps per decision.
    let decided_since = now - Duration::days(DECISIONS_WINDOW_DAYS);
    let decided: Vec<(ApplicationStatus, DateTime<Utc>, Option<DateTime<Utc>>)> =
        application::Entity::find()
            .select_only()
            .columns([
                application::Column::Status,
                application::Column::CreatedAt,
                application::Column::DecidedAt,
            ])
            .filter(application::Column::ProgramId.eq(program_id))
            .filter(
                application::Column::Status
                    .is_in([ApplicationStatus::Approved, ApplicationStatus::Rejected]),
            )
            .filter(application::Column::DecidedAt.gte(decided_since))
            .into_tuple()
            .all(conn)
            .await?;
    let approvals = decided
        .iter()
        .filter(|(status, ..)| *status == ApplicationStatus::Approved)
        .count();
    let mut decision_secs: Vec<i64> = decided
        .iter()
        .filter_map(|(_, created, decided)| decided.map(|d| (d - *created).num_seconds().max(0)))
        .collect();
    let mut to_first = partnerships.to_first_commission;

    let after = program_stats::Model {
        program_id,
        enrolled_partners: count(partnerships.live),
        activated_partners: count(partnerships.activated),
        earning_partners: count(earning),
        average_monthly_minor: average_monthly,
        median_monthly_minor: median_monthly,
        conversions: i32::try_from(per_conversion.count).unwrap_or(i32::MAX),
        average_per_conversion_minor: average_per_conversion,
        decisions: count(decided.len()),
        approvals: count(approvals),
        median_decision_secs: median(&mut decision_secs),
        median_first_commission_secs: median(&mut to_first),
        updated_at: now,
    };
    program_stats::Entity::insert(program_stats::ActiveModel::from(after.clone()))
        .on_conflict(
            OnConflict::column(program_stats::Column::ProgramId)
                .update_columns([
                    program_stats::Column::EnrolledPartners,
                    program_stats::Column::ActivatedPartners,
                    program_stats::Column::EarningPartners,
                    program_stats::Column::AverageMonthlyMinor,
                    program_stats::Column::MedianMonthlyMinor,
                    program_stats::Column::Conversions,
                    program_stats::Column::AveragePerConversionMinor,
                    program_stats::Column::Decisions,
                    program_stats::Column::Approvals,
                    program_stats::Column::MedianDecisionSecs,
                    program_stats::Column::MedianFirstCommissionSecs,
                    program_stats::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec(conn)
        .await?;
    // The figures a listing shows (and search sorts and filters by) moved: an event in
    // this same transaction rebuilds the program's document and tells its followers.
    let shown = |s: Option<&program_stats::Model>| {
        (
            searchable(s),
            s.map(|s| (s.enrolled_partners, s.activated_partners)),
        )
    };
    if shown(before.as_ref()) != shown(Some(&after))
        && let Some(program) = entity::program::Entity::find_by_id(program_id)
            .one(conn)
            .await?
    {
        use crate::service::events::{self, DomainEvent, ProgramFacts};
        events::emit(
            conn,
            &crate::service::Actor::system(),
            DomainEvent::ProgramFiguresChanged(ProgramFacts::of(&program)),
        )
        .await?;
    }
    Ok(after)
}

/// The window's net commission of a program (reversals included), summed per `by`
/// (partner or conversion): `SELECT CAST(SUM(amount) AS BIGINT) … GROUP BY by`.
fn window_sums(
    program_id: i64,
    since: DateTime<Utc>,
    by: commission::Column,
) -> sea_orm::sea_query::SelectStatement {
    use sea_orm::sea_query::{Alias, Expr, Func, Query};
    let in_window = Query::select()
        .column(conversion::Column::Id)
        .from(conversion::Entity)
        .and_where(conversion::Column::ProgramId.eq(program_id))
        .and_where(conversion::Column::OccurredAt.gte(since))
        .to_owned();
    Query::select()
        // PostgreSQL sums BIGINT into NUMERIC: cast back.
        .expr_as(
            Func::cast_as(
                Func::sum(Expr::col(commission::Column::AmountMinor)),
                Alias::new("BIGINT"),
            ),
            Alias::new("net"),
        )
        .from(commission::Entity)
        .and_where(commission::Column::ProgramId.eq(program_id))
        .and_where(commission::Column::ConversionId.in_subquery(in_window))
        .group_by_col(by)
        .to_owned()
}

/// The window's net earnings of each partner that has any.
async fn partner_nets(
    conn: &impl ConnectionTrait,
    program_id: i64,
    since: DateTime<Utc>,
) -> Result<Vec<i64>, AppError> {
    let select = window_sums(program_id, since, commission::Column::PartnerId);
    let backend = conn.get_database_backend();
    let mut nets = Vec::new();
    for row in conn.query_all_raw(backend.build(&select)).await? {
        nets.push(row.try_get_by_index::<i64>(0)?);
    }
    Ok(nets)
}

/// Conversions of the window whose net commission is positive: how many, and their sum.
struct Paying {
    count: i64,
    total: i64,
}

async fn paying_conversions(
    conn: &impl ConnectionTrait,
    program_id: i64,
    since: DateTime<Utc>,
) -> Result<Paying, AppError> {
    use sea_orm::sea_query::{Alias, Expr, ExprTrait, Func, Query};
    let net = Alias::new("net");
    let select = Query::select()
        .expr(Func::count(Expr::col(net.clone())))
        .expr(Func::cast_as(
            Func::sum(Expr::col(net.clone())),
            Alias::new("BIGINT"),
        ))
        .from_subquery(
            window_sums(program_id, since, commission::Column::ConversionId),
            Alias::new("nets"),
        )
        .and_where(Expr::col(net).gt(0))
        .to_owned();
    let backend = conn.get_database_backend();
    let row = conn.query_one_raw(backend.build(&select)).await?;
    let (count, total) = match row {
        Some(row) => (
            row.try_get_by_index::<i64>(0)?,
            row.try_get_by_index::<Option<i64>>(1)?.unwrap_or(0),
        ),
        None => (0, 0),
    };
    Ok(Paying { count, total })
}

/// A program's partnerships as the statistics count them.
struct Partnerships {
    /// Active or suspended.
    live: usize,
    /// Live and activated (first approved commission).
    activated: usize,
    /// Seconds from joining to the first earning, per partnership that earned.
    to_first_commission: Vec<i64>,
}

async fn partnerships(
    conn: &impl ConnectionTrait,
    program_id: i64,
) -> Result<Partnerships, AppError> {
    use sea_orm::sea_query::{Expr, ExprTrait, Func};
    let live_activated = Expr::col(enrollment::Column::ActivatedAt).is_not_null();
    let counts: Option<(i64, i64)> = enrollment::Entity::find()
        .select_only()
        .expr(Func::count(Expr::col(enrollment::Column::Id)))
        .expr(Func::sum(Expr::case(live_activated, 1).finally(0)))
        .filter(enrollment::Column::ProgramId.eq(program_id))
        .filter(enrollment::Column::Live.eq(true))
        .into_tuple::<(i64, Option<i64>)>()
        .one(conn)
        .await?
        .map(|(live, activated)| (live, activated.unwrap_or(0)));
    let (live, activated) = counts.unwrap_or((0, 0));
    let firsts: Vec<(DateTime<Utc>, DateTime<Utc>)> = enrollment::Entity::find()
        .select_only()
        .columns([
            enrollment::Column::JoinedAt,
            enrollment::Column::FirstCommissionAt,
        ])
        .filter(enrollment::Column::ProgramId.eq(program_id))
        .filter(enrollment::Column::FirstCommissionAt.is_not_null())
        .into_tuple()
        .all(conn)
        .await?;
    Ok(Partnerships {
        live: usize::try_from(live).unwrap_or(0),
        activated: usize::try_from(activated).unwrap_or(0),
        to_first_commission: firsts
            .into_iter()
            .map(|(joined, first)| std::cmp::max((first - joined).num_seconds(), 0))
            .collect(),
    })
}

/// Statistics older than this are recomputed by the ledger job even without a change:
/// the trailing windows move on by themselves.
pub const STALE_AFTER_HOURS: i64 = 24;

/// Recomputes up to `limit` programs whose statistics are older than
/// [`STALE_AFTER_HOURS`] at `now` (oldest first), each in its own short transaction.
/// Returns how many were refreshed.
pub async fn refresh_stale(
    services: &crate::service::Services,
    now: DateTime<Utc>,
    limit: u64,
) -> Result<usize, AppError> {
    use sea_orm::QueryOrder;
    let stale: Vec<i64> = program_stats::Entity::find()
        .select_only()
        .column(program_stats::Column::ProgramId)
        .filter(program_stats::Column::UpdatedAt.lt(now - Duration::hours(STALE_AFTER_HOURS)))
        .order_by_asc(program_stats::Column::UpdatedAt)
        .limit(limit)
        .into_tuple()
        .all(&services.db)
        .await?;
    for program_id in &stale {
        let txn = crate::db::begin_program_write(&services.db, *program_id).await?;
        refresh(&txn, *program_id, now).await?;
        txn.commit().await?;
    }
    if !stale.is_empty() {
        services.changes.announce(&services.db).await;
    }
    Ok(stale.len())
}

/// The stored statistics of programs (absent until the first change that moves them).
pub async fn of_programs(
    conn: &impl ConnectionTrait,
    program_ids: &[i64],
) -> Result<HashMap<i64, program_stats::Model>, AppError> {
    Ok(program_stats::Entity::find()
        .filter(program_stats::Column::ProgramId.is_in(program_ids.iter().copied()))
        .all(conn)
        .await?
        .into_iter()
        .map(|s| (s.program_id, s))
        .collect())
}

/// "1 new customer" / "3 new customers".
fn customers_text(customers: i64) -> String {
    if customers == 1 {
        "1 new customer".to_owned()
    } else {
        format!("{customers} new customers")
    }
}

/// "1 month" / "12 months".
fn months_text(months: i64) -> String {
    if months == 1 {
        "1 month".to_owned()
    } else {
        format!("{months} months")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_of_odd_even_and_empty_samples() {
        assert_eq!(median(&mut []), None);
        assert_eq!(median(&mut [5]), Some(5));
        assert_eq!(median(&mut [9, 1, 5]), Some(5));
        assert_eq!(median(&mut [10, 2, 4, 8]), Some(6));
    }
}

/// What a partner may expect from a program, from its rules and the vendor-declared
/// revenue per account: not a measurement, and labelled so.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Estimate {
    /// Commission in the twelfth month (run rate), minor units.
    pub monthly_minor: i64,
    /// Commission over the first twelve months, minor units.
    pub first_year_minor: i64,
    pub basis: String,
}

/// Estimates earnings for `customers` new customers a month under `rule`, each paying
/// `arpa_minor` a month. A one-time rule pays once per customer, a recurring one for
/// its months, a lifetime one every month; a cap stops a customer's commissions.
pub fn estimate(
    rule: &super::ledger::math::RuleTerms,
    event: entity::commission_rule::CommissionEvent,
    arpa_minor: Option<i64>,
    customers: i64,
) -> Option<Estimate> {
    use entity::commission_rule::{CommissionDuration, CommissionEvent, CommissionModel};
    let per_payment = match rule.model {
        CommissionModel::Percentage => {
            super::ledger::math::percentage_of(arpa_minor?, rule.rate_bps.unwrap_or(0))
        }
        CommissionModel::Flat => rule.flat_minor.unwrap_or(0),
    };
    // Months a customer keeps paying commission: sales repeat monthly; leads and sign-ups
    // happen once.
    let mut months: i64 = match (event, rule.duration) {
        (CommissionEvent::Sale, CommissionDuration::Recurring) => {
            i64::from(rule.recurring_months.unwrap_or(1))
        }
        (CommissionEvent::Sale, CommissionDuration::Lifetime) => i64::MAX,
        _ => 1,
    };
    let mut capped = false;
    if let (Some(cap), true) = (rule.cap_minor, per_payment > 0) {
        let until_cap = (cap + per_payment - 1) / per_payment;
        capped = until_cap < months;
        months = months.min(until_cap);
    }
    let paying = |m: i64| customers.saturating_mul(m.min(months));
    let first_year: i64 = (1..=12)
        .map(|m| paying(m).saturating_mul(per_payment))
        .sum();
    let basis = match rule.model {
        CommissionModel::Percentage => format!(
            "{} a month at the vendor-declared revenue per account, {}% commission, paid for {}",
            customers_text(customers),
            crate::service::reference::currencies::rate_to_percent(rule.rate_bps.unwrap_or(0)),
            match (months, capped) {
                (i64::MAX, _) => "the customer's lifetime".to_owned(),
                (m, true) => format!(
                    "{} per customer, until the per-customer cap",
                    months_text(m)
                ),
                (m, false) => format!("{} per customer", months_text(m)),
            }
        ),
        CommissionModel::Flat => format!(
            "{} a month, a flat amount per {}",
            customers_text(customers),
            match event {
                CommissionEvent::Sale => "sale",
                CommissionEvent::Lead => "lead",
                CommissionEvent::Signup => "sign-up",
            }
        ),
    };
    Some(Estimate {
        monthly_minor: paying(12).saturating_mul(per_payment),
        first_year_minor: first_year,
        basis,
    })
}

#[cfg(test)]
mod estimate_tests {
    use entity::commission_rule::{CommissionDuration::*, CommissionEvent::*, CommissionModel::*};

    use super::*;
    use crate::service::ledger::math::RuleTerms;

    fn rule(
        model: entity::commission_rule::CommissionModel,
        duration: entity::commission_rule::CommissionDuration,
        months: Option<i32>,
        cap: Option<i64>,
    ) -> RuleTerms {
        RuleTerms {
            model,
            rate_bps: Some(2_000),
            flat_minor: Some(5_000),
            duration,
            recurring_months: months,
            cap_minor: cap,
        }
    }

    #[test]
    fn estimates_follow_duration_and_caps() {
        // 20 % of 100.00 a month = 20.00 per paying customer and month; 2 customers a month.
        let recurring = estimate(
            &rule(Percentage, Recurring, Some(3), None),
            Sale,
            Some(10_000),
            2,
        )
        .unwrap();
        // Paying customers by month: 2, 4, 6, 6, … → run rate 6 × 20.00; year 2+4+6×10 = 66.
        assert_eq!(
            (recurring.monthly_minor, recurring.first_year_minor),
            (12_000, 132_000)
        );
        let lifetime = estimate(
            &rule(Percentage, Lifetime, None, None),
            Sale,
            Some(10_000),
            1,
        )
        .unwrap();
        assert_eq!(
            (lifetime.monthly_minor, lifetime.first_year_minor),
            (24_000, 156_000)
        );
        let capped = estimate(
            &rule(Percentage, Lifetime, None, Some(5_000)),
            Sale,
            Some(10_000),
            1,
        )
        .unwrap();
        assert_eq!(
            capped.monthly_minor,
            3 * 2_000,
            "a 50.00 cap stops after three payments"
        );
        let flat_lead = estimate(&rule(Flat, Lifetime, None, None), Lead, None, 3).unwrap();
        assert_eq!(
            (flat_lead.monthly_minor, flat_lead.first_year_minor),
            (15_000, 180_000)
        );
        assert_eq!(
            estimate(&rule(Percentage, OneTime, None, None), Sale, None, 1),
            None,
            "no ARPA, no estimate"
        );
    }
}
