//! The Meilisearch engine (production). Settings are code, applied idempotently at start-up
//! and awaited. Every call carries a deadline (the SDK's HTTP client has none). Filter
//! values are quoted and escaped, never spliced. One search is one multi-search round trip:
//! the page, the exhaustive count with the facets nobody filters on, and one count per
//! filtered facet (each facet counted with the other filters applied). The counting
//! searches ask for `page: 0`, which Meilisearch documents as returning no documents but
//! the exhaustive `totalHits` and facet distribution.

use std::time::{Duration, Instant};

use meilisearch_sdk::{
    client::{Client, SwapIndexes},
    errors::{Error as MeiliError, ErrorCode},
    search::{MatchingStrategies, SearchQuery, SearchResults, Selectors},
    settings::{
        FacetingSettings, MinWordSizeForTypos, PaginationSetting, Settings, TypoToleranceSettings,
    },
    task_info::TaskInfo,
    tasks::{Task, TasksSearchQuery},
};
use serde::Deserialize;

use super::{
    Change, Facet, Facets, Highlights, Hit, ProgramDocument, Rebuild, SearchError, SearchFilter,
    SearchIndex, SearchRequest, SearchResponse, SearchSort, highlight, with_timeout,
};

/// Where the server is and how long calls may take.
#[derive(Debug, Clone)]
pub struct MeiliConfig {
    pub url: String,
    pub api_key: Option<String>,
    /// Prepended to index names, so environments and test runs never collide.
    pub index_prefix: String,
    pub search_timeout: Duration,
    pub write_timeout: Duration,
}

const PRIMARY_KEY: &str = "program_id";
/// Searched attributes, most important first.
pub const SEARCHABLE: [&str; 5] = [
    "name",
    "tagline",
    "vendor_name",
    "category_name",
    "description",
];
const FILTERABLE: [&str; 17] = [
    "category",
    "partner_types",
    "all_partner_types",
    "commission_models",
    "best_rate_bps",
    "recurring",
    "currency",
    "cookie_days",
    "approval_mode",
    "countries",
    "worldwide",
    "program_id",
    "average_earnings_usd_cents",
    "approval_rate_bps",
    "vendor_id",
    "holding_days",
    "recurring_months",
];
pub const SORTABLE: [&str; 5] = [
    "name",
    "published_at",
    "best_rate_bps",
    "average_earnings_usd_cents",
    "program_id",
];
/// `sort` first: an explicit sort is global over every match; relevance decides ties.
const RANKING_RULES: [&str; 8] = [
    "sort",
    "words",
    "typo",
    "proximity",
    "attribute",
    "exactness",
    "published_at:desc",
    "program_id:desc",
];
const MAX_TOTAL_HITS: usize = 1_000_000;
const TASK_POLL: Duration = Duration::from_millis(25);

fn settings() -> Settings {
    Settings::new()
        .with_searchable_attributes(SEARCHABLE)
        .with_filterable_attributes(FILTERABLE)
        .with_sortable_attributes(SORTABLE)
        .with_ranking_rules(RANKING_RULES)
        .with_typo_tolerance(TypoToleranceSettings {
            enabled: Some(true),
            disable_on_attributes: Some(Vec::new()),
            disable_on_words: Some(Vec::new()),
            min_word_size_for_typos: Some(MinWordSizeForTypos {
                one_typo: Some(5),
                two_typos: Some(9),
            }),
            disable_on_numbers: None,
        })
        .with_faceting(FacetingSettings {
            max_values_per_facet: 200,
            sort_facet_values_by: None,
        })
        .with_pagination(PaginationSetting {
            max_total_hits: MAX_TOTAL_HITS,
        })
}

fn unavailable(e: MeiliError) -> SearchError {
    match e {
        MeiliError::Meilisearch(api) => {
            SearchError::Internal(anyhow::anyhow!("meilisearch refused a request: {api}"))
        }
        other => SearchError::Unavailable(other.to_string()),
    }
}

/// A filter value as a Meilisearch string literal: quoted, `\` and `"` escaped.
pub fn literal(value: &str) -> String {
    format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
}

fn one_of(attribute: &str, values: &[String]) -> String {
    let values: Vec<String> = values.iter().map(|v| literal(v)).collect();
    format!("{attribute} IN [{}]", values.join(", "))
}

