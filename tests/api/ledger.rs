//! The conversions API and the commission ledger: rules and tiers turn conversions into
//! commissions, idempotently; rows move PENDING → APPROVED → PAID; refunds append
//! negative rows; every bad input is refused and writes nothing.

use chrono::{Duration, Utc};
use serde_json::{Value, json};
use tests::{
    TestApp,
    market::{APPROVE, Market},
};

const RECORD: &str = "mutation($input: RecordConversionInput!) { recordConversion(input: $input) {
    replayed conversion { id amount { amount currency } commissions { id kind status amount { amount currency } } }
    userErrors { field code message } } }";
const EARNINGS: &str = "{ myEarnings { totals { pending { amount } approved { amount } paid { amount } }
    byProgram { programId totals { approved { amount } } } byMonth { month amount { amount currency } } } }";

struct Setup {
    market: Market,
    /// A moment after the partner joined: when the test's conversions happen.
    at: chrono::DateTime<Utc>,
    key: String,
    code: String,
    enrollment: Value,
}

async fn setup(app: &TestApp, tag: &str, tier: Option<&str>) -> Setup {
    let market = app.market(tag).await;
    let applied = app.applied(&market.partner, &market, json!({})).await;
    let tier_id = tier.map(|name| {
        market
            .tiers
            .iter()
            .find(|(n, _)| n == name)
            .unwrap()
            .1
            .clone()
    });
    let approved = market
        .owner
        .gql(
            APPROVE,
            json!({ "input": { "applicationId": applied["id"], "tierId": tier_id } }),
        )
        .await;
    let enrollment = approved.data("approveApplication")["application"]["enrollment"].clone();
    Setup {
        key: app.api_key(&market, &["CONVERSIONS_WRITE"]).await,
        code: enrollment["referralCode"].as_str().unwrap().to_owned(),
        enrollment: enrollment["id"].clone(),
        market,
        at: Utc::now(),
    }
}

