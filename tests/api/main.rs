//! Black-box tests of the API: each test starts the real server on port 0 with a fresh
//! database and talks to it over HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test code

mod accounts;
mod api_keys;
mod application_authorization;
mod applications;
mod authorization;
mod concurrency;
mod earnings_search;
mod errors;
mod events;
mod hostile;
mod http;
mod isolation;
mod ledger;
mod limits;
mod listing;
mod meili_order;
mod migrations;
mod persisted_queries;
mod programs;
mod readme_limits;
mod relay;
mod response_cache;
mod schema;
mod search;
mod search_contract;
mod seed;
mod subscriptions;
mod tokens;
mod vendors;
mod webhooks;
