//! Access tokens: a missing token is anonymous; a bad one is an error, never anonymous.

use chrono::Utc;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use tests::{TEST_AUDIENCE, TEST_ISSUER, TEST_JWT_SECRET, TestApp};

/// A header like the server's own: `typ: at+jwt` and the test secret's `kid` (so that a
/// refusal is about what a case changes, not about the header).
fn our_header(algorithm: Algorithm) -> Header {
    let mut header = Header::new(algorithm);
    header.typ = Some(api::auth::jwt::TOKEN_TYPE.to_owned());
    header.kid = Some(api::auth::jwt::key_id(TEST_JWT_SECRET.as_bytes()));
    header
}

fn sign_with(header: &Header, claims: &Value, secret: &str) -> String {
    jsonwebtoken::encode(header, claims, &EncodingKey::from_secret(secret.as_bytes())).unwrap()
}

fn sign(claims: Value, secret: &str, algorithm: Algorithm) -> String {
    sign_with(&our_header(algorithm), &claims, secret)
}

fn claims(sub: &str, exp_offset: i64) -> Value {
    let now = Utc::now().timestamp();
    json!({ "sub": sub, "iss": TEST_ISSUER, "aud": TEST_AUDIENCE, "iat": now, "nbf": now, "exp": now + exp_offset, "role": "USER" })
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
    let mut not_yet = claims("1", 300);
    not_yet["nbf"] = json!(Utc::now().timestamp() + 120);
    let mut no_nbf = claims("1", 300);
    no_nbf.as_object_mut().unwrap().remove("nbf");
    let mut year_9999 = claims("1", 300);
    year_9999["exp"] = json!(253_402_300_799_i64);
    let mut too_long = claims("1", 300);
    too_long["exp"] = json!(Utc::now().timestamp() + 900 + 60);
    let mut backdated = claims("1", 300);
    backdated["iat"] = json!(Utc::now().timestamp() - 3_600);
    let mut plain_jwt = our_header(Algorithm::HS256);
    plain_jwt.typ = Some("JWT".to_owned());
    let mut untyped = our_header(Algorithm::HS256);
    untyped.typ = None;
    let mut unknown_key = our_header(Algorithm::HS256);
    unknown_key.kid = Some("hs-0000000000000000".to_owned());
    let mut no_key = our_header(Algorithm::HS256);
    no_key.kid = None;

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
        (
            "not valid before a minute from now",
            sign(not_yet, TEST_JWT_SECRET, Algorithm::HS256),
        ),
        ("no nbf", sign(no_nbf, TEST_JWT_SECRET, Algorithm::HS256)),
        (
            "expires in year 9999",
            sign(year_9999, TEST_JWT_SECRET, Algorithm::HS256),
        ),
        (
            "lives longer than the configured lifetime",
            sign(too_long, TEST_JWT_SECRET, Algorithm::HS256),
        ),
        (
            "issued an hour ago, valid for 65 minutes",
            sign(backdated, TEST_JWT_SECRET, Algorithm::HS256),
        ),
        (
            "typ JWT",
            sign_with(&plain_jwt, &claims("1", 300), TEST_JWT_SECRET),
        ),
        (
            "no typ",
            sign_with(&untyped, &claims("1", 300), TEST_JWT_SECRET),
        ),
        (
            "unknown kid",
            sign_with(&unknown_key, &claims("1", 300), TEST_JWT_SECRET),
        ),
        (
            "no kid",
            sign_with(&no_key, &claims("1", 300), TEST_JWT_SECRET),
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

#[tokio::test]
async fn a_signed_token_of_a_deleted_account_is_unauthenticated_for_reads_and_writes() {
    let app = TestApp::spawn().await;
    let token = sign(claims("4242", 300), TEST_JWT_SECRET, Algorithm::HS256);
    let client = app.with_token(&token);
    let viewer = client.gql("{ viewer { email } }", json!({})).await;
    assert_eq!(viewer.error_code(), "UNAUTHENTICATED");
    let vendor = client
        .gql(
            tests::fixtures::CREATE_VENDOR,
            json!({ "input": { "slug": "ghost", "name": "Ghost", "website": "https://g.example.com", "country": "US" } }),
        )
        .await;
    assert_eq!(vendor.error_code(), "UNAUTHENTICATED", "{:#}", vendor.body);
    let profile = client
        .gql(
            "mutation { createPartnerProfile(input: { slug: \"ghost\", displayName: \"Ghost\", partnerTypes: [AFFILIATE] }) { partner { id } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        profile.error_code(),
        "UNAUTHENTICATED",
        "{:#}",
        profile.body
    );
    assert_eq!(app.count("vendor").await, 0);
    assert_eq!(app.count("partner").await, 0);
}

#[tokio::test]
async fn after_a_key_rotation_tokens_of_the_previous_key_still_verify() {
    let new_secret = "rotated-secret-rotated-secret-rotated!";
    let app = TestApp::spawn_with(&[
        "--jwt-secret",
        new_secret,
        "--jwt-previous-secrets",
        TEST_JWT_SECRET,
    ])
    .await;
    let session = app.sign_up("ada@example.com").await;
    let fresh = session["accessToken"].as_str().unwrap();
    let header = jsonwebtoken::decode_header(fresh).unwrap();
    assert_eq!(
        header.kid.as_deref(),
        Some(api::auth::jwt::key_id(new_secret.as_bytes()).as_str())
    );
    assert_eq!(
        viewer_with(&app, fresh).await.data("viewer")["email"],
        "ada@example.com"
    );
    let old = sign(claims("1", 300), TEST_JWT_SECRET, Algorithm::HS256);
    assert_eq!(
        viewer_with(&app, &old).await.data("viewer")["email"],
        "ada@example.com"
    );
    // A server that no longer lists the old key refuses its tokens.
    let retired = TestApp::spawn_with(&["--jwt-secret", new_secret]).await;
    retired.sign_up("ada@example.com").await;
    assert_eq!(
        viewer_with(&retired, &old).await.error_code(),
        "UNAUTHENTICATED"
    );
}

#[tokio::test]
async fn an_invalid_or_expired_token_answers_401_with_a_bearer_challenge() {
    let app = TestApp::spawn().await;
    let expired = sign(claims("1", -120), TEST_JWT_SECRET, Algorithm::HS256);
    for (name, token) in [("expired", expired.as_str()), ("garbage", "not-a-jwt")] {
        // Even a field anyone may read: the client must learn its token is stale.
        let response = app
            .with_token(token)
            .post()
            .json(&json!({ "query": "{ searchPrograms(query: \"crm\") { totalCount } }" }))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401, "{name}");
        let challenge = response.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            challenge.starts_with("Bearer error=\"invalid_token\""),
            "{name}: {challenge}"
        );
        let body = tests::Gql::read(response).await;
        assert_eq!(body.error_code(), "UNAUTHENTICATED", "{name}");
        assert!(body.body.get("data").is_none(), "{name}: nothing ran");
    }
    // The same request without the token is an anonymous read.
    let anonymous = app
        .anonymous()
        .post()
        .json(&json!({ "query": "{ searchPrograms(query: \"crm\") { totalCount } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), 200);
    assert!(anonymous.headers().get("www-authenticate").is_none());
}
