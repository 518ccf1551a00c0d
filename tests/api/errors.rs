//! Internal failures answer a fixed text with a code; SQL and driver text stay in the logs.

use serde_json::json;
use tests::{PASSWORD, TestApp};

#[tokio::test]
async fn an_internal_error_never_leaks_sql_or_driver_text() {
    let app = TestApp::spawn().await;
    app.sign_up("ada@example.com").await;
    // Break the schema under the running server.
    use sea_orm::{ConnectionTrait, Statement};
    let backend = app.services.db.get_database_backend();
    app.services
        .db
        .execute_raw(Statement::from_string(
            backend,
            "DROP TABLE refresh_token".to_owned(),
        ))
        .await
        .unwrap();

    let response = app
        .anonymous()
        .gql(
            "mutation($input: LogInInput!) { logIn(input: $input) { session { accessToken } } }",
            json!({ "input": { "email": "ada@example.com", "password": PASSWORD } }),
        )
        .await;
    assert_eq!(response.status, 200);
    assert_eq!(response.error_code(), "INTERNAL_SERVER_ERROR");
    let text = response.body.to_string().to_lowercase();
    for leak in [
        "refresh_token",
        "insert",
        "sql",
        "relation",
        "no such table",
        "sqlx",
        "panicked",
    ] {
        assert!(!text.contains(leak), "response leaks `{leak}`: {text}");
    }
    assert_eq!(
        response.body["errors"][0]["message"],
        "internal server error"
    );
}
