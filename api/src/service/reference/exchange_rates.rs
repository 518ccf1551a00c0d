//! Exchange rates for comparing amounts across currencies (listing sort by best flat
//! amount). Reference values are inserted at start-up when missing; operators maintain
//! them afterwards. Amounts are never converted for payment.

use std::collections::HashMap;

use entity::{exchange_rate, program};
use rust_decimal::Decimal;
use sea_orm::{
    ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter,
    QuerySelect, TransactionTrait, sea_query::Expr,
};

use crate::{
    error::{AppError, FieldError, FieldErrorCode},
    service::{
        Actor, Services,
        events::{self, DomainEvent},
    },
};

/// Amounts are compared in this currency; its rate is 1 by definition.
pub const BASE_CURRENCY: &str = "USD";
/// Highest rate accepted: one unit worth 100,000 US dollars.
const MAX_MICROS: i64 = 100_000_000_000;

/// USD value of one major unit, in millionths (reference values, late 2026).
pub const REFERENCE_RATES: &[(&str, i64)] = &[
    ("USD", 1_000_000),
    ("EUR", 1_080_000),
    ("GBP", 1_270_000),
    ("CHF", 1_130_000),
    ("CAD", 730_000),
    ("AUD", 660_000),
    ("NZD", 610_000),
    ("JPY", 6_700),
    ("CNY", 138_000),
    ("HKD", 128_000),
    ("SGD", 740_000),
    ("INR", 12_000),
    ("KRW", 730),
    ("SEK", 95_000),
    ("NOK", 93_000),
    ("DKK", 145_000),
    ("PLN", 250_000),
    ("CZK", 43_000),
    ("HUF", 2_750),
    ("BRL", 180_000),
    ("MXN", 55_000),
    ("ZAR", 55_000),
    ("AED", 272_000),
    ("ILS", 270_000),
    ("TRY", 29_000),
];

pub async fn ensure_defaults(conn: &impl ConnectionTrait) -> Result<(), AppError> {
    let now = crate::service::now();
    let rows = REFERENCE_RATES
        .iter()
        .map(|(currency, micros)| exchange_rate::ActiveModel {
            currency: Set((*currency).to_owned()),
            usd_micros_per_unit: Set(*micros),
            updated_at: Set(now),
        });
    exchange_rate::Entity::insert_many(rows)
        .on_conflict_do_nothing_on([exchange_rate::Column::Currency])
        .exec(conn)
        .await?;
    Ok(())
}

/// Every rate, by currency code.
pub async fn list(conn: &impl ConnectionTrait) -> Result<Vec<exchange_rate::Model>, AppError> {
    use sea_orm::QueryOrder;
    Ok(exchange_rate::Entity::find()
        .order_by_asc(exchange_rate::Column::Currency)
        .all(conn)
        .await?)
}

/// Current rates by currency code.
pub async fn all(conn: &impl ConnectionTrait) -> Result<HashMap<String, i64>, AppError> {
    Ok(exchange_rate::Entity::find()
        .all(conn)
        .await?
        .into_iter()
        .map(|r| (r.currency, r.usd_micros_per_unit))
        .collect())
}

/// A rate as operators write it (US dollars per unit, e.g. `1.0825`) in millionths.
pub fn micros_of(usd_per_unit: Decimal) -> Option<i64> {
    let micros = usd_per_unit.checked_mul(Decimal::from(1_000_000))?;
    (micros.fract().is_zero())
        .then(|| i64::try_from(micros.trunc()).ok())
        .flatten()
        .filter(|m| (1..=MAX_MICROS).contains(m))
}

/// What one change of a rate did.
pub struct RateChange {
    pub rate: exchange_rate::Model,
    /// Programs priced in the currency, whose listings and documents were refreshed.
    pub programs: u64,
}

