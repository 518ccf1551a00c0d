//! Signed webhooks, delivered to a real HTTP receiver: Standard Webhooks signatures
//! checked with the `standardwebhooks` crate, retries, ordering, pausing, rotation, the
//! SSRF guard, restarts and replicas.

use std::time::Duration;

use serde_json::{Value, json};
use tests::{
    Client, TestApp,
    market::{APPROVE, Market},
    receiver::{Delivered, Receiver},
};

const CREATE: &str =
    "mutation($input: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $input) {
    endpoint { id url eventTypes status } secret userErrors { field code message } } }";

async fn endpoint(owner: &Client, vendor: &Value, url: &str, types: &[&str]) -> (Value, String) {
    let created = owner
        .gql(
            CREATE,
            json!({ "input": { "vendorId": vendor, "url": url, "description": "ours", "eventTypes": types } }),
        )
        .await;
    let payload = created.data("createWebhookEndpoint");
    assert_eq!(payload["userErrors"], json!([]), "{:#}", created.body);
    (
        payload["endpoint"]["id"].clone(),
        payload["secret"].as_str().unwrap().to_owned(),
    )
}

/// Verifies a delivery the way a receiver would, with the `standardwebhooks` crate.
fn verifies(delivered: &Delivered, secret: &str) -> bool {
    let mut headers = http::HeaderMap::new();
    for name in ["webhook-id", "webhook-timestamp", "webhook-signature"] {
        headers.insert(name, delivered.header(name).parse().unwrap());
    }
    standardwebhooks::Webhook::new(secret)
        .unwrap()
        .verify(delivered.body.as_bytes(), &headers)
        .is_ok()
}

#[tokio::test]
async fn an_event_reaches_the_vendors_endpoint_signed_and_verifiable() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start(0).await;
    let market = app.market("signed").await;
    let (_, secret) = endpoint(
        &market.owner,
        &market.vendor_id,
        &receiver.url,
        &["application.submitted", "application.approved"],
    )
    .await;
    let applied = app.applied(&market.partner, &market, json!({})).await;
    app.deliver_webhooks().await;
    let got = receiver.received();
    assert_eq!(got.len(), 1);
    let delivery = &got[0];
    assert!(verifies(delivery, &secret), "the signature verifies");
    assert!(!verifies(
        delivery,
        "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    ));
    assert!(delivery.header("webhook-signature").starts_with("v1,"));
    assert_eq!(delivery.header("content-type"), "application/json");
    let body = delivery.json();
    assert_eq!(body["type"], "application.submitted");
    assert_eq!(body["id"], delivery.header("webhook-id"));
    assert!(body["apiVersion"].is_string() && body["timestamp"].is_string());
    assert_eq!(body["data"]["applicationId"], applied["id"]);
    assert_eq!(body["data"]["vendorId"], market.vendor_id);
    assert_eq!(body["data"]["status"], "PENDING");
    // Events of types it did not subscribe to do not come; another vendor's never do.
    let other = app.market("signed-other").await;
    app.applied(&other.partner, &other, json!({})).await;
    app.deliver_webhooks().await;
    assert_eq!(receiver.received().len(), 1);
    // The approval does.
    market
        .owner
        .gql(
            APPROVE,
            json!({ "input": { "applicationId": applied["id"] } }),
        )
        .await;
    app.deliver_webhooks().await;
    let got = receiver.received();
    assert_eq!(got.len(), 2);
    assert_eq!(got[1].json()["type"], "application.approved");
    assert!(verifies(&got[1], &secret));
}

#[tokio::test]
async fn a_failing_receiver_gets_the_event_again_until_it_succeeds_and_the_log_shows_it() {
    let app = TestApp::spawn_with(&["--webhook-retry-schedule-secs", "0,0,0,0,0"]).await;
    let receiver = Receiver::start(3).await;
    let market = app.market("retry").await;
    let (endpoint_id, secret) = endpoint(
        &market.owner,
        &market.vendor_id,
        &receiver.url,
        &["application.submitted"],
    )
    .await;
    app.applied(&market.partner, &market, json!({})).await;
    for _ in 0..6 {
        app.deliver_webhooks().await;
    }
    let got = receiver.received();
    assert_eq!(got.len(), 4, "three failures, then the success");
    let ids: Vec<&str> = got.iter().map(|d| d.header("webhook-id")).collect();
    assert!(
        ids.iter().all(|id| *id == ids[0]),
        "one message, deduplicable: {ids:?}"
    );
    assert!(got.iter().all(|d| verifies(d, &secret)));
    let log = market
        .owner
        .gql(
            "query($id: ID!) { node(id: $id) { ... on WebhookEndpoint { failingSince deliveries(first: 5) {
                edges { node { type status attempts lastStatusCode lastError lastLatencyMs nextAttemptAt deliveredAt } } } } } }",
            json!({ "id": endpoint_id }),
        )
        .await;
    let endpoint = log.data("node");
    assert_eq!(
        endpoint["failingSince"],
        Value::Null,
        "the success cleared it"
    );
    let delivery = &endpoint["deliveries"]["edges"][0]["node"];
    assert_eq!(delivery["status"], "SUCCEEDED");
    assert_eq!(delivery["attempts"], 4);
    assert_eq!(delivery["lastStatusCode"], 200);
    assert!(delivery["deliveredAt"].is_string());
    assert_eq!(delivery["nextAttemptAt"], Value::Null);
}

