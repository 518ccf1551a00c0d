//! Vendor API keys: shown once, stored hashed, scoped to their vendor, revocable, and
//! tried against every role and every other vendor.

use serde_json::{Value, json};
use tests::TestApp;

const CREATE: &str = "mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) {
    apiKey { id name prefix scopes lastUsedAt revokedAt } secret userErrors { field code message } } }";
const REVOKE: &str = "mutation($input: RevokeApiKeyInput!) { revokeApiKey(input: $input) {
    apiKey { id revokedAt } userErrors { field code message } } }";
const QUEUE: &str =
    "query($id: ID!) { applications(programId: $id) { edges { node { id applicant { slug } } } } }";

fn with_key(app: &TestApp, header: &str, secret: &str) -> reqwest::RequestBuilder {
    let request = app.http().post(app.url("/graphql"));
    if header == "x-api-key" {
        request.header("x-api-key", secret)
    } else {
        request.bearer_auth(secret)
    }
}

async fn as_key(app: &TestApp, header: &str, secret: &str, query: &str, variables: Value) -> Value {
    with_key(app, header, secret)
        .json(&json!({ "query": query, "variables": variables }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_key_reaches_only_its_own_vendor_within_its_scopes_until_revoked() {
    let app = TestApp::spawn().await;
    let market = app.market("keys").await;
    app.applied(&market.partner, &market, json!({})).await;
    let other = app.market("keys-other").await;
    app.applied(&other.partner, &other, json!({})).await;

    let created = market
        .owner
        .gql(CREATE, json!({ "input": { "vendorId": market.vendor_id, "name": "Billing", "scopes": ["APPLICATIONS_READ", "CONVERSIONS_WRITE"] } }))
        .await;
    let payload = created.data("createApiKey").clone();
    assert_eq!(payload["userErrors"], json!([]));
    let secret = payload["secret"].as_str().unwrap().to_owned();
    assert!(
        secret.starts_with("mk_live_") && secret.len() > 40,
        "{secret}"
    );
    assert_eq!(payload["apiKey"]["prefix"], secret[..16]);

    // Stored as a hash only; listed without the secret.
    use entity::api_key;
    use sea_orm::EntityTrait;
    let stored = api_key::Entity::find().all(&app.services.db).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_ne!(stored[0].secret_hash, secret);
    assert!(!format!("{stored:?}").contains(&secret[16..]));
    let listed = market
        .owner
        .gql(
            "query($slug: String!) { vendor(slug: $slug) { apiKeys { name prefix } } }",
            json!({ "slug": "vendor-keys" }),
        )
        .await;
    assert_eq!(
        listed.data("vendor")["apiKeys"],
        json!([{ "name": "Billing", "prefix": secret[..16] }])
    );
    for outsider in [&market.member, &market.partner, &market.outsider] {
        let listed = outsider
            .gql(
                "query($slug: String!) { vendor(slug: $slug) { apiKeys { name } } }",
                json!({ "slug": "vendor-keys" }),
            )
            .await;
        assert_eq!(listed.data("vendor")["apiKeys"], Value::Null);
    }

    // Both headers work; the key reads its own vendor's queue and records its use.
    for header in ["x-api-key", "authorization"] {
        let body = as_key(
            &app,
            header,
            &secret,
            QUEUE,
            json!({ "id": market.program_id }),
        )
        .await;
        assert_eq!(
            body["data"]["applications"]["edges"][0]["node"]["applicant"]["slug"],
            market.partner_slug,
            "{body}"
        );
    }
    let used = api_key::Entity::find()
        .one(&app.services.db)
        .await
        .unwrap()
        .unwrap();
    assert!(used.last_used_at.is_some());

    // Another vendor's program answers like a missing one; so do its objects by id.
    let body = as_key(
        &app,
        "x-api-key",
        &secret,
        QUEUE,
        json!({ "id": other.program_id }),
    )
    .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "NOT_FOUND",
        "{body}"
    );
    let body = as_key(
        &app,
        "x-api-key",
        &secret,
        "query($id: ID!) { node(id: $id) { id } }",
        json!({ "id": other.partner_id }),
    )
    .await;
    assert_eq!(body["data"]["node"], Value::Null);
    // Without the scope: refused on its own vendor's partnerships.
    let body = as_key(
        &app,
        "x-api-key",
        &secret,
        "query($id: ID!) { enrollments(programId: $id) { edges { node { id } } } }",
        json!({ "id": market.program_id }),
    )
    .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{body}"
    );
    // A key is nobody's account: user operations are refused, writes change nothing.
    let before = app.market_snapshot().await;
    let body = as_key(&app, "x-api-key", &secret, CREATE, json!({ "input": { "vendorId": market.vendor_id, "name": "Escalate", "scopes": ["APPLICATIONS_READ"] } })).await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{body}"
    );
    assert_eq!(app.market_snapshot().await, before);

    // Revoked, unknown and malformed keys are UNAUTHENTICATED, never anonymous.
    let revoked = market
        .admin
        .gql(
            REVOKE,
            json!({ "input": { "apiKeyId": payload["apiKey"]["id"] } }),
        )
        .await;
    assert!(revoked.data("revokeApiKey")["apiKey"]["revokedAt"].is_string());
    for bad in [secret.as_str(), "mk_live_not-a-key", "mk_"] {
        for header in ["x-api-key", "authorization"] {
            let body = as_key(
                &app,
                header,
                bad,
                "{ programs(first: 1) { edges { node { id } } } }",
                json!({}),
            )
            .await;
            assert_eq!(
                body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED",
                "{bad} via {header}: {body}"
            );
        }
    }
    let again = market
        .admin
        .gql(
            REVOKE,
            json!({ "input": { "apiKeyId": payload["apiKey"]["id"] } }),
        )
        .await;
    assert_eq!(again.user_errors("revokeApiKey")[0].1, "INVALID_TRANSITION");
}

