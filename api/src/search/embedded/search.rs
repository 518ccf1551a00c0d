//! One search over the embedded index: match the query graph, filter, count facets, rank
//! with Meilisearch's rules and cut the page.
//!
//! Ranking follows the ranking rules the Meilisearch engine is configured with:
//! `sort` (an explicit sort is global), `words` (every word must match: nothing to rank),
//! `typo` (fewer typos first), `proximity` (matched words closer together first),
//! `attribute` (matches in more important attributes first), `exactness` (an attribute
//! equal to the query, then more words matched exactly), then newest and highest id.
//!
//! The work is split so that its cost follows the page more than the index:
//! 1. matching and filtering read posting lists without positions and the segment's
//!    attribute table, which gives the sort value, typos and attribute of each result;
//! 2. for the results that sort value and typos can still place on the page, word
//!    positions in the short fields (name, tagline, vendor, category) come from the
//!    table's token arrays: proximity, position in the attribute and "the attribute is
//!    the query" are then known, unless the description could change them;
//! 3. only then, and only for results that can still reach the page, the description's
//!    positions are read from its posting lists.

use std::collections::HashMap;

use tantivy::{
    DocAddress, DocId, DocSet, Searcher, SegmentReader, TERMINATED,
    postings::{Postings, TermInfo},
    schema::IndexRecordOption,
};

use super::{
    bits::Bits,
    filters,
    matching::{self, Matcher},
    schema::Fields,
    table::{NO_VALUE, SHORT_FIELDS, Table},
};
use crate::search::{Facet, Facets, SearchRequest, SearchSort, query};

/// Proximity of two words that never appear close together in one attribute.
const FAR: u16 = 7;

/// A result before hydration: where it is, which program, and the terms to highlight.
pub struct Outcome {
    pub hits: Vec<(i64, DocAddress)>,
    pub total: u64,
    pub facets: Facets,
    /// Matched index terms; `Some(n)`: a prefix match, highlight its first `n` characters.
    pub highlight_terms: HashMap<String, Option<usize>>,
}

#[derive(Clone, Copy)]
struct NodeHit {
    typos: u8,
    /// Text fields (bits, in ranked order) where the node matched.
    fields: u8,
    /// Text fields where it matched exactly (no typo, not a prefix extension).
    exact_fields: u8,
}

impl NodeHit {
    const NONE: NodeHit = NodeHit {
        typos: u8::MAX,
        fields: 0,
        exact_fields: 0,
    };

    fn matched(self) -> bool {
        self.typos != u8::MAX
    }
}

/// The nodes covering the query's words, in word order (at most one per word).
#[derive(Clone, Copy, Default)]
struct Path {
    nodes: [u8; query::MAX_WORDS],
    len: u8,
}

impl Path {
    fn iter(&self) -> impl Iterator<Item = usize> + '_ {
        self.nodes[..usize::from(self.len)]
            .iter()
            .map(|n| usize::from(*n))
    }

    fn get(&self, k: usize) -> usize {
        usize::from(self.nodes[k])
    }

    /// The path's nodes as bits (a query has at most 27 nodes).
    fn mask(&self) -> u32 {
        self.iter().fold(0, |mask, node| mask | (1 << node))
    }
}

/// The description's bit among a node's text fields.
const DESCRIPTION: u8 = 1 << SHORT_FIELDS;

struct Candidate {
    /// Ascending sort key: sort value, typo, proximity, attribute, word position within
    /// the attribute, exactness, newest, −id. While `needs_description`, proximity and
    /// position are lower bounds.
    key: [i64; 8],
    segment: u32,
    doc: DocId,
    path: Path,
    /// Text fields (bits) where each node of the path matched, in path order.
    fields: [u8; query::MAX_WORDS],
    needs_description: bool,
}

const PROXIMITY: usize = 2;
const POSITION: usize = 4;
const EXACTNESS: usize = 5;

/// The posting list of one derivation of one node in one text field of a segment.
struct TermList {
    node: usize,
    field: u8,
    exact: bool,
    info: TermInfo,
}

/// The derivations of one short field by term ordinal, to recognise them among tokens.
#[derive(Default)]
struct FieldTerms {
    /// Bit per term ordinal: is it a derivation of some node?
    bits: Vec<u64>,
    /// (ordinal, node, exact), sorted.
    entries: Vec<(u32, u8, bool)>,
}

