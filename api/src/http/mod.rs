//! HTTP transport: routes, the GraphQL-over-HTTP handler, health checks, request ids.

pub mod graphql;
pub mod health;
pub mod order;
pub mod persisted;
pub mod request_id;
pub mod response_cache;
pub mod subscriptions;
