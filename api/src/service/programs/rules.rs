//! What makes a listing and its terms valid. Every problem is reported at once, each on
//! the input field it concerns (`commissionRules.2.rate`).

use std::collections::{HashMap, HashSet};

use entity::{
    code_list,
    commission_rule::{CommissionDuration, CommissionEvent, CommissionModel},
    program::{ApprovalMode, PartnerType, PayoutMethod, PayoutSchedule, ReapplyPolicy, Visibility},
};
use rust_decimal::Decimal;

use super::{Listing, RuleSpec, Terms, TierSpec};
use crate::{
    error::{FieldError, FieldErrorCode},
    service::{
        reference::currencies::{self, AmountError},
        validate::{self, Problems},
    },
};

pub const MAX_NAME: usize = 100;
pub const MAX_TAGLINE: usize = 160;
pub const MAX_DESCRIPTION: usize = 20_000;
pub const MAX_TIERS: usize = 10;
pub const MAX_RULES: usize = 50;
pub const COOKIE_DAYS: std::ops::RangeInclusive<i32> = 1..=730;
pub const HOLDING_DAYS: std::ops::RangeInclusive<i32> = 0..=365;
pub const RECURRING_MONTHS: std::ops::RangeInclusive<i32> = 1..=120;
pub const MAX_RANK: i32 = 100;

/// A listing that passed every rule, ready to store.
#[derive(Debug, Clone)]
pub struct CheckedListing {
    pub name: String,
    pub tagline: String,
    pub description: String,
    pub category_id: Option<i64>,
    pub website: Option<String>,
    pub partner_types: String,
    pub countries: String,
    pub visibility: Visibility,
    pub approval_mode: ApprovalMode,
    pub currency: String,
    pub cookie_window_days: i32,
    pub holding_period_days: i32,
    pub minimum_payout_minor: i64,
    pub payout_schedule: PayoutSchedule,
    pub payout_methods: String,
    pub terms_url: Option<String>,
    pub arpa_minor: Option<i64>,
    pub reapply_policy: ReapplyPolicy,
}