impl FieldTerms {
    fn add(&mut self, ord: u64, node: usize, exact: bool) {
        let (Ok(ord), Ok(node)) = (u32::try_from(ord), u8::try_from(node)) else {
            return;
        };
        if let Some(word) = self.bits.get_mut(to_usize(ord / 64)) {
            *word |= 1 << (ord % 64);
        }
        self.entries.push((ord, node, exact));
    }

    fn lookup(&self, ord: u32) -> &[(u32, u8, bool)] {
        let set = ord != NO_VALUE
            && self
                .bits
                .get(to_usize(ord / 64))
                .is_some_and(|word| word & (1 << (ord % 64)) != 0);
        if !set {
            return &[];
        }
        let start = self.entries.partition_point(|e| e.0 < ord);
        let end = self.entries.partition_point(|e| e.0 <= ord);
        &self.entries[start..end]
    }
}

/// What the query graph matched in one segment.
#[derive(Default)]
struct SegmentMatch {
    /// Per node, per document: typos and fields (`None`: the node matched nothing).
    hits: Vec<Option<Vec<NodeHit>>>,
    /// Per node: the documents it matches with at most 0, 1 and 2 typos.
    within: Vec<Option<[Bits; 3]>>,
    /// Posting lists of every derivation.
    lists: Vec<TermList>,
    short: [FieldTerms; SHORT_FIELDS],
}

/// Where a word of a result occurs, read for the ranking rules that need positions.
#[derive(Clone, Copy, Default)]
struct Occurrence {
    slot: u32,
    position: u32,
    node: u8,
    field: u8,
    exact: bool,
}

/// Word positions keep their value up to 15, then count by powers of two (as Meilisearch
/// buckets them: an early word matters, an exact far position does not).
fn bucketed(position: u32) -> i64 {
    if position < 16 {
        i64::from(position)
    } else {
        16 + i64::from(position.ilog2())
    }
}

/// The cheapest way (fewest typos) to cover every query word with matched nodes.
fn best_path(
    matchers: &[Matcher],
    hits: &[Option<Vec<NodeHit>>],
    doc: usize,
    words: usize,
) -> Option<(u16, Path)> {
    let mut cost = [u16::MAX; query::MAX_WORDS + 1];
    let mut via = [u8::MAX; query::MAX_WORDS + 1];
    cost[0] = 0;
    for end in 1..=words {
        for (i, matcher) in matchers.iter().enumerate() {
            let node = &matcher.node;
            if node.start + node.len != end || cost[node.start] == u16::MAX {
                continue;
            }
            let Some(hit) = hits[i].as_ref().map(|h| h[doc]).filter(|h| h.matched()) else {
                continue;
            };
            let total = cost[node.start] + u16::from(hit.typos);
            if total < cost[end] {
                cost[end] = total;
                via[end] = u8::try_from(i).unwrap_or(u8::MAX);
            }
        }
    }
    if cost[words] == u16::MAX {
        return None;
    }
    let mut reversed = Path::default();
    let mut at = words;
    while at > 0 {
        let node = via[at];
        reversed.nodes[usize::from(reversed.len)] = node;
        reversed.len += 1;
        at = matchers.get(usize::from(node))?.node.start;
    }
    let mut path = reversed;
    for k in 0..usize::from(path.len) {
        path.nodes[k] = reversed.nodes[usize::from(reversed.len) - 1 - k];
    }
    Some((cost[words], path))
}

/// Word distance as Meilisearch counts it: following words are 1 apart, a word before
/// the previous one costs one more; capped.
fn distance(a: u32, b: u32) -> u16 {
    let d = if b > a { b - a } else { a - b + 1 };
    u16::try_from(d).unwrap_or(FAR).min(FAR + 1) - 1
}

fn to_usize<T: TryInto<usize>>(value: T) -> usize {
    value.try_into().unwrap_or(usize::MAX)
}