#[tokio::test]
async fn a_delivery_whose_schedule_runs_out_fails_and_can_be_redelivered() {
    let app = TestApp::spawn_with(&["--webhook-retry-schedule-secs", "0"]).await;
    let receiver = Receiver::start(2).await;
    let market = app.market("exhausted").await;
    let (endpoint_id, _) = endpoint(
        &market.owner,
        &market.vendor_id,
        &receiver.url,
        &["application.submitted"],
    )
    .await;
    app.applied(&market.partner, &market, json!({})).await;
    for _ in 0..3 {
        app.deliver_webhooks().await;
    }
    assert_eq!(
        receiver.received().len(),
        2,
        "the first attempt and one retry"
    );
    let log = market
        .owner
        .gql(
            "query($id: ID!) { node(id: $id) { ... on WebhookEndpoint { deliveries(first: 5, statuses: [FAILED]) { edges { node { id status lastError } } } } } }",
            json!({ "id": endpoint_id }),
        )
        .await;
    let failed = log.data("node")["deliveries"]["edges"][0]["node"].clone();
    assert_eq!(failed["status"], "FAILED");
    assert_eq!(failed["lastError"], "answered HTTP 500");
    let again = market
        .owner
        .gql(
            "mutation($input: RedeliverWebhookInput!) { redeliverWebhook(input: $input) { delivery { status } userErrors { code } } }",
            json!({ "input": { "deliveryId": failed["id"] } }),
        )
        .await;
    assert_eq!(
        again.data("redeliverWebhook")["delivery"]["status"],
        "PENDING"
    );
    app.deliver_webhooks().await;
    let got = receiver.received();
    assert_eq!(got.len(), 3);
    assert_eq!(got[2].header("webhook-id"), got[0].header("webhook-id"));
}

#[tokio::test]
async fn events_of_one_subject_arrive_in_order_even_across_retries() {
    let app = TestApp::spawn_with(&["--webhook-retry-schedule-secs", "0,0,0"]).await;
    let receiver = Receiver::start(1).await;
    let market = app.market("order").await;
    endpoint(
        &market.owner,
        &market.vendor_id,
        &receiver.url,
        &["application.submitted", "application.approved"],
    )
    .await;
    let applied = app.applied(&market.partner, &market, json!({})).await;
    market
        .owner
        .gql(
            APPROVE,
            json!({ "input": { "applicationId": applied["id"] } }),
        )
        .await;
    // The first attempt of `submitted` fails: `approved` must wait for it.
    for _ in 0..4 {
        app.deliver_webhooks().await;
    }
    let types: Vec<String> = receiver
        .received()
        .iter()
        .map(|d| d.json()["type"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        types,
        [
            "application.submitted",
            "application.submitted",
            "application.approved"
        ]
    );
}

#[tokio::test]
async fn paused_endpoints_receive_nothing_and_resumed_ones_receive_again() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start(0).await;
    let market = app.market("paused").await;
    let (id, _) = endpoint(
        &market.owner,
        &market.vendor_id,
        &receiver.url,
        &["application.submitted"],
    )
    .await;
    let pause = |m: &str| {
        format!(
            "mutation($input: WebhookEndpointInput!) {{ {m}(input: $input) {{ endpoint {{ status }} userErrors {{ code }} }} }}"
        )
    };
    let paused = market
        .owner
        .gql(
            &pause("pauseWebhookEndpoint"),
            json!({ "input": { "id": id } }),
        )
        .await;
    assert_eq!(
        paused.data("pauseWebhookEndpoint")["endpoint"]["status"],
        "PAUSED"
    );
    app.applied(&market.partner, &market, json!({})).await;
    app.deliver_webhooks().await;
    assert!(receiver.received().is_empty());
    let resumed = market
        .owner
        .gql(
            &pause("resumeWebhookEndpoint"),
            json!({ "input": { "id": id } }),
        )
        .await;
    assert_eq!(
        resumed.data("resumeWebhookEndpoint")["endpoint"]["status"],
        "ACTIVE"
    );
    app.applied(&market.other_partner, &market, json!({})).await;
    app.deliver_webhooks().await;
    assert_eq!(
        receiver.received().len(),
        1,
        "what happened while paused is not sent"
    );
    // A test message goes whatever the event types.
    let test = market
        .owner
        .gql(
            "mutation($input: WebhookEndpointInput!) { sendTestWebhook(input: $input) { delivery { type status } } }",
            json!({ "input": { "id": id } }),
        )
        .await;
    assert_eq!(
        test.data("sendTestWebhook")["delivery"]["type"],
        "webhook.test"
    );
    app.deliver_webhooks().await;
    assert_eq!(receiver.received()[1].json()["type"], "webhook.test");
}

