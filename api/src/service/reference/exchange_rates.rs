//! Exchange rates for comparing amounts across currencies (listing sort by best flat
//! amount). Reference values are inserted at start-up when missing; operators maintain
//! them afterwards. Amounts are never converted for payment.

use std::collections::HashMap;

use entity::exchange_rate;
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait};

use crate::error::AppError;

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

/// Current rates by currency code.
pub async fn all(conn: &impl ConnectionTrait) -> Result<HashMap<String, i64>, AppError> {
    Ok(exchange_rate::Entity::find()
        .all(conn)
        .await?
        .into_iter()
        .map(|r| (r.currency, r.usd_micros_per_unit))
        .collect())
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
}
