//! Partners apply, vendors decide: profiles, forms, decisions, enrollments, invitations,
//! re-apply policies, idempotency, bulk decisions and races.

use entity::invitation;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
use serde_json::{Value, json};
use tests::{
    TestApp,
    market::{APPLICATION_FIELDS, APPROVE, REJECT},
};

fn codes(response: &tests::Gql, field: &str) -> Vec<String> {
    response
        .user_errors(field)
        .into_iter()
        .map(|(_, code)| code)
        .collect()
}

async fn application(by: &tests::Client, id: &Value) -> Value {
    let response = by
        .gql(
            &format!("query($id: ID!) {{ node(id: $id) {{ ... on Application {{ {APPLICATION_FIELDS} }} }} }}"),
            json!({ "id": id }),
        )
        .await;
    response.data("node").clone()
}

#[tokio::test]
async fn the_whole_journey_from_profile_to_enrollment() {
    let app = TestApp::spawn().await;
    let market = app.market("journey").await;
    app.drain_search().await;

    // The listing shows the form; the partner applies with answers.
    let form = market
        .partner
        .gql(
            "query($slug: String!) { program(slug: $slug) { applicationQuestions { id prompt kind options required } viewerApplication { id } } }",
            json!({ "slug": "program-journey" }),
        )
        .await;
    let program = form.data("program");
    assert_eq!(program["applicationQuestions"].as_array().unwrap().len(), 3);
    assert_eq!(
        program["applicationQuestions"][2]["options"],
        json!(["Americas", "Europe", "Asia"])
    );
    assert_eq!(program["viewerApplication"], Value::Null);
    let applied = app.applied(&market.partner, &market, json!({})).await;
    assert_eq!(applied["status"], "PENDING");
    assert_eq!(applied["enrollment"], Value::Null);

    // The partner sees it as pending, on the listing and in its list.
    let mine = market
        .partner
        .gql(
            "query($slug: String!) { program(slug: $slug) { viewerApplication { status } viewerEnrollment { id } }
              myApplications(statuses: [PENDING]) { edges { node { id program { slug } } } } }",
            json!({ "slug": "program-journey" }),
        )
        .await;
    assert_eq!(
        mine.data("program")["viewerApplication"]["status"],
        "PENDING"
    );
    assert_eq!(
        mine.data("myApplications")["edges"][0]["node"]["id"],
        applied["id"]
    );

    // excludeMine hides it from the partner's search, not from anyone else's.
    let search = |client: tests::Client| async move {
        client
            .gql(
                "{ searchPrograms(query: \"journey\", filter: { excludeMine: true }) { totalCount } }",
                json!({}),
            )
            .await
            .data("searchPrograms")["totalCount"]
            .clone()
    };
    assert_eq!(search(market.partner.clone()).await, 0);
    assert_eq!(search(market.other_partner.clone()).await, 1);

    // The team reviews the queue with the applicant's profile and answers.
    let queue = market
        .member
        .gql(
            "query($id: ID!) { applications(programId: $id, statuses: [PENDING]) { edges { node {
                id applicant { slug displayName partnerTypes audienceSize countries languages channels }
                answers { prompt kind values } pitch joinSource } } } }",
            json!({ "id": market.program_id }),
        )
        .await;
    let node = &queue.data("applications")["edges"][0]["node"];
    assert_eq!(node["applicant"]["slug"], market.partner_slug);
    assert_eq!(node["applicant"]["channels"], json!(["BLOG", "NEWSLETTER"]));
    assert_eq!(
        node["answers"][2],
        json!({ "prompt": "Audience region", "kind": "SINGLE_SELECT", "values": ["Europe"] })
    );
    assert_eq!(node["joinSource"], "MARKETPLACE_SEARCH");

    // An admin approves into the Gold tier; the partner is enrolled with a referral code.
    let gold = market
        .tiers
        .iter()
        .find(|(n, _)| n == "Gold")
        .unwrap()
        .1
        .clone();
    let approved = market
        .admin
        .gql(
            APPROVE,
            json!({ "input": { "applicationId": applied["id"], "tierId": gold, "expectedVersion": 1 } }),
        )
        .await;
    let payload = approved.data("approveApplication");
    assert_eq!(payload["userErrors"], json!([]));
    let enrollment = &payload["application"]["enrollment"];
    assert_eq!(enrollment["status"], "ACTIVE");
    assert_eq!(enrollment["tier"]["name"], "Gold");
    let code = enrollment["referralCode"].as_str().unwrap();
    assert_eq!(code.len(), 8);
    assert!(
        code.chars()
            .all(|c| "23456789ABCDEFGHJKMNPQRSTUVWXYZ".contains(c)),
        "{code}"
    );

    let seen = application(&market.partner, &applied["id"]).await;
    assert_eq!(seen["status"], "APPROVED");
    assert_eq!(seen["enrollment"]["termsVersion"], 1);
    let kinds: Vec<&str> = seen["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["SUBMITTED", "APPROVED", "ENROLLED"]);
    let joined = market
        .partner
        .gql(
            "query($slug: String!) { program(slug: $slug) { viewerEnrollment { referralCode status } }
              myEnrollments(statuses: [ACTIVE]) { edges { node { referralCode program { slug } tier { name } } } } }",
            json!({ "slug": "program-journey" }),
        )
        .await;
    assert_eq!(
        joined.data("program")["viewerEnrollment"]["referralCode"],
        code
    );
    assert_eq!(
        joined.data("myEnrollments")["edges"][0]["node"]["tier"]["name"],
        "Gold"
    );
    assert_eq!(
        search(market.partner.clone()).await,
        0,
        "joined programs stay hidden"
    );
    // Every decision is on the audit trail.
    let audited = entity::event::Entity::find()
        .filter(entity::event::Column::EventType.eq("application.approved"))
        .all(&app.services.db)
        .await
        .unwrap();
    assert_eq!(audited.len(), 1);
}

