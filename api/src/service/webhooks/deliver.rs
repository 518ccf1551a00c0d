//! Sending deliveries, at least once.
//!
//! A batch claims due deliveries with a lease (`claimed_until`; on PostgreSQL with `FOR
//! UPDATE SKIP LOCKED`, so replicas never send one twice in one attempt), skipping any
//! whose earlier delivery of the same subject to the same endpoint is still pending:
//! one subject's events arrive in order. Each attempt is signed with the endpoint's
//! secret (and the previous one during a rotation's overlap), has [`WebhookConfig`]'s
//! timeout, follows no redirect, reads at most 64 KiB of the answer, and connects only
//! to addresses the SSRF guard allows. A 2xx answer delivers it; anything else schedules
//! the next attempt by the retry schedule (with ±10 % jitter) until it runs out. An
//! endpoint failing continuously for a day, over at least 20 attempts, is disabled with
//! the reason, for its owner to see and resume.

use std::{sync::Arc, time::Instant};

use chrono::{DateTime, Duration, Utc};
use entity::{
    webhook_delivery::{self, DeliveryStatus},
    webhook_endpoint::{self, EndpointStatus},
};
use futures_util::StreamExt;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseConnection, DbBackend, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
    sea_query::{Expr, ExprTrait},
};

use super::ssrf;
use crate::{config::WebhookConfig, db, error::AppError};

/// Answers read from a receiver, at most.
const MAX_ANSWER_BYTES: usize = 64 * 1024;
/// How long a claim lasts: a worker that crashed mid-send leaves the delivery to be
/// sent again after this.
const LEASE_SECS: i64 = 60;
/// Deliveries sent at once.
const CONCURRENCY: usize = 32;
/// A day of failures (with at least this many attempts) disables an endpoint.
const DISABLE_AFTER_HOURS: i64 = 24;
const DISABLE_AFTER_ATTEMPTS: i32 = 20;

/// Sends deliveries: an HTTP client that cannot be sent where webhooks must not go.
#[derive(Clone)]
pub struct Sender {
    client: reqwest::Client,
    config: WebhookConfig,
}

impl Sender {
    pub fn new(config: &WebhookConfig) -> Result<Self, AppError> {
        let client = reqwest::Client::builder()
            .dns_resolver(ssrf::resolver(config.allow_local))
            .redirect(reqwest::redirect::Policy::none())
            .timeout(config.timeout)
            .connect_timeout(config.timeout)
            .user_agent("partner-marketplace-webhooks/1")
            .build()
            .map_err(AppError::internal)?;
        Ok(Self {
            client,
            config: config.clone(),
        })
    }

    /// Claims and sends one batch of due deliveries; returns how many were attempted.
    pub async fn run_due(&self, db: &DatabaseConnection, limit: u64) -> Result<usize, AppError> {
        let claimed = claim(db, limit).await?;
        let count = claimed.len();
        futures_util::stream::iter(claimed)
            .map(|delivery| async move {
                if let Err(e) = self.attempt(db, delivery).await {
                    tracing::warn!(error = ?e, "webhook attempt could not be recorded");
                }
            })
            .buffer_unordered(CONCURRENCY)
            .collect::<Vec<()>>()
            .await;
        Ok(count)
    }

    /// Sends until nothing is due now (tests and commands; the worker loops by itself).
    pub async fn run_until_idle(&self, db: &DatabaseConnection) -> Result<usize, AppError> {
        let mut total = 0;
        loop {
            let sent = self.run_due(db, 256).await?;
            if sent == 0 {
                return Ok(total);
            }
            total += sent;
        }
    }

    async fn attempt(
        &self,
        db: &DatabaseConnection,
        delivery: webhook_delivery::Model,
    ) -> Result<(), AppError> {
        let Some(endpoint) = webhook_endpoint::Entity::find_by_id(delivery.endpoint_id)
            .one(db)
            .await?
        else {
            return Ok(());
        };
        let started = Instant::now();
        let outcome = self.send(&endpoint, &delivery).await;
        let latency = i32::try_from(started.elapsed().as_millis()).unwrap_or(i32::MAX);
        record(db, &self.config, &endpoint, &delivery, outcome, latency).await
    }

