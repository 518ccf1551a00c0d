//! Discovery: one [`SearchIndex`] abstraction with two engines that pass the same
//! contract suite — Meilisearch (production) and an embedded tantivy engine (default).
//! The database stays the source of truth: listing changes reach the engine through the
//! event log, whose search indexer (`service::indexer`) rebuilds the documents they touch.

pub mod document;
pub mod embedded;
pub mod faulty;
pub mod highlight;
pub mod meili;
pub mod query;
pub mod text;

use std::{fmt, time::Duration};

pub use document::ProgramDocument;

/// What to search for. Filters combine with AND; values inside one filter with OR.
#[derive(Debug, Clone, Default)]
pub struct SearchRequest {
    /// Raw query text; empty browses.
    pub query: String,
    pub filter: SearchFilter,
    pub sort: SearchSort,
    pub offset: usize,
    pub limit: usize,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct SearchFilter {
    /// Category slugs.
    pub categories: Vec<String>,
    /// Partner type codes; programs open to every type match any.
    pub partner_types: Vec<String>,
    /// `PERCENTAGE` / `FLAT`.
    pub commission_models: Vec<String>,
    pub min_rate_bps: Option<i64>,
    pub recurring_only: bool,
    pub currencies: Vec<String>,
    pub cookie_days_min: Option<i64>,
    pub cookie_days_max: Option<i64>,
    pub automatic_approval_only: bool,
    /// ISO codes; worldwide programs match any.
    pub countries: Vec<String>,
    /// Measured average monthly earnings per partner, US cents; programs whose figure is
    /// withheld never pass.
    pub min_average_earnings_usd_cents: Option<i64>,
    /// Measured approval rate, basis points; programs with too few decisions never pass.
    pub min_approval_rate_bps: Option<i64>,
    /// Programs to leave out (the viewer's own applications and enrollments).
    pub exclude_program_ids: Vec<i64>,
    /// Programs of any of these vendors.
    pub vendor_ids: Vec<i64>,
    /// Holding period (days before a commission is approved) at most this.
    pub holding_days_max: Option<i64>,
    /// Recurring programs whose longest recurring period (months; lifetime counts as
    /// `LIFETIME_MONTHS`) is within these bounds; either bound makes it recurring only.
    pub recurring_months_min: Option<i64>,
    pub recurring_months_max: Option<i64>,
    /// Only programs serving every country.
    pub worldwide_only: bool,
    /// Leave out programs limited to a list of countries naming any of these (worldwide
    /// programs stay).
    pub excluded_countries: Vec<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SearchSort {
    /// Typos, proximity, attribute, exactness; then newest.
    #[default]
    Relevance,
    Newest,
    HighestRate,
    /// Highest measured average earnings (normalised to US dollars) first; withheld
    /// figures last.
    HighestEarnings,
    /// By name, A to Z (case-insensitive).
    Name,
}

/// Facets counted for every search; each is counted with the other filters applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Facet {
    Category,
    PartnerType,
    CommissionModel,
    Currency,
}

impl Facet {
    pub const ALL: [Facet; 4] = [
        Facet::Category,
        Facet::PartnerType,
        Facet::CommissionModel,
        Facet::Currency,
    ];

    /// The document attribute the facet counts.
    pub fn attribute(self) -> &'static str {
        match self {
            Self::Category => "category",
            Self::PartnerType => "partner_types",
            Self::CommissionModel => "commission_models",
            Self::Currency => "currency",
        }
    }
}

/// Counts per value, most frequent first (ties alphabetical).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Facets {
    pub categories: Vec<(String, u64)>,
    pub partner_types: Vec<(String, u64)>,
    pub commission_models: Vec<(String, u64)>,
    pub currencies: Vec<(String, u64)>,
}

impl Facets {
    pub fn get_mut(&mut self, facet: Facet) -> &mut Vec<(String, u64)> {
        match facet {
            Facet::Category => &mut self.categories,
            Facet::PartnerType => &mut self.partner_types,
            Facet::CommissionModel => &mut self.commission_models,
            Facet::Currency => &mut self.currencies,
        }
    }

    /// Sorts every facet by count, then value.
    pub fn sorted(mut self) -> Self {
        for facet in Facet::ALL {
            self.get_mut(facet)
                .sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        }
        self
    }
}

/// Snippets of what matched, with `<mark>` around matched words.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Highlights {
    pub name: String,
    pub tagline: String,
    /// A cropped excerpt of the description around the first match, if it matched.
    pub description: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub program_id: i64,
    pub highlights: Highlights,
}

#[derive(Debug, Clone, Default)]
pub struct SearchResponse {
    pub hits: Vec<Hit>,
    /// Every match, not just this page.
    pub total: u64,
    pub facets: Facets,
    pub processing_time_ms: u64,
}

