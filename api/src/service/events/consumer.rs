//! Consumers of the event log, each with its own cursor.
//!
//! A consumer (the search indexer, the webhook dispatcher) stores the last event it
//! processed and advances only after its work is confirmed: a crashed or failing consumer
//! resumes where it stopped, and never holds the others back.
//!
//! **Reading order.** On PostgreSQL event ids are taken when rows are inserted, but the
//! transactions writing them may commit in another order: reading "every id above the
//! cursor" could pass over an event whose transaction commits a moment later. So every
//! event records its writing transaction's id (`txid`), and consumers read in `(txid,
//! id)` order, only below the oldest transaction still running (the snapshot's `xmin`):
//! no transaction with a smaller id can commit any more, so nothing can appear behind
//! the cursor. A long transaction delays consumers; it cannot make them skip. On SQLite
//! transactions commit one at a time, in id order: `txid` is 0 and the id alone orders.
//!
//! **One drainer per consumer.** On PostgreSQL a batch runs inside a transaction holding
//! the consumer's advisory lock, so across replicas one drains it at a time, and what a
//! consumer must write with its progress (deliveries) commits with the cursor. The
//! embedded mode is one process.

use std::time::Duration;

use chrono::{DateTime, Utc};
use entity::{consumer_cursor, event};
use sea_orm::{
    ActiveValue::Set,
    ColumnTrait, Condition, ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend,
    EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, Statement, TransactionTrait,
    sea_query::{Expr, OnConflict},
};

use crate::{db, error::AppError};

/// Advisory-lock class of consumers ("EVNT"); the second key is the hash of the schema
/// and the consumer's name, so environments sharing a database never block each other.
const LOCK_CLASS: i32 = 0x4556_4e54;
/// Events whose transaction is older than every transaction still running: none can
/// commit behind them any more.
const SAFE_ON_POSTGRES: &str =
    "\"event\".\"txid\" < pg_snapshot_xmin(pg_current_snapshot())::text::bigint";
/// Longest wait between attempts of a failing batch.
const MAX_BACKOFF_SECS: i64 = 300;

/// Where a consumer seen for the first time starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// At the first event ever written (the search index must see everything).
    Beginning,
    /// After the last event written so far (webhook deliveries begin now).
    Head,
}

/// A position in the log: `(txid, id)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Position {
    pub txid: i64,
    pub id: i64,
}

impl Position {
    pub fn of(event: &event::Model) -> Self {
        Self {
            txid: event.txid,
            id: event.id,
        }
    }
}

/// Something that processes the log.
#[async_trait::async_trait]
pub trait Consumer: Send + Sync {
    /// Its cursor's key.
    fn name(&self) -> &'static str;

    fn start(&self) -> Start;

    /// The work outside the database (the search engine). `Err`: try the same events
    /// again later.
    async fn handle(&self, db: &DatabaseConnection, events: &[event::Model]) -> Result<(), String>;

    /// Writes that must commit together with the cursor's advance (deliveries).
    async fn record(
        &self,
        _txn: &DatabaseTransaction,
        _events: &[event::Model],
    ) -> Result<(), AppError> {
        Ok(())
    }

    /// After the batch committed (to wake whoever acts on what `record` wrote).
    fn committed(&self) {}

    /// Whether any event could concern it at all right now; when not, its cursor moves
    /// to the settled head without reading the log (the webhook dispatcher with no
    /// endpoint: a seeded database holds millions of events nobody is owed).
    async fn concerned(&self, _conn: &DatabaseTransaction) -> Result<bool, AppError> {
        Ok(true)
    }

    /// Whether [`Consumer::concerned`] may ever answer `false` (else it is never asked).
    fn skippable(&self) -> bool {
        false
    }
}

/// Moves `current` to the settled head when the consumer is concerned by nothing;
/// `true` if it did. The head is read *before* the consumer is asked, so whatever starts
/// concerning it later (an endpoint created) only sees events after that head.
async fn skip_unconcerned(
    txn: &DatabaseTransaction,
    consumer: &dyn Consumer,
    current: &consumer_cursor::Model,
) -> Result<bool, AppError> {
    if !consumer.skippable() {
        return Ok(false);
    }
    let head = settled_head(txn).await?;
    let at = position(current);
    if (head.txid, head.id) <= (at.txid, at.id) || consumer.concerned(txn).await? {
        return Ok(false);
    }
    forward(txn, consumer.name(), head).await?;
    Ok(true)
}

