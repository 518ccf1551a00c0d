//! Partners, application forms and applications for tests, created through the API.

use serde_json::{Value, json};

use crate::{Client, Gql, TestApp};

pub const APPLICATION_FIELDS: &str = "id status version pitch joinSource decidedAt
    rejectionReason rejectionNote
    answers { questionId prompt kind values }
    program { id slug } applicant { id slug }
    enrollment { id status referralCode termsVersion tier { name } }
    events { kind automatic }";

pub const APPLY: &str = "mutation($input: ApplyToProgramInput!) { applyToProgram(input: $input) {
    application { id status version enrollment { id referralCode status tier { name } } }
    userErrors { field code message } } }";

pub const APPROVE: &str =
    "mutation($input: ApproveApplicationInput!) { approveApplication(input: $input) {
    application { id status version enrollment { id referralCode status tier { name } } }
    userErrors { field code message } } }";

pub const REJECT: &str =
    "mutation($input: RejectApplicationInput!) { rejectApplication(input: $input) {
    application { id status rejectionReason rejectionNote }
    userErrors { field code message } } }";

/// Everyone an application touches: the vendor's team, outsiders and two partners.
pub struct Market {
    pub owner: Client,
    pub admin: Client,
    pub member: Client,
    /// Owner of another vendor.
    pub outsider: Client,
    /// Has a profile; applies in the tests.
    pub partner: Client,
    pub partner_id: Value,
    pub partner_slug: String,
    pub partner_email: String,
    /// Another partner with a profile.
    pub other_partner: Client,
    pub platform_admin: Client,
    pub vendor_id: Value,
    /// Published, `MANUAL` approval, with a required short text, a URL and a single
    /// select question.
    pub program_id: Value,
    pub program_version: i64,
    pub questions: Vec<Value>,
    pub tiers: Vec<(String, Value)>,
}

