//! Inputs of the program mutations and of the listing query, converted to service types.

use async_graphql::{Enum, ID, InputObject, MaybeUndefined};
use rust_decimal::Decimal;

use super::types::{
    ApprovalMode, CommissionDuration, CommissionEvent, CommissionModel, PartnerType, PayoutMethod,
    PayoutSchedule, ProgramStatus, ReapplyPolicy, Visibility,
};
use crate::{
    error::AppError,
    graphql::{
        input::{list, patch},
        relay::{self, NodeType},
    },
    service::programs::{self, Listing, ListingPatch, RuleSpec, Terms, TierSpec},
};

/// A program tier. Name rules' `tier` after it.
#[derive(InputObject)]
pub struct ProgramTierInput {
    /// An existing tier to keep (its partners stay in it); omit to create one.
    pub id: Option<ID>,
    pub name: String,
    /// 0 is the entry level; unique within the program.
    pub rank: i32,
    /// Exactly one tier is the default, which new partners join.
    pub is_default: Option<bool>,
    /// Referred revenue, in the program currency, at which partners move up.
    pub promotion_threshold: Option<Decimal>,
}

/// A commission rule. `PERCENTAGE` rules take `rate` (percent, e.g. "20" or "12.5");
/// `FLAT` rules take `amount` (program currency). `RECURRING` takes `recurringMonths`.
#[derive(InputObject)]
pub struct CommissionRuleInput {
    /// Name of one of the submitted tiers; omit for a rule that applies to every tier.
    pub tier: Option<String>,
    pub event: CommissionEvent,
    pub model: CommissionModel,
    pub rate: Option<Decimal>,
    pub amount: Option<Decimal>,
    pub duration: CommissionDuration,
    /// 1–120.
    pub recurring_months: Option<i32>,
    pub cap_per_customer: Option<Decimal>,
}

fn tiers(tiers: Vec<ProgramTierInput>) -> Result<Vec<TierSpec>, AppError> {
    tiers
        .into_iter()
        .map(|t| {
            Ok(TierSpec {
                id: t
                    .id
                    .as_ref()
                    .map(|id| relay::decode_as(id, NodeType::ProgramTier))
                    .transpose()?,
                name: t.name,
                rank: t.rank,
                is_default: t.is_default.unwrap_or(false),
                promotion_threshold: t.promotion_threshold,
            })
        })
        .collect()
}

fn rules(rules: Vec<CommissionRuleInput>) -> Vec<RuleSpec> {
    rules
        .into_iter()
        .map(|r| RuleSpec {
            tier: r.tier,
            event: r.event.into(),
            model: r.model.into(),
            rate: r.rate,
            amount: r.amount,
            duration: r.duration.into(),
            recurring_months: r.recurring_months,
            cap_per_customer: r.cap_per_customer,
        })
        .collect()
}

/// A new program; it starts as a `DRAFT`. Fields left out take the default named.
#[derive(InputObject)]
pub struct CreateProgramInput {
    pub vendor_id: ID,
    /// 3–64 lower-case letters, digits and dashes; unique across the marketplace.
    pub slug: String,
    pub name: String,
    /// One line, at most 160 characters.
    pub tagline: Option<String>,
    /// Markdown, at most 20,000 characters. Required to publish.
    pub description: Option<String>,
    /// Category slug (see `categories`). Required to publish.
    pub category: Option<String>,
    pub website: Option<String>,
    /// Default: all partner types.
    pub partner_types: Option<Vec<PartnerType>>,
    /// ISO 3166-1 alpha-2 codes. Default: worldwide.
    pub countries: Option<Vec<String>>,
    /// Default `PUBLIC`.
    pub visibility: Option<Visibility>,
    /// Default `MANUAL`.
    pub approval_mode: Option<ApprovalMode>,
    /// ISO 4217 code of every amount of the program.
    pub currency: String,
    /// 1–730, default 30.
    pub cookie_window_days: Option<i32>,
    /// 0–365, default 30.
    pub holding_period_days: Option<i32>,
    /// Default 0.
    pub minimum_payout: Option<Decimal>,
    /// Default `MONTHLY`.
    pub payout_schedule: Option<PayoutSchedule>,
    pub payout_methods: Option<Vec<PayoutMethod>>,
    pub terms_url: Option<String>,
    /// Average monthly revenue per account, as the vendor declares it.
    pub average_revenue_per_account: Option<Decimal>,
    /// Default `AFTER_30_DAYS`.
    pub reapply_policy: Option<ReapplyPolicy>,
    pub tiers: Option<Vec<ProgramTierInput>>,
    pub commission_rules: Option<Vec<CommissionRuleInput>>,
}