/// Each active clause of the filter, tagged with the facet it restricts (if any).
pub fn clauses(filter: &SearchFilter) -> Vec<(Option<Facet>, String)> {
    let mut clauses = Vec::new();
    if !filter.categories.is_empty() {
        clauses.push((
            Some(Facet::Category),
            one_of("category", &filter.categories),
        ));
    }
    if !filter.partner_types.is_empty() {
        let types = one_of("partner_types", &filter.partner_types);
        clauses.push((
            Some(Facet::PartnerType),
            format!("all_partner_types = true OR {types}"),
        ));
    }
    if !filter.commission_models.is_empty() {
        clauses.push((
            Some(Facet::CommissionModel),
            one_of("commission_models", &filter.commission_models),
        ));
    }
    if let Some(min) = filter.min_rate_bps {
        clauses.push((None, format!("best_rate_bps >= {min}")));
    }
    // A withheld figure is -1: it passes no minimum, not even zero.
    if let Some(min) = filter.min_average_earnings_usd_cents {
        clauses.push((
            None,
            format!("average_earnings_usd_cents >= {}", min.max(0)),
        ));
    }
    if let Some(min) = filter.min_approval_rate_bps {
        clauses.push((None, format!("approval_rate_bps >= {}", min.max(0))));
    }
    if filter.recurring_only {
        clauses.push((None, "recurring = true".to_owned()));
    }
    if !filter.currencies.is_empty() {
        clauses.push((
            Some(Facet::Currency),
            one_of("currency", &filter.currencies),
        ));
    }
    if let Some(min) = filter.cookie_days_min {
        clauses.push((None, format!("cookie_days >= {min}")));
    }
    if let Some(max) = filter.cookie_days_max {
        clauses.push((None, format!("cookie_days <= {max}")));
    }
    if filter.automatic_approval_only {
        clauses.push((None, format!("approval_mode = {}", literal("AUTOMATIC"))));
    }
    if !filter.countries.is_empty() {
        clauses.push((
            None,
            format!(
                "worldwide = true OR {}",
                one_of("countries", &filter.countries)
            ),
        ));
    }
    if !filter.vendor_ids.is_empty() {
        let ids: Vec<String> = filter.vendor_ids.iter().map(i64::to_string).collect();
        clauses.push((None, format!("vendor_id IN [{}]", ids.join(", "))));
    }
    if let Some(max) = filter.holding_days_max {
        clauses.push((None, format!("holding_days <= {max}")));
    }
    if filter.recurring_months_min.is_some() || filter.recurring_months_max.is_some() {
        let mut clause = "recurring = true".to_owned();
        if let Some(min) = filter.recurring_months_min {
            clause.push_str(&format!(" AND recurring_months >= {min}"));
        }
        if let Some(max) = filter.recurring_months_max {
            clause.push_str(&format!(" AND recurring_months <= {max}"));
        }
        clauses.push((None, clause));
    }
    if filter.worldwide_only {
        clauses.push((None, "worldwide = true".to_owned()));
    }
    if !filter.excluded_countries.is_empty() {
        clauses.push((
            None,
            format!("NOT {}", one_of("countries", &filter.excluded_countries)),
        ));
    }
    if !filter.exclude_program_ids.is_empty() {
        let ids: Vec<String> = filter
            .exclude_program_ids
            .iter()
            .map(i64::to_string)
            .collect();
        clauses.push((None, format!("program_id NOT IN [{}]", ids.join(", "))));
    }
    clauses
}

/// The clauses joined with AND, leaving out those of `except`.
pub fn expression(clauses: &[(Option<Facet>, String)], except: Option<Facet>) -> Option<String> {
    let parts: Vec<String> = clauses
        .iter()
        .filter(|(f, _)| except.is_none() || *f != except)
        .map(|(_, c)| format!("({c})"))
        .collect();
    (!parts.is_empty()).then(|| parts.join(" AND "))
}

#[derive(Deserialize)]
struct IdOnly {
    program_id: i64,
}

#[derive(Clone)]
pub struct MeilisearchIndex {
    client: Client,
    uid: String,
    config: MeiliConfig,
}

impl MeilisearchIndex {
    /// Connects, creates the index if missing and applies the settings (waiting for both).
    /// Returns whether the index must be filled (it was created, or holds documents of
    /// an older shape).
    pub async fn connect(config: MeiliConfig) -> Result<(Self, bool), SearchError> {
        let client =
            Client::new(config.url.clone(), config.api_key.clone()).map_err(unavailable)?;
        let uid = format!("{}programs", config.index_prefix);
        let index = Self {
            client,
            uid,
            config,
        };
        let created = index.ensure(&index.uid).await?;
        Ok((index, created))
    }

