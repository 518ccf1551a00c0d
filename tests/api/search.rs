//! `searchPrograms` end to end: the event log's indexer, the engine, hydration, failure
//! behaviour.

use serde_json::{Value, json};
use tests::TestApp;

const SEARCH: &str = "query($query: String, $filter: SearchFilter, $sort: SearchSort, $first: Int, $after: String) {
    searchPrograms(query: $query, filter: $filter, sort: $sort, first: $first, after: $after) {
        totalCount processingTimeMs
        pageInfo { hasNextPage hasPreviousPage endCursor }
        facets { categories { value count } partnerTypes { value count } commissionModels { value count } currencies { value count } }
        edges { cursor node { slug name } highlights { name tagline description } } } }";

fn slugs(response: &tests::Gql) -> Vec<String> {
    response.data("searchPrograms")["edges"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["node"]["slug"].as_str().unwrap().to_owned())
        .collect()
}

async fn search(app: &TestApp, vars: Value) -> tests::Gql {
    app.anonymous().gql(SEARCH, vars).await
}

#[tokio::test]
async fn a_published_program_is_found_once_the_indexer_has_caught_up() {
    let app = TestApp::spawn().await;
    app.published_program(
        "owner@example.com",
        "analytics-pros",
        json!({ "name": "Analytics Pros Partner Program" }),
    )
    .await;
    assert_eq!(
        slugs(&search(&app, json!({ "query": "analytics" })).await),
        Vec::<String>::new(),
        "not before the drain"
    );
    assert!(app.drain_search().await > 0);
    let found = search(&app, json!({ "query": "analitycs" })).await;
    assert_eq!(slugs(&found), ["analytics-pros"]);
    assert_eq!(
        found.data("searchPrograms")["edges"][0]["highlights"]["name"],
        "<mark>Analytics</mark> Pros Partner Program"
    );
}

#[tokio::test]
async fn drafts_invite_only_and_unpublished_programs_never_appear_even_while_the_index_lags() {
    let app = TestApp::spawn().await;
    let (owner, vendor, live) = app
        .published_program(
            "owner@example.com",
            "visible-one",
            json!({ "name": "Zephyr Visible" }),
        )
        .await;
    app.program(
        &owner,
        &vendor,
        "zephyr-draft",
        json!({ "name": "Zephyr Draft" }),
    )
    .await;
    let (secret, v) = app
        .program(
            &owner,
            &vendor,
            "zephyr-secret",
            json!({ "name": "Zephyr Secret", "visibility": "INVITE_ONLY" }),
        )
        .await;
    app.publish(&owner, &secret, v).await;
    app.drain_search().await;
    assert_eq!(
        slugs(&search(&app, json!({ "query": "zephyr" })).await),
        ["visible-one"]
    );

    // Paused a moment ago, not yet drained: the index still has it, hydration hides it.
    let current = owner
        .gql(
            "query($id: ID!) { node(id: $id) { ... on Program { version } } }",
            json!({ "id": live }),
        )
        .await;
    let version = current.data("node")["version"].clone();
    let paused = owner
        .gql("mutation($input: ProgramVersionInput!) { pauseProgram(input: $input) { program { status } } }", json!({ "input": { "id": live, "expectedVersion": version } }))
        .await;
    assert_eq!(paused.data("pauseProgram")["program"]["status"], "PAUSED");
    assert!(
        app.search_backlog().await > 0,
        "the change waits for the indexer"
    );
    assert_eq!(
        slugs(&search(&app, json!({ "query": "zephyr" })).await),
        Vec::<String>::new()
    );
    app.drain_search().await;
    let after = search(&app, json!({ "query": "zephyr" })).await;
    assert_eq!(
        after.data("searchPrograms")["totalCount"],
        0,
        "and once drained the index agrees"
    );
}