async fn call(app: &TestApp, key: &str, query: &str, input: Value) -> Value {
    app.http()
        .post(app.url("/graphql"))
        .header("x-api-key", key)
        .json(&json!({ "query": query, "variables": { "input": input } }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

fn conversion(s: &Setup, key: &str, event: &str, customer: &str, amount: &str) -> Value {
    json!({
        "referralCode": s.code, "event": event, "customerRef": customer, "amount": amount,
        "currency": "USD", "occurredAt": s.at.to_rfc3339(), "idempotencyKey": key
    })
}

fn user_codes(body: &Value, field: &str) -> Vec<String> {
    body["data"][field]["userErrors"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"))
        .iter()
        .map(|e| e["code"].as_str().unwrap().to_owned())
        .collect()
}

async fn ledger_rows(app: &TestApp) -> (i64, i64) {
    (app.count("conversion").await, app.count("commission").await)
}

#[tokio::test]
async fn a_conversion_earns_by_the_rules_and_moves_through_the_ledger() {
    let app = TestApp::spawn().await;
    let s = setup(&app, "ledger", None).await;
    // 20% recurring for 12 months on sales (every tier); the Silver tier has no lead rule.
    let body = call(
        &app,
        &s.key,
        RECORD,
        conversion(&s, "order-1", "SALE", "cust-1", "100.00"),
    )
    .await;
    let recorded = &body["data"]["recordConversion"];
    assert_eq!(recorded["userErrors"], json!([]), "{body}");
    assert_eq!(recorded["replayed"], false);
    let commission = recorded["conversion"]["commissions"][0].clone();
    assert_eq!(
        commission["amount"],
        json!({ "amount": "20.00", "currency": "USD" })
    );
    assert_eq!(commission["status"], "PENDING");

    // The same key and payload replay the first answer; another payload conflicts.
    let again = call(
        &app,
        &s.key,
        RECORD,
        conversion(&s, "order-1", "SALE", "cust-1", "100.00"),
    )
    .await;
    assert_eq!(again["data"]["recordConversion"]["replayed"], true);
    assert_eq!(
        again["data"]["recordConversion"]["conversion"]["id"],
        recorded["conversion"]["id"]
    );
    let before = ledger_rows(&app).await;
    let clash = call(
        &app,
        &s.key,
        RECORD,
        conversion(&s, "order-1", "SALE", "cust-1", "250.00"),
    )
    .await;
    assert_eq!(user_codes(&clash, "recordConversion"), ["CONFLICT"]);
    assert_eq!(ledger_rows(&app).await, before);
    let lead = call(
        &app,
        &s.key,
        RECORD,
        conversion(&s, "lead-1", "LEAD", "cust-1", "0"),
    )
    .await;
    // Only Gold partners earn on leads: for this Silver partner the program pays
    // nothing, which is refused rather than recorded silently.
    assert_eq!(
        user_codes(&lead, "recordConversion"),
        ["NO_COMMISSION_RULE"],
        "{lead}"
    );
    assert_eq!(ledger_rows(&app).await, before);

    // Pending until the holding period (30 days) ends; then approved, and the
    // partnership is activated.
    let partner = &s.market.partner;
    assert_eq!(
        partner.gql(EARNINGS, json!({})).await.data("myEarnings")["totals"][0]["pending"]["amount"],
        "20.00"
    );
    assert_eq!(
        api::service::ledger::approve_due(&app.services, Utc::now())
            .await
            .unwrap(),
        0
    );
    let later = Utc::now() + Duration::days(31);
    assert_eq!(
        api::service::ledger::approve_due(&app.services, later)
            .await
            .unwrap(),
        1
    );
    let earnings = partner.gql(EARNINGS, json!({})).await;
    let mine = earnings.data("myEarnings");
    assert_eq!(mine["totals"][0]["approved"]["amount"], "20.00");
    assert_eq!(mine["byProgram"][0]["programId"], s.market.program_id);
    assert_eq!(
        mine["byMonth"][0]["month"],
        Utc::now().format("%Y-%m").to_string()
    );
    let activated = partner
        .gql(
            "{ myEnrollments { edges { node { activatedAt } } } }",
            json!({}),
        )
        .await;
    assert!(activated.data("myEnrollments")["edges"][0]["node"]["activatedAt"].is_string());

    // Paid in a batch; a refund appends a negative row that is owed back.
    let paid = s
        .market
        .owner
        .gql(
            "mutation($input: MarkCommissionsPaidInput!) { markCommissionsPaid(input: $input) { commissions { status payoutReference } userErrors { code } } }",
            json!({ "input": { "commissionIds": [commission["id"]], "payoutReference": "wire-2026-11" } }),
        )
        .await;
    assert_eq!(
        paid.data("markCommissionsPaid")["commissions"][0]["status"],
        "PAID"
    );
    let reverse = "mutation($input: ReverseConversionInput!) { reverseConversion(input: $input) {
        conversion { reversedAt commissions { kind status amount { amount } } } userErrors { code } } }";
    let reversed = call(
        &app,
        &s.key,
        reverse,
        json!({ "conversionId": recorded["conversion"]["id"], "reason": "refund" }),
    )
    .await;
    let rows = &reversed["data"]["reverseConversion"]["conversion"]["commissions"];
    assert_eq!(
        rows[1],
        json!({ "kind": "REVERSAL", "status": "APPROVED", "amount": { "amount": "-20.00" } }),
        "{reversed}"
    );
    let totals = partner.gql(EARNINGS, json!({})).await.data("myEarnings")["totals"][0].clone();
    assert_eq!(
        (
            totals["paid"]["amount"].as_str(),
            totals["approved"]["amount"].as_str()
        ),
        (Some("20.00"), Some("-20.00"))
    );
    let before = ledger_rows(&app).await;
    let twice = call(
        &app,
        &s.key,
        reverse,
        json!({ "conversionId": recorded["conversion"]["id"], "reason": "refund" }),
    )
    .await;
    assert_eq!(
        user_codes(&twice, "reverseConversion"),
        ["INVALID_TRANSITION"]
    );
    assert_eq!(ledger_rows(&app).await, before);
}

#[tokio::test]
async fn tier_rules_win_one_time_rules_pay_once_per_customer() {
    let app = TestApp::spawn().await;
    let s = setup(&app, "gold", Some("Gold")).await;
    // Gold: 50 USD flat, one-time, per lead.
    let mut amounts = Vec::new();
    for (key, customer) in [("l1", "a"), ("l2", "a"), ("l3", "b")] {
        let body = call(
            &app,
            &s.key,
            RECORD,
            conversion(&s, key, "LEAD", customer, "0"),
        )
        .await;
        let rows = body["data"]["recordConversion"]["conversion"]["commissions"]
            .as_array()
            .unwrap()
            .clone();
        amounts.push(
            rows.first()
                .map(|r| r["amount"]["amount"].as_str().unwrap().to_owned()),
        );
    }
    assert_eq!(
        amounts,
        [Some("50.00".to_owned()), None, Some("50.00".to_owned())]
    );
}

#[tokio::test]
async fn bad_conversions_get_their_typed_error_and_change_nothing() {
    let app = TestApp::spawn().await;
    let s = setup(&app, "bad-ledger", None).await;
    let other = setup(&app, "other-ledger", None).await;
    let joined = Utc::now() - Duration::days(1);
    let before = ledger_rows(&app).await;
    let cases: Vec<(Value, &str)> = vec![
        (json!({ "referralCode": "NOSUCH22" }), "NOT_FOUND"),
        (json!({ "referralCode": other.code }), "NOT_FOUND"),
        (json!({ "amount": "-5.00" }), "OUT_OF_RANGE"),
        (json!({ "amount": "5.001" }), "OUT_OF_RANGE"),
        (json!({ "currency": "EUR" }), "INVALID"),
        (
            json!({ "occurredAt": (Utc::now() + Duration::days(1)).to_rfc3339() }),
            "OUT_OF_RANGE",
        ),
        (json!({ "occurredAt": joined.to_rfc3339() }), "OUT_OF_RANGE"),
        (json!({ "customerRef": "" }), "REQUIRED"),
        (json!({ "idempotencyKey": "" }), "REQUIRED"),
        // A sale of nothing; a lead where only Gold partners earn on leads (this partner
        // is Silver): both were recorded silently with no commission.
        (json!({ "amount": "0" }), "OUT_OF_RANGE"),
        (
            json!({ "event": "LEAD", "amount": "0" }),
            "NO_COMMISSION_RULE",
        ),
        (json!({ "event": "SIGNUP" }), "NO_COMMISSION_RULE"),
    ];
    for (change, expected) in cases {
        let mut input = conversion(&s, "bad", "SALE", "cust", "10.00");
        for (k, v) in change.as_object().unwrap() {
            input[k] = v.clone();
        }
        let body = call(&app, &s.key, RECORD, input).await;
        assert_eq!(
            user_codes(&body, "recordConversion"),
            [expected],
            "{change}: {body}"
        );
    }
    // A key without the scope, a revoked key, no credentials.
    let read_only = s
        .market
        .owner
        .gql(
            "mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { secret apiKey { id } } }",
            json!({ "input": { "vendorId": s.market.vendor_id, "name": "Reader", "scopes": ["APPLICATIONS_READ"] } }),
        )
        .await;
    let reader = read_only.data("createApiKey")["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let body = call(
        &app,
        &reader,
        RECORD,
        conversion(&s, "k", "SALE", "c", "1.00"),
    )
    .await;
    assert_eq!(
        body["errors"][0]["extensions"]["code"], "FORBIDDEN",
        "{body}"
    );
    s.market
        .owner
        .gql(
            "mutation($input: RevokeApiKeyInput!) { revokeApiKey(input: $input) { userErrors { code } } }",
            json!({ "input": { "apiKeyId": read_only.data("createApiKey")["apiKey"]["id"] } }),
        )
        .await
        .data("revokeApiKey");
    let body = call(
        &app,
        &reader,
        RECORD,
        conversion(&s, "k", "SALE", "c", "1.00"),
    )
    .await;
    assert_eq!(body["errors"][0]["extensions"]["code"], "UNAUTHENTICATED");
    let body = app
        .anonymous()
        .gql(
            RECORD,
            json!({ "input": conversion(&s, "k", "SALE", "c", "1.00") }),
        )
        .await;
    assert_eq!(body.error_code(), "UNAUTHENTICATED");
    // The vendor's member and the partner cannot record for the vendor.
    for client in [&s.market.member, &s.market.partner] {
        let body = client
            .gql(
                RECORD,
                json!({ "input": conversion(&s, "k", "SALE", "c", "1.00") }),
            )
            .await;
        assert_eq!(body.user_errors("recordConversion")[0].1, "NOT_FOUND");
    }
    assert_eq!(ledger_rows(&app).await, before);

    // Paying a pending commission is refused; a suspended partnership earns nothing.
    let body = call(
        &app,
        &s.key,
        RECORD,
        conversion(&s, "ok", "SALE", "cust", "10.00"),
    )
    .await;
    let pending = body["data"]["recordConversion"]["conversion"]["commissions"][0]["id"].clone();
    let before = ledger_rows(&app).await;
    let paid = s
        .market
        .owner
        .gql(
            "mutation($input: MarkCommissionsPaidInput!) { markCommissionsPaid(input: $input) { userErrors { code } } }",
            json!({ "input": { "commissionIds": [pending], "payoutReference": "early" } }),
        )
        .await;
    assert_eq!(
        paid.user_errors("markCommissionsPaid")[0].1,
        "INVALID_TRANSITION"
    );
    s.market
        .owner
        .gql(
            "mutation($input: EnrollmentActionInput!) { suspendEnrollment(input: $input) { userErrors { code } } }",
            json!({ "input": { "enrollmentId": s.enrollment } }),
        )
        .await
        .data("suspendEnrollment");
    let body = call(
        &app,
        &s.key,
        RECORD,
        conversion(&s, "late", "SALE", "cust", "10.00"),
    )
    .await;
    assert_eq!(user_codes(&body, "recordConversion"), ["NOT_ACCEPTING"]);
    assert_eq!(ledger_rows(&app).await, before);
}

#[tokio::test]
async fn ten_concurrent_identical_conversions_make_one() {
    let app = TestApp::spawn().await;
    let s = setup(&app, "ledger-race", None).await;
    let input = conversion(&s, "same-order", "SALE", "cust", "40.00");
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let (http, url, key, input) = (
            app.http().clone(),
            app.url("/graphql"),
            s.key.clone(),
            input.clone(),
        );
        tasks.push(tokio::spawn(async move {
            let body: Value = http
                .post(url)
                .header("x-api-key", key)
                .json(&json!({ "query": RECORD, "variables": { "input": input } }))
                .send()
                .await
                .unwrap()
                .json()
                .await
                .unwrap();
            body
        }));
    }
    let mut ids = Vec::new();
    for task in tasks {
        let body = task.await.unwrap();
        assert_eq!(
            body["data"]["recordConversion"]["userErrors"],
            json!([]),
            "{body}"
        );
        ids.push(body["data"]["recordConversion"]["conversion"]["id"].clone());
    }
    ids.dedup();
    assert_eq!(ids.len(), 1);
    assert_eq!(ledger_rows(&app).await, (1, 1));
}

const FIGURES: &str = "query($slug: String!) { program(slug: $slug) {
    earnings { averageMonthlyPerPartner { amount } medianMonthlyPerPartner { amount } averagePerConversion { amount } sampleSize windowDays insufficientData updatedAt }
    trust { enrolledPartners activatedPartners activationRate approvalRate decisions medianDecisionHours medianDaysToFirstCommission }
    estimate(customersPerMonth: 2) { isEstimate monthly { amount currency } firstYear { amount } basis } } }";

