//! The search document: everything a partner searches, filters or sorts listings by.
//! Its own type, separate from the entity and the GraphQL object, built from database
//! state — the database is the source of truth, the index a projection of it.

use std::collections::HashMap;

use entity::{
    category, code_list,
    commission_rule::{self, CommissionDuration},
    program::{self, ProgramStatus, Visibility},
    program_stats, vendor,
};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use serde::{Deserialize, Serialize};

use crate::{
    error::AppError,
    service::{reference::exchange_rates, stats},
};

/// One published, public program as the engines index it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProgramDocument {
    pub program_id: i64,
    pub name: String,
    pub tagline: String,
    pub description: String,
    pub vendor_id: i64,
    pub vendor_name: String,
    /// Category slug (filters, facets).
    pub category: String,
    /// Category display name (searched).
    pub category_name: String,
    /// Partner type codes; empty with `all_partner_types` when the program takes anyone.
    pub partner_types: Vec<String>,
    pub all_partner_types: bool,
    /// `PERCENTAGE` and/or `FLAT`.
    pub commission_models: Vec<String>,
    pub best_rate_bps: i64,
    pub best_flat_usd_cents: i64,
    /// `ONE_TIME`, `RECURRING`, `LIFETIME` among the rules.
    pub durations: Vec<String>,
    /// Some rule pays more than once (recurring or lifetime).
    pub recurring: bool,
    /// Longest recurring period in months (0 without a recurring rule;
    /// [`LIFETIME_MONTHS`] with a lifetime rule).
    pub recurring_months: i64,
    pub cookie_days: i64,
    pub holding_days: i64,
    pub currency: String,
    pub minimum_payout_minor: i64,
    pub approval_mode: String,
    /// ISO codes; empty with `worldwide` when the program serves every country.
    pub countries: Vec<String>,
    pub worldwide: bool,
    /// Unix seconds of the first publication.
    pub published_at: i64,
    /// Measured average monthly earnings per earning partner (trailing 90 days), in US
    /// cents at the operators' exchange rate; -1 while withheld (fewer than 5 partners),
    /// so it sorts after every measured figure and fails every minimum.
    pub average_earnings_usd_cents: i64,
    /// Approved ÷ decided applications over 180 days, basis points; -1 below 5 decisions.
    pub approval_rate_bps: i64,
}

/// The recurring period a lifetime rule counts as (100 years): it passes every minimum.
pub const LIFETIME_MONTHS: i64 = 1200;

/// What a document carries for a figure that is withheld.
pub const WITHHELD: i64 = -1;

/// Whether a program belongs in the index at all.
pub fn is_listed(p: &program::Model) -> bool {
    p.status == ProgramStatus::Published && p.visibility == Visibility::Public
}

fn code<T: sea_orm::ActiveEnum<Value = String>>(value: &T) -> String {
    value.to_value()
}

/// What a document is built from besides the program row.
pub struct Sources<'a> {
    pub vendor: &'a vendor::Model,
    pub category: Option<&'a category::Model>,
    pub rules: &'a [commission_rule::Model],
    pub stats: Option<&'a program_stats::Model>,
    /// Exchange rates by currency (US dollar millionths per unit).
    pub rates: &'a HashMap<String, i64>,
}

