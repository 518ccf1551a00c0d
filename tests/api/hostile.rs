//! Hostile documents and requests, each as the outside attack probe sent it: every one is
//! refused with a typed error, changes nothing, and the server keeps serving.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tests::{Gql, TestApp};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Generous bound on refusals that used to take seconds to minutes (or never answered):
/// a hang detector, not a performance figure (those come from the bench).
const PROMPTLY: Duration = Duration::from_secs(3);

fn nested(open: &str, levels: usize, inner: &str, close: &str) -> String {
    format!("{}{inner}{}", open.repeat(levels), close.repeat(levels))
}

async fn post_raw(app: &TestApp, body: &Value) -> Gql {
    let response = app
        .anonymous()
        .post()
        .header("accept", "application/graphql-response+json")
        .json(body)
        .send()
        .await
        .unwrap();
    Gql::read(response).await
}

async fn still_serving(app: &TestApp) {
    let alive = app.anonymous().gql("{ __typename }", json!({})).await;
    assert_eq!(alive.data("__typename"), "Query");
}

fn fragment_bomb(levels: usize) -> String {
    let mut q = String::from("query { ...F0 }\n");
    for i in 0..levels {
        q.push_str(&format!(
            "fragment F{i} on Query {{ ...F{n} ...F{n} }}\n",
            n = i + 1
        ));
    }
    q.push_str(&format!("fragment F{levels} on Query {{ __typename }}"));
    q
}

