//! Tenant isolation, generated: every query and mutation that takes an ID, tried by every
//! actor against every object of four vendors and three partners.
//!
//! Actors: each vendor's OWNER, ADMIN and MEMBER, each vendor's API key of each scope, the
//! four partners, a user with no role, a platform admin and an anonymous caller (31).
//! Objects: users, vendors, team memberships, published and draft programs with their
//! tiers and rules, partner profiles, applications (pending and approved), partnerships,
//! invitations, conversions, commissions, API keys, and webhook endpoints of vendors and
//! partners with a delivery each (134). An oracle says who may
//! see and who may change what; the test checks, case by case:
//! - reads (`node`, `nodes`, the program-scoped lists, search with `excludeMine`): the
//!   entitled see the object, everyone else gets exactly the answer a missing ID gets;
//! - mutations, by everyone who is not entitled: refused, and when the actor may not
//!   even see the object, refused exactly like a missing ID; no row changes at all;
//! - positive controls: each mutation, by an entitled actor, succeeds and writes — so a
//!   mutation broken for everyone cannot pass for a safe one.

use std::{
    collections::HashMap,
    sync::atomic::{AtomicUsize, Ordering},
};

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::Utc;
use futures_util::{StreamExt, stream};
use serde_json::{Value, json};
use tests::{Client, TestApp, fixtures::CREATE_VENDOR, market::APPLY};

const VENDORS: usize = 4;
const PARTNERS: usize = 4;
/// Requests in flight at once.
const CONCURRENCY: usize = 8;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Role {
    Owner,
    Admin,
    Member,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Scope {
    ConversionsWrite,
    ApplicationsRead,
    EnrollmentsRead,
}

const ROLES: [Role; 3] = [Role::Owner, Role::Admin, Role::Member];
const SCOPES: [Scope; 3] = [
    Scope::ConversionsWrite,
    Scope::ApplicationsRead,
    Scope::EnrollmentsRead,
];

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Actor {
    Team(usize, Role),
    Key(usize, Scope),
    Partner(usize),
    Plain,
    PlatformAdmin,
    Anonymous,
}

impl Actor {
    fn all() -> Vec<Actor> {
        let mut all = Vec::new();
        for v in 0..VENDORS {
            all.extend(ROLES.map(|r| Actor::Team(v, r)));
            all.extend(SCOPES.map(|s| Actor::Key(v, s)));
        }
        all.extend((0..PARTNERS).map(Actor::Partner));
        all.extend([Actor::Plain, Actor::PlatformAdmin, Actor::Anonymous]);
        all
    }

    fn team(self, v: usize) -> bool {
        matches!(self, Actor::Team(w, _) if w == v)
    }

    fn manager(self, v: usize) -> bool {
        matches!(self, Actor::Team(w, Role::Owner | Role::Admin) if w == v)
    }

    fn key(self, v: usize, scope: Scope) -> bool {
        self == Actor::Key(v, scope)
    }

    /// Belongs to vendor `v` in any way (and so knows its objects exist).
    fn of_vendor(self, v: usize) -> bool {
        matches!(self, Actor::Team(w, _) | Actor::Key(w, _) if w == v)
    }
}

/// Where partner `q` stands with vendor `v`'s published program.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Standing {
    Enrolled,
    Pending,
    None,
}

fn standing(q: usize, v: usize) -> Standing {
    match (q + v) % 4 {
        0 => Standing::Enrolled,
        1 | 2 => Standing::Pending,
        _ => Standing::None,
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Kind {
    /// The user behind this actor.
    User(Actor),
    Vendor(usize),
    /// A membership of vendor `.0` with role `.1`.
    Member(usize, Role),
    Program {
        vendor: usize,
        draft: bool,
    },
    Tier {
        vendor: usize,
        draft: bool,
    },
    Rule {
        vendor: usize,
        draft: bool,
    },
    Partner(usize),
    Application {
        vendor: usize,
        partner: usize,
        pending: bool,
    },
    Enrollment {
        vendor: usize,
        partner: usize,
    },
    Invitation(usize),
    Conversion {
        vendor: usize,
        partner: usize,
    },
    Commission {
        vendor: usize,
        partner: usize,
    },
    ApiKey(usize),
    /// A webhook endpoint and one of its deliveries.
    Endpoint(Hook),
    Delivery(Hook),
}

/// Whose events a webhook endpoint receives.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Hook {
    Vendor(usize),
    Partner(usize),
}

impl Hook {
    /// Its vendor's owners and admins, or the partner itself.
    fn managed_by(self, actor: Actor) -> bool {
        match self {
            Hook::Vendor(v) => actor.manager(v),
            Hook::Partner(q) => actor == Actor::Partner(q),
        }
    }
}

impl Kind {
    /// The GraphQL type name behind its global IDs.
    fn type_name(&self) -> &'static str {
        match self {
            Kind::User(_) => "User",
            Kind::Vendor(_) => "Vendor",
            Kind::Member(..) => "VendorMember",
            Kind::Program { .. } => "Program",
            Kind::Tier { .. } => "ProgramTier",
            Kind::Rule { .. } => "CommissionRule",
            Kind::Partner(_) => "Partner",
            Kind::Application { .. } => "Application",
            Kind::Enrollment { .. } => "Enrollment",
            Kind::Invitation(_) => "Invitation",
            Kind::Conversion { .. } => "Conversion",
            Kind::Commission { .. } => "Commission",
            Kind::ApiKey(_) => "ApiKey",
            Kind::Endpoint(_) => "WebhookEndpoint",
            Kind::Delivery(_) => "WebhookDelivery",
        }
    }
}