#[tokio::test]
async fn keys_are_created_and_revoked_by_the_vendors_managers_only() {
    let app = TestApp::spawn().await;
    let market = app.market("key-roles").await;
    let input = json!({ "input": { "vendorId": market.vendor_id, "name": "CI", "scopes": ["CONVERSIONS_WRITE"] } });
    let anonymous = app.anonymous();
    let cases = [
        (&anonymous, Some("UNAUTHENTICATED")),
        (&market.partner, Some("FORBIDDEN")),
        (&market.outsider, Some("FORBIDDEN")),
        (&market.member, Some("FORBIDDEN")),
        (&market.platform_admin, Some("FORBIDDEN")),
        (&market.admin, None),
        (&market.owner, None),
    ];
    let mut created = Vec::new();
    for (client, expected) in &cases {
        let before = app.count("api_key").await;
        let response = client.gql(CREATE, input.clone()).await;
        match expected {
            Some(code) => {
                assert_eq!(response.error_code(), *code);
                assert_eq!(app.count("api_key").await, before);
            }
            None => created.push(response.data("createApiKey")["apiKey"]["id"].clone()),
        }
    }
    assert_eq!(created.len(), 2);
    // Revoking: a key of a vendor you do not manage is missing to you (members of the
    // team are refused: they know it exists).
    for (client, expected) in [
        (&anonymous, "UNAUTHENTICATED"),
        (&market.partner, "NOT_FOUND"),
        (&market.outsider, "NOT_FOUND"),
        (&market.member, "NOT_FOUND"),
        (&market.platform_admin, "FORBIDDEN"),
    ] {
        let response = client
            .gql(REVOKE, json!({ "input": { "apiKeyId": created[0] } }))
            .await;
        assert_eq!(response.error_code(), expected);
    }
    assert_eq!(app.count("api_key").await, 2);
    let response = market
        .owner
        .gql(REVOKE, json!({ "input": { "apiKeyId": created[0] } }))
        .await;
    assert_eq!(response.user_errors("revokeApiKey"), vec![]);
    // Bad input: no scopes, an empty name.
    let response = market
        .owner
        .gql(
            CREATE,
            json!({ "input": { "vendorId": market.vendor_id, "name": " ", "scopes": [] } }),
        )
        .await;
    let mut codes: Vec<String> = response
        .user_errors("createApiKey")
        .into_iter()
        .map(|(_, c)| c)
        .collect();
    codes.sort();
    assert_eq!(codes, ["REQUIRED", "REQUIRED"]);
}

#[tokio::test]
async fn each_scope_reads_partner_profiles_exactly_as_node_does() {
    let app = TestApp::spawn().await;
    let market = app.market("scopes").await;
    app.enroll(&market.partner, &market).await;
    let enrollments = app.api_key(&market, &["ENROLLMENTS_READ"]).await;
    let applications = app.api_key(&market, &["APPLICATIONS_READ"]).await;
    let conversions = app.api_key(&market, &["CONVERSIONS_WRITE"]).await;
    let partner_of = |secret: String| {
        let app = &app;
        let market = &market;
        async move {
            let through_enrollment = as_key(
                app,
                "x-api-key",
                &secret,
                "query($id: ID!) { enrollments(programId: $id) { edges { node { partner { slug audienceDescription } } } } }",
                json!({ "id": market.program_id }),
            )
            .await;
            let by_node = as_key(
                app,
                "x-api-key",
                &secret,
                "query($id: ID!) { node(id: $id) { ... on Partner { slug } } }",
                json!({ "id": market.partner_id }),
            )
            .await;
            let through_application = as_key(
                app,
                "x-api-key",
                &secret,
                "query($id: ID!) { applications(programId: $id) { edges { node { applicant { slug } enrollment { id } } } } }",
                json!({ "id": market.program_id }),
            )
            .await;
            (through_enrollment, by_node, through_application)
        }
    };
    // enrollments:read: the partnership, and the profile of the partner in it — the
    // same profile node(id) gives that key.
    let (enrolled, node, applied) = partner_of(enrollments).await;
    let slug = market.partner_slug.as_str();
    assert_eq!(
        enrolled["data"]["enrollments"]["edges"][0]["node"]["partner"]["slug"],
        slug
    );
    assert_eq!(node["data"]["node"]["slug"], slug, "{node}");
    assert_eq!(applied["errors"][0]["extensions"]["code"], "FORBIDDEN");
    // applications:read: the applicant, but not the partnership the application led to.
    let (enrolled, node, applied) = partner_of(applications).await;
    assert_eq!(enrolled["errors"][0]["extensions"]["code"], "FORBIDDEN");
    assert_eq!(node["data"]["node"]["slug"], slug);
    let application = &applied["data"]["applications"]["edges"][0]["node"];
    assert_eq!(application["applicant"]["slug"], slug, "{applied}");
    assert!(application["enrollment"].is_null(), "{applied}");
    // conversions:write: no profiles at all.
    let (enrolled, node, _) = partner_of(conversions).await;
    assert_eq!(enrolled["errors"][0]["extensions"]["code"], "FORBIDDEN");
    assert!(node["data"]["node"].is_null(), "{node}");
}