/// What one batch did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ran {
    pub events: usize,
    /// The work failed; the events wait for the next attempt.
    pub failed: bool,
    /// Another replica holds the consumer, or its next attempt is not due.
    pub skipped: bool,
}

/// Events after `position` in reading order (`(txid, id)` on PostgreSQL, the id on
/// SQLite).
fn behind(backend: DbBackend, position: Position) -> Condition {
    if backend == DbBackend::Postgres {
        Condition::any()
            .add(event::Column::Txid.gt(position.txid))
            .add(
                Condition::all()
                    .add(event::Column::Txid.eq(position.txid))
                    .add(event::Column::Id.gt(position.id)),
            )
    } else {
        Condition::all().add(event::Column::Id.gt(position.id))
    }
}

/// The events after `after` that are safe to process (see the module's reading order).
pub async fn read_after(
    conn: &impl ConnectionTrait,
    after: Position,
    limit: u64,
) -> Result<Vec<event::Model>, AppError> {
    let backend = conn.get_database_backend();
    let query = event::Entity::find().filter(behind(backend, after));
    let query = if backend == DbBackend::Postgres {
        query
            .filter(Expr::cust(SAFE_ON_POSTGRES))
            .order_by_asc(event::Column::Txid)
            .order_by_asc(event::Column::Id)
    } else {
        query.order_by_asc(event::Column::Id)
    };
    Ok(query.limit(limit).all(conn).await?)
}

/// The position of the last event committed so far: where a new consumer starting at
/// [`Start::Head`] begins ("from now on": an event of a transaction still running at
/// that moment may fall on either side).
pub async fn head(conn: &impl ConnectionTrait) -> Result<Position, AppError> {
    let last = event::Entity::find()
        .order_by_desc(event::Column::Txid)
        .order_by_desc(event::Column::Id)
        .one(conn)
        .await?;
    Ok(last.as_ref().map(Position::of).unwrap_or_default())
}

/// The position before which every event is final: nothing can commit behind it any
/// more (on PostgreSQL, the last event older than every running transaction). A cursor
/// moved back here misses nothing.
pub async fn settled_head(conn: &impl ConnectionTrait) -> Result<Position, AppError> {
    let query = event::Entity::find();
    let last = if conn.get_database_backend() == DbBackend::Postgres {
        query
            .filter(Expr::cust(SAFE_ON_POSTGRES))
            .order_by_desc(event::Column::Txid)
            .order_by_desc(event::Column::Id)
    } else {
        query.order_by_desc(event::Column::Id)
    }
    .one(conn)
    .await?;
    Ok(last.as_ref().map(Position::of).unwrap_or_default())
}

/// The consumer's cursor, created where it starts if it has none.
pub async fn cursor(
    conn: &impl ConnectionTrait,
    consumer: &dyn Consumer,
) -> Result<consumer_cursor::Model, AppError> {
    if let Some(found) = consumer_cursor::Entity::find_by_id(consumer.name())
        .one(conn)
        .await?
    {
        return Ok(found);
    }
    let at = match consumer.start() {
        Start::Beginning => Position::default(),
        Start::Head => head(conn).await?,
    };
    let row = consumer_cursor::ActiveModel {
        consumer: Set(consumer.name().to_owned()),
        txid: Set(at.txid),
        event_id: Set(at.id),
        attempts: Set(0),
        next_attempt_at: Set(None),
        last_error: Set(None),
        updated_at: Set(crate::service::now()),
    };
    consumer_cursor::Entity::insert(row)
        .on_conflict(
            OnConflict::column(consumer_cursor::Column::Consumer)
                .do_nothing()
                .to_owned(),
        )
        .exec_without_returning(conn)
        .await?;
    consumer_cursor::Entity::find_by_id(consumer.name())
        .one(conn)
        .await?
        .ok_or(AppError::NotFound)
}

