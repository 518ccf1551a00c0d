//! GraphQL transport: the schema, its types and resolvers. Resolvers are thin adapters
//! that read the request context, call one service function and convert the result.

mod accounts;
mod analytics;
mod api_keys;
mod applications;
mod categories;
mod connection;
mod context;
pub mod documents;
mod error;
mod events;
mod exchange_rates;
pub mod idle;
mod input;
mod ledger;
mod limits;
mod loaders;
mod money;
pub mod precheck;
mod programs;
pub mod relay;
mod schema;
mod search;
mod subscriptions;
mod vendors;
mod webhooks;

pub use context::RequestInfo;
pub use error::GqlResultExt;
pub use limits::{
    Operation, RequestLimits, admit, charge_cost, charged_points, cost_extension, parse_failed,
    request_error_code,
};
pub use schema::{AppSchema, build_schema, request_limits, sdl};

use crate::service::Services;

/// Attaches what one execution needs: who is asking, and fresh DataLoaders (never
/// shared between requests, so one caller's cache cannot answer another's).
/// The execution must run inside [`idle::UntilIdle`] with the same `idle` signal: the
/// loaders' batches wait for it.
pub fn with_request_data(
    request: async_graphql::Request,
    services: &Services,
    info: RequestInfo,
    idle: std::sync::Arc<idle::IdleSignal>,
) -> async_graphql::Request {
    let viewer = info.auth.clone().unwrap_or(crate::auth::Viewer::Anonymous);
    request
        .data(info)
        .data(loaders::per_request(services.clone(), viewer, idle))
}
