//! The figures partners choose programs by: measured earnings (withheld below the
//! minimum sample), trust signals, and a labelled estimate from the rules.

use async_graphql::{Context, SimpleObject};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use crate::{
    error::AppError,
    graphql::{
        GqlResultExt,
        context::ContextExt,
        error::loader_error,
        loaders::{AppLoader, ExchangeRates},
        money::Money,
    },
    service::{
        programs::ProgramRecord,
        reference::exchange_rates,
        stats::{self, DECISIONS_WINDOW_DAYS, EARNINGS_WINDOW_DAYS, MIN_SAMPLE},
    },
};

/// Measured earnings over the trailing 90 days, from the ledger (net of refunds).
#[derive(SimpleObject)]
pub struct ProgramEarnings {
    /// Per earning partner and month; null when `insufficientData`.
    pub average_monthly_per_partner: Option<Money>,
    /// The same in US dollars at the operators' exchange rate: what search sorts and
    /// filters by (`HIGHEST_EARNINGS`, `minAverageMonthlyEarningsUsd`).
    pub average_monthly_per_partner_usd: Option<Money>,
    pub median_monthly_per_partner: Option<Money>,
    /// Per conversion that earned a commission.
    pub average_per_conversion: Option<Money>,
    /// Partners whose commissions make up the figures.
    pub sample_size: i32,
    pub window_days: i32,
    /// Fewer than 5 partners contribute: figures are withheld from everyone but the
    /// vendor's team, so no single partner's earnings can be read off a listing.
    pub insufficient_data: bool,
    pub updated_at: Option<DateTime<Utc>>,
}

/// How the program treats partners, measured.
#[derive(SimpleObject)]
pub struct ProgramTrust {
    pub enrolled_partners: i32,
    pub activated_partners: i32,
    /// Activated ÷ enrolled, percent.
    pub activation_rate: Option<Decimal>,
    /// Approved ÷ decided over the trailing 180 days, percent; null below 5 decisions.
    pub approval_rate: Option<Decimal>,
    pub decisions: i32,
    pub decision_window_days: i32,
    /// Median hours from application to decision.
    pub median_decision_hours: Option<Decimal>,
    /// Median days from joining to the first commission.
    pub median_days_to_first_commission: Option<Decimal>,
}

/// An estimate from the rules and the vendor-declared revenue per account — not a
/// measurement.
#[derive(SimpleObject)]
pub struct EarningsEstimate {
    pub is_estimate: bool,
    pub customers_per_month: i32,
    /// The twelfth month's commission (run rate).
    pub monthly: Money,
    pub first_year: Money,
    /// How it was computed, in words.
    pub basis: String,
}

fn percent(part: i32, whole: i32) -> Option<Decimal> {
    (whole > 0)
        .then(|| (Decimal::from(part) * Decimal::from(100) / Decimal::from(whole)).round_dp(1))
}

pub async fn earnings(
    ctx: &Context<'_>,
    record: &ProgramRecord,
) -> async_graphql::Result<ProgramEarnings> {
    // A bad token must not read figures as anonymous would: surface it.
    let actor = ctx.actor()?;
    let loader = ctx.data_unchecked::<AppLoader>();
    let s = record.stats.as_ref();
    let show = stats::disclosed(&actor.viewer, s, record.program.vendor_id, async || {
        loader.loader().my_roles().await
    })
    .await
    .gql()?;
    let sample = s.map_or(0, |s| s.earning_partners);
    let insufficient = sample < MIN_SAMPLE;
    let currency = &record.program.currency;
    let money = |minor: i64| (show && sample > 0).then(|| Money::from_minor(minor, currency));
    let usd = match s.filter(|_| show && sample > 0) {
        Some(s) => {
            let rates = ctx
                .data_unchecked::<AppLoader>()
                .load_one(ExchangeRates)
                .await
                .map_err(loader_error)?
                .unwrap_or_default();
            let cents = exchange_rates::usd_cents(s.average_monthly_minor, currency, &rates);
            Some(Money::from_minor(cents, "USD"))
        }
        None => None,
    };
    Ok(ProgramEarnings {
        average_monthly_per_partner: s.and_then(|s| money(s.average_monthly_minor)),
        average_monthly_per_partner_usd: usd,
        median_monthly_per_partner: s.and_then(|s| money(s.median_monthly_minor)),
        average_per_conversion: s
            .as_ref()
            .and_then(|s| money(s.average_per_conversion_minor)),
        sample_size: sample,
        window_days: i32::try_from(EARNINGS_WINDOW_DAYS).unwrap_or(90),
        insufficient_data: insufficient,
        updated_at: s.map(|s| s.updated_at),
    })
}

