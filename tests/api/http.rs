//! GraphQL over HTTP: methods, media types, body limits, batches, status codes.

use serde_json::json;
use tests::{Gql, PASSWORD, TestApp};

const SIGN_UP: &str = "mutation { signUp(input: {email: \"mallory@example.com\", password: \"correct horse battery staple\", displayName: \"M\"}) { session { accessToken } } }";

#[tokio::test]
async fn a_query_over_post_is_answered_as_application_json_by_default() {
    let app = TestApp::spawn().await;
    let response = app
        .anonymous()
        .post()
        .json(&json!({ "query": "{ viewer { id } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "application/json; charset=utf-8"
    );
    assert_eq!(
        Gql::read(response).await.body["data"],
        json!({ "viewer": null })
    );
}

#[tokio::test]
async fn the_graphql_response_media_type_is_used_when_the_client_accepts_it() {
    let app = TestApp::spawn().await;
    let response = app
        .anonymous()
        .post()
        .header(
            "accept",
            "application/graphql-response+json, application/json;q=0.9",
        )
        .json(&json!({ "query": "{ viewer { id } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()["content-type"],
        "application/graphql-response+json; charset=utf-8"
    );
}

#[tokio::test]
async fn a_query_sent_by_get_is_served() {
    let app = TestApp::spawn().await;
    let response = app
        .anonymous()
        .get(&[
            ("query", "query Who { viewer { id } }"),
            ("operationName", "Who"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        Gql::read(response).await.body["data"],
        json!({ "viewer": null })
    );
}

#[tokio::test]
async fn a_mutation_sent_by_get_answers_405_and_runs_nothing() {
    let app = TestApp::spawn().await;
    let response = app
        .anonymous()
        .get(&[("query", SIGN_UP)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(response.headers()["allow"], "POST");
    assert_eq!(Gql::read(response).await.error_code(), "METHOD_NOT_ALLOWED");
    assert_eq!(app.count("users").await, 0);

    // Hiding the mutation behind an operation name changes nothing.
    let doc = format!(
        "query Q {{ viewer {{ id }} }} {}",
        SIGN_UP.replacen("mutation", "mutation M", 1)
    );
    let response = app
        .anonymous()
        .get(&[("query", doc.as_str()), ("operationName", "M")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(app.count("users").await, 0);
}

#[tokio::test]
async fn a_text_plain_post_is_refused_and_runs_nothing() {
    let app = TestApp::spawn().await;
    let body = json!({ "query": SIGN_UP }).to_string();
    let response = app
        .anonymous()
        .post()
        .header("content-type", "text/plain")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 415);
    assert_eq!(
        Gql::read(response).await.error_code(),
        "UNSUPPORTED_MEDIA_TYPE"
    );
    assert_eq!(app.count("users").await, 0);
}

#[tokio::test]
async fn form_and_multipart_posts_are_refused_and_run_nothing() {
    let app = TestApp::spawn().await;
    for content_type in [
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
    ] {
        let response = app
            .anonymous()
            .post()
            .header("content-type", content_type)
            .body(format!("query={SIGN_UP}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 415, "{content_type}");
    }
    assert_eq!(app.count("users").await, 0);
}

#[tokio::test]
async fn a_post_without_a_body_is_refused() {
    let app = TestApp::spawn().await;
    let response = app
        .anonymous()
        .post()
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(Gql::read(response).await.error_code(), "BAD_REQUEST");
    let response = app.anonymous().post().send().await.unwrap();
    assert_eq!(response.status(), 415);
}

#[tokio::test]
async fn malformed_json_is_a_bad_request() {
    let app = TestApp::spawn().await;
    let response = app
        .anonymous()
        .post()
        .header("content-type", "application/json")
        .body(r#"{"query": "{ viewer { id } }""#)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body = Gql::read(response).await;
    assert_eq!(body.error_code(), "BAD_REQUEST");
    assert!(body.body.get("data").is_none());
}

#[tokio::test]
async fn a_body_over_the_limit_is_refused_with_413_whether_declared_or_streamed() {
    let app = TestApp::spawn_with(&["--body-limit-bytes", "4096"]).await;
    let padding = " ".repeat(5000);
    let body = format!(
        "{{\"query\": \"{}\"{padding}}}",
        SIGN_UP.replace('"', "\\\"")
    );

    let declared = app
        .anonymous()
        .post()
        .header("content-type", "application/json")
        .body(body.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(declared.status(), 413);
    assert_eq!(Gql::read(declared).await.error_code(), "PAYLOAD_TOO_LARGE");

    // No Content-Length: the limit must hold while the chunks arrive.
    let chunks: Vec<Result<String, std::io::Error>> = body
        .as_bytes()
        .chunks(1000)
        .map(|c| Ok(String::from_utf8(c.to_vec()).unwrap()))
        .collect();
    let streamed = app
        .anonymous()
        .post()
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(streamed.status(), 413);
    assert_eq!(app.count("users").await, 0);
}

#[tokio::test]
async fn a_json_array_batch_is_refused_and_runs_nothing() {
    let app = TestApp::spawn().await;
    let response = app
        .anonymous()
        .post()
        .json(&json!([{ "query": SIGN_UP }, { "query": "{ viewer { id } }" }]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(Gql::read(response).await.error_code(), "BAD_REQUEST");
    assert_eq!(app.count("users").await, 0);
}

#[tokio::test]
async fn request_errors_answer_400_without_data_under_the_graphql_response_media_type() {
    let app = TestApp::spawn().await;
    let cases = [
        (
            json!({ "query": "{ viewer { id }" }),
            "GRAPHQL_PARSE_FAILED",
        ),
        (json!({ "query": "{ nope }" }), "GRAPHQL_VALIDATION_FAILED"),
        (
            json!({ "query": "query A { viewer { id } } query B { viewer { id } }", "operationName": "C" }),
            "BAD_REQUEST",
        ),
    ];
    for (request, code) in cases {
        let response = app
            .anonymous()
            .post()
            .header("accept", "application/graphql-response+json")
            .json(&request)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{request}");
        let body = Gql::read(response).await;
        assert_eq!(body.error_code(), code, "{request}");
        assert!(
            body.body.get("data").is_none(),
            "request errors carry no data key: {}",
            body.body
        );

        // Legacy application/json clients get the same body with 200.
        let legacy = app
            .anonymous()
            .gql(request["query"].as_str().unwrap(), json!({}))
            .await;
        if request.get("operationName").is_none() {
            assert_eq!(legacy.status, 200);
            assert_eq!(legacy.error_code(), code);
            assert!(legacy.body.get("data").is_none());
        }
    }
}

#[tokio::test]
async fn an_unknown_operation_name_is_a_request_error_and_runs_nothing() {
    let app = TestApp::spawn().await;
    let doc = format!(
        "{} query Other {{ viewer {{ id }} }}",
        SIGN_UP.replacen("mutation", "mutation Create", 1)
    );
    let response = app
        .anonymous()
        .post()
        .header("accept", "application/graphql-response+json")
        .json(&json!({ "query": doc, "operationName": "Missing" }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert!(
        Gql::read(response).await.body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("Missing")
    );
    assert_eq!(app.count("users").await, 0);
}

#[tokio::test]
async fn variables_of_the_wrong_type_are_refused_before_anything_runs() {
    let app = TestApp::spawn().await;
    let query =
        "mutation($input: SignUpInput!) { signUp(input: $input) { session { accessToken } } }";
    let wrong_field = app
        .anonymous()
        .gql(
            query,
            json!({ "input": { "email": 42, "password": PASSWORD, "displayName": "X" } }),
        )
        .await;
    assert_eq!(wrong_field.error_code(), "GRAPHQL_VALIDATION_FAILED");

    let not_an_object = app
        .anonymous()
        .post()
        .header("accept", "application/graphql-response+json")
        .json(&json!({ "query": query, "variables": "input" }))
        .send()
        .await
        .unwrap();
    assert_eq!(not_an_object.status(), 400);
    assert_eq!(app.count("users").await, 0);
}

#[tokio::test]
async fn aliases_root_fields_and_depth_are_limited_before_execution() {
    let app = TestApp::spawn_with(&[
        "--max-aliases",
        "3",
        "--max-root-fields",
        "2",
        "--max-depth",
        "3",
    ])
    .await;
    let aliases = app
        .anonymous()
        .gql(
            "{ a: viewer { id } b: viewer { id } c: viewer { i: id } d: viewer { id } }",
            json!({}),
        )
        .await;
    assert_eq!(aliases.error_code(), "QUERY_TOO_COMPLEX");
    assert!(aliases.body.get("data").is_none());

    let roots = app
        .anonymous()
        .gql(
            "{ viewer { id } node(id: \"VXNlcjox\") { id } nodes(ids: []) { id } }",
            json!({}),
        )
        .await;
    assert_eq!(roots.error_code(), "QUERY_TOO_COMPLEX");

    let deep = app
        .anonymous()
        .gql(
            "{ node(id: \"VXNlcjox\") { ... on User { id } } viewer { id } }",
            json!({}),
        )
        .await;
    assert!(
        deep.body.get("errors").is_none(),
        "within limits: {}",
        deep.body
    );
    let too_deep = app
        .anonymous()
        .gql("mutation { logIn(input: {email: \"a@b.co\", password: \"x\"}) { session { user { id } } } }", json!({}))
        .await;
    assert_eq!(too_deep.error_code(), "QUERY_TOO_COMPLEX");
}

#[tokio::test]
async fn every_response_carries_a_request_id_and_a_well_formed_incoming_one_is_kept() {
    let app = TestApp::spawn().await;
    let response = app
        .anonymous()
        .post()
        .json(&json!({ "query": "{ viewer { id } }" }))
        .send()
        .await
        .unwrap();
    let generated = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(generated.len(), 24);

    let kept = app
        .http()
        .get(app.url("/healthz"))
        .header("x-request-id", "lb-1234")
        .send()
        .await
        .unwrap();
    assert_eq!(kept.headers()["x-request-id"], "lb-1234");
    let replaced = app
        .http()
        .get(app.url("/healthz"))
        .header("x-request-id", "bad id\twith spaces")
        .send()
        .await
        .unwrap();
    assert_ne!(replaced.headers()["x-request-id"], "bad id\twith spaces");
}

#[tokio::test]
async fn other_methods_on_the_endpoint_answer_405() {
    let app = TestApp::spawn().await;
    let response = app.http().put(app.url("/graphql")).send().await.unwrap();
    assert_eq!(response.status(), 405);
}

#[tokio::test]
async fn health_and_readiness_report_the_database() {
    let app = TestApp::spawn().await;
    let health = app.http().get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), 200);
    let ready = app.http().get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    assert_eq!(
        ready.json::<serde_json::Value>().await.unwrap()["database"],
        "ok"
    );

    app.services.db.clone().close().await.unwrap();
    let not_ready = app.http().get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(not_ready.status(), 503);
}

#[tokio::test]
async fn graphiql_and_introspection_are_available_in_development() {
    let app = TestApp::spawn().await;
    let page = app.http().get(app.url("/graphiql")).send().await.unwrap();
    assert_eq!(page.status(), 200);
    assert!(page.text().await.unwrap().contains("graphiql"));
    let schema = app
        .anonymous()
        .gql("{ __schema { queryType { name } } }", json!({}))
        .await;
    assert_eq!(schema.data("__schema")["queryType"]["name"], "Query");
}

#[tokio::test]
async fn production_mode_hides_graphiql_and_introspection() {
    let app = TestApp::spawn_with(&[
        "--mode",
        "production",
        "--argon2-memory-kib",
        "19456",
        "--argon2-iterations",
        "2",
    ])
    .await;
    let page = app.http().get(app.url("/graphiql")).send().await.unwrap();
    assert_eq!(page.status(), 404);
    let schema = app
        .anonymous()
        .gql("{ __schema { queryType { name } } }", json!({}))
        .await;
    assert_eq!(schema.error_code(), "GRAPHQL_VALIDATION_FAILED");
    assert!(schema.body.get("data").is_none());
}

#[tokio::test]
async fn cors_allows_only_the_configured_origins() {
    let app = TestApp::spawn_with(&["--cors-origins", "https://app.example.com"]).await;
    let preflight = |origin: &'static str| {
        app.http()
            .request(reqwest::Method::OPTIONS, app.url("/graphql"))
            .header("origin", origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "content-type, authorization",
            )
            .send()
    };
    let allowed = preflight("https://app.example.com").await.unwrap();
    assert_eq!(
        allowed.headers()["access-control-allow-origin"],
        "https://app.example.com"
    );
    let refused = preflight("https://evil.example.net").await.unwrap();
    assert!(
        refused
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
}

#[tokio::test]
async fn cors_lets_the_headers_graphql_clients_send_through() {
    // Apollo Client sends its name and version when configured; Apollo's CSRF guard asks
    // for `apollo-require-preflight`; the APQ GET carries no body.
    let app = TestApp::spawn_with(&["--cors-origins", "http://localhost:5173"]).await;
    for (method, headers) in [
        (
            "POST",
            "content-type, authorization, apollographql-client-name, apollographql-client-version",
        ),
        ("POST", "apollo-require-preflight, x-request-id"),
        ("GET", "accept, apollographql-client-name"),
    ] {
        let preflight = app
            .http()
            .request(reqwest::Method::OPTIONS, app.url("/graphql"))
            .header("origin", "http://localhost:5173")
            .header("access-control-request-method", method)
            .header("access-control-request-headers", headers)
            .send()
            .await
            .unwrap();
        assert!(
            preflight.status().is_success(),
            "{method} with {headers}: {}",
            preflight.status()
        );
        assert_eq!(
            preflight.headers()["access-control-allow-origin"],
            "http://localhost:5173"
        );
        let allowed = preflight.headers()["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .to_lowercase();
        for header in headers.split(", ") {
            assert!(allowed.contains(header), "{header} not in {allowed}");
        }
    }
}

#[tokio::test]
async fn response_maps_follow_the_selection_order_every_time() {
    // The spec orders a response map like its selection set; fields that load data
    // (tiers, vendor, earnings) finish after plain ones and used to come last.
    let app = TestApp::spawn().await;
    app.published_program("owner@example.com", "ordered", json!({ "name": "Ordered" }))
        .await;
    let query = "query { program(slug: \"ordered\") { tiers { __typename } earnings { sampleSize } name ...More vendor { slug name } handle: slug currency } }
        fragment More on Program { trust { approvalRate } commissionRules { __typename } }";
    let order = [
        "\"tiers\"",
        "\"earnings\"",
        "\"name\"",
        "\"trust\"",
        "\"commissionRules\"",
        "\"vendor\"",
        "\"handle\"",
        "\"currency\"",
    ];
    for _ in 0..20 {
        let response = app
            .anonymous()
            .post()
            .json(&json!({ "query": query }))
            .send()
            .await
            .unwrap();
        let body = response.text().await.unwrap();
        assert!(!body.contains("\"errors\""), "{body}");
        let program = &body[body.find("\"program\"").unwrap()..];
        // Top-level keys of `program`, in the order they appear (nested keys sit inside
        // their parent's braces, after it).
        let at: Vec<usize> = order
            .iter()
            .map(|key| {
                program
                    .find(key)
                    .unwrap_or_else(|| panic!("{key} in {body}"))
            })
            .collect();
        assert!(at.is_sorted(), "selection order broken: {body}");
        let vendor = &program[program.find("\"vendor\"").unwrap()..];
        assert!(
            vendor.find("\"slug\"").unwrap() < vendor.find("\"name\"").unwrap(),
            "nested maps too: {body}"
        );
    }
}

#[tokio::test]
async fn an_errored_field_is_null_and_a_non_null_one_nulls_its_parent() {
    let app = TestApp::spawn().await;
    let (_, _, program) = app
        .published_program("owner@example.com", "nulls", json!({ "name": "Nulls" }))
        .await;
    // Nullable: the field is there, null, beside the others (spec §6.4.4).
    let nullable = app
        .anonymous()
        .gql(
            "{ categories { slug } node(id: \"not-an-id\") { id } }",
            json!({}),
        )
        .await;
    assert!(
        nullable.body["errors"][0]["path"][0] == "node",
        "{}",
        nullable.body
    );
    let data = nullable.body["data"].as_object().unwrap();
    assert!(data["categories"].is_array());
    assert!(
        data.contains_key("node") && data["node"].is_null(),
        "{}",
        nullable.body
    );
    // Non-null (`EnrollmentConnection!` at the root): `data` itself is null.
    let non_null = app
        .anonymous()
        .gql(
            "query($id: ID!) { categories { slug } enrollments(programId: $id) { edges { cursor } } }",
            json!({ "id": program }),
        )
        .await;
    assert_eq!(non_null.error_code(), "UNAUTHENTICATED");
    assert!(
        non_null.body.as_object().unwrap().contains_key("data") && non_null.body["data"].is_null(),
        "{}",
        non_null.body
    );
}