#[tokio::test]
async fn renaming_a_vendor_and_changing_terms_reach_the_index_through_the_event_log() {
    let app = TestApp::spawn().await;
    let (owner, vendor, program) = app
        .published_program(
            "owner@example.com",
            "quill",
            json!({ "name": "Quill Partners" }),
        )
        .await;
    app.drain_search().await;
    let renamed = owner
        .gql("mutation($input: UpdateVendorInput!) { updateVendor(input: $input) { vendor { name } } }", json!({ "input": { "id": vendor, "expectedVersion": 1, "name": "Inkwell Labs" } }))
        .await;
    assert_eq!(
        renamed.data("updateVendor")["vendor"]["name"],
        "Inkwell Labs"
    );
    app.drain_search().await;
    assert_eq!(
        slugs(&search(&app, json!({ "query": "inkwell" })).await),
        ["quill"]
    );

    let flat_only = json!({ "commissionModels": ["FLAT"] });
    assert_eq!(
        slugs(&search(&app, json!({ "filter": flat_only })).await),
        ["quill"],
        "the fixture has a flat rule"
    );
    let current = owner
        .gql(
            "query($id: ID!) { node(id: $id) { ... on Program { version } } }",
            json!({ "id": program }),
        )
        .await;
    let changed = owner
        .gql(
            "mutation($input: SetProgramTermsInput!) { setProgramTerms(input: $input) { program { termsVersion } } }",
            json!({ "input": { "id": program, "expectedVersion": current.data("node")["version"], "tiers": [],
                "commissionRules": [{ "event": "SALE", "model": "PERCENTAGE", "rate": "45", "duration": "LIFETIME" }] } }),
        )
        .await;
    assert_eq!(
        changed.data("setProgramTerms")["program"]["termsVersion"],
        2
    );
    app.drain_search().await;
    assert_eq!(
        slugs(&search(&app, json!({ "filter": flat_only })).await),
        Vec::<String>::new()
    );
    assert_eq!(
        slugs(
            &search(
                &app,
                json!({ "filter": { "minPercentageRate": "45", "recurringOnly": true } })
            )
            .await
        ),
        ["quill"]
    );
}

#[tokio::test]
async fn results_carry_facets_totals_and_cursors_that_chain() {
    let app = TestApp::spawn().await;
    let owner = app.user("owner@example.com").await;
    let vendor = app.vendor(&owner, "faceted").await;
    for (i, (category, currency)) in [
        ("crm", "USD"),
        ("crm", "EUR"),
        ("analytics", "USD"),
        ("crm", "USD"),
        ("security", "GBP"),
    ]
    .iter()
    .enumerate()
    {
        let (id, v) = app.program(&owner, &vendor, &format!("facet-{i}"), json!({ "name": format!("Facet Program {i}"), "category": category, "currency": currency })).await;
        app.publish(&owner, &id, v).await;
    }
    app.drain_search().await;
    let page = search(
        &app,
        json!({ "query": "facet", "filter": { "categories": ["crm"] }, "first": 2 }),
    )
    .await;
    let result = page.data("searchPrograms");
    assert_eq!(result["totalCount"], 3);
    assert_eq!(
        result["facets"]["categories"],
        json!([{ "value": "crm", "count": 3 }, { "value": "analytics", "count": 1 }, { "value": "security", "count": 1 }]),
        "each facet is counted without its own filter"
    );
    assert_eq!(
        result["facets"]["currencies"],
        json!([{ "value": "USD", "count": 2 }, { "value": "EUR", "count": 1 }])
    );
    assert_eq!(result["pageInfo"]["hasNextPage"], true);
    let next = search(&app, json!({ "query": "facet", "filter": { "categories": ["crm"] }, "first": 2, "after": result["pageInfo"]["endCursor"] })).await;
    let mut all = slugs(&page);
    all.extend(slugs(&next));
    all.sort();
    assert_eq!(all, ["facet-0", "facet-1", "facet-3"]);
    assert_eq!(
        next.data("searchPrograms")["pageInfo"],
        json!({ "hasNextPage": false, "hasPreviousPage": true, "endCursor": next.data("searchPrograms")["edges"][0]["cursor"] })
    );
}

