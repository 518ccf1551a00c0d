//! GraphQL subscriptions over WebSocket (`graphql-transport-ws`), driven by a real
//! WebSocket client: live updates as they happen, authorization when subscribing and for
//! every event, and the protocol's refusals with their close codes.

use std::time::Duration;

use serde_json::{Value, json};
use tests::{
    TestApp,
    market::{APPROVE, Market},
    ws::Received,
};

const MY_APPLICATIONS: &str = "subscription { myApplicationUpdated { id status } }";
const SUBMITTED: &str = "subscription($p: ID!) { applicationSubmitted(programId: $p) { id status applicant { slug } } }";

/// The code of the first error of a refused subscription, whether it came as an
/// `error` message (refused before it ran) or as a `next` with errors (refused by its
/// field).
fn refusal_code(message: &Value) -> String {
    let errors = match message["type"].as_str() {
        Some("error") => &message["payload"],
        _ => &message["payload"]["errors"],
    };
    errors[0]["extensions"]["code"]
        .as_str()
        .unwrap_or_else(|| panic!("no error code in {message}"))
        .to_owned()
}

fn next_of(message: Value, id: &str) -> Value {
    assert_eq!(message["id"], id, "{message}");
    assert_eq!(message["type"], "next", "{message}");
    assert!(message["payload"].get("errors").is_none(), "{message}");
    message["payload"]["data"].clone()
}

/// Subscribing is asynchronous (the protocol has no acknowledgement for it): tests give
/// the server a moment to have registered a subscription before making the change it
/// should see.
async fn settle() {
    tokio::time::sleep(Duration::from_millis(500)).await;
}

#[tokio::test]
async fn a_partner_sees_the_vendors_decision_on_their_application_as_it_happens() {
    let app = TestApp::spawn().await;
    let market = app.market("live").await;
    let applied = app.applied(&market.partner, &market, json!({})).await;
    let mut ws = app.ws_for(market.partner.token()).await;
    ws.subscribe("1", MY_APPLICATIONS, json!({})).await;
    settle().await;
    let approved = market
        .owner
        .gql(
            APPROVE,
            json!({ "input": { "applicationId": applied["id"] } }),
        )
        .await;
    assert_eq!(approved.data("approveApplication")["userErrors"], json!([]));
    let update = next_of(ws.recv().await.message(), "1");
    assert_eq!(update["myApplicationUpdated"]["id"], applied["id"]);
    assert_eq!(update["myApplicationUpdated"]["status"], "APPROVED");
    // Someone else's application is none of this partner's business.
    app.applied(&market.other_partner, &market, json!({})).await;
    assert!(ws.silent_for(Duration::from_millis(500)).await);
    // Completing the subscription ends it.
    ws.send(json!({ "id": "1", "type": "complete" })).await;
    assert!(ws.silent_for(Duration::from_millis(300)).await);
}

#[tokio::test]
async fn a_subscriber_gets_nothing_that_had_committed_before_it_subscribed() {
    use sea_orm::{ConnectionTrait, DbBackend, Statement, TransactionTrait};
    let app = TestApp::spawn().await;
    let market = app.market("horizon").await;
    // On PostgreSQL a transaction running elsewhere holds the log's settled head back:
    // the broadcaster may forward only what is older than it.
    let db = &app.services.db;
    let blocker = db.begin().await.unwrap();
    if db.get_database_backend() == DbBackend::Postgres {
        blocker
            .execute_raw(Statement::from_string(
                DbBackend::Postgres,
                "SELECT pg_current_xact_id()",
            ))
            .await
            .unwrap();
    }
    // Committed before the partner subscribes…
    let applied = app.applied(&market.partner, &market, json!({})).await;
    let mut ws = app.ws_for(market.partner.token()).await;
    ws.subscribe("1", MY_APPLICATIONS, json!({})).await;
    settle().await;
    // …and forwarded only after (once the blocker ends): it must not be sent.
    blocker.commit().await.unwrap();
    market
        .owner
        .gql(
            APPROVE,
            json!({ "input": { "applicationId": applied["id"] } }),
        )
        .await;
    let update = next_of(ws.recv().await.message(), "1");
    assert_eq!(update["myApplicationUpdated"]["status"], "APPROVED");
    assert!(
        ws.silent_for(Duration::from_millis(500)).await,
        "one update: the approval, not the submission from before"
    );
}