#[tokio::test]
async fn editing_questions_never_changes_submitted_answers() {
    let app = TestApp::spawn().await;
    let market = app.market("answers").await;
    let applied = app.applied(&market.partner, &market, json!({})).await;
    app.questions(
        &market.owner,
        &market.program_id,
        json!([{ "prompt": "Something else entirely", "kind": "LONG_TEXT", "required": true }]),
    )
    .await;
    let seen = application(&market.owner, &applied["id"]).await;
    assert_eq!(seen["answers"][0]["prompt"], "How will you promote us?");
    assert_eq!(
        seen["answers"][0]["values"],
        json!(["Newsletter and blog reviews"])
    );
    // The old question ids are gone from the form: answering them now is refused.
    let response = app.apply(&market.other_partner, &market, json!({})).await;
    assert!(codes(&response, "applyToProgram").contains(&"NOT_FOUND".to_owned()));
}

#[tokio::test]
async fn automatic_programs_enroll_at_once_and_rule_based_ones_follow_eligibility() {
    let app = TestApp::spawn().await;
    let mut market = app.market("modes").await;
    let owner = market.owner.clone();
    for (slug, mode) in [("auto-mode", "AUTOMATIC"), ("rules-mode", "RULE_BASED")] {
        let (id, v) = app
            .program(
                &owner,
                &market.vendor_id,
                slug,
                json!({ "approvalMode": mode }),
            )
            .await;
        app.publish(&owner, &id, v).await;
        market.program_id = id;
        market.questions = vec![];
        let mut answers = json!({ "answers": [] });
        if mode == "AUTOMATIC" {
            let application = app.applied(&market.partner, &market, answers.take()).await;
            assert_eq!(application["status"], "APPROVED");
            assert_eq!(application["enrollment"]["status"], "ACTIVE");
            assert_eq!(
                application["enrollment"]["tier"]["name"], "Silver",
                "the default tier"
            );
        } else {
            // The program accepts AFFILIATE and AGENCY partners in US and DE.
            let ok = app
                .applied(&market.partner, &market, json!({ "answers": [] }))
                .await;
            assert_eq!(ok["status"], "APPROVED");
            let reseller = app.user("reseller-modes@example.com").await;
            app.partner_profile(
                &reseller,
                "reseller-modes",
                json!({ "partnerTypes": ["RESELLER"] }),
            )
            .await;
            let no = app
                .applied(&reseller, &market, json!({ "answers": [] }))
                .await;
            let no = application(&reseller, &no["id"]).await;
            assert_eq!(
                (no["status"].as_str(), no["rejectionReason"].as_str()),
                (Some("REJECTED"), Some("AUDIENCE"))
            );
            let abroad = app.user("abroad-modes@example.com").await;
            app.partner_profile(&abroad, "abroad-modes", json!({ "countries": ["JP"] }))
                .await;
            let no = app
                .applied(&abroad, &market, json!({ "answers": [] }))
                .await;
            let no = application(&abroad, &no["id"]).await;
            assert_eq!(no["rejectionReason"], "REGION");
            assert!(no["rejectionNote"].as_str().unwrap().contains("countries"));
            assert_eq!(
                no["events"][1],
                json!({ "kind": "REJECTED", "automatic": true })
            );
        }
    }
}