/// Which documents each node matches, with how many typos and in which fields.
fn match_segment(
    reader: &SegmentReader,
    fields: &Fields,
    matchers: &[Matcher],
    highlight_terms: &mut HashMap<String, Option<usize>>,
) -> tantivy::Result<SegmentMatch> {
    let size = to_usize(reader.max_doc());
    let mut matched = SegmentMatch {
        hits: vec![None; matchers.len()],
        within: vec![None; matchers.len()],
        ..SegmentMatch::default()
    };
    for (f, field) in fields.text.iter().enumerate() {
        let inverted = reader.inverted_index(*field)?;
        if let Some(short) = matched.short.get_mut(f) {
            short.bits = vec![0; inverted.terms().num_terms() / 64 + 1];
        }
        for (i, matcher) in matchers.iter().enumerate() {
            for (derivation, ord, info) in matcher.derivations(inverted.terms())? {
                let mut postings =
                    inverted.read_postings_from_terminfo(&info, IndexRecordOption::Basic)?;
                let node_hits = matched.hits[i].get_or_insert_with(|| vec![NodeHit::NONE; size]);
                let within = matched.within[i].get_or_insert_with(|| {
                    [Bits::empty(size), Bits::empty(size), Bits::empty(size)]
                });
                let level = &mut within[usize::from(derivation.typos.min(2))];
                let mut doc = postings.doc();
                while doc != TERMINATED {
                    let d = to_usize(doc);
                    if let Some(hit) = node_hits.get_mut(d) {
                        hit.typos = hit.typos.min(derivation.typos);
                        hit.fields |= 1 << f;
                        if derivation.exact() {
                            hit.exact_fields |= 1 << f;
                        }
                    }
                    level.insert(d);
                    doc = postings.advance();
                }
                let highlight = derivation
                    .extends
                    .then(|| matcher.node.text.chars().count());
                highlight_terms
                    .entry(derivation.term.clone())
                    .and_modify(|h| *h = if highlight.is_none() { None } else { *h })
                    .or_insert(highlight);
                if let Some(short) = matched.short.get_mut(f) {
                    short.add(ord, i, derivation.exact());
                }
                matched.lists.push(TermList {
                    node: i,
                    field: u8::try_from(f).unwrap_or(u8::MAX),
                    exact: derivation.exact(),
                    info,
                });
            }
        }
    }
    for [zero, one, two] in matched.within.iter_mut().flatten() {
        one.or(zero);
        two.or(one);
    }
    for short in &mut matched.short {
        short.entries.sort_unstable();
    }
    Ok(matched)
}

/// Documents with a path of matched nodes over every query word, and, level by level,
/// those whose cheapest path costs at most 0, 1, 2… typos.
struct Paths<'a> {
    matchers: &'a [Matcher],
    matched: &'a SegmentMatch,
    words: usize,
    alive: &'a Bits,
    /// `levels[c][e]`: documents with a path over words `0..e` costing at most `c`.
    levels: Vec<Vec<Bits>>,
}

impl<'a> Paths<'a> {
    fn new(
        matchers: &'a [Matcher],
        matched: &'a SegmentMatch,
        words: usize,
        alive: &'a Bits,
    ) -> Self {
        Self {
            matchers,
            matched,
            words,
            alive,
            levels: Vec::new(),
        }
    }

    /// Documents where every word is matched (with any typos).
    fn any(&self) -> Bits {
        let mut reach = vec![self.alive.clone()];
        for end in 1..=self.words {
            let mut cell = Bits::empty(self.alive.len());
            for (i, matcher) in self.ending_at(end) {
                if let Some([_, _, all]) = &self.matched.within[i] {
                    cell.or_and(&reach[matcher.node.start], all);
                }
            }
            reach.push(cell);
        }
        reach.pop().unwrap_or_else(|| self.alive.clone())
    }

    fn ending_at(&self, end: usize) -> impl Iterator<Item = (usize, &'a Matcher)> + 'a {
        self.matchers
            .iter()
            .enumerate()
            .filter(move |(_, m)| m.node.start + m.node.len == end)
    }

    /// The documents whose cheapest path costs at most the next level's typos.
    fn next_level(&mut self) -> &Bits {
        let cost = self.levels.len();
        let mut row = vec![self.alive.clone()];
        for end in 1..=self.words {
            let mut cell = Bits::empty(self.alive.len());
            for (i, matcher) in self.ending_at(end) {
                let Some(within) = &self.matched.within[i] else {
                    continue;
                };
                for (typos, docs) in within.iter().enumerate().take(cost + 1) {
                    let from = if typos == 0 {
                        &row[matcher.node.start]
                    } else {
                        &self.levels[cost - typos][matcher.node.start]
                    };
                    cell.or_and(from, docs);
                }
            }
            row.push(cell);
        }
        self.levels.push(row);
        &self.levels[cost][self.words]
    }
}

/// The key below which (inclusive) the first `wanted` of `keys` lie, if there are more.
fn boundary<K: Ord + Copy>(mut keys: Vec<K>, wanted: usize) -> Option<K> {
    if wanted == 0 || keys.len() <= wanted {
        return None;
    }
    keys.select_nth_unstable(wanted - 1);
    Some(keys[wanted - 1])
}

/// How positions are found.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// In stages, for the candidates that can still reach the page.
    Staged,
    /// From posting lists, for every candidate: the reference the staged way must match.
    #[cfg_attr(not(test), allow(dead_code))]
    Exhaustive,
}