    async fn wait(&self, task: TaskInfo) -> Result<(), SearchError> {
        let task = task
            .wait_for_completion(
                &self.client,
                Some(TASK_POLL),
                Some(self.config.write_timeout),
            )
            .await
            .map_err(unavailable)?;
        if task.is_success() {
            Ok(())
        } else {
            Err(SearchError::Internal(anyhow::anyhow!(
                "meilisearch task failed: {:?}",
                task.unwrap_failure()
            )))
        }
    }

    /// Creates `uid` if it does not exist and applies the settings; `true` if its
    /// documents must be (re)filled: the index is new, or was set up for documents of an
    /// older shape (its sortable attributes differ — every document field added so far
    /// has been sortable). It keeps serving the old documents while they are replaced.
    async fn ensure(&self, uid: &str) -> Result<bool, SearchError> {
        with_timeout(self.config.write_timeout, async {
            let mut refill = match self.client.get_index(uid).await {
                Ok(_) => false,
                Err(MeiliError::Meilisearch(e)) if e.error_code == ErrorCode::IndexNotFound => {
                    self.create(uid).await?
                }
                Err(e) => return Err(unavailable(e)),
            };
            if !refill {
                let mut sortable = self
                    .client
                    .index(uid)
                    .get_sortable_attributes()
                    .await
                    .map_err(unavailable)?;
                sortable.sort();
                let mut ours = SORTABLE.map(str::to_owned).to_vec();
                ours.sort();
                refill = sortable != ours;
            }
            let task = self
                .client
                .index(uid)
                .set_settings(&settings())
                .await
                .map_err(unavailable)?;
            self.wait(task).await?;
            Ok(refill)
        })
        .await
    }

    /// Waits until no earlier write to `uid` is still queued or running at the server.
    ///
    /// A write whose call timed out may still be applied later (Meilisearch queued it, or
    /// will, once it reads the request): sending a newer state of the same documents
    /// before it has finished could let the older one land last. So every write first
    /// waits for the index's unfinished tasks — whoever sent them (this process before a
    /// timeout or a crash, another replica) — and gives up, as unavailable, if they do
    /// not finish in time; the consumer's cursor then stays where it was and the batch is
    /// sent again later, after them.
    async fn settle(&self, uid: &str) -> Result<(), SearchError> {
        let mut query = TasksSearchQuery::new(&self.client);
        query
            .with_index_uids([uid])
            .with_statuses(["enqueued", "processing"]);
        let unfinished = self
            .client
            .get_tasks_with(&query)
            .await
            .map_err(unavailable)?;
        for task in unfinished.results {
            self.client
                .wait_for_task(task, Some(TASK_POLL), Some(self.config.write_timeout))
                .await
                .map_err(unavailable)?;
        }
        Ok(())
    }

    /// Creates `uid`; `true` if this call created it, `false` if another replica did
    /// meanwhile (any other failure is an error, not "it exists").
    async fn create(&self, uid: &str) -> Result<bool, SearchError> {
        let task = self
            .client
            .create_index(uid, Some(PRIMARY_KEY))
            .await
            .map_err(unavailable)?
            .wait_for_completion(
                &self.client,
                Some(TASK_POLL),
                Some(self.config.write_timeout),
            )
            .await
            .map_err(unavailable)?;
        match task {
            Task::Succeeded { .. } => Ok(true),
            Task::Failed { content }
                if content.error.error_code == ErrorCode::IndexAlreadyExists =>
            {
                Ok(false)
            }
            Task::Failed { content } => Err(SearchError::Internal(anyhow::anyhow!(
                "meilisearch could not create index {uid}: {}",
                content.error
            ))),
            Task::Enqueued { .. } | Task::Processing { .. } => Err(SearchError::Unavailable(
                format!("meilisearch did not create index {uid} in time"),
            )),
        }
    }

    async fn write(&self, uid: &str, changes: Vec<Change>) -> Result<(), SearchError> {
        let mut upserts = Vec::new();
        let mut deletes = Vec::new();
        for change in changes {
            match change {
                Change::Upsert(doc) => upserts.push(doc),
                Change::Delete(id) => deletes.push(id),
            }
        }
        let index = self.client.index(uid);
        with_timeout(self.config.write_timeout, async {
            self.settle(uid).await?;
            if !upserts.is_empty() {
                let task = index
                    .add_or_replace(&upserts, Some(PRIMARY_KEY))
                    .await
                    .map_err(unavailable)?;
                self.wait(task).await?;
            }
            if !deletes.is_empty() {
                let task = index
                    .delete_documents(&deletes)
                    .await
                    .map_err(unavailable)?;
                self.wait(task).await?;
            }
            Ok(())
        })
        .await
    }

