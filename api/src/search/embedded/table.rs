//! A segment's filter, facet and sort attributes decoded once into arrays and document
//! sets, its documents presorted for browsing, and its short text fields as term
//! ordinals by word position. tantivy segments never change (deletions are a separate
//! bitset), so a table built for a segment stays valid for its life; searches then filter
//! and count facets with set operations, browse by walking a presorted order, and find
//! word positions in names and taglines without reading posting lists.

use std::{
    collections::HashMap,
    sync::{Arc, Mutex},
};

use tantivy::{
    DocId, DocSet, SegmentReader, TERMINATED, columnar::StrColumn, index::SegmentId,
    postings::Postings, schema::IndexRecordOption,
};

use super::{
    bits::Bits,
    schema::{Fields, WORD_COUNT_FIELDS},
};
use crate::search::{SearchSort, document::WITHHELD};

pub const NO_VALUE: u32 = u32::MAX;

/// Values of one string attribute in a segment: ordinal → lower-cased value.
#[derive(Default)]
pub struct Dictionary {
    pub values: Vec<String>,
    index: HashMap<String, u32>,
}

impl Dictionary {
    fn from_column(column: Option<&StrColumn>) -> tantivy::Result<Self> {
        let mut dictionary = Self::default();
        if let Some(column) = column {
            let mut value = String::new();
            for ord in 0..column.num_terms() {
                value.clear();
                column.ord_to_str(u64::try_from(ord).unwrap_or(0), &mut value)?;
                dictionary
                    .index
                    .insert(value.clone(), u32::try_from(ord).unwrap_or(NO_VALUE));
                dictionary.values.push(value.clone());
            }
        }
        Ok(dictionary)
    }

    /// Ordinal of a value, compared lower-cased (string filters fold case).
    pub fn ord(&self, value: &str) -> Option<u32> {
        self.index.get(&value.to_lowercase()).copied()
    }
}

pub struct Table {
    pub program_id: Vec<i64>,
    pub published_at: Vec<i64>,
    pub best_rate_bps: Vec<i64>,
    pub cookie_days: Vec<i64>,
    /// US cents; `WITHHELD` (-1) when the figure is not public.
    pub average_earnings: Vec<i64>,
    pub approval_rate_bps: Vec<i64>,
    pub vendor_id: Vec<i64>,
    pub holding_days: Vec<i64>,
    pub recurring_months: Vec<i64>,
    /// Each document's name as an ordinal of `names` (sorted).
    pub name_ord: Vec<u32>,
    pub names: Vec<String>,
    /// Word counts of name, tagline, vendor, category and description (capped at 255).
    pub word_counts: Vec<[u8; 5]>,
    pub categories: Valued,
    pub partner_types: Valued,
    pub commission_models: Valued,
    pub currencies: Valued,
    pub countries: Valued,
    pub all_partner_types: Bits,
    pub worldwide: Bits,
    pub recurring: Bits,
    pub automatic: Bits,
    /// Documents newest first, then highest program id: the browsing order.
    pub newest: Vec<DocId>,
    /// Documents by highest rate, then newest, then highest program id.
    pub highest_rate: Vec<DocId>,
    /// Documents by highest average earnings, then newest, then highest program id.
    pub highest_earnings: Vec<DocId>,
    pub tokens: Tokens,
    /// Live documents, for a number of deleted ones (deletions only grow).
    alive: Mutex<Option<(u32, Arc<Bits>)>>,
}

/// A string attribute: its values, and the documents having each.
pub struct Valued {
    pub dictionary: Dictionary,
    pub docs: Vec<Bits>,
}

impl Valued {
    fn build(column: Option<&StrColumn>, size: usize) -> tantivy::Result<Self> {
        let dictionary = Dictionary::from_column(column)?;
        let mut docs = vec![Bits::empty(size); dictionary.values.len()];
        if let Some(column) = column {
            for doc in 0..u32::try_from(size).unwrap_or(u32::MAX) {
                for ord in column.ords().values_for_doc(doc) {
                    if let Some(bits) = usize::try_from(ord).ok().and_then(|o| docs.get_mut(o)) {
                        bits.insert(usize::try_from(doc).unwrap_or(usize::MAX));
                    }
                }
            }
        }
        Ok(Self { dictionary, docs })
    }

    /// Documents having any of `values` (compared lower-cased and literally).
    pub fn any_of(&self, values: &[String], size: usize) -> Bits {
        let mut union = Bits::empty(size);
        for ord in values.iter().filter_map(|v| self.dictionary.ord(v)) {
            if let Some(bits) = usize::try_from(ord).ok().and_then(|o| self.docs.get(o)) {
                union.or(bits);
            }
        }
        union
    }
}

