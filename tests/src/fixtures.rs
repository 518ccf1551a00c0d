//! Vendors, teams and programs for tests, created through the API like a client would.

use serde_json::{Value, json};

use crate::{Client, TestApp};

pub const CREATE_VENDOR: &str =
    "mutation($input: CreateVendorInput!) { createVendor(input: $input) {
    vendor { id slug name version } userErrors { field code message } } }";

pub const PROGRAM_FIELDS: &str = "id slug name status version termsVersion currency
    bestPercentageRate bestFlatAmount { amount currency }
    vendor { slug } category { slug }
    tiers { id name rank isDefault promotionThreshold { amount currency } }
    commissionRules { id event model rate amount { amount currency } duration recurringMonths
        capPerCustomer { amount currency } summary tier { name } }";

pub fn create_program_mutation() -> String {
    format!(
        "mutation($input: CreateProgramInput!) {{ createProgram(input: $input) {{
            program {{ {PROGRAM_FIELDS} }} userErrors {{ field code message }} }} }}"
    )
}

/// A complete, valid program input: two tiers, a percentage rule for everyone and a
/// flat rule for the top tier.
pub fn program_input(vendor_id: &Value, slug: &str) -> Value {
    json!({
        "vendorId": vendor_id,
        "slug": slug,
        "name": format!("Program {slug}"),
        "tagline": "Earn on every customer you send",
        "description": "## Who we want\nAgencies and affiliates.",
        "category": "crm",
        "website": "https://example.com/partners",
        "partnerTypes": ["AFFILIATE", "AGENCY"],
        "countries": ["US", "DE"],
        "currency": "USD",
        "cookieWindowDays": 60,
        "holdingPeriodDays": 30,
        "minimumPayout": "50",
        "payoutSchedule": "MONTHLY",
        "payoutMethods": ["PAYPAL", "BANK_TRANSFER"],
        "termsUrl": "https://example.com/terms",
        "averageRevenuePerAccount": "99.00",
        "reapplyPolicy": "AFTER_30_DAYS",
        "tiers": [
            { "name": "Silver", "rank": 0, "isDefault": true },
            { "name": "Gold", "rank": 1, "promotionThreshold": "10000" }
        ],
        "commissionRules": [
            { "event": "SALE", "model": "PERCENTAGE", "rate": "20", "duration": "RECURRING", "recurringMonths": 12 },
            { "tier": "Gold", "event": "LEAD", "model": "FLAT", "amount": "50", "duration": "ONE_TIME" }
        ]
    })
}

/// A vendor with a full team, and outsiders, for authorization tests.
pub struct World {
    pub owner: Client,
    pub admin: Client,
    pub member: Client,
    /// A member the team can act on (role changes, removal).
    pub target_member_id: Value,
    pub partner: Client,
    /// Owner of another vendor.
    pub outsider: Client,
    /// Signed up, on no team: someone to add.
    pub extra_email: String,
    pub vendor_id: Value,
    pub draft_program: (Value, i64),
    pub published_program: (Value, i64),
}

impl TestApp {
    /// Creates a vendor owned by `owner`; returns its id.
    pub async fn vendor(&self, owner: &Client, slug: &str) -> Value {
        let response = owner
            .gql(
                CREATE_VENDOR,
                json!({ "input": { "slug": slug, "name": format!("Vendor {slug}") } }),
            )
            .await;
        let payload = response.data("createVendor");
        assert_eq!(payload["userErrors"], json!([]), "{slug}");
        payload["vendor"]["id"].clone()
    }

