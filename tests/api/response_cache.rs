//! The response cache: repeated anonymous queries are answered without executing, and
//! never after a change — made here, by a background job, or on another replica.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tests::{Client, Gql, TestApp};

const PAGE: &str = "{ programs(first: 10) { edges { node { slug name vendor { name } } } } }";

/// Sends `query` anonymously; returns the answer and its `x-cache` header.
async fn ask(client: &Client, query: &str) -> (Gql, Option<String>) {
    let response = client
        .post()
        .json(&json!({ "query": query }))
        .send()
        .await
        .unwrap();
    let cache = response
        .headers()
        .get("x-cache")
        .map(|v| v.to_str().unwrap().to_owned());
    (Gql::read(response).await, cache)
}

fn names(answer: &Gql) -> Vec<Value> {
    answer.data("programs")["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["name"].clone())
        .collect()
}

async fn rename(owner: &Client, id: &Value, name: &str) {
    let version = owner
        .gql(
            "query($id: ID!) { node(id: $id) { ... on Program { version } } }",
            json!({ "id": id }),
        )
        .await
        .data("node")["version"]
        .clone();
    let renamed = owner
        .gql(
            "mutation($input: UpdateProgramInput!) { updateProgram(input: $input) { program { name } } }",
            json!({ "input": { "id": id, "expectedVersion": version, "name": name } }),
        )
        .await;
    assert_eq!(renamed.data("updateProgram")["program"]["name"], name);
}

#[tokio::test]
async fn a_repeated_anonymous_query_is_answered_without_touching_the_database() {
    let app = TestApp::spawn_with(&["--rate-limits", "false"]).await;
    app.published_program("owner@example.com", "cached", json!({ "name": "Cached" }))
        .await;
    let client = app.anonymous();
    let (first, status) = ask(&client, PAGE).await;
    assert_eq!(status.as_deref(), Some("MISS"));
    let before = app.services.statements.get();
    let (second, status) = ask(&client, PAGE).await;
    assert_eq!(status.as_deref(), Some("HIT"));
    assert_eq!(app.services.statements.get(), before, "no statement ran");
    assert_eq!(first.body, second.body);
    assert_eq!(names(&second), [json!("Cached")]);

    // GET is cached as well, under its own key.
    let get = |client: &Client| {
        client
            .get(&[("query", PAGE)])
            .header("accept", "application/graphql-response+json")
            .send()
    };
    let miss = get(&client).await.unwrap();
    assert_eq!(miss.headers()["x-cache"], "MISS");
    let hit = get(&client).await.unwrap();
    assert_eq!(hit.headers()["x-cache"], "HIT");
    assert!(
        hit.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/graphql-response+json"),
        "the media type follows this request's Accept"
    );
    assert_eq!(Gql::read(hit).await.body, first.body);
}

#[tokio::test]
async fn a_mutation_is_visible_to_the_very_next_anonymous_read() {
    let app = TestApp::spawn().await;
    let (owner, _, id) = app
        .published_program("owner@example.com", "before", json!({ "name": "Before" }))
        .await;
    let client = app.anonymous();
    ask(&client, PAGE).await;
    assert_eq!(ask(&client, PAGE).await.1.as_deref(), Some("HIT"));
    rename(&owner, &id, "After").await;
    let (answer, status) = ask(&client, PAGE).await;
    assert_eq!(status.as_deref(), Some("MISS"));
    assert_eq!(names(&answer), [json!("After")]);
}

#[tokio::test]
async fn a_background_job_moving_the_figures_is_visible_to_the_next_read() {
    let app = TestApp::spawn().await;
    // A decision gives the program statistics to age.
    let market = app.market("aged").await;
    app.enroll(&market.partner, &market).await;
    let client = app.anonymous();
    ask(&client, PAGE).await;
    assert_eq!(ask(&client, PAGE).await.1.as_deref(), Some("HIT"));
    // The job's passes announce what they committed (here: every program's statistics
    // aged past a day and were recomputed).
    let refreshed = api::service::stats::refresh_stale(
        &app.services,
        chrono::Utc::now() + chrono::Duration::days(2),
        50,
    )
    .await
    .unwrap();
    assert!(refreshed > 0);
    assert_eq!(ask(&client, PAGE).await.1.as_deref(), Some("MISS"));
}

#[tokio::test]
async fn callers_with_credentials_errors_and_no_cache_requests_always_run() {
    let app = TestApp::spawn_with(&["--rate-limits", "false"]).await;
    let (owner, _, _) = app
        .published_program("owner@example.com", "private", json!({ "name": "Private" }))
        .await;
    let partner = app.user("partner@example.com").await;
    for client in [&owner, &partner] {
        for _ in 0..2 {
            let before = app.services.statements.get();
            let (answer, status) = ask(client, PAGE).await;
            assert_eq!(status, None, "a logged-in answer depends on who asks");
            assert_eq!(names(&answer), [json!("Private")]);
            assert!(app.services.statements.get() > before);
        }
    }
    // An answer with errors is not kept.
    let failing =
        "{ categories { slug } enrollments(programId: \"UHJvZ3JhbTox\") { edges { cursor } } }";
    for _ in 0..2 {
        let (answer, status) = ask(&app.anonymous(), failing).await;
        assert!(answer.body.get("errors").is_some(), "{:#}", answer.body);
        assert_eq!(status.as_deref(), Some("MISS"), "{:#}", answer.body);
    }
    // `Cache-Control: no-cache` asks for a fresh answer.
    ask(&app.anonymous(), PAGE).await;
    let fresh = app
        .anonymous()
        .post()
        .header("cache-control", "no-cache")
        .json(&json!({ "query": PAGE }))
        .send()
        .await
        .unwrap();
    assert!(fresh.headers().get("x-cache").is_none());
    // Mutations are never answered from the cache.
    let log_in = "mutation { logIn(input: { email: \"nobody@example.com\", password: \"wrong password 1\" }) { userErrors { code } } }";
    for _ in 0..2 {
        let (answer, status) = ask(&app.anonymous(), log_in).await;
        assert_eq!(status.as_deref(), Some("MISS"));
        assert_eq!(
            answer.data("logIn")["userErrors"][0]["code"],
            "INVALID_CREDENTIALS"
        );
    }
}

#[tokio::test]
async fn a_hit_is_charged_to_the_cost_budget_like_an_execution() {
    let app = TestApp::spawn_with(&[
        "--cost-budget-points",
        "1000",
        "--cost-restore-per-second",
        "1",
    ])
    .await;
    let client = app.anonymous();
    let (miss, _) = ask(&client, PAGE).await;
    let (hit, status) = ask(&client, PAGE).await;
    assert_eq!(status.as_deref(), Some("HIT"));
    let cost = |g: &Gql| g.body["extensions"]["cost"].clone();
    let requested = cost(&miss)["requestedQueryCost"].as_u64().unwrap();
    assert!(requested > 0);
    assert_eq!(cost(&hit)["requestedQueryCost"], requested);
    let available = |g: &Gql| {
        cost(g)["throttleStatus"]["currentlyAvailable"]
            .as_u64()
            .unwrap()
    };
    assert!(
        available(&hit) < available(&miss),
        "{} then {}",
        available(&miss),
        available(&hit)
    );
    assert_eq!(miss.body["data"], hit.body["data"]);
}

#[tokio::test]
async fn a_change_on_one_replica_reaches_the_cache_of_another() {
    // PostgreSQL replicas hear each other's NOTIFY: the time-to-live (a minute here) is
    // not what refreshes the copy. SQLite is one process by design; a second process on
    // its file sees a change after the time-to-live at most (one second here).
    let first = TestApp::spawn_with(&["--response-cache-ttl-secs", "60"]).await;
    let postgres = first.services.db.get_database_backend() == sea_orm::DbBackend::Postgres;
    let first = if postgres {
        first
    } else {
        TestApp::spawn_with(&["--response-cache-ttl-secs", "1"]).await
    };
    let second = first.replica().await;
    let (owner, _, id) = first
        .published_program("owner@example.com", "shared", json!({ "name": "Shared" }))
        .await;
    let reader = second.anonymous();
    ask(&reader, PAGE).await;
    assert_eq!(ask(&reader, PAGE).await.1.as_deref(), Some("HIT"));
    let changed = Instant::now();
    rename(&owner, &id, "Renamed elsewhere").await;
    let deadline = if postgres {
        Duration::from_secs(5)
    } else {
        Duration::from_secs(3)
    };
    loop {
        let (answer, _) = ask(&reader, PAGE).await;
        if names(&answer) == [json!("Renamed elsewhere")] {
            break;
        }
        assert!(
            changed.elapsed() < deadline,
            "the other replica still answers the old name after {:?}",
            changed.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_change_this_process_announced_does_not_come_back_as_another_change() {
    // On PostgreSQL the announcement is also a NOTIFY this process listens to: hearing
    // its own would move the generation a second time, a few milliseconds later, and
    // throw away every answer cached in between (a repeated query then misses).
    let app = TestApp::spawn().await;
    let changes = &app.services.changes;
    for _ in 0..5 {
        let before = changes.generation();
        changes.announce(&app.services.db).await;
        assert_eq!(changes.generation(), before + 1, "the announcement itself");
        tokio::time::sleep(Duration::from_millis(300)).await;
        assert_eq!(
            changes.generation(),
            before + 1,
            "nothing else was announced, so nothing else may move the generation"
        );
    }
}

#[tokio::test]
async fn a_search_cached_before_the_index_caught_up_is_not_served_after_it_did() {
    // Search lags the database by the indexer's batch: an answer computed in between is
    // right for that moment, and the indexer's write is a change like any commit.
    let app =
        TestApp::spawn_with(&["--search-worker", "true", "--response-cache-ttl-secs", "60"]).await;
    let search = r#"{ searchPrograms(query: "zephyr") { totalCount } }"#;
    let reader = app.anonymous();
    let total = |answer: &Gql| answer.data("searchPrograms")["totalCount"].clone();
    // Cached before the listing exists.
    assert_eq!(total(&ask(&reader, search).await.0), json!(0));
    assert_eq!(ask(&reader, search).await.1.as_deref(), Some("HIT"));
    app.published_program("owner@example.com", "zephyr", json!({ "name": "Zephyr" }))
        .await;
    let published = Instant::now();
    loop {
        let (answer, _) = ask(&reader, search).await;
        if total(&answer) == json!(1) {
            break;
        }
        assert!(
            published.elapsed() < Duration::from_secs(5),
            "the search still answers from before the indexer applied the listing"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
