//! Browsing listings: who sees what, filters, orders, keyset pagination, and the number
//! of SQL statements a nested page costs.

use serde_json::{Value, json};
use tests::{Client, TestApp};

const PROGRAMS: &str = "query($filter: ProgramFilter, $orderBy: ProgramOrder, $first: Int, $after: String, $last: Int, $before: String) {
    programs(filter: $filter, orderBy: $orderBy, first: $first, after: $after, last: $last, before: $before) {
        totalCount
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
        edges { cursor node { slug } } } }";

fn slugs(response: &tests::Gql) -> Vec<String> {
    response.data("programs")["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["slug"].as_str().unwrap().to_owned())
        .collect()
}

async fn programs(client: &Client, vars: Value) -> tests::Gql {
    client.gql(PROGRAMS, vars).await
}

#[tokio::test]
async fn the_public_sees_published_public_programs_and_teams_see_their_own() {
    let app = TestApp::spawn().await;
    let world = app.world("v").await;
    let (invite_id, v) = app
        .program(
            &world.owner,
            &world.vendor_id,
            "secret",
            json!({ "visibility": "INVITE_ONLY" }),
        )
        .await;
    app.publish(&world.owner, &invite_id, v).await;

    let public = programs(&app.anonymous(), json!({})).await;
    assert_eq!(slugs(&public), ["live-v"]);
    assert_eq!(public.data("programs")["totalCount"], 1);

    // Invite-only: reachable by slug, never listed.
    let by_slug = app
        .anonymous()
        .gql(
            "{ program(slug: \"secret\") { slug visibility } }",
            json!({}),
        )
        .await;
    assert_eq!(
        by_slug.data("program"),
        &json!({ "slug": "secret", "visibility": "INVITE_ONLY" })
    );
    // Drafts: invisible to outsiders whatever they ask for.
    for client in [
        app.anonymous(),
        world.partner.clone(),
        world.outsider.clone(),
    ] {
        let draft = client
            .gql("{ program(slug: \"draft-v\") { slug } }", json!({}))
            .await;
        assert!(draft.data("program").is_null());
        let asked = programs(&client, json!({ "filter": { "statuses": ["DRAFT"] } })).await;
        assert_eq!(slugs(&asked), Vec::<String>::new());
        let node = client
            .gql(
                "query($id: ID!) { node(id: $id) { id } }",
                json!({ "id": world.draft_program.0 }),
            )
            .await;
        assert!(node.data("node").is_null());
    }
    // The team sees every program of its vendor, members included.
    let team = world
        .member
        .gql(
            "{ vendor(slug: \"vendor-v\") { programs { edges { node { slug status } } } } }",
            json!({}),
        )
        .await;
    let mut seen: Vec<String> = team.data("vendor")["programs"]["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["slug"].as_str().unwrap().to_owned())
        .collect();
    seen.sort();
    assert_eq!(seen, ["draft-v", "live-v", "secret"]);
    let outsider_view = world
        .outsider
        .gql(
            "{ vendor(slug: \"vendor-v\") { programs { edges { node { slug } } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        outsider_view.data("vendor")["programs"]["edges"],
        json!([{ "node": { "slug": "live-v" } }])
    );
}

/// Eight published programs of three vendors with distinct terms, for filters and orders.
async fn catalogue(app: &TestApp) -> Value {
    let owner = app.user("owner@example.com").await;
    let acme = app.vendor(&owner, "acme").await;
    let beta = app.vendor(&owner, "beta").await;
    let specs = [
        (
            "alpha",
            &acme,
            json!({ "category": "crm", "currency": "USD", "partnerTypes": ["AFFILIATE"], "countries": [],
            "tiers": [], "commissionRules": [{ "event": "SALE", "model": "PERCENTAGE", "rate": "30", "duration": "LIFETIME" }] }),
        ),
        (
            "bravo",
            &acme,
            json!({ "category": "analytics", "currency": "EUR", "partnerTypes": ["RESELLER"], "countries": ["DE"],
            "tiers": [], "commissionRules": [{ "event": "LEAD", "model": "FLAT", "amount": "100", "duration": "ONE_TIME" }] }),
        ),
        (
            "charlie",
            &acme,
            json!({ "category": "crm", "currency": "USD", "partnerTypes": [], "countries": ["US"],
            "tiers": [], "commissionRules": [{ "event": "SALE", "model": "PERCENTAGE", "rate": "10", "duration": "ONE_TIME" }] }),
        ),
        (
            "delta",
            &beta,
            json!({ "category": "security", "currency": "JPY", "partnerTypes": ["AGENCY"], "countries": ["JP"],
            "tiers": [], "commissionRules": [{ "event": "SIGNUP", "model": "FLAT", "amount": "20000", "duration": "ONE_TIME" }] }),
        ),
        (
            "echo",
            &beta,
            json!({ "category": "crm", "currency": "USD", "partnerTypes": ["AFFILIATE", "AGENCY"], "countries": ["US", "DE"],
            "tiers": [], "commissionRules": [
                { "event": "SALE", "model": "PERCENTAGE", "rate": "25", "duration": "RECURRING", "recurringMonths": 12 },
                { "event": "LEAD", "model": "FLAT", "amount": "120", "duration": "ONE_TIME" }] }),
        ),
        (
            "foxtrot",
            &beta,
            json!({ "category": "analytics", "currency": "GBP", "partnerTypes": ["INFLUENCER"], "countries": ["GB"],
            "tiers": [], "commissionRules": [{ "event": "SALE", "model": "PERCENTAGE", "rate": "15.5", "duration": "ONE_TIME" }] }),
        ),
        (
            "golf",
            &acme,
            json!({ "category": "design", "currency": "USD", "partnerTypes": ["TECHNOLOGY"], "countries": [],
            "tiers": [], "commissionRules": [{ "event": "SALE", "model": "FLAT", "amount": "75", "duration": "ONE_TIME" }] }),
        ),
        (
            "hotel",
            &beta,
            json!({ "category": "crm", "currency": "EUR", "partnerTypes": ["REFERRAL"], "countries": ["FR"],
            "tiers": [], "commissionRules": [{ "event": "SALE", "model": "PERCENTAGE", "rate": "20", "duration": "ONE_TIME" }] }),
        ),
    ];
    for (slug, vendor, changes) in specs {
        let (id, version) = app.program(&owner, vendor, slug, changes).await;
        app.publish(&owner, &id, version).await;
    }
    acme
}

#[tokio::test]
async fn filters_narrow_the_listing_and_combine() {
    let app = TestApp::spawn().await;
    let acme = catalogue(&app).await;
    let client = app.anonymous();
    let cases = [
        (
            json!({ "categories": ["crm"] }),
            vec!["alpha", "charlie", "echo", "hotel"],
        ),
        (
            json!({ "categories": ["crm", "security"] }),
            vec!["alpha", "charlie", "delta", "echo", "hotel"],
        ),
        // Programs open to every partner type match any type.
        (
            json!({ "partnerTypes": ["AGENCY"] }),
            vec!["charlie", "delta", "echo"],
        ),
        (
            json!({ "commissionModels": ["FLAT"] }),
            vec!["bravo", "delta", "echo", "golf"],
        ),
        (
            json!({ "commissionModels": ["PERCENTAGE", "FLAT"] }),
            vec![
                "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel",
            ],
        ),
        (
            json!({ "vendorId": acme }),
            vec!["alpha", "bravo", "charlie", "golf"],
        ),
        // Worldwide programs serve every country.
        (
            json!({ "countries": ["DE"] }),
            vec!["alpha", "bravo", "echo", "golf"],
        ),
        (
            json!({ "currencies": ["EUR", "GBP"] }),
            vec!["bravo", "foxtrot", "hotel"],
        ),
        (
            json!({ "categories": ["crm"], "currencies": ["USD"], "commissionModels": ["PERCENTAGE"], "countries": ["US"] }),
            vec!["alpha", "charlie", "echo"],
        ),
        (json!({ "categories": ["no-such-category"] }), vec![]),
    ];
    for (filter, expected) in cases {
        let response = programs(&client, json!({ "filter": filter, "orderBy": "NAME" })).await;
        assert_eq!(slugs(&response), expected, "{filter}");
        assert_eq!(
            response.data("programs")["totalCount"],
            expected.len(),
            "{filter}"
        );
    }
}

#[tokio::test]
async fn each_order_sorts_the_whole_listing() {
    let app = TestApp::spawn().await;
    catalogue(&app).await;
    let client = app.anonymous();
    let by = |order: &'static str| {
        let client = client.clone();
        async move { slugs(&programs(&client, json!({ "orderBy": order })).await) }
    };
    assert_eq!(
        by("NAME").await,
        [
            "alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"
        ]
    );
    assert_eq!(
        by("NEWEST").await,
        [
            "hotel", "golf", "foxtrot", "echo", "delta", "charlie", "bravo", "alpha"
        ]
    );
    // 30 %, 25 %, 20 %, 15.5 %, 10 %, then programs without a percentage rule (newest first).
    assert_eq!(
        by("HIGHEST_RATE").await,
        [
            "alpha", "echo", "hotel", "foxtrot", "charlie", "golf", "delta", "bravo"
        ]
    );
    // EUR 100 ≈ $108 and JPY 20,000 ≈ $134 compare across currencies: 134 > 120 > 108 > 75.
    assert_eq!(
        by("HIGHEST_FLAT_AMOUNT").await[..4],
        ["delta", "echo", "bravo", "golf"]
    );
}

#[tokio::test]
async fn pages_chain_forwards_and_backwards_without_gaps_or_repeats() {
    let app = TestApp::spawn().await;
    catalogue(&app).await;
    let client = app.anonymous();
    for order in ["NEWEST", "NAME", "HIGHEST_RATE", "HIGHEST_FLAT_AMOUNT"] {
        let all = slugs(&programs(&client, json!({ "orderBy": order, "first": 100 })).await);
        assert_eq!(all.len(), 8);

        let mut forward = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = programs(
                &client,
                json!({ "orderBy": order, "first": 3, "after": after }),
            )
            .await;
            forward.extend(slugs(&page));
            let info = &page.data("programs")["pageInfo"];
            assert_eq!(info["hasPreviousPage"], after.is_some());
            if info["hasNextPage"] == false {
                break;
            }
            after = info["endCursor"].as_str().map(str::to_owned);
        }
        assert_eq!(forward, all, "{order} forwards");

        let mut backward = Vec::new();
        let mut before: Option<String> = None;
        loop {
            let page = programs(
                &client,
                json!({ "orderBy": order, "last": 3, "before": before }),
            )
            .await;
            let mut chunk = slugs(&page);
            chunk.extend(backward);
            backward = chunk;
            let info = &page.data("programs")["pageInfo"];
            if info["hasPreviousPage"] == false {
                break;
            }
            before = info["startCursor"].as_str().map(str::to_owned);
        }
        assert_eq!(backward, all, "{order} backwards");
    }
}