/// Sets the rate of `currency` (platform admins only). Everything compared through it
/// follows in the same transaction: the cross-currency sort keys of its programs, and
/// their search documents (normalised earnings) through the event log.
pub async fn set(
    services: &Services,
    actor: &Actor,
    currency: &str,
    usd_per_unit: Decimal,
) -> Result<RateChange, AppError> {
    actor.viewer.require_user()?;
    if !actor.viewer.is_admin() {
        return Err(AppError::Forbidden);
    }
    let mut errors = Vec::new();
    if !super::currencies::is_known(currency) {
        errors.push(FieldError::new(
            "currency",
            FieldErrorCode::Invalid,
            "must be an ISO 4217 currency code",
        ));
    } else if currency == BASE_CURRENCY {
        errors.push(FieldError::new(
            "currency",
            FieldErrorCode::Invalid,
            "USD is the base currency; its rate is always 1",
        ));
    }
    let micros = micros_of(usd_per_unit);
    if micros.is_none() {
        errors.push(FieldError::new(
            "usdPerUnit",
            FieldErrorCode::OutOfRange,
            "must be above 0 and at most 100000, with at most 6 decimals",
        ));
    }
    let Some(micros) = micros.filter(|_| errors.is_empty()) else {
        return Err(AppError::Invalid(errors));
    };

    let now = crate::service::now();
    let txn = services.db.begin().await?;
    let before = exchange_rate::Entity::find_by_id(currency.to_owned())
        .one(&txn)
        .await?
        .map(|r| r.usd_micros_per_unit);
    let rate = exchange_rate::Model {
        currency: currency.to_owned(),
        usd_micros_per_unit: micros,
        updated_at: now,
    };
    exchange_rate::Entity::insert(exchange_rate::ActiveModel::from(rate.clone()))
        .on_conflict(
            sea_orm::sea_query::OnConflict::column(exchange_rate::Column::Currency)
                .update_columns([
                    exchange_rate::Column::UsdMicrosPerUnit,
                    exchange_rate::Column::UpdatedAt,
                ])
                .to_owned(),
        )
        .exec(&txn)
        .await?;
    // One update per distinct flat amount (few), computed here without overflow.
    let rates = HashMap::from([(currency.to_owned(), micros)]);
    let amounts: Vec<i64> = program::Entity::find()
        .select_only()
        .column(program::Column::BestFlatMinor)
        .distinct()
        .filter(program::Column::Currency.eq(currency))
        .into_tuple()
        .all(&txn)
        .await?;
    for minor in amounts {
        program::Entity::update_many()
            .col_expr(
                program::Column::BestFlatUsdCents,
                Expr::value(usd_cents(minor, currency, &rates)),
            )
            .filter(program::Column::Currency.eq(currency))
            .filter(program::Column::BestFlatMinor.eq(minor))
            .exec(&txn)
            .await?;
    }
    // Their search documents (normalised figures) follow the event.
    let programs = program::Entity::find()
        .filter(program::Column::Currency.eq(currency))
        .count(&txn)
        .await?;
    events::emit(
        &txn,
        actor,
        DomainEvent::ExchangeRateChanged {
            currency: currency.to_owned(),
            before,
            after: micros,
        },
    )
    .await?;
    txn.commit().await?;
    Ok(RateChange { rate, programs })
}

/// `minor` units of `currency` in US cents; 0 when the currency has no rate (it then
/// sorts last, never first).
pub fn usd_cents(minor: i64, currency: &str, rates: &HashMap<String, i64>) -> i64 {
    let (Some(micros), Some(exp)) = (rates.get(currency), super::currencies::exponent(currency))
    else {
        return 0;
    };
    let value = i128::from(minor) * i128::from(*micros) / (10_i128.pow(exp) * 10_000);
    i64::try_from(value).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn amounts_normalise_to_us_cents() {
        let rates: HashMap<String, i64> = REFERENCE_RATES
            .iter()
            .map(|(c, r)| ((*c).to_owned(), *r))
            .collect();
        assert_eq!(usd_cents(5000, "USD", &rates), 5000);
        assert_eq!(usd_cents(5000, "EUR", &rates), 5400);
        assert_eq!(usd_cents(10_000, "JPY", &rates), 6700);
        assert_eq!(usd_cents(5000, "XAF", &rates), 0);
    }

    #[test]
    fn rates_are_positive_millionths() {
        use std::str::FromStr;
        let micros = |s: &str| micros_of(Decimal::from_str(s).unwrap());
        assert_eq!(micros("1.0825"), Some(1_082_500));
        assert_eq!(micros("0.000001"), Some(1));
        assert_eq!(micros("100000"), Some(MAX_MICROS));
        assert_eq!(micros("0"), None);
        assert_eq!(micros("-1.2"), None);
        assert_eq!(micros("0.0000001"), None);
        assert_eq!(micros("100000.000001"), None);
    }
}
