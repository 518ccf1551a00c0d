//! The embedded engine (tantivy): the default, in-process, no services needed. On disk
//! under `DATA_DIR/search/` in the embedded mode (one directory per index generation,
//! `CURRENT` naming the live one), in RAM in tests. One writer; searches run on the
//! blocking pool.

mod bits;
mod filters;
mod matching;
mod schema;
mod search;
mod table;

use std::{
    path::{Path, PathBuf},
    sync::{Arc, Mutex, RwLock},
    time::Instant,
};

use tantivy::{
    Index, IndexReader, IndexWriter, ReloadPolicy, TantivyDocument, Term,
    directory::MmapDirectory,
    schema::{Schema, Value},
    tokenizer::TextAnalyzer,
};

use super::{
    Change, Highlights, Hit, ProgramDocument, Rebuild, SearchError, SearchIndex, SearchRequest,
    SearchResponse, highlight, text::WordTokenizer,
};

const WRITER_MEMORY: usize = 32_000_000;

fn internal(e: impl Into<anyhow::Error>) -> SearchError {
    SearchError::Internal(e.into())
}

/// One generation of the index.
struct Generation {
    reader: IndexReader,
    writer: Mutex<IndexWriter>,
    /// Attribute tables of the reader's segments.
    tables: table::Tables,
    /// Directory name under the base directory; `None` in RAM.
    name: Option<String>,
}

impl Generation {
    fn create(location: &Location, schema: &Schema) -> Result<Self, SearchError> {
        match location {
            Location::Ram => Self::from_index(Index::create_in_ram(schema.clone()), None),
            Location::Dir(base) => {
                let name = format!("programs-{}", chrono::Utc::now().format("%Y%m%d%H%M%S%6f"));
                let dir = base.join(&name);
                std::fs::create_dir_all(&dir).map_err(internal)?;
                let index = Index::create_in_dir(&dir, schema.clone()).map_err(internal)?;
                Self::from_index(index, Some(name))
            }
        }
    }

    fn open(base: &Path, name: &str, schema: &Schema) -> Result<Self, SearchError> {
        let directory = MmapDirectory::open(base.join(name)).map_err(internal)?;
        let index = Index::open(directory).map_err(internal)?;
        if index.schema() != *schema {
            return Err(internal(anyhow::anyhow!(
                "the index {name} has another schema"
            )));
        }
        Self::from_index(index, Some(name.to_owned()))
    }

    fn from_index(index: Index, name: Option<String>) -> Result<Self, SearchError> {
        index.tokenizers().register(
            schema::TOKENIZER,
            TextAnalyzer::from(WordTokenizer::default()),
        );
        let writer = index
            .writer_with_num_threads(1, WRITER_MEMORY)
            .map_err(internal)?;
        let reader = index
            .reader_builder()
            .reload_policy(ReloadPolicy::Manual)
            .try_into()
            .map_err(internal)?;
        Ok(Self {
            reader,
            writer: Mutex::new(writer),
            tables: table::Tables::default(),
            name,
        })
    }

    /// Applies `changes` in one commit; with `warm`, builds the tables of new segments
    /// right away, so that no search pays for them.
    fn write(
        &self,
        fields: &schema::Fields,
        changes: &[Change],
        warm: bool,
    ) -> Result<(), SearchError> {
        let mut writer = self
            .writer
            .lock()
            .map_err(|_| internal(anyhow::anyhow!("index writer poisoned")))?;
        for change in changes {
            let id = match change {
                Change::Upsert(doc) => doc.program_id,
                Change::Delete(id) => *id,
            };
            writer.delete_term(Term::from_field_u64(
                fields.program_id,
                u64::try_from(id).unwrap_or(0),
            ));
            if let Change::Upsert(doc) = change {
                writer
                    .add_document(fields.document(doc))
                    .map_err(internal)?;
            }
        }
        writer.commit().map_err(internal)?;
        self.reader.reload().map_err(internal)?;
        if warm {
            self.warm(fields)?;
        }
        Ok(())
    }

    /// Builds the attribute tables of segments that have none yet.
    fn warm(&self, fields: &schema::Fields) -> Result<(), SearchError> {
        self.tables
            .for_searcher(&self.reader.searcher(), fields)
            .map(drop)
            .map_err(internal)
    }
}

#[derive(Clone)]
enum Location {
    Ram,
    Dir(PathBuf),
}

pub struct EmbeddedIndex {
    location: Location,
    schema: Schema,
    fields: schema::Fields,
    live: Arc<RwLock<Arc<Generation>>>,
    /// Whether opening created a new, empty index (it must then be filled).
    created: bool,
}

