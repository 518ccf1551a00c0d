//! Per-request DataLoaders: created for every request (never shared on the schema, so
//! one request's cache never answers another's), batching each relation into one `IN`
//! query. A batch runs when the request's execution goes idle ([`super::idle`]), not
//! after a timer.
//!
//! Every loader is either **scoped** (it applies the request viewer's visibility, like
//! `node(id)` does) or named `…Unchecked`. An unchecked loader reads by id without a
//! visibility check; its precondition, stated on the key, is that the parent object
//! was itself read through a scoped query and that seeing the parent implies seeing
//! the child (a visible application's program, a visible program's rules).

use std::{collections::HashMap, sync::Arc, time::Duration};

use async_graphql::dataloader::{DataLoader, Loader};
use entity::{
    application_event, application_question, enrollment, partner, program_tier,
    vendor_member::VendorRole,
};
use tokio::sync::OnceCell;

use super::idle::IdleSignal;
use crate::{
    auth::Viewer,
    error::AppError,
    service::{
        Services, applications, partners,
        programs::{self, ProgramRecord, RuleWithTier},
        vendors,
    },
};

pub struct Loaders {
    services: Services,
    /// The request's caller, for the `viewer…` fields.
    viewer: Viewer,
    /// The viewer's roles on all their teams, read at most once per request (the
    /// `viewerRole` of every vendor and the earnings disclosure of every program).
    my_roles: OnceCell<Arc<HashMap<i64, VendorRole>>>,
}

impl Loaders {
    /// The viewer's role by vendor, read once per request.
    pub async fn my_roles(&self) -> Result<Arc<HashMap<i64, VendorRole>>, AppError> {
        self.my_roles
            .get_or_try_init(|| async {
                Ok(Arc::new(
                    vendors::my_roles(&self.services.db, &self.viewer).await?,
                ))
            })
            .await
            .cloned()
    }
}

pub type AppLoader = DataLoader<Loaders>;

pub fn per_request(services: Services, viewer: Viewer, idle: Arc<IdleSignal>) -> AppLoader {
    DataLoader::new(
        Loaders {
            services,
            viewer,
            my_roles: OnceCell::new(),
        },
        move |load| {
            let ready = idle.after();
            tokio::spawn(async move {
                ready.await;
                load.await;
            })
        },
    )
    .delay(Duration::ZERO)
}

/// A program by id. Unchecked: for the program of an application, partnership,
/// conversion or analytics row the viewer already reads (those exist only for programs
/// that were published, which never return to draft).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ProgramByIdUnchecked(pub i64);

/// A partner profile by id. Scoped: `partners::visible_to` (the partner, the vendor
/// teams they applied to, API keys by scope, platform admins); null otherwise.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PartnerById(pub i64);

/// A tier by id. Unchecked: for the tier of a partnership the viewer reads (tiers are
/// part of a visible program's published terms).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TierByIdUnchecked(pub i64);

/// The active application questions of a program. Unchecked: for a program the viewer
/// reads (its form is public with it).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct QuestionsOfUnchecked(pub i64);

/// The enrollment an application led to. Scoped: only where the viewer may read
/// partnerships (an `applications:read` key alone may not).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct EnrollmentOf(pub i64);

/// The funnel events of an application. Unchecked: for an application the viewer reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct EventsOfUnchecked(pub i64);

/// The viewer's role on a vendor's team (none when logged out or not on it). Scoped by
/// construction: it reads only the viewer's own memberships.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ViewerRoleIn(pub i64);

/// The viewer's latest application to a program and latest partnership with it (both
/// `viewer…` fields of a listing share one statement). Scoped by construction: it reads
/// only the viewer's own rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ViewerRelationTo(pub i64);

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

loader!(ProgramByIdUnchecked, ProgramRecord, |this, ids| {
    programs::records_by_ids(&this.services, &ids)
        .await
        .map(|rows| rows.into_iter().map(|r| (r.program.id, r)).collect())
});
loader!(PartnerById, partner::Model, |this, ids| {
    partners::find_many(&this.services, &this.viewer, &ids)
        .await
        .map(|rows| rows.into_iter().map(|p| (p.id, p)).collect())
});
loader!(TierByIdUnchecked, program_tier::Model, |this, ids| {
    programs::tiers_by_plain_ids(&this.services, &ids)
        .await
        .map(|rows| rows.into_iter().map(|t| (t.id, t)).collect())
});
loader!(
    QuestionsOfUnchecked,
    Vec<application_question::Model>,
    |this, ids| { applications::questions_of(&this.services, &ids).await }
);
loader!(EnrollmentOf, enrollment::Model, |this, ids| {
    applications::enrollment_of_applications(&this.services, &this.viewer, &ids).await
});
loader!(
    EventsOfUnchecked,
    Vec<application_event::Model>,
    |this, ids| { applications::application_events(&this.services, &ids).await }
);
loader!(ViewerRoleIn, VendorRole, |this, ids| {
    this.my_roles().await.map(|roles| {
        ids.iter()
            .filter_map(|id| roles.get(id).map(|role| (*id, *role)))
            .collect::<HashMap<_, _>>()
    })
});
loader!(
    ViewerRelationTo,
    applications::ViewerRelation,
    |this, ids| { applications::viewer_relations(&this.services, &this.viewer, &ids).await }
);

/// Every exchange rate (US dollar millionths per unit, by currency): one small table of
/// public reference data, read at most once per request.
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

/// The tiers of a program, lowest rank first. Unchecked: for a program the viewer reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TiersOfUnchecked(pub i64);

/// The active commission rules of a program, in order, each with its tier. Unchecked:
/// for a program the viewer reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct RulesOfUnchecked(pub i64);

fn by_key<K: Copy + Eq + std::hash::Hash, V: Default>(
    keys: &[K],
    id: impl Fn(K) -> i64,
    mut found: HashMap<i64, V>,
) -> HashMap<K, V> {
    keys.iter()
        .map(|k| (*k, found.remove(&id(*k)).unwrap_or_default()))
        .collect()
}

impl Loader<TiersOfUnchecked> for Loaders {
    type Value = Vec<program_tier::Model>;
    type Error = Arc<AppError>;

    async fn load(
        &self,
        keys: &[TiersOfUnchecked],
    ) -> Result<HashMap<TiersOfUnchecked, Self::Value>, Self::Error> {
        let ids: Vec<i64> = keys.iter().map(|k| k.0).collect();
        let found = programs::tiers_of(&self.services, &ids)
            .await
            .map_err(Arc::new)?;
        Ok(by_key(keys, |k| k.0, found))
    }
}

impl Loader<RulesOfUnchecked> for Loaders {
    type Value = Vec<RuleWithTier>;
    type Error = Arc<AppError>;

    async fn load(
        &self,
        keys: &[RulesOfUnchecked],
    ) -> Result<HashMap<RulesOfUnchecked, Self::Value>, Self::Error> {
        let ids: Vec<i64> = keys.iter().map(|k| k.0).collect();
        let found = programs::rules_of(&self.services, &ids)
            .await
            .map_err(Arc::new)?;
        Ok(by_key(keys, |k| k.0, found))
    }
}
