//! Search input from clients: the query parser never panics, and every filter value
//! reaches Meilisearch's filter expression as one quoted, escaped literal — reading the
//! literals back out of the expression gives exactly the values that went in, so no
//! value can splice an operator.
#![no_main]

use api::search::{SearchFilter, meili, query};
use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;

#[derive(Debug, Arbitrary)]
struct Input {
    query: String,
    categories: Vec<String>,
    partner_types: Vec<String>,
    commission_models: Vec<String>,
    currencies: Vec<String>,
    countries: Vec<String>,
    min_rate_bps: Option<i64>,
    cookie_days: (Option<i64>, Option<i64>),
    min_earnings: Option<i64>,
    exclude: Vec<i64>,
    vendors: Vec<i64>,
    holding_days_max: Option<i64>,
    recurring_months: (Option<i64>, Option<i64>),
    worldwide_only: bool,
    excluded_countries: Vec<String>,
}

/// The string literals of a filter expression, unescaped, in order.
fn literals(expression: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut chars = expression.chars();
    while let Some(c) = chars.next() {
        if c != '"' {
            continue;
        }
        let mut value = String::new();
        loop {
            match chars.next() {
                Some('\\') => value.extend(chars.next()),
                Some('"') | None => break,
                Some(other) => value.push(other),
            }
        }
        out.push(value);
    }
    out
}

fuzz_target!(|input: Input| {
    let parsed = query::parse(&input.query);
    assert!(parsed.terms.len() <= query::MAX_WORDS);
    for term in &parsed.terms {
        match &term.kind {
            query::TermKind::Word(word) => {
                assert!(!word.is_empty());
                let _ = query::typo_budget(word);
            }
            query::TermKind::Phrase(words) => assert!(!words.is_empty()),
        }
    }
    let filter = SearchFilter {
        categories: input.categories,
        partner_types: input.partner_types,
        commission_models: input.commission_models,
        currencies: input.currencies,
        countries: input.countries,
        min_rate_bps: input.min_rate_bps,
        cookie_days_min: input.cookie_days.0,
        cookie_days_max: input.cookie_days.1,
        min_average_earnings_usd_cents: input.min_earnings,
        exclude_program_ids: input.exclude,
        vendor_ids: input.vendors,
        holding_days_max: input.holding_days_max,
        recurring_months_min: input.recurring_months.0,
        recurring_months_max: input.recurring_months.1,
        worldwide_only: input.worldwide_only,
        excluded_countries: input.excluded_countries,
        ..SearchFilter::default()
    };
    let clauses = meili::clauses(&filter);
    if let Some(expression) = meili::expression(&clauses, None) {
        let mut sent: Vec<String> = [
            &filter.categories,
            &filter.partner_types,
            &filter.commission_models,
            &filter.currencies,
            &filter.countries,
            &filter.excluded_countries,
        ]
        .into_iter()
        .flatten()
        .cloned()
        .collect();
        let mut read = literals(&expression);
        sent.sort();
        read.sort();
        assert_eq!(read, sent, "{expression}");
    }
});