#[tokio::test]
async fn invitations_admit_even_to_invite_only_programs_until_they_expire_or_are_revoked() {
    let app = TestApp::spawn().await;
    let mut market = app.market("invites").await;
    let (id, v) = app
        .program(
            &market.owner,
            &market.vendor_id,
            "secret-club",
            json!({ "visibility": "INVITE_ONLY" }),
        )
        .await;
    app.publish(&market.owner, &id, v).await;
    market.program_id = id.clone();
    market.questions = vec![];
    let invite = |input: Value| {
        let owner = market.owner.clone();
        async move {
            owner
                .gql(
                    "mutation($input: InvitePartnerInput!) { invitePartner(input: $input) {
                        invitation { id code status expiresAt } userErrors { field code } } }",
                    json!({ "input": input }),
                )
                .await
        }
    };

    // Without an invitation the door is shut.
    let response = app
        .apply(&market.partner, &market, json!({ "answers": [] }))
        .await;
    assert_eq!(codes(&response, "applyToProgram"), ["INVITATION_REQUIRED"]);

    // Someone else's invitation does not work for you; yours approves at once.
    let by_email =
        invite(json!({ "programId": id, "email": market.partner_email.to_uppercase() })).await;
    let code = by_email.data("invitePartner")["invitation"]["code"]
        .as_str()
        .unwrap()
        .to_owned();
    let response = app
        .apply(
            &market.other_partner,
            &market,
            json!({ "answers": [], "invitationCode": code }),
        )
        .await;
    assert_eq!(codes(&response, "applyToProgram"), ["INVITATION_INVALID"]);
    let joined = app
        .applied(
            &market.partner,
            &market,
            json!({ "answers": [], "invitationCode": code, "joinSource": "DIRECT_LINK" }),
        )
        .await;
    assert_eq!(joined["status"], "APPROVED");
    let seen = application(&market.partner, &joined["id"]).await;
    assert_eq!(
        seen["joinSource"], "INVITATION",
        "an invitation is the join source"
    );

    // Expired and revoked invitations are refused with their reason; nothing changes.
    let other =
        invite(json!({ "programId": id, "partnerSlug": "other-invites", "expiresInDays": 7 }))
            .await;
    let other = other.data("invitePartner")["invitation"].clone();
    invitation::Entity::update_many()
        .col_expr(
            invitation::Column::ExpiresAt,
            Expr::value(chrono::Utc::now() - chrono::Duration::days(1)),
        )
        .filter(invitation::Column::Code.eq(other["code"].as_str().unwrap()))
        .exec(&app.services.db)
        .await
        .unwrap();
    let before = app.market_snapshot().await;
    let response = app
        .apply(
            &market.other_partner,
            &market,
            json!({ "answers": [], "invitationCode": other["code"] }),
        )
        .await;
    assert_eq!(codes(&response, "applyToProgram"), ["INVITATION_INVALID"]);
    assert!(response.body.to_string().contains("expired"));
    assert_eq!(app.market_snapshot().await, before);

    let fresh = invite(json!({ "programId": id, "partnerSlug": "other-invites" })).await;
    let fresh = fresh.data("invitePartner")["invitation"].clone();
    let revoked = market
        .admin
        .gql(
            "mutation($input: RevokeInvitationInput!) { revokeInvitation(input: $input) { invitation { status } userErrors { code } } }",
            json!({ "input": { "invitationId": fresh["id"] } }),
        )
        .await;
    assert_eq!(
        revoked.data("revokeInvitation")["invitation"]["status"],
        "REVOKED"
    );
    let response = app
        .apply(
            &market.other_partner,
            &market,
            json!({ "answers": [], "invitationCode": fresh["code"] }),
        )
        .await;
    assert_eq!(codes(&response, "applyToProgram"), ["INVITATION_INVALID"]);

    // Bad invitation input.
    for (input, expected) in [
        (json!({ "programId": id }), "REQUIRED"),
        (
            json!({ "programId": id, "email": "not-an-email" }),
            "INVALID",
        ),
        (
            json!({ "programId": id, "partnerSlug": "nobody-here" }),
            "NOT_FOUND",
        ),
        (
            json!({ "programId": id, "email": "a@example.com", "expiresInDays": 0 }),
            "OUT_OF_RANGE",
        ),
    ] {
        let response = invite(input.clone()).await;
        assert_eq!(codes(&response, "invitePartner"), [expected], "{input}");
    }
}

