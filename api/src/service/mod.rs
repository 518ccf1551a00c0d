//! The domain: rules, authorization and transactions. Knows nothing of HTTP or GraphQL;
//! resolvers call one function here per operation.

pub mod accounts;
pub mod analytics;
pub mod api_keys;
pub mod applications;
pub mod demo;
pub mod events;
pub mod indexer;
pub mod ledger;
pub mod limits;
pub mod pagination;
pub mod partners;
pub mod programs;
pub mod reference;
pub mod search;
pub mod stats;
pub mod users;
pub mod validate;
pub mod vendors;
pub mod webhooks;

use std::{sync::Arc, time::Duration};

use sea_orm::DatabaseConnection;

use crate::{
    auth::{AccessTokens, PasswordHasher, Viewer},
    db::StatementCounter,
    error::AppError,
    search::SearchIndex,
};

/// The current time at the precision both databases store (microseconds), so a value
/// read back equals the value written and keyset cursors compare exactly.
pub fn now() -> chrono::DateTime<chrono::Utc> {
    use chrono::SubsecRound;
    chrono::Utc::now().trunc_subsecs(6)
}

/// Everything a service function needs, cheap to clone (all handles are shared).
#[derive(Clone)]
pub struct Services {
    pub db: DatabaseConnection,
    pub access_tokens: Arc<AccessTokens>,
    pub passwords: PasswordHasher,
    pub refresh_token_ttl: Duration,
    pub statements: StatementCounter,
    pub search: Arc<dyn SearchIndex>,
    pub search_timeout: Duration,
    pub search_write_timeout: Duration,
    /// Rate limits shared across replicas through the database.
    pub limiter: Arc<limits::Limiter>,
    /// The generation of committed data, moved by every announced change.
    pub changes: Arc<crate::changes::Changes>,
    /// This replica's tail of the event log, for subscriptions.
    pub broadcaster: Arc<events::live::Broadcaster>,
    /// Wakes this replica's webhook sender when deliveries were queued.
    pub webhooks_queued: Arc<tokio::sync::Notify>,
    pub webhook_config: crate::config::WebhookConfig,
}

impl Services {
    /// The services of one process on `db`, with `search` as its engine.
    pub async fn new(
        db: DatabaseConnection,
        statements: StatementCounter,
        search: Arc<dyn SearchIndex>,
        config: &crate::config::Config,
    ) -> Result<Self, AppError> {
        let auth = &config.auth;
        let search_config = &config.search;
        Ok(Self {
            changes: Arc::new(crate::changes::Changes::new(
                &db,
                config.database.schema.as_deref(),
            )),
            broadcaster: Arc::default(),
            webhooks_queued: Arc::default(),
            webhook_config: config.webhooks.clone(),
            db,
            access_tokens: Arc::new(AccessTokens::new(auth)?),
            passwords: PasswordHasher::new(auth).await?,
            refresh_token_ttl: auth.refresh_token_ttl,
            statements,
            search,
            search_timeout: search_config.search_timeout,
            search_write_timeout: search_config.write_timeout,
            limiter: Arc::new(limits::Limiter::new(config.limits.clone())),
        })
    }
}

/// Who performs an operation, and under which request: what authorization checks,
/// rate limits and audit events are written against.
#[derive(Debug, Clone)]
pub struct Actor {
    pub viewer: Viewer,
    pub request_id: Option<String>,
    /// The client's address (rate limits per IP); `None` for the system itself.
    pub client_ip: Option<std::net::IpAddr>,
}

impl Actor {
    pub fn new(viewer: Viewer, request_id: Option<String>) -> Self {
        Self {
            viewer,
            request_id,
            client_ip: None,
        }
    }

    /// The same actor, calling from `ip`.
    pub fn from_ip(mut self, ip: Option<std::net::IpAddr>) -> Self {
        self.client_ip = ip;
        self
    }

    /// An operation run by the system itself (seeding, background jobs).
    pub fn system() -> Self {
        Self::new(Viewer::Anonymous, None)
    }
}
