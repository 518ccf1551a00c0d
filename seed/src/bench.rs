//! Benchmark data: N deterministic programs spread over vendors of 100 programs each, with
//! the same variety of terms as real listings (so filters and sorts have work to do).

use entity::{
    commission_rule::{CommissionDuration, CommissionEvent},
    program::{
        ApprovalMode, PartnerType, PayoutMethod, PayoutSchedule, ProgramStatus, ReapplyPolicy,
        Visibility,
    },
};
use rust_decimal::Decimal;

use crate::{
    rng::Rng,
    spec::{ProgramSpec, RuleSpec, TierSpec, VendorSpec},
};

pub const PROGRAMS_PER_VENDOR: u64 = 100;
pub const OWNER_EMAIL: &str = "bench-owner@example.com";

const CATEGORIES: &[&str] = &[
    "crm",
    "marketing-automation",
    "analytics",
    "e-commerce",
    "security",
    "hr",
    "finance",
    "developer-tools",
    "design",
    "communication",
    "productivity",
    "ai",
    "customer-support",
    "sales",
    "data-infrastructure",
    "education",
];
const CURRENCIES: &[&str] = &[
    "USD", "USD", "USD", "EUR", "EUR", "GBP", "CAD", "AUD", "JPY", "CHF",
];
const WORDS: &[&str] = &[
    "cloud", "data", "flow", "stack", "pilot", "hub", "desk", "ly", "forge", "mesh", "sync",
    "base", "craft", "wave", "spark", "loop", "grid", "nest", "beam", "track",
];
const COUNTRY_SETS: &[&[&str]] = &[
    &[],
    &["US", "CA"],
    &["DE", "FR", "NL"],
    &["GB", "IE"],
    &["JP"],
    &["BR", "MX"],
    &[],
];

pub fn vendor(n: u64) -> VendorSpec {
    VendorSpec {
        slug: format!("bench-vendor-{n:05}"),
        name: format!("Bench Vendor {n}"),
        website: format!("https://bench-{n}.example.com"),
        description: "A generated vendor for benchmarks.".to_owned(),
        country: "US".to_owned(),
        owner: OWNER_EMAIL.to_owned(),
    }
}

/// Program number `i` (deterministic), belonging to `vendor(i / PROGRAMS_PER_VENDOR)`.
pub fn program(i: u64) -> ProgramSpec {
    let mut rng = Rng::new(i.wrapping_mul(7919).wrapping_add(1));
    let a = rng.pick(WORDS);
    let b = rng.pick(WORDS);
    let currency = *rng.pick(CURRENCIES);
    let k = if currency == "JPY" { 150 } else { 1 };
    let rate = i64::try_from(5 + rng.next() % 46).unwrap_or(20);
    let (duration, months) = match rng.next() % 3 {
        0 => (CommissionDuration::OneTime, None),
        1 => (
            CommissionDuration::Recurring,
            Some(*rng.pick(&[3, 6, 12, 24])),
        ),
        _ => (CommissionDuration::Lifetime, None),
    };
    let flat = i64::try_from(10 + rng.next() % 490).unwrap_or(50) * k;
    let mut rules = vec![RuleSpec::percentage(
        CommissionEvent::Sale,
        rate,
        duration,
        months,
    )];
    let mut tiers = Vec::new();
    match rng.next() % 4 {
        0 => rules.push(RuleSpec::flat(CommissionEvent::Lead, flat)),
        1 => {
            tiers = vec![
                TierSpec::new("Standard", 0, None),
                TierSpec::new("Elite", 1, Some(10_000 * k)),
            ];
            rules.push(
                RuleSpec::percentage(
                    CommissionEvent::Sale,
                    (rate + 10).min(100),
                    CommissionDuration::Lifetime,
                    None,
                )
                .for_tier("Elite"),
            );
        }
        2 => rules = vec![RuleSpec::flat(CommissionEvent::Signup, flat)],
        _ => {}
    }
    let partner_types = match rng.next() % 4 {
        0 => Vec::new(),
        1 => vec![PartnerType::Affiliate, PartnerType::Influencer],
        2 => vec![PartnerType::Reseller, PartnerType::Agency],
        _ => vec![PartnerType::Referral],
    };
    ProgramSpec {
        vendor_slug: vendor(i / PROGRAMS_PER_VENDOR).slug,
        slug: format!("bench-{i:07}"),
        name: format!("{}{} Partner Program {i}", capitalise(a), b),
        tagline: format!("Earn {rate}% on every {a}{b} customer"),
        description: format!("## {a}{b}\nA generated program for benchmarks, number {i}.\n"),
        category: (*rng.pick(CATEGORIES)).to_owned(),
        website: format!("https://bench-{i}.example.com"),
        partner_types,
        countries: rng
            .pick(COUNTRY_SETS)
            .iter()
            .map(|c| (*c).to_owned())
            .collect(),
        visibility: Visibility::Public,
        approval_mode: *rng.pick(&[ApprovalMode::Manual, ApprovalMode::Automatic]),
        currency: currency.to_owned(),
        cookie_window_days: *rng.pick(&[30, 45, 60, 90, 120]),
        holding_period_days: *rng.pick(&[0, 14, 30, 60]),
        minimum_payout: Decimal::from(*rng.pick(&[0, 25, 50, 100]) * k),
        payout_schedule: *rng.pick(&[
            PayoutSchedule::Monthly,
            PayoutSchedule::Biweekly,
            PayoutSchedule::Quarterly,
        ]),
        payout_methods: vec![PayoutMethod::Paypal, PayoutMethod::BankTransfer],
        terms_url: None,
        arpa: Some(Decimal::from(*rng.pick(&[29, 49, 99, 199]) * k)),
        reapply_policy: ReapplyPolicy::After30Days,
        tiers,
        rules,
        status: if rng.chance(90) {
            ProgramStatus::Published
        } else {
            ProgramStatus::Draft
        },
    }
}

fn capitalise(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn programs_are_deterministic_and_grouped_by_vendor() {
        assert_eq!(format!("{:?}", program(42)), format!("{:?}", program(42)));
        assert_ne!(format!("{:?}", program(42)), format!("{:?}", program(43)));
        assert_eq!(program(199).vendor_slug, "bench-vendor-00001");
        assert_eq!(program(7).slug, "bench-0000007");
    }
}