#[tokio::test]
async fn bad_search_input_is_refused_and_changes_nothing() {
    let app = TestApp::spawn().await;
    app.published_program("owner@example.com", "steady", json!({}))
        .await;
    app.drain_search().await;
    let before = app.listing_snapshot().await;
    let long = "x".repeat(513);
    for (vars, code) in [
        (json!({ "query": long }), "BAD_USER_INPUT"),
        (json!({ "first": 101 }), "BAD_USER_INPUT"),
        (json!({ "first": 0 }), "BAD_USER_INPUT"),
        (json!({ "after": "not-a-cursor" }), "BAD_USER_INPUT"),
        (
            json!({ "filter": { "minPercentageRate": "100.5" } }),
            "BAD_USER_INPUT",
        ),
        (json!({ "sort": "CHEAPEST" }), "GRAPHQL_VALIDATION_FAILED"),
        (
            json!({ "filter": { "partnerTypes": ["ROBOT"] } }),
            "GRAPHQL_VALIDATION_FAILED",
        ),
    ] {
        let response = search(&app, vars.clone()).await;
        assert_eq!(response.error_code(), code, "{vars}");
    }
    let exactly_512 = "y".repeat(512);
    assert!(
        search(&app, json!({ "query": exactly_512 }))
            .await
            .body
            .get("errors")
            .is_none()
    );
    assert_eq!(app.listing_snapshot().await, before);
    assert_eq!(app.search_backlog().await, 0);
}

#[tokio::test]
async fn a_nested_search_page_costs_a_constant_number_of_sql_statements() {
    // Counts the resolvers' statements: the rate limits' own (one per lease) stay out.
    let app = TestApp::spawn_with(&["--rate-limits", "false"]).await;
    let (owner, vendor, _) = app
        .published_program(
            "owner@example.com",
            "count-0",
            json!({ "name": "Counted Program 0" }),
        )
        .await;
    for i in 1..25 {
        let (id, v) = app
            .program(
                &owner,
                &vendor,
                &format!("count-{i}"),
                json!({ "name": format!("Counted Program {i}") }),
            )
            .await;
        app.publish(&owner, &id, v).await;
    }
    app.drain_search().await;
    let nested = "query($first: Int) { searchPrograms(query: \"counted\", first: $first) { edges { node { name vendor { name } tiers { name } commissionRules { summary } } } } }";
    let mut counts = Vec::new();
    for first in [5, 20] {
        let before = app.services.statements.get();
        let response = app.anonymous().gql(nested, json!({ "first": first })).await;
        assert_eq!(
            response.data("searchPrograms")["edges"]
                .as_array()
                .unwrap()
                .len(),
            first
        );
        counts.push(app.services.statements.get() - before);
    }
    // Hydration (programs with vendor and category), tiers, rules.
    assert_eq!(counts, [3, 3]);
}