impl EmbeddedIndex {
    pub fn in_memory() -> Result<Self, SearchError> {
        let (schema, fields) = schema::build();
        let generation = Generation::create(&Location::Ram, &schema)?;
        Ok(Self {
            location: Location::Ram,
            schema,
            fields,
            live: Arc::new(RwLock::new(Arc::new(generation))),
            created: true,
        })
    }

    /// Opens the live index under `base` (creating an empty one if there is none, or if the
    /// live one was built with another schema).
    pub fn open(base: &Path) -> Result<Self, SearchError> {
        std::fs::create_dir_all(base).map_err(internal)?;
        let (schema, fields) = schema::build();
        let location = Location::Dir(base.to_owned());
        let current = std::fs::read_to_string(base.join("CURRENT"))
            .ok()
            .map(|s| s.trim().to_owned());
        let opened = current
            .as_deref()
            .map(|name| Generation::open(base, name, &schema));
        let (generation, created) = match opened {
            Some(Ok(generation)) => (generation, false),
            Some(Err(e)) => {
                tracing::warn!(error = %e, "cannot open the search index; starting a new one");
                (Generation::create(&location, &schema)?, true)
            }
            None => (Generation::create(&location, &schema)?, true),
        };
        if created {
            point_current(base, generation.name.as_deref().unwrap_or_default())?;
        }
        Ok(Self {
            location,
            schema,
            fields,
            live: Arc::new(RwLock::new(Arc::new(generation))),
            created,
        })
    }

    /// Whether the index was created empty when opened.
    pub fn created(&self) -> bool {
        self.created
    }

    fn live(&self) -> Result<Arc<Generation>, SearchError> {
        self.live
            .read()
            .map(|g| Arc::clone(&g))
            .map_err(|_| internal(anyhow::anyhow!("index lock poisoned")))
    }

    /// Number of documents in the live index.
    pub fn len(&self) -> Result<u64, SearchError> {
        Ok(self.live()?.reader.searcher().num_docs())
    }

    pub fn is_empty(&self) -> Result<bool, SearchError> {
        Ok(self.len()? == 0)
    }
}

/// Names the live generation, atomically (write then rename).
fn point_current(base: &Path, name: &str) -> Result<(), SearchError> {
    let tmp = base.join("CURRENT.tmp");
    std::fs::write(&tmp, name).map_err(internal)?;
    std::fs::rename(&tmp, base.join("CURRENT")).map_err(internal)
}

fn stored_text(doc: &TantivyDocument, field: tantivy::schema::Field) -> String {
    doc.get_first(field)
        .and_then(|v| v.as_str())
        .unwrap_or_default()
        .to_owned()
}

#[async_trait::async_trait]
impl SearchIndex for EmbeddedIndex {
    fn engine(&self) -> &'static str {
        "embedded"
    }

    async fn apply(&self, changes: Vec<Change>) -> Result<(), SearchError> {
        if changes.is_empty() {
            return Ok(());
        }
        let generation = self.live()?;
        let fields = self.fields.clone();
        tokio::task::spawn_blocking(move || generation.write(&fields, &changes, true))
            .await
            .map_err(internal)?
    }

    async fn search(&self, request: &SearchRequest) -> Result<SearchResponse, SearchError> {
        let generation = self.live()?;
        let fields = self.fields.clone();
        let request = request.clone();
        tokio::task::spawn_blocking(move || {
            let started = Instant::now();
            let searcher = generation.reader.searcher();
            let tables = generation
                .tables
                .for_searcher(&searcher, &fields)
                .map_err(internal)?;
            let names = match request.sort {
                crate::search::SearchSort::Name => Some(
                    generation
                        .tables
                        .name_order(&searcher, &tables)
                        .map_err(internal)?,
                ),
                _ => None,
            };
            let outcome = search::run(
                &searcher,
                &fields,
                &tables,
                names.as_deref(),
                &request,
                search::Strategy::Staged,
            )
            .map_err(internal)?;
            let mut hits = Vec::with_capacity(outcome.hits.len());
            for (program_id, address) in outcome.hits {
                let doc: TantivyDocument = searcher.doc(address).map_err(internal)?;
                let (name, _) =
                    highlight::mark(&stored_text(&doc, fields.text[0]), &outcome.highlight_terms);
                let (tagline, _) =
                    highlight::mark(&stored_text(&doc, fields.text[1]), &outcome.highlight_terms);
                let description =
                    highlight::crop(&stored_text(&doc, fields.text[4]), &outcome.highlight_terms);
                hits.push(Hit {
                    program_id,
                    highlights: Highlights {
                        name: highlight::to_html(&name),
                        tagline: highlight::to_html(&tagline),
                        description: description.map(|d| highlight::to_html(&d)),
                    },
                });
            }
            Ok(SearchResponse {
                hits,
                total: outcome.total,
                facets: outcome.facets,
                processing_time_ms: u64::try_from(started.elapsed().as_millis())
                    .unwrap_or(u64::MAX),
            })
        })
        .await
        .map_err(internal)?
    }

    async fn health(&self) -> Result<(), SearchError> {
        self.live().map(drop)
    }

    async fn rebuild(&self) -> Result<Box<dyn Rebuild>, SearchError> {
        let location = self.location.clone();
        let schema = self.schema.clone();
        let generation =
            tokio::task::spawn_blocking(move || Generation::create(&location, &schema))
                .await
                .map_err(internal)??;
        Ok(Box::new(EmbeddedRebuild {
            generation: Arc::new(generation),
            fields: self.fields.clone(),
            live: Arc::clone(&self.live),
            location: self.location.clone(),
        }))
    }
}

