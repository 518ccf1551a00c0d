//! The partner-marketplace API server as a library: `main.rs`, the seed command and the
//! black-box tests all build the same [`startup::Application`].

pub mod auth;
pub mod changes;
pub mod config;
pub mod db;
pub mod error;
pub mod graphql;
pub mod http;
pub mod progress;
pub mod search;
pub mod service;
pub mod startup;
pub mod telemetry;