    /// Deletes the live index (test clean-up).
    pub async fn delete(&self) -> Result<(), SearchError> {
        with_timeout(self.config.write_timeout, async {
            let task = self
                .client
                .delete_index(&self.uid)
                .await
                .map_err(unavailable)?;
            self.wait(task).await
        })
        .await
    }

    fn formatted(hit: &meilisearch_sdk::search::SearchResult<IdOnly>, attribute: &str) -> String {
        hit.formatted_result
            .as_ref()
            .and_then(|f| f.get(attribute))
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_owned()
    }
}

#[async_trait::async_trait]
impl SearchIndex for MeilisearchIndex {
    fn engine(&self) -> &'static str {
        "meilisearch"
    }

    async fn apply(&self, changes: Vec<Change>) -> Result<(), SearchError> {
        self.write(&self.uid, changes).await
    }

    async fn search(&self, request: &SearchRequest) -> Result<SearchResponse, SearchError> {
        let started = Instant::now();
        // Meilisearch reads the query as `query::parse` does: sent as typed.
        let text = request.query.as_str();
        let clauses = clauses(&request.filter);
        let all = expression(&clauses, None);
        let sort: &[&str] = match request.sort {
            SearchSort::Relevance => &[],
            SearchSort::Newest => &["published_at:desc"],
            SearchSort::HighestRate => &["best_rate_bps:desc"],
            SearchSort::HighestEarnings => &["average_earnings_usd_cents:desc"],
            SearchSort::Name => &["name:asc"],
        };
        let filtered: Vec<Facet> = Facet::ALL
            .into_iter()
            .filter(|f| clauses.iter().any(|(c, _)| *c == Some(*f)))
            .collect();
        let unfiltered: Vec<&str> = Facet::ALL
            .into_iter()
            .filter(|f| !filtered.contains(f))
            .map(Facet::attribute)
            .collect();
        let per_facet: Vec<(Facet, Option<String>, [&str; 1])> = filtered
            .iter()
            .map(|f| (*f, expression(&clauses, Some(*f)), [f.attribute()]))
            .collect();
        let index = self.client.index(&self.uid);
        let crop = [("description", Some(highlight::CROP_WORDS))];
        // Attributes left out of attributesToRetrieve are left out of `_formatted` too.
        let retrieve = ["program_id", "name", "tagline", "description"];
        let highlighted = ["name", "tagline", "description"];

        let mut page = SearchQuery::new(&index);
        page.with_query(text)
            .with_offset(request.offset)
            .with_limit(request.limit)
            .with_matching_strategy(MatchingStrategies::ALL)
            .with_attributes_to_retrieve(Selectors::Some(&retrieve))
            .with_attributes_to_highlight(Selectors::Some(&highlighted))
            .with_attributes_to_crop(Selectors::Some(&crop))
            .with_crop_marker(highlight::CROP_MARKER)
            .with_highlight_pre_tag(highlight::PRE)
            .with_highlight_post_tag(highlight::POST);
        if !sort.is_empty() {
            page.with_sort(sort);
        }
        if let Some(filter) = &all {
            page.with_filter(filter);
        }
        let mut count = SearchQuery::new(&index);
        count
            .with_query(text)
            .with_matching_strategy(MatchingStrategies::ALL)
            .with_page(0);
        if !unfiltered.is_empty() {
            count.with_facets(Selectors::Some(&unfiltered));
        }
        if let Some(filter) = &all {
            count.with_filter(filter);
        }
        let mut multi = self.client.multi_search();
        multi.with_search_query(page).with_search_query(count);
        for (_, filter, facet) in &per_facet {
            let mut query = SearchQuery::new(&index);
            query
                .with_query(text)
                .with_matching_strategy(MatchingStrategies::ALL)
                .with_page(0);
            query.with_facets(Selectors::Some(facet));
            if let Some(filter) = filter {
                query.with_filter(filter);
            }
            multi.with_search_query(query);
        }
        let response = with_timeout(self.config.search_timeout, async {
            multi.execute::<IdOnly>().await.map_err(unavailable)
        })
        .await?;

        let mut results = response.results.into_iter();
        let (Some(page), Some(count)) = (results.next(), results.next()) else {
            return Err(SearchError::Internal(anyhow::anyhow!(
                "meilisearch answered fewer searches than asked"
            )));
        };
        let mut facets = Facets::default();
        let mut collect = |result: &SearchResults<IdOnly>, facet: Facet| {
            if let Some(values) = result
                .facet_distribution
                .as_ref()
                .and_then(|d| d.get(facet.attribute()))
            {
                facets.get_mut(facet).extend(
                    values
                        .iter()
                        .map(|(v, c)| (v.clone(), u64::try_from(*c).unwrap_or(0))),
                );
            }
        };
        for facet in Facet::ALL.into_iter().filter(|f| !filtered.contains(f)) {
            collect(&count, facet);
        }
        for ((facet, _, _), result) in per_facet.iter().zip(results) {
            collect(&result, *facet);
        }
        let hits = page
            .hits
            .iter()
            .map(|hit| {
                let description = Self::formatted(hit, "description");
                Hit {
                    program_id: hit.result.program_id,
                    highlights: Highlights {
                        name: highlight::to_html(&Self::formatted(hit, "name")),
                        tagline: highlight::to_html(&Self::formatted(hit, "tagline")),
                        description: description
                            .contains(highlight::PRE)
                            .then(|| highlight::to_html(&description)),
                    },
                }
            })
            .collect();
        Ok(SearchResponse {
            hits,
            total: count
                .total_hits
                .map_or(0, |t| u64::try_from(t).unwrap_or(0)),
            facets: facets.sorted(),
            processing_time_ms: u64::try_from(page.processing_time_ms).unwrap_or_else(|_| {
                u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX)
            }),
        })
    }

    async fn health(&self) -> Result<(), SearchError> {
        with_timeout(self.config.search_timeout, async {
            self.client.health().await.map(drop).map_err(unavailable)
        })
        .await
    }

    async fn rebuild(&self) -> Result<Box<dyn Rebuild>, SearchError> {
        let uid = format!(
            "{}programs_rebuild_{}",
            self.config.index_prefix,
            chrono::Utc::now().format("%Y%m%d%H%M%S%6f")
        );
        self.ensure(&uid).await?;
        Ok(Box::new(MeiliRebuild {
            index: self.clone(),
            uid,
        }))
    }
}