#[tokio::test]
async fn listing_figures_come_from_the_ledger_and_need_five_partners() {
    let app = TestApp::spawn().await;
    let s = setup(&app, "figures", None).await;
    let slug = json!({ "slug": "program-figures" });
    // Four more partners join; each of the first four brings one 100.00 sale.
    let mut codes = vec![s.code.clone()];
    for i in 0..4 {
        let partner = app.user(&format!("fig-{i}@example.com")).await;
        app.partner_profile(&partner, &format!("fig-partner-{i}"), json!({}))
            .await;
        codes.push(app.enroll(&partner, &s.market).await);
    }
    let at = Utc::now().to_rfc3339();
    let sale = |code: &str, key: &str| {
        json!({ "referralCode": code, "event": "SALE", "customerRef": key,
        "amount": "100.00", "currency": "USD", "occurredAt": at, "idempotencyKey": key })
    };
    for (i, code) in codes.iter().take(4).enumerate() {
        let body = call(&app, &s.key, RECORD, sale(code, &format!("s{i}"))).await;
        assert_eq!(
            body["data"]["recordConversion"]["userErrors"],
            json!([]),
            "{body}"
        );
    }
    // Four contributors: withheld from the public and partners, shown to the vendor.
    let public = app.anonymous().gql(FIGURES, slug.clone()).await;
    let earnings = &public.data("program")["earnings"];
    assert_eq!(
        (
            earnings["sampleSize"].as_i64(),
            earnings["insufficientData"].as_bool()
        ),
        (Some(4), Some(true))
    );
    assert_eq!(earnings["averageMonthlyPerPartner"], Value::Null);
    let partner_view = s.market.other_partner.gql(FIGURES, slug.clone()).await;
    assert_eq!(
        partner_view.data("program")["earnings"]["averagePerConversion"],
        Value::Null
    );
    let vendor_view = s.market.member.gql(FIGURES, slug.clone()).await;
    assert_eq!(
        vendor_view.data("program")["earnings"]["averagePerConversion"]["amount"],
        "20.00"
    );

    // The fifth makes the figures public: 20.00 over the 90-day window is 6.66 a month.
    let body = call(&app, &s.key, RECORD, sale(&codes[4], "s4")).await;
    assert_eq!(body["data"]["recordConversion"]["userErrors"], json!([]));
    let public = app.anonymous().gql(FIGURES, slug.clone()).await;
    let program = public.data("program");
    assert_eq!(program["earnings"]["insufficientData"], false);
    assert_eq!(
        program["earnings"]["averageMonthlyPerPartner"]["amount"],
        "6.66"
    );
    assert_eq!(
        program["earnings"]["medianMonthlyPerPartner"]["amount"],
        "6.66"
    );
    assert_eq!(
        program["earnings"]["averagePerConversion"]["amount"],
        "20.00"
    );
    assert_eq!(program["earnings"]["windowDays"], 90);
    assert_eq!(program["trust"]["enrolledPartners"], 5);
    assert_eq!(program["trust"]["decisions"], 5);
    assert_eq!(program["trust"]["approvalRate"], "100");
    assert_eq!(program["trust"]["activatedPartners"], 0);
    // Every partner's first commission came the day they joined.
    assert_eq!(program["trust"]["medianDaysToFirstCommission"], "0");

    // Approval after the holding period activates them; a refund moves the figures.
    api::service::ledger::approve_due(&app.services, Utc::now() + Duration::days(31))
        .await
        .unwrap();
    let trust = app
        .anonymous()
        .gql(FIGURES, slug.clone())
        .await
        .data("program")["trust"]
        .clone();
    assert_eq!(
        (
            trust["activatedPartners"].as_i64(),
            trust["activationRate"].as_str()
        ),
        (Some(5), Some("100"))
    );

    // The estimate: 20 % of the declared 99.00 a month, recurring for 12 months, two new
    // customers a month: 24 paying customers by month 12 (475.20), 156 payments a year.
    let estimate = &program["estimate"];
    assert_eq!(estimate["isEstimate"], true);
    assert_eq!(
        estimate["monthly"],
        json!({ "amount": "475.20", "currency": "USD" })
    );
    assert_eq!(estimate["firstYear"]["amount"], "3088.80");
    assert_eq!(
        estimate["basis"],
        "2 new customers a month at the vendor-declared revenue per account, 20% commission, paid for 12 months per customer"
    );
    let bad = app
        .anonymous()
        .gql("query($slug: String!) { program(slug: $slug) { estimate(customersPerMonth: 0) { basis } } }", slug)
        .await;
    assert_eq!(bad.error_code(), "BAD_USER_INPUT");
}

