//! The shapes of seed data: what a vendor and a program consist of, in plain values.

use entity::{
    commission_rule::{CommissionDuration, CommissionEvent, CommissionModel},
    program::{
        ApprovalMode, PartnerType, PayoutMethod, PayoutSchedule, ProgramStatus, ReapplyPolicy,
        Visibility,
    },
};
use rust_decimal::Decimal;

#[derive(Debug, Clone)]
pub struct VendorSpec {
    pub slug: String,
    pub name: String,
    pub website: String,
    pub description: String,
    pub country: String,
    /// E-mail of the demo account that owns it.
    pub owner: String,
}

#[derive(Debug, Clone)]
pub struct TierSpec {
    pub name: String,
    pub rank: i32,
    pub is_default: bool,
    pub promotion_threshold: Option<Decimal>,
}

#[derive(Debug, Clone)]
pub struct RuleSpec {
    pub tier: Option<String>,
    pub event: CommissionEvent,
    pub model: CommissionModel,
    /// Percent.
    pub rate: Option<Decimal>,
    /// Major units of the program currency.
    pub amount: Option<Decimal>,
    pub duration: CommissionDuration,
    pub recurring_months: Option<i32>,
    pub cap_per_customer: Option<Decimal>,
}

#[derive(Debug, Clone)]
pub struct ProgramSpec {
    pub vendor_slug: String,
    pub slug: String,
    pub name: String,
    pub tagline: String,
    pub description: String,
    pub category: String,
    pub website: String,
    pub partner_types: Vec<PartnerType>,
    pub countries: Vec<String>,
    pub visibility: Visibility,
    pub approval_mode: ApprovalMode,
    pub currency: String,
    pub cookie_window_days: i32,
    pub holding_period_days: i32,
    pub minimum_payout: Decimal,
    pub payout_schedule: PayoutSchedule,
    pub payout_methods: Vec<PayoutMethod>,
    pub terms_url: Option<String>,
    pub arpa: Option<Decimal>,
    pub reapply_policy: ReapplyPolicy,
    pub tiers: Vec<TierSpec>,
    pub rules: Vec<RuleSpec>,
    /// The status to leave it in (`DRAFT`, `PUBLISHED` or `PAUSED`).
    pub status: ProgramStatus,
}

impl RuleSpec {
    pub fn percentage(
        event: CommissionEvent,
        rate: i64,
        duration: CommissionDuration,
        months: Option<i32>,
    ) -> Self {
        Self {
            tier: None,
            event,
            model: CommissionModel::Percentage,
            rate: Some(Decimal::from(rate)),
            amount: None,
            duration,
            recurring_months: months,
            cap_per_customer: None,
        }
    }

    pub fn flat(event: CommissionEvent, amount: i64) -> Self {
        Self {
            tier: None,
            event,
            model: CommissionModel::Flat,
            rate: None,
            amount: Some(Decimal::from(amount)),
            duration: CommissionDuration::OneTime,
            recurring_months: None,
            cap_per_customer: None,
        }
    }

    pub fn for_tier(mut self, tier: &str) -> Self {
        self.tier = Some(tier.to_owned());
        self
    }

    pub fn capped(mut self, cap: i64) -> Self {
        self.cap_per_customer = Some(Decimal::from(cap));
        self
    }
}

impl TierSpec {
    pub fn new(name: &str, rank: i32, threshold: Option<i64>) -> Self {
        Self {
            name: name.to_owned(),
            rank,
            is_default: rank == 0,
            promotion_threshold: threshold.map(Decimal::from),
        }
    }
}
