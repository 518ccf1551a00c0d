//! Exchange rates over GraphQL: read by anyone (they explain how listings in different
//! currencies compare), changed by platform admins.

use async_graphql::{Context, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use entity::exchange_rate;
use rust_decimal::Decimal;

use super::{
    GqlResultExt,
    context::ContextExt,
    error::{UserError, payload},
};
use crate::service::reference::exchange_rates;

/// What one unit of a currency is worth in US dollars, for comparing listings priced in
/// different currencies (sorting, filters, normalised earnings). Never used for payment.
#[derive(SimpleObject)]
pub struct ExchangeRate {
    /// ISO 4217 code.
    pub currency: String,
    /// US dollars per unit, e.g. "1.08" for EUR.
    pub usd_per_unit: Decimal,
    pub updated_at: DateTime<Utc>,
}

impl From<exchange_rate::Model> for ExchangeRate {
    fn from(rate: exchange_rate::Model) -> Self {
        Self {
            usd_per_unit: Decimal::new(rate.usd_micros_per_unit, 6).normalize(),
            currency: rate.currency,
            updated_at: rate.updated_at,
        }
    }
}

#[derive(InputObject)]
pub struct SetExchangeRateInput {
    /// ISO 4217 code other than USD (the base currency).
    pub currency: String,
    /// US dollars per unit: above 0, at most 100000, at most 6 decimals.
    pub usd_per_unit: Decimal,
}

#[derive(SimpleObject)]
pub struct SetExchangeRatePayload {
    pub exchange_rate: Option<ExchangeRate>,
    /// Programs priced in the currency: their cross-currency sort keys were recomputed
    /// and their search documents queued for refresh.
    pub programs_affected: u64,
    pub user_errors: Vec<UserError>,
}

#[derive(Default)]
pub struct ExchangeRateQuery;

#[Object]
impl ExchangeRateQuery {
    /// Every exchange rate, by currency code.
    async fn exchange_rates(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<ExchangeRate>> {
        Ok(exchange_rates::list(&ctx.services().db)
            .await
            .gql()?
            .into_iter()
            .map(ExchangeRate::from)
            .collect())
    }
}

#[derive(Default)]
pub struct ExchangeRateMutation;

#[Object]
impl ExchangeRateMutation {
    /// Sets a currency's rate (platform admins). Listings priced in it are re-compared
    /// at once, and their search documents follow through the outbox.
    async fn set_exchange_rate(
        &self,
        ctx: &Context<'_>,
        input: SetExchangeRateInput,
    ) -> async_graphql::Result<SetExchangeRatePayload> {
        let actor = ctx.actor()?;
        let currency = input.currency.trim().to_uppercase();
        let (change, user_errors) = payload(
            exchange_rates::set(ctx.services(), &actor, &currency, input.usd_per_unit).await,
        )?;
        Ok(SetExchangeRatePayload {
            programs_affected: change.as_ref().map_or(0, |c| c.programs),
            exchange_rate: change.map(|c| ExchangeRate::from(c.rate)),
            user_errors,
        })
    }
}
