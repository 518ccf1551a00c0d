//! Money and rates from client text: parsing, conversion to minor units and back,
//! basis points, formatting and the USD comparison never panic, and an accepted amount
//! is stored exactly (no float, no rounding).
#![no_main]

use std::{collections::HashMap, str::FromStr};

use api::service::reference::{currencies, exchange_rates};
use libfuzzer_sys::fuzz_target;
use rust_decimal::Decimal;

const CODES: [&str; 6] = ["USD", "EUR", "JPY", "KWD", "CHF", "XXX"];

fuzz_target!(|input: (&str, u8, i64, i64)| {
    let (text, code, minor, micros) = input;
    let currency = CODES[usize::from(code) % CODES.len()];
    if let Ok(amount) = Decimal::from_str(text) {
        if let Ok(stored) = currencies::to_minor(amount, currency) {
            assert!(stored >= 0);
            assert_eq!(currencies::to_decimal(stored, currency), amount);
        }
        if let Some(bps) = currencies::percent_to_rate(amount) {
            assert_eq!(Decimal::new(bps, 2), amount.normalize());
        }
    }
    let _ = currencies::format(minor, currency);
    let _ = currencies::rescale(minor, currency, "JPY");
    let rates = HashMap::from([(currency.to_owned(), micros)]);
    let _ = exchange_rates::usd_cents(minor, currency, &rates);
});