#[tokio::test]
async fn with_the_engine_down_search_fails_fast_writes_succeed_and_the_index_converges_later() {
    let (app, engine) = TestApp::spawn_with_faulty_search(&["--search-timeout-ms", "300"]).await;
    let owner = app.user("owner@example.com").await;
    let vendor = app.vendor(&owner, "resilient").await;
    let (kept, v) = app
        .program(&owner, &vendor, "kept", json!({ "name": "Resilient Kept" }))
        .await;
    let kept_version = app.publish(&owner, &kept, v).await;
    let (dropped, v) = app
        .program(
            &owner,
            &vendor,
            "dropped",
            json!({ "name": "Resilient Dropped" }),
        )
        .await;
    let dropped_version = app.publish(&owner, &dropped, v).await;
    app.drain_search().await;
    assert_eq!(
        slugs(&search(&app, json!({ "query": "resilient" })).await).len(),
        2
    );

    engine.down();
    // A search not answered before (an identical one may still come from the response
    // cache, as nothing changed since).
    let refused = search(&app, json!({ "query": "resilient kept" })).await;
    assert_eq!(refused.error_code(), "SEARCH_UNAVAILABLE");
    // Everything else keeps working: changes are acknowledged and wait in the log.
    let renamed = owner
        .gql(
            "mutation($input: UpdateProgramInput!) { updateProgram(input: $input) { program { name } } }",
            json!({ "input": { "id": kept, "expectedVersion": kept_version, "name": "Resilient Renamed" } }),
        )
        .await;
    assert_eq!(
        renamed.data("updateProgram")["program"]["name"],
        "Resilient Renamed"
    );
    let archived = owner
        .gql(
            "mutation($input: ProgramVersionInput!) { archiveProgram(input: $input) { program { status } } }",
            json!({ "input": { "id": dropped, "expectedVersion": dropped_version } }),
        )
        .await;
    assert_eq!(
        archived.data("archiveProgram")["program"]["status"],
        "ARCHIVED"
    );
    let (added, v) = app
        .program(
            &owner,
            &vendor,
            "added",
            json!({ "name": "Resilient Added" }),
        )
        .await;
    app.publish(&owner, &added, v).await;
    let waiting = app.search_backlog().await;
    assert!(waiting >= 4, "{waiting}");
    assert_eq!(
        app.drain_search().await,
        0,
        "nothing applies while the engine is down"
    );
    assert_eq!(app.search_backlog().await, waiting, "and nothing is lost");

    let ready = app.http().get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(
        ready.status(),
        200,
        "a search outage does not make the API unready"
    );
    let ready: Value = ready.json().await.unwrap();
    assert_eq!(ready["search"]["status"], "unavailable");
    assert_eq!(ready["searchBacklog"]["events"], waiting);
    assert!(ready["searchBacklog"]["failedAttempts"].as_u64().unwrap() > 0);
    let metrics = app
        .http()
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains(&format!("marketplace_search_backlog_events {waiting}")),
        "{metrics}"
    );
    assert!(metrics.contains("marketplace_search_engine_up 0"));

    // A hanging engine is cut off by the deadline too.
    engine.hang();
    assert_eq!(
        search(&app, json!({ "query": "resilient" }))
            .await
            .error_code(),
        "SEARCH_UNAVAILABLE"
    );

    engine.up();
    api::service::events::consumer::retry_now(&app.services.db, api::service::indexer::NAME)
        .await
        .unwrap();
    app.drain_search().await;
    assert_eq!(app.search_backlog().await, 0);
    let converged = search(&app, json!({ "query": "resilient" })).await;
    let mut found = slugs(&converged);
    found.sort();
    assert_eq!(
        found,
        ["added", "kept"],
        "no missing, duplicate or stale documents"
    );
    assert_eq!(converged.data("searchPrograms")["totalCount"], 2);
    let renamed = search(&app, json!({ "query": "renamed" })).await;
    assert_eq!(
        renamed.data("searchPrograms")["edges"][0]["node"]["name"],
        "Resilient Renamed"
    );
}