#[tokio::test]
async fn after_a_rotation_both_secrets_sign_for_a_day() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start(0).await;
    let market = app.market("rotation").await;
    let (id, old) = endpoint(
        &market.owner,
        &market.vendor_id,
        &receiver.url,
        &["application.submitted"],
    )
    .await;
    let rotated = market
        .owner
        .gql(
            "mutation($input: WebhookEndpointInput!) { rotateWebhookSecret(input: $input) { secret endpoint { previousSecretExpiresAt } } }",
            json!({ "input": { "id": id } }),
        )
        .await;
    let new = rotated.data("rotateWebhookSecret")["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_ne!(new, old);
    let expires = rotated.data("rotateWebhookSecret")["endpoint"]["previousSecretExpiresAt"]
        .as_str()
        .unwrap()
        .parse::<chrono::DateTime<chrono::Utc>>()
        .unwrap();
    let hours = (expires - chrono::Utc::now()).num_minutes() as f64 / 60.0;
    assert!((23.9..=24.0).contains(&hours), "{hours}");
    app.applied(&market.partner, &market, json!({})).await;
    app.deliver_webhooks().await;
    let got = &receiver.received()[0];
    assert_eq!(got.header("webhook-signature").split(' ').count(), 2);
    assert!(verifies(got, &new) && verifies(got, &old));
    // The secret is never readable afterwards.
    let listed = market
        .owner
        .gql(
            "query($v: ID!) { webhookEndpoints(vendorId: $v) { id url } }",
            json!({ "v": market.vendor_id }),
        )
        .await;
    assert!(!listed.body.to_string().contains("whsec_"));
}

#[tokio::test]
async fn local_and_metadata_addresses_are_refused_when_local_targets_are_not_allowed() {
    let app = TestApp::spawn_with(&["--webhooks-allow-local", "false"]).await;
    let market = app.market("ssrf").await;
    for url in [
        "http://127.0.0.1:8080/hook",
        "https://10.0.0.1/hook",
        "https://169.254.169.254/latest/meta-data",
        "https://[::1]/hook",
        "https://localhost/hook",
    ] {
        let refused = market
            .owner
            .gql(
                CREATE,
                json!({ "input": { "vendorId": market.vendor_id, "url": url, "eventTypes": ["application.submitted"] } }),
            )
            .await;
        let errors = &refused.data("createWebhookEndpoint")["userErrors"];
        assert_eq!(errors[0]["field"], "url", "{url}: {errors}");
        assert_eq!(errors[0]["code"], "INVALID", "{url}");
    }
    assert_eq!(app.count("webhook_endpoint").await, 0);
}