impl TestApp {
    /// Creates the caller's partner profile; returns its id.
    pub async fn partner_profile(&self, by: &Client, slug: &str, extra: Value) -> Value {
        let mut input = json!({
            "slug": slug,
            "displayName": format!("Partner {slug}"),
            "partnerTypes": ["AFFILIATE"],
            "website": "https://partner.example.com",
            "audienceDescription": "B2B marketers",
            "audienceSize": 12000,
            "countries": ["US"],
            "languages": ["en"],
            "channels": ["BLOG", "NEWSLETTER"]
        });
        if let (Some(target), Some(extra)) = (input.as_object_mut(), extra.as_object()) {
            for (k, v) in extra {
                target.insert(k.clone(), v.clone());
            }
        }
        let response = by
            .gql(
                "mutation($input: CreatePartnerProfileInput!) { createPartnerProfile(input: $input) {
                    partner { id slug } userErrors { field code message } } }",
                json!({ "input": input }),
            )
            .await;
        let payload = response.data("createPartnerProfile");
        assert_eq!(payload["userErrors"], json!([]), "{slug}");
        payload["partner"]["id"].clone()
    }

    /// Replaces a program's questions; returns their ids in order.
    pub async fn questions(&self, by: &Client, program_id: &Value, questions: Value) -> Vec<Value> {
        let response = by
            .gql(
                "mutation($input: SetApplicationQuestionsInput!) { setApplicationQuestions(input: $input) {
                    questions { id } userErrors { field code message } } }",
                json!({ "input": { "programId": program_id, "questions": questions } }),
            )
            .await;
        let payload = response.data("setApplicationQuestions");
        assert_eq!(payload["userErrors"], json!([]));
        payload["questions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|q| q["id"].clone())
            .collect()
    }

    /// The standard form: a required short text, an optional URL, a required select.
    pub async fn standard_questions(&self, by: &Client, program_id: &Value) -> Vec<Value> {
        self.questions(
            by,
            program_id,
            json!([
                { "prompt": "How will you promote us?", "kind": "SHORT_TEXT", "required": true },
                { "prompt": "Your best article", "kind": "URL" },
                { "prompt": "Audience region", "kind": "SINGLE_SELECT", "options": ["Americas", "Europe", "Asia"], "required": true }
            ]),
        )
        .await
    }

    /// Answers that satisfy [`Self::standard_questions`].
    pub fn good_answers(questions: &[Value]) -> Value {
        if questions.len() < 3 {
            return json!([]);
        }
        json!([
            { "questionId": questions[0], "values": ["Newsletter and blog reviews"] },
            { "questionId": questions[1], "values": ["https://partner.example.com/best"] },
            { "questionId": questions[2], "values": ["Europe"] }
        ])
    }

    /// `applyToProgram` with good answers and `extra` merged into the input.
    pub async fn apply(&self, by: &Client, market: &Market, extra: Value) -> Gql {
        let mut input = json!({
            "programId": market.program_id,
            "answers": Self::good_answers(&market.questions),
            "pitch": "We write for 12k B2B marketers.",
            "joinSource": "MARKETPLACE_SEARCH"
        });
        if let (Some(target), Some(extra)) = (input.as_object_mut(), extra.as_object()) {
            for (k, v) in extra {
                target.insert(k.clone(), v.clone());
            }
        }
        by.gql(APPLY, json!({ "input": input })).await
    }

    /// Applies and asserts success; returns the application.
    pub async fn applied(&self, by: &Client, market: &Market, extra: Value) -> Value {
        let response = self.apply(by, market, extra).await;
        let payload = response.data("applyToProgram");
        assert_eq!(payload["userErrors"], json!([]), "{:#}", response.body);
        payload["application"].clone()
    }

    /// A vendor with a full team and a published `MANUAL` program with questions, two
    /// partners with profiles, another vendor's owner and a platform admin.
    pub async fn market(&self, tag: &str) -> Market {
        self.market_with(tag, json!({})).await
    }

    /// [`TestApp::market`] with `program_changes` merged into the program's input.
    pub async fn market_with(&self, tag: &str, program_changes: Value) -> Market {
        let owner = self.user(&format!("owner-{tag}@example.com")).await;
        let admin = self.user(&format!("admin-{tag}@example.com")).await;
        let member = self.user(&format!("member-{tag}@example.com")).await;
        let outsider = self.user(&format!("outsider-{tag}@example.com")).await;
        let partner_email = format!("partner-{tag}@example.com");
        let partner = self.user(&partner_email).await;
        let other_partner = self.user(&format!("other-{tag}@example.com")).await;
        let platform_admin = self.admin(&format!("root-{tag}@example.com")).await;
        let vendor_id = self.vendor(&owner, &format!("vendor-{tag}")).await;
        self.vendor(&outsider, &format!("elsewhere-{tag}")).await;
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
        let (program_id, version) = self
            .program(
                &owner,
                &vendor_id,
                &format!("program-{tag}"),
                program_changes,
            )
            .await;
        let program_version = self.publish(&owner, &program_id, version).await;
        let questions = self.standard_questions(&owner, &program_id).await;
        let partner_slug = format!("partner-{tag}");
        let partner_id = self
            .partner_profile(&partner, &partner_slug, json!({}))
            .await;
        self.partner_profile(&other_partner, &format!("other-{tag}"), json!({}))
            .await;
        let response = owner
            .gql(
                "query($slug: String!) { program(slug: $slug) { tiers { id name } } }",
                json!({ "slug": format!("program-{tag}") }),
            )
            .await;
        let tiers = response.data("program")["tiers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| (t["name"].as_str().unwrap().to_owned(), t["id"].clone()))
            .collect();
        Market {
            owner,
            admin,
            member,
            outsider,
            partner,
            partner_id,
            partner_slug,
            partner_email,
            other_partner,
            platform_admin,
            vendor_id,
            program_id,
            program_version,
            questions,
            tiers,
        }
    }

    /// `partner` applies and the owner approves; returns the referral code.
    pub async fn enroll(&self, partner: &Client, market: &Market) -> String {
        let applied = self.applied(partner, market, json!({})).await;
        let approved = market
            .owner
            .gql(
                APPROVE,
                json!({ "input": { "applicationId": applied["id"] } }),
            )
            .await;
        approved.data("approveApplication")["application"]["enrollment"]["referralCode"]
            .as_str()
            .unwrap_or_else(|| panic!("{:#}", approved.body))
            .to_owned()
    }

    /// A new API key of the market's vendor with `scopes`; returns its secret.
    pub async fn api_key(&self, market: &Market, scopes: &[&str]) -> String {
        let created = market
            .owner
            .gql(
                "mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { secret } }",
                json!({ "input": { "vendorId": market.vendor_id, "name": "Billing", "scopes": scopes } }),
            )
            .await;
        created.data("createApiKey")["secret"]
            .as_str()
            .unwrap_or_else(|| panic!("{:#}", created.body))
            .to_owned()
    }

    /// Every row of the tables applications touch (plus the listing tables), to prove a
    /// refused call changed nothing.
    pub async fn market_snapshot(&self) -> Vec<String> {
        use entity::{
            application, application_event, application_question, enrollment, invitation, partner,
        };
        use sea_orm::{EntityTrait, QueryOrder};
        let db = &self.services.db;
        let mut snapshot = self.listing_snapshot().await;
        macro_rules! rows {
            ($($entity:ident),*) => {$(
                for row in $entity::Entity::find().order_by_asc($entity::Column::Id).all(db).await.unwrap() {
                    snapshot.push(format!("{row:?}"));
                }
            )*};
        }
        rows!(
            partner,
            application_question,
            application,
            application_event,
            enrollment,
            invitation
        );
        snapshot
    }
}