pub fn run(
    searcher: &Searcher,
    fields: &Fields,
    tables: &[std::sync::Arc<Table>],
    request: &SearchRequest,
    strategy: Strategy,
) -> tantivy::Result<Outcome> {
    let parsed = query::parse(&request.query);
    let words = parsed.words.len();
    let matchers: Vec<Matcher> = if parsed.is_empty() {
        Vec::new()
    } else {
        matching::nodes(&parsed)
            .into_iter()
            .map(Matcher::new)
            .collect()
    };
    let wanted = request.offset.saturating_add(request.limit);
    let mut candidates: Vec<Candidate> = Vec::new();
    let mut page = TopK::new(wanted);
    let mut segments: Vec<SegmentMatch> = Vec::new();
    let mut facet_totals: HashMap<(Facet, String), u64> = HashMap::new();
    let mut highlight_terms: HashMap<String, Option<usize>> = HashMap::new();
    let mut total = 0u64;

    // 1. Match, filter and count facets with document sets; pick the documents that the
    //    sort and the typo rule can still place on the page.
    for (segment_ord, reader) in searcher.segment_readers().iter().enumerate() {
        let segment = u32::try_from(segment_ord).unwrap_or(u32::MAX);
        let table = tables
            .get(segment_ord)
            .ok_or_else(|| tantivy::TantivyError::InternalError("no table for a segment".into()))?;
        let alive = table.alive(reader);
        let matched = if words == 0 {
            SegmentMatch::default()
        } else {
            match_segment(reader, fields, &matchers, &mut highlight_terms)?
        };
        let mut paths = Paths::new(&matchers, &matched, words, &alive);
        let matches = if words == 0 {
            (*alive).clone()
        } else {
            paths.any()
        };
        let clauses = filters::clauses(reader, fields, table, &request.filter)?;
        let results = filters::results(&matches, &clauses);
        let count = results.count();
        total += count;
        filters::count_facets(table, &matches, &clauses, &mut facet_totals);
        if wanted == 0 || count == 0 {
            segments.push(matched);
            continue;
        }

        let sort_value = |d: usize| match request.sort {
            SearchSort::Relevance => 0,
            SearchSort::Newest => -table.published_at[d],
            SearchSort::HighestRate => -table.best_rate_bps[d],
            SearchSort::HighestEarnings => -table.average_earnings[d],
        };
        if words == 0 {
            // Browsing: the presorted order is the ranking.
            let order = table.order(request.sort);
            let browse: Box<dyn Iterator<Item = DocId>> = match strategy {
                Strategy::Staged => Box::new(
                    order
                        .iter()
                        .copied()
                        .filter(|d| results.contains(to_usize(*d)))
                        .take(wanted),
                ),
                Strategy::Exhaustive => Box::new(results.ones()),
            };
            for doc in browse {
                let d = to_usize(doc);
                let key = [
                    sort_value(d),
                    0,
                    0,
                    0,
                    0,
                    0,
                    -table.published_at[d],
                    -table.program_id[d],
                ];
                page.offer(key, segment, doc);
            }
            segments.push(matched);
            continue;
        }

        let few = count <= u64::try_from(wanted.max(256)).unwrap_or(u64::MAX);
        let leading: Vec<DocId> = if strategy == Strategy::Exhaustive || few {
            results.ones().collect()
        } else if request.sort == SearchSort::Relevance {
            // The fewest typos that give a full page (or every typo count).
            let max_cost = 2 * words;
            loop {
                let cost = paths.levels.len();
                let mut within = paths.next_level().clone();
                within.and(&results);
                if cost >= max_cost || within.count() >= u64::try_from(wanted).unwrap_or(0) {
                    break within.ones().collect();
                }
            }
        } else {
            // Walk the sort's order to a full page, and through the last value's ties.
            let order = table.order(request.sort);
            let mut docs = Vec::new();
            let mut last = None;
            for doc in order
                .iter()
                .copied()
                .filter(|d| results.contains(to_usize(*d)))
            {
                let value = sort_value(to_usize(doc));
                if docs.len() >= wanted && last != Some(value) {
                    break;
                }
                docs.push(doc);
                last = Some(value);
            }
            docs.sort_unstable();
            docs
        };
        for doc in leading {
            let d = to_usize(doc);
            let Some((typos, path)) = best_path(&matchers, &matched.hits, d, words) else {
                continue;
            };
            let mut path_fields = [0u8; query::MAX_WORDS];
            let mut attribute = 0u32;
            let mut inexact = 0i64;
            for (k, node) in path.iter().enumerate() {
                let hit = matched.hits[node].as_ref().map_or(NodeHit::NONE, |h| h[d]);
                path_fields[k] = hit.fields;
                attribute += hit.fields.trailing_zeros();
                inexact += i64::from(hit.exact_fields == 0);
            }
            candidates.push(Candidate {
                key: [
                    sort_value(d),
                    i64::from(typos),
                    0,
                    i64::from(attribute),
                    0,
                    // 0 ("an attribute equals the query") is decided with positions.
                    1 + inexact,
                    -table.published_at[d],
                    -table.program_id[d],
                ],
                segment,
                doc,
                path,
                fields: path_fields,
                needs_description: false,
            });
        }
        segments.push(matched);
    }

    if strategy == Strategy::Exhaustive {
        let readers = searcher.segment_readers();
        for group in candidates.chunk_by_mut(|a, b| a.segment == b.segment) {
            let s = to_usize(group[0].segment);
            if let (Some(reader), Some(matched), Some(table)) =
                (readers.get(s), segments.get(s), tables.get(s))
            {
                for candidate in group.iter_mut() {
                    candidate.needs_description = true;
                }
                read_positions(reader, fields, matched, table, group, Strategy::Exhaustive)?;
            }
        }
    } else if !candidates.is_empty() {
        // The rules before proximity are known: only the candidates they do not already
        // push past the page go on. `retain` keeps them by segment and document.
        let keys = candidates.iter().map(|c| (c.key[0], c.key[1])).collect();
        if let Some(last) = boundary(keys, wanted) {
            candidates.retain(|c| (c.key[0], c.key[1]) <= last);
        }

        // 2. Positions in the short fields.
        let mut occurrences = Vec::new();
        for candidate in &mut candidates {
            let s = to_usize(candidate.segment);
            if let (Some(table), Some(matched)) = (tables.get(s), segments.get(s)) {
                occurrences.clear();
                short_occurrences(table, matched, candidate, &mut occurrences);
                rank_positions(table, candidate, &occurrences, false);
            }
        }
        let known = candidates
            .iter()
            .filter(|c| !c.needs_description)
            .map(|c| c.key)
            .collect();
        if let Some(last) = boundary(known, wanted) {
            // Lower bounds past the page's last known key cannot reach the page.
            candidates.retain(|c| c.key <= last);
        }

        // 3. Positions in the description, for the candidates that still need them.
        let readers = searcher.segment_readers();
        for group in candidates.chunk_by_mut(|a, b| a.segment == b.segment) {
            let s = to_usize(group[0].segment);
            if let (Some(reader), Some(matched), Some(table)) =
                (readers.get(s), segments.get(s), tables.get(s))
            {
                read_positions(reader, fields, matched, table, group, Strategy::Staged)?;
            }
        }
    }
    for candidate in &candidates {
        page.offer(candidate.key, candidate.segment, candidate.doc);
    }

    let hits = page
        .into_sorted()
        .into_iter()
        .skip(request.offset)
        .map(|(key, segment, doc)| (-key[7], DocAddress::new(segment, doc)))
        .collect();
    let mut facets = Facets::default();
    for ((facet, value), count) in facet_totals {
        let value = if facet == Facet::Category {
            value
        } else {
            value.to_uppercase()
        };
        facets.get_mut(facet).push((value, count));
    }
    Ok(Outcome {
        hits,
        total,
        facets: facets.sorted(),
        highlight_terms,
    })
}