impl CreateProgramInput {
    pub fn into_service(self) -> Result<programs::NewProgram, AppError> {
        use entity::program as p;
        Ok(programs::NewProgram {
            vendor_id: relay::decode_as(&self.vendor_id, NodeType::Vendor)?,
            slug: self.slug,
            listing: Listing {
                name: self.name,
                tagline: self.tagline.unwrap_or_default(),
                description: self.description.unwrap_or_default(),
                category: self.category,
                website: self.website,
                partner_types: list(self.partner_types.unwrap_or_default()),
                countries: self.countries.unwrap_or_default(),
                visibility: self.visibility.map_or(p::Visibility::Public, Into::into),
                approval_mode: self
                    .approval_mode
                    .map_or(p::ApprovalMode::Manual, Into::into),
                currency: self.currency,
                cookie_window_days: self.cookie_window_days.unwrap_or(30),
                holding_period_days: self.holding_period_days.unwrap_or(30),
                minimum_payout: self.minimum_payout.unwrap_or_default(),
                payout_schedule: self
                    .payout_schedule
                    .map_or(p::PayoutSchedule::Monthly, Into::into),
                payout_methods: list(self.payout_methods.unwrap_or_default()),
                terms_url: self.terms_url,
                arpa: self.average_revenue_per_account,
                reapply_policy: self
                    .reapply_policy
                    .map_or(p::ReapplyPolicy::After30Days, Into::into),
            },
            terms: Terms {
                tiers: tiers(self.tiers.unwrap_or_default())?,
                rules: rules(self.commission_rules.unwrap_or_default()),
            },
        })
    }
}

/// Listing fields to change; fields left out stay as they are, `null` clears a nullable
/// one. Tiers and rules change with `setProgramTerms`.
#[derive(InputObject)]
pub struct UpdateProgramInput {
    pub id: ID,
    /// The `version` you last read; a stale one is refused with a `CONFLICT` user error.
    pub expected_version: i32,
    pub slug: Option<String>,
    pub name: Option<String>,
    pub tagline: Option<String>,
    pub description: Option<String>,
    pub category: MaybeUndefined<String>,
    pub website: MaybeUndefined<String>,
    pub partner_types: Option<Vec<PartnerType>>,
    pub countries: Option<Vec<String>>,
    pub visibility: Option<Visibility>,
    pub approval_mode: Option<ApprovalMode>,
    /// Only before the first publication.
    pub currency: Option<String>,
    pub cookie_window_days: Option<i32>,
    pub holding_period_days: Option<i32>,
    pub minimum_payout: Option<Decimal>,
    pub payout_schedule: Option<PayoutSchedule>,
    pub payout_methods: Option<Vec<PayoutMethod>>,
    pub terms_url: MaybeUndefined<String>,
    pub average_revenue_per_account: MaybeUndefined<Decimal>,
    pub reapply_policy: Option<ReapplyPolicy>,
}

