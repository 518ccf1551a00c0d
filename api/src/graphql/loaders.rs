//! Per-request DataLoaders: created for every request (never shared on the schema, so
//! one request's cache never answers another's), batching each relation into one `IN`
//! query. The batch delay is zero: resolvers of a list register their keys in the same
//! poll, so waiting adds latency without adding keys.

use std::{collections::HashMap, sync::Arc, time::Duration};

use async_graphql::dataloader::{DataLoader, Loader};
use entity::program_tier;

use crate::{
    error::AppError,
    service::{
        Services,
        programs::{self, RuleWithTier},
    },
};

pub struct Loaders {
    services: Services,
}

pub type AppLoader = DataLoader<Loaders>;

pub fn per_request(services: Services) -> AppLoader {
    DataLoader::new(Loaders { services }, tokio::spawn).delay(Duration::ZERO)
}

/// The tiers of a program, lowest rank first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TiersOf(pub i64);

/// The active commission rules of a program, in order, each with its tier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RulesOf(pub i64);

fn by_key<K: Copy + Eq + std::hash::Hash, V: Default>(
    keys: &[K],
    id: impl Fn(K) -> i64,
    mut found: HashMap<i64, V>,
) -> HashMap<K, V> {
    keys.iter()
        .map(|k| (*k, found.remove(&id(*k)).unwrap_or_default()))
        .collect()
}

impl Loader<TiersOf> for Loaders {
    type Value = Vec<program_tier::Model>;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[TiersOf]) -> Result<HashMap<TiersOf, Self::Value>, Self::Error> {
        let ids: Vec<i64> = keys.iter().map(|k| k.0).collect();
        let found = programs::tiers_of(&self.services, &ids)
            .await
            .map_err(Arc::new)?;
        Ok(by_key(keys, |k| k.0, found))
    }
}

impl Loader<RulesOf> for Loaders {
    type Value = Vec<RuleWithTier>;
    type Error = Arc<AppError>;

    async fn load(&self, keys: &[RulesOf]) -> Result<HashMap<RulesOf, Self::Value>, Self::Error> {
        let ids: Vec<i64> = keys.iter().map(|k| k.0).collect();
        let found = programs::rules_of(&self.services, &ids)
            .await
            .map_err(Arc::new)?;
        Ok(by_key(keys, |k| k.0, found))
    }
}