#[tokio::test]
async fn out_of_range_page_sizes_and_malformed_cursors_are_bad_user_input() {
    let app = TestApp::spawn().await;
    catalogue(&app).await;
    let client = app.anonymous();
    let first_page = programs(&client, json!({ "orderBy": "NAME", "first": 2 })).await;
    let name_cursor = first_page.data("programs")["pageInfo"]["endCursor"].clone();
    for vars in [
        json!({ "first": 1000 }),
        json!({ "first": 0 }),
        json!({ "first": -1 }),
        json!({ "last": 101 }),
        json!({ "first": 2, "last": 2 }),
        json!({ "after": "not-a-cursor" }),
        json!({ "after": "eyJmb28iOjF9" }),
        json!({ "orderBy": "NEWEST", "after": name_cursor }),
        json!({ "first": 2, "before": name_cursor }),
    ] {
        let response = programs(&client, vars.clone()).await;
        assert_eq!(response.error_code(), "BAD_USER_INPUT", "{vars}");
    }
}

#[tokio::test]
async fn a_large_first_is_weighed_by_the_cost_limit_before_anything_runs() {
    let app = TestApp::spawn_with(&["--max-complexity", "500"]).await;
    let nested = "{ programs(first: 100) { edges { node { name vendor { name } tiers { name } commissionRules { summary } } } } }";
    let response = app.anonymous().gql(nested, json!({})).await;
    assert_eq!(response.error_code(), "QUERY_TOO_COMPLEX");
    let small = app
        .anonymous()
        .gql(&nested.replace("first: 100", "first: 5"), json!({}))
        .await;
    assert!(small.body.get("errors").is_none(), "{}", small.body);
}

