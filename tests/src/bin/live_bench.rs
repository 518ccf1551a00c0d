//! The live lifecycle, measured (a benchmark, not a test): run on PostgreSQL with
//! `scripts/live-bench` (`TEST_DATABASE_URL=… cargo run --release -p tests --bin
//! live_bench`). The server runs in this process, as in the black-box tests.
//!
//! 1. Commit to receipt: 1,000 partners connected over WebSocket, each following
//!    `myApplicationUpdated`; the vendor approves applications one after the other, and
//!    each approval's latency is taken from the moment its HTTP response arrived (the
//!    transaction had committed) to the moment its partner's socket got the update.
//! 2. Webhook throughput: 5,000 events for an endpoint on a local receiver that answers
//!    200 at once; the dispatcher queues them, the sender sends them; deliveries a second.
//! 3. The event row's share of `applyToProgram`: a pending application's write, timed
//!    through the service, against the same event `INSERT` alone inside a transaction.
#![allow(clippy::unwrap_used, clippy::expect_used)] // a measuring program: failing loudly is the point

use std::{
    sync::{Arc, Mutex},
    time::{Duration, Instant},
};

use serde_json::json;
use tests::{TestApp, market::APPROVE, receiver::Receiver};

const SUBSCRIBERS: usize = 1_000;
const DECISIONS: usize = 200;
const WEBHOOK_EVENTS: usize = 5_000;

/// The number inside a global ID (`base64url("Type:id")`).
fn numeric(id: &serde_json::Value) -> i64 {
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
    let text = String::from_utf8(URL_SAFE_NO_PAD.decode(id.as_str().unwrap()).unwrap()).unwrap();
    text.split_once(':').unwrap().1.parse().unwrap()
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let at = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[at.min(sorted.len() - 1)]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let app =
        TestApp::spawn_with(&["--rate-limits", "false", "--database-max-connections", "20"]).await;
    let backend = format!("{:?}", app.services.db.get_database_backend());
    println!("backend: {backend}");
    commit_to_receipt(&app).await;
    webhook_throughput(&app).await;
    event_row_cost(&app).await;
}