impl UpdateProgramInput {
    pub fn into_service(self) -> Result<(i64, i32, ListingPatch), AppError> {
        let id = relay::decode_as(&self.id, NodeType::Program)?;
        let changes = ListingPatch {
            slug: self.slug,
            name: self.name,
            tagline: self.tagline,
            description: self.description,
            category: patch(self.category),
            website: patch(self.website),
            partner_types: self.partner_types.map(list),
            countries: self.countries,
            visibility: self.visibility.map(Into::into),
            approval_mode: self.approval_mode.map(Into::into),
            currency: self.currency,
            cookie_window_days: self.cookie_window_days,
            holding_period_days: self.holding_period_days,
            minimum_payout: self.minimum_payout,
            payout_schedule: self.payout_schedule.map(Into::into),
            payout_methods: self.payout_methods.map(list),
            terms_url: patch(self.terms_url),
            arpa: patch(self.average_revenue_per_account),
            reapply_policy: self.reapply_policy.map(Into::into),
        };
        Ok((id, self.expected_version, changes))
    }
}

/// The complete new terms: they replace the current tiers and rules.
#[derive(InputObject)]
pub struct SetProgramTermsInput {
    pub id: ID,
    pub expected_version: i32,
    pub tiers: Vec<ProgramTierInput>,
    pub commission_rules: Vec<CommissionRuleInput>,
}

impl SetProgramTermsInput {
    pub fn into_service(self) -> Result<(i64, i32, Terms), AppError> {
        let id = relay::decode_as(&self.id, NodeType::Program)?;
        Ok((
            id,
            self.expected_version,
            Terms {
                tiers: tiers(self.tiers)?,
                rules: rules(self.commission_rules),
            },
        ))
    }
}

/// Which program, at which version.
#[derive(InputObject)]
pub struct ProgramVersionInput {
    pub id: ID,
    pub expected_version: i32,
}

impl ProgramVersionInput {
    pub fn ids(&self) -> Result<(i64, i32), AppError> {
        Ok((
            relay::decode_as(&self.id, NodeType::Program)?,
            self.expected_version,
        ))
    }
}

/// Narrows a listing. Values within a field are alternatives; fields combine.
#[derive(InputObject, Default)]
pub struct ProgramFilter {
    /// Category slugs.
    pub categories: Option<Vec<String>>,
    /// Programs accepting any of these partner types.
    pub partner_types: Option<Vec<PartnerType>>,
    /// Programs with a rule of any of these models.
    pub commission_models: Option<Vec<CommissionModel>>,
    pub vendor_id: Option<ID>,
    /// Programs serving any of these countries (worldwide programs serve all).
    pub countries: Option<Vec<String>>,
    /// ISO 4217 codes.
    pub currencies: Option<Vec<String>>,
    /// Default: published only. Other statuses show only your own vendors' programs.
    pub statuses: Option<Vec<ProgramStatus>>,
}

impl ProgramFilter {
    pub fn into_service(self) -> Result<programs::ProgramFilter, AppError> {
        Ok(programs::ProgramFilter {
            categories: self.categories.unwrap_or_default(),
            partner_types: list(self.partner_types.unwrap_or_default()),
            commission_models: list(self.commission_models.unwrap_or_default()),
            vendor_id: self
                .vendor_id
                .as_ref()
                .map(|id| relay::decode_as(id, NodeType::Vendor))
                .transpose()?,
            countries: self.countries.unwrap_or_default(),
            currencies: self.currencies.unwrap_or_default(),
            statuses: self.statuses.map(list),
        })
    }
}

/// Narrows a vendor's own list of programs.
#[derive(InputObject, Default)]
pub struct VendorProgramFilter {
    /// Default: every status the viewer may see.
    pub statuses: Option<Vec<ProgramStatus>>,
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, Default)]
pub enum ProgramOrder {
    /// Most recently published first.
    #[default]
    Newest,
    /// A to Z.
    Name,
    /// Highest percentage rate first.
    HighestRate,
    /// Highest flat amount first, compared across currencies at reference exchange rates.
    HighestFlatAmount,
}

impl From<ProgramOrder> for programs::ProgramOrder {
    fn from(order: ProgramOrder) -> Self {
        match order {
            ProgramOrder::Newest => Self::Newest,
            ProgramOrder::Name => Self::Name,
            ProgramOrder::HighestRate => Self::BestRate,
            ProgramOrder::HighestFlatAmount => Self::BestFlat,
        }
    }
}
