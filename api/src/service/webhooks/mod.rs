//! Signed webhooks, following the Standard Webhooks specification
//! (<https://www.standardwebhooks.com/>): `webhook-id`, `webhook-timestamp` and
//! `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, secrets `whsec_`
//! + base64.
//!
//! Vendor owners and admins manage their vendor's endpoints; a partner manages endpoints
//! for its own events. The dispatcher ([`dispatch`]) turns events of the log into one
//! delivery per matching endpoint, in the transaction that moves its cursor; the sender
//! ([`deliver`]) sends them at least once, in order per subject and endpoint, with
//! retries over a day, through an SSRF guard ([`ssrf`]).

pub mod deliver;
pub mod dispatch;
pub mod ssrf;

use base64::{Engine, engine::general_purpose::STANDARD};
use chrono::{DateTime, Duration, Utc};
use entity::{
    code_list, event,
    webhook_delivery::{self, DeliveryStatus},
    webhook_endpoint::{self, EndpointStatus},
};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, EntityTrait, NotSet,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect,
};
use serde_json::json;

use super::{
    Actor, Services,
    pagination::{self, Page, PageRequest},
    partners, vendors,
};
use crate::{
    config::WebhookConfig,
    error::{AppError, FieldError, FieldErrorCode},
};

/// The events an endpoint can receive.
pub const WEBHOOK_EVENT_TYPES: &[&str] = &[
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
    "program.published",
    "program.updated",
    "program.paused",
    "program.archived",
];

/// The version of the body's envelope (`apiVersion`).
pub const API_VERSION: &str = "2026-12-06";
/// Most endpoints one vendor (or partner) may register.
pub const MAX_ENDPOINTS: u64 = 20;
/// How long a rotated-out secret keeps signing beside the new one.
pub const ROTATION_OVERLAP_HOURS: i64 = 24;
/// Events one replay may queue.
pub const MAX_REPLAY: u64 = 1_000;

/// Whose events an endpoint receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    Vendor(i64),
    Partner(i64),
}

impl Owner {
    fn key(self) -> String {
        match self {
            Self::Vendor(id) => format!("vendor:{id}"),
            Self::Partner(id) => format!("partner:{id}"),
        }
    }
}

/// The caller's own endpoints: a vendor's (its owners and admins), or their own as a
/// partner when no vendor is named.
async fn owner_for(
    services: &Services,
    actor: &Actor,
    vendor_id: Option<i64>,
) -> Result<Owner, AppError> {
    actor.viewer.require_user()?;
    match vendor_id {
        Some(vendor_id) => {
            vendors::ensure_manager(&services.db, actor, vendor_id).await?;
            Ok(Owner::Vendor(vendor_id))
        }
        None => {
            let partner = partners::mine(services, &actor.viewer)
                .await?
                .ok_or_else(|| {
                    AppError::invalid(FieldError::new(
                        "vendorId",
                        FieldErrorCode::Required,
                        "name the vendor whose events to receive (or create a partner profile to receive your own)",
                    ))
                })?;
            Ok(Owner::Partner(partner.id))
        }
    }
}

/// An endpoint the caller manages, or `NOT_FOUND`.
async fn endpoint_for(
    services: &Services,
    actor: &Actor,
    id: i64,
) -> Result<webhook_endpoint::Model, AppError> {
    actor.viewer.require_user()?;
    let endpoint = webhook_endpoint::Entity::find_by_id(id)
        .one(&services.db)
        .await?
        .ok_or(AppError::NotFound)?;
    let mine = match (endpoint.vendor_id, endpoint.partner_id) {
        (Some(vendor_id), _) => vendors::role_of(&services.db, &actor.viewer, vendor_id)
            .await?
            .is_some_and(|role| role.can_manage_programs()),
        (None, Some(partner_id)) => partners::mine(services, &actor.viewer)
            .await?
            .is_some_and(|p| p.id == partner_id),
        (None, None) => false,
    };
    if mine {
        Ok(endpoint)
    } else {
        Err(AppError::NotFound)
    }
}

fn new_secret() -> Result<String, AppError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| AppError::internal(anyhow::anyhow!("getrandom: {e}")))?;
    Ok(format!("whsec_{}", STANDARD.encode(bytes)))
}