/// A new generation being filled beside the live one.
struct EmbeddedRebuild {
    generation: Arc<Generation>,
    fields: schema::Fields,
    live: Arc<RwLock<Arc<Generation>>>,
    location: Location,
}

#[async_trait::async_trait]
impl Rebuild for EmbeddedRebuild {
    async fn add(&mut self, documents: Vec<ProgramDocument>) -> Result<(), SearchError> {
        let generation = Arc::clone(&self.generation);
        let fields = self.fields.clone();
        let changes: Vec<Change> = documents.into_iter().map(Change::Upsert).collect();
        tokio::task::spawn_blocking(move || generation.write(&fields, &changes, false))
            .await
            .map_err(internal)?
    }

    async fn finish(self: Box<Self>) -> Result<(), SearchError> {
        let generation = Arc::clone(&self.generation);
        let fields = self.fields.clone();
        tokio::task::spawn_blocking(move || generation.warm(&fields))
            .await
            .map_err(internal)??;
        let previous = {
            let mut live = self
                .live
                .write()
                .map_err(|_| internal(anyhow::anyhow!("index lock poisoned")))?;
            std::mem::replace(&mut *live, Arc::clone(&self.generation))
        };
        if let (Location::Dir(base), Some(name)) = (&self.location, &self.generation.name) {
            point_current(base, name)?;
            if let Some(old) = &previous.name {
                // Searches still holding the old generation keep their open files.
                if let Err(e) = std::fs::remove_dir_all(base.join(old)) {
                    tracing::warn!(error = %e, "could not remove the previous search index");
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::search::{SearchFilter, SearchSort};

    const WORDS: [&str; 12] = [
        "cloud",
        "data",
        "partner",
        "program",
        "analytics",
        "sales",
        "market",
        "flow",
        "hub",
        "stack",
        "growth",
        "pipeline",
    ];

    /// Deterministic documents whose texts mix a small vocabulary, so that many tie.
    fn documents(count: i64) -> Vec<ProgramDocument> {
        let mut seed = 7u64;
        let mut next = move |n: usize| {
            seed = seed
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            usize::try_from(seed >> 33).unwrap_or(0) % n
        };
        (1..=count)
            .map(|id| {
                let mut text = |words: usize| {
                    (0..words)
                        .map(|_| WORDS[next(WORDS.len())])
                        .collect::<Vec<_>>()
                        .join(" ")
                };
                let (name, tagline, description) = (text(2), text(5), text(30));
                ProgramDocument {
                    program_id: id,
                    name,
                    tagline,
                    description,
                    vendor_id: id % 7,
                    vendor_name: text(1),
                    category: ["crm", "analytics", "security"][next(3)].into(),
                    category_name: "Software".into(),
                    partner_types: vec![["AFFILIATE", "RESELLER"][next(2)].into()],
                    all_partner_types: next(4) == 0,
                    commission_models: vec![["PERCENTAGE", "FLAT"][next(2)].into()],
                    best_rate_bps: i64::try_from(next(50)).unwrap_or(0) * 100,
                    best_flat_usd_cents: 0,
                    durations: vec!["ONE_TIME".into()],
                    recurring: next(2) == 0,
                    recurring_months: 0,
                    cookie_days: 30,
                    holding_days: 30,
                    currency: ["USD", "EUR"][next(2)].into(),
                    minimum_payout_minor: 0,
                    approval_mode: "AUTOMATIC".into(),
                    countries: vec!["DE".into()],
                    worldwide: false,
                    published_at: 1_700_000_000 + i64::try_from(next(40)).unwrap_or(0),
                    // A third withheld; the rest on few values, so ties are common.
                    average_earnings_usd_cents: match next(3) {
                        0 => crate::search::document::WITHHELD,
                        _ => i64::try_from(next(6)).unwrap_or(0) * 2_500,
                    },
                    approval_rate_bps: i64::try_from(next(11)).unwrap_or(0) * 1_000 - 1_000,
                }
            })
            .collect()
    }

    async fn page(index: &EmbeddedIndex, request: &SearchRequest) -> (Vec<i64>, SearchResponse) {
        let response = index.search(request).await.unwrap();
        (
            response.hits.iter().map(|h| h.program_id).collect(),
            response,
        )
    }

    /// The reference ranking: every candidate's positions read from posting lists.
    fn exhaustive(index: &EmbeddedIndex, request: &SearchRequest) -> (Vec<i64>, u64) {
        let generation = index.live().unwrap();
        let searcher = generation.reader.searcher();
        let tables = generation
            .tables
            .for_searcher(&searcher, &index.fields)
            .unwrap();
        let names = generation.tables.name_order(&searcher, &tables).unwrap();
        let outcome = search::run(
            &searcher,
            &index.fields,
            &tables,
            (request.sort == SearchSort::Name).then_some(names.as_ref()),
            request,
            search::Strategy::Exhaustive,
        )
        .unwrap();
        (outcome.hits.iter().map(|h| h.0).collect(), outcome.total)
    }

    /// Positions come from token arrays and posting lists in stages, only for candidates
    /// that can still reach the page, and segments are ranked separately: none of it may
    /// change the order. Every page of every query must be the matching slice of the
    /// reference ranking, and an index written in many commits (many segments) must rank
    /// exactly as one written in one.
    #[tokio::test]
    async fn pages_are_slices_of_the_reference_ranking_whatever_the_segments() {
        let docs = documents(250);
        let segmented = EmbeddedIndex::in_memory().unwrap();
        for chunk in docs.chunks(37) {
            segmented
                .apply(chunk.iter().cloned().map(Change::Upsert).collect())
                .await
                .unwrap();
        }
        let single = EmbeddedIndex::in_memory().unwrap();
        single
            .apply(docs.iter().cloned().map(Change::Upsert).collect())
            .await
            .unwrap();

        let filtered = SearchFilter {
            categories: vec!["crm".into(), "analytics".into()],
            min_rate_bps: Some(1000),
            min_average_earnings_usd_cents: Some(2_500),
            ..SearchFilter::default()
        };
        let queries = [
            "partner program",
            "data",
            "analitycs",
            "clo",
            "sales hub growth",
            "pipeline market",
            "\"partner program\" data",
            "data -sales",
            "growth -\"cloud data\"",
            "market: sales",
            "",
        ];
        for query in queries {
            for sort in [
                SearchSort::Relevance,
                SearchSort::Newest,
                SearchSort::HighestRate,
                SearchSort::HighestEarnings,
                SearchSort::Name,
            ] {
                for filter in [SearchFilter::default(), filtered.clone()] {
                    let request = SearchRequest {
                        query: query.into(),
                        filter,
                        sort,
                        offset: 0,
                        limit: 1000,
                    };
                    let (reference, count) = exhaustive(&segmented, &request);
                    assert!(!reference.is_empty(), "{query:?} matches something");
                    assert_eq!(u64::try_from(reference.len()).unwrap(), count);
                    let earnings: Vec<i64> = reference
                        .iter()
                        .map(|id| docs[usize::try_from(id - 1).unwrap()].average_earnings_usd_cents)
                        .collect();
                    if sort == SearchSort::HighestEarnings {
                        assert!(
                            earnings.is_sorted_by(|a, b| a >= b),
                            "{query:?}: by earnings"
                        );
                    }
                    if request.filter.min_average_earnings_usd_cents.is_some() {
                        assert!(earnings.iter().all(|e| *e >= 2_500), "{query:?}: minimum");
                    }
                    let (all, full) = page(&segmented, &request).await;
                    assert_eq!(all, reference, "{query:?} {sort:?}: the reference ranking");
                    assert_eq!(full.total, count);
                    let (one_segment, whole) = page(&single, &request).await;
                    assert_eq!(one_segment, reference, "{query:?} {sort:?}: one segment");
                    assert_eq!(full.facets, whole.facets, "{query:?}: same facets");
                    for offset in (0..all.len()).step_by(20) {
                        let (ids, response) = page(
                            &segmented,
                            &SearchRequest {
                                offset,
                                limit: 20,
                                ..request.clone()
                            },
                        )
                        .await;
                        let end = (offset + 20).min(all.len());
                        assert_eq!(
                            ids,
                            reference[offset..end],
                            "{query:?} {sort:?} at {offset}"
                        );
                        assert_eq!(response.total, full.total);
                        assert_eq!(response.facets, full.facets);
                    }
                }
            }
        }
        assert!(
            segmented
                .live()
                .unwrap()
                .reader
                .searcher()
                .segment_readers()
                .len()
                > 1
        );
    }
}