#[tokio::test]
async fn the_reapply_policy_holds_after_a_rejection_or_leaving() {
    let app = TestApp::spawn().await;
    let mut market = app.market("reapply").await;
    // The market's program re-opens 30 days after a rejection.
    let first = app.applied(&market.partner, &market, json!({})).await;
    let rejected = market
        .owner
        .gql(REJECT, json!({ "input": { "applicationId": first["id"], "reason": "INCOMPLETE", "note": "Add your traffic figures" } }))
        .await;
    assert_eq!(
        rejected.data("rejectApplication")["application"]["rejectionNote"],
        "Add your traffic figures"
    );
    let again = app.apply(&market.partner, &market, json!({})).await;
    assert_eq!(codes(&again, "applyToProgram"), ["REAPPLY_LOCKED"]);
    let message = again.data("applyToProgram")["userErrors"][0]["message"]
        .as_str()
        .unwrap()
        .to_owned();
    let reopens = (chrono::Utc::now() + chrono::Duration::days(30))
        .format("%Y-%m-%d")
        .to_string();
    assert!(message.contains(&reopens), "{message}");

    // INSTANT programs take a new application at once; NEVER programs never do.
    for (slug, policy) in [("instant-reapply", "INSTANT"), ("never-reapply", "NEVER")] {
        let (id, v) = app
            .program(
                &market.owner,
                &market.vendor_id,
                slug,
                json!({ "reapplyPolicy": policy }),
            )
            .await;
        app.publish(&market.owner, &id, v).await;
        market.program_id = id;
        market.questions = vec![];
        let first = app
            .applied(&market.partner, &market, json!({ "answers": [] }))
            .await;
        market
            .owner
            .gql(
                REJECT,
                json!({ "input": { "applicationId": first["id"], "reason": "NOT_A_FIT" } }),
            )
            .await
            .data("rejectApplication");
        let again = app
            .apply(&market.partner, &market, json!({ "answers": [] }))
            .await;
        let errors = codes(&again, "applyToProgram");
        if policy == "INSTANT" {
            assert_eq!(errors, Vec::<String>::new());
        } else {
            assert_eq!(errors, ["REAPPLY_LOCKED"]);
        }
    }

    // Leaving counts like a rejection: the 30-day program stays shut for a month.
    let leaver = app.user("leaver-reapply@example.com").await;
    app.partner_profile(&leaver, "leaver-reapply", json!({}))
        .await;
    let (id, v) = app
        .program(&market.owner, &market.vendor_id, "leave-reapply", json!({}))
        .await;
    app.publish(&market.owner, &id, v).await;
    market.program_id = id;
    let applied = app
        .applied(&leaver, &market, json!({ "answers": [] }))
        .await;
    let approved = market
        .owner
        .gql(
            APPROVE,
            json!({ "input": { "applicationId": applied["id"] } }),
        )
        .await;
    let enrollment = approved.data("approveApplication")["application"]["enrollment"]["id"].clone();
    let left = leaver
        .gql(
            "mutation($input: LeaveProgramInput!) { leaveProgram(input: $input) { enrollment { status endReason endedAt } userErrors { code } } }",
            json!({ "input": { "enrollmentId": enrollment, "reason": "Not a fit for my readers" } }),
        )
        .await;
    assert_eq!(left.data("leaveProgram")["enrollment"]["status"], "LEFT");
    let again = app.apply(&leaver, &market, json!({ "answers": [] })).await;
    assert_eq!(codes(&again, "applyToProgram"), ["REAPPLY_LOCKED"]);
}

#[tokio::test]
async fn a_listing_shows_the_newest_application_and_the_newest_partnership_of_the_viewer() {
    let app = TestApp::spawn().await;
    let market = app
        .market_with("relation", json!({ "reapplyPolicy": "INSTANT" }))
        .await;
    let viewer_fields = || async {
        let mine = market
            .partner
            .gql(
                "query($slug: String!) { program(slug: $slug) { viewerApplication { id status } viewerEnrollment { id status } } }",
                json!({ "slug": "program-relation" }),
            )
            .await;
        mine.data("program").clone()
    };
    let first = app.applied(&market.partner, &market, json!({})).await;
    let approved = market
        .owner
        .gql(
            APPROVE,
            json!({ "input": { "applicationId": first["id"] } }),
        )
        .await;
    let enrollment = approved.data("approveApplication")["application"]["enrollment"]["id"].clone();
    let joined = viewer_fields().await;
    assert_eq!(joined["viewerApplication"]["id"], first["id"]);
    assert_eq!(joined["viewerEnrollment"]["id"], enrollment);
    assert_eq!(joined["viewerEnrollment"]["status"], "ACTIVE");
    let left = market
        .partner
        .gql(
            "mutation($input: LeaveProgramInput!) { leaveProgram(input: $input) { enrollment { status } userErrors { code } } }",
            json!({ "input": { "enrollmentId": enrollment, "reason": "Trying again later" } }),
        )
        .await;
    assert_eq!(left.data("leaveProgram")["enrollment"]["status"], "LEFT");
    // Applying again: the new application is the newest, the partnership that ended
    // stays the newest partnership.
    let second = app.applied(&market.partner, &market, json!({})).await;
    assert_ne!(second["id"], first["id"]);
    let reapplied = viewer_fields().await;
    assert_eq!(reapplied["viewerApplication"]["id"], second["id"]);
    assert_eq!(reapplied["viewerApplication"]["status"], "PENDING");
    assert_eq!(reapplied["viewerEnrollment"]["id"], enrollment);
    assert_eq!(reapplied["viewerEnrollment"]["status"], "LEFT");
    // Approved again: the new partnership is the newest.
    let approved = market
        .owner
        .gql(
            APPROVE,
            json!({ "input": { "applicationId": second["id"] } }),
        )
        .await;
    let rejoined = approved.data("approveApplication")["application"]["enrollment"]["id"].clone();
    assert_ne!(rejoined, enrollment);
    let now = viewer_fields().await;
    assert_eq!(now["viewerEnrollment"]["id"], rejoined);
    assert_eq!(now["viewerEnrollment"]["status"], "ACTIVE");
    // Another partner sees none of it.
    let other = market
        .other_partner
        .gql(
            "query($slug: String!) { program(slug: $slug) { viewerApplication { id } viewerEnrollment { id } } }",
            json!({ "slug": "program-relation" }),
        )
        .await;
    assert_eq!(other.data("program")["viewerApplication"], Value::Null);
    assert_eq!(other.data("program")["viewerEnrollment"], Value::Null);
}