/// The oracle for reads: may `actor` see this object?
fn sees(actor: Actor, kind: &Kind) -> bool {
    if actor == Actor::PlatformAdmin {
        return true;
    }
    match *kind {
        Kind::User(owner) => owner == actor,
        Kind::Vendor(_) => true,
        Kind::Member(v, _) => actor.team(v),
        Kind::Program { vendor, draft }
        | Kind::Tier { vendor, draft }
        | Kind::Rule { vendor, draft } => !draft || actor.of_vendor(vendor),
        Kind::Partner(q) => {
            let applied = (0..VENDORS).any(|v| {
                standing(q, v) != Standing::None
                    && (actor.team(v) || actor.key(v, Scope::ApplicationsRead))
            });
            let enrolled = (0..VENDORS).any(|v| {
                standing(q, v) == Standing::Enrolled && actor.key(v, Scope::EnrollmentsRead)
            });
            actor == Actor::Partner(q) || applied || enrolled
        }
        Kind::Application {
            vendor, partner, ..
        } => {
            actor == Actor::Partner(partner)
                || actor.team(vendor)
                || actor.key(vendor, Scope::ApplicationsRead)
        }
        Kind::Enrollment { vendor, partner } => {
            actor == Actor::Partner(partner)
                || actor.team(vendor)
                || actor.key(vendor, Scope::EnrollmentsRead)
        }
        Kind::Invitation(v) => actor.team(v),
        Kind::Conversion { vendor, partner } | Kind::Commission { vendor, partner } => {
            actor == Actor::Partner(partner)
                || actor.team(vendor)
                || actor.key(vendor, Scope::ConversionsWrite)
        }
        Kind::ApiKey(v) => actor.manager(v),
        Kind::Endpoint(hook) | Kind::Delivery(hook) => hook.managed_by(actor),
    }
}

#[derive(Clone, Debug)]
struct Object {
    kind: Kind,
    id: String,
    /// `version` where the object has one (for `expectedVersion`).
    version: i64,
}

/// A program-scoped list: who may read it.
#[derive(Clone, Copy, Debug)]
enum ProgramList {
    Applications,
    Enrollments,
    Invitations,
    Analytics,
}

impl ProgramList {
    const ALL: [ProgramList; 4] = [
        ProgramList::Applications,
        ProgramList::Enrollments,
        ProgramList::Invitations,
        ProgramList::Analytics,
    ];

    fn document(self) -> &'static str {
        match self {
            ProgramList::Applications => {
                "query($id: ID!) { applications(programId: $id) { edges { node { id program { id } } } } }"
            }
            ProgramList::Enrollments => {
                "query($id: ID!) { enrollments(programId: $id) { edges { node { id program { id } } } } }"
            }
            ProgramList::Invitations => {
                "query($id: ID!) { invitations(programId: $id) { edges { node { id } } } }"
            }
            ProgramList::Analytics => {
                "query($id: ID!) { programAnalytics(programId: $id, months: 2) { month approvals } }"
            }
        }
    }

    fn allowed(self, actor: Actor, v: usize) -> bool {
        actor == Actor::PlatformAdmin
            || actor.team(v)
            || match self {
                ProgramList::Applications => actor.key(v, Scope::ApplicationsRead),
                ProgramList::Enrollments => actor.key(v, Scope::EnrollmentsRead),
                ProgramList::Invitations | ProgramList::Analytics => false,
            }
    }
}

/// A mutation that takes the ID of an object of some kind.
struct Mutation {
    name: &'static str,
    input_type: &'static str,
    /// Does it apply to this object?
    targets: fn(&Kind) -> bool,
    /// Is `actor` entitled to run it on this object?
    entitled: fn(Actor, &Kind) -> bool,
    /// The input naming `id` (with `version` where it needs one).
    input: fn(&str, i64) -> Value,
}

fn vendor_of(kind: &Kind) -> usize {
    match *kind {
        Kind::Vendor(v) | Kind::Member(v, _) | Kind::Invitation(v) | Kind::ApiKey(v) => v,
        Kind::Program { vendor, .. }
        | Kind::Tier { vendor, .. }
        | Kind::Rule { vendor, .. }
        | Kind::Application { vendor, .. }
        | Kind::Enrollment { vendor, .. }
        | Kind::Conversion { vendor, .. }
        | Kind::Commission { vendor, .. } => vendor,
        Kind::Endpoint(Hook::Vendor(v)) | Kind::Delivery(Hook::Vendor(v)) => v,
        Kind::User(_)
        | Kind::Partner(_)
        | Kind::Endpoint(Hook::Partner(_))
        | Kind::Delivery(Hook::Partner(_)) => usize::MAX,
    }
}

fn by_hook_owner(actor: Actor, kind: &Kind) -> bool {
    matches!(*kind, Kind::Endpoint(hook) | Kind::Delivery(hook) if hook.managed_by(actor))
}

fn by_manager(actor: Actor, kind: &Kind) -> bool {
    actor.manager(vendor_of(kind))
}

fn by_ledger_writer(actor: Actor, kind: &Kind) -> bool {
    let v = vendor_of(kind);
    actor.manager(v) || actor.key(v, Scope::ConversionsWrite)
}