/// The `k` smallest keys offered (with where their documents are).
struct TopK {
    k: usize,
    heap: std::collections::BinaryHeap<([i64; 8], u32, DocId)>,
}

impl TopK {
    fn new(k: usize) -> Self {
        Self {
            k,
            heap: std::collections::BinaryHeap::with_capacity(k.min(1024) + 1),
        }
    }

    fn offer(&mut self, key: [i64; 8], segment: u32, doc: DocId) {
        if self.heap.len() < self.k {
            self.heap.push((key, segment, doc));
        } else if self.heap.peek().is_some_and(|top| key < top.0) {
            self.heap.pop();
            self.heap.push((key, segment, doc));
        }
    }

    fn into_sorted(self) -> Vec<([i64; 8], u32, DocId)> {
        self.heap.into_sorted_vec()
    }
}

/// Occurrences of the path's nodes in the candidate's short fields, from the token arrays.
fn short_occurrences(
    table: &Table,
    matched: &SegmentMatch,
    candidate: &Candidate,
    out: &mut Vec<Occurrence>,
) {
    let path = candidate.path.mask();
    let in_fields = candidate.fields[..usize::from(candidate.path.len)]
        .iter()
        .fold(0, |all, f| all | f);
    let d = to_usize(candidate.doc);
    for (f, terms) in matched.short.iter().enumerate() {
        if in_fields & (1 << f) == 0 {
            continue;
        }
        let field = u8::try_from(f).unwrap_or(u8::MAX);
        for (position, ord) in table.tokens.of(d, f).iter().enumerate() {
            for (_, node, exact) in terms.lookup(*ord) {
                if path & (1 << node) != 0 {
                    out.push(Occurrence {
                        slot: 0,
                        position: u32::try_from(position).unwrap_or(u32::MAX),
                        node: *node,
                        field,
                        exact: *exact,
                    });
                }
            }
        }
    }
}

