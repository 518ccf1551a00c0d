//! The demo marketplace and the benchmark generator, both written through the service
//! layer.

use api::service::demo;
use serde_json::json;
use tests::TestApp;

#[tokio::test]
async fn the_demo_marketplace_loads_on_an_empty_database_and_loading_again_changes_nothing() {
    let app = TestApp::spawn_with(&["--demo-data", "true"]).await;
    let programs = app.count("program").await;
    assert!(programs >= 200, "{programs}");
    assert!(app.count("vendor").await >= 40);

    let listing = app
        .anonymous()
        .gql("{ programs(first: 100) { totalCount edges { node { status visibility commissionRules { summary } } } } categories { slug } }", json!({}))
        .await;
    let total = listing.data("programs")["totalCount"].as_u64().unwrap();
    assert!(
        total > 150 && total < 210,
        "published public programs only: {total}"
    );
    assert!(listing.data("categories").as_array().unwrap().len() >= 12);
    for edge in listing.data("programs")["edges"].as_array().unwrap() {
        assert_eq!(edge["node"]["status"], "PUBLISHED");
        assert_eq!(edge["node"]["visibility"], "PUBLIC");
        assert!(
            !edge["node"]["commissionRules"]
                .as_array()
                .unwrap()
                .is_empty()
        );
    }

    // Demo partners earn in one program, so its listing shows public figures.
    let figures = app
        .anonymous()
        .gql(
            "{ program(slug: \"acme-analytics-affiliates\") { earnings { averageMonthlyPerPartner { amount } sampleSize insufficientData } } }",
            json!({}),
        )
        .await;
    let earnings = &figures.data("program")["earnings"];
    assert_eq!(earnings["insufficientData"], false, "{earnings}");
    assert_eq!(earnings["sampleSize"], 6);
    assert!(earnings["averageMonthlyPerPartner"]["amount"].is_string());

    let before = app.market_snapshot().await;
    let ledger = (app.count("conversion").await, app.count("commission").await);
    let again = demo::load(&app.services).await.unwrap();
    assert_eq!(again, demo::Loaded::default());
    assert_eq!(app.market_snapshot().await, before);
    assert_eq!(
        (app.count("conversion").await, app.count("commission").await),
        ledger
    );
}

#[tokio::test]
async fn demo_accounts_can_log_in_and_see_their_teams() {
    let app = TestApp::spawn_with(&["--demo-data", "true"]).await;
    let log_in = app
        .anonymous()
        .gql(
            "mutation { logIn(input: {email: \"member@example.com\", password: \"demo-password-2026\"}) { session { accessToken } } }",
            json!({}),
        )
        .await;
    let member = app.with_token(
        log_in.data("logIn")["session"]["accessToken"]
            .as_str()
            .unwrap(),
    );
    let me = member.gql("{ viewer { vendorMemberships { role vendor { slug programs { edges { node { status } } } } } } }", json!({})).await;
    let membership = &me.data("viewer")["vendorMemberships"][0];
    assert_eq!(membership["role"], "MEMBER");
    assert_eq!(membership["vendor"]["slug"], "acme-analytics");
    let statuses: Vec<&str> = membership["vendor"]["programs"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["status"].as_str().unwrap())
        .collect();
    assert!(
        statuses.contains(&"DRAFT"),
        "members see their drafts: {statuses:?}"
    );
}

#[tokio::test]
async fn generated_programs_follow_the_listing_rules_and_can_be_resumed() {
    let app = TestApp::spawn().await;
    let mut reports = Vec::new();
    let created = demo::generate(&app.services, 250, 100, |done, total| {
        reports.push((done, total))
    })
    .await
    .unwrap();
    assert_eq!(created, 250);
    assert_eq!(reports.last(), Some(&(250, 250)));
    assert_eq!(app.count("program").await, 250);
    assert_eq!(app.count("vendor").await, 3);

    // Running again to a larger count only adds the missing ones.
    let more = demo::generate(&app.services, 300, 100, |_, _| {})
        .await
        .unwrap();
    assert_eq!(more, 50);

    let page = app
        .anonymous()
        .gql("{ programs(first: 5, orderBy: HIGHEST_RATE) { totalCount edges { node { slug bestPercentageRate tiers { name } commissionRules { summary } } } } }", json!({}))
        .await;
    let total = page.data("programs")["totalCount"].as_u64().unwrap();
    assert!(total > 200 && total < 300, "drafts are not listed: {total}");
    assert_eq!(
        page.data("programs")["edges"][0]["node"]["bestPercentageRate"],
        "60"
    );
}

#[tokio::test]
async fn a_large_generator_batch_stays_within_the_databases_parameter_limits() {
    let app = TestApp::spawn().await;
    // 1,200 programs in one transaction: one multi-row INSERT would bind ~40,000 parameters.
    let created = demo::generate(&app.services, 1_200, 1_200, |_, _| {})
        .await
        .unwrap();
    assert_eq!(created, 1_200);
    assert_eq!(app.count("program").await, 1_200);
    assert!(
        app.search_backlog().await >= 1_200,
        "every imported program is announced to search"
    );
}
