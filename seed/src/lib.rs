//! Demo and benchmark data, as plain data. The API's service layer writes it, so it passes
//! every rule a real user's data would; this crate knows nothing of databases.

pub mod bench;
pub mod demo;
mod rng;
pub mod spec;

pub use demo::{DEMO_PASSWORD, DEMO_USERS, DemoUser};
