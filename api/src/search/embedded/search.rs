//! One search over the embedded index: match the query graph, filter, count facets, rank
//! with Meilisearch's rules and cut the page.
//!
//! Ranking follows the ranking rules the Meilisearch engine is configured with, as
//! Meilisearch 1.50 computes them (its `milli` crate):
//! - `sort` (an explicit sort is global), `words` (every term must match: nothing to rank);
//! - `typo`: fewer typos first (an n-gram of 2–3 query words costs 2–3 more). Every later
//!   rule sees only the derivations of the result's typo bucket: a 2-typo match in the
//!   name does not lift a result that matched with no typo in the description;
//! - `proximity`: per pair of query words adjacent in the query, 0 when adjacent in order
//!   in one attribute, then 1, 2, and 3 for anything farther, reversed, or in different
//!   attributes (reversed costs one more than in order);
//! - `attribute`: first the attribute rank (the best attribute of each term, weighted by
//!   its order: name, tagline, vendor, category, description), then the word position:
//!   each term's smallest position in *any* attribute, bucketed (0–15 kept, 16–23 → 24,
//!   then the next power of two), its distance from the term's position in the query
//!   costed 0 / 1 / 2–4 / 5–7 / 8–11 / 12–16 / 17–24 / 25–64 / 65–256 / 257–1024 / more;
//! - `exactness`: an attribute equal to the query, then one starting with it (each word
//!   at its query position, all in one attribute), then the rest; within those, fewer
//!   terms not matched as their exact word;
//! - then newest and highest id (the tie-break both engines share).
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
    table::{DESCRIPTION_HEAD, NO_VALUE, NameOrder, SHORT_FIELDS, TOKEN_FIELDS, Table},
};
use crate::search::{Facet, Facets, SearchRequest, SearchSort, query};

