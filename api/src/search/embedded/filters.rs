//! Filters and facet counts as document sets. Each active filter clause is a set: the
//! results are the matches in every clause's set, and a facet counts, per value, the
//! matches in every clause's set but its own (each facet is counted with the other
//! filters applied, as a disjunctive facet).

use std::collections::HashMap;

use tantivy::{DocSet, SegmentReader, TERMINATED, Term, schema::IndexRecordOption};

use super::{
    bits::Bits,
    schema::Fields,
    table::{Table, Valued},
};
use crate::search::{Facet, SearchFilter};

/// An active filter clause: the documents passing it, and the facet it filters, if any.
pub struct Clause {
    facet: Option<Facet>,
    docs: Bits,
}

/// The active clauses of `filter` in one segment. String values are compared lower-cased
/// and literally: quotes, colons, backslashes or `OR` are just characters.
pub fn clauses(
    reader: &SegmentReader,
    fields: &Fields,
    table: &Table,
    filter: &SearchFilter,
) -> tantivy::Result<Vec<Clause>> {
    let size = table.len();
    let mut clauses = Vec::new();
    let mut add = |facet: Option<Facet>, docs: Bits| clauses.push(Clause { facet, docs });
    if !filter.categories.is_empty() {
        add(
            Some(Facet::Category),
            table.categories.any_of(&filter.categories, size),
        );
    }
    if !filter.partner_types.is_empty() {
        // Programs open to every partner type match any.
        let mut docs = table.partner_types.any_of(&filter.partner_types, size);
        docs.or(&table.all_partner_types);
        add(Some(Facet::PartnerType), docs);
    }
    if !filter.commission_models.is_empty() {
        add(
            Some(Facet::CommissionModel),
            table
                .commission_models
                .any_of(&filter.commission_models, size),
        );
    }
    if !filter.currencies.is_empty() {
        add(
            Some(Facet::Currency),
            table.currencies.any_of(&filter.currencies, size),
        );
    }
    if let Some(min) = filter.min_rate_bps {
        add(None, Bits::from_fn(size, |d| table.best_rate_bps[d] >= min));
    }
    if let Some(min) = filter.min_average_earnings_usd_cents {
        // A withheld figure (-1) passes no minimum, not even zero.
        let min = min.max(0);
        add(
            None,
            Bits::from_fn(size, |d| table.average_earnings[d] >= min),
        );
    }
    if let Some(min) = filter.min_approval_rate_bps {
        let min = min.max(0);
        add(
            None,
            Bits::from_fn(size, |d| table.approval_rate_bps[d] >= min),
        );
    }
    if filter.recurring_only {
        add(None, table.recurring.clone());
    }
    if filter.cookie_days_min.is_some() || filter.cookie_days_max.is_some() {
        let range =
            filter.cookie_days_min.unwrap_or(i64::MIN)..=filter.cookie_days_max.unwrap_or(i64::MAX);
        add(
            None,
            Bits::from_fn(size, |d| range.contains(&table.cookie_days[d])),
        );
    }
    if filter.automatic_approval_only {
        add(None, table.automatic.clone());
    }
    if !filter.countries.is_empty() {
        // Worldwide programs match any country.
        let mut docs = table.countries.any_of(&filter.countries, size);
        docs.or(&table.worldwide);
        add(None, docs);
    }
    if !filter.vendor_ids.is_empty() {
        add(
            None,
            Bits::from_fn(size, |d| filter.vendor_ids.contains(&table.vendor_id[d])),
        );
    }
    if let Some(max) = filter.holding_days_max {
        add(None, Bits::from_fn(size, |d| table.holding_days[d] <= max));
    }
    if filter.recurring_months_min.is_some() || filter.recurring_months_max.is_some() {
        let range = filter.recurring_months_min.unwrap_or(i64::MIN)
            ..=filter.recurring_months_max.unwrap_or(i64::MAX);
        let mut docs = table.recurring.clone();
        docs.and(&Bits::from_fn(size, |d| {
            range.contains(&table.recurring_months[d])
        }));
        add(None, docs);
    }
    if filter.worldwide_only {
        add(None, table.worldwide.clone());
    }
    if !filter.excluded_countries.is_empty() {
        let mut docs = Bits::full(size);
        docs.and_not(&table.countries.any_of(&filter.excluded_countries, size));
        add(None, docs);
    }
    if !filter.exclude_program_ids.is_empty() {
        let mut docs = Bits::full(size);
        let inverted = reader.inverted_index(fields.program_id)?;
        for id in &filter.exclude_program_ids {
            let Ok(id) = u64::try_from(*id) else {
                continue;
            };
            let term = Term::from_field_u64(fields.program_id, id);
            if let Some(mut postings) = inverted.read_postings(&term, IndexRecordOption::Basic)? {
                let mut doc = postings.doc();
                while doc != TERMINATED {
                    docs.remove(usize::try_from(doc).unwrap_or(usize::MAX));
                    doc = postings.advance();
                }
            }
        }
        add(None, docs);
    }
    Ok(clauses)
}

/// The matches passing every clause.
pub fn results(matches: &Bits, clauses: &[Clause]) -> Bits {
    let mut results = matches.clone();
    for clause in clauses {
        results.and(&clause.docs);
    }
    results
}

/// Adds the segment's facet counts to `totals`, by facet and (lower-cased) value.
pub fn count_facets(
    table: &Table,
    matches: &Bits,
    clauses: &[Clause],
    totals: &mut HashMap<(Facet, String), u64>,
) {
    let facets: [(Facet, &Valued); 4] = [
        (Facet::Category, &table.categories),
        (Facet::PartnerType, &table.partner_types),
        (Facet::CommissionModel, &table.commission_models),
        (Facet::Currency, &table.currencies),
    ];
    for (facet, valued) in facets {
        let mut counted = matches.clone();
        for clause in clauses.iter().filter(|c| c.facet != Some(facet)) {
            counted.and(&clause.docs);
        }
        for (value, docs) in valued.dictionary.values.iter().zip(&valued.docs) {
            let count = counted.and_count(docs);
            if count > 0 {
                *totals.entry((facet, value.clone())).or_default() += count;
            }
        }
    }
}