    /// Adds `email` to the vendor's team; returns the membership id.
    pub async fn add_member(
        &self,
        by: &Client,
        vendor_id: &Value,
        email: &str,
        role: &str,
    ) -> Value {
        let response = by
            .gql(
                "mutation($input: AddVendorMemberInput!) { addVendorMember(input: $input) {
                    member { id role } userErrors { field code message } } }",
                json!({ "input": { "vendorId": vendor_id, "email": email, "role": role } }),
            )
            .await;
        let payload = response.data("addVendorMember");
        assert_eq!(payload["userErrors"], json!([]));
        payload["member"]["id"].clone()
    }

    /// Creates a program from [`program_input`] with `changes` merged in; returns
    /// `(id, version)`.
    pub async fn program(
        &self,
        by: &Client,
        vendor_id: &Value,
        slug: &str,
        changes: Value,
    ) -> (Value, i64) {
        let mut input = program_input(vendor_id, slug);
        if let (Some(target), Some(extra)) = (input.as_object_mut(), changes.as_object()) {
            for (k, v) in extra {
                target.insert(k.clone(), v.clone());
            }
        }
        let response = by
            .gql(&create_program_mutation(), json!({ "input": input }))
            .await;
        let payload = response.data("createProgram");
        assert_eq!(payload["userErrors"], json!([]), "{slug}");
        (
            payload["program"]["id"].clone(),
            payload["program"]["version"].as_i64().unwrap(),
        )
    }

    /// Publishes a program; returns its new version.
    pub async fn publish(&self, by: &Client, id: &Value, version: i64) -> i64 {
        let response = by
            .gql(
                "mutation($input: ProgramVersionInput!) { publishProgram(input: $input) {
                    program { version status } userErrors { field code message } } }",
                json!({ "input": { "id": id, "expectedVersion": version } }),
            )
            .await;
        let payload = response.data("publishProgram");
        assert_eq!(payload["userErrors"], json!([]));
        payload["program"]["version"].as_i64().unwrap()
    }

    /// A published program of a fresh vendor; returns `(owner, vendor id, program id)`.
    pub async fn published_program(
        &self,
        owner_email: &str,
        slug: &str,
        changes: Value,
    ) -> (Client, Value, Value) {
        let owner = self.user(owner_email).await;
        let vendor = self.vendor(&owner, &format!("{slug}-vendor")).await;
        let (id, version) = self.program(&owner, &vendor, slug, changes).await;
        self.publish(&owner, &id, version).await;
        (owner, vendor, id)
    }

    /// A vendor with owner, admin, member, a target member, a draft and a published
    /// program, plus a partner and another vendor's owner. `tag` keeps names unique.
    pub async fn world(&self, tag: &str) -> World {
        let owner = self.user(&format!("owner-{tag}@example.com")).await;
        let admin = self.user(&format!("admin-{tag}@example.com")).await;
        let member = self.user(&format!("member-{tag}@example.com")).await;
        self.sign_up(&format!("target-{tag}@example.com")).await;
        self.sign_up(&format!("extra-{tag}@example.com")).await;
        let partner = self.user(&format!("partner-{tag}@example.com")).await;
        let outsider = self.user(&format!("outsider-{tag}@example.com")).await;
        let vendor_id = self.vendor(&owner, &format!("vendor-{tag}")).await;
        self.vendor(&outsider, &format!("other-{tag}")).await;
        self.add_member(
            &owner,
            &vendor_id,
            &format!("admin-{tag}@example.com"),
            "ADMIN",
        )
        .await;
        self.add_member(
            &owner,
            &vendor_id,
            &format!("member-{tag}@example.com"),
            "MEMBER",
        )
        .await;
        let target_member_id = self
            .add_member(
                &owner,
                &vendor_id,
                &format!("target-{tag}@example.com"),
                "MEMBER",
            )
            .await;
        let draft_program = self
            .program(&owner, &vendor_id, &format!("draft-{tag}"), json!({}))
            .await;
        let (published_id, version) = self
            .program(&owner, &vendor_id, &format!("live-{tag}"), json!({}))
            .await;
        let version = self.publish(&owner, &published_id, version).await;
        World {
            owner,
            admin,
            member,
            target_member_id,
            partner,
            outsider,
            extra_email: format!("extra-{tag}@example.com"),
            vendor_id,
            draft_program,
            published_program: (published_id, version),
        }
    }

    /// Every row of the listing tables, to prove a refused mutation changed nothing.
    pub async fn listing_snapshot(&self) -> Vec<String> {
        use entity::{commission_rule, event, program, program_tier, vendor, vendor_member};
        use sea_orm::{EntityTrait, QueryOrder};
        let db = &self.services.db;
        let mut snapshot = Vec::new();
        macro_rules! rows {
            ($($entity:ident),*) => {$(
                for row in $entity::Entity::find().order_by_asc($entity::Column::Id).all(db).await.unwrap() {
                    snapshot.push(format!("{row:?}"));
                }
            )*};
        }
        rows!(
            vendor,
            vendor_member,
            program,
            program_tier,
            commission_rule,
            event
        );
        snapshot
    }
}
