//! The domain-event log: what happened, as typed facts in the past tense, written by
//! [`emit`] into the `event` table in the transaction that made it happen (a rolled-back
//! change emitted nothing). It is the audit trail, and what the search indexer, the
//! webhook dispatcher and the subscription broadcaster consume, each at its own pace
//! ([`consumer`]).
//!
//! Every event names whose business it is (vendor, program, partner), which is what
//! reading the log, subscribing to it and delivering it are authorized by, and carries a
//! JSON payload with a schema version (`"v"`) and the global IDs of what it concerns —
//! the `data` a webhook receiver gets.

pub mod consumer;
mod facts;
pub mod live;
pub mod read;

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use entity::event;
use sea_orm::{ActiveValue::Set, ConnectionTrait, EntityTrait, NotSet};
use serde_json::{Value, json};

pub use facts::{
    ApplicationFacts, ConversionFacts, EnrollmentFacts, ProgramFacts, application_facts,
    enrollment_facts,
};

use super::Actor;
use crate::{auth::Viewer, error::AppError};

/// The version of every payload's schema written now (0: carried over from the
/// free-form audit trail).
pub const PAYLOAD_VERSION: i64 = 1;

/// Every event type, as stored and filtered by.
pub const EVENT_TYPES: &[&str] = &[
    "user.signed_up",
    "user.logged_in",
    "user.logged_out",
    "session.reuse_detected",
    "vendor.created",
    "vendor.updated",
    "vendor.member_added",
    "vendor.member_role_changed",
    "vendor.member_removed",
    "api_key.created",
    "api_key.revoked",
    "partner.created",
    "partner.updated",
    "program.created",
    "program.updated",
    "program.terms_changed",
    "program.published",
    "program.paused",
    "program.archived",
    "program.questions_changed",
    "program.figures_changed",
    "search.reindex_requested",
    "invitation.created",
    "invitation.revoked",
    "application.submitted",
    "application.approved",
    "application.rejected",
    "application.withdrawn",
    "enrollment.created",
    "enrollment.left",
    "enrollment.suspended",
    "enrollment.reinstated",
    "enrollment.terminated",
    "conversion.recorded",
    "conversion.reversed",
    "commission.approved",
    "commission.paid",
    "exchange_rate.changed",
];

/// `base64url("Type:id")`, the API's global ID of an object.
pub fn global_id(type_name: &str, id: i64) -> String {
    URL_SAFE_NO_PAD.encode(format!("{type_name}:{id}"))
}

