//! Per-request DataLoaders: created for every request (never shared on the schema, so
//! one request's cache never answers another's), batching each relation into one `IN`
//! query. The batch delay is zero: resolvers of a list register their keys in the same
//! poll, so waiting adds latency without adding keys.

use std::{collections::HashMap, sync::Arc, time::Duration};

use async_graphql::dataloader::{DataLoader, Loader};
use entity::{
    application, application_event, application_question, enrollment, partner, program_stats,
    program_tier,
};

use crate::{
    auth::Viewer,
    error::AppError,
    service::{
        Services, applications, partners,
        programs::{self, ProgramRecord, RuleWithTier},
    },
};

pub struct Loaders {
    services: Services,
    /// The request's caller, for the `viewer…` fields.
    viewer: Viewer,
}

pub type AppLoader = DataLoader<Loaders>;

pub fn per_request(services: Services, viewer: Viewer) -> AppLoader {
    DataLoader::new(Loaders { services, viewer }, tokio::spawn).delay(Duration::ZERO)
}

/// A program by id, for objects whose reader may see it (an application's program).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ProgramById(pub i64);

/// A partner profile by id, for objects whose reader may see it (an applicant).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PartnerById(pub i64);

/// A tier by id.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TierById(pub i64);

/// The active application questions of a program.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct QuestionsOf(pub i64);

/// The enrollment an application led to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct EnrollmentOf(pub i64);

/// The funnel events of an application.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct EventsOf(pub i64);

/// The statistics of a program.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StatsOf(pub i64);

/// The viewer's latest application to a program.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ViewerApplication(pub i64);

/// The viewer's latest partnership with a program.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ViewerEnrollment(pub i64);

macro_rules! loader {
    ($key:ident, $value:ty, |$this:ident, $ids:ident| $load:expr) => {
        impl Loader<$key> for Loaders {
            type Value = $value;
            type Error = Arc<AppError>;

            async fn load(&self, keys: &[$key]) -> Result<HashMap<$key, Self::Value>, Self::Error> {
                let $this = self;
                let $ids: Vec<i64> = keys.iter().map(|k| k.0).collect();
                let found: HashMap<i64, $value> = $load.map_err(Arc::new)?;
                Ok(keys
                    .iter()
                    .filter_map(|k| found.get(&k.0).map(|v| (*k, v.clone())))
                    .collect())
            }
        }
    };
}

loader!(ProgramById, ProgramRecord, |this, ids| {
    programs::records_by_ids(&this.services, &ids)
        .await
        .map(|rows| rows.into_iter().map(|r| (r.program.id, r)).collect())
});
loader!(PartnerById, partner::Model, |this, ids| {
    partners::by_ids(&this.services, &ids)
        .await
        .map(|rows| rows.into_iter().map(|p| (p.id, p)).collect())
});
loader!(TierById, program_tier::Model, |this, ids| {
    programs::tiers_by_plain_ids(&this.services, &ids)
        .await
        .map(|rows| rows.into_iter().map(|t| (t.id, t)).collect())
});
loader!(
    QuestionsOf,
    Vec<application_question::Model>,
    |this, ids| { applications::questions_of(&this.services, &ids).await }
);
loader!(EnrollmentOf, enrollment::Model, |this, ids| {
    applications::enrollment_of_applications(&this.services, &ids).await
});
loader!(EventsOf, Vec<application_event::Model>, |this, ids| {
    applications::application_events(&this.services, &ids).await
});
loader!(StatsOf, program_stats::Model, |this, ids| {
    crate::service::stats::of_programs(&this.services.db, &ids).await
});
loader!(ViewerApplication, application::Model, |this, ids| {
    applications::viewer_applications(&this.services, &this.viewer, &ids).await
});
loader!(ViewerEnrollment, enrollment::Model, |this, ids| {
    applications::viewer_enrollments(&this.services, &this.viewer, &ids).await
});

/// Every exchange rate (US dollar millionths per unit, by currency): one small table,
/// read at most once per request.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ExchangeRates;

impl Loader<ExchangeRates> for Loaders {
    type Value = Arc<HashMap<String, i64>>;
    type Error = Arc<AppError>;

    async fn load(
        &self,
        _: &[ExchangeRates],
    ) -> Result<HashMap<ExchangeRates, Self::Value>, Self::Error> {
        let rates = crate::service::reference::exchange_rates::all(&self.services.db)
            .await
            .map_err(Arc::new)?;
        Ok(HashMap::from([(ExchangeRates, Arc::new(rates))]))
    }
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