/// A small deterministic generator, so a failing sequence can be replayed by its seed.
struct Lcg(u64);

impl Lcg {
    fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

/// For any sequence of sales and refunds, the ledger holds exactly what the rules give:
/// 20 % lifetime, capped at 150.00 per customer, where a refunded sale no longer counts
/// towards the cap.
#[tokio::test]
async fn ledger_totals_equal_what_the_rules_give_for_any_sequence_of_sales_and_refunds() {
    let app = TestApp::spawn().await;
    let mut market = app.market("property").await;
    let (id, v) = app
        .program(&market.owner, &market.vendor_id, "capped-lifetime", json!({
            "tiers": [],
            "commissionRules": [{ "event": "SALE", "model": "PERCENTAGE", "rate": "20", "duration": "LIFETIME", "capPerCustomer": "150" }]
        }))
        .await;
    app.publish(&market.owner, &id, v).await;
    market.program_id = id;
    market.questions = vec![];
    let applied = app
        .applied(&market.partner, &market, json!({ "answers": [] }))
        .await;
    let approved = market
        .owner
        .gql(
            APPROVE,
            json!({ "input": { "applicationId": applied["id"] } }),
        )
        .await;
    let code = approved.data("approveApplication")["application"]["enrollment"]["referralCode"]
        .as_str()
        .unwrap()
        .to_owned();
    let key = app.api_key(&market, &["CONVERSIONS_WRITE"]).await;
    let at = Utc::now().to_rfc3339();
    let reverse = "mutation($input: ReverseConversionInput!) { reverseConversion(input: $input) { userErrors { code } } }";

    for seed in [7_u64, 2_026, 90_210] {
        let mut rng = Lcg(seed);
        // (conversion id, customer, commission in cents, refunded)
        let mut sales: Vec<(Value, u64, i64, bool)> = Vec::new();
        for step in 0..24 {
            if !sales.is_empty() && rng.below(4) == 0 {
                let pick = usize::try_from(rng.below(sales.len() as u64)).unwrap();
                if !sales[pick].3 {
                    let body = call(
                        &app,
                        &key,
                        reverse,
                        json!({ "conversionId": sales[pick].0, "reason": "refund" }),
                    )
                    .await;
                    assert_eq!(
                        body["data"]["reverseConversion"]["userErrors"],
                        json!([]),
                        "{body}"
                    );
                    sales[pick].3 = true;
                }
                continue;
            }
            let customer = rng.below(3);
            let cents = i64::try_from(rng.below(40_000)).unwrap();
            // The model: 20 % rounded half up, capped by what the customer's live sales
            // already earned.
            let earned: i64 = sales
                .iter()
                .filter(|s| s.1 == customer && !s.3)
                .map(|s| s.2)
                .sum();
            let expected = ((cents * 2_000 + 5_000) / 10_000).min((15_000 - earned).max(0));
            let body = call(&app, &key, RECORD, json!({
                "referralCode": code, "event": "SALE", "customerRef": format!("c{seed}-{customer}"),
                "amount": format!("{}.{:02}", cents / 100, cents % 100), "currency": "USD",
                "occurredAt": at, "idempotencyKey": format!("{seed}-{step}")
            }))
            .await;
            let conversion = &body["data"]["recordConversion"]["conversion"];
            let got = conversion["commissions"]
                .as_array()
                .unwrap_or_else(|| panic!("{body}"))
                .first()
                .map_or(0, |c| cents_of(&c["amount"]["amount"]));
            assert_eq!(
                got, expected,
                "seed {seed}, step {step}: {cents} cents for customer {customer}"
            );
            sales.push((conversion["id"].clone(), customer, got, false));
        }
    }
    // Every row is pending: the partner's total is the sum of the live sales' commissions.
    use entity::{commission, conversion};
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let rows = commission::Entity::find()
        .all(&app.services.db)
        .await
        .unwrap();
    let ledger: i64 = rows.iter().map(|r| r.amount_minor).sum();
    let live: Vec<i64> = conversion::Entity::find()
        .filter(conversion::Column::ReversedAt.is_null())
        .all(&app.services.db)
        .await
        .unwrap()
        .iter()
        .map(|c| c.id)
        .collect();
    let kept: i64 = rows
        .iter()
        .filter(|r| live.contains(&r.conversion_id))
        .map(|r| r.amount_minor)
        .sum();
    assert_eq!(ledger, kept, "refunded sales net to zero");
    let pending = market
        .partner
        .gql(EARNINGS, json!({}))
        .await
        .data("myEarnings")["totals"][0]["pending"]["amount"]
        .clone();
    assert_eq!(cents_of(&pending), ledger);
}

/// `"-12.30"` → -1230 (USD amounts have two decimals).
fn cents_of(amount: &Value) -> i64 {
    let text = amount.as_str().unwrap();
    let (sign, digits) = text.strip_prefix('-').map_or((1, text), |rest| (-1, rest));
    let (units, fraction) = digits.split_once('.').unwrap_or((digits, "00"));
    sign * (units.parse::<i64>().unwrap() * 100
        + format!("{fraction:0<2}")[..2].parse::<i64>().unwrap())
}

const ANALYTICS: &str = "query($id: ID!) { programAnalytics(programId: $id, months: 2) {
    month applicationsBySource: joinSources { name count } applicationsByStatus { name count }
    approvals rejections joinedPartners activatedPartners activationRate medianDaysToFirstCommission
    revenue { amount currency } conversions commissionsByStatus { name amount { amount } }
    topPartners { partner { slug } revenue { amount } commission { amount } } } }";

