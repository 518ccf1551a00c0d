//! Automatic persisted queries as Apollo Client's persisted-query link sends them: the
//! hash first, the query only when the server does not know it; a hash-only GET for
//! queries; a registration every replica sees.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tests::{Gql, TestApp};

const QUERY: &str = "{ categories { slug } }";

fn sha256(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn extension(hash: &str) -> Value {
    json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } })
}

/// A GET naming only the hash.
async fn get_by_hash(app: &TestApp, hash: &str) -> reqwest::Response {
    let params = extension(hash).to_string();
    app.anonymous()
        .get(&[("extensions", params.as_str())])
        .send()
        .await
        .unwrap()
}

async fn post(app: &TestApp, body: Value) -> (u16, Gql) {
    let response = app.anonymous().post().json(&body).send().await.unwrap();
    (response.status().as_u16(), Gql::read(response).await)
}

#[tokio::test]
async fn an_unknown_hash_asks_for_the_query_then_the_hash_alone_runs() {
    let app = TestApp::spawn().await;
    let hash = sha256(QUERY);
    let (status, unknown) = post(&app, json!({ "extensions": extension(&hash) })).await;
    assert_eq!(status, 200);
    assert_eq!(unknown.error_code(), "PERSISTED_QUERY_NOT_FOUND");
    assert_eq!(
        unknown.body["errors"][0]["message"],
        "PersistedQueryNotFound"
    );

    let (_, registered) = post(
        &app,
        json!({ "query": QUERY, "extensions": extension(&hash) }),
    )
    .await;
    assert!(registered.data("categories").is_array());

    let (status, by_hash) = post(&app, json!({ "extensions": extension(&hash) })).await;
    assert_eq!(status, 200);
    assert_eq!(by_hash.data("categories"), registered.data("categories"));

    // GET with the hash alone: a query, cacheable like any anonymous GET.
    let first = get_by_hash(&app, &hash).await;
    assert_eq!(first.status(), 200);
    let second = get_by_hash(&app, &hash).await;
    assert_eq!(second.headers()["x-cache"], "HIT");
    assert_eq!(
        Gql::read(second).await.data("categories"),
        registered.data("categories")
    );
}

#[tokio::test]
async fn a_hash_that_is_not_the_querys_is_refused_and_registers_nothing() {
    let app = TestApp::spawn().await;
    let other = sha256("{ viewer { email } }");
    let (status, mismatch) = post(
        &app,
        json!({ "query": QUERY, "extensions": extension(&other) }),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(mismatch.error_code(), "PERSISTED_QUERY_HASH_MISMATCH");
    let (_, still_unknown) = post(&app, json!({ "extensions": extension(&other) })).await;
    assert_eq!(still_unknown.error_code(), "PERSISTED_QUERY_NOT_FOUND");

    // Malformed extensions are a bad request, not a crash.
    for bad in [
        json!({ "persistedQuery": { "version": 2, "sha256Hash": sha256(QUERY) } }),
        json!({ "persistedQuery": { "version": 1, "sha256Hash": "not-hex" } }),
        json!({ "persistedQuery": "x" }),
    ] {
        let (status, refused) = post(&app, json!({ "query": QUERY, "extensions": bad })).await;
        assert_eq!(
            (status, refused.error_code()),
            (400, "BAD_REQUEST"),
            "{bad}"
        );
    }
}

#[tokio::test]
async fn a_mutation_by_hash_over_get_is_refused() {
    let app = TestApp::spawn().await;
    let mutation = "mutation { logOut(input: { refreshToken: \"x\" }) { loggedOut } }";
    let hash = sha256(mutation);
    // Unknown: asks for the query, runs nothing.
    let unknown = get_by_hash(&app, &hash).await;
    assert_eq!(
        Gql::read(unknown).await.error_code(),
        "PERSISTED_QUERY_NOT_FOUND"
    );
    // Registered by POST, still never run by GET.
    post(
        &app,
        json!({ "query": mutation, "extensions": extension(&hash) }),
    )
    .await;
    let known = get_by_hash(&app, &hash).await;
    assert_eq!(known.status(), 405);
}

#[tokio::test]
async fn a_query_registered_on_one_replica_runs_by_hash_on_another() {
    let first = TestApp::spawn().await;
    let second = first.replica().await;
    let hash = sha256(QUERY);
    post(
        &first,
        json!({ "query": QUERY, "extensions": extension(&hash) }),
    )
    .await;
    let (_, by_hash) = post(&second, json!({ "extensions": extension(&hash) })).await;
    assert!(by_hash.data("categories").is_array());
}
