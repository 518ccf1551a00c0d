//! Measured earnings and approval rates in search: documents follow the ledger through the
//! event log, figures in other currencies compare in US dollars at the operators' rates, and
//! only platform admins change those rates.

use chrono::Utc;
use serde_json::{Value, json};
use tests::{Client, TestApp};

const RECORD: &str = "mutation($input: RecordConversionInput!) { recordConversion(input: $input) {
    userErrors { code message } } }";
const SEARCH: &str = "query($filter: SearchFilter, $sort: SearchSort) {
    searchPrograms(filter: $filter, sort: $sort, first: 20) { totalCount edges { node { slug } } } }";
const FIGURES: &str = "query($slug: String!) { program(slug: $slug) {
    earnings { averageMonthlyPerPartner { amount currency } averageMonthlyPerPartnerUsd { amount currency } sampleSize } } }";
const SET_RATE: &str = "mutation($input: SetExchangeRateInput!) { setExchangeRate(input: $input) {
    exchangeRate { currency usdPerUnit updatedAt } programsAffected userErrors { field code message } } }";
const RATES: &str = "{ exchangeRates { currency usdPerUnit } }";

async fn slugs(client: &Client, filter: Value, sort: &str) -> Vec<String> {
    let response = client
        .gql(SEARCH, json!({ "filter": filter, "sort": sort }))
        .await;
    response.data("searchPrograms")["edges"]
        .as_array()
        .unwrap_or_else(|| panic!("{:#}", response.body))
        .iter()
        .map(|e| e["node"]["slug"].as_str().unwrap().to_owned())
        .collect()
}

async fn eur_rate(client: &Client) -> Value {
    let rates = client.gql(RATES, json!({})).await;
    rates
        .data("exchangeRates")
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["currency"] == "EUR")
        .map(|r| r["usdPerUnit"].clone())
        .unwrap()
}