/// Everything that happens in the marketplace.
#[derive(Debug, Clone)]
pub enum DomainEvent {
    // Accounts and sessions.
    UserSignedUp {
        user_id: i64,
    },
    UserLoggedIn {
        user_id: i64,
    },
    UserLoggedOut {
        user_id: i64,
        all_sessions: bool,
    },
    SessionReuseDetected {
        user_id: i64,
    },
    // Vendors and their teams.
    VendorCreated {
        vendor_id: i64,
    },
    VendorUpdated {
        vendor_id: i64,
    },
    VendorMemberAdded {
        vendor_id: i64,
        user_id: i64,
        role: String,
    },
    VendorMemberRoleChanged {
        vendor_id: i64,
        user_id: i64,
        before: String,
        after: String,
    },
    VendorMemberRemoved {
        vendor_id: i64,
        user_id: i64,
        role: String,
    },
    ApiKeyCreated {
        vendor_id: i64,
        key_id: i64,
        scopes: Vec<String>,
    },
    ApiKeyRevoked {
        vendor_id: i64,
        key_id: i64,
    },
    // Partners.
    PartnerCreated {
        partner_id: i64,
    },
    PartnerUpdated {
        partner_id: i64,
    },
    // Listings.
    ProgramCreated(ProgramFacts),
    ProgramUpdated(ProgramFacts),
    ProgramTermsChanged(ProgramFacts),
    ProgramPublished(ProgramFacts),
    ProgramPaused(ProgramFacts),
    ProgramArchived(ProgramFacts),
    ProgramQuestionsChanged {
        facts: ProgramFacts,
        questions: usize,
    },
    /// Its measured figures (earnings, approval rate) moved.
    ProgramFiguresChanged(ProgramFacts),
    /// Its search document must be rebuilt although nothing about it changed (a carried
    /// over outbox row, a rebuilt index).
    SearchReindexRequested {
        program_id: i64,
        vendor_id: Option<i64>,
    },
    InvitationCreated {
        facts: ProgramFacts,
        invitation_id: i64,
    },
    InvitationRevoked {
        facts: ProgramFacts,
        invitation_id: i64,
    },
    // The partner journey.
    ApplicationSubmitted(ApplicationFacts),
    ApplicationApproved(ApplicationFacts),
    ApplicationRejected(ApplicationFacts),
    ApplicationWithdrawn(ApplicationFacts),
    EnrollmentCreated(EnrollmentFacts),
    EnrollmentLeft(EnrollmentFacts),
    EnrollmentSuspended(EnrollmentFacts),
    EnrollmentReinstated(EnrollmentFacts),
    EnrollmentTerminated(EnrollmentFacts),
    // The ledger.
    ConversionRecorded(ConversionFacts),
    ConversionReversed(ConversionFacts),
    /// Commissions of one partnership whose holding period ended.
    CommissionsApproved {
        enrollment: EnrollmentFacts,
        commission_ids: Vec<i64>,
    },
    CommissionsPaid {
        enrollment: EnrollmentFacts,
        commission_ids: Vec<i64>,
        reference: String,
    },
    // Reference data.
    ExchangeRateChanged {
        currency: String,
        before: Option<i64>,
        after: i64,
    },
}

/// Where an event belongs and what it says, as stored.
struct Described {
    event_type: &'static str,
    subject_type: &'static str,
    subject_id: Option<i64>,
    vendor_id: Option<i64>,
    program_id: Option<i64>,
    partner_id: Option<i64>,
    payload: Value,
}

