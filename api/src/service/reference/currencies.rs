//! ISO 4217 currencies with their minor-unit exponents, and conversions between decimal
//! amounts (what clients send and see) and integer minor units (what is stored).

use rust_decimal::Decimal;

/// Active ISO 4217 codes and the number of digits of their minor unit.
const CURRENCIES: &[(&str, u32)] = &[
    ("AED", 2),
    ("AFN", 2),
    ("ALL", 2),
    ("AMD", 2),
    ("ANG", 2),
    ("AOA", 2),
    ("ARS", 2),
    ("AUD", 2),
    ("AWG", 2),
    ("AZN", 2),
    ("BAM", 2),
    ("BBD", 2),
    ("BDT", 2),
    ("BGN", 2),
    ("BHD", 3),
    ("BIF", 0),
    ("BMD", 2),
    ("BND", 2),
    ("BOB", 2),
    ("BRL", 2),
    ("BSD", 2),
    ("BTN", 2),
    ("BWP", 2),
    ("BYN", 2),
    ("BZD", 2),
    ("CAD", 2),
    ("CDF", 2),
    ("CHF", 2),
    ("CLP", 0),
    ("CNY", 2),
    ("COP", 2),
    ("CRC", 2),
    ("CUP", 2),
    ("CVE", 2),
    ("CZK", 2),
    ("DJF", 0),
    ("DKK", 2),
    ("DOP", 2),
    ("DZD", 2),
    ("EGP", 2),
    ("ERN", 2),
    ("ETB", 2),
    ("EUR", 2),
    ("FJD", 2),
    ("FKP", 2),
    ("GBP", 2),
    ("GEL", 2),
    ("GHS", 2),
    ("GIP", 2),
    ("GMD", 2),
    ("GNF", 0),
    ("GTQ", 2),
    ("GYD", 2),
    ("HKD", 2),
    ("HNL", 2),
    ("HTG", 2),
    ("HUF", 2),
    ("IDR", 2),
    ("ILS", 2),
    ("INR", 2),
    ("IQD", 3),
    ("IRR", 2),
    ("ISK", 0),
    ("JMD", 2),
    ("JOD", 3),
    ("JPY", 0),
    ("KES", 2),
    ("KGS", 2),
    ("KHR", 2),
    ("KMF", 0),
    ("KPW", 2),
    ("KRW", 0),
    ("KWD", 3),
    ("KYD", 2),
    ("KZT", 2),
    ("LAK", 2),
    ("LBP", 2),
    ("LKR", 2),
    ("LRD", 2),
    ("LSL", 2),
    ("LYD", 3),
    ("MAD", 2),
    ("MDL", 2),
    ("MGA", 2),
    ("MKD", 2),
    ("MMK", 2),
    ("MNT", 2),
    ("MOP", 2),
    ("MRU", 2),
    ("MUR", 2),
    ("MVR", 2),
    ("MWK", 2),
    ("MXN", 2),
    ("MYR", 2),
    ("MZN", 2),
    ("NAD", 2),
    ("NGN", 2),
    ("NIO", 2),
    ("NOK", 2),
    ("NPR", 2),
    ("NZD", 2),
    ("OMR", 3),
    ("PAB", 2),
    ("PEN", 2),
    ("PGK", 2),
    ("PHP", 2),
    ("PKR", 2),
    ("PLN", 2),
    ("PYG", 0),
    ("QAR", 2),
    ("RON", 2),
    ("RSD", 2),
    ("RUB", 2),
    ("RWF", 0),
    ("SAR", 2),
    ("SBD", 2),
    ("SCR", 2),
    ("SDG", 2),
    ("SEK", 2),
    ("SGD", 2),
    ("SHP", 2),
    ("SLE", 2),
    ("SOS", 2),
    ("SRD", 2),
    ("SSP", 2),
    ("STN", 2),
    ("SVC", 2),
    ("SYP", 2),
    ("SZL", 2),
    ("THB", 2),
    ("TJS", 2),
    ("TMT", 2),
    ("TND", 3),
    ("TOP", 2),
    ("TRY", 2),
    ("TTD", 2),
    ("TWD", 2),
    ("TZS", 2),
    ("UAH", 2),
    ("UGX", 0),
    ("USD", 2),
    ("UYU", 2),
    ("UZS", 2),
    ("VES", 2),
    ("VND", 0),
    ("VUV", 0),
    ("WST", 2),
    ("XAF", 0),
    ("XCD", 2),
    ("XOF", 0),
    ("XPF", 0),
    ("YER", 2),
    ("ZAR", 2),
    ("ZMW", 2),
    ("ZWG", 2),
];

/// Largest amount accepted anywhere: 10^13 minor units (100 billion dollars).
pub const MAX_MINOR: i64 = 10_000_000_000_000;

/// Digits of the minor unit of an ISO 4217 code, or `None` for an unknown code.
pub fn exponent(code: &str) -> Option<u32> {
    CURRENCIES.iter().find(|(c, _)| *c == code).map(|(_, e)| *e)
}

pub fn is_known(code: &str) -> bool {
    exponent(code).is_some()
}

/// Why an amount cannot be stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AmountError {
    Negative,
    TooPrecise,
    TooLarge,
}

impl AmountError {
    pub fn message(self, currency: &str) -> String {
        match self {
            Self::Negative => "must not be negative".to_owned(),
            Self::TooPrecise => format!("has more decimals than {currency} allows"),
            Self::TooLarge => "is too large".to_owned(),
        }
    }
}