#[tokio::test]
async fn bad_endpoint_input_gets_its_typed_error_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start(0).await;
    let market = app.market("bad-input").await;
    let create = |input: Value| {
        let owner = market.owner.clone();
        async move {
            let answer = owner.gql(CREATE, json!({ "input": input })).await;
            answer.data("createWebhookEndpoint")["userErrors"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| {
                    (
                        e["field"].as_str().unwrap_or("").to_owned(),
                        e["code"].as_str().unwrap().to_owned(),
                    )
                })
                .collect::<Vec<_>>()
        }
    };
    let v = market.vendor_id.clone();
    let cases = [
        (
            json!({ "vendorId": v, "url": receiver.url, "eventTypes": ["program.exploded"] }),
            ("eventTypes.0", "INVALID"),
        ),
        (
            json!({ "vendorId": v, "url": receiver.url, "eventTypes": [] }),
            ("eventTypes", "REQUIRED"),
        ),
        (
            json!({ "vendorId": v, "url": "not a url", "eventTypes": ["application.submitted"] }),
            ("url", "INVALID"),
        ),
        (
            json!({ "vendorId": v, "url": "ftp://example.com/x", "eventTypes": ["application.submitted"] }),
            ("url", "INVALID"),
        ),
        (
            json!({ "vendorId": v, "url": "https://user:pw@example.com/x", "eventTypes": ["application.submitted"] }),
            ("url", "INVALID"),
        ),
    ];
    for (input, (field, code)) in cases {
        assert_eq!(
            create(input.clone()).await,
            [(field.to_owned(), code.to_owned())],
            "{input}"
        );
    }
    assert_eq!(app.count("webhook_endpoint").await, 0);
    endpoint(&market.owner, &v, &receiver.url, &["application.submitted"]).await;
    let duplicate = create(
        json!({ "vendorId": v, "url": receiver.url, "eventTypes": ["application.approved"] }),
    )
    .await;
    assert_eq!(duplicate, [("url".to_owned(), "DUPLICATE".to_owned())]);
    for i in 1..20 {
        endpoint(
            &market.owner,
            &v,
            &format!("{}/{i}", receiver.url),
            &["application.submitted"],
        )
        .await;
    }
    let over = create(json!({ "vendorId": v, "url": format!("{}/21", receiver.url), "eventTypes": ["application.submitted"] })).await;
    assert_eq!(over, [(String::new(), "OUT_OF_RANGE".to_owned())]);
    assert_eq!(app.count("webhook_endpoint").await, 20);
    // Someone else's vendor: answered like a missing one; a member may not manage them.
    let outsider = market
        .outsider
        .gql(CREATE, json!({ "input": { "vendorId": v, "url": receiver.url, "eventTypes": ["application.submitted"] } }))
        .await;
    assert!(matches!(outsider.error_code(), "NOT_FOUND" | "FORBIDDEN"));
    let member = market
        .member
        .gql(CREATE, json!({ "input": { "vendorId": v, "url": receiver.url, "eventTypes": ["application.submitted"] } }))
        .await;
    assert_eq!(member.error_code(), "FORBIDDEN");
}

