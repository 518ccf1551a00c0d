//! The commission ledger over GraphQL: vendors' back ends record and reverse
//! conversions (API key with `conversions:write`, or a vendor admin), vendors mark
//! approved commissions paid, partners read `myEarnings`.

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use entity::{commission, conversion};
use rust_decimal::Decimal;

use super::{
    GqlResultExt,
    context::ContextExt,
    error::{UserError, payload},
    money::Money,
    programs::CommissionEvent,
    relay::{self, NodeType},
};
use crate::service::ledger::{self, NewConversion, Recorded};

/// A row of the ledger. Amounts never change; a refund appends a negative `REVERSAL`.
#[derive(Clone)]
pub struct Commission(pub commission::Model);

#[derive(async_graphql::Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::commission::CommissionStatus")]
pub enum CommissionStatus {
    /// Within the program's holding period.
    Pending,
    /// Owed to the partner.
    Approved,
    /// Settled.
    Paid,
}

#[derive(async_graphql::Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::commission::CommissionKind")]
pub enum CommissionKind {
    Earning,
    Reversal,
}

#[Object]
impl Commission {
    pub async fn id(&self) -> ID {
        relay::encode(NodeType::Commission, self.0.id)
    }

    async fn kind(&self) -> CommissionKind {
        self.0.kind.into()
    }

    async fn amount(&self) -> Money {
        Money::from_minor(self.0.amount_minor, &self.0.currency)
    }

    async fn status(&self) -> CommissionStatus {
        self.0.status.into()
    }

    /// When the holding period ends.
    async fn available_at(&self) -> DateTime<Utc> {
        self.0.available_at
    }

    async fn approved_at(&self) -> Option<DateTime<Utc>> {
        self.0.approved_at
    }

    async fn paid_at(&self) -> Option<DateTime<Utc>> {
        self.0.paid_at
    }

    async fn payout_reference(&self) -> Option<&str> {
        self.0.payout_reference.as_deref()
    }
}

/// A conversion as recorded, with the ledger rows it produced.
#[derive(Clone)]
pub struct Conversion {
    conversion: conversion::Model,
    commissions: Vec<commission::Model>,
}

impl Conversion {
    pub fn new(conversion: conversion::Model, commissions: Vec<commission::Model>) -> Self {
        Self {
            conversion,
            commissions,
        }
    }
}

impl From<Recorded> for Conversion {
    fn from(r: Recorded) -> Self {
        Self::new(r.conversion, r.commissions)
    }
}

#[Object]
impl Conversion {
    pub async fn id(&self) -> ID {
        relay::encode(NodeType::Conversion, self.conversion.id)
    }

    async fn event(&self) -> CommissionEvent {
        self.conversion.event.into()
    }

    async fn customer_ref(&self) -> &str {
        &self.conversion.customer_ref
    }

    async fn amount(&self) -> Money {
        Money::from_minor(self.conversion.amount_minor, &self.conversion.currency)
    }

    async fn occurred_at(&self) -> DateTime<Utc> {
        self.conversion.occurred_at
    }

    async fn enrollment_id(&self) -> ID {
        relay::encode(NodeType::Enrollment, self.conversion.enrollment_id)
    }

    async fn reversed_at(&self) -> Option<DateTime<Utc>> {
        self.conversion.reversed_at
    }

    async fn commissions(&self) -> Vec<Commission> {
        self.commissions.iter().cloned().map(Commission).collect()
    }
}

#[derive(InputObject)]
pub struct RecordConversionInput {
    /// The partner's referral code …
    pub referral_code: Option<String>,
    /// … or the enrollment.
    pub enrollment_id: Option<ID>,
    pub event: CommissionEvent,
    /// Your reference of the customer: recurring rules and caps count per customer.
    pub customer_ref: String,
    /// In the program's currency, major units ("99.00"); 0 for leads and sign-ups
    /// without a value. Never negative: refunds go through `reverseConversion`.
    pub amount: Decimal,
    pub currency: String,
    /// When it happened; not in the future, not before the partner joined.
    pub occurred_at: DateTime<Utc>,
    /// Unique per vendor: the same key and payload return the first answer; the same
    /// key with another payload is a `CONFLICT`.
    pub idempotency_key: String,
}

#[derive(SimpleObject)]
pub struct RecordConversionPayload {
    pub conversion: Option<Conversion>,
    /// True when this answers a repeated request (same idempotency key and payload).
    pub replayed: bool,
    pub user_errors: Vec<UserError>,
}

#[derive(InputObject)]
pub struct ReverseConversionInput {
    pub conversion_id: ID,
    /// Why (refund, chargeback, fraud…).
    pub reason: String,
}

#[derive(SimpleObject)]
pub struct ReverseConversionPayload {
    pub conversion: Option<Conversion>,
    pub user_errors: Vec<UserError>,
}

#[derive(InputObject)]
pub struct MarkCommissionsPaidInput {
    /// 1–500 `APPROVED` commissions; any other refuses the whole batch.
    pub commission_ids: Vec<ID>,
    /// Your payout reference (transfer id, batch name).
    pub payout_reference: String,
}

