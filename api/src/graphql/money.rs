//! Money as clients see it: a decimal string amount and its ISO 4217 currency.

use async_graphql::SimpleObject;
use rust_decimal::Decimal;

use crate::service::reference::currencies;

/// An amount of money. `amount` is a decimal string with the currency's minor-unit
/// precision (`"49.99"` USD, `"500"` JPY); never a float.
#[derive(SimpleObject, Clone, Debug)]
pub struct Money {
    pub amount: Decimal,
    /// ISO 4217 code.
    pub currency: String,
}

impl Money {
    pub fn from_minor(minor: i64, currency: &str) -> Self {
        Self {
            amount: currencies::to_decimal(minor, currency),
            currency: currency.to_owned(),
        }
    }
}