/// `count` published programs `p-0`… of one vendor; its owner and the first program's id.
async fn published_programs(app: &TestApp, count: usize) -> (Client, Value) {
    let (owner, vendor, first_id) = app
        .published_program("owner@example.com", "p-0", json!({}))
        .await;
    for i in 1..count {
        let (id, version) = app
            .program(&owner, &vendor, &format!("p-{i}"), json!({}))
            .await;
        app.publish(&owner, &id, version).await;
    }
    (owner, first_id)
}

const NESTED_PAGE: &str = "query($first: Int!) { programs(first: $first) { edges { node {
    name vendor { name } category { name }
    tiers { name isDefault }
    commissionRules { summary amount { amount } tier { name } } } } } }";

#[tokio::test]
async fn a_nested_page_costs_three_sql_statements_whatever_its_size() {
    // Counts the resolvers' statements: the rate limits' own (one per lease) stay out.
    let app = TestApp::spawn_with(&["--rate-limits", "false"]).await;
    published_programs(&app, 30).await;
    let client = app.anonymous();
    let mut counts = Vec::new();
    for first in [5, 20, 30] {
        let before = app.services.statements.get();
        let response = client.gql(NESTED_PAGE, json!({ "first": first })).await;
        let edges = response.data("programs")["edges"].as_array().unwrap();
        assert_eq!(edges.len(), first);
        assert_eq!(
            edges[0]["node"]["commissionRules"][1]["tier"]["name"],
            "Gold"
        );
        counts.push(app.services.statements.get() - before);
    }
    // The page (programs joined with vendor and category), the tiers, the rules.
    assert_eq!(counts, [3, 3, 3]);
}