#[tokio::test]
async fn vendor_analytics_show_the_month_for_the_team_only() {
    let app = TestApp::spawn().await;
    let s = setup(&app, "analytics", None).await;
    let rejected = app
        .applied(
            &s.market.other_partner,
            &s.market,
            json!({ "joinSource": "DIRECT_LINK" }),
        )
        .await;
    s.market
        .owner
        .gql(
            REJECT_ANALYTICS,
            json!({ "input": { "applicationId": rejected["id"], "reason": "AUDIENCE" } }),
        )
        .await
        .data("rejectApplication");
    for (key, amount) in [("a1", "300.00"), ("a2", "200.00")] {
        let body = call(
            &app,
            &s.key,
            RECORD,
            conversion(&s, key, "SALE", key, amount),
        )
        .await;
        assert_eq!(body["data"]["recordConversion"]["userErrors"], json!([]));
    }
    let response = s
        .market
        .member
        .gql(ANALYTICS, json!({ "id": s.market.program_id }))
        .await;
    let months = response
        .data("programAnalytics")
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(months.len(), 2);
    let now = &months[1];
    assert_eq!(now["month"], Utc::now().format("%Y-%m").to_string());
    assert_eq!(
        now["applicationsByStatus"],
        json!([{ "name": "APPROVED", "count": 1 }, { "name": "REJECTED", "count": 1 }])
    );
    assert_eq!(
        now["applicationsBySource"],
        json!([{ "name": "DIRECT_LINK", "count": 1 }, { "name": "MARKETPLACE_SEARCH", "count": 1 }])
    );
    assert_eq!(
        (now["approvals"].as_i64(), now["rejections"].as_i64()),
        (Some(1), Some(1))
    );
    assert_eq!(
        (
            now["joinedPartners"].as_i64(),
            now["activatedPartners"].as_i64()
        ),
        (Some(1), Some(0))
    );
    assert_eq!(
        now["revenue"],
        json!({ "amount": "500.00", "currency": "USD" })
    );
    assert_eq!(now["conversions"], 2);
    assert_eq!(
        now["commissionsByStatus"],
        json!([{ "name": "PENDING", "amount": { "amount": "100.00" } }])
    );
    // A Decimal, as in `trust`: one type for one figure.
    assert_eq!(now["medianDaysToFirstCommission"], "0");
    assert_eq!(
        now["topPartners"][0]["partner"]["slug"],
        s.market.partner_slug
    );
    assert_eq!(now["topPartners"][0]["revenue"]["amount"], "500.00");
    assert_eq!(months[0]["revenue"]["amount"], "0.00");

    for client in [&s.market.partner, &s.market.outsider] {
        let response = client
            .gql(ANALYTICS, json!({ "id": s.market.program_id }))
            .await;
        assert_eq!(response.error_code(), "NOT_FOUND");
    }
    assert_eq!(
        app.anonymous()
            .gql(ANALYTICS, json!({ "id": s.market.program_id }))
            .await
            .error_code(),
        "UNAUTHENTICATED"
    );
    let too_many = s
        .market
        .owner
        .gql(
            "query($id: ID!) { programAnalytics(programId: $id, months: 25) { month } }",
            json!({ "id": s.market.program_id }),
        )
        .await;
    assert_eq!(too_many.error_code(), "BAD_USER_INPUT");
}