#[tokio::test]
async fn withdrawing_and_the_vendors_actions_on_a_partnership_follow_their_states() {
    let app = TestApp::spawn().await;
    let market = app.market("states").await;
    let applied = app.applied(&market.partner, &market, json!({})).await;
    let withdraw = "mutation($input: WithdrawApplicationInput!) { withdrawApplication(input: $input) { application { status } userErrors { code } } }";
    let response = market
        .partner
        .gql(
            withdraw,
            json!({ "input": { "applicationId": applied["id"] } }),
        )
        .await;
    assert_eq!(
        response.data("withdrawApplication")["application"]["status"],
        "WITHDRAWN"
    );
    let response = market
        .partner
        .gql(
            withdraw,
            json!({ "input": { "applicationId": applied["id"] } }),
        )
        .await;
    assert_eq!(
        codes(&response, "withdrawApplication"),
        ["INVALID_TRANSITION"]
    );

    // Withdrawn: applying again is fine whatever the policy.
    let applied = app.applied(&market.partner, &market, json!({})).await;
    let response = market
        .owner
        .gql(
            APPROVE,
            json!({ "input": { "applicationId": applied["id"] } }),
        )
        .await;
    let enrollment = response.data("approveApplication")["application"]["enrollment"]["id"].clone();
    let act = |name: &'static str, reason: Option<&'static str>| {
        let owner = market.owner.clone();
        let enrollment = enrollment.clone();
        async move {
            owner
                .gql(
                    &format!("mutation($input: EnrollmentActionInput!) {{ {name}(input: $input) {{ enrollment {{ status }} userErrors {{ code }} }} }}"),
                    json!({ "input": { "enrollmentId": enrollment, "reason": reason } }),
                )
                .await
        }
    };
    assert_eq!(
        codes(
            &act("reinstateEnrollment", None).await,
            "reinstateEnrollment"
        ),
        ["INVALID_TRANSITION"]
    );
    assert_eq!(
        act("suspendEnrollment", Some("Checking traffic"))
            .await
            .data("suspendEnrollment")["enrollment"]["status"],
        "SUSPENDED"
    );
    assert_eq!(
        act("reinstateEnrollment", None)
            .await
            .data("reinstateEnrollment")["enrollment"]["status"],
        "ACTIVE"
    );
    assert_eq!(
        codes(
            &act("terminateEnrollment", None).await,
            "terminateEnrollment"
        ),
        ["REQUIRED"]
    );
    assert_eq!(
        act("terminateEnrollment", Some("Brand misuse"))
            .await
            .data("terminateEnrollment")["enrollment"]["status"],
        "TERMINATED"
    );
    assert_eq!(
        codes(&act("suspendEnrollment", None).await, "suspendEnrollment"),
        ["INVALID_TRANSITION"]
    );
    let seen = application(&market.partner, &applied["id"]).await;
    let kinds: Vec<&str> = seen["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "SUBMITTED",
            "APPROVED",
            "ENROLLED",
            "SUSPENDED",
            "REINSTATED",
            "TERMINATED"
        ]
    );
}

