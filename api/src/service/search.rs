//! Searching listings: checks the request, asks the engine under a deadline, and hydrates
//! the hits from the database in one batched query, in the engine's order, through the
//! same visibility rules as every read — a program unpublished a moment ago never shows,
//! even while the index lags. Also the zero-downtime rebuild of the index.

use std::collections::HashMap;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use entity::program::{self, ProgramStatus, Visibility};
use sea_orm::{ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect};

use super::{
    Services,
    events::consumer,
    indexer,
    pagination::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE},
    programs::{self, ProgramRecord},
};
use crate::{
    auth::Viewer,
    error::AppError,
    search::{
        self, Facets, Highlights, SearchFilter, SearchRequest, SearchSort, document,
        query::MAX_QUERY_CHARS,
    },
};

pub struct SearchInput {
    pub query: String,
    pub filter: SearchFilter,
    /// Leave out programs the viewer applied to or joined.
    pub exclude_mine: bool,
    pub sort: SearchSort,
    pub first: Option<i32>,
    pub after: Option<String>,
}

pub struct SearchItem {
    pub cursor: String,
    pub program: ProgramRecord,
    pub highlights: Highlights,
}

pub struct SearchPage {
    pub items: Vec<SearchItem>,
    pub total: u64,
    pub facets: Facets,
    pub processing_time_ms: u64,
    pub has_next_page: bool,
    pub has_previous_page: bool,
}

/// Search cursors are positions in the ranking (results are ranked, not keyed).
fn encode_cursor(position: usize) -> String {
    URL_SAFE_NO_PAD.encode(format!("search:{position}"))
}

fn decode_cursor(cursor: &str) -> Option<usize> {
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(cursor).ok()?).ok()?;
    text.strip_prefix("search:")?.parse().ok()
}

/// The deepest position a search cursor may name: the engines rank at most this many
/// hits (Meilisearch's `maxTotalHits`).
pub const MAX_SEARCH_POSITION: usize = 1_000_000;

/// Where the page after `cursor` starts, or `None` for a malformed cursor or one past
/// the deepest position (`search:18446744073709551615` used to overflow `+ 1`).
pub fn offset_after(cursor: &str) -> Option<usize> {
    decode_cursor(cursor)
        .filter(|position| *position < MAX_SEARCH_POSITION)
        .map(|position| position + 1)
}

fn bad(message: &str) -> AppError {
    AppError::BadUserInput(message.to_owned())
}

/// Programs the viewer has a live application to or a running partnership with.
async fn mine(services: &Services, viewer: &Viewer) -> Result<Vec<i64>, AppError> {
    super::applications::live_program_ids(services, viewer).await
}

#[tracing::instrument(skip_all, fields(query_chars = input.query.chars().count()))]
pub async fn search(
    services: &Services,
    viewer: &Viewer,
    input: SearchInput,
) -> Result<SearchPage, AppError> {
    if input.query.chars().count() > MAX_QUERY_CHARS {
        return Err(bad(&format!(
            "the query may have at most {MAX_QUERY_CHARS} characters"
        )));
    }
    let limit = match input.first {
        None => DEFAULT_PAGE_SIZE,
        Some(n) => u64::try_from(n)
            .ok()
            .filter(|n| (1..=MAX_PAGE_SIZE).contains(n))
            .ok_or_else(|| bad(&format!("`first` must be between 1 and {MAX_PAGE_SIZE}")))?,
    };
    let offset = match &input.after {
        None => 0,
        Some(cursor) => offset_after(cursor).ok_or_else(|| bad("the cursor is malformed"))?,
    };
    let mut filter = input.filter;
    if input.exclude_mine {
        filter.exclude_program_ids = mine(services, viewer).await?;
    }
    let request = SearchRequest {
        query: input.query,
        filter,
        sort: input.sort,
        offset,
        limit: usize::try_from(limit).unwrap_or(20),
    };
    let response = search::with_timeout(services.search_timeout, services.search.search(&request))
        .await
        .map_err(|e| AppError::SearchUnavailable(e.to_string()))?;

    let ids: Vec<i64> = response.hits.iter().map(|h| h.program_id).collect();
    // Listed (published and public) is stricter than every viewer's visibility, so the
    // hydration is a plain primary-key lookup checked here.
    let mut records: HashMap<i64, ProgramRecord> = programs::find_listed(services, &ids)
        .await?
        .into_iter()
        .map(|r| (r.program.id, r))
        .collect();
    let returned = response.hits.len();
    let items = response
        .hits
        .into_iter()
        .enumerate()
        .filter_map(|(i, hit)| {
            let program = records.remove(&hit.program_id)?;
            Some(SearchItem {
                cursor: encode_cursor(offset + i),
                program,
                highlights: hit.highlights,
            })
        })
        .collect();
    Ok(SearchPage {
        items,
        total: response.total,
        facets: response.facets,
        processing_time_ms: response.processing_time_ms,
        has_next_page: u64::try_from(offset + returned).unwrap_or(u64::MAX) < response.total,
        has_previous_page: offset > 0,
    })
}

/// Rebuilds the index from the database into a new one and swaps it in; searches see
/// the old index whole until the swap. Changes made meanwhile are replayed afterwards:
/// the indexer's cursor goes back to where the log stood when the rebuild began. Reports `(done, total)` as it goes; returns the documents indexed.
pub async fn reindex(
    services: &Services,
    batch: u64,
    mut progress: impl FnMut(u64, u64),
) -> Result<u64, AppError> {
    let started = consumer::settled_head(&services.db).await?;
    let unavailable = |e: search::SearchError| AppError::SearchUnavailable(e.to_string());
    let listed = || {
        program::Entity::find()
            .filter(program::Column::Status.eq(ProgramStatus::Published))
            .filter(program::Column::Visibility.eq(Visibility::Public))
    };
    let total = listed().count(&services.db).await?;
    let mut rebuild = services.search.rebuild().await.map_err(unavailable)?;
    let mut done = 0;
    let mut after = 0;
    progress(0, total);
    loop {
        let ids: Vec<i64> = listed()
            .filter(program::Column::Id.gt(after))
            .order_by_asc(program::Column::Id)
            .limit(batch.max(1))
            .select_only()
            .column(program::Column::Id)
            .into_tuple()
            .all(&services.db)
            .await?;
        let Some(last) = ids.last().copied() else {
            break;
        };
        let documents: Vec<_> = document::load(&services.db, &ids)
            .await?
            .into_values()
            .flatten()
            .collect();
        done += u64::try_from(documents.len()).unwrap_or(0);
        rebuild.add(documents).await.map_err(unavailable)?;
        after = last;
        progress(done.min(total), total);
    }
    rebuild.finish().await.map_err(unavailable)?;
    consumer::rewind(&services.db, indexer::NAME, started).await?;
    tracing::info!(documents = done, "search index rebuilt and swapped in");
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_are_opaque_positions() {
        assert_eq!(decode_cursor(&encode_cursor(41)), Some(41));
        assert_eq!(decode_cursor("garbage"), None);
        assert_eq!(decode_cursor(&URL_SAFE_NO_PAD.encode("search:-1")), None);
        assert_eq!(offset_after(&encode_cursor(41)), Some(42));
        let huge = URL_SAFE_NO_PAD.encode(format!("search:{}", u64::MAX));
        assert_eq!(offset_after(&huge), None, "no overflow, no wrap");
        assert_eq!(offset_after(&encode_cursor(MAX_SEARCH_POSITION)), None);
    }
}