    /// One attempt: `Ok(status)` when the receiver answered (any status), `Err(reason)`
    /// when it could not be reached.
    async fn send(
        &self,
        endpoint: &webhook_endpoint::Model,
        delivery: &webhook_delivery::Model,
    ) -> Result<u16, String> {
        let url = reqwest::Url::parse(&endpoint.url).map_err(|e| format!("bad URL: {e}"))?;
        if let Some(why) = ssrf::literal_refusal(&url, self.config.allow_local) {
            return Err(why);
        }
        let now = Utc::now();
        let timestamp = now.timestamp();
        let mut signatures = vec![sign(&endpoint.secret, delivery, timestamp)?];
        if let (Some(previous), Some(until)) = (
            &endpoint.previous_secret,
            endpoint.previous_secret_expires_at,
        ) && until > now
        {
            signatures.push(sign(previous, delivery, timestamp)?);
        }
        let response = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .header("webhook-id", &delivery.message_id)
            .header("webhook-timestamp", timestamp.to_string())
            .header("webhook-signature", signatures.join(" "))
            .body(delivery.body.clone())
            .send()
            .await
            .map_err(|e| describe(&e))?;
        let status = response.status().as_u16();
        // Read (and drop) at most 64 KiB of the answer, so the connection can be reused
        // and a huge answer costs nothing.
        let mut read = 0;
        let mut body = response.bytes_stream();
        while let Some(Ok(chunk)) = body.next().await {
            read += chunk.len();
            if read >= MAX_ANSWER_BYTES {
                break;
            }
        }
        Ok(status)
    }
}

/// `v1,<base64 HMAC-SHA256 of "id.timestamp.body">` with `secret`.
fn sign(
    secret: &str,
    delivery: &webhook_delivery::Model,
    timestamp: i64,
) -> Result<String, String> {
    let signer = standardwebhooks::Webhook::new(secret).map_err(|e| format!("bad secret: {e}"))?;
    signer
        .sign(&delivery.message_id, timestamp, delivery.body.as_bytes())
        .map_err(|e| format!("cannot sign: {e}"))
}

/// Why a request did not get an answer, without the URL's query.
fn describe(e: &reqwest::Error) -> String {
    let what = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else if e.is_redirect() {
        "redirected"
    } else {
        "failed"
    };
    let mut cause: Option<&dyn std::error::Error> = std::error::Error::source(e);
    let mut detail = String::new();
    while let Some(c) = cause {
        detail = c.to_string();
        cause = c.source();
    }
    if detail.is_empty() {
        what.to_owned()
    } else {
        format!("{what}: {detail}")
    }
}

/// Claims up to `limit` due deliveries (a lease each), in id order, the first pending
/// one of each subject and endpoint only, to active endpoints only.
async fn claim(
    db: &DatabaseConnection,
    limit: u64,
) -> Result<Vec<webhook_delivery::Model>, AppError> {
    let now = crate::service::now();
    let txn = db::begin_write(db).await?;
    let backend = txn.get_database_backend();
    // The earliest pending delivery of its subject to its endpoint, to an active one.
    let first_of_subject = Expr::cust(
        "NOT EXISTS (SELECT 1 FROM webhook_delivery earlier
            WHERE earlier.endpoint_id = webhook_delivery.endpoint_id
              AND earlier.subject = webhook_delivery.subject
              AND earlier.id < webhook_delivery.id
              AND earlier.status = 'PENDING')
         AND EXISTS (SELECT 1 FROM webhook_endpoint
            WHERE webhook_endpoint.id = webhook_delivery.endpoint_id
              AND webhook_endpoint.status = 'ACTIVE')",
    );
    let mut select = webhook_delivery::Entity::find()
        .filter(webhook_delivery::Column::Status.eq(DeliveryStatus::Pending))
        .filter(webhook_delivery::Column::NextAttemptAt.lte(now))
        .filter(
            webhook_delivery::Column::ClaimedUntil
                .is_null()
                .or(webhook_delivery::Column::ClaimedUntil.lt(now)),
        )
        .filter(first_of_subject)
        .order_by_asc(webhook_delivery::Column::Id)
        .limit(limit);
    if backend == DbBackend::Postgres {
        select = select.lock_with_behavior(
            sea_orm::sea_query::LockType::Update,
            sea_orm::sea_query::LockBehavior::SkipLocked,
        );
    }
    let claimed = select.all(&txn).await?;
    if !claimed.is_empty() {
        webhook_delivery::Entity::update_many()
            .col_expr(
                webhook_delivery::Column::ClaimedUntil,
                Expr::value(now + Duration::seconds(LEASE_SECS)),
            )
            .filter(webhook_delivery::Column::Id.is_in(claimed.iter().map(|d| d.id)))
            .exec(&txn)
            .await?;
    }
    txn.commit().await?;
    Ok(claimed)
}

/// The wait before the `attempt`-th retry (1-based), with ±10 % jitter; `None` when the
/// schedule is exhausted.
fn next_wait(config: &WebhookConfig, attempt: usize) -> Option<Duration> {
    let base = config.retry_schedule.get(attempt.checked_sub(1)?)?;
    let base_ms = i64::try_from(base.as_millis()).unwrap_or(i64::MAX);
    let mut random = [0u8; 2];
    let _ = getrandom::fill(&mut random);
    // A factor in [0.9, 1.1).
    let permille = 900 + i64::from(u16::from_le_bytes(random) % 200);
    Some(Duration::milliseconds(
        base_ms.saturating_mul(permille) / 1_000,
    ))
}