#[tokio::test]
async fn the_same_idempotency_key_replays_the_first_answer() {
    let app = TestApp::spawn().await;
    let market = app.market("replay").await;
    let first = app
        .applied(
            &market.partner,
            &market,
            json!({ "idempotencyKey": "apply-1" }),
        )
        .await;
    let second = app
        .applied(
            &market.partner,
            &market,
            json!({ "idempotencyKey": "apply-1" }),
        )
        .await;
    assert_eq!(first["id"], second["id"]);
    assert_eq!(app.count("application").await, 1);
    let other = app
        .apply(
            &market.partner,
            &market,
            json!({ "idempotencyKey": "apply-2" }),
        )
        .await;
    assert_eq!(codes(&other, "applyToProgram"), ["ALREADY_APPLIED"]);
}

#[tokio::test]
async fn bulk_decisions_answer_per_application_and_refuse_whole_when_one_is_foreign() {
    let app = TestApp::spawn().await;
    let market = app.market("bulk").await;
    let mut ids = Vec::new();
    for i in 0..3 {
        let partner = app.user(&format!("bulk-{i}@example.com")).await;
        app.partner_profile(&partner, &format!("bulk-partner-{i}"), json!({}))
            .await;
        ids.push(app.applied(&partner, &market, json!({})).await["id"].clone());
    }
    // One of them is already decided: it gets its own user error, the others go through.
    market
        .owner
        .gql(
            REJECT,
            json!({ "input": { "applicationId": ids[0], "reason": "REGION" } }),
        )
        .await
        .data("rejectApplication");
    let bulk = "mutation($input: BulkApproveApplicationsInput!) { bulkApproveApplications(input: $input) {
        results { applicationId application { status } userErrors { code } } userErrors { field code } } }";
    let response = market
        .admin
        .gql(bulk, json!({ "input": { "applicationIds": ids } }))
        .await;
    let results = response.data("bulkApproveApplications")["results"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(results.len(), 3);
    assert_eq!(
        results[0]["userErrors"],
        json!([{ "code": "CONFLICT" }]),
        "already decided"
    );
    assert_eq!(results[1]["application"]["status"], "APPROVED");
    assert_eq!(results[2]["application"]["status"], "APPROVED");
    assert_eq!(app.count("enrollment").await, 2);

    // 101 ids, or an id of another vendor: refused whole, nothing changes.
    let other = app.market("bulk-other").await;
    let foreign = app.applied(&other.partner, &other, json!({})).await["id"].clone();
    let pending = app.applied(&market.partner, &market, json!({})).await["id"].clone();
    let before = app.market_snapshot().await;
    let too_many: Vec<Value> = (0..101).map(|_| pending.clone()).collect();
    let response = market
        .admin
        .gql(bulk, json!({ "input": { "applicationIds": too_many } }))
        .await;
    assert_eq!(
        codes(&response, "bulkApproveApplications"),
        ["OUT_OF_RANGE"]
    );
    let response = market
        .admin
        .gql(
            bulk,
            json!({ "input": { "applicationIds": [pending, foreign] } }),
        )
        .await;
    assert_eq!(response.error_code(), "NOT_FOUND");
    assert_eq!(app.market_snapshot().await, before);
}