pub fn build(p: &program::Model, sources: &Sources<'_>) -> ProgramDocument {
    let Sources {
        vendor,
        category,
        rules,
        stats,
        rates,
    } = *sources;
    let mut models: Vec<String> = rules.iter().map(|r| code(&r.model)).collect();
    models.sort();
    models.dedup();
    let mut durations: Vec<String> = rules.iter().map(|r| code(&r.duration)).collect();
    durations.sort();
    durations.dedup();
    let partner_types: Vec<String> = code_list::decode_strs(&p.partner_types)
        .map(str::to_owned)
        .collect();
    let countries: Vec<String> = code_list::decode_strs(&p.countries)
        .map(str::to_owned)
        .collect();
    ProgramDocument {
        program_id: p.id,
        name: p.name.clone(),
        tagline: p.tagline.clone(),
        description: p.description.clone(),
        vendor_id: vendor.id,
        vendor_name: vendor.name.clone(),
        category: category.map(|c| c.slug.clone()).unwrap_or_default(),
        category_name: category.map(|c| c.name.clone()).unwrap_or_default(),
        all_partner_types: partner_types.is_empty(),
        partner_types,
        commission_models: models,
        // Kept current on the program row by the service layer.
        best_rate_bps: i64::from(p.best_rate_bps),
        best_flat_usd_cents: p.best_flat_usd_cents,
        recurring: rules
            .iter()
            .any(|r| r.duration != CommissionDuration::OneTime),
        recurring_months: rules
            .iter()
            .filter_map(|r| match r.duration {
                CommissionDuration::Lifetime => Some(LIFETIME_MONTHS),
                _ => r.recurring_months.map(i64::from),
            })
            .max()
            .unwrap_or(0),
        durations,
        cookie_days: i64::from(p.cookie_window_days),
        holding_days: i64::from(p.holding_period_days),
        currency: p.currency.clone(),
        minimum_payout_minor: p.minimum_payout_minor,
        approval_mode: code(&p.approval_mode),
        worldwide: countries.is_empty(),
        countries,
        published_at: p.published_at.map_or(0, |t| t.timestamp()),
        average_earnings_usd_cents: stats
            .and_then(stats::public_average_monthly)
            .map_or(WITHHELD, |minor| {
                exchange_rates::usd_cents(minor, &p.currency, rates)
            }),
        approval_rate_bps: stats
            .and_then(stats::public_approval_rate_bps)
            .unwrap_or(WITHHELD),
    }
}

/// The current document of each program (`None`: it must not be in the index), read
/// from the database in four queries whatever the number of programs.
pub async fn load(
    conn: &impl ConnectionTrait,
    program_ids: &[i64],
) -> Result<HashMap<i64, Option<ProgramDocument>>, AppError> {
    let mut documents: HashMap<i64, Option<ProgramDocument>> =
        program_ids.iter().map(|id| (*id, None)).collect();
    if program_ids.is_empty() {
        return Ok(documents);
    }
    let rows = program::Entity::find()
        .filter(program::Column::Id.is_in(program_ids.iter().copied()))
        .find_also_related(vendor::Entity)
        .find_also_related(category::Entity)
        .all(conn)
        .await?;
    let listed: Vec<_> = rows
        .into_iter()
        .filter(|(p, v, _)| is_listed(p) && v.is_some())
        .collect();
    let mut rules: HashMap<i64, Vec<commission_rule::Model>> = HashMap::new();
    if !listed.is_empty() {
        let ids = listed.iter().map(|(p, _, _)| p.id);
        for rule in commission_rule::Entity::find()
            .filter(commission_rule::Column::ProgramId.is_in(ids))
            .filter(commission_rule::Column::RetiredAt.is_null())
            .all(conn)
            .await?
        {
            rules.entry(rule.program_id).or_default().push(rule);
        }
    }
    let (figures, rates) = if listed.is_empty() {
        (HashMap::new(), HashMap::new())
    } else {
        let ids: Vec<i64> = listed.iter().map(|(p, _, _)| p.id).collect();
        (
            stats::of_programs(conn, &ids).await?,
            exchange_rates::all(conn).await?,
        )
    };
    for (p, v, c) in listed {
        let Some(v) = v else { continue };
        let doc = build(
            &p,
            &Sources {
                vendor: &v,
                category: c.as_ref(),
                rules: rules.get(&p.id).map_or(&[][..], Vec::as_slice),
                stats: figures.get(&p.id),
                rates: &rates,
            },
        );
        documents.insert(p.id, Some(doc));
    }
    Ok(documents)
}
