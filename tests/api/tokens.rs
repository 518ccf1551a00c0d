//! Access tokens: a missing token is anonymous; a bad one is an error, never anonymous.

use chrono::Utc;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use tests::{TEST_AUDIENCE, TEST_ISSUER, TEST_JWT_SECRET, TestApp};

fn sign(claims: Value, secret: &str, algorithm: Algorithm) -> String {
    jsonwebtoken::encode(
        &Header::new(algorithm),
        &claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap()
}

fn claims(sub: &str, exp_offset: i64) -> Value {
    let now = Utc::now().timestamp();
    json!({ "sub": sub, "iss": TEST_ISSUER, "aud": TEST_AUDIENCE, "iat": now, "exp": now + exp_offset, "role": "USER" })
}

async fn viewer_with(app: &TestApp, token: &str) -> tests::Gql {
    app.with_token(token)
        .gql("{ viewer { email } }", json!({}))
        .await
}

#[tokio::test]
async fn no_token_is_an_anonymous_viewer() {
    let app = TestApp::spawn().await;
    let response = app.anonymous().gql("{ viewer { email } }", json!({})).await;
    assert!(response.data("viewer").is_null());
}

#[tokio::test]
async fn a_correctly_signed_token_for_a_user_is_accepted() {
    let app = TestApp::spawn().await;
    app.sign_up("ada@example.com").await;
    let token = sign(claims("1", 300), TEST_JWT_SECRET, Algorithm::HS256);
    assert_eq!(
        viewer_with(&app, &token).await.data("viewer")["email"],
        "ada@example.com"
    );
}

#[tokio::test]
async fn forged_expired_or_wrongly_signed_tokens_are_unauthenticated_never_anonymous() {
    let app = TestApp::spawn().await;
    let session = app.sign_up("ada@example.com").await;
    let genuine = session["accessToken"].as_str().unwrap();
    let (head, rest) = genuine.split_once('.').unwrap();
    let (payload, _signature) = rest.split_once('.').unwrap();

    let mut admin_claims = claims("1", 300);
    admin_claims["role"] = json!("ADMIN");
    let mut wrong_issuer = claims("1", 300);
    wrong_issuer["iss"] = json!("someone-else");
    let mut wrong_audience = claims("1", 300);
    wrong_audience["aud"] = json!("another-api");
    let mut from_the_future = claims("1", 3600);
    from_the_future["iat"] = json!(Utc::now().timestamp() + 600);
    let mut no_sub = claims("1", 300);
    no_sub.as_object_mut().unwrap().remove("sub");

    let cases = [
        ("garbage", "not-a-jwt".to_owned()),
        (
            "expired",
            sign(claims("1", -120), TEST_JWT_SECRET, Algorithm::HS256),
        ),
        (
            "another key",
            sign(
                claims("1", 300),
                "another-secret-another-secret-another",
                Algorithm::HS256,
            ),
        ),
        (
            "elevated role, another key",
            sign(admin_claims, "k".repeat(32).as_str(), Algorithm::HS256),
        ),
        (
            "HS512",
            sign(claims("1", 300), TEST_JWT_SECRET, Algorithm::HS512),
        ),
        (
            "alg none",
            format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{payload}."),
        ),
        ("signature stripped", format!("{head}.{payload}.")),
        (
            "wrong issuer",
            sign(wrong_issuer, TEST_JWT_SECRET, Algorithm::HS256),
        ),
        (
            "wrong audience",
            sign(wrong_audience, TEST_JWT_SECRET, Algorithm::HS256),
        ),
        (
            "issued in the future",
            sign(from_the_future, TEST_JWT_SECRET, Algorithm::HS256),
        ),
        (
            "no subject",
            sign(no_sub, TEST_JWT_SECRET, Algorithm::HS256),
        ),
    ];
    for (name, token) in cases {
        let response = viewer_with(&app, &token).await;
        assert_eq!(
            response.error_code(),
            "UNAUTHENTICATED",
            "{name}: {}",
            response.body
        );
        assert!(
            response.body["data"].is_null() || response.body["data"]["viewer"].is_null(),
            "{name}"
        );
    }
    let expired = viewer_with(
        &app,
        &sign(claims("1", -120), TEST_JWT_SECRET, Algorithm::HS256),
    )
    .await;
    assert!(
        expired.body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("expired")
    );
}

#[tokio::test]
async fn a_malformed_authorization_header_is_unauthenticated() {
    let app = TestApp::spawn().await;
    for header in ["Basic dXNlcjpwYXNz", "Bearer", "Bearer    ", "token abc"] {
        let response = app
            .anonymous()
            .post()
            .header("authorization", header)
            .json(&json!({ "query": "{ viewer { email } }" }))
            .send()
            .await
            .unwrap();
        assert_eq!(
            tests::Gql::read(response).await.error_code(),
            "UNAUTHENTICATED",
            "{header}"
        );
    }
}

#[tokio::test]
async fn a_bad_access_token_does_not_block_logging_in_again() {
    let app = TestApp::spawn().await;
    app.sign_up("ada@example.com").await;
    let expired = sign(claims("1", -120), TEST_JWT_SECRET, Algorithm::HS256);
    let response = app
        .with_token(&expired)
        .gql(
            "mutation { logIn(input: {email: \"ada@example.com\", password: \"correct horse battery staple\"}) { session { accessToken } } }",
            json!({}),
        )
        .await;
    assert!(response.data("logIn")["session"]["accessToken"].is_string());
}
