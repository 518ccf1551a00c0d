//! Every query and mutation of applications, tried by every role: anonymous, the applying
//! partner, another partner, another vendor's owner, the vendor's `MEMBER`, `ADMIN` and
//! `OWNER`, and a platform admin. A refusal must carry its code and leave every row as it
//! was; a foreign ID answers exactly like a missing one.

use serde_json::{Value, json};
use tests::{
    Client, TestApp,
    market::{APPROVE, Market},
};

#[derive(Clone, Copy, Debug)]
enum Role {
    Anonymous,
    Applicant,
    OtherPartner,
    OtherVendor,
    Member,
    Admin,
    Owner,
    PlatformAdmin,
}

const ROLES: [Role; 8] = [
    Role::Anonymous,
    Role::Applicant,
    Role::OtherPartner,
    Role::OtherVendor,
    Role::Member,
    Role::Admin,
    Role::Owner,
    Role::PlatformAdmin,
];

fn client(app: &TestApp, market: &Market, role: Role) -> Client {
    match role {
        Role::Anonymous => app.anonymous(),
        Role::Applicant => market.partner.clone(),
        Role::OtherPartner => market.other_partner.clone(),
        Role::OtherVendor => market.outsider.clone(),
        Role::Member => market.member.clone(),
        Role::Admin => market.admin.clone(),
        Role::Owner => market.owner.clone(),
        Role::PlatformAdmin => market.platform_admin.clone(),
    }
}