#[tokio::test]
async fn the_team_follows_new_applications_until_a_member_is_removed() {
    let app = TestApp::spawn().await;
    let market = app.market("team").await;
    let mut member = app.ws_for(market.member.token()).await;
    member
        .subscribe("a", SUBMITTED, json!({ "p": market.program_id }))
        .await;
    settle().await;
    let applied = app.applied(&market.partner, &market, json!({})).await;
    let update = next_of(member.recv().await.message(), "a");
    assert_eq!(update["applicationSubmitted"]["id"], applied["id"]);
    assert_eq!(update["applicationSubmitted"]["status"], "PENDING");

    // The owner removes the member: the next event ends the subscription, unseen.
    let team = market
        .owner
        .gql(
            "query($id: ID!) { node(id: $id) { ... on Vendor { members { id email } } } }",
            json!({ "id": market.vendor_id }),
        )
        .await;
    let member_id = team.data("node")["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["email"] == "member-team@example.com")
        .map(|m| m["id"].clone())
        .unwrap_or_else(|| panic!("{:#}", team.body));
    let removed = market
        .owner
        .gql(
            "mutation($input: RemoveVendorMemberInput!) { removeVendorMember(input: $input) { userErrors { code } } }",
            json!({ "input": { "memberId": member_id } }),
        )
        .await;
    assert_eq!(removed.data("removeVendorMember")["userErrors"], json!([]));
    app.applied(&market.other_partner, &market, json!({})).await;
    let ended = member.recv().await.message();
    assert_eq!(ended["id"], "a");
    assert_eq!(refusal_code(&ended), "FORBIDDEN", "{ended}");
    assert_eq!(ended["payload"]["data"], Value::Null);
    assert_eq!(member.recv().await.message()["type"], "complete");
}

#[tokio::test]
async fn a_foreign_or_malformed_program_answers_like_a_missing_one_and_sends_nothing() {
    let app = TestApp::spawn().await;
    let market = app.market("foreign").await;
    let mut partner = app.ws_for(market.partner.token()).await;
    for (id, program) in [
        ("foreign", market.program_id.clone()),
        ("garbage", json!("not-an-id")),
    ] {
        partner
            .subscribe(id, SUBMITTED, json!({ "p": program }))
            .await;
        let refused = partner.recv().await.message();
        assert_eq!(refused["id"], id);
        let code = refusal_code(&refused);
        assert!(code == "NOT_FOUND" || code == "BAD_USER_INPUT", "{refused}");
        if refused["type"] == "next" {
            assert_eq!(partner.recv().await.message()["type"], "complete");
        }
    }
    app.applied(&market.partner, &market, json!({})).await;
    assert!(partner.silent_for(Duration::from_millis(500)).await);
}

#[tokio::test]
async fn anyone_follows_a_published_listing() {
    let app = TestApp::spawn().await;
    let market = app.market("listing").await;
    let mut anonymous = app.ws_for(None).await;
    anonymous
        .subscribe(
            "p",
            "subscription($id: ID!) { programUpdated(id: $id) { name status } }",
            json!({ "id": market.program_id }),
        )
        .await;
    settle().await;
    let version = market
        .owner
        .gql(
            "query($id: ID!) { node(id: $id) { ... on Program { version } } }",
            json!({ "id": market.program_id }),
        )
        .await
        .data("node")["version"]
        .clone();
    market
        .owner
        .gql(
            "mutation($input: UpdateProgramInput!) { updateProgram(input: $input) { userErrors { code } } }",
            json!({ "input": { "id": market.program_id, "expectedVersion": version, "name": "Live Name" } }),
        )
        .await;
    let update = next_of(anonymous.recv().await.message(), "p");
    assert_eq!(update["programUpdated"]["name"], "Live Name");
    // Private feeds need a token.
    anonymous
        .subscribe("mine", MY_APPLICATIONS, json!({}))
        .await;
    let refused = anonymous.recv().await.message();
    assert_eq!(refused["id"], "mine");
    assert_eq!(refusal_code(&refused), "UNAUTHENTICATED");
}

#[tokio::test]
async fn the_protocol_refuses_what_it_must_with_its_close_codes() {
    let app = TestApp::spawn().await;
    let market: Market = app.market("protocol").await;
    let token = market.partner.token().unwrap().to_owned();

    // A token that does not verify: 4401.
    let mut ws = app.ws().await;
    assert_eq!(ws.init(Some("not.a.token")).await.close_code(), 4401);
    // Subscribing before connection_init: 4401.
    let mut ws = app.ws().await;
    ws.subscribe("1", MY_APPLICATIONS, json!({})).await;
    assert_eq!(ws.recv().await.close_code(), 4401);
    // Two connection_init: 4429.
    let mut ws = app.ws_for(Some(&token)).await;
    assert_eq!(ws.init(Some(&token)).await.close_code(), 4429);
    // Not a protocol message: 4400.
    let mut ws = app.ws_for(Some(&token)).await;
    ws.send_raw("{\"type\":\"launch\"}".into()).await;
    assert_eq!(ws.recv().await.close_code(), 4400);
    // A reused id: 4409.
    let mut ws = app.ws_for(Some(&token)).await;
    ws.subscribe("same", MY_APPLICATIONS, json!({})).await;
    ws.subscribe("same", MY_APPLICATIONS, json!({})).await;
    assert_eq!(ws.recv().await.close_code(), 4409);
    // A 1 MiB message: 1009 (too big), nothing parsed.
    let mut ws = app.ws_for(Some(&token)).await;
    let huge = format!(
        "{{\"id\":\"x\",\"type\":\"subscribe\",\"payload\":{{\"query\":\"{}\"}}}}",
        " ".repeat(1024 * 1024)
    );
    ws.send_raw(huge).await;
    assert_eq!(ws.recv().await.close_code(), 1009);
    // Queries and mutations go over HTTP.
    let mut ws = app.ws_for(Some(&token)).await;
    ws.subscribe("q", "{ categories { slug } }", json!({}))
        .await;
    let refused = ws.recv().await.message();
    assert_eq!(refused["type"], "error");
    assert_eq!(refusal_code(&refused), "BAD_REQUEST");
    // A hostile document is refused by the same pre-check as over HTTP.
    let deep = format!(
        "subscription {{ myApplicationUpdated(x: {}1{}) {{ id }} }}",
        "[".repeat(1_600),
        "]".repeat(1_600)
    );
    ws.subscribe("deep", &deep, json!({})).await;
    let refused = ws.recv().await.message();
    assert_eq!(refused["type"], "error");
    assert_eq!(refusal_code(&refused), "MAX_DEPTH_LIMIT");
    // 25 subscriptions on one connection: the first 20 run, the rest are refused.
    for i in 0..25 {
        ws.subscribe(&format!("s{i}"), MY_APPLICATIONS, json!({}))
            .await;
    }
    let mut refused = Vec::new();
    while let Some(Received::Message(m)) = ws.recv_within(Duration::from_millis(500)).await {
        refused.push(m["id"].as_str().unwrap().to_owned());
        assert_eq!(refusal_code(&m), "LIMIT_EXCEEDED", "{m}");
    }
    assert_eq!(refused, ["s20", "s21", "s22", "s23", "s24"]);
    // The twenty live ones all get the next update.
    app.applied(&market.partner, &market, json!({})).await;
    let mut updated = 0;
    while let Some(Received::Message(m)) = ws.recv_within(Duration::from_secs(2)).await {
        assert_eq!(m["type"], "next");
        updated += 1;
        if updated == 20 {
            break;
        }
    }
    assert_eq!(updated, 20);
}

#[tokio::test]
async fn a_user_holds_at_most_five_connections_and_a_token_expiring_closes_its_socket() {
    let app = TestApp::spawn_with(&["--access-token-ttl-secs", "3"]).await;
    let partner = app.user("short-lived@example.com").await;
    let token = partner.token().unwrap().to_owned();
    let mut open = Vec::new();
    for _ in 0..5 {
        open.push(app.ws_for(Some(&token)).await);
    }
    let mut sixth = app.ws().await;
    assert_eq!(sixth.init(Some(&token)).await.close_code(), 4429);
    // At the token's expiry every socket it opened closes with 4401.
    let closed = open[0]
        .recv_within(Duration::from_secs(5))
        .await
        .expect("closed at expiry");
    assert_eq!(closed.close_code(), 4401);
}

#[tokio::test]
async fn a_decision_made_on_one_replica_reaches_a_subscriber_on_another() {
    let first = TestApp::spawn().await;
    let second = first.replica().await;
    let market = first.market("replicas").await;
    let applied = first.applied(&market.partner, &market, json!({})).await;
    let mut ws = second.ws_for(market.partner.token()).await;
    ws.subscribe("r", MY_APPLICATIONS, json!({})).await;
    settle().await;
    market
        .owner
        .gql(
            APPROVE,
            json!({ "input": { "applicationId": applied["id"] } }),
        )
        .await;
    let update = next_of(ws.recv().await.message(), "r");
    assert_eq!(update["myApplicationUpdated"]["status"], "APPROVED");
}

/// The reference client, as an SPA uses it: `graphql-ws` from npm, in Node, driving the
/// same scenarios against this server (tests/ws-client/subscriptions.mjs).
#[tokio::test]
#[cfg_attr(
    not(ws_client),
    ignore = "the graphql-ws client is not installed: npm ci --prefix tests/ws-client"
)]
async fn the_reference_graphql_ws_client_follows_the_partner_journey_live() {
    let app = TestApp::spawn().await;
    let market = app.market("node").await;
    let foreign = app.market("node-foreign").await;
    let applied = app.applied(&market.partner, &market, json!({})).await;
    let third = app.user("third-node@example.com").await;
    app.partner_profile(&third, "third-node", json!({})).await;
    let members = market
        .owner
        .gql(
            "query($id: ID!) { node(id: $id) { ... on Vendor { members { id email } } } }",
            json!({ "id": market.vendor_id }),
        )
        .await;
    let member_id = members.data("node")["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["email"] == "member-node@example.com")
        .map(|m| m["id"].clone())
        .unwrap();
    let apply_input = |m: &Market| {
        json!({
            "programId": m.program_id,
            "answers": TestApp::good_answers(&m.questions),
            "pitch": "We write for B2B marketers.",
            "joinSource": "MARKETPLACE_SEARCH"
        })
    };
    let setup = json!({
        "url": app.url(""),
        "partnerToken": market.partner.token(),
        "otherPartnerToken": market.other_partner.token(),
        "thirdPartnerToken": third.token(),
        "ownerToken": market.owner.token(),
        "memberToken": market.member.token(),
        "memberId": member_id,
        "programId": market.program_id,
        "foreignProgramId": foreign.program_id,
        "applicationId": applied["id"],
        "apply": apply_input(&market),
        "foreignApply": apply_input(&foreign),
    });
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/ws-client/subscriptions.mjs");
    let output = tokio::process::Command::new("node")
        .arg(script)
        .env("MARKET", setup.to_string())
        .output()
        .await
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let report: Value = serde_json::from_str(stdout.lines().last().unwrap_or("{}")).unwrap();
    assert_eq!(report["ok"], true, "{report}");
    assert_eq!(report["checks"].as_object().unwrap().len(), 7, "{report}");
}