/// A new index being filled; `finish` swaps it with the live one, then drops the old.
struct MeiliRebuild {
    index: MeilisearchIndex,
    uid: String,
}

#[async_trait::async_trait]
impl Rebuild for MeiliRebuild {
    async fn add(&mut self, documents: Vec<ProgramDocument>) -> Result<(), SearchError> {
        self.index
            .write(
                &self.uid,
                documents.into_iter().map(Change::Upsert).collect(),
            )
            .await
    }

    async fn finish(self: Box<Self>) -> Result<(), SearchError> {
        let index = &self.index;
        with_timeout(index.config.write_timeout, async {
            let swap = SwapIndexes {
                indexes: (index.uid.clone(), self.uid.clone()),
                rename: None,
            };
            let task = index
                .client
                .swap_indexes([&swap])
                .await
                .map_err(unavailable)?;
            index.wait(task).await?;
            let task = index
                .client
                .delete_index(&self.uid)
                .await
                .map_err(unavailable)?;
            index.wait(task).await
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_values_are_quoted_and_escaped_never_spliced() {
        assert_eq!(
            literal(r#"crm" OR category != "x"#),
            r#""crm\" OR category != \"x""#
        );
        assert_eq!(literal(r"back\slash"), r#""back\\slash""#);
        let filter = SearchFilter {
            categories: vec![r#"a"b"#.into(), "c:d".into()],
            ..SearchFilter::default()
        };
        assert_eq!(
            expression(&clauses(&filter), None).unwrap(),
            r#"(category IN ["a\"b", "c:d"])"#
        );
    }

    #[test]
    fn each_facet_is_counted_without_its_own_filter() {
        let filter = SearchFilter {
            categories: vec!["crm".into()],
            currencies: vec!["EUR".into()],
            recurring_only: true,
            ..SearchFilter::default()
        };
        let clauses = clauses(&filter);
        assert_eq!(
            expression(&clauses, Some(Facet::Category)).unwrap(),
            r#"(recurring = true) AND (currency IN ["EUR"])"#
        );
        assert_eq!(
            expression(&clauses, None).unwrap().matches(" AND ").count(),
            2
        );
    }
}