impl DomainEvent {
    /// The dotted, past-tense name readers filter by (`application.approved`).
    pub fn event_type(&self) -> &'static str {
        self.describe().event_type
    }

    fn describe(&self) -> Described {
        use DomainEvent as E;
        let user = |event_type, user_id: i64| Described {
            event_type,
            subject_type: "User",
            subject_id: Some(user_id),
            vendor_id: None,
            program_id: None,
            partner_id: None,
            payload: json!({ "userId": global_id("User", user_id) }),
        };
        let vendor =
            |event_type, vendor_id: i64, subject_type, subject_id: i64, payload| Described {
                event_type,
                subject_type,
                subject_id: Some(subject_id),
                vendor_id: Some(vendor_id),
                program_id: None,
                partner_id: None,
                payload,
            };
        let partner = |event_type, partner_id: i64| Described {
            event_type,
            subject_type: "Partner",
            subject_id: Some(partner_id),
            vendor_id: None,
            program_id: None,
            partner_id: Some(partner_id),
            payload: json!({ "partnerId": global_id("Partner", partner_id) }),
        };
        let program = |event_type, f: &ProgramFacts, extra: Value| Described {
            event_type,
            subject_type: "Program",
            subject_id: Some(f.program_id),
            vendor_id: Some(f.vendor_id),
            program_id: Some(f.program_id),
            partner_id: None,
            payload: merge(f.payload(), extra),
        };
        let application = |event_type, f: &ApplicationFacts| Described {
            event_type,
            subject_type: "Application",
            subject_id: Some(f.application_id),
            vendor_id: Some(f.vendor_id),
            program_id: Some(f.program_id),
            partner_id: Some(f.partner_id),
            payload: f.payload(),
        };
        let enrollment = |event_type, f: &EnrollmentFacts, extra: Value| Described {
            event_type,
            subject_type: "Enrollment",
            subject_id: Some(f.enrollment_id),
            vendor_id: Some(f.vendor_id),
            program_id: Some(f.program_id),
            partner_id: Some(f.partner_id),
            payload: merge(f.payload(), extra),
        };
        let conversion = |event_type, f: &ConversionFacts| Described {
            event_type,
            subject_type: "Conversion",
            subject_id: Some(f.conversion_id),
            vendor_id: Some(f.vendor_id),
            program_id: Some(f.program_id),
            partner_id: Some(f.partner_id),
            payload: f.payload(),
        };
        let member = |user_id: i64, extra: Value| {
            merge(json!({ "userId": global_id("User", user_id) }), extra)
        };
        match self {
            E::UserSignedUp { user_id } => user("user.signed_up", *user_id),
            E::UserLoggedIn { user_id } => user("user.logged_in", *user_id),
            E::UserLoggedOut {
                user_id,
                all_sessions,
            } => {
                let mut d = user("user.logged_out", *user_id);
                d.payload = merge(d.payload, json!({ "allSessions": all_sessions }));
                d
            }
            E::SessionReuseDetected { user_id } => user("session.reuse_detected", *user_id),
            E::VendorCreated { vendor_id } => vendor(
                "vendor.created",
                *vendor_id,
                "Vendor",
                *vendor_id,
                json!({ "vendorId": global_id("Vendor", *vendor_id) }),
            ),
            E::VendorUpdated { vendor_id } => vendor(
                "vendor.updated",
                *vendor_id,
                "Vendor",
                *vendor_id,
                json!({ "vendorId": global_id("Vendor", *vendor_id) }),
            ),
            E::VendorMemberAdded {
                vendor_id,
                user_id,
                role,
            } => vendor(
                "vendor.member_added",
                *vendor_id,
                "Vendor",
                *vendor_id,
                member(
                    *user_id,
                    json!({ "vendorId": global_id("Vendor", *vendor_id), "role": role }),
                ),
            ),
            E::VendorMemberRoleChanged {
                vendor_id,
                user_id,
                before,
                after,
            } => vendor(
                "vendor.member_role_changed",
                *vendor_id,
                "Vendor",
                *vendor_id,
                member(
                    *user_id,
                    json!({ "vendorId": global_id("Vendor", *vendor_id), "before": before, "after": after }),
                ),
            ),
            E::VendorMemberRemoved {
                vendor_id,
                user_id,
                role,
            } => vendor(
                "vendor.member_removed",
                *vendor_id,
                "Vendor",
                *vendor_id,
                member(
                    *user_id,
                    json!({ "vendorId": global_id("Vendor", *vendor_id), "role": role }),
                ),
            ),
            E::ApiKeyCreated {
                vendor_id,
                key_id,
                scopes,
            } => vendor(
                "api_key.created",
                *vendor_id,
                "ApiKey",
                *key_id,
                json!({
                    "vendorId": global_id("Vendor", *vendor_id),
                    "apiKeyId": global_id("ApiKey", *key_id),
                    "scopes": scopes,
                }),
            ),
            E::ApiKeyRevoked { vendor_id, key_id } => vendor(
                "api_key.revoked",
                *vendor_id,
                "ApiKey",
                *key_id,
                json!({
                    "vendorId": global_id("Vendor", *vendor_id),
                    "apiKeyId": global_id("ApiKey", *key_id),
                }),
            ),
            E::PartnerCreated { partner_id } => partner("partner.created", *partner_id),
            E::PartnerUpdated { partner_id } => partner("partner.updated", *partner_id),
            E::ProgramCreated(f) => program("program.created", f, json!({})),
            E::ProgramUpdated(f) => program("program.updated", f, json!({})),
            E::ProgramTermsChanged(f) => program("program.terms_changed", f, json!({})),
            E::ProgramPublished(f) => program("program.published", f, json!({})),
            E::ProgramPaused(f) => program("program.paused", f, json!({})),
            E::ProgramArchived(f) => program("program.archived", f, json!({})),
            E::ProgramQuestionsChanged { facts, questions } => program(
                "program.questions_changed",
                facts,
                json!({ "questions": questions }),
            ),
            E::ProgramFiguresChanged(f) => program("program.figures_changed", f, json!({})),
            E::SearchReindexRequested {
                program_id,
                vendor_id,
            } => Described {
                event_type: "search.reindex_requested",
                subject_type: "Program",
                subject_id: Some(*program_id),
                vendor_id: *vendor_id,
                program_id: Some(*program_id),
                partner_id: None,
                payload: json!({ "programId": global_id("Program", *program_id) }),
            },
            E::InvitationCreated {
                facts,
                invitation_id,
            } => Described {
                subject_type: "Invitation",
                subject_id: Some(*invitation_id),
                ..program(
                    "invitation.created",
                    facts,
                    json!({ "invitationId": global_id("Invitation", *invitation_id) }),
                )
            },
            E::InvitationRevoked {
                facts,
                invitation_id,
            } => Described {
                subject_type: "Invitation",
                subject_id: Some(*invitation_id),
                ..program(
                    "invitation.revoked",
                    facts,
                    json!({ "invitationId": global_id("Invitation", *invitation_id) }),
                )
            },
            E::ApplicationSubmitted(f) => application("application.submitted", f),
            E::ApplicationApproved(f) => application("application.approved", f),
            E::ApplicationRejected(f) => application("application.rejected", f),
            E::ApplicationWithdrawn(f) => application("application.withdrawn", f),
            E::EnrollmentCreated(f) => enrollment("enrollment.created", f, json!({})),
            E::EnrollmentLeft(f) => enrollment("enrollment.left", f, json!({})),
            E::EnrollmentSuspended(f) => enrollment("enrollment.suspended", f, json!({})),
            E::EnrollmentReinstated(f) => enrollment("enrollment.reinstated", f, json!({})),
            E::EnrollmentTerminated(f) => enrollment("enrollment.terminated", f, json!({})),
            E::ConversionRecorded(f) => conversion("conversion.recorded", f),
            E::ConversionReversed(f) => conversion("conversion.reversed", f),
            E::CommissionsApproved {
                enrollment: f,
                commission_ids,
            } => Described {
                subject_type: "Commission",
                subject_id: commission_ids.first().copied(),
                ..enrollment(
                    "commission.approved",
                    f,
                    json!({ "commissionIds": ids("Commission", commission_ids) }),
                )
            },
            E::CommissionsPaid {
                enrollment: f,
                commission_ids,
                reference,
            } => Described {
                subject_type: "Commission",
                subject_id: commission_ids.first().copied(),
                ..enrollment(
                    "commission.paid",
                    f,
                    json!({ "commissionIds": ids("Commission", commission_ids), "reference": reference }),
                )
            },
            E::ExchangeRateChanged {
                currency,
                before,
                after,
            } => Described {
                event_type: "exchange_rate.changed",
                subject_type: "ExchangeRate",
                subject_id: None,
                vendor_id: None,
                program_id: None,
                partner_id: None,
                payload: json!({
                    "currency": currency,
                    "usdMicrosPerUnit": { "before": before, "after": after },
                }),
            },
        }
    }
}

