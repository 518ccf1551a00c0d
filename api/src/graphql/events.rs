//! The event log over GraphQL: the audit trail of a vendor (its team) or of the whole
//! marketplace (platform admins).

use async_graphql::{
    Context, Enum, ID, Json, Object, SimpleObject,
    connection::{Connection, EmptyFields},
};
use chrono::{DateTime, Utc};
use entity::event;

use super::{
    GqlResultExt,
    connection::{connection, page_cost, page_request},
    context::ContextExt,
    relay::{self, NodeType},
};
use crate::service::events::{
    self,
    read::{self, AuditFilter},
};

/// Something that happened, as the log recorded it.
#[derive(SimpleObject)]
pub struct AuditEvent {
    /// Its position in the log (monotonic; not a node ID).
    pub sequence: String,
    /// Dotted and past tense: `application.approved`.
    #[graphql(name = "type")]
    pub event_type: String,
    pub occurred_at: DateTime<Utc>,
    /// The user who acted (none: the system, or an API key).
    pub actor_user_id: Option<ID>,
    /// The API key that acted.
    pub actor_api_key_id: Option<ID>,
    /// The request it happened in (matches the `X-Request-Id` of the response).
    pub request_id: Option<String>,
    pub vendor_id: Option<ID>,
    pub program_id: Option<ID>,
    pub partner_id: Option<ID>,
    /// The kind of object it happened to (`Application`).
    pub subject_type: String,
    /// That object's global ID, when it has one.
    pub subject_id: Option<ID>,
    /// What it says: `{ "v": <schema version>, … }` with the global IDs of what it
    /// concerns (the `data` of the matching webhook).
    pub payload: Json<serde_json::Value>,
}

impl From<event::Model> for AuditEvent {
    fn from(e: event::Model) -> Self {
        let id = |kind, id: Option<i64>| id.map(|id| relay::encode(kind, id));
        Self {
            sequence: e.id.to_string(),
            subject_id: e
                .subject_id
                .map(|id| ID(events::global_id(&e.subject_type, id))),
            event_type: e.event_type,
            occurred_at: e.occurred_at,
            actor_user_id: id(NodeType::User, e.actor_user_id),
            actor_api_key_id: id(NodeType::ApiKey, e.actor_api_key_id),
            request_id: e.request_id,
            vendor_id: id(NodeType::Vendor, e.vendor_id),
            program_id: id(NodeType::Program, e.program_id),
            partner_id: id(NodeType::Partner, e.partner_id),
            subject_type: e.subject_type,
            payload: Json(e.payload),
        }
    }
}

/// Which way the audit trail reads.
#[derive(Enum, Clone, Copy, PartialEq, Eq, Default)]
pub enum AuditOrder {
    #[default]
    OldestFirst,
    NewestFirst,
}

pub type AuditEventConnection = Connection<String, AuditEvent, EmptyFields, EmptyFields>;

#[derive(Default)]
pub struct EventQuery;

#[Object]
impl EventQuery {
    /// The audit trail: every event of a vendor (its team may read it), or of every
    /// vendor you are on when `vendorId` is left out; platform admins read the whole
    /// marketplace's. `types` keeps only those event types (`application.approved`, …).
    #[graphql(complexity = "page_cost(first, last, child_complexity)")]
    #[allow(clippy::too_many_arguments)]
    async fn audit_events(
        &self,
        ctx: &Context<'_>,
        vendor_id: Option<ID>,
        #[graphql(default)] types: Vec<String>,
        #[graphql(default)] order: AuditOrder,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<AuditEventConnection> {
        let actor = ctx.actor()?;
        let vendor_id = vendor_id
            .map(|id| relay::decode_as(&id, NodeType::Vendor))
            .transpose()
            .gql()?;
        let filter = AuditFilter {
            vendor_id,
            types,
            newest_first: order == AuditOrder::NewestFirst,
        };
        let page = read::audit_events(
            ctx.services(),
            &actor.viewer,
            &filter,
            &page_request(first, after, last, before),
        )
        .await
        .gql()?;
        Ok(connection(page, EmptyFields, AuditEvent::from))
    }
}