/// `49.99` USD → `4999`. Refuses negative amounts and sub-minor-unit precision.
pub fn to_minor(amount: Decimal, currency: &str) -> Result<i64, AmountError> {
    let exp = exponent(currency).unwrap_or(2);
    if amount.is_sign_negative() && !amount.is_zero() {
        return Err(AmountError::Negative);
    }
    let scaled = amount
        .checked_mul(Decimal::from(10_i64.pow(exp)))
        .ok_or(AmountError::TooLarge)?;
    if scaled.fract() != Decimal::ZERO {
        return Err(AmountError::TooPrecise);
    }
    let minor = i64::try_from(scaled.trunc()).map_err(|_| AmountError::TooLarge)?;
    if minor > MAX_MINOR {
        return Err(AmountError::TooLarge);
    }
    Ok(minor)
}

/// `4999` USD → `49.99` (scale = the currency's exponent, so `50.00`, never `50`).
pub fn to_decimal(minor: i64, currency: &str) -> Decimal {
    Decimal::new(minor, exponent(currency).unwrap_or(2))
}

/// Re-expresses minor units of `from` in `to`, keeping the major-unit value: `1050` USD
/// (10.50) is `10500` KWD (10.500). `None` when `to` cannot hold that precision (10.50 in
/// JPY).
pub fn rescale(minor: i64, from: &str, to: &str) -> Option<i64> {
    to_minor(to_decimal(minor, from), to).ok()
}

/// Human form for summaries: `$1,250.00`, `€19.00`, `¥500`, `1,000.00 CHF`.
pub fn format(minor: i64, currency: &str) -> String {
    let decimal = to_decimal(minor, currency);
    let text = decimal.to_string();
    let (int, frac) = match text.split_once('.') {
        Some((i, f)) => (i.to_owned(), Some(f.to_owned())),
        None => (text, None),
    };
    let mut grouped = String::new();
    for (i, ch) in int.chars().enumerate() {
        if i > 0 && (int.len() - i) % 3 == 0 {
            grouped.push(',');
        }
        grouped.push(ch);
    }
    let number = match frac {
        Some(f) => format!("{grouped}.{f}"),
        None => grouped,
    };
    match currency {
        "USD" => format!("${number}"),
        "EUR" => format!("€{number}"),
        "GBP" => format!("£{number}"),
        "JPY" => format!("¥{number}"),
        "INR" => format!("₹{number}"),
        _ => format!("{number} {currency}"),
    }
}

/// Basis points → percentage: `2050` → `20.5`.
pub fn rate_to_percent(bps: i32) -> Decimal {
    Decimal::new(i64::from(bps), 2).normalize()
}

/// Percentage → basis points: `20.5` → `2050`; `None` when finer than 0.01 %.
pub fn percent_to_rate(percent: Decimal) -> Option<i64> {
    let bps = percent.checked_mul(Decimal::ONE_HUNDRED)?;
    (bps.fract() == Decimal::ZERO)
        .then(|| i64::try_from(bps.trunc()).ok())
        .flatten()
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    fn d(s: &str) -> Decimal {
        Decimal::from_str(s).unwrap()
    }

    #[test]
    fn amounts_convert_with_the_currency_exponent() {
        assert_eq!(to_minor(d("49.99"), "USD"), Ok(4999));
        assert_eq!(to_minor(d("500"), "JPY"), Ok(500));
        assert_eq!(to_minor(d("1.234"), "KWD"), Ok(1234));
        assert_eq!(to_minor(d("0.5"), "JPY"), Err(AmountError::TooPrecise));
        assert_eq!(to_minor(d("1.001"), "USD"), Err(AmountError::TooPrecise));
        assert_eq!(to_minor(d("-1"), "USD"), Err(AmountError::Negative));
        assert_eq!(
            to_minor(d("1e20"), "USD").unwrap_err(),
            AmountError::TooLarge
        );
        assert_eq!(to_decimal(5000, "USD").to_string(), "50.00");
        assert_eq!(to_decimal(500, "JPY").to_string(), "500");
    }

    #[test]
    fn unknown_codes_are_not_currencies() {
        assert!(is_known("EUR"));
        assert!(!is_known("XYZ") && !is_known("usd") && !is_known(""));
    }

    #[test]
    fn amounts_are_formatted_for_people() {
        assert_eq!(format(125_000, "USD"), "$1,250.00");
        assert_eq!(format(1900, "EUR"), "€19.00");
        assert_eq!(format(500, "JPY"), "¥500");
        assert_eq!(format(100_000, "CHF"), "1,000.00 CHF");
    }

    #[test]
    fn rates_are_percentages_with_at_most_two_decimals() {
        assert_eq!(rate_to_percent(2050).to_string(), "20.5");
        assert_eq!(rate_to_percent(2000).to_string(), "20");
        assert_eq!(percent_to_rate(d("12.34")), Some(1234));
        assert_eq!(percent_to_rate(d("12.345")), None);
    }

    #[test]
    fn rescaling_keeps_the_major_unit_value() {
        assert_eq!(rescale(1050, "USD", "KWD"), Some(10_500));
        assert_eq!(rescale(1050, "USD", "JPY"), None);
        assert_eq!(rescale(1000, "USD", "JPY"), Some(10));
    }
}
