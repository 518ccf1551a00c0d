//! Liveness, readiness and metrics for load balancers, orchestrators and dashboards.

use std::fmt::Write;

use actix_web::{HttpResponse, web};
use serde_json::json;

use crate::{
    service::{events::consumer, indexer},
    startup::AppState,
};

/// The process is up and serving HTTP.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({ "status": "ok" }))
}

/// The process can serve traffic: its database answers. The search engine and the
/// indexer's backlog are reported too, but a search outage does not make the API unready:
/// everything else keeps working, and the indexer catches up when the engine returns.
pub async fn readyz(state: web::Data<AppState>) -> HttpResponse {
    let services = &state.services;
    let database = services.db.ping().await;
    let search =
        crate::search::with_timeout(services.search_timeout, services.search.health()).await;
    let backlog = consumer::backlog(&services.db, indexer::NAME)
        .await
        .unwrap_or_default();
    let body = json!({
        "status": if database.is_ok() { "ready" } else { "unavailable" },
        "database": if database.is_ok() { "ok" } else { "unreachable" },
        "search": { "engine": services.search.engine(), "status": if search.is_ok() { "ok" } else { "unavailable" } },
        "searchBacklog": {
            "events": backlog.events,
            "oldestAgeSeconds": backlog.oldest_age_seconds,
            "failedAttempts": backlog.attempts,
        },
    });
    match database {
        Ok(()) => HttpResponse::Ok().json(body),
        Err(e) => {
            tracing::warn!(error = %e, "readiness check: database unreachable");
            HttpResponse::ServiceUnavailable().json(body)
        }
    }
}

/// Prometheus text exposition.
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    let services = &state.services;
    let backlog = consumer::backlog(&services.db, indexer::NAME)
        .await
        .unwrap_or_default();
    let search_up = crate::search::with_timeout(services.search_timeout, services.search.health())
        .await
        .is_ok();
    let mut text = String::new();
    let mut metric = |name: &str, kind: &str, help: &str, value: String| {
        let _ = writeln!(
            text,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}"
        );
    };
    metric(
        "marketplace_search_backlog_events",
        "gauge",
        "Events the search indexer has not processed yet.",
        backlog.events.to_string(),
    );
    metric(
        "marketplace_search_backlog_oldest_age_seconds",
        "gauge",
        "Age of the oldest event the search indexer has not processed yet.",
        format!("{:.3}", backlog.oldest_age_seconds),
    );
    metric(
        "marketplace_search_indexer_failed_attempts",
        "gauge",
        "Failed attempts at the search indexer's next batch (0 when it is healthy).",
        backlog.attempts.to_string(),
    );
    metric(
        "marketplace_search_engine_up",
        "gauge",
        "Whether the search engine answers.",
        u8::from(search_up).to_string(),
    );
    metric(
        "marketplace_db_statements_total",
        "counter",
        "SQL statements sent since start.",
        services.statements.get().to_string(),
    );
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(text)
}
