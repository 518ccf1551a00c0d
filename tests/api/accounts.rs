//! Sign-up, log-in, refresh-token rotation and log-out.

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use tests::{PASSWORD, TestApp};

const SIGN_UP: &str = "mutation($input: SignUpInput!) { signUp(input: $input) {
    session { accessToken accessTokenExpiresAt refreshToken tokenType user { id email displayName role } }
    userErrors { field code message } } }";
const LOG_IN: &str = "mutation($input: LogInInput!) { logIn(input: $input) {
    session { accessToken refreshToken user { email } } userErrors { field code message } } }";
const REFRESH: &str = "mutation($token: String!) { refreshToken(input: {refreshToken: $token}) {
    session { accessToken refreshToken } userErrors { code } } }";
const LOG_OUT: &str = "mutation($token: String!, $all: Boolean) { logOut(input: {refreshToken: $token, allSessions: $all}) {
    loggedOut userErrors { code } } }";

fn sign_up_vars(email: &str, password: &str, name: &str) -> Value {
    json!({ "input": { "email": email, "password": password, "displayName": name } })
}

#[tokio::test]
async fn signing_up_returns_a_session_whose_access_token_identifies_the_viewer() {
    let app = TestApp::spawn().await;
    let response = app
        .anonymous()
        .gql(
            SIGN_UP,
            sign_up_vars("Ada@Example.com", PASSWORD, "  Ada  "),
        )
        .await;
    let session = &response.data("signUp")["session"];
    assert_eq!(session["user"]["email"], "ada@example.com");
    assert_eq!(session["user"]["displayName"], "Ada");
    assert_eq!(session["user"]["role"], "USER");
    assert_eq!(session["tokenType"], "Bearer");

    let expires: DateTime<Utc> = session["accessTokenExpiresAt"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let lifetime = expires - Utc::now();
    assert!(
        lifetime.num_seconds() <= 900 && lifetime.num_seconds() > 850,
        "{lifetime}"
    );

    let me = app
        .with_token(session["accessToken"].as_str().unwrap())
        .gql("{ viewer { id email } }", json!({}))
        .await;
    assert_eq!(me.data("viewer")["email"], "ada@example.com");
    assert_eq!(me.data("viewer")["id"], session["user"]["id"]);
}

#[tokio::test]
async fn passwords_are_stored_as_argon2id_hashes_only() {
    let app = TestApp::spawn().await;
    app.sign_up("ada@example.com").await;
    use entity::user;
    use sea_orm::EntityTrait;
    let stored = user::Entity::find()
        .one(&app.services.db)
        .await
        .unwrap()
        .unwrap();
    assert!(
        stored.password_hash.starts_with("$argon2id$v=19$"),
        "{}",
        stored.password_hash
    );
    assert!(!stored.password_hash.contains(PASSWORD));
}

#[tokio::test]
async fn an_email_is_unique_whatever_its_case() {
    let app = TestApp::spawn().await;
    app.sign_up("ada@example.com").await;
    let again = app
        .anonymous()
        .gql(SIGN_UP, sign_up_vars("ADA@example.COM", PASSWORD, "Ada 2"))
        .await;
    assert_eq!(
        again.user_errors("signUp"),
        vec![(Some("email".into()), "TAKEN".into())]
    );
    assert!(again.data("signUp")["session"].is_null());
    assert_eq!(app.count("users").await, 1);
}

#[tokio::test]
async fn concurrent_sign_ups_with_one_email_create_one_account() {
    let app = TestApp::spawn().await;
    let attempts = (0..8).map(|i| {
        let client = app.anonymous();
        async move {
            client
                .gql(
                    SIGN_UP,
                    sign_up_vars("race@example.com", PASSWORD, &format!("R{i}")),
                )
                .await
        }
    });
    let results = futures_util::future::join_all(attempts).await;
    let created = results
        .iter()
        .filter(|r| r.data("signUp")["session"].is_object())
        .count();
    let taken = results
        .iter()
        .filter(|r| r.user_errors("signUp") == vec![(Some("email".into()), "TAKEN".into())])
        .count();
    assert_eq!((created, taken), (1, 7));
    assert_eq!(app.count("users").await, 1);
}

#[tokio::test]
async fn weak_passwords_and_malformed_emails_get_user_errors_and_create_nothing() {
    let app = TestApp::spawn().await;
    let cases = [
        (
            sign_up_vars("", "", ""),
            vec![
                ("email", "REQUIRED"),
                ("password", "REQUIRED"),
                ("displayName", "REQUIRED"),
            ],
        ),
        (
            sign_up_vars("not-an-email", PASSWORD, "X"),
            vec![("email", "INVALID")],
        ),
        (
            sign_up_vars("ada@example.com", "short", "X"),
            vec![("password", "TOO_SHORT")],
        ),
        (
            sign_up_vars("ada@example.com", "password123", "X"),
            vec![("password", "TOO_COMMON")],
        ),
        (
            sign_up_vars("ada@example.com", "ada@example.com", "X"),
            vec![("password", "TOO_COMMON")],
        ),
        (
            sign_up_vars("ada@example.com", &"x1".repeat(100), "X"),
            vec![("password", "TOO_LONG")],
        ),
        (
            sign_up_vars("ada@example.com", PASSWORD, &"n".repeat(101)),
            vec![("displayName", "TOO_LONG")],
        ),
    ];
    for (vars, expected) in cases {
        let response = app.anonymous().gql(SIGN_UP, vars.clone()).await;
        let expected: Vec<_> = expected
            .into_iter()
            .map(|(f, c)| (Some(f.to_owned()), c.to_owned()))
            .collect();
        assert_eq!(response.user_errors("signUp"), expected, "{vars}");
        assert!(response.data("signUp")["session"].is_null());
    }
    assert_eq!(app.count("users").await, 0);
}

#[tokio::test]
async fn a_ten_thousand_character_email_gets_a_user_error_on_sign_up_and_log_in() {
    let app = TestApp::spawn().await;
    let email = format!("{}@example.com", "a".repeat(10_000));
    let sign_up = app
        .anonymous()
        .gql(SIGN_UP, sign_up_vars(&email, PASSWORD, "Long"))
        .await;
    assert_eq!(
        sign_up.user_errors("signUp"),
        vec![(Some("email".into()), "TOO_LONG".into())]
    );
    let log_in = app
        .anonymous()
        .gql(
            LOG_IN,
            json!({ "input": { "email": email, "password": PASSWORD } }),
        )
        .await;
    assert_eq!(
        log_in.user_errors("logIn"),
        vec![(Some("email".into()), "TOO_LONG".into())]
    );
    assert_eq!(app.count("users").await, 0);
}

#[tokio::test]
async fn logging_in_with_a_wrong_password_or_unknown_email_gets_the_same_user_error() {
    let app = TestApp::spawn().await;
    app.sign_up("ada@example.com").await;
    let wrong_password = app
        .anonymous()
        .gql(
            LOG_IN,
            json!({ "input": { "email": "ada@example.com", "password": "not the password" } }),
        )
        .await;
    let unknown = app
        .anonymous()
        .gql(
            LOG_IN,
            json!({ "input": { "email": "nobody@example.com", "password": PASSWORD } }),
        )
        .await;
    for response in [&wrong_password, &unknown] {
        assert_eq!(
            response.user_errors("logIn"),
            vec![(None, "INVALID_CREDENTIALS".into())]
        );
        assert!(response.data("logIn")["session"].is_null());
    }
    assert_eq!(
        wrong_password.data("logIn")["userErrors"][0]["message"],
        unknown.data("logIn")["userErrors"][0]["message"]
    );
    assert_eq!(
        app.count("refresh_token").await,
        1,
        "only the sign-up session exists"
    );
}

#[tokio::test]
async fn logging_in_ignores_the_case_of_the_email_and_starts_a_new_session() {
    let app = TestApp::spawn().await;
    app.sign_up("ada@example.com").await;
    let response = app
        .anonymous()
        .gql(
            LOG_IN,
            json!({ "input": { "email": " ADA@example.com", "password": PASSWORD } }),
        )
        .await;
    let session = &response.data("logIn")["session"];
    assert_eq!(session["user"]["email"], "ada@example.com");
    let me = app
        .with_token(session["accessToken"].as_str().unwrap())
        .gql("{ viewer { email } }", json!({}))
        .await;
    assert_eq!(me.data("viewer")["email"], "ada@example.com");
}

#[tokio::test]
async fn a_refresh_rotates_the_refresh_token_and_issues_a_working_access_token() {
    let app = TestApp::spawn().await;
    let session = app.sign_up("ada@example.com").await;
    let first = session["refreshToken"].as_str().unwrap();
    let response = app
        .anonymous()
        .gql(REFRESH, json!({ "token": first }))
        .await;
    let next = &response.data("refreshToken")["session"];
    assert_ne!(next["refreshToken"].as_str().unwrap(), first);
    let me = app
        .with_token(next["accessToken"].as_str().unwrap())
        .gql("{ viewer { email } }", json!({}))
        .await;
    assert_eq!(me.data("viewer")["email"], "ada@example.com");
    // The next token works in turn.
    let again = app
        .anonymous()
        .gql(REFRESH, json!({ "token": next["refreshToken"] }))
        .await;
    assert!(again.data("refreshToken")["session"]["refreshToken"].is_string());
}

#[tokio::test]
async fn reusing_a_rotated_refresh_token_revokes_the_whole_family() {
    let app = TestApp::spawn().await;
    let session = app.sign_up("ada@example.com").await;
    let stolen = session["refreshToken"].as_str().unwrap();
    let rotated = app
        .anonymous()
        .gql(REFRESH, json!({ "token": stolen }))
        .await;
    let current = rotated.data("refreshToken")["session"]["refreshToken"]
        .as_str()
        .unwrap()
        .to_owned();

    let replay = app
        .anonymous()
        .gql(REFRESH, json!({ "token": stolen }))
        .await;
    assert_eq!(replay.error_code(), "UNAUTHENTICATED");
    assert!(
        replay.body["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("revoked")
    );

    // The legitimate holder's newer token is revoked too.
    let victim = app
        .anonymous()
        .gql(REFRESH, json!({ "token": current }))
        .await;
    assert_eq!(victim.error_code(), "UNAUTHENTICATED");
    assert_eq!(
        app.count("event").await,
        2,
        "sign-up and the reuse detection"
    );
}

#[tokio::test]
async fn two_concurrent_refreshes_with_one_token_cannot_both_succeed() {
    let app = TestApp::spawn().await;
    let session = app.sign_up("ada@example.com").await;
    let token = session["refreshToken"].as_str().unwrap().to_owned();
    let (first, second) = (app.anonymous(), app.anonymous());
    let (a, b) = tokio::join!(
        first.gql(REFRESH, json!({ "token": token })),
        second.gql(REFRESH, json!({ "token": token })),
    );
    let successes = [&a, &b]
        .iter()
        .filter(|r| r.body.get("errors").is_none())
        .count();
    assert!(successes <= 1, "{:#} {:#}", a.body, b.body);
}

#[tokio::test]
async fn an_unknown_or_garbage_refresh_token_is_unauthenticated() {
    let app = TestApp::spawn().await;
    for token in ["rt_doesnotexist", "", "x".repeat(5000).as_str()] {
        let response = app
            .anonymous()
            .gql(REFRESH, json!({ "token": token }))
            .await;
        assert_eq!(response.error_code(), "UNAUTHENTICATED");
    }
}

#[tokio::test]
async fn an_expired_refresh_token_is_unauthenticated() {
    let app = TestApp::spawn().await;
    let session = app.sign_up("ada@example.com").await;
    use entity::refresh_token;
    use sea_orm::{EntityTrait, sea_query::Expr};
    refresh_token::Entity::update_many()
        .col_expr(
            refresh_token::Column::ExpiresAt,
            Expr::value(Utc::now() - chrono::Duration::seconds(1)),
        )
        .exec(&app.services.db)
        .await
        .unwrap();
    let response = app
        .anonymous()
        .gql(REFRESH, json!({ "token": session["refreshToken"] }))
        .await;
    assert_eq!(response.error_code(), "UNAUTHENTICATED");
}

#[tokio::test]
async fn logging_out_ends_that_session_only() {
    let app = TestApp::spawn().await;
    let first = app.sign_up("ada@example.com").await;
    let second = app
        .anonymous()
        .gql(
            LOG_IN,
            json!({ "input": { "email": "ada@example.com", "password": PASSWORD } }),
        )
        .await;
    let second = second.data("logIn")["session"]["refreshToken"]
        .as_str()
        .unwrap()
        .to_owned();

    let out = app
        .anonymous()
        .gql(LOG_OUT, json!({ "token": first["refreshToken"] }))
        .await;
    assert_eq!(out.data("logOut")["loggedOut"], true);
    let refresh_first = app
        .anonymous()
        .gql(REFRESH, json!({ "token": first["refreshToken"] }))
        .await;
    assert_eq!(refresh_first.error_code(), "UNAUTHENTICATED");
    let refresh_second = app
        .anonymous()
        .gql(REFRESH, json!({ "token": second }))
        .await;
    assert!(refresh_second.data("refreshToken")["session"].is_object());
}

#[tokio::test]
async fn logging_out_everywhere_ends_every_session_of_the_user() {
    let app = TestApp::spawn().await;
    let first = app.sign_up("ada@example.com").await;
    let second = app
        .anonymous()
        .gql(
            LOG_IN,
            json!({ "input": { "email": "ada@example.com", "password": PASSWORD } }),
        )
        .await;
    let second = second.data("logIn")["session"]["refreshToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let other_user = app.sign_up("bob@example.com").await;

    let out = app
        .anonymous()
        .gql(
            LOG_OUT,
            json!({ "token": first["refreshToken"], "all": true }),
        )
        .await;
    assert_eq!(out.data("logOut")["loggedOut"], true);
    for token in [first["refreshToken"].as_str().unwrap(), second.as_str()] {
        assert_eq!(
            app.anonymous()
                .gql(REFRESH, json!({ "token": token }))
                .await
                .error_code(),
            "UNAUTHENTICATED"
        );
    }
    let bob = app
        .anonymous()
        .gql(REFRESH, json!({ "token": other_user["refreshToken"] }))
        .await;
    assert!(
        bob.data("refreshToken")["session"].is_object(),
        "other users keep their sessions"
    );
}

#[tokio::test]
async fn sign_up_and_log_in_are_audited_with_the_request_id() {
    let app = TestApp::spawn().await;
    app.sign_up("ada@example.com").await;
    let response = app
        .anonymous()
        .post()
        .header("x-request-id", "req-login-1")
        .json(&json!({ "query": LOG_IN, "variables": { "input": { "email": "ada@example.com", "password": PASSWORD } } }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    use entity::event;
    use sea_orm::{EntityTrait, QueryOrder};
    let events = event::Entity::find()
        .order_by_asc(event::Column::Id)
        .all(&app.services.db)
        .await
        .unwrap();
    let actions: Vec<_> = events.iter().map(|e| e.event_type.as_str()).collect();
    assert_eq!(actions, ["user.signed_up", "user.logged_in"]);
    assert_eq!(events[1].request_id.as_deref(), Some("req-login-1"));
    let user_id = events[0].subject_id;
    assert!(user_id.is_some());
    assert!(
        events
            .iter()
            .all(|e| e.actor_user_id == user_id && e.subject_type == "User")
    );
}
