//! Program listings: structured terms, validation, lifecycle and optimistic locking.

use serde_json::{Value, json};
use tests::{
    Client, TestApp,
    fixtures::{PROGRAM_FIELDS, create_program_mutation, program_input},
};

fn update_mutation() -> String {
    format!(
        "mutation($input: UpdateProgramInput!) {{ updateProgram(input: $input) {{ program {{ {PROGRAM_FIELDS} }} userErrors {{ field code message }} }} }}"
    )
}

fn terms_mutation() -> String {
    format!(
        "mutation($input: SetProgramTermsInput!) {{ setProgramTerms(input: $input) {{ program {{ {PROGRAM_FIELDS} }} userErrors {{ field code message }} }} }}"
    )
}

fn lifecycle(name: &str) -> String {
    format!(
        "mutation($input: ProgramVersionInput!) {{ {name}(input: $input) {{ program {{ status version publishedAt }} userErrors {{ field code message }} }} }}"
    )
}

async fn owner_and_vendor(app: &TestApp) -> (Client, Value) {
    let owner = app.user("owner@example.com").await;
    let vendor = app.vendor(&owner, "acme").await;
    (owner, vendor)
}

#[tokio::test]
async fn a_program_is_created_as_a_draft_with_structured_terms() {
    let app = TestApp::spawn().await;
    let (owner, vendor) = owner_and_vendor(&app).await;
    let response = owner
        .gql(
            &create_program_mutation(),
            json!({ "input": program_input(&vendor, "acme-partners") }),
        )
        .await;
    let program = &response.data("createProgram")["program"];
    assert_eq!(program["status"], "DRAFT");
    assert_eq!(program["version"], 1);
    assert_eq!(program["category"]["slug"], "crm");
    assert_eq!(program["bestPercentageRate"], "20");
    assert_eq!(
        program["bestFlatAmount"],
        json!({ "amount": "50.00", "currency": "USD" })
    );
    assert_eq!(
        program["tiers"],
        json!([
            { "id": program["tiers"][0]["id"], "name": "Silver", "rank": 0, "isDefault": true, "promotionThreshold": null },
            { "id": program["tiers"][1]["id"], "name": "Gold", "rank": 1, "isDefault": false, "promotionThreshold": { "amount": "10000.00", "currency": "USD" } }
        ])
    );
    let rules = program["commissionRules"].as_array().unwrap();
    assert_eq!(
        rules[0]["summary"],
        "20% recurring for 12 months on every sale"
    );
    assert_eq!(rules[0]["tier"], json!(null));
    assert_eq!(rules[1]["summary"], "$50.00 per qualified lead");
    assert_eq!(rules[1]["tier"]["name"], "Gold");
    assert_eq!(
        rules[1]["amount"],
        json!({ "amount": "50.00", "currency": "USD" })
    );
}

#[tokio::test]
async fn money_keeps_the_precision_of_its_currency() {
    let app = TestApp::spawn().await;
    let (owner, vendor) = owner_and_vendor(&app).await;
    let changes = json!({
        "currency": "JPY",
        "minimumPayout": "5000",
        "averageRevenuePerAccount": "12000",
        "tiers": [],
        "commissionRules": [{ "event": "SIGNUP", "model": "FLAT", "amount": "1500", "duration": "ONE_TIME" }]
    });
    let (id, _) = app.program(&owner, &vendor, "yen", changes).await;
    let response = owner.gql("query($id: ID!) { node(id: $id) { ... on Program { minimumPayout { amount currency } commissionRules { summary } } } }", json!({ "id": id })).await;
    assert_eq!(
        response.data("node")["minimumPayout"],
        json!({ "amount": "5000", "currency": "JPY" })
    );
    assert_eq!(
        response.data("node")["commissionRules"][0]["summary"],
        "¥1,500 per sign-up"
    );
}