impl Table {
    pub fn build(reader: &SegmentReader, fields: &Fields) -> tantivy::Result<Self> {
        let fast = reader.fast_fields();
        let size = usize::try_from(reader.max_doc()).unwrap_or(0);
        let docs = 0..reader.max_doc();
        let ids = fast.u64("program_id")?;
        let published = fast.i64("published_at")?;
        let rate = fast.i64("best_rate_bps")?;
        let cookie = fast.i64("cookie_days")?;
        let earnings = fast.i64("average_earnings_usd_cents")?;
        let approval_rate = fast.i64("approval_rate_bps")?;
        let flag = |name: &str| -> tantivy::Result<Bits> {
            let column = fast.bool(name)?;
            Ok(Bits::from_fn(size, |d| {
                column
                    .first(u32::try_from(d).unwrap_or(u32::MAX))
                    .unwrap_or(false)
            }))
        };
        let column = |name: &str| -> tantivy::Result<Vec<i64>> {
            let column = fast.i64(name)?;
            Ok((0..reader.max_doc())
                .map(|d| column.first(d).unwrap_or(0))
                .collect())
        };
        let name_column = fast.str("name_sort")?;
        let names = Dictionary::from_column(name_column.as_ref())?.values;
        let name_ord: Vec<u32> = (0..reader.max_doc())
            .map(|d| {
                name_column
                    .as_ref()
                    .and_then(|c| c.ords().first(d))
                    .and_then(|o| u32::try_from(o).ok())
                    .unwrap_or(NO_VALUE)
            })
            .collect();
        let approval = fast.str("approval_mode")?;
        let automatic = Valued::build(approval.as_ref(), size)?;
        let words = WORD_COUNT_FIELDS.map(|f| fast.u64(f));
        let count = |i: usize, doc: DocId| -> u8 {
            words[i]
                .as_ref()
                .ok()
                .and_then(|c| c.first(doc))
                .map_or(0, |v| u8::try_from(v).unwrap_or(u8::MAX))
        };

        let program_id: Vec<i64> = docs
            .clone()
            .map(|d| {
                ids.first(d)
                    .and_then(|v| i64::try_from(v).ok())
                    .unwrap_or(0)
            })
            .collect();
        let published_at: Vec<i64> = docs
            .clone()
            .map(|d| published.first(d).unwrap_or(0))
            .collect();
        let best_rate_bps: Vec<i64> = docs.clone().map(|d| rate.first(d).unwrap_or(0)).collect();
        let average_earnings: Vec<i64> = docs
            .clone()
            .map(|d| earnings.first(d).unwrap_or(WITHHELD))
            .collect();
        // Newest, then highest id, after the leading key.
        let order_by = |lead: &dyn Fn(usize) -> i64| {
            let mut order: Vec<DocId> = docs.clone().collect();
            order.sort_unstable_by_key(|d| {
                let d = usize::try_from(*d).unwrap_or(0);
                (lead(d), -published_at[d], -program_id[d])
            });
            order
        };
        let newest = order_by(&|_| 0);
        let highest_rate = order_by(&|d| -best_rate_bps[d]);
        let highest_earnings = order_by(&|d| -average_earnings[d]);
        Ok(Self {
            cookie_days: docs.clone().map(|d| cookie.first(d).unwrap_or(0)).collect(),
            word_counts: docs
                .clone()
                .map(|d| {
                    [
                        count(0, d),
                        count(1, d),
                        count(2, d),
                        count(3, d),
                        count(4, d),
                    ]
                })
                .collect(),
            categories: Valued::build(fast.str("category")?.as_ref(), size)?,
            partner_types: Valued::build(fast.str("partner_types")?.as_ref(), size)?,
            commission_models: Valued::build(fast.str("commission_models")?.as_ref(), size)?,
            currencies: Valued::build(fast.str("currency")?.as_ref(), size)?,
            countries: Valued::build(fast.str("countries")?.as_ref(), size)?,
            all_partner_types: flag("all_partner_types")?,
            worldwide: flag("worldwide")?,
            recurring: flag("recurring")?,
            automatic: automatic.any_of(&["automatic".to_owned()], size),
            newest,
            highest_rate,
            highest_earnings,
            approval_rate_bps: docs
                .map(|d| approval_rate.first(d).unwrap_or(WITHHELD))
                .collect(),
            average_earnings,
            tokens: Tokens::build(reader, fields)?,
            vendor_id: column("vendor_id")?,
            holding_days: column("holding_days")?,
            recurring_months: column("recurring_months")?,
            name_ord,
            names,
            program_id,
            published_at,
            best_rate_bps,
            alive: Mutex::new(None),
        })
    }

