//! Database connections for both engines: the embedded SQLite file (WAL) and PostgreSQL.

use std::{
    path::Path,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use sea_orm::{
    ConnectOptions, Database, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, SqlErr,
    SqliteTransactionMode, TransactionOptions, TransactionTrait,
    sqlx::sqlite::{SqliteJournalMode, SqliteSynchronous},
};

use crate::config::DatabaseConfig;

/// Counts every SQL statement sent, for `/metrics` and the N+1 tests.
#[derive(Clone, Default)]
pub struct StatementCounter(Arc<AtomicU64>);

impl StatementCounter {
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

pub async fn connect(
    config: &DatabaseConfig,
) -> Result<(DatabaseConnection, StatementCounter), DbErr> {
    let mut options = ConnectOptions::new(config.url.clone());
    options
        .max_connections(config.max_connections)
        .min_connections(1)
        .connect_timeout(Duration::from_secs(10))
        .acquire_timeout(Duration::from_secs(10))
        .sqlx_logging(false);
    if config.url.starts_with("sqlite:") {
        ensure_sqlite_dir(&config.url)?;
        options.map_sqlx_sqlite_opts(|opts| {
            opts.journal_mode(SqliteJournalMode::Wal)
                .synchronous(SqliteSynchronous::Normal)
                // Writers queue for the single write lock instead of failing with SQLITE_BUSY.
                .busy_timeout(Duration::from_secs(15))
                .foreign_keys(true)
        });
    }
    if let Some(schema) = &config.schema {
        options.set_schema_search_path(schema.clone());
    }
    let mut db = Database::connect(options).await?;
    let counter = StatementCounter::default();
    let count = counter.0.clone();
    db.set_metric_callback(move |_| {
        count.fetch_add(1, Ordering::Relaxed);
    });
    Ok((db, counter))
}

/// Starts a write transaction. On SQLite it takes the write lock up front (`BEGIN
/// IMMEDIATE`): a deferred transaction that reads and then writes can fail with
/// SQLITE_BUSY when another writer got in between, and busy_timeout cannot help it.
pub async fn begin_write(db: &DatabaseConnection) -> Result<DatabaseTransaction, DbErr> {
    let mut options = TransactionOptions::default();
    if db.get_database_backend() == DbBackend::Sqlite {
        options.sqlite_transaction_mode = Some(SqliteTransactionMode::Immediate);
    }
    db.begin_with_options(options).await
}

/// `Some(constraint text)` when `err` is a unique-constraint violation. The text names the
/// constraint (PostgreSQL) or the columns (SQLite), so callers can tell which field clashed.
pub fn unique_violation(err: &DbErr) -> Option<String> {
    match err.sql_err() {
        Some(SqlErr::UniqueConstraintViolation(message)) => Some(message),
        _ => None,
    }
}

fn ensure_sqlite_dir(url: &str) -> Result<(), DbErr> {
    let rest = url.trim_start_matches("sqlite:").trim_start_matches("//");
    let file = rest.split('?').next().unwrap_or_default();
    if file.is_empty() || file.starts_with(':') {
        return Ok(()); // in-memory
    }
    if let Some(dir) = Path::new(file)
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
    {
        std::fs::create_dir_all(dir)
            .map_err(|e| DbErr::Custom(format!("cannot create {}: {e}", dir.display())))?;
    }
    Ok(())
}
