//! The search indexer: the consumer of the event log that keeps the search engine in
//! step with the database. For every batch it works out which programs' documents the
//! events touched (a listing change names its program; a vendor's new name reaches all
//! its programs; a new exchange rate all programs in that currency), reads their current
//! state and upserts or deletes their documents. Rebuilding from the current state makes
//! replays harmless, and an older state can never land after a newer one: batches apply
//! one at a time, in log order, from one drainer.
//!
//! While the engine is down a batch fails and is retried with backoff; every change stays
//! in the log behind the indexer's cursor, so nothing is lost and the index converges
//! when the engine returns.

use std::{collections::BTreeSet, sync::Arc, time::Duration};

use entity::{event, program};
use sea_orm::{ColumnTrait, DatabaseConnection, EntityTrait, QueryFilter, QuerySelect};

use super::events::consumer::{Consumer, Start};
use crate::{
    changes::Changes,
    error::AppError,
    search::{Change, SearchIndex, document, with_timeout},
    service::Services,
};

/// The indexer's cursor.
pub const NAME: &str = "search_indexer";

pub struct SearchIndexer {
    pub engine: Arc<dyn SearchIndex>,
    pub write_timeout: Duration,
    /// Told after every write: searches answer differently from then on (the response
    /// cache keeps no answer computed before it).
    pub changes: Arc<Changes>,
}

impl SearchIndexer {
    /// The indexer of `services`' engine, each write given `write_timeout`.
    pub fn new(services: &Services, write_timeout: Duration) -> Self {
        Self {
            engine: Arc::clone(&services.search),
            write_timeout,
            changes: Arc::clone(&services.changes),
        }
    }
}

#[async_trait::async_trait]
impl Consumer for SearchIndexer {
    fn name(&self) -> &'static str {
        NAME
    }

    fn start(&self) -> Start {
        Start::Beginning
    }

    async fn handle(&self, db: &DatabaseConnection, events: &[event::Model]) -> Result<(), String> {
        let programs = touched_programs(db, events)
            .await
            .map_err(|e| format!("{e:?}"))?;
        if programs.is_empty() {
            return Ok(());
        }
        let mut documents = document::load(db, &programs)
            .await
            .map_err(|e| format!("{e:?}"))?;
        let changes: Vec<Change> = programs
            .iter()
            .map(|id| match documents.remove(id).flatten() {
                Some(doc) => Change::Upsert(doc),
                None => Change::Delete(*id),
            })
            .collect();
        with_timeout(self.write_timeout, self.engine.apply(changes))
            .await
            .map_err(|e| e.to_string())?;
        self.changes.announce(db).await;
        Ok(())
    }
}

/// The programs whose documents `events` may have changed.
async fn touched_programs(
    db: &DatabaseConnection,
    events: &[event::Model],
) -> Result<Vec<i64>, AppError> {
    let mut programs = BTreeSet::new();
    let mut vendors = BTreeSet::new();
    let mut currencies = BTreeSet::new();
    for e in events {
        let kind = e.event_type.as_str();
        if kind.starts_with("program.") || kind == "search.reindex_requested" {
            programs.extend(e.program_id);
        } else if kind == "vendor.updated" {
            vendors.extend(e.vendor_id);
        } else if kind == "exchange_rate.changed"
            && let Some(currency) = e.payload.get("currency").and_then(|c| c.as_str())
        {
            currencies.insert(currency.to_owned());
        }
    }
    if !vendors.is_empty() || !currencies.is_empty() {
        let more: Vec<i64> = program::Entity::find()
            .select_only()
            .column(program::Column::Id)
            .filter(
                sea_orm::Condition::any()
                    .add(program::Column::VendorId.is_in(vendors))
                    .add(program::Column::Currency.is_in(currencies)),
            )
            .into_tuple()
            .all(db)
            .await?;
        programs.extend(more);
    }
    Ok(programs.into_iter().collect())
}