#[derive(Debug, Clone)]
pub struct CheckedTier {
    pub id: Option<i64>,
    pub name: String,
    pub rank: i32,
    pub is_default: bool,
    pub promotion_threshold_minor: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct CheckedRule {
    /// Name of one of the checked tiers, or `None` for every tier.
    pub tier: Option<String>,
    pub event: CommissionEvent,
    pub model: CommissionModel,
    pub rate_bps: Option<i32>,
    pub flat_amount_minor: Option<i64>,
    pub duration: CommissionDuration,
    pub recurring_months: Option<i32>,
    pub cap_per_customer_minor: Option<i64>,
}

#[derive(Debug, Clone, Default)]
pub struct CheckedTerms {
    pub tiers: Vec<CheckedTier>,
    pub rules: Vec<CheckedRule>,
}

fn range_error(field: &str, range: &std::ops::RangeInclusive<i32>) -> FieldError {
    FieldError::new(
        field,
        FieldErrorCode::OutOfRange,
        format!("must be between {} and {}", range.start(), range.end()),
    )
}

fn in_range(
    field: &str,
    value: i32,
    range: &std::ops::RangeInclusive<i32>,
) -> Result<i32, FieldError> {
    if range.contains(&value) {
        Ok(value)
    } else {
        Err(range_error(field, range))
    }
}

/// An amount in `currency`; `positive` refuses zero as well as negatives.
fn amount(field: &str, value: Decimal, currency: &str, positive: bool) -> Result<i64, FieldError> {
    match currencies::to_minor(value, currency) {
        Ok(0) if positive => Err(FieldError::new(
            field,
            FieldErrorCode::OutOfRange,
            "must be greater than zero",
        )),
        Ok(minor) => Ok(minor),
        Err(AmountError::TooPrecise) => Err(FieldError::new(
            field,
            FieldErrorCode::Invalid,
            AmountError::TooPrecise.message(currency),
        )),
        Err(e) => Err(FieldError::new(
            field,
            FieldErrorCode::OutOfRange,
            e.message(currency),
        )),
    }
}

fn currency(value: &str) -> Result<String, FieldError> {
    let code = value.trim().to_ascii_uppercase();
    if currencies::is_known(&code) {
        Ok(code)
    } else {
        Err(FieldError::new(
            "currency",
            FieldErrorCode::Invalid,
            format!("`{value}` is not an ISO 4217 currency code"),
        ))
    }
}

/// Checks a whole listing. `categories` maps every category slug to its id.
pub fn check_listing(
    problems: &mut Problems,
    l: &Listing,
    categories: &HashMap<String, i64>,
) -> Option<CheckedListing> {
    let name = problems.check(validate::text("name", &l.name, 1, MAX_NAME));
    let tagline = problems.check(validate::text("tagline", &l.tagline, 0, MAX_TAGLINE));
    let description = problems.check(validate::text(
        "description",
        &l.description,
        0,
        MAX_DESCRIPTION,
    ));
    let category_id = match l.category.as_deref().filter(|c| !c.is_empty()) {
        Some(slug) => match categories.get(slug) {
            Some(id) => Some(Some(*id)),
            None => {
                problems.push(FieldError::new(
                    "category",
                    FieldErrorCode::NotFound,
                    format!("there is no category `{slug}`"),
                ));
                None
            }
        },
        None => Some(None),
    };
    let website = problems.check(validate::optional_url("website", l.website.as_deref()));
    let terms_url = problems.check(validate::optional_url("termsUrl", l.terms_url.as_deref()));
    let mut countries = Vec::new();
    for (i, c) in l.countries.iter().enumerate() {
        if let Some(code) = problems.check(validate::country(&format!("countries.{i}"), c)) {
            countries.push(code);
        }
    }
    countries.sort_unstable();
    countries.dedup();
    let currency = problems.check(currency(&l.currency));
    let cookie = problems.check(in_range(
        "cookieWindowDays",
        l.cookie_window_days,
        &COOKIE_DAYS,
    ));
    let holding = problems.check(in_range(
        "holdingPeriodDays",
        l.holding_period_days,
        &HOLDING_DAYS,
    ));
    let (minimum_payout, arpa) = match &currency {
        Some(cur) => (
            problems.check(amount("minimumPayout", l.minimum_payout, cur, false)),
            match l.arpa {
                Some(value) => {
                    problems.check(amount("averageRevenuePerAccount", value, cur, false).map(Some))
                }
                None => Some(None),
            },
        ),
        None => (None, None),
    };
    let country_refs: Vec<&str> = countries.iter().map(String::as_str).collect();
    Some(CheckedListing {
        name: name?,
        tagline: tagline?,
        description: description?,
        category_id: category_id?,
        website: website?,
        partner_types: code_list::encode::<PartnerType>(&l.partner_types),
        countries: code_list::encode_strs(&country_refs),
        visibility: l.visibility,
        approval_mode: l.approval_mode,
        currency: currency?,
        cookie_window_days: cookie?,
        holding_period_days: holding?,
        minimum_payout_minor: minimum_payout?,
        payout_schedule: l.payout_schedule,
        payout_methods: code_list::encode::<PayoutMethod>(&l.payout_methods),
        terms_url: terms_url?,
        arpa_minor: arpa?,
        reapply_policy: l.reapply_policy,
    })
}

fn check_tiers(
    problems: &mut Problems,
    tiers: &[TierSpec],
    currency: &str,
    known_ids: &HashSet<i64>,
) -> Vec<CheckedTier> {
    if tiers.len() > MAX_TIERS {
        problems.push(FieldError::new(
            "tiers",
            FieldErrorCode::TooLong,
            format!("at most {MAX_TIERS} tiers"),
        ));
        return Vec::new();
    }
    let mut names = HashSet::new();
    let mut ranks = HashSet::new();
    let mut ids = HashSet::new();
    let mut checked = Vec::new();
    for (i, t) in tiers.iter().enumerate() {
        let at = |f: &str| format!("tiers.{i}.{f}");
        if let Some(id) = t.id {
            if !known_ids.contains(&id) {
                problems.push(FieldError::new(
                    &at("id"),
                    FieldErrorCode::NotFound,
                    "is not a tier of this program",
                ));
            } else if !ids.insert(id) {
                problems.push(FieldError::new(
                    &at("id"),
                    FieldErrorCode::Duplicate,
                    "appears twice",
                ));
            }
        }
        let name = problems.check(validate::text(&at("name"), &t.name, 1, 50));
        if name
            .as_ref()
            .is_some_and(|name| !names.insert(name.to_lowercase()))
        {
            problems.push(FieldError::new(
                &at("name"),
                FieldErrorCode::Duplicate,
                "is used by another tier",
            ));
        }
        let rank = problems.check(in_range(&at("rank"), t.rank, &(0..=MAX_RANK)));
        if rank.is_some() && !ranks.insert(t.rank) {
            problems.push(FieldError::new(
                &at("rank"),
                FieldErrorCode::Duplicate,
                "is used by another tier",
            ));
        }
        let threshold = match t.promotion_threshold {
            Some(v) => {
                problems.check(amount(&at("promotionThreshold"), v, currency, false).map(Some))
            }
            None => Some(None),
        };
        if let (Some(name), Some(rank), Some(threshold)) = (name, rank, threshold) {
            checked.push(CheckedTier {
                id: t.id,
                name,
                rank,
                is_default: t.is_default,
                promotion_threshold_minor: threshold,
            });
        }
    }
    let defaults = tiers.iter().filter(|t| t.is_default).count();
    if !tiers.is_empty() && defaults != 1 {
        problems.push(FieldError::new(
            "tiers",
            if defaults == 0 {
                FieldErrorCode::Required
            } else {
                FieldErrorCode::Duplicate
            },
            "exactly one tier must be the default (new partners join it)",
        ));
    }
    checked
}

fn check_rule(
    problems: &mut Problems,
    i: usize,
    r: &RuleSpec,
    currency: &str,
    tier_names: &HashSet<String>,
) -> Option<CheckedRule> {
    let at = |f: &str| format!("commissionRules.{i}.{f}");
    let before = problems.0.len();
    let tier = match r.tier.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        Some(name) if tier_names.contains(&name.to_lowercase()) => Some(name.to_owned()),
        Some(name) => {
            problems.push(FieldError::new(
                &at("tier"),
                FieldErrorCode::NotFound,
                format!("there is no tier `{name}` in `tiers`"),
            ));
            None
        }
        None => None,
    };
    let (rate_bps, flat) = match r.model {
        CommissionModel::Percentage => {
            if r.amount.is_some() {
                problems.push(FieldError::new(
                    &at("amount"),
                    FieldErrorCode::Invalid,
                    "only FLAT rules have an amount",
                ));
            }
            let rate = match r.rate {
                None => {
                    problems.push(FieldError::new(
                        &at("rate"),
                        FieldErrorCode::Required,
                        "a PERCENTAGE rule needs a rate",
                    ));
                    None
                }
                Some(rate) => match currencies::percent_to_rate(rate) {
                    Some(bps) if (1..=10_000).contains(&bps) => i32::try_from(bps).ok(),
                    Some(_) => {
                        problems.push(FieldError::new(
                            &at("rate"),
                            FieldErrorCode::OutOfRange,
                            "must be more than 0 % and at most 100 %",
                        ));
                        None
                    }
                    None => {
                        problems.push(FieldError::new(
                            &at("rate"),
                            FieldErrorCode::Invalid,
                            "may have at most two decimals (0.01 %)",
                        ));
                        None
                    }
                },
            };
            (rate, None)
        }
        CommissionModel::Flat => {
            if r.rate.is_some() {
                problems.push(FieldError::new(
                    &at("rate"),
                    FieldErrorCode::Invalid,
                    "only PERCENTAGE rules have a rate",
                ));
            }
            let flat = match r.amount {
                None => {
                    problems.push(FieldError::new(
                        &at("amount"),
                        FieldErrorCode::Required,
                        "a FLAT rule needs an amount",
                    ));
                    None
                }
                Some(value) => problems.check(amount(&at("amount"), value, currency, true)),
            };
            (None, flat)
        }
    };
    let months = match (r.duration, r.recurring_months) {
        (CommissionDuration::Recurring, None) => {
            problems.push(FieldError::new(
                &at("recurringMonths"),
                FieldErrorCode::Required,
                "a RECURRING rule needs a number of months",
            ));
            None
        }
        (CommissionDuration::Recurring, Some(m)) => {
            problems.check(in_range(&at("recurringMonths"), m, &RECURRING_MONTHS))
        }
        (_, Some(_)) => {
            problems.push(FieldError::new(
                &at("recurringMonths"),
                FieldErrorCode::Invalid,
                "only RECURRING rules have a number of months",
            ));
            None
        }
        (_, None) => None,
    };
    let cap = match r.cap_per_customer {
        Some(v) => problems.check(amount(&at("capPerCustomer"), v, currency, true)),
        None => None,
    };
    (problems.0.len() == before).then_some(CheckedRule {
        tier,
        event: r.event,
        model: r.model,
        rate_bps,
        flat_amount_minor: flat,
        duration: r.duration,
        recurring_months: months,
        cap_per_customer_minor: cap,
    })
}