#[tokio::test]
async fn bad_input_gets_its_typed_error_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let market = app.market("bad").await;
    let pending = app.applied(&market.partner, &market, json!({})).await;
    let withdrawn = app.applied(&market.other_partner, &market, json!({})).await;
    market
        .other_partner
        .gql(
            "mutation($input: WithdrawApplicationInput!) { withdrawApplication(input: $input) { userErrors { code } } }",
            json!({ "input": { "applicationId": withdrawn["id"] } }),
        )
        .await
        .data("withdrawApplication");
    // A draft, a paused and an archived program of the same vendor.
    let owner = &market.owner;
    let (draft, _) = app
        .program(owner, &market.vendor_id, "bad-draft", json!({}))
        .await;
    let mut closed = Vec::new();
    for (slug, step) in [
        ("bad-paused", "pauseProgram"),
        ("bad-archived", "archiveProgram"),
    ] {
        let (id, v) = app.program(owner, &market.vendor_id, slug, json!({})).await;
        let v = app.publish(owner, &id, v).await;
        owner
            .gql(
                &format!("mutation($input: ProgramVersionInput!) {{ {step}(input: $input) {{ userErrors {{ code }} }} }}"),
                json!({ "input": { "id": id, "expectedVersion": v } }),
            )
            .await
            .data(step);
        closed.push(id);
    }
    let q = &market.questions;
    let fresh = app.user("fresh-bad@example.com").await;
    app.partner_profile(&fresh, "fresh-bad", json!({})).await;
    let no_profile = app.user("noprofile-bad@example.com").await;
    let other_tier = app.market("bad-tiers").await.tiers[0].1.clone();

    let before = app.market_snapshot().await;
    // Applying: (who, extra input, expected user error code or top-level code).
    let cases: Vec<(&tests::Client, Value, &str)> = vec![
        (&market.partner, json!({}), "ALREADY_APPLIED"),
        (
            &fresh,
            json!({ "programId": draft, "answers": [] }),
            "NOT_FOUND",
        ),
        (
            &fresh,
            json!({ "programId": closed[0], "answers": [] }),
            "NOT_ACCEPTING",
        ),
        (
            &fresh,
            json!({ "programId": closed[1], "answers": [] }),
            "NOT_ACCEPTING",
        ),
        (
            &fresh,
            json!({ "answers": [{ "questionId": q[2], "values": ["Europe"] }] }),
            "REQUIRED",
        ),
        (
            &fresh,
            json!({ "answers": [
            { "questionId": q[0], "values": ["Blog"] }, { "questionId": q[2], "values": ["Antarctica"] }] }),
            "INVALID",
        ),
        (
            &fresh,
            json!({ "answers": [
            { "questionId": q[0], "values": ["Blog"] }, { "questionId": q[1], "values": ["not a url"] },
            { "questionId": q[2], "values": ["Europe"] }] }),
            "INVALID",
        ),
        (&fresh, json!({ "pitch": "x".repeat(20_000) }), "TOO_LONG"),
        (&no_profile, json!({}), "REQUIRED"),
    ];
    for (who, extra, expected) in cases {
        let response = app.apply(who, &market, extra.clone()).await;
        if expected == "NOT_FOUND" {
            assert_eq!(response.error_code(), "NOT_FOUND", "{extra}");
        } else {
            assert!(
                codes(&response, "applyToProgram").contains(&expected.to_owned()),
                "{extra}: {:#}",
                response.body
            );
        }
    }
    // Deciding.
    let response = market
        .owner
        .gql(
            APPROVE,
            json!({ "input": { "applicationId": withdrawn["id"] } }),
        )
        .await;
    assert_eq!(
        codes(&response, "approveApplication"),
        ["INVALID_TRANSITION"]
    );
    let response = market
        .owner
        .gql(
            REJECT,
            json!({ "input": { "applicationId": pending["id"] } }),
        )
        .await;
    assert_eq!(codes(&response, "rejectApplication"), ["REQUIRED"]);
    let response = market
        .owner
        .gql(
            REJECT,
            json!({ "input": { "applicationId": pending["id"], "reason": "OTHER" } }),
        )
        .await;
    assert_eq!(codes(&response, "rejectApplication"), ["REQUIRED"]);
    let response = market
        .owner
        .gql(
            APPROVE,
            json!({ "input": { "applicationId": pending["id"], "expectedVersion": 7 } }),
        )
        .await;
    assert_eq!(codes(&response, "approveApplication"), ["CONFLICT"]);
    let response = market
        .owner
        .gql(
            APPROVE,
            json!({ "input": { "applicationId": pending["id"], "tierId": other_tier } }),
        )
        .await;
    assert_eq!(codes(&response, "approveApplication"), ["NOT_FOUND"]);
    assert_eq!(app.market_snapshot().await, before, "a refused call wrote");

    // A partner who is also an admin of the vendor cannot approve its own application.
    let both = app.user("both-bad@example.com").await;
    app.partner_profile(&both, "both-bad", json!({})).await;
    app.add_member(
        &market.owner,
        &market.vendor_id,
        "both-bad@example.com",
        "ADMIN",
    )
    .await;
    let own = app.applied(&both, &market, json!({})).await;
    let before = app.market_snapshot().await;
    let response = both
        .gql(APPROVE, json!({ "input": { "applicationId": own["id"] } }))
        .await;
    assert_eq!(response.error_code(), "FORBIDDEN");
    assert_eq!(app.market_snapshot().await, before);
}

#[tokio::test]
async fn a_hundred_concurrent_applications_make_exactly_one() {
    let app = TestApp::spawn().await;
    let market = app.market("race").await;
    let mut tasks = Vec::new();
    for _ in 0..100 {
        let (client, input) = (
            market.partner.clone(),
            json!({
                "programId": market.program_id,
                "answers": TestApp::good_answers(&market.questions),
                "joinSource": "MARKETPLACE_BROWSE"
            }),
        );
        tasks.push(tokio::spawn(async move {
            client
                .gql(tests::market::APPLY, json!({ "input": input }))
                .await
        }));
    }
    let (mut created, mut duplicates) = (0, 0);
    for task in tasks {
        let response = task.await.unwrap();
        match codes(&response, "applyToProgram").as_slice() {
            [] => created += 1,
            [code] if code == "ALREADY_APPLIED" => duplicates += 1,
            other => panic!("unexpected answer {other:?}: {:#}", response.body),
        }
    }
    assert_eq!((created, duplicates), (1, 99));
    assert_eq!(app.count("application").await, 1);
    assert_eq!(app.count("application_event").await, 1);
}