/// Proximity of two words that never appear within 3 positions in one attribute.
const FAR: u16 = 3;

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
    /// The fewest typos of the node's derivations in the document (its typo bucket).
    typos: u8,
    /// Text fields (bits, in ranked order) where a derivation of the bucket matched.
    fields: u8,
    /// Text fields where the node's exact word matched (no typo, not a prefix extension).
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

    /// A derivation with `typos` matched in field `f`: only those of the document's typo
    /// bucket (its fewest typos) count.
    fn record(&mut self, typos: u8, f: usize, exact: bool) {
        if typos < self.typos {
            *self = NodeHit {
                typos,
                fields: 0,
                exact_fields: 0,
            };
        }
        if typos == self.typos {
            self.fields |= 1 << f;
            if exact {
                self.exact_fields |= 1 << f;
            }
        }
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

/// Ascending sort key: sort value, typo, proximity, attribute rank, word position, exact
/// attribute, inexact terms, newest, −id.
type Key = [i64; 9];

struct Candidate {
    /// While `needs_description`, proximity, position and exact attribute are lower
    /// bounds.
    key: Key,
    segment: u32,
    doc: DocId,
    path: Path,
    /// Text fields (bits) where each node of the path matched in its typo bucket, in path
    /// order.
    fields: [u8; query::MAX_WORDS],
    /// Fields where each node matched its exact word.
    exact_fields: [u8; query::MAX_WORDS],
    /// The typo bucket of each node of the path.
    typos: [u8; query::MAX_WORDS],
    needs_description: bool,
}

const PROXIMITY: usize = 2;
const POSITION: usize = 4;
const EXACT_ATTRIBUTE: usize = 5;

/// The posting list of one derivation of one node in one text field of a segment.
struct TermList {
    node: usize,
    field: u8,
    exact: bool,
    typos: u8,
    info: TermInfo,
}

/// The derivations of one short field by term ordinal, to recognise them among tokens.
#[derive(Default)]
struct FieldTerms {
    /// Bit per term ordinal: is it a derivation of some node?
    bits: Vec<u64>,
    /// (ordinal, node, exact, typos), sorted.
    entries: Vec<(u32, u8, bool, u8)>,
}

impl FieldTerms {
    fn add(&mut self, ord: u64, node: usize, exact: bool, typos: u8) {
        let (Ok(ord), Ok(node)) = (u32::try_from(ord), u8::try_from(node)) else {
            return;
        };
        if let Some(word) = self.bits.get_mut(to_usize(ord / 64)) {
            *word |= 1 << (ord % 64);
        }
        self.entries.push((ord, node, exact, typos));
    }

    fn lookup(&self, ord: u32) -> &[(u32, u8, bool, u8)] {
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
    short: [FieldTerms; TOKEN_FIELDS],
    /// Where the phrases of the query occur, by document (every field).
    phrases: HashMap<DocId, Vec<Occurrence>>,
    /// Documents the query's `-word` and `-"phrase"` exclude.
    excluded: Option<Bits>,
}

impl SegmentMatch {
    /// Node `i`'s hits and typo-level document sets, created on first use.
    fn node_sets(&mut self, i: usize, size: usize) -> (&mut Vec<NodeHit>, &mut [Bits; 3]) {
        let hits = self.hits[i].get_or_insert_with(|| vec![NodeHit::NONE; size]);
        let within = self.within[i]
            .get_or_insert_with(|| [Bits::empty(size), Bits::empty(size), Bits::empty(size)]);
        (hits, within)
    }

    /// Node `i` matched as `words` adjacent words at `found` (document, first position)
    /// in field `f`: its own phrase (exact, no typo) or a split word (`typos`, not exact).
    fn phrase_hits(
        &mut self,
        i: usize,
        f: usize,
        size: usize,
        found: &[(DocId, u32)],
        words: usize,
        typos: u8,
    ) {
        if found.is_empty() {
            return;
        }
        let exact = typos == 0;
        let last = u32::try_from(words.saturating_sub(1)).unwrap_or(0);
        let (hits, within) = self.node_sets(i, size);
        for &(doc, _) in found {
            let d = to_usize(doc);
            if let Some(hit) = hits.get_mut(d) {
                hit.record(typos, f, exact);
            }
            within[usize::from(typos.min(2))].insert(d);
        }
        for &(doc, start) in found {
            self.phrases.entry(doc).or_default().push(Occurrence {
                slot: 0,
                position: start,
                end: start + last,
                node: u8::try_from(i).unwrap_or(u8::MAX),
                field: u8::try_from(f).unwrap_or(u8::MAX),
                exact,
                typos,
                phrase: true,
            });
        }
    }
}

/// Where a word of a result occurs, read for the ranking rules that need positions.
#[derive(Clone, Copy, Default)]
struct Occurrence {
    slot: u32,
    /// Position of the (first) word; `end`: of the last word of a phrase.
    position: u32,
    end: u32,
    node: u8,
    field: u8,
    exact: bool,
    typos: u8,
    phrase: bool,
}

/// A word position as Meilisearch stores it: kept up to 15, 16–23 become 24, then the
/// next power of two (an early word matters, an exact far position does not).
fn bucketed(position: u32) -> u32 {
    match position {
        0..16 => position,
        16..24 => 24,
        _ => position.checked_next_power_of_two().unwrap_or(u32::MAX),
    }
}

/// The position rule's cost of a word `distance` positions away from where the query has
/// it.
fn position_cost(distance: u32) -> i64 {
    match distance {
        0 => 0,
        1 => 1,
        2..=4 => 2,
        5..=7 => 3,
        8..=11 => 4,
        12..=16 => 5,
        17..=24 => 6,
        25..=64 => 7,
        65..=256 => 8,
        257..=1024 => 9,
        _ => 10,
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
            let total = cost[node.start] + u16::from(hit.typos) + ngram_cost(node);
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

/// The typo rule's base cost of an n-gram: as many typos as words it joins (none for a
/// single term).
fn ngram_cost(node: &matching::Node) -> u16 {
    if node.len > 1 {
        u16::try_from(node.len).unwrap_or(u16::MAX)
    } else {
        0
    }
}

/// Word distance as Meilisearch counts it: following words are 0 apart, a word right
/// before the previous one 1; capped at [`FAR`].
fn distance(a: u32, b: u32) -> u16 {
    let d = if b > a { b - a } else { a - b + 1 };
    u16::try_from(d).unwrap_or(FAR).min(FAR + 1) - 1
}

fn to_usize<T: TryInto<usize>>(value: T) -> usize {
    value.try_into().unwrap_or(usize::MAX)
}

/// Which documents each node matches, with how many typos and in which fields; where the
/// phrases occur; which documents the negative terms exclude.
fn match_segment(
    reader: &SegmentReader,
    fields: &Fields,
    matchers: &[Matcher],
    parsed: &query::ParsedQuery,
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
            if let Some(words) = &matcher.node.phrase {
                let found = phrase_occurrences(&inverted, words)?;
                matched.phrase_hits(i, f, size, &found, words.len(), 0);
                if !found.is_empty() {
                    for word in words {
                        highlight_terms.insert(word.clone(), None);
                    }
                }
                continue;
            }
            if let Some(split) = &matcher.split {
                let found = phrase_occurrences(&inverted, split)?;
                matched.phrase_hits(i, f, size, &found, split.len(), SPLIT_TYPOS);
                if !found.is_empty() {
                    for word in split {
                        highlight_terms.insert(word.clone(), None);
                    }
                }
            }
            for (derivation, ord, info) in matcher.derivations(inverted.terms())? {
                let mut postings =
                    inverted.read_postings_from_terminfo(&info, IndexRecordOption::Basic)?;
                let (node_hits, within) = matched.node_sets(i, size);
                let level = &mut within[usize::from(derivation.typos.min(2))];
                let exact = derivation.exact();
                let mut doc = postings.doc();
                while doc != TERMINATED {
                    let d = to_usize(doc);
                    if let Some(hit) = node_hits.get_mut(d) {
                        hit.record(derivation.typos, f, exact);
                    }
                    level.insert(d);
                    doc = postings.advance();
                }
                // A prefix is marked no longer than the query word (Meilisearch's rule).
                let highlight = matcher
                    .node
                    .prefix
                    .then(|| matcher.node.text.chars().count());
                highlight_terms
                    .entry(derivation.term.clone())
                    .and_modify(|h| *h = if highlight.is_none() { None } else { *h })
                    .or_insert(highlight);
                if let Some(short) = matched.short.get_mut(f) {
                    short.add(ord, i, exact, derivation.typos);
                }
                matched.lists.push(TermList {
                    node: i,
                    field: u8::try_from(f).unwrap_or(u8::MAX),
                    exact,
                    typos: derivation.typos,
                    info,
                });
            }
        }
        excluded(&inverted, parsed, size, &mut matched.excluded)?;
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

/// A split word counts as one typo.
const SPLIT_TYPOS: u8 = 1;

/// Meilisearch's split of a query word into two indexed words: of every cut, the one whose
/// rarer half is in the most documents (the first such cut on ties); `None` when no cut
/// gives two words of the index.
fn best_split(
    searcher: &Searcher,
    fields: &Fields,
    word: &str,
) -> tantivy::Result<Option<[String; 2]>> {
    let mut best: Option<(u64, usize)> = None;
    for (cut, _) in word.char_indices().skip(1) {
        let (left, right) = word.split_at(cut);
        if !indexed(searcher, fields, left)? || !indexed(searcher, fields, right)? {
            continue;
        }
        let frequency =
            documents_with(searcher, fields, left)?.min(documents_with(searcher, fields, right)?);
        if frequency > 0 && best.is_none_or(|(old, _)| frequency > old) {
            best = Some((frequency, cut));
        }
    }
    Ok(best.map(|(_, cut)| [word[..cut].to_owned(), word[cut..].to_owned()]))
}

/// Whether some text field of some segment has `word`.
fn indexed(searcher: &Searcher, fields: &Fields, word: &str) -> tantivy::Result<bool> {
    for reader in searcher.segment_readers() {
        for field in &fields.text {
            if reader
                .inverted_index(*field)?
                .terms()
                .get(word.as_bytes())?
                .is_some()
            {
                return Ok(true);
            }
        }
    }
    Ok(false)
}

/// Live documents with `word` in any text field.
fn documents_with(searcher: &Searcher, fields: &Fields, word: &str) -> tantivy::Result<u64> {
    let mut total = 0;
    for reader in searcher.segment_readers() {
        let size = to_usize(reader.max_doc());
        let mut docs = Bits::empty(size);
        for field in &fields.text {
            let inverted = reader.inverted_index(*field)?;
            let Some(info) = inverted.terms().get(word.as_bytes())? else {
                continue;
            };
            let mut postings =
                inverted.read_postings_from_terminfo(&info, IndexRecordOption::Basic)?;
            let mut doc = postings.doc();
            while doc != TERMINATED {
                if reader
                    .alive_bitset()
                    .is_none_or(|alive| alive.is_alive(doc))
                {
                    docs.insert(to_usize(doc));
                }
                doc = postings.advance();
            }
        }
        total += docs.count();
    }
    Ok(total)
}

/// Adds to `excluded` the documents of one field holding a negative word (exactly) or a
/// negative phrase.
fn excluded(
    inverted: &tantivy::InvertedIndexReader,
    parsed: &query::ParsedQuery,
    size: usize,
    excluded: &mut Option<Bits>,
) -> tantivy::Result<()> {
    for word in &parsed.negative_words {
        let Some(info) = inverted.terms().get(word.as_bytes())? else {
            continue;
        };
        let mut postings = inverted.read_postings_from_terminfo(&info, IndexRecordOption::Basic)?;
        let bits = excluded.get_or_insert_with(|| Bits::empty(size));
        let mut doc = postings.doc();
        while doc != TERMINATED {
            bits.insert(to_usize(doc));
            doc = postings.advance();
        }
    }
    for words in &parsed.negative_phrases {
        for (doc, _) in phrase_occurrences(inverted, words)? {
            excluded
                .get_or_insert_with(|| Bits::empty(size))
                .insert(to_usize(doc));
        }
    }
    Ok(())
}

/// Where `words` occur in one field, adjacent and in order: (document, position of the
/// first word), every occurrence.
fn phrase_occurrences(
    inverted: &tantivy::InvertedIndexReader,
    words: &[String],
) -> tantivy::Result<Vec<(DocId, u32)>> {
    let mut lists = Vec::with_capacity(words.len());
    for word in words {
        let Some(info) = inverted.terms().get(word.as_bytes())? else {
            return Ok(Vec::new());
        };
        lists.push(
            inverted
                .read_postings_from_terminfo(&info, IndexRecordOption::WithFreqsAndPositions)?,
        );
    }
    let Some((first, rest)) = lists.split_first_mut() else {
        return Ok(Vec::new());
    };
    let mut found = Vec::new();
    let mut starts = Vec::new();
    let mut positions = Vec::new();
    let mut doc = first.doc();
    'docs: while doc != TERMINATED {
        for list in rest.iter_mut() {
            let at = if list.doc() < doc {
                list.seek(doc)
            } else {
                list.doc()
            };
            if at != doc {
                // Move the first list to where the other one stands.
                doc = if at == TERMINATED {
                    TERMINATED
                } else {
                    first.seek(at)
                };
                continue 'docs;
            }
        }
        first.positions(&mut starts);
        for (k, list) in rest.iter_mut().enumerate() {
            list.positions(&mut positions);
            let offset = u32::try_from(k + 1).unwrap_or(u32::MAX);
            starts.retain(|p| positions.binary_search(&(p + offset)).is_ok());
        }
        found.extend(starts.iter().map(|p| (doc, *p)));
        doc = first.advance();
    }
    Ok(found)
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
                let base = usize::from(ngram_cost(&matcher.node));
                for (typos, docs) in within.iter().enumerate() {
                    let total = typos + base;
                    if total > cost {
                        break;
                    }
                    let from = if total == 0 {
                        &row[matcher.node.start]
                    } else {
                        &self.levels[cost - total][matcher.node.start]
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
    names: Option<&NameOrder>,
    request: &SearchRequest,
    strategy: Strategy,
) -> tantivy::Result<Outcome> {
    let parsed = query::parse(&request.query);
    let words = parsed.terms.len();
    let negatives = !parsed.negative_words.is_empty() || !parsed.negative_phrases.is_empty();
    let matchers: Vec<Matcher> = if parsed.is_empty() {
        Vec::new()
    } else {
        let mut matchers: Vec<Matcher> = matching::nodes(&parsed)
            .into_iter()
            .map(Matcher::new)
            .collect();
        for matcher in &mut matchers {
            if matcher.node.len == 1 && matcher.node.phrase.is_none() {
                matcher.split = best_split(searcher, fields, &matcher.node.text)?;
            }
        }
        matchers
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
        let matched = if words == 0 && !negatives {
            SegmentMatch::default()
        } else {
            match_segment(reader, fields, &matchers, &parsed, &mut highlight_terms)?
        };
        let mut paths = Paths::new(&matchers, &matched, words, &alive);
        let mut matches = if words == 0 {
            (*alive).clone()
        } else {
            paths.any()
        };
        if let Some(excluded) = &matched.excluded {
            matches.and_not(excluded);
        }
        let clauses = filters::clauses(reader, fields, table, &request.filter)?;
        let results = filters::results(&matches, &clauses);
        let count = results.count();
        total += count;
        filters::count_facets(table, &matches, &clauses, &mut facet_totals);
        if wanted == 0 || count == 0 {
            segments.push(matched);
            continue;
        }

        let name_rank = names.and_then(|n| n.ranks.get(segment_ord));
        let sort_value = |d: usize| match request.sort {
            SearchSort::Relevance => 0,
            SearchSort::Newest => -table.published_at[d],
            SearchSort::HighestRate => -table.best_rate_bps[d],
            SearchSort::HighestEarnings => -table.average_earnings[d],
            SearchSort::Name => name_rank
                .and_then(|r| r.get(d))
                .copied()
                .unwrap_or(i64::MAX),
        };
        let order = match (request.sort, names.and_then(|n| n.orders.get(segment_ord))) {
            (SearchSort::Name, Some(order)) => order.as_slice(),
            _ => table.order(request.sort),
        };
        if words == 0 {
            // Browsing: the presorted order is the ranking.
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
            let mut path_exact = [0u8; query::MAX_WORDS];
            let mut path_typos = [0u8; query::MAX_WORDS];
            let mut attribute = 0i64;
            let mut inexact = 0i64;
            for (k, node) in path.iter().enumerate() {
                let hit = matched.hits[node].as_ref().map_or(NodeHit::NONE, |h| h[d]);
                path_fields[k] = hit.fields;
                path_exact[k] = hit.exact_fields;
                path_typos[k] = hit.typos;
                let terms = i64::try_from(matchers[node].node.len).unwrap_or(1);
                // The best attribute's weight, times the terms an n-gram stands for.
                attribute += i64::from(hit.fields.trailing_zeros()) * terms;
                if hit.exact_fields == 0 {
                    inexact += terms;
                }
            }
            candidates.push(Candidate {
                // Proximity, position and exact attribute come with positions.
                key: [
                    sort_value(d),
                    i64::from(typos),
                    0,
                    attribute,
                    0,
                    0,
                    inexact,
                    -table.published_at[d],
                    -table.program_id[d],
                ],
                segment,
                doc,
                path,
                fields: path_fields,
                exact_fields: path_exact,
                typos: path_typos,
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
                read_positions(
                    reader,
                    fields,
                    &matchers,
                    matched,
                    table,
                    group,
                    Strategy::Exhaustive,
                )?;
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
                rank_positions(table, &matchers, candidate, &mut occurrences, false);
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
                read_positions(
                    reader,
                    fields,
                    &matchers,
                    matched,
                    table,
                    group,
                    Strategy::Staged,
                )?;
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
        .map(|(key, segment, doc)| (-key[8], DocAddress::new(segment, doc)))
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
    heap: std::collections::BinaryHeap<(Key, u32, DocId)>,
}

impl TopK {
    fn new(k: usize) -> Self {
        Self {
            k,
            heap: std::collections::BinaryHeap::with_capacity(k.min(1024) + 1),
        }
    }

    fn offer(&mut self, key: Key, segment: u32, doc: DocId) {
        if self.heap.len() < self.k {
            self.heap.push((key, segment, doc));
        } else if self.heap.peek().is_some_and(|top| key < top.0) {
            self.heap.pop();
            self.heap.push((key, segment, doc));
        }
    }

    fn into_sorted(self) -> Vec<(Key, u32, DocId)> {
        self.heap.into_sorted_vec()
    }
}

/// Occurrences of the path's nodes in the candidate's short fields, from the token arrays,
/// and of its phrases in every field.
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
            for (_, node, exact, typos) in terms.lookup(*ord) {
                if path & (1 << node) != 0 {
                    let position = u32::try_from(position).unwrap_or(u32::MAX);
                    out.push(Occurrence {
                        slot: 0,
                        position,
                        end: position,
                        node: *node,
                        field,
                        exact: *exact,
                        typos: *typos,
                        phrase: false,
                    });
                }
            }
        }
    }
    phrase_occurrences_of(matched, candidate, out);
}

fn phrase_occurrences_of(matched: &SegmentMatch, candidate: &Candidate, out: &mut Vec<Occurrence>) {
    if let Some(found) = matched.phrases.get(&candidate.doc) {
        let path = candidate.path.mask();
        out.extend(found.iter().filter(|o| path & (1 << o.node) != 0));
    }
}

/// Sets proximity, word position and exact attribute from `occurrences`. Without the
/// description's occurrences (`with_description` false), a value the description could
/// lower is set to its lower bound and the candidate marked.
fn rank_positions(
    table: &Table,
    matchers: &[Matcher],
    candidate: &mut Candidate,
    occurrences: &mut [Occurrence],
    with_description: bool,
) {
    let path = candidate.path;
    let typos = candidate.typos;
    occurrences.sort_unstable_by_key(|o| (o.node, o.typos, o.field, o.position));
    let occurrences = &*occurrences;
    // Occurrences of the path's k-th node within its typo bucket, by field and position.
    let of = |k: usize| -> &[Occurrence] {
        let wanted = (u8::try_from(path.get(k)).unwrap_or(u8::MAX), typos[k]);
        let start = occurrences.partition_point(|o| (o.node, o.typos) < wanted);
        let end = occurrences.partition_point(|o| (o.node, o.typos) <= wanted);
        &occurrences[start..end]
    };
    let node = |k: usize| &matchers[path.get(k)].node;
    let description = |k: usize| candidate.fields[k] & DESCRIPTION != 0;
    let mut needs_description = false;

    // Proximity: an n-gram's own cost, and each pair of terms adjacent in the query.
    let mut proximity = 0i64;
    for k in 0..usize::from(path.len) {
        proximity += i64::try_from(node(k).len - 1).unwrap_or(0);
        if k == 0 {
            continue;
        }
        let (left, right) = (node(k - 1), node(k));
        if left.position + left.positions != right.position {
            // Not adjacent in the query (a hard separator or an excluded word between).
            continue;
        }
        let rights = of(k);
        let mut closest = FAR;
        'pairs: for oa in of(k - 1) {
            let from = rights.partition_point(|ob| ob.field < oa.field);
            for ob in rights[from..].iter().take_while(|ob| ob.field == oa.field) {
                let d = if (oa.phrase || ob.phrase) && ob.position <= oa.end {
                    // A phrase and a word: in order only.
                    FAR
                } else {
                    distance(oa.end, ob.position)
                };
                if d < closest {
                    closest = d;
                    if d == 0 {
                        break 'pairs;
                    }
                }
            }
        }
        if !with_description && closest > 0 && description(k - 1) && description(k) {
            needs_description = true;
        } else {
            proximity += i64::from(closest);
        }
    }

    // Word position: each term's best bucketed position in any attribute, against its
    // position in the query.
    let mut position = 0i64;
    for k in 0..usize::from(path.len) {
        let n = node(k);
        let terms = u32::try_from(n.len).unwrap_or(1);
        let cost = |o: &Occurrence| {
            let distance = bucketed(o.position).abs_diff(u32::from(n.position));
            (0..terms).map(|i| position_cost(distance + i)).sum::<i64>()
        };
        let best = of(k).iter().map(cost).min();
        // Beyond the description's head a word is at position 16 or more (bucketed 24).
        let beyond = {
            let distance = bucketed(DESCRIPTION_HEAD).saturating_sub(u32::from(n.position));
            (0..terms).map(|i| position_cost(distance + i)).sum::<i64>()
        };
        if !with_description && description(k) && best.is_none_or(|b| b > beyond) {
            // The rest of the description may hold an earlier one.
            needs_description = true;
            position += best.map_or(beyond, |b| b.min(beyond));
            continue;
        }
        position += best.unwrap_or(10 * i64::from(terms));
    }

    // Exact attribute: every term's exact word at its query position (in any attribute),
    // all of them in one attribute (it starts with the query), and nothing else in it
    // (it is the query).
    let exact_level = |with: bool| -> i64 {
        let mut common = u8::MAX;
        let mut words = 0u32;
        let exact_fields = candidate.exact_fields.iter().zip(typos);
        for (k, (&exact_fields, bucket)) in exact_fields.enumerate().take(usize::from(path.len)) {
            let n = node(k);
            if bucket != 0 || exact_fields == 0 {
                return 2;
            }
            let at = bucketed(u32::from(n.position));
            let placed = of(k).iter().any(|o| o.exact && bucketed(o.position) == at);
            // Only a place beyond the description's head is unknown without its postings.
            let maybe = with
                && exact_fields & DESCRIPTION != 0
                && u32::from(n.position) >= DESCRIPTION_HEAD;
            if !placed && !maybe {
                return 2;
            }
            common &= exact_fields;
            words += u32::from(n.positions);
        }
        if common == 0 {
            return 2;
        }
        let counts = table.word_counts[to_usize(candidate.doc)];
        let equal =
            (0..=SHORT_FIELDS).any(|f| common & (1 << f) != 0 && u32::from(counts[f]) == words);
        if equal { 0 } else { 1 }
    };
    let mut exact = exact_level(false);
    if !with_description && exact > 0 {
        let possible = exact_level(true);
        if possible < exact {
            needs_description = true;
            exact = possible;
        }
    }

    candidate.key[PROXIMITY] = proximity;
    candidate.key[POSITION] = position;
    candidate.key[EXACT_ATTRIBUTE] = exact;
    candidate.needs_description = needs_description;
}

/// Reads word positions from posting lists for the candidates that need them (one
/// segment's, ascending by document) and completes their keys: the description's, the
/// short fields' coming from the token arrays (staged), or every field's (exhaustive).
#[allow(clippy::too_many_arguments)]
fn read_positions(
    reader: &SegmentReader,
    fields: &Fields,
    matchers: &[Matcher],
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
                end: *position,
                node: u8::try_from(list.node).unwrap_or(u8::MAX),
                field: list.field,
                exact: list.exact,
                typos: list.typos,
                phrase: false,
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
        } else {
            phrase_occurrences_of(matched, candidate, &mut all);
        }
        all.extend_from_slice(&grouped[starts[slot]..starts[slot + 1]]);
        rank_positions(table, matchers, candidate, &mut all, true);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_bucketed_as_meilisearch_stores_them() {
        assert_eq!(
            [0, 15, 16, 23, 24, 25, 32, 33, 100].map(bucketed),
            [0, 15, 24, 24, 32, 32, 32, 64, 128]
        );
        assert_eq!(
            [0, 1, 2, 4, 5, 8, 12, 17, 25, 65, 257, 2000].map(position_cost),
            [0, 1, 2, 2, 3, 4, 5, 6, 7, 8, 9, 10]
        );
    }

    #[test]
    fn distances_follow_meilisearch() {
        assert_eq!(distance(3, 4), 0, "adjacent, in order");
        assert_eq!(distance(4, 3), 1, "adjacent, reversed");
        assert_eq!(distance(0, 50), FAR);
    }
}