fn backoff(attempts: i32) -> chrono::Duration {
    let exponent = u32::try_from(attempts.clamp(0, 16)).unwrap_or(16);
    chrono::Duration::seconds(std::cmp::min(
        2_i64.saturating_pow(exponent),
        MAX_BACKOFF_SECS,
    ))
}

/// The cursor moved past `events`, or the failed attempt recorded.
async fn settle(
    conn: &impl ConnectionTrait,
    consumer: &dyn Consumer,
    current: &consumer_cursor::Model,
    outcome: Result<Position, String>,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let update = consumer_cursor::Entity::update_many()
        .filter(consumer_cursor::Column::Consumer.eq(consumer.name()))
        .col_expr(consumer_cursor::Column::UpdatedAt, Expr::value(now));
    let update = match outcome {
        Ok(to) => update
            .col_expr(consumer_cursor::Column::Txid, Expr::value(to.txid))
            .col_expr(consumer_cursor::Column::EventId, Expr::value(to.id))
            .col_expr(consumer_cursor::Column::Attempts, Expr::value(0))
            .col_expr(
                consumer_cursor::Column::NextAttemptAt,
                Expr::value(Option::<DateTime<Utc>>::None),
            )
            .col_expr(
                consumer_cursor::Column::LastError,
                Expr::value(Option::<String>::None),
            ),
        Err(error) => {
            let attempts = current.attempts.saturating_add(1);
            tracing::warn!(consumer = consumer.name(), attempts, %error, "event consumer batch failed; will retry");
            update
                .col_expr(consumer_cursor::Column::Attempts, Expr::value(attempts))
                .col_expr(
                    consumer_cursor::Column::NextAttemptAt,
                    Expr::value(Some(now + backoff(attempts))),
                )
                .col_expr(consumer_cursor::Column::LastError, Expr::value(Some(error)))
        }
    };
    update.exec(conn).await?;
    Ok(())
}

/// Runs one batch of up to `limit` events through `consumer`.
pub async fn run_once(
    db: &DatabaseConnection,
    consumer: &dyn Consumer,
    limit: u64,
) -> Result<Ran, AppError> {
    run(db, consumer, limit, false).await
}

/// One batch; `wait` queues for the consumer's lock instead of leaving it to the replica
/// holding it, and ignores the backoff (an explicit drain).
async fn run(
    db: &DatabaseConnection,
    consumer: &dyn Consumer,
    limit: u64,
    wait: bool,
) -> Result<Ran, AppError> {
    let now = crate::service::now();
    if db.get_database_backend() != DbBackend::Postgres {
        // One process, one worker per consumer: no lock; the database's write lock is
        // taken only for the cursor's advance, never during the work.
        let current = cursor(db, consumer).await?;
        if !wait && current.next_attempt_at.is_some_and(|at| at > now) {
            return Ok(Ran {
                skipped: true,
                ..Ran::default()
            });
        }
        let events = read_after(db, position(&current), limit).await?;
        if events.is_empty() {
            return Ok(Ran::default());
        }
        if consumer.skippable() {
            let txn = db::begin_write(db).await?;
            if skip_unconcerned(&txn, consumer, &current).await? {
                txn.commit().await?;
                return Ok(Ran::default());
            }
            txn.rollback().await?;
        }
        let handled = consumer.handle(db, &events).await;
        let txn = db::begin_write(db).await?;
        // Under the write lock: if another process on this file moved the cursor
        // meanwhile (SQLite is one process by design, but nothing stops a second), it
        // handled these events; recording them again would duplicate its work.
        let unmoved = consumer_cursor::Entity::find_by_id(consumer.name())
            .one(&txn)
            .await?
            .is_some_and(|c| position(&c) == position(&current));
        if !unmoved {
            txn.rollback().await?;
            return Ok(Ran {
                skipped: true,
                ..Ran::default()
            });
        }
        let ran = finish(&txn, consumer, &current, &events, handled, now).await?;
        txn.commit().await?;
        if !ran.failed {
            consumer.committed();
        }
        return Ok(ran);
    }
    let txn = db.begin().await?;
    let key = format!(
        "{LOCK_CLASS}, hashtext(current_schema() || ':' || '{}')",
        consumer.name()
    );
    let sql = if wait {
        format!("SELECT true AS locked FROM (SELECT pg_advisory_xact_lock({key})) AS waited")
    } else {
        format!("SELECT pg_try_advisory_xact_lock({key}) AS locked")
    };
    let locked = txn
        .query_one_raw(Statement::from_string(DbBackend::Postgres, sql))
        .await?
        .map(|row| row.try_get::<bool>("", "locked"))
        .transpose()?
        .unwrap_or(false);
    if !locked {
        txn.rollback().await?;
        return Ok(Ran {
            skipped: true,
            ..Ran::default()
        });
    }
    let current = cursor(&txn, consumer).await?;
    if !wait && current.next_attempt_at.is_some_and(|at| at > now) {
        txn.rollback().await?;
        return Ok(Ran {
            skipped: true,
            ..Ran::default()
        });
    }
    let events = read_after(&txn, position(&current), limit).await?;
    if events.is_empty() || skip_unconcerned(&txn, consumer, &current).await? {
        txn.commit().await?;
        return Ok(Ran::default());
    }
    let handled = consumer.handle(db, &events).await;
    let ran = finish(&txn, consumer, &current, &events, handled, now).await?;
    txn.commit().await?;
    if !ran.failed {
        consumer.committed();
    }
    Ok(ran)
}

