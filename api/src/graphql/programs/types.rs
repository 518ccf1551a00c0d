//! GraphQL types of program listings, converted explicitly from service records.

use async_graphql::{Context, Enum, ID, Object};
use chrono::{DateTime, Utc};
use entity::{code_list, commission_rule, program_tier};
use rust_decimal::Decimal;

use crate::{
    graphql::{
        applications::{Application, ApplicationQuestion, Enrollment},
        categories::Category,
        error::loader_error,
        loaders::{
            AppLoader, QuestionsOfUnchecked, RulesOfUnchecked, TiersOfUnchecked, ViewerRelationTo,
        },
        money::Money,
        relay::{self, NodeType},
        vendors::Vendor,
    },
    service::{
        programs::{self, ProgramRecord},
        reference::currencies,
    },
};

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::program::ProgramStatus")]
pub enum ProgramStatus {
    /// Being written; visible to the vendor's team only.
    Draft,
    /// Live on the marketplace.
    Published,
    /// Temporarily closed; visible to the vendor's team.
    Paused,
    /// Closed for good.
    Archived,
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(name = "ProgramVisibility", remote = "entity::program::Visibility")]
pub enum Visibility {
    /// Listed and searchable.
    Public,
    /// Reachable by its slug only; partners need an invitation to join.
    InviteOnly,
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::program::ApprovalMode")]
pub enum ApprovalMode {
    /// The vendor reviews every application.
    Manual,
    /// Every application is approved at once.
    Automatic,
    /// Eligibility rules approve or reject.
    RuleBased,
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::program::PayoutSchedule")]
pub enum PayoutSchedule {
    Weekly,
    Biweekly,
    Monthly,
    Quarterly,
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::program::ReapplyPolicy")]
pub enum ReapplyPolicy {
    /// A rejected or departed partner may apply again at once.
    Instant,
    /// … 30 days after the rejection or departure.
    #[graphql(name = "AFTER_30_DAYS")]
    After30Days,
    /// … never.
    Never,
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[graphql(remote = "entity::program::PartnerType")]
pub enum PartnerType {
    Affiliate,
    Referral,
    Reseller,
    Agency,
    Influencer,
    Technology,
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[graphql(remote = "entity::program::PayoutMethod")]
pub enum PayoutMethod {
    Paypal,
    BankTransfer,
    Wise,
    StripeConnect,
    Payoneer,
    AccountCredit,
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::commission_rule::CommissionEvent")]
pub enum CommissionEvent {
    Sale,
    Lead,
    Signup,
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::commission_rule::CommissionModel")]
pub enum CommissionModel {
    /// A share of the conversion amount (`rate`).
    Percentage,
    /// A fixed `amount` per conversion.
    Flat,
}

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::commission_rule::CommissionDuration")]
pub enum CommissionDuration {
    /// Only the customer's first conversion pays.
    OneTime,
    /// Every conversion within `recurringMonths` of the customer's first.
    Recurring,
    /// Every conversion of the customer, for as long as they pay.
    Lifetime,
}

/// A partner program listing.
#[derive(Clone)]
pub struct Program(pub ProgramRecord);

#[Object]
impl Program {
    pub async fn id(&self) -> ID {
        relay::encode(NodeType::Program, self.0.program.id)
    }

    async fn slug(&self) -> &str {
        &self.0.program.slug
    }

    async fn name(&self) -> &str {
        &self.0.program.name
    }

    async fn tagline(&self) -> &str {
        &self.0.program.tagline
    }

    /// Markdown.
    async fn description(&self) -> &str {
        &self.0.program.description
    }

    async fn category(&self) -> Option<Category> {
        self.0.category.clone().map(Category::from)
    }

    async fn website(&self) -> Option<&str> {
        self.0.program.website.as_deref()
    }

    async fn status(&self) -> ProgramStatus {
        self.0.program.status.into()
    }

    async fn visibility(&self) -> Visibility {
        self.0.program.visibility.into()
    }

    async fn approval_mode(&self) -> ApprovalMode {
        self.0.program.approval_mode.into()
    }

    /// Partner types the program accepts; empty means all.
    async fn partner_types(&self) -> Vec<PartnerType> {
        code_list::decode::<entity::program::PartnerType>(&self.0.program.partner_types)
            .into_iter()
            .map(Into::into)
            .collect()
    }

    /// ISO 3166-1 alpha-2 codes of the countries served; empty means worldwide.
    async fn countries(&self) -> Vec<&str> {
        code_list::decode_strs(&self.0.program.countries).collect()
    }