/// Sets proximity, word position and "an attribute equals the query" from `occurrences`.
/// Without the description's occurrences (`with_description` false), a value the
/// description could lower is set to its lower bound and the candidate marked.
fn rank_positions(
    table: &Table,
    candidate: &mut Candidate,
    occurrences: &[Occurrence],
    with_description: bool,
) {
    let of = |node: usize| {
        occurrences
            .iter()
            .filter(move |o| usize::from(o.node) == node)
    };
    let path = candidate.path;
    let mut needs_description = false;
    let mut proximity = 0u16;
    for k in 1..usize::from(path.len) {
        let (a, b) = (path.get(k - 1), path.get(k));
        let closest = of(a)
            .flat_map(|oa| {
                of(b)
                    .filter(move |ob| ob.field == oa.field)
                    .map(move |ob| distance(oa.position, ob.position))
            })
            .min()
            .unwrap_or(FAR);
        let both_in_description = candidate.fields[k - 1] & candidate.fields[k] & DESCRIPTION != 0;
        if !with_description && closest > 0 && both_in_description {
            needs_description = true;
        } else {
            proximity += closest;
        }
    }
    // Each word's earliest position within the best attribute it matched in.
    let mut position = 0i64;
    for (k, node) in path.iter().enumerate() {
        let best = candidate.fields[k].trailing_zeros();
        if !with_description && to_usize(best) == SHORT_FIELDS {
            needs_description = true;
            continue;
        }
        position += of(node)
            .filter(|o| u32::from(o.field) == best)
            .map(|o| bucketed(o.position))
            .min()
            .unwrap_or(0);
    }
    candidate.key[PROXIMITY] = i64::from(proximity);
    candidate.key[POSITION] = position;
    // Every node exact, in one attribute, one after the other from its first word, and
    // nothing else in that attribute.
    let counts = table.word_counts[to_usize(candidate.doc)];
    let equals = (0..SHORT_FIELDS).any(|f| {
        counts[f] == path.len
            && path.iter().enumerate().all(|(k, node)| {
                of(node).any(|o| usize::from(o.field) == f && o.exact && to_usize(o.position) == k)
            })
    });
    if equals {
        candidate.key[EXACTNESS] = 0;
    }
    candidate.needs_description = needs_description;
}

