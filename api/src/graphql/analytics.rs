//! Vendor analytics over GraphQL: `programAnalytics(programId, months)`.

use async_graphql::{Context, ID, Object, SimpleObject};
use rust_decimal::Decimal;

use super::{
    GqlResultExt,
    applications::Partner,
    context::ContextExt,
    error::loader_error,
    loaders::{AppLoader, PartnerById, ProgramByIdUnchecked},
    money::Money,
    relay::{self, NodeType},
};
use crate::service::analytics;

/// A count under a name (a status, a join source).
#[derive(SimpleObject)]
pub struct NamedCount {
    pub name: String,
    pub count: i64,
}

/// An amount under a status.
#[derive(SimpleObject)]
pub struct NamedAmount {
    pub name: String,
    pub amount: Money,
}

#[derive(SimpleObject)]
pub struct TopPartner {
    pub partner: Option<Partner>,
    /// Revenue of the conversions the partner brought (net of refunds).
    pub revenue: Money,
    pub commission: Money,
}

/// One month of a program.
#[derive(SimpleObject)]
pub struct ProgramMonth {
    /// `YYYY-MM`.
    pub month: String,
    /// Applications submitted in the month, by their status now.
    pub applications_by_status: Vec<NamedCount>,
    /// Applications submitted in the month, by join source.
    pub join_sources: Vec<NamedCount>,
    /// Decisions taken in the month.
    pub approvals: i64,
    pub rejections: i64,
    /// Partners who joined in the month, and how many of them are activated by now.
    pub joined_partners: i64,
    pub activated_partners: i64,
    /// Activated ÷ joined, percent.
    pub activation_rate: Option<Decimal>,
    /// Median days from joining to the first commission, of the partners who joined in
    /// the month and have one (a Decimal, as in `ProgramTrust`).
    pub median_days_to_first_commission: Option<Decimal>,
    /// Partner-sourced revenue: conversions of the month, net of refunds.
    pub revenue: Money,
    pub conversions: i64,
    /// Commissions on the month's conversions, by status, net of reversals.
    pub commissions_by_status: Vec<NamedAmount>,
    /// The five partners who brought the most revenue.
    pub top_partners: Vec<TopPartner>,
}

#[derive(Default)]
pub struct AnalyticsQuery;

#[Object]
impl AnalyticsQuery {
    /// A program's funnel, activation, revenue and commissions for the last `months`
    /// calendar months (1–24, default 6), oldest first (the vendor's team).
    async fn program_analytics(
        &self,
        ctx: &Context<'_>,
        program_id: ID,
        #[graphql(default = 6)] months: i32,
    ) -> async_graphql::Result<Vec<ProgramMonth>> {
        let actor = ctx.actor()?;
        let id = relay::decode_as(&program_id, NodeType::Program).gql()?;
        let months = u32::try_from(months).unwrap_or(0);
        let rows = analytics::program_months(
            ctx.services(),
            &actor.viewer,
            id,
            months,
            crate::service::now(),
        )
        .await
        .gql()?;
        let loader = ctx.data_unchecked::<AppLoader>();
        let currency = loader
            .load_one(ProgramByIdUnchecked(id))
            .await
            .map_err(loader_error)?
            .map(|p| p.program.currency)
            .unwrap_or_default();
        let money = |minor: i64| Money::from_minor(minor, &currency);
        let mut out = Vec::with_capacity(rows.len());
        for m in rows {
            let mut top_partners = Vec::new();
            for p in &m.top_partners {
                let partner = loader
                    .load_one(PartnerById(p.partner_id))
                    .await
                    .map_err(loader_error)?
                    .map(Partner);
                top_partners.push(TopPartner {
                    partner,
                    revenue: money(p.revenue_minor),
                    commission: money(p.commission_minor),
                });
            }
            out.push(ProgramMonth {
                month: m.month,
                applications_by_status: m
                    .applications
                    .into_iter()
                    .map(|(name, count)| NamedCount { name, count })
                    .collect(),
                join_sources: m
                    .join_sources
                    .into_iter()
                    .map(|(name, count)| NamedCount { name, count })
                    .collect(),
                approvals: m.approvals,
                rejections: m.rejections,
                joined_partners: m.joined,
                activated_partners: m.activated,
                activation_rate: (m.joined > 0).then(|| {
                    (Decimal::from(m.activated) * Decimal::from(100) / Decimal::from(m.joined))
                        .round_dp(1)
                }),
                median_days_to_first_commission: m
                    .median_days_to_first_commission
                    .map(Decimal::from),
                revenue: money(m.revenue_minor),
                conversions: m.conversions,
                commissions_by_status: m
                    .commissions
                    .into_iter()
                    .map(|(name, minor)| NamedAmount {
                        name,
                        amount: money(minor),
                    })
                    .collect(),
                top_partners,
            });
        }
        Ok(out)
    }
}