    /// ISO 4217; every amount of the program is in this currency.
    async fn currency(&self) -> &str {
        &self.0.program.currency
    }

    /// Days a referral click stays attributed.
    async fn cookie_window_days(&self) -> i32 {
        self.0.program.cookie_window_days
    }

    /// Days before a commission can be paid (the refund window).
    async fn holding_period_days(&self) -> i32 {
        self.0.program.holding_period_days
    }

    async fn minimum_payout(&self) -> Money {
        Money::from_minor(
            self.0.program.minimum_payout_minor,
            &self.0.program.currency,
        )
    }

    async fn payout_schedule(&self) -> PayoutSchedule {
        self.0.program.payout_schedule.into()
    }

    async fn payout_methods(&self) -> Vec<PayoutMethod> {
        code_list::decode::<entity::program::PayoutMethod>(&self.0.program.payout_methods)
            .into_iter()
            .map(Into::into)
            .collect()
    }

    async fn terms_url(&self) -> Option<&str> {
        self.0.program.terms_url.as_deref()
    }

    /// Goes up whenever the terms of a published program change.
    async fn terms_version(&self) -> i32 {
        self.0.program.terms_version
    }

    /// Vendor-declared average monthly revenue per account (ARPA), as the vendor states it.
    async fn average_revenue_per_account(&self) -> Option<Money> {
        self.0
            .program
            .arpa_minor
            .map(|m| Money::from_minor(m, &self.0.program.currency))
    }

    async fn reapply_policy(&self) -> ReapplyPolicy {
        self.0.program.reapply_policy.into()
    }

    /// Highest percentage rate of the active rules, in percent; null without one.
    async fn best_percentage_rate(&self) -> Option<Decimal> {
        self.0
            .program
            .has_percentage
            .then(|| currencies::rate_to_percent(self.0.program.best_rate_bps))
    }

    /// Highest flat amount of the active rules; null without one.
    async fn best_flat_amount(&self) -> Option<Money> {
        self.0
            .program
            .has_flat
            .then(|| Money::from_minor(self.0.program.best_flat_minor, &self.0.program.currency))
    }

    /// When it was first published.
    async fn published_at(&self) -> Option<DateTime<Utc>> {
        self.0.program.published_at
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.program.created_at
    }

    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.program.updated_at
    }

    /// Send it back as `expectedVersion` with every change.
    async fn version(&self) -> i32 {
        self.0.program.version
    }

    async fn vendor(&self) -> Vendor {
        Vendor(self.0.vendor.clone())
    }