/// Stores an attempt's outcome on the delivery and its endpoint.
async fn record(
    db: &DatabaseConnection,
    config: &WebhookConfig,
    endpoint: &webhook_endpoint::Model,
    delivery: &webhook_delivery::Model,
    outcome: Result<u16, String>,
    latency_ms: i32,
) -> Result<(), AppError> {
    let now = crate::service::now();
    let attempts = delivery.attempts.saturating_add(1);
    let (delivered, code, error) = match &outcome {
        Ok(status) if (200..300).contains(status) => (true, Some(i32::from(*status)), None),
        Ok(status) => (
            false,
            Some(i32::from(*status)),
            Some(format!("answered HTTP {status}")),
        ),
        Err(reason) => (false, None, Some(reason.clone())),
    };
    let retry = (!delivered)
        .then(|| next_wait(config, usize::try_from(attempts).unwrap_or(usize::MAX)))
        .flatten();
    let status = match (delivered, retry) {
        (true, _) => DeliveryStatus::Succeeded,
        (false, Some(_)) => DeliveryStatus::Pending,
        (false, None) => DeliveryStatus::Failed,
    };
    webhook_delivery::Entity::update_many()
        .col_expr(webhook_delivery::Column::Status, Expr::value(status))
        .col_expr(webhook_delivery::Column::Attempts, Expr::value(attempts))
        .col_expr(
            webhook_delivery::Column::NextAttemptAt,
            Expr::value(now + retry.unwrap_or_default()),
        )
        .col_expr(
            webhook_delivery::Column::ClaimedUntil,
            Expr::value(Option::<DateTime<Utc>>::None),
        )
        .col_expr(webhook_delivery::Column::LastAttemptAt, Expr::value(now))
        .col_expr(webhook_delivery::Column::LastStatusCode, Expr::value(code))
        .col_expr(
            webhook_delivery::Column::LastError,
            Expr::value(error.clone()),
        )
        .col_expr(
            webhook_delivery::Column::LastLatencyMs,
            Expr::value(latency_ms),
        )
        .col_expr(
            webhook_delivery::Column::DeliveredAt,
            Expr::value(delivered.then_some(now)),
        )
        .filter(webhook_delivery::Column::Id.eq(delivery.id))
        .exec(db)
        .await?;
    if delivered {
        if endpoint.failing_since.is_some() {
            webhook_endpoint::Entity::update_many()
                .col_expr(
                    webhook_endpoint::Column::FailingSince,
                    Expr::value(Option::<DateTime<Utc>>::None),
                )
                .col_expr(
                    webhook_endpoint::Column::ConsecutiveFailures,
                    Expr::value(0),
                )
                .filter(webhook_endpoint::Column::Id.eq(endpoint.id))
                .exec(db)
                .await?;
        }
        return Ok(());
    }
    // One more failure in a row; a day of them (and enough attempts) disables it.
    let since = endpoint.failing_since.unwrap_or(now);
    let failures = endpoint.consecutive_failures.saturating_add(1);
    let disable =
        now - since >= Duration::hours(DISABLE_AFTER_HOURS) && failures >= DISABLE_AFTER_ATTEMPTS;
    let mut update = webhook_endpoint::Entity::update_many()
        .col_expr(
            webhook_endpoint::Column::FailingSince,
            Expr::value(Some(since)),
        )
        .col_expr(
            webhook_endpoint::Column::ConsecutiveFailures,
            Expr::col(webhook_endpoint::Column::ConsecutiveFailures).add(1),
        )
        .filter(webhook_endpoint::Column::Id.eq(endpoint.id));
    if disable {
        let reason = format!(
            "disabled at {now}: every attempt since {since} failed ({failures} in a row), the last: {}",
            error.unwrap_or_default()
        );
        tracing::warn!(endpoint_id = endpoint.id, %reason, "webhook endpoint disabled");
        update = update
            .col_expr(
                webhook_endpoint::Column::Status,
                Expr::value(EndpointStatus::Disabled),
            )
            .col_expr(
                webhook_endpoint::Column::DisabledReason,
                Expr::value(Some(reason)),
            );
    }
    update.exec(db).await?;
    Ok(())
}

/// The sender's background loop: a batch whenever new deliveries are queued here
/// (the dispatcher, a test message, a redelivery), otherwise every second (retries
/// coming due, deliveries queued by another replica).
pub fn spawn(
    db: DatabaseConnection,
    sender: Arc<Sender>,
    queued: Arc<tokio::sync::Notify>,
    mut stopped: tokio::sync::watch::Receiver<bool>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let more = match sender.run_due(&db, 256).await {
                Ok(sent) => sent > 0,
                Err(e) => {
                    tracing::warn!(error = ?e, "webhook sender could not claim deliveries");
                    false
                }
            };
            if more {
                continue;
            }
            tokio::select! {
                _ = queued.notified() => {}
                _ = tokio::time::sleep(std::time::Duration::from_secs(1)) => {}
                _ = stopped.changed() => break,
            }
        }
    })
}
