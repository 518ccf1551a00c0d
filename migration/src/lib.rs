//! Database schema, as ordered sea-orm migrations that run on SQLite and PostgreSQL.
//!
//! Migrations describe tables only: they never import the `entity` crate (entities change
//! with the code, migrations must not) and never insert demo data (that lives in `seed/`).

pub use sea_orm_migration::prelude::*;

mod m20261121_000001_accounts;
mod m20261121_000002_listings;
mod m20261121_000003_search_outbox;
mod m20261121_000004_applications;
mod m20261121_000005_api_keys;
mod m20261121_000006_ledger;
mod m20261121_000007_program_stats;
mod m20261201_000008_hardening;
mod m20261206_000009_events;
mod m20261206_000010_webhooks;
mod m20261206_000011_persisted_queries;

/// Every migration of the project, oldest first.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261121_000001_accounts::Migration),
            Box::new(m20261121_000002_listings::Migration),
            Box::new(m20261121_000003_search_outbox::Migration),
            Box::new(m20261121_000004_applications::Migration),
            Box::new(m20261121_000005_api_keys::Migration),
            Box::new(m20261121_000006_ledger::Migration),
            Box::new(m20261121_000007_program_stats::Migration),
            Box::new(m20261201_000008_hardening::Migration),
            Box::new(m20261206_000009_events::Migration),
            Box::new(m20261206_000010_webhooks::Migration),
            Box::new(m20261206_000011_persisted_queries::Migration),
        ]
    }
}
