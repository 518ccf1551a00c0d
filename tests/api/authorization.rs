//! Every mutation of the listings, tried by every role: anonymous, a partner (a user on no
//! team), the owner of another vendor, and the vendor's `MEMBER`, `ADMIN` and `OWNER`.
//! A refusal must carry its code and leave every row as it was; a success must change
//! something.

use serde_json::{Value, json};
use tests::{Client, TestApp, fixtures::World};

#[derive(Clone, Copy, Debug)]
enum Role {
    Anonymous,
    Partner,
    OtherVendor,
    Member,
    Admin,
    Owner,
}

const ROLES: [Role; 6] = [
    Role::Anonymous,
    Role::Partner,
    Role::OtherVendor,
    Role::Member,
    Role::Admin,
    Role::Owner,
];

fn client(app: &TestApp, world: &World, role: Role) -> Client {
    match role {
        Role::Anonymous => app.anonymous(),
        Role::Partner => world.partner.clone(),
        Role::OtherVendor => world.outsider.clone(),
        Role::Member => world.member.clone(),
        Role::Admin => world.admin.clone(),
        Role::Owner => world.owner.clone(),
    }
}

const OK: Option<&str> = None;
const UNAUTHENTICATED: Option<&str> = Some("UNAUTHENTICATED");
const FORBIDDEN: Option<&str> = Some("FORBIDDEN");
const NOT_FOUND: Option<&str> = Some("NOT_FOUND");

/// For managers only, on an object outsiders can see (vendors, published programs).
const MANAGERS_ON_VISIBLE: [Option<&str>; 6] =
    [UNAUTHENTICATED, FORBIDDEN, FORBIDDEN, FORBIDDEN, OK, OK];
/// For managers only, on an object outsiders cannot see (drafts, team memberships).
const MANAGERS_ON_HIDDEN: [Option<&str>; 6] =
    [UNAUTHENTICATED, NOT_FOUND, NOT_FOUND, FORBIDDEN, OK, OK];

/// Runs `name(input: …)` (whose input is `input_type`) as every role.
async fn check(
    name: &str,
    input_type: &str,
    input: impl Fn(&World, &str) -> Value,
    expected: [Option<&str>; 6],
) {
    let app = TestApp::spawn().await;
    let document = format!(
        "mutation($input: {input_type}!) {{ {name}(input: $input) {{ userErrors {{ field code message }} }} }}"
    );
    for (role, expected) in ROLES.into_iter().zip(expected) {
        let tag = format!("{}{:?}", name.to_lowercase(), role).to_lowercase();
        let world = app.world(&tag).await;
        let before = app.listing_snapshot().await;
        let response = client(&app, &world, role)
            .gql(&document, json!({ "input": input(&world, &tag) }))
            .await;
        match expected {
            None => {
                assert_eq!(response.user_errors(name), vec![], "{name} as {role:?}");
                assert_ne!(
                    app.listing_snapshot().await,
                    before,
                    "{name} as {role:?} changed nothing"
                );
            }
            Some(code) => {
                assert_eq!(
                    response.error_code(),
                    code,
                    "{name} as {role:?}: {}",
                    response.body
                );
                assert_eq!(
                    app.listing_snapshot().await,
                    before,
                    "{name} as {role:?} was refused but wrote"
                );
            }
        }
    }
}

#[tokio::test]
async fn create_vendor_needs_only_an_account() {
    check(
        "createVendor",
        "CreateVendorInput",
        |_, tag| json!({ "slug": format!("new-{tag}"), "name": "New" }),
        [UNAUTHENTICATED, OK, OK, OK, OK, OK],
    )
    .await;
}

#[tokio::test]
async fn update_vendor_is_for_its_managers() {
    check(
        "updateVendor",
        "UpdateVendorInput",
        |w, _| json!({ "id": w.vendor_id, "expectedVersion": 1, "name": "Renamed" }),
        MANAGERS_ON_VISIBLE,
    )
    .await;
}

#[tokio::test]
async fn add_vendor_member_is_for_its_managers() {
    check(
        "addVendorMember",
        "AddVendorMemberInput",
        |w, _| json!({ "vendorId": w.vendor_id, "email": w.extra_email, "role": "MEMBER" }),
        MANAGERS_ON_VISIBLE,
    )
    .await;
}

#[tokio::test]
async fn change_vendor_member_role_is_for_its_managers() {
    check(
        "changeVendorMemberRole",
        "ChangeVendorMemberRoleInput",
        |w, _| json!({ "memberId": w.target_member_id, "role": "ADMIN" }),
        MANAGERS_ON_HIDDEN,
    )
    .await;
}

#[tokio::test]
async fn remove_vendor_member_is_for_its_managers() {
    check(
        "removeVendorMember",
        "RemoveVendorMemberInput",
        |w, _| json!({ "memberId": w.target_member_id }),
        MANAGERS_ON_HIDDEN,
    )
    .await;
}

#[tokio::test]
async fn create_program_is_for_the_vendors_managers() {
    check(
        "createProgram",
        "CreateProgramInput",
        |w, tag| tests::fixtures::program_input(&w.vendor_id, &format!("new-{tag}")),
        MANAGERS_ON_VISIBLE,
    )
    .await;
}

#[tokio::test]
async fn update_program_on_a_draft_is_for_managers_and_hidden_from_outsiders() {
    check(
        "updateProgram",
        "UpdateProgramInput",
        |w, _| json!({ "id": w.draft_program.0, "expectedVersion": w.draft_program.1, "name": "Renamed" }),
        MANAGERS_ON_HIDDEN,
    )
    .await;
}

#[tokio::test]
async fn update_program_on_a_published_program_is_forbidden_to_outsiders() {
    check(
        "updateProgram",
        "UpdateProgramInput",
        |w, _| json!({ "id": w.published_program.0, "expectedVersion": w.published_program.1, "tagline": "Changed" }),
        MANAGERS_ON_VISIBLE,
    )
    .await;
}

#[tokio::test]
async fn set_program_terms_is_for_managers() {
    check(
        "setProgramTerms",
        "SetProgramTermsInput",
        |w, _| {
            json!({ "id": w.draft_program.0, "expectedVersion": w.draft_program.1, "tiers": [], "commissionRules": [
                { "event": "SALE", "model": "PERCENTAGE", "rate": "5", "duration": "ONE_TIME" }] })
        },
        MANAGERS_ON_HIDDEN,
    )
    .await;
}

#[tokio::test]
async fn publish_program_is_for_managers() {
    check(
        "publishProgram",
        "ProgramVersionInput",
        |w, _| json!({ "id": w.draft_program.0, "expectedVersion": w.draft_program.1 }),
        MANAGERS_ON_HIDDEN,
    )
    .await;
}

#[tokio::test]
async fn pause_program_is_for_managers() {
    check(
        "pauseProgram",
        "ProgramVersionInput",
        |w, _| json!({ "id": w.published_program.0, "expectedVersion": w.published_program.1 }),
        MANAGERS_ON_VISIBLE,
    )
    .await;
}

#[tokio::test]
async fn archive_program_is_for_managers() {
    check(
        "archiveProgram",
        "ProgramVersionInput",
        |w, _| json!({ "id": w.draft_program.0, "expectedVersion": w.draft_program.1 }),
        MANAGERS_ON_HIDDEN,
    )
    .await;
}