#[derive(Clone, Copy, Debug)]
enum Outcome {
    /// Succeeds and changes something.
    Ok,
    /// A top-level error with this code; nothing changes.
    Error(&'static str),
    /// A user error with this code; nothing changes.
    UserError(&'static str),
}

use Outcome::{Error, Ok, UserError};
const UNAUTHENTICATED: Outcome = Error("UNAUTHENTICATED");
const FORBIDDEN: Outcome = Error("FORBIDDEN");
const NOT_FOUND: Outcome = Error("NOT_FOUND");

/// Decisions: the vendor's managers only; the applicant can see but not decide; others
/// cannot see it at all.
const DECIDERS: [Outcome; 8] = [
    UNAUTHENTICATED,
    FORBIDDEN,
    NOT_FOUND,
    NOT_FOUND,
    FORBIDDEN,
    Ok,
    Ok,
    FORBIDDEN,
];
/// The partner's own actions on its application or partnership.
const APPLICANT_ONLY: [Outcome; 8] = [
    UNAUTHENTICATED,
    Ok,
    NOT_FOUND,
    NOT_FOUND,
    FORBIDDEN,
    FORBIDDEN,
    FORBIDDEN,
    FORBIDDEN,
];

/// What exists before the call.
#[derive(Clone, Copy, Debug)]
enum Setup {
    Plain,
    /// The applicant has a pending application.
    Pending,
    /// The applicant is enrolled.
    Enrolled,
    /// … and suspended.
    Suspended,
    /// The applicant is invited (by slug).
    Invited,
}

struct Ids {
    application: Value,
    enrollment: Value,
    invitation: Value,
}

async fn prepare(app: &TestApp, market: &Market, setup: Setup) -> Ids {
    let mut ids = Ids {
        application: Value::Null,
        enrollment: Value::Null,
        invitation: Value::Null,
    };
    if matches!(setup, Setup::Pending | Setup::Enrolled | Setup::Suspended) {
        ids.application = app.applied(&market.partner, market, json!({})).await["id"].clone();
    }
    if matches!(setup, Setup::Enrolled | Setup::Suspended) {
        let response = market
            .owner
            .gql(
                APPROVE,
                json!({ "input": { "applicationId": ids.application } }),
            )
            .await;
        ids.enrollment =
            response.data("approveApplication")["application"]["enrollment"]["id"].clone();
        assert!(ids.enrollment.is_string(), "{:#}", response.body);
    }
    if matches!(setup, Setup::Suspended) {
        let response = market
            .owner
            .gql(
                "mutation($input: EnrollmentActionInput!) { suspendEnrollment(input: $input) { userErrors { code } } }",
                json!({ "input": { "enrollmentId": ids.enrollment } }),
            )
            .await;
        assert_eq!(response.data("suspendEnrollment")["userErrors"], json!([]));
    }
    if matches!(setup, Setup::Invited) {
        let response = market
            .owner
            .gql(
                "mutation($input: InvitePartnerInput!) { invitePartner(input: $input) { invitation { id } userErrors { code } } }",
                json!({ "input": { "programId": market.program_id, "partnerSlug": market.partner_slug } }),
            )
            .await;
        ids.invitation = response.data("invitePartner")["invitation"]["id"].clone();
    }
    ids
}

/// Runs mutation `name(input: …)` as every role, each against a fresh market.
async fn check(
    name: &str,
    input_type: &str,
    setup: Setup,
    input: impl Fn(&Market, &Ids) -> Value,
    expected: [Outcome; 8],
) {
    let app = TestApp::spawn().await;
    let document = format!(
        "mutation($input: {input_type}!) {{ {name}(input: $input) {{ userErrors {{ field code message }} }} }}"
    );
    for (i, (role, expected)) in ROLES.into_iter().zip(expected).enumerate() {
        let market = app.market(&format!("{}{i}", name.to_lowercase())).await;
        let ids = prepare(&app, &market, setup).await;
        let before = app.market_snapshot().await;
        let response = client(&app, &market, role)
            .gql(&document, json!({ "input": input(&market, &ids) }))
            .await;
        let after = app.market_snapshot().await;
        match expected {
            Ok => {
                assert_eq!(response.user_errors(name), vec![], "{name} as {role:?}");
                assert_ne!(after, before, "{name} as {role:?} changed nothing");
            }
            Error(code) => {
                assert_eq!(
                    response.error_code(),
                    code,
                    "{name} as {role:?}: {}",
                    response.body
                );
                assert_eq!(after, before, "{name} as {role:?} was refused but wrote");
            }
            UserError(code) => {
                let errors = response.user_errors(name);
                assert!(
                    errors.iter().any(|(_, c)| c == code),
                    "{name} as {role:?}: expected {code}, got {:#}",
                    response.body
                );
                assert_eq!(after, before, "{name} as {role:?} was refused but wrote");
            }
        }
    }
}

#[tokio::test]
async fn creating_a_partner_profile_needs_an_account_without_one() {
    check(
        "createPartnerProfile",
        "CreatePartnerProfileInput",
        Setup::Plain,
        |m, _| json!({ "slug": format!("fresh-{}", m.partner_slug), "displayName": "Fresh", "partnerTypes": ["AGENCY"] }),
        [
            UNAUTHENTICATED,
            UserError("DUPLICATE"),
            UserError("DUPLICATE"),
            Ok,
            Ok,
            Ok,
            Ok,
            Ok,
        ],
    )
    .await;
}

#[tokio::test]
async fn a_partner_profile_is_changed_by_its_owner_only() {
    check(
        "updatePartnerProfile",
        "UpdatePartnerProfileInput",
        Setup::Plain,
        |_, _| json!({ "expectedVersion": 1, "displayName": "Renamed" }),
        [
            UNAUTHENTICATED,
            Ok,
            Ok,
            NOT_FOUND,
            NOT_FOUND,
            NOT_FOUND,
            NOT_FOUND,
            NOT_FOUND,
        ],
    )
    .await;
}

#[tokio::test]
async fn application_forms_are_set_by_the_vendors_managers() {
    check(
        "setApplicationQuestions",
        "SetApplicationQuestionsInput",
        Setup::Plain,
        |m, _| json!({ "programId": m.program_id, "questions": [{ "prompt": "Why us?", "kind": "LONG_TEXT" }] }),
        [
            UNAUTHENTICATED,
            FORBIDDEN,
            FORBIDDEN,
            FORBIDDEN,
            FORBIDDEN,
            Ok,
            Ok,
            FORBIDDEN,
        ],
    )
    .await;
}

#[tokio::test]
async fn applying_needs_a_partner_profile() {
    let required = UserError("REQUIRED");
    check(
        "applyToProgram",
        "ApplyToProgramInput",
        Setup::Plain,
        |m, _| {
            json!({ "programId": m.program_id, "answers": TestApp::good_answers(&m.questions),
                "joinSource": "DIRECT_LINK" })
        },
        [
            UNAUTHENTICATED,
            Ok,
            Ok,
            required,
            required,
            required,
            required,
            required,
        ],
    )
    .await;
}

#[tokio::test]
async fn only_the_applicant_withdraws() {
    check(
        "withdrawApplication",
        "WithdrawApplicationInput",
        Setup::Pending,
        |_, ids| json!({ "applicationId": ids.application }),
        APPLICANT_ONLY,
    )
    .await;
}

#[tokio::test]
async fn only_managers_approve() {
    check(
        "approveApplication",
        "ApproveApplicationInput",
        Setup::Pending,
        |_, ids| json!({ "applicationId": ids.application }),
        DECIDERS,
    )
    .await;
}

#[tokio::test]
async fn only_managers_reject() {
    check(
        "rejectApplication",
        "RejectApplicationInput",
        Setup::Pending,
        |_, ids| json!({ "applicationId": ids.application, "reason": "NOT_A_FIT" }),
        DECIDERS,
    )
    .await;
}

#[tokio::test]
async fn only_managers_decide_in_bulk() {
    check(
        "bulkApproveApplications",
        "BulkApproveApplicationsInput",
        Setup::Pending,
        |_, ids| json!({ "applicationIds": [ids.application] }),
        DECIDERS,
    )
    .await;
    check(
        "bulkRejectApplications",
        "BulkRejectApplicationsInput",
        Setup::Pending,
        |_, ids| json!({ "applicationIds": [ids.application], "reason": "REGION" }),
        DECIDERS,
    )
    .await;
}

#[tokio::test]
async fn only_the_partner_leaves() {
    check(
        "leaveProgram",
        "LeaveProgramInput",
        Setup::Enrolled,
        |_, ids| json!({ "enrollmentId": ids.enrollment, "reason": "Moving on" }),
        APPLICANT_ONLY,
    )
    .await;
}

#[tokio::test]
async fn only_managers_suspend_reinstate_and_terminate() {
    check(
        "suspendEnrollment",
        "EnrollmentActionInput",
        Setup::Enrolled,
        |_, ids| json!({ "enrollmentId": ids.enrollment }),
        DECIDERS,
    )
    .await;
    check(
        "reinstateEnrollment",
        "EnrollmentActionInput",
        Setup::Suspended,
        |_, ids| json!({ "enrollmentId": ids.enrollment }),
        DECIDERS,
    )
    .await;
    check(
        "terminateEnrollment",
        "EnrollmentActionInput",
        Setup::Enrolled,
        |_, ids| json!({ "enrollmentId": ids.enrollment, "reason": "Brand misuse" }),
        DECIDERS,
    )
    .await;
}

#[tokio::test]
async fn only_managers_invite_and_revoke() {
    check(
        "invitePartner",
        "InvitePartnerInput",
        Setup::Plain,
        |m, _| json!({ "programId": m.program_id, "email": "someone@example.com" }),
        [
            UNAUTHENTICATED,
            FORBIDDEN,
            FORBIDDEN,
            FORBIDDEN,
            FORBIDDEN,
            Ok,
            Ok,
            FORBIDDEN,
        ],
    )
    .await;
    check(
        "revokeInvitation",
        "RevokeInvitationInput",
        Setup::Invited,
        |_, ids| json!({ "invitationId": ids.invitation }),
        // The invited partner sees its invitation, so it is refused, not told "missing".
        DECIDERS,
    )
    .await;
}

/// Reads: who sees a program's queue, partnerships and invitations, and whose objects
/// `node` returns.
#[tokio::test]
async fn reads_show_each_role_only_its_own_side() {
    let app = TestApp::spawn().await;
    let market = app.market("reads").await;
    let ids = prepare(&app, &market, Setup::Enrolled).await;
    let invited = app.market("reads-invited").await;
    let invitation = prepare(&app, &invited, Setup::Invited).await.invitation;
    let team = [false, false, false, false, true, true, true, true];
    for (role, sees) in ROLES.into_iter().zip(team) {
        let c = client(&app, &market, role);
        for (field, document) in [
            (
                "applications",
                "query($id: ID!) { applications(programId: $id) { edges { node { id applicant { slug } answers { prompt values } } } } }",
            ),
            (
                "enrollments",
                "query($id: ID!) { enrollments(programId: $id) { edges { node { id referralCode partner { slug } } } } }",
            ),
            (
                "invitations",
                "query($id: ID!) { invitations(programId: $id) { edges { node { id code } } } }",
            ),
        ] {
            let response = c.gql(document, json!({ "id": market.program_id })).await;
            match role {
                Role::Anonymous => assert_eq!(response.error_code(), "UNAUTHENTICATED"),
                _ if sees => {
                    let edges = response.data(field)["edges"].as_array().unwrap().len();
                    assert_eq!(
                        edges,
                        usize::from(field != "invitations"),
                        "{field} as {role:?}"
                    );
                }
                _ => assert_eq!(response.error_code(), "NOT_FOUND", "{field} as {role:?}"),
            }
        }
        let response = c
            .gql(
                "query($ids: [ID!]!) { nodes(ids: $ids) { id } }",
                json!({ "ids": [ids.application, ids.enrollment, market.partner_id] }),
            )
            .await;
        let visible = response
            .data("nodes")
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| !n.is_null())
            .count();
        let expected = match role {
            Role::Applicant => 3,
            _ if sees => 3,
            _ => 0,
        };
        assert_eq!(visible, expected, "nodes as {role:?}");
        let mine = c
            .gql("{ myApplications { edges { node { id } } } }", json!({}))
            .await;
        match role {
            Role::Anonymous => assert_eq!(mine.error_code(), "UNAUTHENTICATED"),
            Role::Applicant => assert_eq!(
                mine.data("myApplications")["edges"]
                    .as_array()
                    .unwrap()
                    .len(),
                1
            ),
            _ => assert_eq!(mine.data("myApplications")["edges"], json!([])),
        }
    }
    // An invitation is visible to the invited partner and the team, nobody else.
    for (role, sees) in ROLES
        .into_iter()
        .zip([false, true, false, false, true, true, true, true])
    {
        let response = client(&app, &invited, role)
            .gql(
                "query($id: ID!) { node(id: $id) { id } }",
                json!({ "id": invitation }),
            )
            .await;
        assert_eq!(
            !response.data("node").is_null(),
            sees,
            "invitation as {role:?}"
        );
    }
}