const REJECT_ANALYTICS: &str = tests::market::REJECT;

/// Conversions and commissions by id: the earning partner, the vendor's team, the vendor's
/// conversion key and platform admins see them; every other role gets `null`.
#[tokio::test]
async fn conversions_and_commissions_by_id_are_seen_only_by_their_parties() {
    let app = TestApp::spawn().await;
    let s = setup(&app, "nodes", None).await;
    let body = call(
        &app,
        &s.key,
        RECORD,
        conversion(&s, "order-n", "SALE", "cust-n", "100.00"),
    )
    .await;
    let recorded = &body["data"]["recordConversion"]["conversion"];
    let ids = json!([recorded["id"], recorded["commissions"][0]["id"]]);
    let reader = app.api_key(&s.market, &["APPLICATIONS_READ"]).await;
    let elsewhere = s
        .market
        .outsider
        .gql("{ vendor(slug: \"elsewhere-nodes\") { id } }", json!({}))
        .await;
    let elsewhere_id = elsewhere.data("vendor")["id"].clone();
    assert!(elsewhere_id.is_string(), "{:#}", elsewhere.body);
    let foreign = s
        .market
        .outsider
        .gql(
            "mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { secret } }",
            json!({ "input": { "vendorId": elsewhere_id, "name": "x", "scopes": ["CONVERSIONS_WRITE"] } }),
        )
        .await
        .data("createApiKey")["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let m = &s.market;
    let anonymous = app.anonymous();
    let (own_key, read_key, foreign_key) = (
        app.with_token(&s.key),
        app.with_token(&reader),
        app.with_token(&foreign),
    );
    let query = "query($ids: [ID!]!) { nodes(ids: $ids) { id
        ... on Conversion { customerRef amount { amount } commissions { id } }
        ... on Commission { status amount { amount } } } }";
    for (who, client, sees) in [
        ("anonymous", &anonymous, false),
        ("earning partner", &m.partner, true),
        ("other partner", &m.other_partner, false),
        ("owner", &m.owner, true),
        ("vendor admin", &m.admin, true),
        ("vendor member", &m.member, true),
        ("another vendor", &m.outsider, false),
        ("platform admin", &m.platform_admin, true),
        ("conversions key", &own_key, true),
        ("applications-only key", &read_key, false),
        ("another vendor's key", &foreign_key, false),
    ] {
        let response = client.gql(query, json!({ "ids": ids })).await;
        let nodes = response.data("nodes");
        if sees {
            assert_eq!(
                nodes[0]["customerRef"], "cust-n",
                "{who}: {:#}",
                response.body
            );
            assert_eq!(nodes[0]["commissions"][0]["id"], ids[1], "{who}");
            assert_eq!(nodes[1]["amount"]["amount"], "20.00", "{who}");
        } else {
            assert_eq!(nodes, &json!([null, null]), "{who}");
        }
    }
}