/// Each bad input of the issue, with the user error it must produce; none creates anything.
#[tokio::test]
async fn bad_program_input_gets_a_typed_user_error_and_creates_nothing() {
    let app = TestApp::spawn().await;
    let (owner, vendor) = owner_and_vendor(&app).await;
    app.program(&owner, &vendor, "taken-slug", json!({})).await;
    let rule = |fields: Value| {
        let mut base =
            json!({ "event": "SALE", "model": "PERCENTAGE", "rate": "20", "duration": "ONE_TIME" });
        for (k, v) in fields.as_object().unwrap() {
            base[k] = v.clone();
        }
        json!({ "commissionRules": [base], "tiers": [] })
    };
    let cases: Vec<(&str, Value, &str, &str)> = vec![
        (
            "a right-to-left override in the name",
            json!({ "name": "Acme \u{202E}mlacol" }),
            "name",
            "INVALID",
        ),
        (
            "an isolate in the tagline",
            json!({ "tagline": "\u{2067}50% forever\u{2069}" }),
            "tagline",
            "INVALID",
        ),
        (
            "negative rate",
            rule(json!({ "rate": "-5" })),
            "commissionRules.0.rate",
            "OUT_OF_RANGE",
        ),
        (
            "rate over 100 %",
            rule(json!({ "rate": "100.01" })),
            "commissionRules.0.rate",
            "OUT_OF_RANGE",
        ),
        (
            "zero rate",
            rule(json!({ "rate": "0" })),
            "commissionRules.0.rate",
            "OUT_OF_RANGE",
        ),
        (
            "rate finer than 0.01 %",
            rule(json!({ "rate": "12.345" })),
            "commissionRules.0.rate",
            "INVALID",
        ),
        (
            "flat rule without amount",
            rule(json!({ "model": "FLAT", "rate": null })),
            "commissionRules.0.amount",
            "REQUIRED",
        ),
        (
            "percentage rule without rate",
            rule(json!({ "rate": null })),
            "commissionRules.0.rate",
            "REQUIRED",
        ),
        (
            "recurring 0 months",
            rule(json!({ "duration": "RECURRING", "recurringMonths": 0 })),
            "commissionRules.0.recurringMonths",
            "OUT_OF_RANGE",
        ),
        (
            "recurring 500 months",
            rule(json!({ "duration": "RECURRING", "recurringMonths": 500 })),
            "commissionRules.0.recurringMonths",
            "OUT_OF_RANGE",
        ),
        (
            "recurring without months",
            rule(json!({ "duration": "RECURRING" })),
            "commissionRules.0.recurringMonths",
            "REQUIRED",
        ),
        (
            "unknown tier",
            rule(json!({ "tier": "Platinum" })),
            "commissionRules.0.tier",
            "NOT_FOUND",
        ),
        (
            "unknown currency",
            json!({ "currency": "XYZ" }),
            "currency",
            "INVALID",
        ),
        (
            "100,000-character description",
            json!({ "description": "x".repeat(100_000) }),
            "description",
            "TOO_LONG",
        ),
        (
            "duplicate slug",
            json!({ "slug": "taken-slug" }),
            "slug",
            "TAKEN",
        ),
        (
            "slug with spaces",
            json!({ "slug": "my program" }),
            "slug",
            "INVALID",
        ),
        (
            "slug with uppercase",
            json!({ "slug": "MyProgram" }),
            "slug",
            "INVALID",
        ),
        (
            "unknown category",
            json!({ "category": "astrology" }),
            "category",
            "NOT_FOUND",
        ),
        (
            "unknown country",
            json!({ "countries": ["US", "XX"] }),
            "countries.1",
            "INVALID",
        ),
        (
            "cookie window of 0 days",
            json!({ "cookieWindowDays": 0 }),
            "cookieWindowDays",
            "OUT_OF_RANGE",
        ),
        (
            "negative minimum payout",
            json!({ "minimumPayout": "-1" }),
            "minimumPayout",
            "OUT_OF_RANGE",
        ),
        (
            "cents on a yen amount",
            json!({ "currency": "JPY", "minimumPayout": "10.5", "commissionRules": [], "tiers": [] }),
            "minimumPayout",
            "INVALID",
        ),
        (
            "website that is not a URL",
            json!({ "website": "javascript:alert(1)" }),
            "website",
            "INVALID",
        ),
        (
            "two default tiers",
            json!({ "tiers": [{ "name": "A", "rank": 0, "isDefault": true }, { "name": "B", "rank": 1, "isDefault": true }], "commissionRules": [] }),
            "tiers",
            "DUPLICATE",
        ),
        (
            "tiers sharing a rank",
            json!({ "tiers": [{ "name": "A", "rank": 0, "isDefault": true }, { "name": "B", "rank": 0 }], "commissionRules": [] }),
            "tiers.1.rank",
            "DUPLICATE",
        ),
        (
            "two rules for one event and tier",
            json!({ "tiers": [], "commissionRules": [
            { "event": "SALE", "model": "PERCENTAGE", "rate": "10", "duration": "ONE_TIME" },
            { "event": "SALE", "model": "FLAT", "amount": "5", "duration": "ONE_TIME" }] }),
            "commissionRules.1.event",
            "DUPLICATE",
        ),
    ];
    let before = app.listing_snapshot().await;
    for (name, changes, field, code) in cases {
        let mut input = program_input(&vendor, "fresh-slug");
        for (k, v) in changes.as_object().unwrap() {
            input[k] = v.clone();
        }
        let response = owner
            .gql(&create_program_mutation(), json!({ "input": input }))
            .await;
        let errors = response.user_errors("createProgram");
        assert!(
            errors.contains(&(Some(field.to_owned()), code.to_owned())),
            "{name}: {errors:?}"
        );
        assert!(
            response.data("createProgram")["program"].is_null(),
            "{name}"
        );
    }
    assert_eq!(app.listing_snapshot().await, before, "nothing was written");
}