#[tokio::test]
async fn values_nested_1600_levels_deep_are_refused_by_post_get_input_object_and_directive() {
    let app = TestApp::spawn().await;
    let list = format!(
        "{{ programs(first: {}) {{ totalCount }} }}",
        nested("[", 1_600, "1", "]")
    );
    let object = format!(
        "{{ programs(filter: {}) {{ totalCount }} }}",
        nested("{a:", 1_600, "1", "}")
    );
    let directive = format!(
        "{{ viewer @include(if: {}) {{ id }} }}",
        nested("[", 1_600, "true", "]")
    );
    for query in [&list, &object, &directive] {
        assert!(query.len() < 8_000, "a few KB, as the probe sent");
        let posted = post_raw(&app, &json!({ "query": query })).await;
        assert_eq!(posted.status, 400, "{:#}", posted.body);
        assert_eq!(posted.error_code(), "MAX_DEPTH_LIMIT");
        assert!(posted.body.get("data").is_none());
        let got = Gql::read(
            app.anonymous()
                .get(&[("query", query.as_str())])
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(got.status, 400);
        assert_eq!(got.error_code(), "MAX_DEPTH_LIMIT");
    }
    still_serving(&app).await;
}

#[tokio::test]
async fn a_hundred_thousand_levels_answer_400_promptly_and_the_server_keeps_serving() {
    // Document caps raised so the nesting scan itself meets the 100,000 levels.
    let app =
        TestApp::spawn_with(&["--max-document-bytes", "1048576", "--max-tokens", "1000000"]).await;
    let query = format!(
        "{{ programs(first: {}) {{ totalCount }} }}",
        nested("[", 100_000, "1", "]")
    );
    let started = Instant::now();
    let refused = post_raw(&app, &json!({ "query": query })).await;
    assert!(started.elapsed() < PROMPTLY, "took {:?}", started.elapsed());
    assert_eq!(refused.status, 400);
    assert_eq!(refused.error_code(), "MAX_DEPTH_LIMIT");
    still_serving(&app).await;

    // With the default caps the same document is refused for its size, before any scan.
    let defaults = TestApp::spawn().await;
    let refused = post_raw(&defaults, &json!({ "query": query })).await;
    assert_eq!(refused.status, 400);
    assert_eq!(refused.error_code(), "QUERY_TOO_LARGE");
    still_serving(&defaults).await;
}

#[tokio::test]
async fn fragment_bombs_are_refused_promptly_and_health_checks_answer_meanwhile() {
    let app = TestApp::spawn().await;
    for levels in [26, 30] {
        let bomb = fragment_bomb(levels);
        assert!(bomb.len() < 1_400);
        let started = Instant::now();
        let refused = post_raw(&app, &json!({ "query": bomb })).await;
        assert!(started.elapsed() < PROMPTLY, "took {:?}", started.elapsed());
        assert_eq!(refused.status, 400, "{:#}", refused.body);
        assert_eq!(refused.error_code(), "QUERY_TOO_COMPLEX");
    }
    // Two bombs at once (one per worker) and a health check alongside.
    let bomb = json!({ "query": fragment_bomb(30) });
    let (a, b, health) = tokio::join!(
        post_raw(&app, &bomb),
        post_raw(&app, &bomb),
        app.http().get(app.url("/healthz")).send()
    );
    assert_eq!(a.error_code(), "QUERY_TOO_COMPLEX");
    assert_eq!(b.error_code(), "QUERY_TOO_COMPLEX");
    assert_eq!(health.unwrap().status(), 200);
    // A cycle is a validation error, named.
    let cycle = post_raw(
        &app,
        &json!({ "query": "{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }" }),
    )
    .await;
    assert_eq!(cycle.error_code(), "GRAPHQL_VALIDATION_FAILED");
    still_serving(&app).await;
}

#[tokio::test]
async fn oversized_documents_are_refused_before_parsing() {
    let app = TestApp::spawn().await;
    // The probe's 40 KiB query of 4,000 `__typename`.
    let typenames = format!("{{ {} }}", "__typename ".repeat(4_000));
    let refused = post_raw(&app, &json!({ "query": typenames })).await;
    assert_eq!(refused.error_code(), "QUERY_TOO_LARGE");
    // 10,000 aliases.
    let aliases: String = (0..10_000).map(|i| format!("a{i}:__typename ")).collect();
    let refused = post_raw(&app, &json!({ "query": format!("{{ {aliases} }}") })).await;
    assert_eq!(refused.error_code(), "QUERY_TOO_LARGE");
    // Under the size cap, 2,500 plain fields still expand past the selection cap.
    let many = format!("{{ {} }}", "__typename ".repeat(2_500));
    assert!(many.len() < 32 * 1024);
    let refused = post_raw(&app, &json!({ "query": many })).await;
    assert_eq!(refused.error_code(), "QUERY_TOO_COMPLEX");
    still_serving(&app).await;
}

#[tokio::test]
async fn a_missing_required_variable_is_a_client_error_not_an_internal_one() {
    let app = TestApp::spawn().await;
    let query = "query($p: ID!){ programAnalytics(programId: $p) { month } }";
    for body in [
        json!({ "query": query }),
        json!({ "query": query, "variables": {} }),
        json!({ "query": query, "variables": { "p": null } }),
    ] {
        let refused = post_raw(&app, &body).await;
        assert_eq!(refused.status, 400, "{:#}", refused.body);
        assert_eq!(refused.error_code(), "BAD_USER_INPUT");
        assert!(refused.body.get("data").is_none());
    }
    // application/json: the same error with 200, as the spec requires for that type.
    let plain = app.anonymous().gql(query, json!({})).await;
    assert_eq!(plain.status, 200);
    assert_eq!(plain.error_code(), "BAD_USER_INPUT");
}

#[tokio::test]
async fn a_body_without_a_query_is_a_bad_request() {
    let app = TestApp::spawn().await;
    for body in [
        json!({}),
        json!({ "variables": {} }),
        json!({ "query": null }),
    ] {
        let refused = post_raw(&app, &body).await;
        assert_eq!(refused.status, 400, "{body}");
        assert_eq!(refused.error_code(), "BAD_REQUEST");
    }
    let response = app
        .anonymous()
        .get(&[("variables", "{}")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
}

#[tokio::test]
async fn unknown_directives_and_directive_floods_are_validation_errors() {
    let app = TestApp::spawn().await;
    let many: String = (0..1_000).map(|i| format!("@d{i} ")).collect();
    for query in [
        format!("query($a: Int {many}) {{ viewer {{ id }} a: __typename @include(if: true) }}"),
        "query($a: Int @foo) { viewer { id } a: __typename @include(if: true) }".to_owned(),
        "{ __typename @foo }".to_owned(),
    ] {
        let refused = post_raw(&app, &json!({ "query": query })).await;
        assert_eq!(refused.status, 400, "{:#}", refused.body);
        assert_eq!(refused.error_code(), "GRAPHQL_VALIDATION_FAILED");
    }
    let flood = post_raw(
        &app,
        &json!({ "query": format!("{{ __typename {many} }}") }),
    )
    .await;
    assert_eq!(flood.status, 400);
    assert_eq!(flood.error_code(), "QUERY_TOO_COMPLEX");
    let six = "{ viewer @skip(if: false) @skip(if: false) @skip(if: false) @skip(if: false) @skip(if: false) @skip(if: false) { id } }";
    let refused = post_raw(&app, &json!({ "query": six })).await;
    assert_eq!(refused.status, 400);
    assert_eq!(refused.error_code(), "QUERY_TOO_COMPLEX");
    still_serving(&app).await;
}

#[tokio::test]
async fn one_mutation_root_field_per_request_so_aliased_log_ins_cannot_batch_guesses() {
    let app = TestApp::spawn().await;
    app.sign_up("victim@example.com").await;
    let guesses: String = (0..20)
        .map(|i| {
            format!(
                "g{i}: logIn(input: {{ email: \"victim@example.com\", password: \"guess number {i}\" }}) {{ userErrors {{ code }} }} "
            )
        })
        .collect();
    let refused = post_raw(
        &app,
        &json!({ "query": format!("mutation {{ {guesses} }}") }),
    )
    .await;
    assert_eq!(refused.status, 400);
    assert_eq!(refused.error_code(), "QUERY_TOO_COMPLEX");
    let logins = app.count("refresh_token").await;
    assert_eq!(logins, 1, "only the sign-up's session exists");
}

#[tokio::test]
async fn field_suggestions_do_not_spell_out_the_schema_in_production() {
    let secret = "p".repeat(40);
    let production = TestApp::spawn_with(&[
        "--mode",
        "production",
        "--jwt-secret",
        &secret,
        "--argon2-memory-kib",
        "19456",
        "--argon2-iterations",
        "2",
    ])
    .await;
    let answer = production
        .anonymous()
        .gql("{ viewr { id } }", json!({}))
        .await;
    assert_eq!(answer.error_code(), "GRAPHQL_VALIDATION_FAILED");
    let text = answer.body.to_string();
    assert!(!text.contains("Did you mean"), "{text}");
    assert!(!text.contains("viewer"), "{text}");
    // Development keeps them: they help while building a client.
    let development = TestApp::spawn().await;
    let answer = development
        .anonymous()
        .gql("{ viewr { id } }", json!({}))
        .await;
    assert!(answer.body.to_string().contains("Did you mean"));
}

#[tokio::test]
async fn a_body_sent_one_byte_at_a_time_is_cut_off_at_the_deadline() {
    let app = TestApp::spawn_with(&["--body-read-timeout-secs", "1"]).await;
    let mut stream = tokio::net::TcpStream::connect(app.address).await.unwrap();
    stream
        .write_all(b"POST /graphql HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: 200\r\n\r\n{")
        .await
        .unwrap();
    let started = Instant::now();
    let mut received = Vec::new();
    let mut buf = [0u8; 1024];
    // Keep trickling until the server answers and closes.
    loop {
        tokio::select! {
            read = stream.read(&mut buf) => match read {
                Ok(0) | Err(_) => break,
                Ok(n) => received.extend_from_slice(&buf[..n]),
            },
            () = tokio::time::sleep(Duration::from_millis(200)) => {
                if stream.write_all(b" ").await.is_err() {
                    break;
                }
            }
        }
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "the connection was not cut off"
        );
    }
    let text = String::from_utf8_lossy(&received);
    assert!(text.starts_with("HTTP/1.1 408"), "{text}");
    assert!(text.contains("\"TIMEOUT\""), "{text}");
    still_serving(&app).await;
}

#[tokio::test]
async fn an_operation_past_its_deadline_is_cancelled_with_timeout() {
    // A hanging search engine, given far longer than the operation deadline.
    let (app, engine) = TestApp::spawn_with_faulty_search(&[
        "--search-timeout-ms",
        "60000",
        "--operation-timeout-secs",
        "1",
    ])
    .await;
    engine.hang();
    let started = Instant::now();
    let answer = post_raw(
        &app,
        &json!({ "query": "{ searchPrograms(query: \"crm\") { totalCount } }" }),
    )
    .await;
    assert!(started.elapsed() < PROMPTLY, "took {:?}", started.elapsed());
    assert_eq!(answer.status, 504, "{:#}", answer.body);
    assert_eq!(answer.error_code(), "TIMEOUT");
    engine.up();
    still_serving(&app).await;
}

#[tokio::test]
async fn a_search_cursor_at_the_end_of_u64_is_bad_input_not_an_overflow() {
    use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
    let app = TestApp::spawn().await;
    let cursor = URL_SAFE_NO_PAD.encode("search:18446744073709551615");
    let answer = app
        .anonymous()
        .gql(
            "query($after: String) { searchPrograms(after: $after) { totalCount } }",
            json!({ "after": cursor }),
        )
        .await;
    assert_eq!(answer.error_code(), "BAD_USER_INPUT", "{:#}", answer.body);
    still_serving(&app).await;
}