/// What an endpoint's fields must be; problems go to `problems`.
async fn checked(
    config: &WebhookConfig,
    url: Option<&str>,
    description: Option<&str>,
    event_types: Option<&[String]>,
) -> Result<(), AppError> {
    let mut problems = Vec::new();
    if let Some(url) = url {
        if url.len() > 2_048 {
            problems.push(FieldError::new(
                "url",
                FieldErrorCode::TooLong,
                "at most 2048 characters",
            ));
        } else if let Some(why) = ssrf::refusal(url, config.allow_http, config.allow_local).await {
            problems.push(FieldError::new("url", FieldErrorCode::Invalid, why));
        }
    }
    if let Some(description) = description
        && description.chars().count() > 500
    {
        problems.push(FieldError::new(
            "description",
            FieldErrorCode::TooLong,
            "at most 500 characters",
        ));
    }
    if let Some(types) = event_types {
        if types.is_empty() {
            problems.push(FieldError::new(
                "eventTypes",
                FieldErrorCode::Required,
                "name at least one event type",
            ));
        }
        for (i, t) in types.iter().enumerate() {
            if !WEBHOOK_EVENT_TYPES.contains(&t.as_str()) {
                let shown: String = t.chars().take(64).collect();
                problems.push(FieldError::new(
                    &format!("eventTypes.{i}"),
                    FieldErrorCode::Invalid,
                    format!("`{shown}` is not an event type webhooks carry"),
                ));
            }
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(AppError::Invalid(problems))
    }
}

fn duplicate_url() -> AppError {
    AppError::invalid(FieldError::new(
        "url",
        FieldErrorCode::Duplicate,
        "an endpoint with this URL already receives these events",
    ))
}

/// A new endpoint's input.
pub struct NewEndpoint {
    pub vendor_id: Option<i64>,
    pub url: String,
    pub description: String,
    pub event_types: Vec<String>,
}

/// Registers an endpoint; returns it with its secret (shown this once).
pub async fn create(
    services: &Services,
    actor: &Actor,
    input: NewEndpoint,
) -> Result<(webhook_endpoint::Model, String), AppError> {
    let owner = owner_for(services, actor, input.vendor_id).await?;
    let url = input.url.trim().to_owned();
    checked(
        &services.webhook_config,
        Some(&url),
        Some(&input.description),
        Some(&input.event_types),
    )
    .await?;
    let existing = webhook_endpoint::Entity::find()
        .filter(webhook_endpoint::Column::Owner.eq(owner.key()))
        .count(&services.db)
        .await?;
    if existing >= MAX_ENDPOINTS {
        return Err(AppError::invalid(FieldError::general(
            FieldErrorCode::OutOfRange,
            format!("at most {MAX_ENDPOINTS} endpoints; delete one first"),
        )));
    }
    let secret = new_secret()?;
    let now = super::now();
    let created = webhook_endpoint::ActiveModel {
        id: NotSet,
        owner: Set(owner.key()),
        vendor_id: Set(match owner {
            Owner::Vendor(id) => Some(id),
            Owner::Partner(_) => None,
        }),
        partner_id: Set(match owner {
            Owner::Partner(id) => Some(id),
            Owner::Vendor(_) => None,
        }),
        url: Set(url),
        description: Set(input.description),
        event_types: Set(code_list::encode_strs(
            &input
                .event_types
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>(),
        )),
        status: Set(EndpointStatus::Active),
        disabled_reason: Set(None),
        secret: Set(secret.clone()),
        previous_secret: Set(None),
        previous_secret_expires_at: Set(None),
        failing_since: Set(None),
        consecutive_failures: Set(0),
        created_by_user_id: Set(actor.viewer.user_id()),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&services.db)
    .await
    .map_err(|e| match crate::db::unique_violation(&e) {
        Some(_) => duplicate_url(),
        None => e.into(),
    })?;
    Ok((created, secret))
}

/// The endpoints of a vendor (its managers), or the caller's own as a partner.
pub async fn list(
    services: &Services,
    actor: &Actor,
    vendor_id: Option<i64>,
) -> Result<Vec<webhook_endpoint::Model>, AppError> {
    let owner = owner_for(services, actor, vendor_id).await?;
    Ok(webhook_endpoint::Entity::find()
        .filter(webhook_endpoint::Column::Owner.eq(owner.key()))
        .order_by_asc(webhook_endpoint::Column::Id)
        .all(&services.db)
        .await?)
}

/// Changes to an endpoint (what is left out stays).
pub struct EndpointChanges {
    pub url: Option<String>,
    pub description: Option<String>,
    pub event_types: Option<Vec<String>>,
}

pub async fn update(
    services: &Services,
    actor: &Actor,
    id: i64,
    changes: EndpointChanges,
) -> Result<webhook_endpoint::Model, AppError> {
    let current = endpoint_for(services, actor, id).await?;
    let url = changes.url.map(|u| u.trim().to_owned());
    checked(
        &services.webhook_config,
        url.as_deref(),
        changes.description.as_deref(),
        changes.event_types.as_deref(),
    )
    .await?;
    let mut active: webhook_endpoint::ActiveModel = current.into();
    if let Some(url) = url {
        active.url = Set(url);
    }
    if let Some(description) = changes.description {
        active.description = Set(description);
    }
    if let Some(types) = changes.event_types {
        active.event_types = Set(code_list::encode_strs(
            &types.iter().map(String::as_str).collect::<Vec<_>>(),
        ));
    }
    active.updated_at = Set(super::now());
    active
        .update(&services.db)
        .await
        .map_err(|e| match crate::db::unique_violation(&e) {
            Some(_) => duplicate_url(),
            None => e.into(),
        })
}

/// Pauses an endpoint, or resumes one (paused, or disabled after failing: its failure
/// count starts over).
pub async fn set_paused(
    services: &Services,
    actor: &Actor,
    id: i64,
    paused: bool,
) -> Result<webhook_endpoint::Model, AppError> {
    let current = endpoint_for(services, actor, id).await?;
    let mut active: webhook_endpoint::ActiveModel = current.into();
    active.status = Set(if paused {
        EndpointStatus::Paused
    } else {
        EndpointStatus::Active
    });
    if !paused {
        active.disabled_reason = Set(None);
        active.failing_since = Set(None);
        active.consecutive_failures = Set(0);
    }
    active.updated_at = Set(super::now());
    Ok(active.update(&services.db).await?)
}

/// A new secret; the old one keeps signing beside it for [`ROTATION_OVERLAP_HOURS`], so
/// receivers can switch without losing a delivery. Returns the new secret (shown once).
pub async fn rotate_secret(
    services: &Services,
    actor: &Actor,
    id: i64,
) -> Result<(webhook_endpoint::Model, String), AppError> {
    let current = endpoint_for(services, actor, id).await?;
    let secret = new_secret()?;
    let now = super::now();
    let previous = current.secret.clone();
    let mut active: webhook_endpoint::ActiveModel = current.into();
    active.previous_secret = Set(Some(previous));
    active.previous_secret_expires_at = Set(Some(now + Duration::hours(ROTATION_OVERLAP_HOURS)));
    active.secret = Set(secret.clone());
    active.updated_at = Set(now);
    Ok((active.update(&services.db).await?, secret))
}

/// Deletes an endpoint and its deliveries.
pub async fn delete(services: &Services, actor: &Actor, id: i64) -> Result<i64, AppError> {
    endpoint_for(services, actor, id).await?;
    webhook_endpoint::Entity::delete_by_id(id)
        .exec(&services.db)
        .await?;
    Ok(id)
}

/// The body a delivery sends: `{ id, type, timestamp, apiVersion, data }`.
pub fn body(
    message_id: &str,
    event_type: &str,
    at: DateTime<Utc>,
    data: &serde_json::Value,
) -> String {
    json!({
        "id": message_id,
        "type": event_type,
        "timestamp": at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        "apiVersion": API_VERSION,
        "data": data,
    })
    .to_string()
}

/// A delivery due now.
fn pending(
    endpoint_id: i64,
    event_id: Option<i64>,
    event_type: &str,
    subject: String,
    message_id: String,
    body: String,
    now: DateTime<Utc>,
) -> webhook_delivery::ActiveModel {
    webhook_delivery::ActiveModel {
        id: NotSet,
        endpoint_id: Set(endpoint_id),
        event_id: Set(event_id),
        event_type: Set(event_type.to_owned()),
        subject: Set(subject),
        message_id: Set(message_id),
        body: Set(body),
        status: Set(DeliveryStatus::Pending),
        attempts: Set(0),
        next_attempt_at: Set(now),
        claimed_until: Set(None),
        last_attempt_at: Set(None),
        last_status_code: Set(None),
        last_error: Set(None),
        last_latency_ms: Set(None),
        created_at: Set(now),
        delivered_at: Set(None),
    }
}

/// The delivery of `event` to an endpoint, due now. Its message id is the event's, the
/// same for every endpoint and attempt.
fn delivery_of(
    event: &event::Model,
    endpoint_id: i64,
    now: DateTime<Utc>,
) -> webhook_delivery::ActiveModel {
    let message_id = format!("msg_{}", event.id);
    let sent = body(
        &message_id,
        &event.event_type,
        event.occurred_at,
        &event.payload,
    );
    pending(
        endpoint_id,
        Some(event.id),
        &event.event_type,
        format!(
            "{}:{}",
            event.subject_type,
            event.subject_id.unwrap_or_default()
        ),
        message_id,
        sent,
        now,
    )
}

/// Queues a test message to the endpoint (`webhook.test`), whatever its event types.
pub async fn send_test(
    services: &Services,
    actor: &Actor,
    id: i64,
) -> Result<webhook_delivery::Model, AppError> {
    let endpoint = endpoint_for(services, actor, id).await?;
    let now = super::now();
    let message_id = crate::auth::token::generate("msg_test_")?;
    let data = json!({
        "v": 1,
        "endpointId": crate::service::events::global_id("WebhookEndpoint", endpoint.id),
    });
    let sent = body(&message_id, "webhook.test", now, &data);
    let test = pending(
        endpoint.id,
        None,
        "webhook.test",
        format!("WebhookEndpoint:{}", endpoint.id),
        message_id,
        sent,
        now,
    )
    .insert(&services.db)
    .await?;
    services.webhooks_queued.notify_one();
    Ok(test)
}

/// Sends one delivery again, as a new delivery with the same message (receivers
/// deduplicate by `webhook-id`).
pub async fn redeliver(
    services: &Services,
    actor: &Actor,
    delivery_id: i64,
) -> Result<webhook_delivery::Model, AppError> {
    // Before looking: whether it exists is nobody's business but its owner's.
    actor.viewer.require_user()?;
    let original = webhook_delivery::Entity::find_by_id(delivery_id)
        .one(&services.db)
        .await?
        .ok_or(AppError::NotFound)?;
    endpoint_for(services, actor, original.endpoint_id).await?;
    let now = super::now();
    let again = webhook_delivery::ActiveModel {
        id: NotSet,
        status: Set(DeliveryStatus::Pending),
        attempts: Set(0),
        next_attempt_at: Set(now),
        claimed_until: Set(None),
        last_attempt_at: Set(None),
        last_status_code: Set(None),
        last_error: Set(None),
        last_latency_ms: Set(None),
        created_at: Set(now),
        delivered_at: Set(None),
        ..webhook_delivery::ActiveModel::from(original)
    }
    .insert(&services.db)
    .await?;
    services.webhooks_queued.notify_one();
    Ok(again)
}

/// Queues again every event of the endpoint's types that happened between `since` and
/// `until` (at most [`MAX_REPLAY`]); returns how many.
pub async fn replay(
    services: &Services,
    actor: &Actor,
    id: i64,
    since: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<u64, AppError> {
    let endpoint = endpoint_for(services, actor, id).await?;
    if until <= since {
        return Err(AppError::invalid(FieldError::new(
            "until",
            FieldErrorCode::OutOfRange,
            "must be after `since`",
        )));
    }
    let types: Vec<String> = code_list::decode_strs(&endpoint.event_types)
        .map(str::to_owned)
        .collect();
    let events = event::Entity::find()
        .filter(whose(&endpoint))
        .filter(event::Column::EventType.is_in(types))
        .filter(event::Column::OccurredAt.gte(since))
        .filter(event::Column::OccurredAt.lt(until))
        .order_by_asc(event::Column::Id)
        .limit(MAX_REPLAY)
        .all(&services.db)
        .await?;
    let now = super::now();
    let rows: Vec<_> = events
        .iter()
        .map(|e| delivery_of(e, endpoint.id, now))
        .collect();
    let queued = rows.len() as u64;
    for chunk in rows.chunks(200) {
        webhook_delivery::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(&services.db)
            .await?;
    }
    services.webhooks_queued.notify_one();
    Ok(queued)
}

/// The events an endpoint's owner receives.
fn whose(endpoint: &webhook_endpoint::Model) -> Condition {
    match (endpoint.vendor_id, endpoint.partner_id) {
        (Some(vendor_id), _) => Condition::all().add(event::Column::VendorId.eq(vendor_id)),
        (None, Some(partner_id)) => Condition::all().add(event::Column::PartnerId.eq(partner_id)),
        (None, None) => Condition::all().add(event::Column::Id.eq(-1)),
    }
}

/// An endpoint's deliveries, newest first.
pub async fn deliveries(
    services: &Services,
    actor: &Actor,
    endpoint_id: i64,
    statuses: &[DeliveryStatus],
    page: &PageRequest,
) -> Result<Page<webhook_delivery::Model>, AppError> {
    endpoint_for(services, actor, endpoint_id).await?;
    let mut select = webhook_delivery::Entity::find()
        .filter(webhook_delivery::Column::EndpointId.eq(endpoint_id));
    if !statuses.is_empty() {
        select = select.filter(webhook_delivery::Column::Status.is_in(statuses.iter().copied()));
    }
    pagination::by_time(
        &services.db,
        select,
        webhook_delivery::Column::CreatedAt,
        webhook_delivery::Column::Id,
        "DELIVERIES_NEWEST",
        false,
        page,
        |d| (d.created_at, d.id),
    )
    .await
}

/// Whether `viewer` may read an endpoint: its vendor's owners and admins, its partner,
/// platform admins.
async fn may_read(
    services: &Services,
    viewer: &crate::auth::Viewer,
    endpoint: &webhook_endpoint::Model,
) -> Result<bool, AppError> {
    if viewer.is_admin() {
        return Ok(true);
    }
    Ok(match (endpoint.vendor_id, endpoint.partner_id) {
        (Some(vendor_id), _) => vendors::role_of(&services.db, viewer, vendor_id)
            .await?
            .is_some_and(|role| role.can_manage_programs()),
        (None, Some(partner_id)) => partners::mine(services, viewer)
            .await?
            .is_some_and(|p| p.id == partner_id),
        (None, None) => false,
    })
}

/// Endpoints by id that `viewer` may read.
pub async fn endpoints_by_ids(
    services: &Services,
    viewer: &crate::auth::Viewer,
    ids: &[i64],
) -> Result<Vec<webhook_endpoint::Model>, AppError> {
    if viewer.user_id().is_none() || ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut visible = Vec::new();
    for endpoint in webhook_endpoint::Entity::find()
        .filter(webhook_endpoint::Column::Id.is_in(ids.iter().copied()))
        .all(&services.db)
        .await?
    {
        if may_read(services, viewer, &endpoint).await? {
            visible.push(endpoint);
        }
    }
    Ok(visible)
}

/// Deliveries by id whose endpoint `viewer` may read.
pub async fn deliveries_by_ids(
    services: &Services,
    viewer: &crate::auth::Viewer,
    ids: &[i64],
) -> Result<Vec<webhook_delivery::Model>, AppError> {
    if viewer.user_id().is_none() || ids.is_empty() {
        return Ok(Vec::new());
    }
    let deliveries = webhook_delivery::Entity::find()
        .filter(webhook_delivery::Column::Id.is_in(ids.iter().copied()))
        .all(&services.db)
        .await?;
    let endpoints: Vec<i64> = deliveries.iter().map(|d| d.endpoint_id).collect();
    let readable: std::collections::HashSet<i64> = endpoints_by_ids(services, viewer, &endpoints)
        .await?
        .into_iter()
        .map(|e| e.id)
        .collect();
    Ok(deliveries
        .into_iter()
        .filter(|d| readable.contains(&d.endpoint_id))
        .collect())
}
