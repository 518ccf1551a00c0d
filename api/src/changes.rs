//! "Something was committed": a process-wide generation that moves whenever data a read
//! may show has changed, so whatever keeps a derived copy of reads (the HTTP response
//! cache) can tell a copy is stale by comparing two numbers instead of asking the
//! database.
//!
//! The generation moves when a change is *announced*: by this process after it committed
//! (a mutation, a background job, the search worker), and on PostgreSQL by every other
//! replica through `NOTIFY` on a channel this process `LISTEN`s to on a connection of its
//! own. Notifications are a wake-up, not a record: one lost while the listening
//! connection was down is made up for by moving the generation when it reconnects, and
//! copies also expire on their own time-to-live.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, Statement, sqlx::postgres::PgListener,
};
use tokio::task::JoinHandle;

pub struct Changes {
    generation: AtomicU64,
    /// Wakes whoever waits for the next change (the event consumers).
    wake: tokio::sync::watch::Sender<u64>,
    /// The PostgreSQL channel replicas announce on; `None` on SQLite (one process).
    channel: Option<String>,
    /// This process's mark on its announcements (the payload of its `NOTIFY`s): it hears
    /// them on its own channel too, and must not count a change it already counted.
    origin: String,
}

impl Changes {
    /// For a process on `db`; `schema` (tests give each its own) scopes the channel, so
    /// processes on different schemas of one database do not wake each other.
    pub fn new(db: &DatabaseConnection, schema: Option<&str>) -> Self {
        let channel = (db.get_database_backend() == DbBackend::Postgres).then(|| {
            let mut channel = format!("marketplace_changes_{}", schema.unwrap_or("public"));
            // PostgreSQL identifiers are at most 63 bytes (the name is ASCII).
            channel.truncate(63);
            channel
        });
        Self {
            generation: AtomicU64::new(0),
            wake: tokio::sync::watch::Sender::new(0),
            channel,
            origin: origin(),
        }
    }

    /// The current generation: equal to an earlier reading only if nothing was announced
    /// in between.
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    fn bump(&self) {
        let generation = self.generation.fetch_add(1, Ordering::AcqRel) + 1;
        self.wake.send_replace(generation);
    }

    /// A receiver that sees every change announced after this call (and no earlier one):
    /// `changed().await` returns at once if one came in since it last looked.
    pub fn subscribe(&self) -> tokio::sync::watch::Receiver<u64> {
        self.wake.subscribe()
    }

    /// Call after a commit that may have changed what reads show: this process sees the
    /// new generation before the call returns, other replicas shortly after.
    pub async fn announce(&self, db: &DatabaseConnection) {
        self.bump();
        let Some(channel) = &self.channel else {
            return;
        };
        let notify = Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT pg_notify($1, $2)",
            [channel.clone().into(), self.origin.clone().into()],
        );
        if let Err(e) = db.execute_raw(notify).await {
            // The other replicas' copies expire on their time-to-live instead.
            tracing::warn!(error = %e, "could not announce a change to the other replicas");
        }
    }

    /// On PostgreSQL, a task that moves the generation whenever another replica announces
    /// a change (and on every reconnection, for what it may have missed meanwhile). It is
    /// listening when this returns (unless the first connection failed: it then keeps
    /// trying), so the server starts with a generation nothing will move without cause.
    pub async fn listen(self: &Arc<Self>, url: &str) -> Option<JoinHandle<()>> {
        let channel = self.channel.clone()?;
        let first = match tokio::time::timeout(Duration::from_secs(5), connect(url, &channel)).await
        {
            Ok(Ok(listener)) => Some(listener),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "cannot listen for other replicas' changes yet; retrying");
                None
            }
            Err(_) => None,
        };
        let changes = Arc::clone(self);
        let url = url.to_owned();
        Some(tokio::spawn(async move {
            let mut backoff = Duration::from_millis(100);
            let mut listener = first;
            loop {
                let connected = match listener.take() {
                    Some(listener) => Ok(listener),
                    None => connect(&url, &channel).await.inspect(|_| {
                        // Whatever was announced while not listening.
                        changes.bump();
                    }),
                };
                let outcome = match connected {
                    Ok(listener) => listen_on(&changes, listener).await,
                    Err(e) => Err(e),
                };
                match outcome {
                    Ok(()) => backoff = Duration::from_millis(100),
                    Err(e) => {
                        tracing::warn!(error = %e, "change notifications interrupted; reconnecting");
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(Duration::from_secs(5));
                    }
                }
            }
        }))
    }
}

async fn connect(url: &str, channel: &str) -> Result<PgListener, sea_orm::sqlx::Error> {
    let mut listener = PgListener::connect(url).await?;
    // Reconnections are ours to see (and to make up for), not hidden inside `recv`.
    listener.eager_reconnect(false);
    listener.listen(channel).await?;
    Ok(listener)
}

/// Listens until the connection breaks; every other process's notification moves the
/// generation.
async fn listen_on(
    changes: &Changes,
    mut listener: PgListener,
) -> Result<(), sea_orm::sqlx::Error> {
    while let Some(notification) = listener.try_recv().await? {
        if changes.origin.is_empty() || notification.payload() != changes.origin {
            changes.bump();
        }
    }
    Ok(())
}

/// A mark no other process draws: 16 random bytes in hex.
fn origin() -> String {
    let mut bytes = [0u8; 16];
    if getrandom::fill(&mut bytes).is_err() {
        // Without a mark every notification counts, own ones included: extra cache
        // misses, never a stale answer.
        return String::new();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