#[tokio::test]
async fn publishing_needs_a_description_a_category_and_a_rule() {
    let app = TestApp::spawn().await;
    let (owner, vendor) = owner_and_vendor(&app).await;
    let (id, version) = app
        .program(
            &owner,
            &vendor,
            "bare",
            json!({ "description": "", "category": null, "tiers": [], "commissionRules": [] }),
        )
        .await;
    let before = app.listing_snapshot().await;
    let response = owner
        .gql(
            &lifecycle("publishProgram"),
            json!({ "input": { "id": id, "expectedVersion": version } }),
        )
        .await;
    assert_eq!(
        response.user_errors("publishProgram"),
        vec![
            (Some("description".into()), "REQUIRED".into()),
            (Some("category".into()), "REQUIRED".into()),
            (Some("commissionRules".into()), "REQUIRED".into()),
        ]
    );
    assert_eq!(app.listing_snapshot().await, before);
}

#[tokio::test]
async fn a_program_moves_through_its_lifecycle_and_archived_is_final() {
    let app = TestApp::spawn().await;
    let (owner, vendor) = owner_and_vendor(&app).await;
    let (id, v1) = app.program(&owner, &vendor, "life", json!({})).await;
    let step = |name: &'static str, version: i64| {
        let owner = owner.clone();
        let id = id.clone();
        async move {
            owner
                .gql(
                    &lifecycle(name),
                    json!({ "input": { "id": id, "expectedVersion": version } }),
                )
                .await
        }
    };
    let paused_draft = step("pauseProgram", v1).await;
    assert_eq!(
        paused_draft.user_errors("pauseProgram"),
        vec![(Some("status".into()), "INVALID_TRANSITION".into())]
    );

    let published = step("publishProgram", v1).await;
    let program = &published.data("publishProgram")["program"];
    assert_eq!(program["status"], "PUBLISHED");
    let first_published_at = program["publishedAt"].clone();
    assert!(first_published_at.is_string());

    let paused = step("pauseProgram", program["version"].as_i64().unwrap()).await;
    let v = paused.data("pauseProgram")["program"]["version"]
        .as_i64()
        .unwrap();
    let resumed = step("publishProgram", v).await;
    assert_eq!(
        resumed.data("publishProgram")["program"]["publishedAt"],
        first_published_at,
        "first publication date is kept"
    );
    let v = resumed.data("publishProgram")["program"]["version"]
        .as_i64()
        .unwrap();
    let archived = step("archiveProgram", v).await;
    let v = archived.data("archiveProgram")["program"]["version"]
        .as_i64()
        .unwrap();
    assert_eq!(
        archived.data("archiveProgram")["program"]["status"],
        "ARCHIVED"
    );
    for name in ["publishProgram", "pauseProgram", "archiveProgram"] {
        let response = step(name, v).await;
        assert_eq!(
            response.user_errors(name),
            vec![(Some("status".into()), "INVALID_TRANSITION".into())],
            "{name}"
        );
    }
}

