//! The transactional outbox. Every change that alters a listing's document writes a
//! `search_outbox` row in the same transaction as the change; draining reads the current
//! state of those programs from the database, upserts or deletes their documents, and
//! deletes the rows only once the engine confirmed. A failure keeps the rows and retries
//! them later with exponential backoff, so nothing acknowledged is lost and the index
//! converges when the engine returns.
//!
//! On PostgreSQL one drainer runs at a time across replicas (a transaction-level advisory
//! lock); otherwise two replicas could apply an older and a newer state of one program in
//! the wrong order. The embedded mode is one process with one worker.

use std::{collections::BTreeSet, time::Duration};

use chrono::{DateTime, Utc};
use entity::{program, search_outbox};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, DbErr, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Statement, TransactionTrait,
    sea_query::{Expr, ExprTrait, Query},
};

use super::{Change, SearchIndex, document, with_timeout};
use crate::error::AppError;

/// Advisory lock of the drainer: advisory locks are database-wide, so the key is the
/// drainer's class ("SRCH") and the hash of the schema whose outbox it drains —
/// environments (or tests) sharing one database in separate schemas never block each
/// other, while replicas of one environment drain one at a time.
const DRAIN_LOCK_CLASS: i32 = 0x5352_4348;
/// Longest wait between retries of a failing batch.
const MAX_BACKOFF_SECS: i64 = 300;

fn now() -> DateTime<Utc> {
    crate::service::now()
}

/// Announces that these programs' documents must be rebuilt.
pub async fn enqueue(conn: &impl ConnectionTrait, program_ids: &[i64]) -> Result<(), DbErr> {
    let now = now();
    // 5 parameters a row: stay far below SQLite's 32,766 per statement.
    for chunk in program_ids.chunks(2_000) {
        let rows = chunk.iter().map(|id| search_outbox::ActiveModel {
            id: sea_orm::NotSet,
            program_id: sea_orm::Set(*id),
            created_at: sea_orm::Set(now),
            attempts: sea_orm::Set(0),
            next_attempt_at: sea_orm::Set(now),
            last_error: sea_orm::Set(None),
        });
        search_outbox::Entity::insert_many(rows)
            .exec_without_returning(conn)
            .await?;
    }
    Ok(())
}

/// Announces every program matching `filter` (one `INSERT … SELECT`).
async fn enqueue_where(
    conn: &impl ConnectionTrait,
    filter: sea_orm::Condition,
) -> Result<u64, DbErr> {
    let now = now();
    let select = Query::select()
        .column(program::Column::Id)
        .expr(Expr::val(now))
        .expr(Expr::val(0))
        .expr(Expr::val(now))
        .from(program::Entity)
        .cond_where(filter)
        .to_owned();
    let insert = Query::insert()
        .into_table(search_outbox::Entity)
        .columns([
            search_outbox::Column::ProgramId,
            search_outbox::Column::CreatedAt,
            search_outbox::Column::Attempts,
            search_outbox::Column::NextAttemptAt,
        ])
        .select_from(select)
        .map_err(|e| DbErr::Custom(e.to_string()))?
        .to_owned();
    Ok(conn.execute(&insert).await?.rows_affected())
}

/// Every program of a vendor (its name is in their documents).
pub async fn enqueue_vendor(conn: &impl ConnectionTrait, vendor_id: i64) -> Result<u64, DbErr> {
    enqueue_where(
        conn,
        sea_orm::Condition::all().add(program::Column::VendorId.eq(vendor_id)),
    )
    .await
}

/// Every program priced in `currency` (its normalised figures moved with the rate).
pub async fn enqueue_currency(conn: &impl ConnectionTrait, currency: &str) -> Result<u64, DbErr> {
    enqueue_where(
        conn,
        sea_orm::Condition::all().add(program::Column::Currency.eq(currency)),
    )
    .await
}

/// Every program changed at or after `since`, or whose vendor, statistics or currency's
/// exchange rate was (after a rebuild, to replay what the rebuild may have missed).
pub async fn enqueue_changed_since(
    conn: &impl ConnectionTrait,
    since: DateTime<Utc>,
) -> Result<u64, DbErr> {
    let vendors = Query::select()
        .column(entity::vendor::Column::Id)
        .from(entity::vendor::Entity)
        .and_where(entity::vendor::Column::UpdatedAt.gte(since))
        .to_owned();
    let stats = Query::select()
        .column(entity::program_stats::Column::ProgramId)
        .from(entity::program_stats::Entity)
        .and_where(entity::program_stats::Column::UpdatedAt.gte(since))
        .to_owned();
    let rates = Query::select()
        .column(entity::exchange_rate::Column::Currency)
        .from(entity::exchange_rate::Entity)
        .and_where(entity::exchange_rate::Column::UpdatedAt.gte(since))
        .to_owned();
    enqueue_where(
        conn,
        sea_orm::Condition::any()
            .add(program::Column::UpdatedAt.gte(since))
            .add(program::Column::VendorId.in_subquery(vendors))
            .add(program::Column::Id.in_subquery(stats))
            .add(program::Column::Currency.in_subquery(rates)),
    )
    .await
}

/// Every program (a new, empty index must be filled).
pub async fn enqueue_all(conn: &impl ConnectionTrait) -> Result<u64, DbErr> {
    enqueue_where(conn, sea_orm::Condition::all()).await
}

/// How far behind the index is.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Depth {
    pub rows: u64,
    pub oldest_age_seconds: f64,
}