fn mutations() -> Vec<Mutation> {
    let is_vendor = |k: &Kind| matches!(k, Kind::Vendor(_));
    let is_program = |k: &Kind| matches!(k, Kind::Program { .. });
    let is_published = |k: &Kind| matches!(k, Kind::Program { draft: false, .. });
    let is_draft = |k: &Kind| matches!(k, Kind::Program { draft: true, .. });
    let is_application = |k: &Kind| matches!(k, Kind::Application { .. });
    let is_enrollment = |k: &Kind| matches!(k, Kind::Enrollment { .. });
    let is_endpoint = |k: &Kind| matches!(k, Kind::Endpoint(_));
    vec![
        Mutation {
            name: "updateVendor",
            input_type: "UpdateVendorInput",
            targets: is_vendor,
            entitled: by_manager,
            input: |id, v| json!({ "id": id, "expectedVersion": v, "name": "Renamed vendor" }),
        },
        Mutation {
            name: "createProgram",
            input_type: "CreateProgramInput",
            targets: is_vendor,
            entitled: by_manager,
            input: |id, _| {
                let mut input = tests::fixtures::program_input(&json!(id), "isolation-new");
                input["slug"] = json!(format!("new-{}", id.to_lowercase().replace(['_', '-'], "")));
                input
            },
        },
        Mutation {
            name: "addVendorMember",
            input_type: "AddVendorMemberInput",
            targets: is_vendor,
            entitled: by_manager,
            input: |id, _| json!({ "vendorId": id, "email": "plain@example.com", "role": "MEMBER" }),
        },
        Mutation {
            name: "createApiKey",
            input_type: "CreateApiKeyInput",
            targets: is_vendor,
            entitled: by_manager,
            input: |id, _| json!({ "vendorId": id, "name": "Intruder", "scopes": ["CONVERSIONS_WRITE"] }),
        },
        Mutation {
            name: "updateProgram",
            input_type: "UpdateProgramInput",
            targets: is_program,
            entitled: by_manager,
            input: |id, v| json!({ "id": id, "expectedVersion": v, "tagline": "Changed by someone" }),
        },
        Mutation {
            name: "setProgramTerms",
            input_type: "SetProgramTermsInput",
            targets: is_program,
            entitled: by_manager,
            input: |id, v| {
                json!({ "id": id, "expectedVersion": v,
                    "tiers": [{ "name": "Base", "rank": 0, "isDefault": true }],
                    "commissionRules": [{ "event": "SALE", "model": "PERCENTAGE", "rate": "25", "duration": "ONE_TIME" }] })
            },
        },
        Mutation {
            name: "setApplicationQuestions",
            input_type: "SetApplicationQuestionsInput",
            targets: is_program,
            entitled: by_manager,
            input: |id, _| json!({ "programId": id, "questions": [{ "prompt": "Why?", "kind": "SHORT_TEXT" }] }),
        },
        Mutation {
            name: "pauseProgram",
            input_type: "ProgramVersionInput",
            targets: is_published,
            entitled: by_manager,
            input: |id, v| json!({ "id": id, "expectedVersion": v }),
        },
        Mutation {
            name: "archiveProgram",
            input_type: "ProgramVersionInput",
            targets: is_published,
            entitled: by_manager,
            input: |id, v| json!({ "id": id, "expectedVersion": v }),
        },
        Mutation {
            name: "invitePartner",
            input_type: "InvitePartnerInput",
            targets: is_published,
            entitled: by_manager,
            input: |id, _| json!({ "programId": id, "email": "newcomer@example.com" }),
        },
        Mutation {
            name: "publishProgram",
            input_type: "ProgramVersionInput",
            targets: is_draft,
            entitled: by_manager,
            input: |id, v| json!({ "id": id, "expectedVersion": v }),
        },
        Mutation {
            name: "applyToProgram",
            input_type: "ApplyToProgramInput",
            targets: is_draft,
            // Nobody applies to a draft (its team has no partner profile).
            entitled: |_, _| false,
            input: |id, _| json!({ "programId": id, "joinSource": "DIRECT_LINK", "answers": [] }),
        },
        Mutation {
            name: "approveApplication",
            input_type: "ApproveApplicationInput",
            targets: is_application,
            entitled: by_manager,
            input: |id, _| json!({ "applicationId": id }),
        },
        Mutation {
            name: "rejectApplication",
            input_type: "RejectApplicationInput",
            targets: is_application,
            entitled: by_manager,
            input: |id, _| json!({ "applicationId": id, "reason": "NOT_A_FIT" }),
        },
        Mutation {
            name: "bulkApproveApplications",
            input_type: "BulkApproveApplicationsInput",
            targets: is_application,
            entitled: by_manager,
            input: |id, _| json!({ "applicationIds": [id] }),
        },
        Mutation {
            name: "bulkRejectApplications",
            input_type: "BulkRejectApplicationsInput",
            targets: is_application,
            entitled: by_manager,
            input: |id, _| json!({ "applicationIds": [id], "reason": "REGION" }),
        },
        Mutation {
            name: "withdrawApplication",
            input_type: "WithdrawApplicationInput",
            targets: is_application,
            entitled: |actor, kind| matches!(*kind, Kind::Application { partner, .. } if actor == Actor::Partner(partner)),
            input: |id, _| json!({ "applicationId": id }),
        },
        Mutation {
            name: "suspendEnrollment",
            input_type: "EnrollmentActionInput",
            targets: is_enrollment,
            entitled: by_manager,
            input: |id, _| json!({ "enrollmentId": id }),
        },
        Mutation {
            name: "reinstateEnrollment",
            input_type: "EnrollmentActionInput",
            targets: is_enrollment,
            entitled: by_manager,
            input: |id, _| json!({ "enrollmentId": id }),
        },
        Mutation {
            name: "terminateEnrollment",
            input_type: "EnrollmentActionInput",
            targets: is_enrollment,
            entitled: by_manager,
            input: |id, _| json!({ "enrollmentId": id, "reason": "Isolation test" }),
        },
        Mutation {
            name: "leaveProgram",
            input_type: "LeaveProgramInput",
            targets: is_enrollment,
            entitled: |actor, kind| matches!(*kind, Kind::Enrollment { partner, .. } if actor == Actor::Partner(partner)),
            input: |id, _| json!({ "enrollmentId": id, "reason": "Moving on" }),
        },
        Mutation {
            name: "recordConversion",
            input_type: "RecordConversionInput",
            targets: is_enrollment,
            entitled: by_ledger_writer,
            input: |id, _| {
                json!({ "enrollmentId": id, "event": "SALE", "customerRef": "intruder", "amount": "10.00",
                    "currency": "USD", "occurredAt": Utc::now().to_rfc3339(), "idempotencyKey": format!("intruder-{id}") })
            },
        },
        Mutation {
            name: "revokeInvitation",
            input_type: "RevokeInvitationInput",
            targets: |k| matches!(k, Kind::Invitation(_)),
            entitled: by_manager,
            input: |id, _| json!({ "invitationId": id }),
        },
        Mutation {
            name: "reverseConversion",
            input_type: "ReverseConversionInput",
            targets: |k| matches!(k, Kind::Conversion { .. }),
            entitled: by_ledger_writer,
            input: |id, _| json!({ "conversionId": id, "reason": "Refund" }),
        },
        Mutation {
            name: "markCommissionsPaid",
            input_type: "MarkCommissionsPaidInput",
            targets: |k| matches!(k, Kind::Commission { .. }),
            entitled: by_ledger_writer,
            input: |id, _| json!({ "commissionIds": [id], "payoutReference": "payout-1" }),
        },
        Mutation {
            name: "revokeApiKey",
            input_type: "RevokeApiKeyInput",
            targets: |k| matches!(k, Kind::ApiKey(_)),
            entitled: by_manager,
            input: |id, _| json!({ "apiKeyId": id }),
        },
        Mutation {
            name: "createWebhookEndpoint",
            input_type: "CreateWebhookEndpointInput",
            targets: is_vendor,
            entitled: by_manager,
            input: |id, _| json!({ "vendorId": id, "url": format!("http://127.0.0.1:9/intruder/{id}"), "eventTypes": ["application.submitted"] }),
        },
        Mutation {
            name: "updateWebhookEndpoint",
            input_type: "UpdateWebhookEndpointInput",
            targets: is_endpoint,
            entitled: by_hook_owner,
            input: |id, _| json!({ "id": id, "description": "Changed by someone" }),
        },
        Mutation {
            name: "pauseWebhookEndpoint",
            input_type: "WebhookEndpointInput",
            targets: is_endpoint,
            entitled: by_hook_owner,
            input: |id, _| json!({ "id": id }),
        },
        Mutation {
            name: "resumeWebhookEndpoint",
            input_type: "WebhookEndpointInput",
            targets: is_endpoint,
            entitled: by_hook_owner,
            input: |id, _| json!({ "id": id }),
        },
        Mutation {
            name: "rotateWebhookSecret",
            input_type: "WebhookEndpointInput",
            targets: is_endpoint,
            entitled: by_hook_owner,
            input: |id, _| json!({ "id": id }),
        },
        Mutation {
            name: "sendTestWebhook",
            input_type: "WebhookEndpointInput",
            targets: is_endpoint,
            entitled: by_hook_owner,
            input: |id, _| json!({ "id": id }),
        },
        Mutation {
            name: "replayWebhooks",
            input_type: "ReplayWebhooksInput",
            targets: is_endpoint,
            entitled: by_hook_owner,
            input: |id, _| json!({ "endpointId": id, "since": "2000-01-01T00:00:00Z", "until": "2100-01-01T00:00:00Z" }),
        },
        Mutation {
            name: "deleteWebhookEndpoint",
            input_type: "WebhookEndpointInput",
            targets: is_endpoint,
            entitled: by_hook_owner,
            input: |id, _| json!({ "id": id }),
        },
        Mutation {
            name: "redeliverWebhook",
            input_type: "RedeliverWebhookInput",
            targets: |k| matches!(k, Kind::Delivery(_)),
            entitled: by_hook_owner,
            input: |id, _| json!({ "deliveryId": id }),
        },
        Mutation {
            name: "changeVendorMemberRole",
            input_type: "ChangeVendorMemberRoleInput",
            targets: |k| matches!(k, Kind::Member(..)),
            entitled: by_manager,
            input: |id, _| json!({ "memberId": id, "role": "ADMIN" }),
        },
        Mutation {
            name: "removeVendorMember",
            input_type: "RemoveVendorMemberInput",
            targets: |k| matches!(k, Kind::Member(..)),
            // Managers, and any member for themselves (leaving the team).
            entitled: |actor, kind| {
                by_manager(actor, kind)
                    || matches!(*kind, Kind::Member(v, role) if actor == Actor::Team(v, role))
            },
            input: |id, _| json!({ "memberId": id }),
        },
    ]
}