/// Reads word positions from posting lists for the candidates that need them (one
/// segment's, ascending by document) and completes their keys: the description's, the
/// short fields' coming from the token arrays (staged), or every field's (exhaustive).
fn read_positions(
    reader: &SegmentReader,
    fields: &Fields,
    matched: &SegmentMatch,
    table: &Table,
    candidates: &mut [Candidate],
    strategy: Strategy,
) -> tantivy::Result<()> {
    let masks: Vec<u32> = candidates
        .iter()
        .map(|c| {
            if c.needs_description {
                c.path.mask()
            } else {
                0
            }
        })
        .collect();
    let wanted_nodes = masks.iter().fold(0, |all, mask| all | mask);
    if wanted_nodes == 0 {
        return Ok(());
    }
    let needy = masks.iter().filter(|m| **m != 0).count();
    let mut slots = vec![u32::MAX; to_usize(reader.max_doc())];
    for (slot, candidate) in candidates.iter().enumerate() {
        if let Some(s) = slots.get_mut(to_usize(candidate.doc)) {
            *s = u32::try_from(slot).unwrap_or(u32::MAX);
        }
    }

    let mut occurrences: Vec<Occurrence> = Vec::new();
    let mut buffer: Vec<u32> = Vec::new();
    for list in &matched.lists {
        let bit = 1u32 << list.node;
        let from_tokens = strategy == Strategy::Staged && usize::from(list.field) < SHORT_FIELDS;
        if wanted_nodes & bit == 0 || from_tokens {
            continue;
        }
        let inverted = reader.inverted_index(fields.text[usize::from(list.field)])?;
        let mut postings = inverted
            .read_postings_from_terminfo(&list.info, IndexRecordOption::WithFreqsAndPositions)?;
        let mut record = |slot: usize, postings: &mut tantivy::postings::SegmentPostings| {
            postings.positions(&mut buffer);
            occurrences.extend(buffer.iter().map(|position| Occurrence {
                slot: u32::try_from(slot).unwrap_or(u32::MAX),
                position: *position,
                node: u8::try_from(list.node).unwrap_or(u8::MAX),
                field: list.field,
                exact: list.exact,
            }));
        };
        if needy.saturating_mul(8) < to_usize(list.info.doc_freq) {
            // Few candidates: jump from one to the next.
            for (slot, candidate) in candidates.iter().enumerate() {
                if masks[slot] & bit == 0 {
                    continue;
                }
                let mut doc = postings.doc();
                if doc < candidate.doc {
                    doc = postings.seek(candidate.doc);
                }
                if doc == TERMINATED {
                    break;
                }
                if doc == candidate.doc {
                    record(slot, &mut postings);
                }
            }
        } else {
            let mut doc = postings.doc();
            while doc != TERMINATED {
                let slot = slots.get(to_usize(doc)).copied().unwrap_or(u32::MAX);
                if slot != u32::MAX && masks[to_usize(slot)] & bit != 0 {
                    record(to_usize(slot), &mut postings);
                }
                doc = postings.advance();
            }
        }
    }

    // Group the occurrences by candidate (a counting sort).
    let mut starts = vec![0usize; candidates.len() + 1];
    for occurrence in &occurrences {
        starts[to_usize(occurrence.slot) + 1] += 1;
    }
    for i in 1..starts.len() {
        starts[i] += starts[i - 1];
    }
    let mut grouped = vec![Occurrence::default(); occurrences.len()];
    let mut next = starts.clone();
    for occurrence in occurrences {
        let at = &mut next[to_usize(occurrence.slot)];
        grouped[*at] = occurrence;
        *at += 1;
    }

    let mut all = Vec::new();
    for (slot, candidate) in candidates.iter_mut().enumerate() {
        if masks[slot] == 0 {
            continue;
        }
        all.clear();
        if strategy == Strategy::Staged {
            short_occurrences(table, matched, candidate, &mut all);
        }
        all.extend_from_slice(&grouped[starts[slot]..starts[slot + 1]]);
        rank_positions(table, candidate, &all, true);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn early_positions_count_one_by_one_and_far_ones_by_powers_of_two() {
        assert_eq!(
            (
                bucketed(0),
                bucketed(15),
                bucketed(16),
                bucketed(31),
                bucketed(32)
            ),
            (0, 15, 20, 20, 21)
        );
    }

    #[test]
    fn distances_follow_meilisearch() {
        assert_eq!(distance(3, 4), 0, "adjacent, in order");
        assert_eq!(distance(4, 3), 1, "adjacent, reversed");
        assert_eq!(distance(0, 50), FAR);
    }
}