#[tokio::test]
async fn an_update_with_a_stale_version_is_a_conflict_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let (owner, vendor) = owner_and_vendor(&app).await;
    let (id, version) = app.program(&owner, &vendor, "locked", json!({})).await;
    let first = owner
        .gql(
            &update_mutation(),
            json!({ "input": { "id": id, "expectedVersion": version, "name": "First" } }),
        )
        .await;
    assert_eq!(
        first.data("updateProgram")["program"]["version"],
        version + 1
    );
    let before = app.listing_snapshot().await;
    for (mutation, name, input) in [
        (
            update_mutation(),
            "updateProgram",
            json!({ "id": id, "expectedVersion": version, "name": "Second" }),
        ),
        (
            terms_mutation(),
            "setProgramTerms",
            json!({ "id": id, "expectedVersion": version, "tiers": [], "commissionRules": [] }),
        ),
        (
            lifecycle("publishProgram"),
            "publishProgram",
            json!({ "id": id, "expectedVersion": version }),
        ),
    ] {
        let response = owner.gql(&mutation, json!({ "input": input })).await;
        assert_eq!(
            response.user_errors(name),
            vec![(Some("expectedVersion".into()), "CONFLICT".into())],
            "{name}"
        );
    }
    assert_eq!(app.listing_snapshot().await, before);
}

#[tokio::test]
async fn concurrent_updates_with_one_version_let_exactly_one_win() {
    let app = TestApp::spawn().await;
    let (owner, vendor) = owner_and_vendor(&app).await;
    let (id, version) = app.program(&owner, &vendor, "race", json!({})).await;
    let attempts = (0..10).map(|i| {
        let owner = owner.clone();
        let id = id.clone();
        async move { owner.gql(&update_mutation(), json!({ "input": { "id": id, "expectedVersion": version, "name": format!("Name {i}") } })).await }
    });
    let results = futures_util::future::join_all(attempts).await;
    let won = results
        .iter()
        .filter(|r| r.data("updateProgram")["program"].is_object())
        .count();
    let conflicts = results
        .iter()
        .filter(|r| {
            r.user_errors("updateProgram")
                == vec![(Some("expectedVersion".into()), "CONFLICT".into())]
        })
        .count();
    assert_eq!((won, conflicts), (1, 9));
}