    /// The application form, in order.
    async fn application_questions(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<ApplicationQuestion>> {
        Ok(ctx
            .data_unchecked::<AppLoader>()
            .load_one(QuestionsOfUnchecked(self.0.program.id))
            .await
            .map_err(loader_error)?
            .unwrap_or_default()
            .into_iter()
            .map(ApplicationQuestion)
            .collect())
    }

    /// Your most recent application to this program (null when logged out or never
    /// applied): lets a listing page show "applied".
    async fn viewer_application(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<Application>> {
        Ok(ctx
            .data_unchecked::<AppLoader>()
            .load_one(ViewerRelationTo(self.0.program.id))
            .await
            .map_err(loader_error)?
            .and_then(|relation| relation.application)
            .map(Application))
    }

    /// Your most recent partnership with this program: lets a listing page show
    /// "joined".
    async fn viewer_enrollment(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<Enrollment>> {
        Ok(ctx
            .data_unchecked::<AppLoader>()
            .load_one(ViewerRelationTo(self.0.program.id))
            .await
            .map_err(loader_error)?
            .and_then(|relation| relation.enrollment)
            .map(Enrollment))
    }

    /// Measured earnings of its partners over the trailing 90 days (withheld below 5
    /// contributing partners, except for the vendor's own team).
    async fn earnings(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<super::figures::ProgramEarnings> {
        super::figures::earnings(ctx, &self.0).await
    }

    /// Trust signals: partners, activation, approval rate and decision speed.
    async fn trust(&self) -> super::figures::ProgramTrust {
        super::figures::trust(&self.0)
    }

    /// An estimate (not a measurement) from the rules and the vendor-declared revenue per
    /// account, for `customersPerMonth` (1–10000) new customers a month; null when the
    /// rules need a revenue figure the vendor did not declare.
    async fn estimate(
        &self,
        ctx: &Context<'_>,
        customers_per_month: i32,
    ) -> async_graphql::Result<Option<super::figures::EarningsEstimate>> {
        super::figures::estimate(ctx, &self.0, customers_per_month).await
    }

    /// Levels of the program, lowest rank first.
    async fn tiers(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<ProgramTier>> {
        let tiers = ctx
            .data_unchecked::<AppLoader>()
            .load_one(TiersOfUnchecked(self.0.program.id))
            .await
            .map_err(loader_error)?;
        let currency = &self.0.program.currency;
        Ok(tiers
            .unwrap_or_default()
            .into_iter()
            .map(|t| ProgramTier::new(t, currency))
            .collect())
    }

    /// What partners earn, as structured rules.
    async fn commission_rules(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<CommissionRule>> {
        let rules = ctx
            .data_unchecked::<AppLoader>()
            .load_one(RulesOfUnchecked(self.0.program.id))
            .await
            .map_err(loader_error)?;
        let currency = &self.0.program.currency;
        Ok(rules
            .unwrap_or_default()
            .into_iter()
            .map(|(r, t)| CommissionRule::new(r, t, currency))
            .collect())
    }
}

/// A level of a program with its own commission rules.
#[derive(Clone)]
pub struct ProgramTier {
    pub tier: program_tier::Model,
    pub currency: String,
}

impl ProgramTier {
    pub fn new(tier: program_tier::Model, currency: &str) -> Self {
        Self {
            tier,
            currency: currency.to_owned(),
        }
    }
}

#[Object]
impl ProgramTier {
    pub async fn id(&self) -> ID {
        relay::encode(NodeType::ProgramTier, self.tier.id)
    }

    async fn name(&self) -> &str {
        &self.tier.name
    }

    /// 0 is the entry level; higher is better.
    async fn rank(&self) -> i32 {
        self.tier.rank
    }

    /// New partners join this tier.
    async fn is_default(&self) -> bool {
        self.tier.is_default
    }

    /// Referred revenue at which partners move up to this tier.
    async fn promotion_threshold(&self) -> Option<Money> {
        self.tier
            .promotion_threshold_minor
            .map(|m| Money::from_minor(m, &self.currency))
    }
}

/// One structured commission term.
#[derive(Clone)]
pub struct CommissionRule {
    pub rule: commission_rule::Model,
    /// Loaded with the rule (same statement), so `tier` costs no query of its own.
    pub tier: Option<program_tier::Model>,
    pub currency: String,
}

impl CommissionRule {
    pub fn new(
        rule: commission_rule::Model,
        tier: Option<program_tier::Model>,
        currency: &str,
    ) -> Self {
        Self {
            rule,
            tier,
            currency: currency.to_owned(),
        }
    }
}

#[Object]
impl CommissionRule {
    pub async fn id(&self) -> ID {
        relay::encode(NodeType::CommissionRule, self.rule.id)
    }

    /// The tier it applies to; null for every tier (a tier's own rule for the same event
    /// takes precedence).
    async fn tier(&self) -> Option<ProgramTier> {
        self.tier
            .clone()
            .map(|t| ProgramTier::new(t, &self.currency))
    }

    async fn event(&self) -> CommissionEvent {
        self.rule.event.into()
    }

    async fn model(&self) -> CommissionModel {
        self.rule.model.into()
    }

    /// Percentage of the conversion amount (`"20"` is 20 %), for `PERCENTAGE` rules.
    async fn rate(&self) -> Option<Decimal> {
        self.rule.rate_bps.map(currencies::rate_to_percent)
    }

    /// Amount per conversion, for `FLAT` rules.
    async fn amount(&self) -> Option<Money> {
        self.rule
            .flat_amount_minor
            .map(|m| Money::from_minor(m, &self.currency))
    }

    async fn duration(&self) -> CommissionDuration {
        self.rule.duration.into()
    }

    /// For `RECURRING` rules: months after the customer's first conversion that pay.
    async fn recurring_months(&self) -> Option<i32> {
        self.rule.recurring_months
    }

    /// Most a partner can earn from one customer under this rule.
    async fn cap_per_customer(&self) -> Option<Money> {
        self.rule
            .cap_per_customer_minor
            .map(|m| Money::from_minor(m, &self.currency))
    }

    /// The rule in words, e.g. "20% recurring for 12 months on every sale". Derived from
    /// the fields above, never stored.
    async fn summary(&self) -> String {
        programs::summary(&self.rule, &self.currency)
    }
}
