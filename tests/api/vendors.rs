//! Vendors and their teams.

use serde_json::json;
use tests::{TestApp, fixtures::CREATE_VENDOR};

const UPDATE_VENDOR: &str = "mutation($input: UpdateVendorInput!) { updateVendor(input: $input) {
    vendor { name website country version } userErrors { field code message } } }";
const CHANGE_ROLE: &str =
    "mutation($input: ChangeVendorMemberRoleInput!) { changeVendorMemberRole(input: $input) {
    member { role } userErrors { field code message } } }";
const REMOVE_MEMBER: &str =
    "mutation($input: RemoveVendorMemberInput!) { removeVendorMember(input: $input) {
    removedMemberId userErrors { field code message } } }";

#[tokio::test]
async fn creating_a_vendor_makes_the_caller_its_owner() {
    let app = TestApp::spawn().await;
    let owner = app.user("owner@example.com").await;
    let response = owner
        .gql(CREATE_VENDOR, json!({ "input": { "slug": "acme", "name": "Acme", "website": "https://acme.example.com", "country": "de" } }))
        .await;
    assert_eq!(response.data("createVendor")["vendor"]["slug"], "acme");
    let me = owner
        .gql(
            "{ viewer { vendorMemberships { role vendor { slug country } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        me.data("viewer")["vendorMemberships"],
        json!([{ "role": "OWNER", "vendor": { "slug": "acme", "country": "DE" } }])
    );
    let public = app
        .anonymous()
        .gql(
            "{ vendor(slug: \"acme\") { name viewerRole members { email } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        public.data("vendor"),
        &json!({ "name": "Acme", "viewerRole": null, "members": null })
    );
}

#[tokio::test]
async fn vendor_slugs_are_unique_and_well_formed() {
    let app = TestApp::spawn().await;
    let owner = app.user("owner@example.com").await;
    app.vendor(&owner, "acme").await;
    for (slug, code) in [
        ("acme", "TAKEN"),
        ("Acme Corp", "INVALID"),
        ("a", "TOO_SHORT"),
    ] {
        let response = owner
            .gql(
                CREATE_VENDOR,
                json!({ "input": { "slug": slug, "name": "X" } }),
            )
            .await;
        assert_eq!(
            response.user_errors("createVendor"),
            vec![(Some("slug".into()), code.into())],
            "{slug}"
        );
    }
    assert_eq!(app.count("vendor").await, 1);
}

#[tokio::test]
async fn anonymous_callers_cannot_create_vendors() {
    let app = TestApp::spawn().await;
    let response = app
        .anonymous()
        .gql(
            CREATE_VENDOR,
            json!({ "input": { "slug": "acme", "name": "Acme" } }),
        )
        .await;
    assert_eq!(response.error_code(), "UNAUTHENTICATED");
    assert_eq!(app.count("vendor").await, 0);
}

#[tokio::test]
async fn updating_a_vendor_needs_the_current_version() {
    let app = TestApp::spawn().await;
    let owner = app.user("owner@example.com").await;
    let id = app.vendor(&owner, "acme").await;
    let ok = owner.gql(UPDATE_VENDOR, json!({ "input": { "id": id, "expectedVersion": 1, "name": "Acme Inc", "website": "https://acme.io" } })).await;
    assert_eq!(
        ok.data("updateVendor")["vendor"],
        json!({ "name": "Acme Inc", "website": "https://acme.io", "country": null, "version": 2 })
    );
    let cleared = owner
        .gql(
            UPDATE_VENDOR,
            json!({ "input": { "id": id, "expectedVersion": 2, "website": null } }),
        )
        .await;
    assert_eq!(
        cleared.data("updateVendor")["vendor"]["website"],
        json!(null)
    );

    let before = app.listing_snapshot().await;
    let stale = owner
        .gql(
            UPDATE_VENDOR,
            json!({ "input": { "id": id, "expectedVersion": 1, "name": "Old" } }),
        )
        .await;
    assert_eq!(
        stale.user_errors("updateVendor"),
        vec![(Some("expectedVersion".into()), "CONFLICT".into())]
    );
    assert_eq!(app.listing_snapshot().await, before);
}

#[tokio::test]
async fn the_team_is_visible_to_its_members_only() {
    let app = TestApp::spawn().await;
    let world = app.world("t").await;
    let query = "{ vendor(slug: \"vendor-t\") { viewerRole members { role email } } }";
    let as_member = world.member.gql(query, json!({})).await;
    assert_eq!(as_member.data("vendor")["viewerRole"], "MEMBER");
    assert_eq!(
        as_member.data("vendor")["members"]
            .as_array()
            .unwrap()
            .len(),
        4
    );
    let as_partner = world.partner.gql(query, json!({})).await;
    assert_eq!(
        as_partner.data("vendor"),
        &json!({ "viewerRole": null, "members": null })
    );
    let member_node = world
        .partner
        .gql(
            "query($id: ID!) { node(id: $id) { id } }",
            json!({ "id": world.target_member_id }),
        )
        .await;
    assert!(member_node.data("node").is_null());
}