#[tokio::test]
async fn changing_the_terms_of_a_published_program_bumps_its_terms_version() {
    let app = TestApp::spawn().await;
    let (owner, vendor) = owner_and_vendor(&app).await;
    let (id, version) = app.program(&owner, &vendor, "terms", json!({})).await;
    let draft_terms = owner
        .gql(&terms_mutation(), json!({ "input": { "id": id, "expectedVersion": version, "tiers": [], "commissionRules": [
            { "event": "SALE", "model": "PERCENTAGE", "rate": "15", "duration": "LIFETIME" }] } }))
        .await;
    let program = &draft_terms.data("setProgramTerms")["program"];
    assert_eq!(
        program["termsVersion"], 1,
        "drafts have no agreed terms yet"
    );
    assert_eq!(program["tiers"], json!([]));
    let version = app
        .publish(&owner, &id, program["version"].as_i64().unwrap())
        .await;

    let new_terms = owner
        .gql(&terms_mutation(), json!({ "input": { "id": id, "expectedVersion": version, "tiers": [], "commissionRules": [
            { "event": "SALE", "model": "PERCENTAGE", "rate": "25", "duration": "LIFETIME", "capPerCustomer": "500" }] } }))
        .await;
    let program = &new_terms.data("setProgramTerms")["program"];
    assert_eq!(program["termsVersion"], 2);
    assert_eq!(program["bestPercentageRate"], "25");
    assert_eq!(
        program["commissionRules"][0]["summary"],
        "25% for life on every sale, up to $500.00 per customer"
    );
    let version = program["version"].as_i64().unwrap();

    let payout = owner
        .gql(
            &update_mutation(),
            json!({ "input": { "id": id, "expectedVersion": version, "holdingPeriodDays": 45 } }),
        )
        .await;
    assert_eq!(payout.data("updateProgram")["program"]["termsVersion"], 3);
    let version = payout.data("updateProgram")["program"]["version"]
        .as_i64()
        .unwrap();
    let cosmetic = owner
        .gql(
            &update_mutation(),
            json!({ "input": { "id": id, "expectedVersion": version, "tagline": "New words" } }),
        )
        .await;
    assert_eq!(
        cosmetic.data("updateProgram")["program"]["termsVersion"],
        3,
        "listing text is not terms"
    );

    let version = cosmetic.data("updateProgram")["program"]["version"]
        .as_i64()
        .unwrap();
    let currency = owner
        .gql(
            &update_mutation(),
            json!({ "input": { "id": id, "expectedVersion": version, "currency": "EUR" } }),
        )
        .await;
    assert_eq!(
        currency.user_errors("updateProgram"),
        vec![(Some("currency".into()), "INVALID".into())]
    );
    let emptied = owner.gql(&terms_mutation(), json!({ "input": { "id": id, "expectedVersion": version, "tiers": [], "commissionRules": [] } })).await;
    assert_eq!(
        emptied.user_errors("setProgramTerms"),
        vec![(Some("commissionRules".into()), "REQUIRED".into())]
    );
}

#[tokio::test]
async fn replaced_rules_are_retired_not_deleted_and_kept_tiers_keep_their_id() {
    let app = TestApp::spawn().await;
    let (owner, vendor) = owner_and_vendor(&app).await;
    let response = owner
        .gql(
            &create_program_mutation(),
            json!({ "input": program_input(&vendor, "keep") }),
        )
        .await;
    let program = &response.data("createProgram")["program"];
    let (id, version) = (program["id"].clone(), program["version"].as_i64().unwrap());
    let silver = program["tiers"][0]["id"].clone();
    let updated = owner
        .gql(&terms_mutation(), json!({ "input": { "id": id, "expectedVersion": version,
            "tiers": [{ "id": silver, "name": "Base", "rank": 0, "isDefault": true }],
            "commissionRules": [{ "tier": "Base", "event": "SALE", "model": "PERCENTAGE", "rate": "10", "duration": "ONE_TIME" }] } }))
        .await;
    let program = &updated.data("setProgramTerms")["program"];
    assert_eq!(
        program["tiers"],
        json!([{ "id": silver, "name": "Base", "rank": 0, "isDefault": true, "promotionThreshold": null }])
    );
    assert_eq!(program["commissionRules"][0]["tier"]["name"], "Base");
    assert_eq!(
        app.count("commission_rule").await,
        3,
        "the two replaced rules are retired, not deleted"
    );
    assert_eq!(app.count("program_tier").await, 1);
}

#[tokio::test]
async fn a_draft_can_change_currency_and_its_amounts_keep_their_value() {
    let app = TestApp::spawn().await;
    let (owner, vendor) = owner_and_vendor(&app).await;
    let (id, version) = app.program(&owner, &vendor, "fx-draft", json!({})).await;
    let response = owner
        .gql(
            &update_mutation(),
            json!({ "input": { "id": id, "expectedVersion": version, "currency": "EUR" } }),
        )
        .await;
    let program = &response.data("updateProgram")["program"];
    assert_eq!(program["currency"], "EUR");
    assert_eq!(
        program["bestFlatAmount"],
        json!({ "amount": "50.00", "currency": "EUR" })
    );
    let version = program["version"].as_i64().unwrap();
    let yen = owner
        .gql(&update_mutation(), json!({ "input": { "id": id, "expectedVersion": version, "currency": "JPY", "minimumPayout": "50" } }))
        .await;
    assert_eq!(
        yen.data("updateProgram")["program"]["bestFlatAmount"],
        json!({ "amount": "50", "currency": "JPY" })
    );
}
