//! What is derived from commission rules: the human summary of each rule and the
//! program's best rates, kept in program columns for sorting and filtering.

use std::collections::HashMap;

use entity::commission_rule::{self, CommissionDuration, CommissionEvent, CommissionModel};

use crate::service::reference::{currencies, exchange_rates};

/// Best rates over a program's active rules.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BestRates {
    pub has_percentage: bool,
    pub has_flat: bool,
    pub best_rate_bps: i32,
    pub best_flat_minor: i64,
    pub best_flat_usd_cents: i64,
}

/// The rules of a program as stored, reduced to what listings sort and filter on.
pub fn best_rates<'a>(
    rules: impl IntoIterator<Item = (CommissionModel, Option<i32>, Option<i64>)> + 'a,
    currency: &str,
    rates: &HashMap<String, i64>,
) -> BestRates {
    let mut best = BestRates::default();
    for (model, rate, flat) in rules {
        match model {
            CommissionModel::Percentage => {
                best.has_percentage = true;
                best.best_rate_bps = best.best_rate_bps.max(rate.unwrap_or(0));
            }
            CommissionModel::Flat => {
                best.has_flat = true;
                best.best_flat_minor = best.best_flat_minor.max(flat.unwrap_or(0));
            }
        }
    }
    best.best_flat_usd_cents = exchange_rates::usd_cents(best.best_flat_minor, currency, rates);
    best
}

fn event_phrase(event: CommissionEvent, duration: CommissionDuration) -> &'static str {
    match (event, duration) {
        (CommissionEvent::Sale, CommissionDuration::OneTime) => "on the first sale",
        (CommissionEvent::Sale, _) => "on every sale",
        (CommissionEvent::Lead, _) => "per qualified lead",
        (CommissionEvent::Signup, _) => "per sign-up",
    }
}

/// "20% recurring for 12 months on every sale", "$50.00 per qualified lead",
/// "10% for life on every sale, up to $500.00 per customer". Never stored: always derived
/// from the structured rule, so it cannot disagree with it.
pub fn summary(rule: &commission_rule::Model, currency: &str) -> String {
    let amount = match rule.model {
        CommissionModel::Percentage => format!(
            "{}%",
            currencies::rate_to_percent(rule.rate_bps.unwrap_or(0))
        ),
        CommissionModel::Flat => currencies::format(rule.flat_amount_minor.unwrap_or(0), currency),
    };
    let duration = match rule.duration {
        CommissionDuration::OneTime => String::new(),
        CommissionDuration::Recurring => match rule.recurring_months.unwrap_or(0) {
            1 => " recurring for 1 month".to_owned(),
            m => format!(" recurring for {m} months"),
        },
        CommissionDuration::Lifetime => " for life".to_owned(),
    };
    let mut text = format!(
        "{amount}{duration} {}",
        event_phrase(rule.event, rule.duration)
    );
    if let Some(cap) = rule.cap_per_customer_minor {
        text.push_str(&format!(
            ", up to {} per customer",
            currencies::format(cap, currency)
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;

    fn rule(model: CommissionModel, duration: CommissionDuration) -> commission_rule::Model {
        commission_rule::Model {
            id: 1,
            program_id: 1,
            tier_id: None,
            event: CommissionEvent::Sale,
            model,
            rate_bps: Some(2000),
            flat_amount_minor: Some(5000),
            duration,
            recurring_months: Some(12),
            cap_per_customer_minor: None,
            position: 0,
            created_at: Utc::now(),
            retired_at: None,
        }
    }

    #[test]
    fn summaries_read_as_sentences() {
        assert_eq!(
            summary(
                &rule(CommissionModel::Percentage, CommissionDuration::Recurring),
                "USD"
            ),
            "20% recurring for 12 months on every sale"
        );
        let mut flat = rule(CommissionModel::Flat, CommissionDuration::OneTime);
        flat.event = CommissionEvent::Lead;
        assert_eq!(summary(&flat, "EUR"), "€50.00 per qualified lead");
        let mut capped = rule(CommissionModel::Percentage, CommissionDuration::Lifetime);
        capped.rate_bps = Some(1250);
        capped.cap_per_customer_minor = Some(50_000);
        assert_eq!(
            summary(&capped, "USD"),
            "12.5% for life on every sale, up to $500.00 per customer"
        );
        assert_eq!(
            summary(
                &rule(CommissionModel::Percentage, CommissionDuration::OneTime),
                "USD"
            ),
            "20% on the first sale"
        );
    }

    #[test]
    fn best_rates_take_the_maximum_of_each_model() {
        let rates = HashMap::from([("EUR".to_owned(), 1_080_000)]);
        let best = best_rates(
            [
                (CommissionModel::Percentage, Some(1500), None),
                (CommissionModel::Percentage, Some(3000), None),
                (CommissionModel::Flat, None, Some(10_000)),
            ],
            "EUR",
            &rates,
        );
        assert_eq!(
            best,
            BestRates {
                has_percentage: true,
                has_flat: true,
                best_rate_bps: 3000,
                best_flat_minor: 10_000,
                best_flat_usd_cents: 10_800
            }
        );
    }
}
