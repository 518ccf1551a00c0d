//! Relay object identification: `node` and `nodes` respect the same visibility as
//! every other read.

use serde_json::json;
use tests::TestApp;

const NODE: &str = "query($id: ID!) { node(id: $id) { id ... on User { email } } }";

#[tokio::test]
async fn a_user_can_fetch_their_own_node() {
    let app = TestApp::spawn().await;
    let session = app.sign_up("ada@example.com").await;
    let ada = app.with_token(session["accessToken"].as_str().unwrap());
    let response = ada.gql(NODE, json!({ "id": session["user"]["id"] })).await;
    assert_eq!(response.data("node")["email"], "ada@example.com");
}

#[tokio::test]
async fn another_users_node_is_null_for_users_and_anonymous_but_visible_to_admins() {
    let app = TestApp::spawn().await;
    let ada = app.sign_up("ada@example.com").await;
    let ada_id = &ada["user"]["id"];
    let bob = app.user("bob@example.com").await;
    let admin = app.admin("ops@example.com").await;

    assert!(
        bob.gql(NODE, json!({ "id": ada_id }))
            .await
            .data("node")
            .is_null()
    );
    assert!(
        app.anonymous()
            .gql(NODE, json!({ "id": ada_id }))
            .await
            .data("node")
            .is_null()
    );
    assert_eq!(
        admin.gql(NODE, json!({ "id": ada_id })).await.data("node")["email"],
        "ada@example.com"
    );
}

#[tokio::test]
async fn a_missing_node_is_null_like_an_invisible_one() {
    let app = TestApp::spawn().await;
    let admin = app.admin("ops@example.com").await;
    // base64url("User:999")
    assert!(
        admin
            .gql(NODE, json!({ "id": "VXNlcjo5OTk" }))
            .await
            .data("node")
            .is_null()
    );
}

#[tokio::test]
async fn a_malformed_id_is_bad_user_input() {
    let app = TestApp::spawn().await;
    for id in ["", "42", "VXNlcjo", "Rm9vOjE", "%%%"] {
        let response = app.anonymous().gql(NODE, json!({ "id": id })).await;
        assert_eq!(response.error_code(), "BAD_USER_INPUT", "{id}");
    }
}

#[tokio::test]
async fn nodes_keeps_the_order_of_the_ids_with_null_for_invisible_ones() {
    let app = TestApp::spawn().await;
    let ada = app.sign_up("ada@example.com").await;
    let bob = app.sign_up("bob@example.com").await;
    let client = app.with_token(ada["accessToken"].as_str().unwrap());
    let response = client
        .gql(
            "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
            json!({ "ids": [bob["user"]["id"], ada["user"]["id"], ada["user"]["id"]] }),
        )
        .await;
    assert_eq!(
        response.data("nodes"),
        &json!([null, { "id": ada["user"]["id"] }, { "id": ada["user"]["id"] }])
    );
}

#[tokio::test]
async fn nodes_refuses_more_than_one_hundred_ids() {
    let app = TestApp::spawn().await;
    let ids: Vec<String> = (1..=101).map(|_| "VXNlcjox".to_owned()).collect();
    let response = app
        .anonymous()
        .gql(
            "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
            json!({ "ids": ids }),
        )
        .await;
    assert_eq!(response.error_code(), "BAD_USER_INPUT");
}