pub async fn depth(conn: &impl ConnectionTrait) -> Result<Depth, DbErr> {
    let rows = search_outbox::Entity::find().count(conn).await?;
    let oldest = search_outbox::Entity::find()
        .order_by_asc(search_outbox::Column::Id)
        .one(conn)
        .await?;
    let oldest_age_seconds = oldest.map_or(0.0, |row| {
        std::cmp::max((now() - row.created_at).num_milliseconds(), 0) as f64 / 1000.0
    });
    Ok(Depth {
        rows,
        oldest_age_seconds,
    })
}

/// What one drain did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Drained {
    pub rows: usize,
    pub programs: usize,
    /// The engine refused or did not answer; the rows wait for their retry.
    pub failed: bool,
}

fn backoff(attempts: i32) -> chrono::Duration {
    let exponent = u32::try_from(attempts.clamp(0, 16)).unwrap_or(16);
    chrono::Duration::seconds(std::cmp::min(
        2_i64.saturating_pow(exponent),
        MAX_BACKOFF_SECS,
    ))
}

/// Applies one batch of due rows. Returns how many it handled (0: nothing due, or another
/// replica is draining).
pub async fn drain_once(
    db: &DatabaseConnection,
    engine: &dyn SearchIndex,
    batch: u64,
    write_timeout: Duration,
) -> Result<Drained, AppError> {
    drain_locked(db, engine, batch, write_timeout, false).await
}

/// One batch under the drain lock; `wait` queues for the lock instead of giving up when
/// another replica holds it (an explicit drain must not return before the rows are
/// applied).
async fn drain_locked(
    db: &DatabaseConnection,
    engine: &dyn SearchIndex,
    batch: u64,
    write_timeout: Duration,
    wait: bool,
) -> Result<Drained, AppError> {
    if db.get_database_backend() != DbBackend::Postgres {
        return drain_with(db, engine, batch, write_timeout).await;
    }
    let txn = db.begin().await?;
    let key = format!("{DRAIN_LOCK_CLASS}, hashtext(current_schema())");
    let sql = if wait {
        format!("SELECT true AS locked FROM (SELECT pg_advisory_xact_lock({key})) AS waited")
    } else {
        format!("SELECT pg_try_advisory_xact_lock({key}) AS locked")
    };
    let lock = Statement::from_string(DbBackend::Postgres, sql);
    let locked = txn
        .query_one_raw(lock)
        .await?
        .map(|row| row.try_get::<bool>("", "locked"))
        .transpose()?
        .unwrap_or(false);
    if !locked {
        txn.rollback().await?;
        return Ok(Drained::default());
    }
    let drained = drain_with(&txn, engine, batch, write_timeout).await?;
    txn.commit().await?;
    Ok(drained)
}

async fn drain_with(
    conn: &impl ConnectionTrait,
    engine: &dyn SearchIndex,
    batch: u64,
    write_timeout: Duration,
) -> Result<Drained, AppError> {
    let now = now();
    let rows = search_outbox::Entity::find()
        .filter(search_outbox::Column::NextAttemptAt.lte(now))
        .order_by_asc(search_outbox::Column::Id)
        .limit(batch)
        .all(conn)
        .await?;
    if rows.is_empty() {
        return Ok(Drained::default());
    }
    let row_ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let programs: Vec<i64> = rows
        .iter()
        .map(|r| r.program_id)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut documents = document::load(conn, &programs).await?;
    let changes: Vec<Change> = programs
        .iter()
        .map(|id| match documents.remove(id).flatten() {
            Some(doc) => Change::Upsert(doc),
            None => Change::Delete(*id),
        })
        .collect();
    match with_timeout(write_timeout, engine.apply(changes)).await {
        Ok(()) => {
            search_outbox::Entity::delete_many()
                .filter(search_outbox::Column::Id.is_in(row_ids))
                .exec(conn)
                .await?;
            Ok(Drained {
                rows: rows.len(),
                programs: programs.len(),
                failed: false,
            })
        }
        Err(e) => {
            let attempts = rows.iter().map(|r| r.attempts).max().unwrap_or(0) + 1;
            tracing::warn!(error = %e, attempts, rows = rows.len(), "search outbox batch failed; will retry");
            search_outbox::Entity::update_many()
                .col_expr(
                    search_outbox::Column::Attempts,
                    Expr::col(search_outbox::Column::Attempts).add(1),
                )
                .col_expr(
                    search_outbox::Column::NextAttemptAt,
                    Expr::value(now + backoff(attempts)),
                )
                .col_expr(search_outbox::Column::LastError, Expr::value(e.to_string()))
                .filter(search_outbox::Column::Id.is_in(row_ids))
                .exec(conn)
                .await?;
            Ok(Drained {
                rows: rows.len(),
                programs: programs.len(),
                failed: true,
            })
        }
    }
}

/// Drains until nothing is due or a batch fails; returns the rows applied. For tests and
/// commands: they drain explicitly instead of waiting for the worker.
pub async fn drain(
    db: &DatabaseConnection,
    engine: &dyn SearchIndex,
    write_timeout: Duration,
) -> Result<usize, AppError> {
    let mut total = 0;
    loop {
        let drained = drain_locked(db, engine, 500, write_timeout, true).await?;
        if drained.rows == 0 || drained.failed {
            return Ok(total);
        }
        total += drained.rows;
    }
}

/// Makes every waiting row due now (a test or an operator who knows the engine is back).
pub async fn retry_now(conn: &impl ConnectionTrait) -> Result<u64, DbErr> {
    Ok(search_outbox::Entity::update_many()
        .col_expr(search_outbox::Column::NextAttemptAt, Expr::value(now()))
        .exec(conn)
        .await?
        .rows_affected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_five_minutes() {
        assert_eq!(backoff(1).num_seconds(), 2);
        assert_eq!(backoff(4).num_seconds(), 16);
        assert_eq!(backoff(20).num_seconds(), MAX_BACKOFF_SECS);
    }
}
