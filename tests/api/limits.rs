//! Rate limits: log-in failures per account and per IP, sign-ups per IP, mutations per
//! user, the cost budget, and the in-process flood guard; shared across replicas.

use serde_json::{Value, json};
use tests::{Gql, PASSWORD, TestApp};

const LOG_IN: &str = "mutation($input: LogInInput!) { logIn(input: $input) {
    session { accessToken } userErrors { field code } } }";

async fn log_in(app: &TestApp, email: &str, password: &str) -> Gql {
    app.anonymous()
        .gql(
            LOG_IN,
            json!({ "input": { "email": email, "password": password } }),
        )
        .await
}

/// `INVALID_CREDENTIALS`, `OK` or the top-level error code of a log-in answer.
fn outcome(answer: &Gql) -> String {
    if let Some(code) = answer.body["errors"][0]["extensions"]["code"].as_str() {
        return code.to_owned();
    }
    let payload = &answer.body["data"]["logIn"];
    match payload["userErrors"][0]["code"].as_str() {
        Some(code) => code.to_owned(),
        None if payload["session"]["accessToken"].is_string() => "OK".to_owned(),
        None => panic!("unexpected answer {:#}", answer.body),
    }
}

#[tokio::test]
async fn five_wrong_passwords_lock_the_account_even_against_the_right_one() {
    let app = TestApp::spawn().await; // defaults: 5 failures per account per 15 minutes
    app.sign_up("ada@example.com").await;
    let mut outcomes = Vec::new();
    for i in 0..12 {
        outcomes.push(outcome(
            &log_in(&app, "ada@example.com", &format!("wrong {i}")).await,
        ));
    }
    assert_eq!(&outcomes[..5], ["INVALID_CREDENTIALS"; 5]);
    assert_eq!(&outcomes[5..], ["RATE_LIMITED"; 7]);
    let right = log_in(&app, "ada@example.com", PASSWORD).await;
    assert_eq!(outcome(&right), "RATE_LIMITED");
    let retry = right.body["errors"][0]["extensions"]["retryAfterSeconds"]
        .as_u64()
        .unwrap();
    assert!((1..=900).contains(&retry), "{retry}");
    // Another account is not affected.
    app.sign_up("bob@example.com").await;
    assert_eq!(
        outcome(&log_in(&app, "bob@example.com", PASSWORD).await),
        "OK"
    );
}

#[tokio::test]
async fn unknown_addresses_get_the_same_answers_in_the_same_order() {
    let app = TestApp::spawn().await;
    let mut outcomes = Vec::new();
    for i in 0..7 {
        outcomes.push(outcome(
            &log_in(&app, "nobody@example.com", &format!("guess {i}")).await,
        ));
    }
    assert_eq!(&outcomes[..5], ["INVALID_CREDENTIALS"; 5]);
    assert_eq!(&outcomes[5..], ["RATE_LIMITED"; 2]);
}

#[tokio::test]
async fn the_rate_limited_answer_carries_retry_after_at_the_http_level() {
    let app = TestApp::spawn_with(&["--login-failures-per-account", "1"]).await;
    log_in(&app, "carol@example.com", "wrong").await;
    let response = app
        .anonymous()
        .post()
        .json(&json!({ "query": LOG_IN, "variables": { "input": { "email": "carol@example.com", "password": "wrong" } } }))
        .send()
        .await
        .unwrap();
    let retry_after: u64 = response.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after >= 1);
    assert_eq!(Gql::read(response).await.error_code(), "RATE_LIMITED");
}

#[tokio::test]
async fn failed_log_ins_are_also_limited_per_ip_across_accounts() {
    let app = TestApp::spawn_with(&["--login-failures-per-ip", "3"]).await;
    for i in 0..3 {
        let answer = log_in(&app, &format!("user{i}@example.com"), "wrong").await;
        assert_eq!(outcome(&answer), "INVALID_CREDENTIALS");
    }
    let answer = log_in(&app, "user9@example.com", "wrong").await;
    assert_eq!(outcome(&answer), "RATE_LIMITED");
}