fn ids(type_name: &str, ids: &[i64]) -> Vec<String> {
    ids.iter().map(|id| global_id(type_name, *id)).collect()
}

/// `base` with `extra`'s members added (both objects).
fn merge(mut base: Value, extra: Value) -> Value {
    if let (Some(base), Value::Object(extra)) = (base.as_object_mut(), extra) {
        base.extend(extra);
    }
    base
}

/// The row `event` is stored as.
fn row(actor: &Actor, event: &DomainEvent) -> event::ActiveModel {
    let d = event.describe();
    let mut payload = json!({ "v": PAYLOAD_VERSION });
    if let (Some(p), Value::Object(fields)) = (payload.as_object_mut(), d.payload) {
        p.extend(fields);
    }
    let (actor_user_id, actor_api_key_id) = match &actor.viewer {
        Viewer::User(user) => (Some(user.user_id), None),
        Viewer::ApiKey(key) => (None, Some(key.key_id)),
        Viewer::Anonymous => (None, None),
    };
    // Sign-up and log-in act before the request has a viewer: the user is the actor.
    let actor_user_id = actor_user_id.or(match event {
        DomainEvent::UserSignedUp { user_id }
        | DomainEvent::UserLoggedIn { user_id }
        | DomainEvent::UserLoggedOut { user_id, .. }
        | DomainEvent::SessionReuseDetected { user_id } => Some(*user_id),
        _ => None,
    });
    event::ActiveModel {
        id: NotSet,
        // The database's default: the writing transaction on PostgreSQL, 0 on SQLite.
        txid: NotSet,
        event_type: Set(d.event_type.to_owned()),
        occurred_at: Set(crate::service::now()),
        actor_user_id: Set(actor_user_id),
        actor_api_key_id: Set(actor_api_key_id),
        request_id: Set(actor.request_id.clone()),
        vendor_id: Set(d.vendor_id),
        program_id: Set(d.program_id),
        partner_id: Set(d.partner_id),
        subject_type: Set(d.subject_type.to_owned()),
        subject_id: Set(d.subject_id),
        payload: Set(payload),
    }
}

