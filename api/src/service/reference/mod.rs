//! Reference data the rules check against: currencies, countries, categories and the
//! exchange rates used for cross-currency comparisons.

pub mod categories;
pub mod countries;
pub mod currencies;
pub mod exchange_rates;

use super::Services;
use crate::error::AppError;

/// Inserts the built-in categories and reference exchange rates that are missing.
pub async fn ensure_defaults(services: &Services) -> Result<(), AppError> {
    categories::ensure_defaults(services).await?;
    exchange_rates::ensure_defaults(&services.db).await
}
