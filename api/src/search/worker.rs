//! The background worker that drains the search outbox: immediately when a change is
//! announced in this process, otherwise every poll interval (changes made by other
//! replicas, and retries after failures).

use std::{sync::Arc, time::Duration};

use sea_orm::DatabaseConnection;
use tokio::{sync::Notify, task::JoinHandle};

use super::{SearchIndex, outbox};
use crate::changes::Changes;

pub struct WorkerConfig {
    pub batch: u64,
    pub poll_interval: Duration,
    pub write_timeout: Duration,
}

/// A running worker; dropping it does not stop it, [`Worker::stop`] does.
pub struct Worker {
    stop: tokio::sync::watch::Sender<bool>,
    handle: JoinHandle<()>,
}

impl Worker {
    pub fn spawn(
        db: DatabaseConnection,
        engine: Arc<dyn SearchIndex>,
        notify: Arc<Notify>,
        changes: Arc<Changes>,
        config: WorkerConfig,
    ) -> Self {
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let handle = tokio::spawn(async move {
            loop {
                let more = match outbox::drain_once(
                    &db,
                    engine.as_ref(),
                    config.batch,
                    config.write_timeout,
                )
                .await
                {
                    Ok(drained) => {
                        if drained.rows > 0 {
                            // Searches now answer differently.
                            changes.announce(&db).await;
                        }
                        drained.rows > 0 && !drained.failed
                    }
                    Err(e) => {
                        tracing::error!(error = ?e, "search outbox drain failed");
                        false
                    }
                };
                if more {
                    continue;
                }
                tokio::select! {
                    _ = notify.notified() => {}
                    _ = tokio::time::sleep(config.poll_interval) => {}
                    _ = stopped.changed() => break,
                }
            }
        });
        Self { stop, handle }
    }

    /// Lets the current batch finish, then stops.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.handle.await;
    }
}