    /// The presorted order of a sort (relevance browses newest first).
    pub fn order(&self, sort: SearchSort) -> &[DocId] {
        match sort {
            SearchSort::HighestRate => &self.highest_rate,
            SearchSort::HighestEarnings => &self.highest_earnings,
            // Name order spans segments (`NameOrder`); newest stands in for it here.
            SearchSort::Relevance | SearchSort::Newest | SearchSort::Name => &self.newest,
        }
    }

    pub fn len(&self) -> usize {
        self.program_id.len()
    }

    /// The segment's live documents as `reader` sees them.
    pub fn alive(&self, reader: &SegmentReader) -> Arc<Bits> {
        let deleted = reader.num_deleted_docs();
        let mut cached = match self.alive.lock() {
            Ok(cached) => cached,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some((count, bits)) = cached.as_ref()
            && *count == deleted
        {
            return Arc::clone(bits);
        }
        let bits = Arc::new(match reader.alive_bitset() {
            Some(alive) => Bits::from_fn(self.len(), |d| {
                alive.is_alive(u32::try_from(d).unwrap_or(u32::MAX))
            }),
            None => Bits::full(self.len()),
        });
        *cached = Some((deleted, Arc::clone(&bits)));
        bits
    }
}

/// Text fields kept whole as tokens: name, tagline, vendor name and category name (all
/// short: their lengths are bounded by validation). The description is read from posting
/// lists, but its head is kept too.
pub const SHORT_FIELDS: usize = 4;
/// Fields with tokens: the short ones and the description's head.
pub const TOKEN_FIELDS: usize = SHORT_FIELDS + 1;
/// Positions of the description kept as tokens: the word position and exact-attribute
/// rules are then known without posting lists unless a word sits beyond them (its
/// position is then at least 16, bucketed 24).
pub const DESCRIPTION_HEAD: u32 = 16;

/// The short text fields and the description's head of each document as term
/// ordinals, by word position.
#[derive(Default)]
pub struct Tokens {
    /// Tokens of document `d`, field `f`: `ords[start[d * 5 + f]..start[d * 5 + f + 1]]`.
    start: Vec<u32>,
    /// Term ordinal at each word position (`NO_VALUE` where no term is indexed).
    ords: Vec<u32>,
}

impl Tokens {
    fn build(reader: &SegmentReader, fields: &Fields) -> tantivy::Result<Self> {
        let size = usize::try_from(reader.max_doc()).unwrap_or(0);
        let slot = |doc: DocId, field: usize| {
            usize::try_from(doc).unwrap_or(usize::MAX) * TOKEN_FIELDS + field
        };
        // (document and field slot, position, ordinal) of every token.
        let mut found: Vec<(usize, u32, u32)> = Vec::new();
        let mut lengths = vec![0u32; size * TOKEN_FIELDS];
        let mut positions = Vec::new();
        for (f, field) in fields.text.iter().take(TOKEN_FIELDS).enumerate() {
            let limit = if f < SHORT_FIELDS {
                u32::MAX
            } else {
                DESCRIPTION_HEAD
            };
            let inverted = reader.inverted_index(*field)?;
            let mut terms = inverted.terms().stream()?;
            while terms.advance() {
                let ord = u32::try_from(terms.term_ord()).unwrap_or(NO_VALUE);
                let mut postings = inverted.read_postings_from_terminfo(
                    terms.value(),
                    IndexRecordOption::WithFreqsAndPositions,
                )?;
                let mut doc = postings.doc();
                while doc != TERMINATED {
                    postings.positions(&mut positions);
                    let at = slot(doc, f);
                    for position in positions.iter().take_while(|p| **p < limit) {
                        if let Some(length) = lengths.get_mut(at) {
                            *length = (*length).max(position + 1);
                            found.push((at, *position, ord));
                        }
                    }
                    doc = postings.advance();
                }
            }
        }
        let mut start = Vec::with_capacity(lengths.len() + 1);
        let mut total = 0u32;
        start.push(0);
        for length in lengths {
            total = total.saturating_add(length);
            start.push(total);
        }
        let mut ords = vec![NO_VALUE; usize::try_from(total).unwrap_or(0)];
        for (at, position, ord) in found {
            let index = usize::try_from(start[at].saturating_add(position)).unwrap_or(usize::MAX);
            if let Some(value) = ords.get_mut(index) {
                *value = ord;
            }
        }
        Ok(Self { start, ords })
    }