/// Writes `event` into the log inside the caller's transaction: it commits with the
/// change or not at all.
pub async fn emit(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    event: DomainEvent,
) -> Result<(), AppError> {
    event::Entity::insert(row(actor, &event))
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

/// [`emit`] for many events of one change, in multi-row inserts.
pub async fn emit_all(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    events: impl IntoIterator<Item = DomainEvent>,
) -> Result<(), AppError> {
    // 12 parameters a row: far below SQLite's 32,766 per statement.
    let rows: Vec<event::ActiveModel> = events.into_iter().map(|e| row(actor, &e)).collect();
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        let chunk: Vec<_> = rows.by_ref().take(1_000).collect();
        event::Entity::insert_many(chunk)
            .exec_without_returning(conn)
            .await?;
    }
    Ok(())
}

/// Programs whose reindex requests one statement writes: each statement stays well
/// inside the statement timeout whatever the catalogue's size (1M programs: ~20).
pub const REINDEX_CHUNK: i64 = 50_000;

/// Asks the search indexer to rebuild the documents of every program `filter` selects
/// (a new, empty index must be filled): `INSERT … SELECT` by ranges of ids, all in one
/// transaction, so a crash leaves all of the requests or none.
pub async fn request_reindex(
    db: &sea_orm::DatabaseConnection,
    filter: sea_orm::Condition,
    chunk: i64,
) -> Result<u64, AppError> {
    use entity::program;
    use sea_orm::{
        ColumnTrait, EntityTrait, QuerySelect, TransactionTrait,
        sea_query::{Expr, Func, Query},
    };
    let now = crate::service::now();
    let payload = json!({ "v": PAYLOAD_VERSION });
    let last: Option<Option<i64>> = program::Entity::find()
        .select_only()
        .expr(Func::max(Expr::col(program::Column::Id)))
        .into_tuple()
        .one(db)
        .await?;
    let last = last.flatten().unwrap_or(0);
    let txn = db.begin().await?;
    let mut queued = 0;
    let mut from = 0;
    while from < last {
        let to = from.saturating_add(chunk.max(1));
        let select = Query::select()
            .expr(Expr::val("search.reindex_requested"))
            .expr(Expr::val(now))
            .column(program::Column::VendorId)
            .column(program::Column::Id)
            .expr(Expr::val("Program"))
            .column(program::Column::Id)
            .expr(Expr::val(payload.clone()))
            .from(program::Entity)
            .cond_where(
                filter
                    .clone()
                    .add(program::Column::Id.gt(from))
                    .add(program::Column::Id.lte(to)),
            )
            .order_by(program::Column::Id, sea_orm::Order::Asc)
            .to_owned();
        let insert = Query::insert()
            .into_table(event::Entity)
            .columns([
                event::Column::EventType,
                event::Column::OccurredAt,
                event::Column::VendorId,
                event::Column::ProgramId,
                event::Column::SubjectType,
                event::Column::SubjectId,
                event::Column::Payload,
            ])
            .select_from(select)
            .map_err(|e| AppError::internal(anyhow::anyhow!(e)))?
            .to_owned();
        queued += txn.execute(&insert).await?.rows_affected();
        from = to;
    }
    txn.commit().await?;
    Ok(queued)
}
