//! Commission arithmetic, free of storage: what one conversion earns under one rule,
//! given what the same customer already brought through the same partnership.

use chrono::{DateTime, Months, Utc};
use entity::commission_rule::{CommissionDuration, CommissionModel};

/// The parts of a commission rule the arithmetic needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RuleTerms {
    pub model: CommissionModel,
    pub rate_bps: Option<i32>,
    pub flat_minor: Option<i64>,
    pub duration: CommissionDuration,
    pub recurring_months: Option<i32>,
    pub cap_minor: Option<i64>,
}

/// What the customer already brought through this partnership for this event.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CustomerHistory {
    /// The customer's first (non-refunded) conversion, if any.
    pub first_at: Option<DateTime<Utc>>,
    /// Net commissions already earned on the customer under this rule.
    pub earned_minor: i64,
}

/// `amount × rate` in minor units, rounded half away from zero.
pub fn percentage_of(amount_minor: i64, rate_bps: i32) -> i64 {
    let product = i128::from(amount_minor) * i128::from(rate_bps);
    let rounded = (product + 5_000 * product.signum()) / 10_000;
    i64::try_from(rounded).unwrap_or(i64::MAX)
}

/// Whether a conversion at `at` still falls under the rule's duration.
pub fn in_duration(rule: &RuleTerms, history: &CustomerHistory, at: DateTime<Utc>) -> bool {
    match (rule.duration, history.first_at) {
        (_, None) | (CommissionDuration::Lifetime, _) => true,
        (CommissionDuration::OneTime, Some(_)) => false,
        (CommissionDuration::Recurring, Some(first)) => {
            let months = u32::try_from(rule.recurring_months.unwrap_or(0)).unwrap_or(0);
            first
                .checked_add_months(Months::new(months))
                .is_some_and(|end| at < end)
        }
    }
}

/// The commission one conversion earns (0 when the rule no longer pays for this
/// customer or its cap is reached).
pub fn commission(
    rule: &RuleTerms,
    amount_minor: i64,
    at: DateTime<Utc>,
    history: &CustomerHistory,
) -> i64 {
    if !in_duration(rule, history, at) {
        return 0;
    }
    let base = match rule.model {
        CommissionModel::Percentage => percentage_of(amount_minor, rule.rate_bps.unwrap_or(0)),
        CommissionModel::Flat => rule.flat_minor.unwrap_or(0),
    };
    match rule.cap_minor {
        Some(cap) => base.min((cap - history.earned_minor).max(0)),
        None => base,
    }
    .max(0)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use entity::commission_rule::{CommissionDuration::*, CommissionModel::*};

    use super::*;

    fn day(m: u32, d: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, m, d, 12, 0, 0).unwrap()
    }

    fn rule(model: CommissionModel, duration: CommissionDuration, cap: Option<i64>) -> RuleTerms {
        RuleTerms {
            model,
            rate_bps: Some(2_000),
            flat_minor: Some(5_000),
            duration,
            recurring_months: Some(3),
            cap_minor: cap,
        }
    }

    #[test]
    fn percentages_round_half_away_from_zero() {
        assert_eq!(percentage_of(10_000, 2_000), 2_000);
        assert_eq!(percentage_of(12_345, 1_250), 1_543); // 1543.125
        assert_eq!(percentage_of(5, 1_000), 1); // 0.5 → 1
        assert_eq!(percentage_of(4, 1_000), 0); // 0.4 → 0
        assert_eq!(percentage_of(-5, 1_000), -1);
        assert_eq!(percentage_of(i64::MAX, 10_000), i64::MAX);
    }

    /// Each model × duration × cap, on a first conversion and on later ones.
    #[test]
    fn every_model_duration_and_cap() {
        let first = CustomerHistory::default();
        let again_soon = CustomerHistory {
            first_at: Some(day(1, 10)),
            earned_minor: 2_000,
        };
        let at = day(2, 10);
        let late = day(6, 10);
        // (model, duration, cap, history, at, amount, expected)
        let cases = [
            (Percentage, OneTime, None, first, at, 10_000, 2_000),
            (Percentage, OneTime, None, again_soon, at, 10_000, 0),
            (Percentage, Recurring, None, first, at, 10_000, 2_000),
            (Percentage, Recurring, None, again_soon, at, 10_000, 2_000),
            (Percentage, Recurring, None, again_soon, late, 10_000, 0),
            (Percentage, Lifetime, None, again_soon, late, 10_000, 2_000),
            (
                Percentage,
                Lifetime,
                Some(3_000),
                again_soon,
                late,
                10_000,
                1_000,
            ),
            (
                Percentage,
                Lifetime,
                Some(2_000),
                again_soon,
                late,
                10_000,
                0,
            ),
            (
                Percentage,
                Recurring,
                Some(10_000),
                first,
                at,
                10_000,
                2_000,
            ),
            (Flat, OneTime, None, first, at, 0, 5_000),
            (Flat, OneTime, None, again_soon, at, 0, 0),
            (Flat, Recurring, None, again_soon, at, 999, 5_000),
            (Flat, Recurring, None, again_soon, late, 999, 0),
            (Flat, Lifetime, Some(6_000), again_soon, late, 0, 4_000),
            (Flat, Lifetime, Some(1_000), first, at, 0, 1_000),
        ];
        for (model, duration, cap, history, at, amount, expected) in cases {
            let r = rule(model, duration, cap);
            assert_eq!(
                commission(&r, amount, at, &history),
                expected,
                "{model:?} {duration:?} cap {cap:?} history {history:?} at {at}"
            );
        }
    }

    #[test]
    fn a_recurring_window_ends_exactly_n_months_after_the_first_sale() {
        let r = rule(Percentage, Recurring, None);
        let history = CustomerHistory {
            first_at: Some(day(1, 31)),
            earned_minor: 0,
        };
        // 31 January + 3 months is 30 April (chrono clamps to the month's end).
        assert!(in_duration(&r, &history, day(4, 29)));
        assert!(!in_duration(&r, &history, day(4, 30)));
    }
}