/// Checks tiers and rules together (rules name tiers). `existing_tier_ids` are the ids
/// a tier may keep.
pub fn check_terms(
    problems: &mut Problems,
    terms: &Terms,
    currency: &str,
    existing_tier_ids: &HashSet<i64>,
) -> CheckedTerms {
    let tiers = check_tiers(problems, &terms.tiers, currency, existing_tier_ids);
    let tier_names: HashSet<String> = terms
        .tiers
        .iter()
        .map(|t| t.name.trim().to_lowercase())
        .collect();
    if terms.rules.len() > MAX_RULES {
        problems.push(FieldError::new(
            "commissionRules",
            FieldErrorCode::TooLong,
            format!("at most {MAX_RULES} rules"),
        ));
        return CheckedTerms {
            tiers,
            rules: Vec::new(),
        };
    }
    let mut rules = Vec::new();
    let mut seen = HashSet::new();
    for (i, spec) in terms.rules.iter().enumerate() {
        let key = (
            spec.tier.as_deref().map(|t| t.trim().to_lowercase()),
            spec.event,
        );
        if !seen.insert(key) {
            problems.push(FieldError::new(
                &format!("commissionRules.{i}.event"),
                FieldErrorCode::Duplicate,
                "another rule already pays for this event in this tier",
            ));
            continue;
        }
        if let Some(rule) = check_rule(problems, i, spec, currency, &tier_names) {
            rules.push(rule);
        }
    }
    CheckedTerms { tiers, rules }
}