pub fn trust(record: &ProgramRecord) -> ProgramTrust {
    let s = record.stats.as_ref();
    let hours = |secs: i64| (Decimal::from(secs) / Decimal::from(3_600)).round_dp(1);
    let days = |secs: i64| (Decimal::from(secs) / Decimal::from(86_400)).round_dp(1);
    match s {
        None => ProgramTrust {
            enrolled_partners: 0,
            activated_partners: 0,
            activation_rate: None,
            approval_rate: None,
            decisions: 0,
            decision_window_days: i32::try_from(DECISIONS_WINDOW_DAYS).unwrap_or(180),
            median_decision_hours: None,
            median_days_to_first_commission: None,
        },
        Some(s) => ProgramTrust {
            enrolled_partners: s.enrolled_partners,
            activated_partners: s.activated_partners,
            activation_rate: percent(s.activated_partners, s.enrolled_partners),
            approval_rate: stats::public_approval_rate_bps(s)
                .and_then(|_| percent(s.approvals, s.decisions)),
            decisions: s.decisions,
            decision_window_days: i32::try_from(DECISIONS_WINDOW_DAYS).unwrap_or(180),
            median_decision_hours: s.median_decision_secs.map(hours),
            median_days_to_first_commission: s.median_first_commission_secs.map(days),
        },
    }
}

pub async fn estimate(
    ctx: &Context<'_>,
    record: &ProgramRecord,
    customers_per_month: i32,
) -> async_graphql::Result<Option<EarningsEstimate>> {
    if !(1..=10_000).contains(&customers_per_month) {
        return Err(AppError::BadUserInput(
            "`customersPerMonth` must be between 1 and 10000".to_owned(),
        ))
        .gql();
    }
    use entity::commission_rule::CommissionEvent;
    let rules = ctx
        .data_unchecked::<AppLoader>()
        .load_one(crate::graphql::loaders::RulesOfUnchecked(record.program.id))
        .await
        .map_err(loader_error)?
        .unwrap_or_default();
    // The rule a new partner gets: the default tier's own, else the all-tier one; sales
    // first, then leads, then sign-ups.
    let pick = |event: CommissionEvent| {
        rules
            .iter()
            .filter(|(r, _)| r.event == event)
            .find(|(_, t)| t.as_ref().is_some_and(|t| t.is_default))
            .or_else(|| rules.iter().find(|(r, t)| r.event == event && t.is_none()))
            .map(|(r, _)| (r.clone(), event))
    };
    let Some((rule, event)) = pick(CommissionEvent::Sale)
        .or_else(|| pick(CommissionEvent::Lead))
        .or_else(|| pick(CommissionEvent::Signup))
    else {
        return Ok(None);
    };
    let terms = crate::service::ledger::math::RuleTerms {
        model: rule.model,
        rate_bps: rule.rate_bps,
        flat_minor: rule.flat_amount_minor,
        duration: rule.duration,
        recurring_months: rule.recurring_months,
        cap_minor: rule.cap_per_customer_minor,
    };
    let currency = &record.program.currency;
    Ok(stats::estimate(
        &terms,
        event,
        record.program.arpa_minor,
        i64::from(customers_per_month),
    )
    .map(|e| EarningsEstimate {
        is_estimate: true,
        customers_per_month,
        monthly: Money::from_minor(e.monthly_minor, currency),
        first_year: Money::from_minor(e.first_year_minor, currency),
        basis: e.basis,
    }))
}