fn position(cursor: &consumer_cursor::Model) -> Position {
    Position {
        txid: cursor.txid,
        id: cursor.event_id,
    }
}

async fn finish(
    txn: &DatabaseTransaction,
    consumer: &dyn Consumer,
    current: &consumer_cursor::Model,
    events: &[event::Model],
    handled: Result<(), String>,
    now: DateTime<Utc>,
) -> Result<Ran, AppError> {
    let failed = handled.is_err();
    let outcome = match handled {
        Ok(()) => {
            consumer.record(txn, events).await?;
            Ok(events.last().map(Position::of).unwrap_or(position(current)))
        }
        Err(e) => Err(e),
    };
    settle(txn, consumer, current, outcome, now).await?;
    Ok(Ran {
        events: events.len(),
        failed,
        skipped: false,
    })
}

/// Runs `consumer` until it has processed every event committed before the call, or a
/// batch fails (the failure is recorded for the next attempt); returns the events
/// processed. For tests and commands, which drain
/// explicitly instead of waiting for the background loop. On PostgreSQL an event becomes
/// readable only once every older transaction has ended (see the reading order), so this
/// waits for those — at most [`DRAIN_PATIENCE`].
pub async fn drain(db: &DatabaseConnection, consumer: &dyn Consumer) -> Result<usize, AppError> {
    let deadline = tokio::time::Instant::now() + DRAIN_PATIENCE;
    let mut total = 0;
    loop {
        let ran = run(db, consumer, 500, true).await?;
        if ran.failed {
            return Ok(total);
        }
        total += ran.events;
        if ran.events > 0 {
            continue;
        }
        let waiting = backlog(db, consumer.name()).await?.events;
        if waiting == 0 || tokio::time::Instant::now() >= deadline {
            return Ok(total);
        }
        // Committed, but behind a transaction still running.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// The longest [`drain`] waits for transactions older than the events it must process.
pub const DRAIN_PATIENCE: Duration = Duration::from_secs(10);

/// How far behind a consumer is.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Backlog {
    /// Events committed after its cursor.
    pub events: u64,
    pub oldest_age_seconds: f64,
    /// Failed attempts at its next batch.
    pub attempts: i32,
}

/// How far behind the consumer named `name` is (every event is behind one that never
/// ran).
pub async fn backlog(conn: &impl ConnectionTrait, name: &str) -> Result<Backlog, AppError> {
    let current = consumer_cursor::Entity::find_by_id(name).one(conn).await?;
    let after = current.as_ref().map(position).unwrap_or_default();
    let attempts = current.map_or(0, |c| c.attempts);
    // Every committed event after the cursor, readable yet or still behind a running
    // transaction.
    let behind = behind(conn.get_database_backend(), after);
    let events = event::Entity::find()
        .filter(behind.clone())
        .count(conn)
        .await?;
    // The first in reading order (by the reading index: ordering millions of events
    // by time took seconds at 1M programs), close enough to the oldest for an age.
    let oldest = event::Entity::find()
        .filter(behind)
        .order_by_asc(event::Column::Txid)
        .order_by_asc(event::Column::Id)
        .one(conn)
        .await?;
    let age = oldest.map_or(0, |e| {
        (crate::service::now() - e.occurred_at).num_milliseconds()
    });
    Ok(Backlog {
        events,
        oldest_age_seconds: std::cmp::max(age, 0) as f64 / 1000.0,
        attempts,
    })
}

/// Makes a failing consumer's next attempt due now (an operator who knows the cause is
/// gone, or a test).
pub async fn retry_now(conn: &impl ConnectionTrait, name: &str) -> Result<(), AppError> {
    consumer_cursor::Entity::update_many()
        .col_expr(
            consumer_cursor::Column::NextAttemptAt,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .filter(consumer_cursor::Column::Consumer.eq(name))
        .exec(conn)
        .await?;
    Ok(())
}

/// Moves a consumer's cursor back to `to` (events after it are processed again: after a
/// search index was rebuilt, the changes made meanwhile).
pub async fn rewind(conn: &impl ConnectionTrait, name: &str, to: Position) -> Result<(), AppError> {
    consumer_cursor::Entity::update_many()
        .col_expr(consumer_cursor::Column::Txid, Expr::value(to.txid))
        .col_expr(consumer_cursor::Column::EventId, Expr::value(to.id))
        .filter(consumer_cursor::Column::Consumer.eq(name))
        .filter(
            Condition::any()
                .add(consumer_cursor::Column::Txid.gt(to.txid))
                .add(
                    Condition::all()
                        .add(consumer_cursor::Column::Txid.eq(to.txid))
                        .add(consumer_cursor::Column::EventId.gt(to.id)),
                ),
        )
        .exec(conn)
        .await?;
    Ok(())
}

/// Moves a consumer's cursor forward to `to` (never back): the events up to it are
/// superseded (a new search index is filled from reindex requests written after them).
pub async fn skip_to(
    conn: &impl ConnectionTrait,
    consumer: &dyn Consumer,
    to: Position,
) -> Result<(), AppError> {
    cursor(conn, consumer).await?;
    forward(conn, consumer.name(), to).await
}

/// Moves the cursor named `name` to `to` if it stands before it.
async fn forward(conn: &impl ConnectionTrait, name: &str, to: Position) -> Result<(), AppError> {
    consumer_cursor::Entity::update_many()
        .col_expr(consumer_cursor::Column::Txid, Expr::value(to.txid))
        .col_expr(consumer_cursor::Column::EventId, Expr::value(to.id))
        .filter(consumer_cursor::Column::Consumer.eq(name))
        .filter(
            Condition::any()
                .add(consumer_cursor::Column::Txid.lt(to.txid))
                .add(
                    Condition::all()
                        .add(consumer_cursor::Column::Txid.eq(to.txid))
                        .add(consumer_cursor::Column::EventId.lt(to.id)),
                ),
        )
        .exec(conn)
        .await?;
    Ok(())
}

/// A consumer's background loop: a batch whenever a change is announced (this process's
/// commits, other replicas' notifications), otherwise every `poll` (retries, and what a
/// lost notification would have announced).
pub fn spawn(
    db: DatabaseConnection,
    consumer: std::sync::Arc<dyn Consumer>,
    changes: std::sync::Arc<crate::changes::Changes>,
    poll: Duration,
    mut stopped: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut announced = changes.subscribe();
        loop {
            let more = match run_once(&db, consumer.as_ref(), 500).await {
                Ok(ran) => ran.events > 0 && !ran.failed,
                Err(e) => {
                    tracing::error!(consumer = consumer.name(), error = ?e, "event consumer failed");
                    false
                }
            };
            if more {
                continue;
            }
            tokio::select! {
                _ = announced.changed() => {}
                _ = tokio::time::sleep(poll) => {}
                _ = stopped.changed() => break,
            }
        }
    })
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

    #[test]
    fn positions_order_by_transaction_then_id() {
        let p = |txid, id| Position { txid, id };
        assert!(p(5, 100) < p(6, 1));
        assert!(p(6, 1) < p(6, 2));
    }
}