#[tokio::test]
async fn fifty_concurrent_decisions_leave_exactly_one_winner() {
    let app = TestApp::spawn().await;
    let market = app.market("decide-race").await;
    let applied = app.applied(&market.partner, &market, json!({})).await;
    let mut tasks = Vec::new();
    for i in 0..50 {
        let client = if i % 2 == 0 {
            market.owner.clone()
        } else {
            market.admin.clone()
        };
        let (document, input, field) = if i % 3 == 0 {
            (
                REJECT,
                json!({ "applicationId": applied["id"], "reason": "NOT_A_FIT" }),
                "rejectApplication",
            )
        } else {
            (
                APPROVE,
                json!({ "applicationId": applied["id"] }),
                "approveApplication",
            )
        };
        tasks.push(tokio::spawn(async move {
            (field, client.gql(document, json!({ "input": input })).await)
        }));
    }
    let (mut won, mut conflicts, mut winner) = (0, 0, "");
    for task in tasks {
        let (field, response) = task.await.unwrap();
        match codes(&response, field).as_slice() {
            [] => {
                won += 1;
                winner = field;
            }
            [code] if code == "CONFLICT" => conflicts += 1,
            other => panic!("unexpected answer {other:?}: {:#}", response.body),
        }
    }
    assert_eq!((won, conflicts), (1, 49));
    let seen = application(&market.owner, &applied["id"]).await;
    let enrollments = app.count("enrollment").await;
    if winner == "approveApplication" {
        assert_eq!(
            (seen["status"].as_str(), enrollments),
            (Some("APPROVED"), 1)
        );
    } else {
        assert_eq!(
            (seen["status"].as_str(), enrollments),
            (Some("REJECTED"), 0)
        );
    }
    assert_eq!(
        seen["events"].as_array().unwrap().len(),
        if winner == "approveApplication" { 3 } else { 2 }
    );
}

#[tokio::test]
async fn the_database_itself_refuses_a_second_live_application() {
    use entity::application;
    use sea_orm::{ActiveModelTrait, ActiveValue::Set, IntoActiveModel};
    let app = TestApp::spawn().await;
    let market = app.market("index").await;
    app.applied(&market.partner, &market, json!({})).await;
    let row = application::Entity::find()
        .one(&app.services.db)
        .await
        .unwrap()
        .unwrap();
    // A twin written behind the code's back, as a racing request would.
    let mut twin = row.clone().into_active_model();
    twin.id = sea_orm::NotSet;
    twin.idempotency_key = Set(None);
    let refused = twin.clone().insert(&app.services.db).await;
    assert!(refused.is_err(), "a second live application was stored");
    // Once the first is no longer live, the same row is accepted.
    twin.live = Set(false);
    twin.status = Set(application::ApplicationStatus::Withdrawn);
    twin.insert(&app.services.db).await.unwrap();
}

#[tokio::test]
async fn a_nested_review_queue_page_costs_a_constant_number_of_sql_statements() {
    // Counts the resolvers' statements: the rate limits' own (one per lease) stay out.
    let app = TestApp::spawn_with(&["--rate-limits", "false"]).await;
    let market = app.market("queue").await;
    for i in 0..25 {
        let partner = app.user(&format!("queue-{i}@example.com")).await;
        app.partner_profile(&partner, &format!("queue-partner-{i}"), json!({}))
            .await;
        let applied = app.applied(&partner, &market, json!({})).await;
        if i % 2 == 0 {
            market
                .owner
                .gql(
                    APPROVE,
                    json!({ "input": { "applicationId": applied["id"] } }),
                )
                .await
                .data("approveApplication");
        }
    }
    let nested = "query($id: ID!, $first: Int) { applications(programId: $id, first: $first) { edges { node {
        status answers { prompt values } applicant { slug displayName }
        program { name vendor { name } } enrollment { referralCode tier { name } } events { kind } } } } }";
    let mut counts = Vec::new();
    for first in [5, 20] {
        let before = app.services.statements.get();
        let response = market
            .member
            .gql(nested, json!({ "id": market.program_id, "first": first }))
            .await;
        assert_eq!(
            response.data("applications")["edges"]
                .as_array()
                .unwrap()
                .len(),
            first
        );
        counts.push(app.services.statements.get() - before);
    }
    eprintln!("statements per review-queue page (5, 20 items): {counts:?}");
    assert_eq!(
        counts[0], counts[1],
        "statements grow with the page: {counts:?}"
    );
    assert!(counts[1] <= 9, "{counts:?}");
}