fn mutation_document(m: &Mutation) -> String {
    format!(
        "mutation($input: {}!) {{ {}(input: $input) {{ userErrors {{ field code message }} }} }}",
        m.input_type, m.name
    )
}

/// A global ID of `type_name` that names no object.
fn missing_id(type_name: &str) -> String {
    URL_SAFE_NO_PAD.encode(format!("{type_name}:987654321"))
}

/// The answer without `extensions` (the cost budget differs from call to call).
fn answer(mut body: Value) -> Value {
    if let Some(map) = body.as_object_mut() {
        map.remove("extensions");
    }
    body
}

fn refused(body: &Value, field: &str) -> bool {
    let payload = &body["data"][field];
    body.get("errors").is_some()
        || payload["userErrors"]
            .as_array()
            .is_some_and(|errors| !errors.is_empty())
        || payload["results"].as_array().is_some_and(|rs| {
            rs.iter()
                .any(|r| r["userErrors"].as_array().is_some_and(|e| !e.is_empty()))
        })
}

struct World {
    clients: HashMap<Actor, Client>,
    objects: Vec<Object>,
    /// Each vendor's published and draft program (id).
    programs: Vec<(String, String)>,
    slugs: Vec<String>,
}

async fn build_world(app: &TestApp) -> World {
    let mut clients = HashMap::new();
    let mut objects = Vec::new();
    clients.insert(Actor::Anonymous, app.anonymous());
    let mut user_ids: HashMap<Actor, String> = HashMap::new();
    let mut sign_up = async |actor: Actor, email: String| {
        let session = app.sign_up(&email).await;
        user_ids.insert(actor, session["user"]["id"].as_str().unwrap().to_owned());
        app.with_token(session["accessToken"].as_str().unwrap())
    };
    for v in 0..VENDORS {
        for role in ROLES {
            let email = format!("{role:?}-{v}@example.com").to_lowercase();
            let client = sign_up(Actor::Team(v, role), email).await;
            clients.insert(Actor::Team(v, role), client);
        }
    }
    for q in 0..PARTNERS {
        let client = sign_up(Actor::Partner(q), format!("partner-{q}@example.com")).await;
        app.partner_profile(&client, &format!("partner-{q}"), json!({}))
            .await;
        clients.insert(Actor::Partner(q), client);
    }
    let plain = sign_up(Actor::Plain, "plain@example.com".to_owned()).await;
    clients.insert(Actor::Plain, plain);
    // The admin signs up here so that its user id is known, then is promoted.
    let admin = app.admin("root@example.com").await;
    let me = admin.gql("{ viewer { id } }", json!({})).await;
    user_ids.insert(
        Actor::PlatformAdmin,
        me.data("viewer")["id"].as_str().unwrap().to_owned(),
    );
    clients.insert(Actor::PlatformAdmin, admin);
    for (actor, id) in &user_ids {
        objects.push(Object {
            kind: Kind::User(*actor),
            id: id.clone(),
            version: 0,
        });
    }

    let mut programs = Vec::new();
    let mut slugs = Vec::new();
    for v in 0..VENDORS {
        let owner = clients[&Actor::Team(v, Role::Owner)].clone();
        let created = owner
            .gql(
                CREATE_VENDOR,
                json!({ "input": { "slug": format!("vendor-{v}"), "name": format!("Vendor {v}"),
                    "website": "https://vendor.example.com", "country": "US" } }),
            )
            .await;
        let vendor = created.data("createVendor")["vendor"].clone();
        let vendor_id = vendor["id"].as_str().unwrap().to_owned();
        objects.push(Object {
            kind: Kind::Vendor(v),
            id: vendor_id.clone(),
            version: vendor["version"].as_i64().unwrap(),
        });
        for (role, name) in [(Role::Admin, "ADMIN"), (Role::Member, "MEMBER")] {
            let email = format!("{role:?}-{v}@example.com").to_lowercase();
            app.add_member(&owner, &json!(vendor_id), &email, name)
                .await;
        }
        let team = owner
            .gql(
                "query($slug: String!) { vendor(slug: $slug) { members { id role } } }",
                json!({ "slug": format!("vendor-{v}") }),
            )
            .await;
        for member in team.data("vendor")["members"].as_array().unwrap() {
            let role = match member["role"].as_str().unwrap() {
                "OWNER" => Role::Owner,
                "ADMIN" => Role::Admin,
                _ => Role::Member,
            };
            objects.push(Object {
                kind: Kind::Member(v, role),
                id: member["id"].as_str().unwrap().to_owned(),
                version: 0,
            });
        }
        let (published, version) = app
            .program(
                &owner,
                &json!(vendor_id),
                &format!("published-{v}"),
                json!({}),
            )
            .await;
        let version = app.publish(&owner, &published, version).await;
        let (draft, draft_version) = app
            .program(&owner, &json!(vendor_id), &format!("draft-{v}"), json!({}))
            .await;
        slugs.push(format!("published-{v}"));
        for (id, version, draft) in [(&published, version, false), (&draft, draft_version, true)] {
            objects.push(Object {
                kind: Kind::Program { vendor: v, draft },
                id: id.as_str().unwrap().to_owned(),
                version,
            });
            let terms = owner
                .gql(
                    "query($id: ID!) { node(id: $id) { ... on Program { tiers { id } commissionRules { id } } } }",
                    json!({ "id": id }),
                )
                .await;
            let node = terms.data("node");
            for tier in node["tiers"].as_array().unwrap() {
                objects.push(Object {
                    kind: Kind::Tier { vendor: v, draft },
                    id: tier["id"].as_str().unwrap().to_owned(),
                    version: 0,
                });
            }
            for rule in node["commissionRules"].as_array().unwrap() {
                objects.push(Object {
                    kind: Kind::Rule { vendor: v, draft },
                    id: rule["id"].as_str().unwrap().to_owned(),
                    version: 0,
                });
            }
        }
        programs.push((
            published.as_str().unwrap().to_owned(),
            draft.as_str().unwrap().to_owned(),
        ));
        for scope in SCOPES {
            let code = match scope {
                Scope::ConversionsWrite => "CONVERSIONS_WRITE",
                Scope::ApplicationsRead => "APPLICATIONS_READ",
                Scope::EnrollmentsRead => "ENROLLMENTS_READ",
            };
            let key = owner
                .gql(
                    "mutation($input: CreateApiKeyInput!) { createApiKey(input: $input) { secret apiKey { id } } }",
                    json!({ "input": { "vendorId": vendor_id, "name": code, "scopes": [code] } }),
                )
                .await;
            let payload = key.data("createApiKey");
            objects.push(Object {
                kind: Kind::ApiKey(v),
                id: payload["apiKey"]["id"].as_str().unwrap().to_owned(),
                version: 0,
            });
            clients.insert(
                Actor::Key(v, scope),
                app.with_token(payload["secret"].as_str().unwrap()),
            );
        }
        let invited = owner
            .gql(
                "mutation($input: InvitePartnerInput!) { invitePartner(input: $input) { invitation { id } userErrors { code } } }",
                json!({ "input": { "programId": published, "email": format!("invitee-{v}@example.com") } }),
            )
            .await;
        objects.push(Object {
            kind: Kind::Invitation(v),
            id: invited.data("invitePartner")["invitation"]["id"]
                .as_str()
                .unwrap()
                .to_owned(),
            version: 0,
        });
    }

    for q in 0..PARTNERS {
        objects.push(Object {
            kind: Kind::Partner(q),
            id: app_partner_id(&clients[&Actor::Partner(q)]).await,
            version: 0,
        });
        for v in 0..VENDORS {
            let s = standing(q, v);
            if s == Standing::None {
                continue;
            }
            let applied = clients[&Actor::Partner(q)]
                .gql(
                    APPLY,
                    json!({ "input": { "programId": programs[v].0, "joinSource": "MARKETPLACE_SEARCH", "answers": [] } }),
                )
                .await;
            let application = applied.data("applyToProgram")["application"]["id"]
                .as_str()
                .unwrap_or_else(|| panic!("{:#}", applied.body))
                .to_owned();
            objects.push(Object {
                kind: Kind::Application {
                    vendor: v,
                    partner: q,
                    pending: s == Standing::Pending,
                },
                id: application.clone(),
                version: 1,
            });
            if s != Standing::Enrolled {
                continue;
            }
            let approved = clients[&Actor::Team(v, Role::Owner)]
                .gql(
                    tests::market::APPROVE,
                    json!({ "input": { "applicationId": application } }),
                )
                .await;
            let enrollment = approved.data("approveApplication")["application"]["enrollment"]["id"]
                .as_str()
                .unwrap_or_else(|| panic!("{:#}", approved.body))
                .to_owned();
            objects.push(Object {
                kind: Kind::Enrollment {
                    vendor: v,
                    partner: q,
                },
                id: enrollment.clone(),
                version: 1,
            });
            let recorded = clients[&Actor::Key(v, Scope::ConversionsWrite)]
                .gql(
                    "mutation($input: RecordConversionInput!) { recordConversion(input: $input) {
                        conversion { id commissions { id } } userErrors { code } } }",
                    json!({ "input": { "enrollmentId": enrollment, "event": "SALE", "customerRef": format!("c-{q}-{v}"),
                        "amount": "100.00", "currency": "USD", "occurredAt": Utc::now().to_rfc3339(),
                        "idempotencyKey": format!("order-{q}-{v}") } }),
                )
                .await;
            let conversion = &recorded.data("recordConversion")["conversion"];
            objects.push(Object {
                kind: Kind::Conversion {
                    vendor: v,
                    partner: q,
                },
                id: conversion["id"].as_str().unwrap().to_owned(),
                version: 0,
            });
            for commission in conversion["commissions"].as_array().unwrap() {
                objects.push(Object {
                    kind: Kind::Commission {
                        vendor: v,
                        partner: q,
                    },
                    id: commission["id"].as_str().unwrap().to_owned(),
                    version: 0,
                });
            }
        }
    }
    // Commissions past their holding period, so a payment is possible.
    api::service::ledger::approve_due(&app.services, Utc::now() + chrono::Duration::days(40))
        .await
        .unwrap();
    // Webhook endpoints of every vendor and partner, each with a test delivery (to a
    // port nobody listens on; no sender runs here).
    let mut endpoints = Vec::new();
    for (hook, client, vendor_id) in (0..VENDORS)
        .map(|v| {
            let vendor = objects
                .iter()
                .find(|o| o.kind == Kind::Vendor(v))
                .map(|o| json!(o.id));
            (
                Hook::Vendor(v),
                clients[&Actor::Team(v, Role::Owner)].clone(),
                vendor,
            )
        })
        .chain((0..PARTNERS).map(|q| (Hook::Partner(q), clients[&Actor::Partner(q)].clone(), None)))
        .collect::<Vec<_>>()
    {
        let created = client
            .gql(
                "mutation($input: CreateWebhookEndpointInput!) { createWebhookEndpoint(input: $input) { endpoint { id } userErrors { code } } }",
                json!({ "input": { "vendorId": vendor_id, "url": format!("http://127.0.0.1:9/{hook:?}"),
                    "eventTypes": ["application.submitted", "application.approved", "enrollment.created"] } }),
            )
            .await;
        let id = created.data("createWebhookEndpoint")["endpoint"]["id"]
            .as_str()
            .unwrap_or_else(|| panic!("{:#}", created.body))
            .to_owned();
        objects.push(Object {
            kind: Kind::Endpoint(hook),
            id: id.clone(),
            version: 0,
        });
        endpoints.push((hook, client, id));
    }
    for (hook, client, id) in endpoints {
        let test = client
            .gql(
                "mutation($input: WebhookEndpointInput!) { sendTestWebhook(input: $input) { delivery { id } } }",
                json!({ "input": { "id": id } }),
            )
            .await;
        objects.push(Object {
            kind: Kind::Delivery(hook),
            id: test.data("sendTestWebhook")["delivery"]["id"]
                .as_str()
                .unwrap_or_else(|| panic!("{:#}", test.body))
                .to_owned(),
            version: 0,
        });
    }
    app.drain_search().await;
    World {
        clients,
        objects,
        programs,
        slugs,
    }
}