#[derive(SimpleObject)]
pub struct MarkCommissionsPaidPayload {
    pub commissions: Option<Vec<Commission>>,
    pub user_errors: Vec<UserError>,
}

/// Totals by status in one currency.
#[derive(SimpleObject)]
pub struct EarningsTotals {
    pub pending: Money,
    pub approved: Money,
    pub paid: Money,
}

#[derive(SimpleObject)]
pub struct EarningsByProgram {
    pub program_id: ID,
    pub totals: EarningsTotals,
}

#[derive(SimpleObject)]
pub struct MonthEarnings {
    /// `YYYY-MM`, by conversion date.
    pub month: String,
    /// Net of reversals, every status.
    pub amount: Money,
}

/// A partner's earnings; every figure is the sum of ledger rows.
#[derive(SimpleObject)]
pub struct MyEarnings {
    /// One entry per currency.
    pub totals: Vec<EarningsTotals>,
    pub by_program: Vec<EarningsByProgram>,
    pub by_month: Vec<MonthEarnings>,
}

fn totals(t: &ledger::StatusTotals) -> EarningsTotals {
    EarningsTotals {
        pending: Money::from_minor(t.pending, &t.currency),
        approved: Money::from_minor(t.approved, &t.currency),
        paid: Money::from_minor(t.paid, &t.currency),
    }
}

#[derive(Default)]
pub struct LedgerQuery;

#[Object]
impl LedgerQuery {
    /// Your earnings as a partner: totals by status, by program and by month.
    async fn my_earnings(&self, ctx: &Context<'_>) -> async_graphql::Result<MyEarnings> {
        let actor = ctx.actor()?;
        let summary = ledger::earnings(ctx.services(), &actor.viewer)
            .await
            .gql()?;
        Ok(MyEarnings {
            totals: summary.totals.iter().map(totals).collect(),
            by_program: summary
                .by_program
                .iter()
                .map(|p| EarningsByProgram {
                    program_id: relay::encode(NodeType::Program, p.program_id),
                    totals: totals(&p.totals),
                })
                .collect(),
            by_month: summary
                .by_month
                .iter()
                .map(|m| MonthEarnings {
                    month: m.month.clone(),
                    amount: Money::from_minor(m.amount_minor, &m.currency),
                })
                .collect(),
        })
    }
}

#[derive(Default)]
pub struct LedgerMutation;

#[Object]
impl LedgerMutation {
    /// Records a conversion attributed to a partner and the commission its program's
    /// rules give (API key with `conversions:write`, or the vendor's `OWNER`/`ADMIN`).
    async fn record_conversion(
        &self,
        ctx: &Context<'_>,
        input: RecordConversionInput,
    ) -> async_graphql::Result<RecordConversionPayload> {
        let actor = ctx.actor()?;
        let enrollment_id = input
            .enrollment_id
            .as_ref()
            .map(|id| relay::decode_as(id, NodeType::Enrollment))
            .transpose()
            .gql()?;
        let new = NewConversion {
            referral_code: input.referral_code,
            enrollment_id,
            event: input.event.into(),
            customer_ref: input.customer_ref,
            amount: input.amount,
            currency: input.currency,
            occurred_at: input.occurred_at,
            idempotency_key: input.idempotency_key,
        };
        let (recorded, user_errors) = payload(ledger::record(ctx.services(), &actor, new).await)?;
        Ok(RecordConversionPayload {
            replayed: recorded.as_ref().is_some_and(|r| r.replayed),
            conversion: recorded.map(Conversion::from),
            user_errors,
        })
    }

    /// Reverses a refunded conversion: appends the negative of its commissions.
    async fn reverse_conversion(
        &self,
        ctx: &Context<'_>,
        input: ReverseConversionInput,
    ) -> async_graphql::Result<ReverseConversionPayload> {
        let actor = ctx.actor()?;
        let id = relay::decode_as(&input.conversion_id, NodeType::Conversion).gql()?;
        let (recorded, user_errors) =
            payload(ledger::reverse(ctx.services(), &actor, id, &input.reason).await)?;
        Ok(ReverseConversionPayload {
            conversion: recorded.map(Conversion::from),
            user_errors,
        })
    }

    /// Marks approved commissions paid, all or none.
    async fn mark_commissions_paid(
        &self,
        ctx: &Context<'_>,
        input: MarkCommissionsPaidInput,
    ) -> async_graphql::Result<MarkCommissionsPaidPayload> {
        let actor = ctx.actor()?;
        let ids = input
            .commission_ids
            .iter()
            .map(|id| relay::decode_as(id, NodeType::Commission))
            .collect::<Result<Vec<_>, _>>()
            .gql()?;
        let (paid, user_errors) = payload(
            ledger::mark_paid(ctx.services(), &actor, &ids, &input.payout_reference).await,
        )?;
        Ok(MarkCommissionsPaidPayload {
            commissions: paid.map(|rows| rows.into_iter().map(Commission).collect()),
            user_errors,
        })
    }
}