#[tokio::test]
async fn successful_log_ins_do_not_count_as_failures() {
    let app = TestApp::spawn().await;
    app.sign_up("dan@example.com").await;
    for _ in 0..8 {
        assert_eq!(
            outcome(&log_in(&app, "dan@example.com", PASSWORD).await),
            "OK"
        );
    }
    for _ in 0..4 {
        log_in(&app, "dan@example.com", "wrong").await;
    }
    assert_eq!(
        outcome(&log_in(&app, "dan@example.com", PASSWORD).await),
        "OK"
    );
}

const SIGN_UP: &str = "mutation($input: SignUpInput!) { signUp(input: $input) {
    session { accessToken } userErrors { code } } }";

async fn sign_up(app: &TestApp, email: &str, password: &str) -> Gql {
    app.anonymous()
        .gql(
            SIGN_UP,
            json!({ "input": { "email": email, "password": password, "displayName": "X" } }),
        )
        .await
}

#[tokio::test]
async fn sign_ups_are_capped_per_ip_and_refused_ones_do_not_count() {
    let app = TestApp::spawn_with(&["--signups-per-ip-per-hour", "5"]).await;
    for i in 0..3 {
        let weak = sign_up(&app, &format!("weak{i}@example.com"), "short").await;
        assert_eq!(weak.data("signUp")["userErrors"][0]["code"], "TOO_SHORT");
    }
    for i in 0..5 {
        let answer = sign_up(&app, &format!("new{i}@example.com"), PASSWORD).await;
        assert_eq!(answer.data("signUp")["userErrors"], json!([]), "{i}");
    }
    let sixth = sign_up(&app, "new5@example.com", PASSWORD).await;
    assert_eq!(sixth.error_code(), "RATE_LIMITED");
    assert_eq!(app.count("users").await, 5);
}

#[tokio::test]
async fn mutations_are_capped_per_user() {
    let app = TestApp::spawn_with(&["--mutations-per-user-per-minute", "3"]).await;
    let owner = app.user("owner@example.com").await;
    let mut codes = Vec::new();
    for i in 0..5 {
        let answer = owner
            .gql(
                tests::fixtures::CREATE_VENDOR,
                json!({ "input": { "slug": format!("v-{i}"), "name": "V", "website": "https://v.example.com", "country": "US" } }),
            )
            .await;
        codes.push(
            answer.body["errors"][0]["extensions"]["code"]
                .as_str()
                .unwrap_or("OK")
                .to_owned(),
        );
    }
    assert_eq!(codes, ["OK", "OK", "OK", "RATE_LIMITED", "RATE_LIMITED"]);
    assert_eq!(app.count("vendor").await, 3);
    // Queries are not mutations.
    assert!(
        owner
            .gql("{ viewer { id } }", json!({}))
            .await
            .body
            .get("errors")
            .is_none()
    );
}

fn cost(answer: &Gql) -> &Value {
    &answer.body["extensions"]["cost"]
}

#[tokio::test]
async fn every_request_spends_its_cost_and_an_empty_budget_answers_429() {
    let app = TestApp::spawn_with(&[
        "--cost-budget-points",
        "40",
        "--cost-restore-per-second",
        "1",
    ])
    .await;
    let query = "{ programs(first: 50) { edges { node { slug name tagline } } } }";
    let first = app.anonymous().gql(query, json!({})).await;
    let spent = cost(&first)["requestedQueryCost"].as_u64().unwrap();
    assert!(spent > 1, "{:#}", first.body);
    assert_eq!(cost(&first)["throttleStatus"]["maximumAvailable"], 40);
    assert_eq!(cost(&first)["throttleStatus"]["restoreRate"], 1.0);
    let left = cost(&first)["throttleStatus"]["currentlyAvailable"]
        .as_u64()
        .unwrap();
    assert_eq!(left, 40 - spent);
    let mut answers = Vec::new();
    for _ in 0..(40 / spent) + 1 {
        let response = app
            .anonymous()
            .post()
            .json(&json!({ "query": query }))
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let retry = response
            .headers()
            .get("retry-after")
            .map(|v| v.to_str().unwrap().to_owned());
        answers.push((status, retry, Gql::read(response).await));
    }
    let (status, retry, refused) = answers.last().unwrap();
    assert_eq!(*status, 429, "{:#}", refused.body);
    assert!(retry.is_some());
    assert_eq!(refused.error_code(), "RATE_LIMITED");
    assert!(refused.body.get("data").is_none(), "nothing ran");
    // A logged-in user has a budget of their own.
    let user = app.user("eve@example.com").await;
    let own = user.gql(query, json!({})).await;
    assert!(own.body.get("errors").is_none(), "{:#}", own.body);
}