/// Every per-program field a logged-in listing page shows, including the viewer's own.
const VIEWER_PAGE: &str = "query($first: Int!) { programs(first: $first) { edges { node {
    name vendor { name viewerRole } commissionRules { summary } tiers { name }
    earnings { sampleSize } viewerApplication { status } viewerEnrollment { status } } } } }";

#[tokio::test]
async fn a_page_longer_than_thirty_costs_the_same_statements_anonymous_or_logged_in() {
    // async-graphql resolves lists of more than 30 items through FuturesUnordered, which
    // returned to the executor after two items: a timer-based batch fired per pair of
    // keys (a 100-program page cost 50 statements per relation, 1,900 logged in).
    let app = TestApp::spawn_with(&["--rate-limits", "false"]).await;
    let (owner, first_id) = published_programs(&app, 40).await;
    let partner = app.user("partner@example.com").await;
    app.partner_profile(&partner, "partner-one", json!({}))
        .await;
    let applied = partner
        .gql(
            "mutation($p: ID!) { applyToProgram(input: { programId: $p, joinSource: MARKETPLACE_SEARCH }) { application { id } userErrors { code } } }",
            json!({ "p": first_id }),
        )
        .await;
    assert!(
        applied.data("applyToProgram")["application"]["id"].is_string(),
        "{}",
        applied.body
    );
    let mut counts = Vec::new();
    for (who, client) in [
        ("anonymous", app.anonymous()),
        ("partner", partner),
        ("owner", owner),
    ] {
        for first in [5, 40] {
            let before = app.services.statements.get();
            let response = client.gql(VIEWER_PAGE, json!({ "first": first })).await;
            assert!(
                response.body.get("errors").is_none(),
                "{who}: {}",
                response.body
            );
            let edges = response.data("programs")["edges"].as_array().unwrap();
            assert_eq!(edges.len(), first);
            counts.push((who, first, app.services.statements.get() - before));
        }
    }
    for pair in counts.chunks(2) {
        assert_eq!(pair[0].2, pair[1].2, "{counts:?}");
    }
    // The page (with vendor, category and statistics), rules, tiers; logged in also the
    // viewer's memberships (vendor role and the earnings' team check) and the viewer's
    // applications with the partnerships they led to.
    let per_viewer: Vec<(&str, u64)> = counts.iter().map(|(who, _, n)| (*who, *n)).collect();
    assert_eq!(
        per_viewer,
        [
            ("anonymous", 3),
            ("anonymous", 3),
            ("partner", 5),
            ("partner", 5),
            ("owner", 5),
            ("owner", 5)
        ]
    );
}

/// The benchmark's W7: a 100-program page with vendors, earnings and the viewer's own
/// application and partnership.
const W7: &str = "{ programs(first: 100) { edges { node {
    slug name vendor { name viewerRole } earnings { sampleSize }
    viewerApplication { status } viewerEnrollment { status } } } } }";

#[tokio::test]
async fn the_benchmarks_nested_page_costs_at_most_three_statements_logged_in_or_not() {
    let app = TestApp::spawn_with(&["--rate-limits", "false"]).await;
    let (owner, _) = published_programs(&app, 30).await;
    let partner = app.user("partner@example.com").await;
    app.partner_profile(&partner, "partner-w7", json!({})).await;
    let mut counts = Vec::new();
    for (who, client) in [
        ("anonymous", app.anonymous()),
        ("partner", partner),
        ("owner", owner),
    ] {
        let before = app.services.statements.get();
        let response = client
            .post()
            .header("cache-control", "no-cache")
            .json(&json!({ "query": W7 }))
            .send()
            .await
            .unwrap();
        let response = tests::Gql::read(response).await;
        assert_eq!(
            response.data("programs")["edges"].as_array().unwrap().len(),
            30
        );
        counts.push((who, app.services.statements.get() - before));
    }
    // The page with its statistics; logged in also the memberships and the viewer's
    // applications with their partnerships.
    assert_eq!(counts, [("anonymous", 1), ("partner", 3), ("owner", 3)]);
}