async fn app_partner_id(client: &Client) -> String {
    let mine = client.gql("{ myPartnerProfile { id } }", json!({})).await;
    mine.data("myPartnerProfile")["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Every row a mutation could touch (API keys without their last-use stamp, which each
/// key request moves), to prove refusals wrote nothing.
async fn snapshot(app: &TestApp) -> Vec<String> {
    use entity::{
        api_key, commission, conversion, invitation, program_stats, refresh_token, user,
        webhook_delivery, webhook_endpoint,
    };
    use sea_orm::{EntityTrait, QueryOrder};
    let db = &app.services.db;
    let mut rows = app.market_snapshot().await;
    macro_rules! rows {
        ($($entity:ident),*) => {$(
            for row in $entity::Entity::find().order_by_asc($entity::Column::Id).all(db).await.unwrap() {
                rows.push(format!("{row:?}"));
            }
        )*};
    }
    rows!(
        conversion,
        commission,
        invitation,
        refresh_token,
        user,
        webhook_endpoint,
        webhook_delivery
    );
    for stats in program_stats::Entity::find()
        .order_by_asc(program_stats::Column::ProgramId)
        .all(db)
        .await
        .unwrap()
    {
        rows.push(format!("{stats:?}"));
    }
    for mut key in api_key::Entity::find()
        .order_by_asc(api_key::Column::Id)
        .all(db)
        .await
        .unwrap()
    {
        key.last_used_at = None;
        rows.push(format!("{key:?}"));
    }
    rows
}

/// One request of the matrix.
struct Case {
    actor: Actor,
    document: String,
    variables: Value,
    /// The same request naming a missing object, when the answer must be identical.
    missing: Option<Value>,
    check: Check,
    label: String,
}

#[derive(Clone)]
enum Check {
    /// `node`: the object (entitled) or null.
    Node { id: String, visible: bool },
    /// `nodes`: one entry, the object or null.
    Nodes { id: String, visible: bool },
    /// A program-scoped list: data, or an error.
    List {
        field: &'static str,
        allowed: bool,
        program: String,
    },
    /// A refused mutation.
    Refused { field: &'static str },
}

async fn run(app: &TestApp, world: &World, cases: Vec<Case>) -> Vec<String> {
    let missing_answers: tokio::sync::Mutex<HashMap<(Actor, String, String), Value>> =
        Default::default();
    let done = AtomicUsize::new(0);
    let failures: Vec<Option<String>> = stream::iter(cases)
        .map(|case| {
            let client = world.clients[&case.actor].clone();
            let missing_answers = &missing_answers;
            let done = &done;
            async move {
                let body = answer(
                    client
                        .gql(&case.document, case.variables.clone())
                        .await
                        .body,
                );
                done.fetch_add(1, Ordering::Relaxed);
                let problem = match &case.check {
                    Check::Node { id, visible } => {
                        let node = &body["data"]["node"];
                        match visible {
                            true if node["id"] != json!(id) => {
                                Some(format!("should see it: {body}"))
                            }
                            false if !node.is_null() => Some(format!("leaked: {body}")),
                            _ => None,
                        }
                    }
                    Check::Nodes { id, visible } => {
                        let entry = &body["data"]["nodes"][0];
                        match visible {
                            true if entry["id"] != json!(id) => {
                                Some(format!("should see it: {body}"))
                            }
                            false if !entry.is_null() => Some(format!("leaked: {body}")),
                            _ => None,
                        }
                    }
                    Check::List {
                        field,
                        allowed,
                        program,
                    } => {
                        let data = &body["data"][field];
                        if *allowed {
                            let foreign = data["edges"].as_array().is_some_and(|edges| {
                                edges.iter().any(|e| {
                                    !e["node"]["program"].is_null()
                                        && e["node"]["program"]["id"] != json!(program)
                                })
                            });
                            if body.get("errors").is_some() || data.is_null() {
                                Some(format!("should read it: {body}"))
                            } else if foreign {
                                Some(format!("listed another program's rows: {body}"))
                            } else {
                                None
                            }
                        } else if body.get("errors").is_none()
                            || !(data.is_null() || body["data"].is_null())
                        {
                            Some(format!("should be refused: {body}"))
                        } else {
                            None
                        }
                    }
                    Check::Refused { field } => {
                        (!refused(&body, field)).then(|| format!("not refused: {body}"))
                    }
                };
                let problem = match (problem, &case.missing) {
                    (Some(p), _) => Some(p),
                    (None, Some(missing_variables)) => {
                        let key = (
                            case.actor,
                            case.document.clone(),
                            missing_variables.to_string(),
                        );
                        let mut cache = missing_answers.lock().await;
                        let expected = match cache.get(&key) {
                            Some(v) => v.clone(),
                            None => {
                                let v = answer(
                                    client
                                        .gql(&case.document, missing_variables.clone())
                                        .await
                                        .body,
                                );
                                cache.insert(key, v.clone());
                                v
                            }
                        };
                        (expected != body).then(|| {
                            format!("answers differently from a missing ID: {body} vs {expected}")
                        })
                    }
                    (None, None) => None,
                };
                problem.map(|p| format!("{} as {:?}: {p}", case.label, case.actor))
            }
        })
        .buffer_unordered(CONCURRENCY)
        .collect()
        .await;
    let _ = app;
    failures.into_iter().flatten().collect()
}

fn read_cases(world: &World) -> Vec<Case> {
    let mut cases = Vec::new();
    for actor in Actor::all() {
        for object in &world.objects {
            let visible = sees(actor, &object.kind);
            let missing = (!visible).then(|| json!({ "id": missing_id(object.kind.type_name()) }));
            cases.push(Case {
                actor,
                document: "query($id: ID!) { node(id: $id) { id } }".to_owned(),
                variables: json!({ "id": object.id }),
                missing,
                check: Check::Node {
                    id: object.id.clone(),
                    visible,
                },
                label: format!("node({:?})", object.kind),
            });
            let missing =
                (!visible).then(|| json!({ "ids": [missing_id(object.kind.type_name())] }));
            cases.push(Case {
                actor,
                document: "query($ids: [ID!]!) { nodes(ids: $ids) { id } }".to_owned(),
                variables: json!({ "ids": [object.id] }),
                missing,
                check: Check::Nodes {
                    id: object.id.clone(),
                    visible,
                },
                label: format!("nodes({:?})", object.kind),
            });
        }
        for (v, (published, draft)) in world.programs.iter().enumerate() {
            for program in [published, draft] {
                for list in ProgramList::ALL {
                    let allowed = list.allowed(actor, v);
                    let field = match list {
                        ProgramList::Applications => "applications",
                        ProgramList::Enrollments => "enrollments",
                        ProgramList::Invitations => "invitations",
                        ProgramList::Analytics => "programAnalytics",
                    };
                    let missing = (!allowed && !actor.of_vendor(v))
                        .then(|| json!({ "id": missing_id("Program") }));
                    cases.push(Case {
                        actor,
                        document: list.document().to_owned(),
                        variables: json!({ "id": program }),
                        missing,
                        check: Check::List {
                            field,
                            allowed,
                            program: program.clone(),
                        },
                        label: format!("{field}(vendor {v} program {program})"),
                    });
                }
            }
        }
    }
    cases
}

fn mutation_cases(world: &World, mutations: &[Mutation]) -> Vec<Case> {
    let mut cases = Vec::new();
    for actor in Actor::all() {
        for m in mutations {
            for object in world.objects.iter().filter(|o| (m.targets)(&o.kind)) {
                if (m.entitled)(actor, &object.kind) {
                    continue;
                }
                let missing = (!sees(actor, &object.kind)).then(|| {
                    json!({ "input": (m.input)(&missing_id(object.kind.type_name()), object.version) })
                });
                cases.push(Case {
                    actor,
                    document: mutation_document(m),
                    variables: json!({ "input": (m.input)(&object.id, object.version) }),
                    missing,
                    check: Check::Refused { field: m.name },
                    label: format!("{}({:?})", m.name, object.kind),
                });
            }
        }
    }
    cases
}

/// The current version of a program or vendor, read by its owner.
async fn version_of(client: &Client, id: &str) -> i64 {
    let found = client
        .gql(
            "query($id: ID!) { node(id: $id) { ... on Program { version } ... on Vendor { version } } }",
            json!({ "id": id }),
        )
        .await;
    found.data("node")["version"].as_i64().unwrap()
}

/// Each mutation once, by an entitled actor, on an object it applies to: it must succeed
/// and write.
async fn positive_controls(app: &TestApp, world: &World, mutations: &[Mutation]) -> Vec<String> {
    let mut problems = Vec::new();
    // Pick, per mutation, an object and an entitled actor; prefer objects no earlier
    // control has used, and states the mutation applies to.
    let order = [
        "updateVendor",
        "createProgram",
        "addVendorMember",
        "createApiKey",
        "updateProgram",
        "setProgramTerms",
        "setApplicationQuestions",
        "invitePartner",
        "publishProgram",
        "approveApplication",
        "rejectApplication",
        "bulkApproveApplications",
        "bulkRejectApplications",
        "withdrawApplication",
        "suspendEnrollment",
        "reinstateEnrollment",
        "recordConversion",
        "leaveProgram",
        "terminateEnrollment",
        "revokeInvitation",
        "markCommissionsPaid",
        "reverseConversion",
        "revokeApiKey",
        "changeVendorMemberRole",
        "removeVendorMember",
        "pauseProgram",
        "archiveProgram",
        "createWebhookEndpoint",
        "updateWebhookEndpoint",
        "pauseWebhookEndpoint",
        "resumeWebhookEndpoint",
        "rotateWebhookSecret",
        "sendTestWebhook",
        "replayWebhooks",
        "redeliverWebhook",
        "deleteWebhookEndpoint",
    ];
    let mut used: Vec<String> = Vec::new();
    let mut suspended: Option<String> = None;
    let mut paused: Option<String> = None;
    for name in order {
        let m = mutations.iter().find(|m| m.name == name).unwrap();
        let candidates: Vec<&Object> = world
            .objects
            .iter()
            .filter(|o| (m.targets)(&o.kind))
            .filter(|o| match (name, &o.kind) {
                (
                    "approveApplication"
                    | "rejectApplication"
                    | "bulkApproveApplications"
                    | "bulkRejectApplications"
                    | "withdrawApplication",
                    Kind::Application { pending, .. },
                ) => *pending,
                // The MEMBER's membership: an owner cannot be demoted or removed alone.
                ("changeVendorMemberRole" | "removeVendorMember", Kind::Member(_, role)) => {
                    *role == Role::Member
                }
                _ => true,
            })
            .collect();
        let target = match name {
            "reinstateEnrollment" => candidates
                .iter()
                .find(|o| Some(&o.id) == suspended.as_ref()),
            "archiveProgram" => candidates.iter().find(|o| Some(&o.id) == paused.as_ref()),
            // Every vendor served an earlier control; creating does not change the vendor.
            "createWebhookEndpoint" => candidates.first(),
            _ => candidates.iter().find(|o| !used.contains(&o.id)),
        };
        let Some(target) = target else {
            problems.push(format!("no object for the positive control of {name}"));
            continue;
        };
        let actor = Actor::all()
            .into_iter()
            .find(|a| (m.entitled)(*a, &target.kind))
            .unwrap();
        let client = &world.clients[&actor];
        let version = match target.kind {
            Kind::Program { vendor, .. } | Kind::Vendor(vendor) => {
                version_of(
                    &world.clients[&Actor::Team(vendor, Role::Owner)],
                    &target.id,
                )
                .await
            }
            _ => target.version,
        };
        let id = target.id.clone();
        let before = snapshot(app).await;
        let response = client
            .gql(
                &mutation_document(m),
                json!({ "input": (m.input)(&id, version) }),
            )
            .await;
        let after = snapshot(app).await;
        if refused(&response.body, name) {
            problems.push(format!(
                "positive control {name} as {actor:?} was refused: {}",
                response.body
            ));
        } else if after == before {
            problems.push(format!(
                "positive control {name} as {actor:?} wrote nothing"
            ));
        }
        used.push(target.id.clone());
        match name {
            "suspendEnrollment" => suspended = Some(target.id.clone()),
            "pauseProgram" => paused = Some(target.id.clone()),
            _ => {}
        }
    }
    problems
}

/// `excludeMine` hides what the caller applied to or joined, and nothing else.
async fn search_cases(world: &World) -> (usize, Vec<String>) {
    let mut problems = Vec::new();
    let actors = Actor::all();
    for actor in &actors {
        let found = world.clients[actor]
            .gql(
                "{ searchPrograms(filter: { excludeMine: true }, first: 50) { edges { node { slug } } } }",
                json!({}),
            )
            .await;
        if found.body.get("errors").is_some() {
            // Keys and anonymous callers have nothing of their own: the filter is a no-op
            // or refused, never a leak. Only partners must get a list.
            if matches!(actor, Actor::Partner(_)) {
                problems.push(format!("search as {actor:?}: {}", found.body));
            }
            continue;
        }
        let slugs: Vec<&str> = found.body["data"]["searchPrograms"]["edges"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["node"]["slug"].as_str().unwrap())
            .collect();
        for (v, slug) in world.slugs.iter().enumerate() {
            let mine = matches!(actor, Actor::Partner(q) if standing(*q, v) != Standing::None);
            if mine == slugs.contains(&slug.as_str()) {
                problems.push(format!(
                    "search as {actor:?}: {slug} {} but should not be",
                    if mine { "listed" } else { "hidden" }
                ));
            }
        }
    }
    (actors.len(), problems)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn every_actor_reaches_exactly_its_own_tenants_objects() {
    let app = TestApp::spawn().await;
    let world = build_world(&app).await;
    let mutations = mutations();

    let reads = read_cases(&world);
    let writes = mutation_cases(&world, &mutations);
    let total = reads.len() + writes.len();
    let before = snapshot(&app).await;
    let mut failures = run(&app, &world, reads).await;
    failures.extend(run(&app, &world, writes).await);
    let after = snapshot(&app).await;
    let (searches, search_failures) = search_cases(&world).await;
    failures.extend(search_failures);
    let changed: Vec<&String> = after.iter().filter(|row| !before.contains(row)).collect();
    assert!(
        changed.is_empty(),
        "refused calls changed {} rows, e.g. {:?}",
        changed.len(),
        changed.first()
    );
    failures.extend(positive_controls(&app, &world, &mutations).await);
    eprintln!(
        "tenant isolation: {} cases ({} actors, {} objects, {} mutations) + {searches} searches + {} positive controls",
        total,
        Actor::all().len(),
        world.objects.len(),
        mutations.len(),
        mutations.len()
    );
    assert!(total >= 10_000, "only {total} cases");
    assert!(
        failures.is_empty(),
        "{} of {total} cases failed:\n{}",
        failures.len(),
        failures
            .iter()
            .take(40)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}