/// One change to apply to the index.
#[derive(Debug, Clone)]
// Changes live briefly in one batch; boxing documents would only add allocations.
#[allow(clippy::large_enum_variant)]
pub enum Change {
    Upsert(ProgramDocument),
    Delete(i64),
}

#[derive(Debug)]
pub enum SearchError {
    /// The engine cannot be reached, answered an error, or took too long.
    Unavailable(String),
    /// A fault of ours (bad settings, a bug).
    Internal(anyhow::Error),
}

impl fmt::Display for SearchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unavailable(why) => write!(f, "search engine unavailable: {why}"),
            Self::Internal(e) => write!(f, "search engine error: {e:#}"),
        }
    }
}

impl std::error::Error for SearchError {}

/// Opens the configured engine. Returns whether its index was created empty (it must then
/// be filled from the database).
pub async fn open(
    config: &crate::config::SearchConfig,
) -> Result<(std::sync::Arc<dyn SearchIndex>, bool), SearchError> {
    use crate::config::SearchEngine;
    match &config.engine {
        SearchEngine::Embedded { dir: None } => Ok((
            std::sync::Arc::new(embedded::EmbeddedIndex::in_memory()?),
            true,
        )),
        SearchEngine::Embedded { dir: Some(dir) } => {
            let dir = dir.clone();
            let index = tokio::task::spawn_blocking(move || embedded::EmbeddedIndex::open(&dir))
                .await
                .map_err(|e| SearchError::Internal(e.into()))??;
            let created = index.created();
            Ok((std::sync::Arc::new(index), created))
        }
        SearchEngine::Meilisearch { url, api_key } => {
            let api_key = api_key
                .as_ref()
                .map(|k| String::from_utf8_lossy(k.expose()).into_owned());
            let (index, created) = meili::MeilisearchIndex::connect(meili::MeiliConfig {
                url: url.clone(),
                api_key,
                index_prefix: config.index_prefix.clone(),
                search_timeout: config.search_timeout,
                write_timeout: config.write_timeout,
            })
            .await?;
            Ok((std::sync::Arc::new(index), created))
        }
    }
}

/// The engine of commands that write listings but do not search (seeding): changes wait
/// in the event log for the server's indexer, and the live index stays the server's alone.
pub struct Detached;

#[async_trait::async_trait]
impl SearchIndex for Detached {
    fn engine(&self) -> &'static str {
        "detached"
    }

    async fn apply(&self, _: Vec<Change>) -> Result<(), SearchError> {
        Err(SearchError::Unavailable(
            "this command does not open the search index".into(),
        ))
    }

    async fn search(&self, _: &SearchRequest) -> Result<SearchResponse, SearchError> {
        Err(SearchError::Unavailable(
            "this command does not open the search index".into(),
        ))
    }

    async fn health(&self) -> Result<(), SearchError> {
        Err(SearchError::Unavailable(
            "this command does not open the search index".into(),
        ))
    }

    async fn rebuild(&self) -> Result<Box<dyn Rebuild>, SearchError> {
        Err(SearchError::Unavailable(
            "this command does not open the search index".into(),
        ))
    }
}

/// Runs `future` with a deadline, turning an overrun into [`SearchError::Unavailable`].
pub async fn with_timeout<T>(
    limit: Duration,
    future: impl Future<Output = Result<T, SearchError>>,
) -> Result<T, SearchError> {
    tokio::time::timeout(limit, future)
        .await
        .unwrap_or_else(|_| {
            Err(SearchError::Unavailable(format!(
                "no answer within {} ms",
                limit.as_millis()
            )))
        })
}

/// Receives documents for a new index, then swaps it in atomically.
#[async_trait::async_trait]
pub trait Rebuild: Send {
    async fn add(&mut self, documents: Vec<ProgramDocument>) -> Result<(), SearchError>;
    /// Swaps the new index in; searches before this see the old one whole.
    async fn finish(self: Box<Self>) -> Result<(), SearchError>;
}

/// A search engine holding program documents.
#[async_trait::async_trait]
pub trait SearchIndex: Send + Sync + 'static {
    /// `embedded` or `meilisearch`.
    fn engine(&self) -> &'static str;

    /// Applies changes; returns once the engine has them durably (idempotent: replaying a
    /// batch leaves the same index).
    async fn apply(&self, changes: Vec<Change>) -> Result<(), SearchError>;

    async fn search(&self, request: &SearchRequest) -> Result<SearchResponse, SearchError>;

    /// Reachable and able to serve.
    async fn health(&self) -> Result<(), SearchError>;

    /// Starts building a fresh index beside the live one.
    async fn rebuild(&self) -> Result<Box<dyn Rebuild>, SearchError>;
}