#[tokio::test]
async fn listings_are_found_by_measured_earnings_in_dollars_and_rates_move_them() {
    let app = TestApp::spawn().await;
    let market = app.market_with("eur", json!({ "currency": "EUR" })).await;
    // A second, USD program with nothing measured: it sorts after every measured figure.
    let (usd, v) = app
        .program(&market.owner, &market.vendor_id, "quiet-usd", json!({}))
        .await;
    app.publish(&market.owner, &usd, v).await;
    let key = app.api_key(&market, &["CONVERSIONS_WRITE"]).await;
    let vendor = app.with_token(&key);
    let mut codes = vec![
        app.enroll(&market.partner, &market).await,
        app.enroll(&market.other_partner, &market).await,
    ];
    for i in 0..3 {
        let partner = app.user(&format!("earner-{i}@example.com")).await;
        app.partner_profile(&partner, &format!("earner-{i}"), json!({}))
            .await;
        codes.push(app.enroll(&partner, &market).await);
    }
    let at = Utc::now().to_rfc3339();
    // 20 % of a 300.00 EUR sale: 60.00 over the 90-day window, 20.00 a month.
    let sale = |code: &str, key: String| {
        json!({ "input": { "referralCode": code, "event": "SALE", "customerRef": key.clone(),
        "amount": "300.00", "currency": "EUR", "occurredAt": at, "idempotencyKey": key } })
    };
    for (i, code) in codes.iter().take(4).enumerate() {
        let recorded = vendor.gql(RECORD, sale(code, format!("s{i}"))).await;
        assert_eq!(recorded.data("recordConversion")["userErrors"], json!([]));
    }
    app.drain_search().await;
    let anyone = app.anonymous();
    let measured = json!({ "minAverageMonthlyEarningsUsd": "0" });
    // Four earners: withheld, so no minimum passes and the sort puts it with the rest.
    assert_eq!(
        slugs(&anyone, measured.clone(), "RELEVANCE").await,
        Vec::<String>::new()
    );
    let figures = anyone.gql(FIGURES, json!({ "slug": "program-eur" })).await;
    assert_eq!(
        figures.data("program")["earnings"]["averageMonthlyPerPartnerUsd"],
        Value::Null
    );

    // The fifth earner publishes the figure; the document follows through the event log.
    let recorded = vendor.gql(RECORD, sale(&codes[4], "s4".into())).await;
    assert_eq!(recorded.data("recordConversion")["userErrors"], json!([]));
    assert!(
        app.drain_search().await >= 1,
        "the figures queued the document"
    );
    let figures = anyone.gql(FIGURES, json!({ "slug": "program-eur" })).await;
    let earnings = &figures.data("program")["earnings"];
    assert_eq!(
        earnings["averageMonthlyPerPartner"],
        json!({ "amount": "20.00", "currency": "EUR" })
    );
    // At the seeded 1.08 dollars per euro.
    assert_eq!(
        earnings["averageMonthlyPerPartnerUsd"],
        json!({ "amount": "21.60", "currency": "USD" })
    );
    assert_eq!(
        slugs(&anyone, measured.clone(), "RELEVANCE").await,
        ["program-eur"]
    );
    let at_least = |usd: &str| json!({ "minAverageMonthlyEarningsUsd": usd });
    assert_eq!(
        slugs(&anyone, at_least("21.60"), "RELEVANCE").await,
        ["program-eur"]
    );
    assert!(
        slugs(&anyone, at_least("21.61"), "RELEVANCE")
            .await
            .is_empty()
    );
    assert_eq!(
        slugs(&anyone, json!({}), "HIGHEST_EARNINGS").await,
        ["program-eur", "quiet-usd"]
    );
    // Five decisions, all approvals.
    assert_eq!(
        slugs(&anyone, json!({ "minApprovalRate": "100" }), "NEWEST").await,
        ["program-eur"]
    );

    // Only platform admins set rates; every other caller is refused and nothing moves.
    let input = json!({ "input": { "currency": "EUR", "usdPerUnit": "1.2" } });
    for (who, client, code) in [
        ("anonymous", &anyone, "UNAUTHENTICATED"),
        ("partner", &market.partner, "FORBIDDEN"),
        ("vendor owner", &market.owner, "FORBIDDEN"),
        ("vendor admin", &market.admin, "FORBIDDEN"),
        ("another vendor", &market.outsider, "FORBIDDEN"),
        ("api key", &vendor, "FORBIDDEN"),
    ] {
        assert_eq!(
            client.gql(SET_RATE, input.clone()).await.error_code(),
            code,
            "{who}"
        );
    }
    // Bad rates are user errors and change nothing.
    for (currency, rate, field) in [
        ("USD", "1.1", "currency"),
        ("XYZ", "1.1", "currency"),
        ("EUR", "0", "usdPerUnit"),
        ("EUR", "-1.2", "usdPerUnit"),
        ("EUR", "1.0000001", "usdPerUnit"),
        ("EUR", "100000.5", "usdPerUnit"),
    ] {
        let refused = market
            .platform_admin
            .gql(
                SET_RATE,
                json!({ "input": { "currency": currency, "usdPerUnit": rate } }),
            )
            .await;
        let payload = refused.data("setExchangeRate");
        assert_eq!(payload["exchangeRate"], Value::Null, "{currency} {rate}");
        assert_eq!(
            payload["userErrors"][0]["field"], field,
            "{currency} {rate}"
        );
    }
    assert_eq!(eur_rate(&anyone).await, "1.08");
    assert_eq!(app.drain_search().await, 0, "refusals queued nothing");

    // A platform admin's change re-compares the program at once and in search.
    let set = market
        .platform_admin
        .gql(
            SET_RATE,
            json!({ "input": { "currency": "eur", "usdPerUnit": "1.2" } }),
        )
        .await;
    let payload = set.data("setExchangeRate");
    assert_eq!(payload["userErrors"], json!([]));
    assert_eq!(payload["exchangeRate"]["usdPerUnit"], "1.2");
    assert_eq!(payload["programsAffected"], 1);
    assert_eq!(eur_rate(&anyone).await, "1.2");
    let figures = anyone.gql(FIGURES, json!({ "slug": "program-eur" })).await;
    assert_eq!(
        figures.data("program")["earnings"]["averageMonthlyPerPartnerUsd"]["amount"],
        "24.00"
    );
    assert!(
        slugs(&anyone, at_least("21.61"), "RELEVANCE")
            .await
            .is_empty()
    );
    assert_eq!(app.drain_search().await, 1);
    assert_eq!(
        slugs(&anyone, at_least("24"), "RELEVANCE").await,
        ["program-eur"]
    );
    assert!(
        slugs(&anyone, at_least("24.01"), "RELEVANCE")
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn bad_earnings_and_approval_filters_are_refused() {
    let app = TestApp::spawn().await;
    let anyone = app.anonymous();
    for filter in [
        json!({ "minAverageMonthlyEarningsUsd": "-1" }),
        json!({ "minAverageMonthlyEarningsUsd": "1.001" }),
        json!({ "minApprovalRate": "101" }),
        json!({ "minApprovalRate": "-5" }),
        json!({ "minApprovalRate": "50.001" }),
    ] {
        let response = anyone
            .gql(SEARCH, json!({ "filter": filter, "sort": "RELEVANCE" }))
            .await;
        assert_eq!(response.error_code(), "BAD_USER_INPUT", "{filter}");
    }
}

#[tokio::test]
async fn figures_age_out_of_their_window_without_any_change() {
    let app = TestApp::spawn().await;
    let market = app.market("ageing").await;
    let code = app.enroll(&market.partner, &market).await;
    let vendor = app.with_token(&app.api_key(&market, &["CONVERSIONS_WRITE"]).await);
    let recorded = vendor
        .gql(
            RECORD,
            json!({ "input": { "referralCode": code, "event": "SALE", "customerRef": "c1",
            "amount": "100.00", "currency": "USD", "occurredAt": Utc::now().to_rfc3339(),
            "idempotencyKey": "k1" } }),
        )
        .await;
    assert_eq!(recorded.data("recordConversion")["userErrors"], json!([]));
    let sample = || async {
        market
            .owner
            .gql(FIGURES, json!({ "slug": "program-ageing" }))
            .await
            .data("program")["earnings"]["sampleSize"]
            .as_i64()
            .unwrap()
    };
    assert_eq!(sample().await, 1);
    let refresh = |days: i64| {
        api::service::stats::refresh_stale(
            &app.services,
            Utc::now() + chrono::Duration::days(days),
            50,
        )
    };
    // A day later the figures are stale and recomputed (the sale is still in the window);
    // recomputed, they are fresh again.
    assert_eq!(refresh(2).await.unwrap(), 1);
    assert_eq!(refresh(2).await.unwrap(), 0);
    assert_eq!(sample().await, 1);
    // 91 days on, the sale has left the 90-day window.
    assert_eq!(refresh(91).await.unwrap(), 1);
    assert_eq!(sample().await, 0);
}