#[tokio::test]
async fn the_in_process_first_line_sheds_a_flood_from_one_ip() {
    let app = TestApp::spawn_with(&["--ip-requests-per-second", "5"]).await;
    let mut statuses = Vec::new();
    for _ in 0..30 {
        let response = app
            .anonymous()
            .post()
            .json(&json!({ "query": "{ __typename }" }))
            .send()
            .await
            .unwrap();
        statuses.push(response.status().as_u16());
    }
    let shed = statuses.iter().filter(|s| **s == 429).count();
    assert!(statuses[..10].iter().all(|s| *s == 200), "{statuses:?}");
    assert!(shed >= 15, "{statuses:?}");
}

#[tokio::test]
async fn limits_are_global_across_two_replicas() {
    let first = TestApp::spawn_with(&["--signups-per-ip-per-hour", "4"]).await;
    let second = first.replica().await;
    assert_ne!(first.address, second.address);
    // Log-in failures: three on one replica, two on the other, then both refuse.
    first.sign_up("frank@example.com").await;
    for i in 0..3 {
        let answer = log_in(&first, "frank@example.com", &format!("wrong {i}")).await;
        assert_eq!(outcome(&answer), "INVALID_CREDENTIALS");
    }
    for i in 3..5 {
        let answer = log_in(&second, "frank@example.com", &format!("wrong {i}")).await;
        assert_eq!(outcome(&answer), "INVALID_CREDENTIALS");
    }
    assert_eq!(
        outcome(&log_in(&first, "frank@example.com", PASSWORD).await),
        "RATE_LIMITED"
    );
    assert_eq!(
        outcome(&log_in(&second, "frank@example.com", PASSWORD).await),
        "RATE_LIMITED"
    );
    // Sign-ups: four per IP in all (the first replica's sign-up above was one).
    for (i, app) in [&second, &first, &second].into_iter().enumerate() {
        let answer = sign_up(app, &format!("g{i}@example.com"), PASSWORD).await;
        assert_eq!(answer.data("signUp")["userErrors"], json!([]));
    }
    assert_eq!(
        sign_up(&first, "g9@example.com", PASSWORD)
            .await
            .error_code(),
        "RATE_LIMITED"
    );
    assert_eq!(
        sign_up(&second, "g9@example.com", PASSWORD)
            .await
            .error_code(),
        "RATE_LIMITED"
    );
}

#[tokio::test]
async fn the_cost_budget_is_one_budget_across_replicas() {
    let first = TestApp::spawn_with(&[
        "--cost-budget-points",
        "60",
        "--cost-restore-per-second",
        "1",
    ])
    .await;
    let second = first.replica().await;
    let query = "{ programs(first: 50) { edges { node { slug name tagline } } } }";
    let mut served = 0;
    let mut spent_each = 0;
    for round in 0..40 {
        let app = if round % 2 == 0 { &first } else { &second };
        let answer = app.anonymous().gql(query, json!({})).await;
        if answer.body.get("errors").is_some() {
            assert_eq!(answer.error_code(), "RATE_LIMITED");
            break;
        }
        spent_each = cost(&answer)["requestedQueryCost"].as_u64().unwrap();
        served += 1;
    }
    assert!(spent_each > 1);
    // Both replicas drew from one bucket of 60 (plus what a second or two restored):
    // never more than the bucket allows in all.
    let most = (60 + 5) / spent_each;
    assert!(
        served >= 2 && served <= most,
        "served {served}, each {spent_each}"
    );
}