    /// Term ordinals of document `doc`'s short field `field`, by word position.
    pub fn of(&self, doc: usize, field: usize) -> &[u32] {
        let at = doc * TOKEN_FIELDS + field;
        match (self.start.get(at), self.start.get(at + 1)) {
            (Some(start), Some(end)) => self
                .ords
                .get(usize::try_from(*start).unwrap_or(0)..usize::try_from(*end).unwrap_or(0))
                .unwrap_or_default(),
            _ => &[],
        }
    }
}

/// Tables of the live segments, built on first use.
#[derive(Default)]
pub struct Tables(
    Mutex<HashMap<SegmentId, Arc<Table>>>,
    /// The name order of the segments it was built for.
    Mutex<Option<(Vec<SegmentId>, Arc<NameOrder>)>>,
);

/// Every live document by name (A to Z, then newest, then highest id): a rank comparable
/// across segments, and each segment's documents in that order.
pub struct NameOrder {
    pub ranks: Vec<Vec<i64>>,
    pub orders: Vec<Vec<DocId>>,
}

impl NameOrder {
    fn build(tables: &[Arc<Table>]) -> Self {
        let mut all: Vec<&str> = tables
            .iter()
            .flat_map(|t| t.names.iter().map(String::as_str))
            .collect();
        all.sort_unstable();
        all.dedup();
        let mut ranks = Vec::with_capacity(tables.len());
        let mut orders = Vec::with_capacity(tables.len());
        for table in tables {
            let by_ord: Vec<i64> = table
                .names
                .iter()
                .map(|name| {
                    all.binary_search(&name.as_str())
                        .map_or(i64::MAX, |r| i64::try_from(r).unwrap_or(i64::MAX))
                })
                .collect();
            let rank: Vec<i64> = table
                .name_ord
                .iter()
                .map(|ord| {
                    usize::try_from(*ord)
                        .ok()
                        .and_then(|o| by_ord.get(o))
                        .copied()
                        .unwrap_or(i64::MAX)
                })
                .collect();
            let mut order: Vec<DocId> = (0..u32::try_from(table.len()).unwrap_or(0)).collect();
            order.sort_unstable_by_key(|d| {
                let d = usize::try_from(*d).unwrap_or(0);
                (rank[d], -table.published_at[d], -table.program_id[d])
            });
            ranks.push(rank);
            orders.push(order);
        }
        Self { ranks, orders }
    }
}

impl Tables {
    /// Tables for every segment of `searcher`, in segment order; forgets dead segments.
    pub fn for_searcher(
        &self,
        searcher: &tantivy::Searcher,
        fields: &Fields,
    ) -> tantivy::Result<Vec<Arc<Table>>> {
        let readers = searcher.segment_readers();
        let mut known = self
            .0
            .lock()
            .map_err(|_| tantivy::TantivyError::InternalError("tables poisoned".into()))?;
        let live: Vec<SegmentId> = readers.iter().map(SegmentReader::segment_id).collect();
        known.retain(|id, _| live.contains(id));
        let mut tables = Vec::with_capacity(readers.len());
        for reader in readers {
            let table = match known.get(&reader.segment_id()) {
                Some(table) => Arc::clone(table),
                None => {
                    let table = Arc::new(Table::build(reader, fields)?);
                    known.insert(reader.segment_id(), Arc::clone(&table));
                    table
                }
            };
            tables.push(table);
        }
        Ok(tables)
    }
}

impl Tables {
    /// The name order of `tables` (the segments of `searcher`), built on first use after
    /// the segments change.
    pub fn name_order(
        &self,
        searcher: &tantivy::Searcher,
        tables: &[Arc<Table>],
    ) -> tantivy::Result<Arc<NameOrder>> {
        let live: Vec<SegmentId> = searcher
            .segment_readers()
            .iter()
            .map(SegmentReader::segment_id)
            .collect();
        let mut cached = self
            .1
            .lock()
            .map_err(|_| tantivy::TantivyError::InternalError("name order poisoned".into()))?;
        if let Some((segments, order)) = cached.as_ref()
            && *segments == live
        {
            return Ok(Arc::clone(order));
        }
        let order = Arc::new(NameOrder::build(tables));
        *cached = Some((live, Arc::clone(&order)));
        Ok(order)
    }
}