#[tokio::test]
async fn a_partner_receives_its_own_events_only() {
    let app = TestApp::spawn().await;
    let receiver = Receiver::start(0).await;
    let market = app.market("partner-hooks").await;
    let created = market
        .partner
        .gql(
            CREATE,
            json!({ "input": { "url": receiver.url, "eventTypes": ["application.approved", "enrollment.created"] } }),
        )
        .await;
    let secret = created.data("createWebhookEndpoint")["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let mine = app.applied(&market.partner, &market, json!({})).await;
    let theirs = app.applied(&market.other_partner, &market, json!({})).await;
    for application in [&mine, &theirs] {
        market
            .owner
            .gql(
                APPROVE,
                json!({ "input": { "applicationId": application["id"] } }),
            )
            .await;
    }
    app.deliver_webhooks().await;
    let got = receiver.received();
    // Order holds per subject only; the application and the enrollment are two
    // subjects, so their deliveries may arrive either way round.
    let mut types: Vec<String> = got
        .iter()
        .map(|d| d.json()["type"].as_str().unwrap().to_owned())
        .collect();
    types.sort();
    assert_eq!(types, ["application.approved", "enrollment.created"]);
    assert!(
        got.iter()
            .all(|d| d.json()["data"]["partnerId"] == market.partner_id)
    );
    assert!(got.iter().all(|d| verifies(d, &secret)));
}

#[tokio::test]
async fn a_day_of_failures_disables_the_endpoint_with_its_reason() {
    use entity::webhook_endpoint;
    use sea_orm::{EntityTrait, sea_query::Expr};
    let app = TestApp::spawn_with(&[
        "--webhook-retry-schedule-secs",
        "0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0",
    ])
    .await;
    let receiver = Receiver::start(1_000).await;
    let market = app.market("disabled").await;
    let (id, _) = endpoint(
        &market.owner,
        &market.vendor_id,
        &receiver.url,
        &["application.submitted"],
    )
    .await;
    // It has been failing for a day already.
    webhook_endpoint::Entity::update_many()
        .col_expr(
            webhook_endpoint::Column::FailingSince,
            Expr::value(chrono::Utc::now() - chrono::Duration::hours(25)),
        )
        .col_expr(
            webhook_endpoint::Column::ConsecutiveFailures,
            Expr::value(18),
        )
        .exec(&app.services.db)
        .await
        .unwrap();
    app.applied(&market.partner, &market, json!({})).await;
    for _ in 0..3 {
        app.deliver_webhooks().await;
    }
    assert_eq!(
        receiver.received().len(),
        2,
        "disabled after the 20th failure in a row"
    );
    let seen = market
        .owner
        .gql(
            "query($id: ID!) { node(id: $id) { ... on WebhookEndpoint { status disabledReason } } }",
            json!({ "id": id }),
        )
        .await;
    assert_eq!(seen.data("node")["status"], "DISABLED");
    assert!(
        seen.data("node")["disabledReason"]
            .as_str()
            .unwrap()
            .contains("answered HTTP 500")
    );
}

#[tokio::test]
async fn a_restart_in_the_middle_of_retries_loses_nothing() {
    let args = [
        "--webhook-worker",
        "true",
        "--webhook-retry-schedule-secs",
        "1,1,1,1",
    ];
    let first = TestApp::spawn_with(&args).await;
    let receiver = Receiver::start(2).await;
    let market: Market = first.market("restart").await;
    endpoint(
        &market.owner,
        &market.vendor_id,
        &receiver.url,
        &["application.submitted"],
    )
    .await;
    first.applied(&market.partner, &market, json!({})).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while receiver.received().is_empty() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(receiver.received().len(), 1, "the first attempt failed");
    first.stop().await;
    let second = first.replica().await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while receiver.received().len() < 3 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let got = receiver.received();
    assert_eq!(
        got.len(),
        3,
        "two failures, then the success, across the restart"
    );
    assert!(
        got.iter()
            .all(|d| d.header("webhook-id") == got[0].header("webhook-id"))
    );
    drop(second);
}

#[tokio::test]
async fn two_replicas_send_each_attempt_once() {
    let args = ["--webhook-worker", "true"];
    let first = TestApp::spawn_with(&args).await;
    let second = first.replica().await;
    let receiver = Receiver::start(0).await;
    let market = first.market("replicas").await;
    endpoint(
        &market.owner,
        &market.vendor_id,
        &receiver.url,
        &["application.submitted", "application.approved"],
    )
    .await;
    let mut expected = 0;
    for i in 0..6 {
        let partner = first
            .user(&format!("replica-partner-{i}@example.com"))
            .await;
        first
            .partner_profile(&partner, &format!("replica-partner-{i}"), json!({}))
            .await;
        let applied = first.applied(&partner, &market, json!({})).await;
        // Decisions go through the other replica.
        let owner = second.with_token(market.owner.token().unwrap());
        owner
            .gql(
                APPROVE,
                json!({ "input": { "applicationId": applied["id"] } }),
            )
            .await;
        expected += 2;
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while receiver.received().len() < expected && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Give a duplicate, if any, the time to arrive.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let got = receiver.received();
    let mut ids: Vec<&str> = got.iter().map(|d| d.header("webhook-id")).collect();
    ids.sort_unstable();
    let before = ids.len();
    ids.dedup();
    assert_eq!(before, expected, "every event delivered");
    assert_eq!(ids.len(), before, "and each exactly once");
}

#[tokio::test]
async fn with_no_endpoint_the_dispatcher_skips_the_log_and_an_endpoint_created_later_still_gets_its_events()
 {
    use api::service::{
        events::consumer,
        webhooks::dispatch::{Dispatcher, NAME},
    };
    let app = TestApp::spawn().await;
    let market = app.market("skip-log").await;
    app.applied(&market.partner, &market, json!({})).await;
    let backlog = || async {
        consumer::backlog(&app.services.db, NAME)
            .await
            .unwrap()
            .events
    };
    assert!(backlog().await > 0, "the fixture's events wait");
    // Nobody registered an endpoint: nothing is read, the cursor moves to the head.
    let dispatcher = Dispatcher {
        queued: std::sync::Arc::clone(&app.services.webhooks_queued),
    };
    let read = consumer::drain(&app.services.db, &dispatcher)
        .await
        .unwrap();
    assert_eq!(read, 0, "no event read");
    assert_eq!(backlog().await, 0);
    // An endpoint registered now gets what happens from now on.
    let receiver = Receiver::start(0).await;
    endpoint(
        &market.owner,
        &market.vendor_id,
        &receiver.url,
        &["application.submitted"],
    )
    .await;
    app.applied(&market.other_partner, &market, json!({})).await;
    app.deliver_webhooks().await;
    let got = receiver.received();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].json()["type"], "application.submitted");
}