// Multi-threaded: the progress callback blocks its thread while the publish request runs,
// and the database pool returns connections through tasks that must keep running.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reindex_swaps_in_a_complete_index_and_replays_what_changed_meanwhile() {
    let app = TestApp::spawn().await;
    let owner = app.user("owner@example.com").await;
    let vendor = app.vendor(&owner, "rebuilt").await;
    // The lowest id: the rebuild reads it (as a draft) in its first batch.
    let late = app
        .program(
            &owner,
            &vendor,
            "late-draft",
            json!({ "name": "Rebuilt Late" }),
        )
        .await;
    for i in 0..30 {
        let (id, v) = app
            .program(
                &owner,
                &vendor,
                &format!("rebuilt-{i}"),
                json!({ "name": format!("Rebuilt Program {i}") }),
            )
            .await;
        app.publish(&owner, &id, v).await;
    }
    app.drain_search().await;

    // Searches running throughout the rebuild always see a whole index.
    let searcher = {
        let client = app.anonymous();
        tokio::spawn(async move {
            let mut totals = Vec::new();
            for _ in 0..40 {
                // Past the response cache: the engine itself answers each one.
                let response = client
                    .post()
                    .header("cache-control", "no-cache")
                    .json(&json!({ "query": "{ searchPrograms(query: \"rebuilt\", first: 1) { totalCount } }" }))
                    .send()
                    .await
                    .unwrap();
                let response = tests::Gql::read(response).await;
                totals.push(
                    response.data("searchPrograms")["totalCount"]
                        .as_u64()
                        .unwrap(),
                );
                tokio::task::yield_now().await;
            }
            totals
        })
    };
    // After the first batch, the late program is published through the API (from another
    // thread: the rebuild is running on this one).
    let url = app.url("/graphql");
    let token = owner.token().unwrap().to_owned();
    let mut reports = Vec::new();
    let mut published = false;
    let indexed = api::service::search::reindex(&app.services, 10, |done, total| {
        reports.push((done, total));
        if !published && done > 0 {
            published = true;
            let (url, token, id, version) = (url.clone(), token.clone(), late.0.clone(), late.1);
            std::thread::spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                runtime.block_on(async {
                    let publish = json!({ "query": "mutation($input: ProgramVersionInput!) { publishProgram(input: $input) { program { status } } }",
                        "variables": { "input": { "id": id, "expectedVersion": version } } });
                    let response = reqwest::Client::new().post(&url).bearer_auth(&token).json(&publish).send().await.unwrap();
                    assert_eq!(response.status(), 200);
                    let body: serde_json::Value = response.json().await.unwrap();
                    assert_eq!(body["data"]["publishProgram"]["program"]["status"], "PUBLISHED", "{body}");
                });
            })
            .join()
            .unwrap();
        }
    })
    .await
    .unwrap();
    assert!(published);
    assert_eq!(
        indexed, 30,
        "the late program was a draft when its batch was read"
    );
    assert_eq!(reports.last(), Some(&(30, 30)));
    let totals = searcher.await.unwrap();
    assert!(
        totals.iter().all(|t| *t == 30),
        "a search saw a partial index: {totals:?}"
    );

    // The indexer goes back to where the log stood when the rebuild began: the
    // publication made meanwhile waits to be replayed into the new index.
    assert!(app.search_backlog().await > 0);
    app.drain_search().await;
    assert_eq!(
        search(&app, json!({ "query": "rebuilt" }))
            .await
            .data("searchPrograms")["totalCount"],
        31
    );
    assert_eq!(
        slugs(&search(&app, json!({ "query": "rebuilt late" })).await),
        ["late-draft"]
    );
}

#[tokio::test]
async fn vendor_filter_operators_and_name_sort_work_through_the_api() {
    let app = TestApp::spawn().await;
    let (_, acme, _) = app
        .published_program(
            "acme@example.com",
            "acme-crm",
            json!({ "name": "Zulu CRM for Agencies" }),
        )
        .await;
    let (_, other, _) = app
        .published_program(
            "other@example.com",
            "other-crm",
            json!({ "name": "Alpha CRM Pro" }),
        )
        .await;
    app.drain_search().await;

    let by_vendor = search(
        &app,
        json!({ "query": "crm", "filter": { "vendorIds": [acme] } }),
    )
    .await;
    assert_eq!(slugs(&by_vendor), ["acme-crm"]);
    let both = json!({ "vendorIds": [acme, other] });
    let by_name = search(&app, json!({ "filter": both, "sort": "NAME" })).await;
    assert_eq!(slugs(&by_name), ["other-crm", "acme-crm"], "A to Z");

    let excluded = search(&app, json!({ "query": "crm -zulu" })).await;
    assert_eq!(slugs(&excluded), ["other-crm"], "-word excludes");
    let phrase = search(&app, json!({ "query": "\"crm pro\"" })).await;
    assert_eq!(slugs(&phrase), ["other-crm"], "a phrase");
    let reversed = search(&app, json!({ "query": "\"pro crm\"" })).await;
    assert!(slugs(&reversed).is_empty(), "a phrase keeps its order");

    // A vendor id that is not a vendor's is refused, typed.
    let wrong = search(&app, json!({ "filter": { "vendorIds": ["not-an-id"] } })).await;
    assert_eq!(wrong.error_code(), "BAD_USER_INPUT");
    let too_many: Vec<Value> = (0..51).map(|_| acme.clone()).collect();
    let refused = search(&app, json!({ "filter": { "vendorIds": too_many } })).await;
    assert_eq!(refused.error_code(), "BAD_USER_INPUT");
}