#[tokio::test]
async fn adding_a_member_needs_an_existing_account_once() {
    let app = TestApp::spawn().await;
    let owner = app.user("owner@example.com").await;
    let vendor = app.vendor(&owner, "acme").await;
    app.sign_up("ada@example.com").await;
    app.add_member(&owner, &vendor, "ADA@example.com", "ADMIN")
        .await;
    let mutation = "mutation($input: AddVendorMemberInput!) { addVendorMember(input: $input) { userErrors { field code } } }";
    let again = owner.gql(mutation, json!({ "input": { "vendorId": vendor, "email": "ada@example.com", "role": "MEMBER" } })).await;
    assert_eq!(
        again.user_errors("addVendorMember"),
        vec![(Some("email".into()), "ALREADY_MEMBER".into())]
    );
    let nobody = owner.gql(mutation, json!({ "input": { "vendorId": vendor, "email": "nobody@example.com", "role": "MEMBER" } })).await;
    assert_eq!(
        nobody.user_errors("addVendorMember"),
        vec![(Some("email".into()), "NOT_FOUND".into())]
    );
}

#[tokio::test]
async fn the_last_owner_can_be_neither_demoted_nor_removed() {
    let app = TestApp::spawn().await;
    let owner = app.user("owner@example.com").await;
    let vendor = app.vendor(&owner, "acme").await;
    let me = owner
        .gql("{ viewer { vendorMemberships { id } } }", json!({}))
        .await;
    let my_membership = me.data("viewer")["vendorMemberships"][0]["id"].clone();

    let before = app.listing_snapshot().await;
    let demote = owner
        .gql(
            CHANGE_ROLE,
            json!({ "input": { "memberId": my_membership, "role": "ADMIN" } }),
        )
        .await;
    assert_eq!(
        demote.user_errors("changeVendorMemberRole"),
        vec![(Some("role".into()), "LAST_OWNER".into())]
    );
    let leave = owner
        .gql(
            REMOVE_MEMBER,
            json!({ "input": { "memberId": my_membership } }),
        )
        .await;
    assert_eq!(
        leave.user_errors("removeVendorMember"),
        vec![(Some("role".into()), "LAST_OWNER".into())]
    );
    assert_eq!(app.listing_snapshot().await, before);

    // With a second owner, the first may step down.
    app.sign_up("second@example.com").await;
    app.add_member(&owner, &vendor, "second@example.com", "OWNER")
        .await;
    let demote = owner
        .gql(
            CHANGE_ROLE,
            json!({ "input": { "memberId": my_membership, "role": "MEMBER" } }),
        )
        .await;
    assert_eq!(
        demote.data("changeVendorMemberRole")["member"]["role"],
        "MEMBER"
    );
}

#[tokio::test]
async fn admins_manage_members_but_not_owners() {
    let app = TestApp::spawn().await;
    let world = app.world("a").await;
    let promote = world
        .admin
        .gql(
            CHANGE_ROLE,
            json!({ "input": { "memberId": world.target_member_id, "role": "ADMIN" } }),
        )
        .await;
    assert_eq!(
        promote.data("changeVendorMemberRole")["member"]["role"],
        "ADMIN"
    );
    let crown = world
        .admin
        .gql(
            CHANGE_ROLE,
            json!({ "input": { "memberId": world.target_member_id, "role": "OWNER" } }),
        )
        .await;
    assert_eq!(crown.error_code(), "FORBIDDEN");
    let removed = world
        .admin
        .gql(
            REMOVE_MEMBER,
            json!({ "input": { "memberId": world.target_member_id } }),
        )
        .await;
    assert_eq!(
        removed.data("removeVendorMember")["removedMemberId"],
        world.target_member_id
    );
}

#[tokio::test]
async fn a_member_can_leave_the_team() {
    let app = TestApp::spawn().await;
    let world = app.world("l").await;
    let me = world
        .member
        .gql("{ viewer { vendorMemberships { id } } }", json!({}))
        .await;
    let membership = me.data("viewer")["vendorMemberships"][0]["id"].clone();
    let left = world
        .member
        .gql(
            REMOVE_MEMBER,
            json!({ "input": { "memberId": membership } }),
        )
        .await;
    assert_eq!(
        left.data("removeVendorMember")["removedMemberId"],
        membership
    );
    let after = world
        .member
        .gql("{ viewer { vendorMemberships { id } } }", json!({}))
        .await;
    assert_eq!(after.data("viewer")["vendorMemberships"], json!([]));
}
