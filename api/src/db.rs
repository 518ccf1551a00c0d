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
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DatabaseTransaction, DbBackend,
    DbErr, RuntimeErr, SqlErr, SqliteTransactionMode, Statement, TransactionOptions,
    TransactionTrait,
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
    // Short waits: with the database unreachable a request answers SERVICE_UNAVAILABLE
    // within about `acquire_timeout` instead of queueing behind a dead pool.
    options
        .max_connections(config.max_connections)
        .min_connections(1)
        .connect_timeout(config.acquire_timeout)
        .acquire_timeout(config.acquire_timeout)
        .sqlx_logging(false);
    if config.url.starts_with("postgres") {
        let timeout = format!("{}ms", config.statement_timeout.as_millis());
        options.map_sqlx_postgres_opts(move |opts| {
            // No statement may hold a connection and its locks for long.
            // Generic plans: every statement is prepared once per connection (sqlx caches
            // them), but PostgreSQL kept re-planning the listing page for each execution
            // (0.4 ms of planning for 0.14 ms of work) because a bound LIMIT makes the
            // generic plan look expensive. Our statements are keyset pages, primary-key
            // and IN lookups and per-program aggregates, whose plans do not depend on
            // the values bound; the generic plan of the page is the custom one.
            opts.options([
                ("statement_timeout", timeout.as_str()),
                ("plan_cache_mode", "force_generic_plan"),
            ])
        });
    }
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

/// Takes the write lock of a program's row, first thing in a write transaction.
///
/// **Lock order.** A transaction that writes anything hanging off a program (its
/// applications, enrollments, conversions, commissions or statistics) locks the program
/// row first, before any insert or other row lock; one that covers several programs
/// locks them in ascending id order. Every such writer of one program then queues on that
/// one row instead of meeting the others in a cycle. The lock is `FOR NO KEY UPDATE`,
/// which does not conflict with the `FOR KEY SHARE` locks that foreign-key checks take
/// on the program row, so inserts elsewhere that merely reference the program never wait
/// for it. SQLite needs nothing: [`begin_write`] already holds the database's one write
/// lock.
pub async fn lock_programs(txn: &DatabaseTransaction, program_ids: &[i64]) -> Result<(), DbErr> {
    if txn.get_database_backend() != DbBackend::Postgres || program_ids.is_empty() {
        return Ok(());
    }
    let mut ids = program_ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    let list = ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",");
    // `ORDER BY id` makes PostgreSQL take the row locks in that order.
    txn.execute_raw(Statement::from_string(
        DbBackend::Postgres,
        format!("SELECT id FROM program WHERE id IN ({list}) ORDER BY id FOR NO KEY UPDATE"),
    ))
    .await
    .map(drop)
}

/// [`begin_write`], then [`lock_programs`] for `program_id`: how every write of a
/// program's dependent rows starts.
pub async fn begin_program_write(
    db: &DatabaseConnection,
    program_id: i64,
) -> Result<DatabaseTransaction, DbErr> {
    let txn = begin_write(db).await?;
    lock_programs(&txn, &[program_id]).await?;
    Ok(txn)
}

/// The SQLSTATE of a database error, if the database sent one.
pub fn sqlstate(err: &DbErr) -> Option<String> {
    match err {
        DbErr::Exec(RuntimeErr::SqlxError(e))
        | DbErr::Query(RuntimeErr::SqlxError(e))
        | DbErr::Conn(RuntimeErr::SqlxError(e)) => match e.as_ref() {
            sea_orm::sqlx::Error::Database(db) => db.code().map(|c| c.into_owned()),
            _ => None,
        },
        _ => None,
    }
}

/// A serialization failure or a deadlock (PostgreSQL 40001 / 40P01): the transaction was
/// rolled back and may simply be run again.
pub fn is_transient_conflict(err: &DbErr) -> bool {
    sqlstate(err).is_some_and(|code| code == "40001" || code == "40P01")
}

/// The database could not be reached: no connection within the acquire timeout, or the
/// connection broke.
pub fn is_unavailable(err: &DbErr) -> bool {
    let sqlx = match err {
        DbErr::ConnectionAcquire(_) => return true,
        DbErr::Exec(RuntimeErr::SqlxError(e))
        | DbErr::Query(RuntimeErr::SqlxError(e))
        | DbErr::Conn(RuntimeErr::SqlxError(e)) => e.as_ref(),
        _ => return false,
    };
    use sea_orm::sqlx::Error;
    match sqlx {
        Error::PoolTimedOut | Error::PoolClosed | Error::Io(_) | Error::Tls(_) => true,
        // 57P01..57P03: the server is shutting down or not accepting connections;
        // 08xxx: connection exceptions.
        Error::Database(db) => db
            .code()
            .is_some_and(|c| c.starts_with("08") || c.starts_with("57P")),
        _ => false,
    }
}

/// PostgreSQL cancelled the statement at `statement_timeout` (57014).
pub fn is_statement_timeout(err: &DbErr) -> bool {
    sqlstate(err).is_some_and(|code| code == "57014")
}

/// Attempts of a transaction that lost to a serialization failure or deadlock.
const TRANSIENT_ATTEMPTS: u32 = 4;

/// Runs `attempt` again (up to four times in all, with a short randomised pause) when
/// it fails with a serialization failure or deadlock. With the lock order above these
/// should not happen; this is the safety net, so a client never sees one.
pub async fn retrying<T, F>(mut attempt: impl FnMut() -> F) -> Result<T, crate::error::AppError>
where
    F: std::future::Future<Output = Result<T, crate::error::AppError>>,
{
    let mut tries = 0;
    loop {
        tries += 1;
        match attempt().await {
            Err(e) if tries < TRANSIENT_ATTEMPTS && e.is_transient_conflict() => {
                let jitter = u64::from(getrandom::u32().unwrap_or(0) % 16);
                let pause = 5 * u64::from(tries) + jitter;
                tracing::warn!(
                    tries,
                    "transaction lost to a deadlock or serialization failure; retrying"
                );
                tokio::time::sleep(Duration::from_millis(pause)).await;
            }
            result => return result,
        }
    }
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