async fn commit_to_receipt(app: &TestApp) {
    let market = app.market("live-bench").await;
    // 1,000 partners with a pending application each, each connected and subscribed.
    let mut pending = Vec::new();
    let received: Arc<Mutex<std::collections::HashMap<String, Instant>>> = Arc::default();
    let started = Instant::now();
    for i in 0..SUBSCRIBERS {
        let partner = app.user(&format!("live-{i}@example.com")).await;
        app.partner_profile(&partner, &format!("live-{i}"), json!({}))
            .await;
        let application = if i < DECISIONS {
            Some(app.applied(&partner, &market, json!({})).await["id"].clone())
        } else {
            None
        };
        let mut ws = app.ws_for(partner.token()).await;
        ws.subscribe(
            "mine",
            "subscription { myApplicationUpdated { id status } }",
            json!({}),
        )
        .await;
        let seen = Arc::clone(&received);
        tokio::spawn(async move {
            while let Some(tests::ws::Received::Message(m)) =
                ws.recv_within(Duration::from_secs(600)).await
            {
                if let Some(id) = m["payload"]["data"]["myApplicationUpdated"]["id"].as_str() {
                    seen.lock().unwrap().insert(id.to_owned(), Instant::now());
                }
            }
        });
        if let Some(id) = application {
            pending.push(id);
        }
    }
    println!(
        "{SUBSCRIBERS} subscribers connected in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut committed = Vec::new();
    for id in &pending {
        let approved = market
            .owner
            .gql(APPROVE, json!({ "input": { "applicationId": id } }))
            .await;
        assert_eq!(approved.data("approveApplication")["userErrors"], json!([]));
        committed.push((id.as_str().unwrap().to_owned(), Instant::now()));
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let seen = received.lock().unwrap().clone();
    let mut latencies: Vec<f64> = committed
        .iter()
        .filter_map(|(id, at)| {
            seen.get(id)
                .map(|got| got.saturating_duration_since(*at).as_secs_f64() * 1_000.0)
        })
        .collect();
    latencies.sort_by(|a, b| a.total_cmp(b));
    println!(
        "commit → subscriber: {} of {} decisions received with {SUBSCRIBERS} subscribers connected; p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        latencies.len(),
        committed.len(),
        percentile(&latencies, 0.50),
        percentile(&latencies, 0.99),
        latencies.last().copied().unwrap_or_default()
    );
}

async fn webhook_throughput(app: &TestApp) {
    use api::service::{
        Actor,
        events::{self, ApplicationFacts, DomainEvent},
        webhooks::{deliver::Sender, dispatch::Dispatcher},
    };
    let receiver = Receiver::start(0).await;
    let market = app.market("hook-bench").await;
    let created = market
        .owner
        .gql(
            "mutation($input: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $input) { userErrors { code } } }",
            json!({ "input": { "vendorId": market.vendor_id, "url": receiver.url, "eventTypes": ["application.submitted"] } }),
        )
        .await;
    assert_eq!(
        created.data("createWebhookEndpoint")["userErrors"],
        json!([])
    );
    let vendor_id = numeric(&market.vendor_id);
    // Distinct subjects, so nothing waits on ordering.
    let facts = |i: i64| ApplicationFacts {
        application_id: 1_000_000 + i,
        program_id: 1,
        vendor_id,
        partner_id: 1,
        status: "PENDING".into(),
        join_source: "MARKETPLACE_SEARCH".into(),
        decided_by: None,
        rejection_reason: None,
        rejection_note: None,
    };
    let txn = api::db::begin_write(&app.services.db).await.unwrap();
    events::emit_all(
        &txn,
        &Actor::system(),
        (0..WEBHOOK_EVENTS as i64).map(|i| DomainEvent::ApplicationSubmitted(facts(i))),
    )
    .await
    .unwrap();
    txn.commit().await.unwrap();
    let dispatcher = Dispatcher {
        queued: Arc::clone(&app.services.webhooks_queued),
    };
    let queued_at = Instant::now();
    api::service::events::consumer::drain(&app.services.db, &dispatcher)
        .await
        .unwrap();
    let queued = queued_at.elapsed();
    let sender = Sender::new(&app.services.webhook_config).unwrap();
    let sent_at = Instant::now();
    let sent = sender.run_until_idle(&app.services.db).await.unwrap();
    let sending = sent_at.elapsed();
    let received = receiver.received().len();
    println!(
        "webhooks: {WEBHOOK_EVENTS} events queued as deliveries in {:.2} s; {sent} sent, {received} received in {:.2} s: {:.0} deliveries/s",
        queued.as_secs_f64(),
        sending.as_secs_f64(),
        received as f64 / sending.as_secs_f64()
    );
}

async fn event_row_cost(app: &TestApp) {
    use api::service::{
        Actor,
        events::{self, DomainEvent},
    };
    let market = app.market("cost-bench").await;
    let mut partners = Vec::new();
    for i in 0..300 {
        let partner = app.user(&format!("cost-{i}@example.com")).await;
        app.partner_profile(&partner, &format!("cost-{i}"), json!({}))
            .await;
        partners.push(partner);
    }
    let started = Instant::now();
    for partner in &partners {
        app.applied(partner, &market, json!({})).await;
    }
    let per_apply = started.elapsed().as_secs_f64() * 1_000.0 / partners.len() as f64;
    // The same event row, written alone, inside one transaction per write.
    let rounds = 300;
    let started = Instant::now();
    for i in 0..rounds {
        let txn = api::db::begin_write(&app.services.db).await.unwrap();
        let event = DomainEvent::VendorUpdated { vendor_id: i };
        events::emit(&txn, &Actor::system(), event).await.unwrap();
        txn.commit().await.unwrap();
    }
    let with_txn = started.elapsed().as_secs_f64() * 1_000.0 / f64::from(rounds as u32);
    let txn = api::db::begin_write(&app.services.db).await.unwrap();
    let started = Instant::now();
    for i in 0..rounds {
        events::emit(
            &txn,
            &Actor::system(),
            DomainEvent::VendorUpdated { vendor_id: i },
        )
        .await
        .unwrap();
    }
    let insert = started.elapsed().as_secs_f64() * 1_000.0 / f64::from(rounds as u32);
    txn.rollback().await.unwrap();
    println!(
        "event row: applyToProgram (pending, over HTTP) {per_apply:.2} ms; the event INSERT inside its transaction {insert:.3} ms = {:.1} % of it (alone with its own transaction and commit: {with_txn:.2} ms)",
        insert / per_apply * 100.0
    );
}
