//! Webhook endpoints and their deliveries over GraphQL (`service::webhooks`).

use async_graphql::{
    Context, Enum, ID, InputObject, Object, SimpleObject,
    connection::{Connection, EmptyFields},
};
use chrono::{DateTime, Utc};
use entity::{
    code_list,
    webhook_delivery::{self, DeliveryStatus},
    webhook_endpoint,
};

use super::{
    GqlResultExt,
    connection::{connection, page_cost, page_request},
    context::ContextExt,
    error::{UserError, payload},
    relay::{self, NodeType},
};
use crate::service::webhooks::{self, EndpointChanges, NewEndpoint};

/// Where a vendor's (or your own, as a partner) events are delivered, signed with the
/// Standard Webhooks scheme. The secret is shown once, when created or rotated.
#[derive(Clone)]
pub struct WebhookEndpoint(pub webhook_endpoint::Model);

/// Whether an endpoint receives deliveries.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::webhook_endpoint::EndpointStatus")]
pub enum WebhookEndpointStatus {
    /// Receives the events it subscribed to.
    Active,
    /// Paused by its owner: receives nothing until resumed.
    Paused,
    /// Disabled after failing continuously for a day: receives nothing until resumed.
    Disabled,
}

/// Where a delivery stands.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::webhook_delivery::DeliveryStatus")]
pub enum WebhookDeliveryStatus {
    /// Waiting for its (next) attempt.
    Pending,
    /// The endpoint answered 2xx.
    Succeeded,
    /// Every attempt of the retry schedule failed.
    Failed,
}

#[Object]
impl WebhookEndpoint {
    pub async fn id(&self) -> ID {
        relay::encode(NodeType::WebhookEndpoint, self.0.id)
    }

    /// Receives POSTs of `{ id, type, timestamp, apiVersion, data }`.
    async fn url(&self) -> &str {
        &self.0.url
    }

    async fn description(&self) -> &str {
        &self.0.description
    }

    /// The event types it receives (`application.approved`, …).
    async fn event_types(&self) -> Vec<String> {
        code_list::decode_strs(&self.0.event_types)
            .map(str::to_owned)
            .collect()
    }

    async fn status(&self) -> WebhookEndpointStatus {
        self.0.status.into()
    }

    /// Why the server disabled it (the failures), when it did.
    async fn disabled_reason(&self) -> Option<&str> {
        self.0.disabled_reason.as_deref()
    }

    /// Since when every attempt has failed (null: the last one succeeded).
    async fn failing_since(&self) -> Option<DateTime<Utc>> {
        self.0.failing_since
    }

    /// Until when the secret replaced by the last rotation still signs too.
    async fn previous_secret_expires_at(&self) -> Option<DateTime<Utc>> {
        self.0.previous_secret_expires_at
    }

    /// The vendor whose events it receives (null for a partner's endpoint).
    async fn vendor_id(&self) -> Option<ID> {
        self.0
            .vendor_id
            .map(|id| relay::encode(NodeType::Vendor, id))
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// Its delivery log, newest first (`statuses` keeps only those).
    #[graphql(complexity = "page_cost(first, last, child_complexity)")]
    async fn deliveries(
        &self,
        ctx: &Context<'_>,
        #[graphql(default)] statuses: Vec<WebhookDeliveryStatus>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<Connection<String, WebhookDelivery, EmptyFields, EmptyFields>> {
        let actor = ctx.actor()?;
        let statuses: Vec<DeliveryStatus> = statuses.into_iter().map(Into::into).collect();
        let page = webhooks::deliveries(
            ctx.services(),
            &actor,
            self.0.id,
            &statuses,
            &page_request(first, after, last, before),
        )
        .await
        .gql()?;
        Ok(connection(page, EmptyFields, WebhookDelivery))
    }
}

/// One event (or test message) on its way to one endpoint.
#[derive(Clone)]
pub struct WebhookDelivery(pub webhook_delivery::Model);

#[Object]
impl WebhookDelivery {
    pub async fn id(&self) -> ID {
        relay::encode(NodeType::WebhookDelivery, self.0.id)
    }

    /// The `webhook-id` header: the same on every attempt and redelivery.
    async fn message_id(&self) -> &str {
        &self.0.message_id
    }

    #[graphql(name = "type")]
    async fn event_type(&self) -> &str {
        &self.0.event_type
    }

    async fn status(&self) -> WebhookDeliveryStatus {
        self.0.status.into()
    }

    async fn attempts(&self) -> i32 {
        self.0.attempts
    }

    /// When the next attempt is due (pending deliveries).
    async fn next_attempt_at(&self) -> Option<DateTime<Utc>> {
        (self.0.status == DeliveryStatus::Pending).then_some(self.0.next_attempt_at)
    }

    async fn last_attempt_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_attempt_at
    }

    /// The HTTP status of the last answer (null: no answer).
    async fn last_status_code(&self) -> Option<i32> {
        self.0.last_status_code
    }

    /// Why the last attempt failed.
    async fn last_error(&self) -> Option<&str> {
        self.0.last_error.as_deref()
    }

    async fn last_latency_ms(&self) -> Option<i32> {
        self.0.last_latency_ms
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    async fn delivered_at(&self) -> Option<DateTime<Utc>> {
        self.0.delivered_at
    }
}

#[derive(Default)]
pub struct WebhookQuery;

#[Object]
impl WebhookQuery {
    /// A vendor's endpoints (its owners and admins), or yours as a partner when
    /// `vendorId` is left out.
    async fn webhook_endpoints(
        &self,
        ctx: &Context<'_>,
        vendor_id: Option<ID>,
    ) -> async_graphql::Result<Vec<WebhookEndpoint>> {
        let actor = ctx.actor()?;
        let vendor_id = vendor_id
            .map(|id| relay::decode_as(&id, NodeType::Vendor))
            .transpose()
            .gql()?;
        Ok(webhooks::list(ctx.services(), &actor, vendor_id)
            .await
            .gql()?
            .into_iter()
            .map(WebhookEndpoint)
            .collect())
    }
}

#[derive(InputObject)]
pub struct CreateWebhookEndpointInput {
    /// The vendor whose events to receive (its owners and admins); leave it out to
    /// receive your own events as a partner.
    pub vendor_id: Option<ID>,
    /// `https` (plain `http` in development only); never a private or loopback address.
    pub url: String,
    #[graphql(default)]
    pub description: String,
    /// At least one of the webhook event types (`application.approved`, …).
    pub event_types: Vec<String>,
}

#[derive(InputObject)]
pub struct UpdateWebhookEndpointInput {
    pub id: ID,
    pub url: Option<String>,
    pub description: Option<String>,
    pub event_types: Option<Vec<String>>,
}

#[derive(InputObject)]
pub struct WebhookEndpointInput {
    pub id: ID,
}

#[derive(InputObject)]
pub struct RedeliverWebhookInput {
    pub delivery_id: ID,
}

#[derive(InputObject)]
pub struct ReplayWebhooksInput {
    pub endpoint_id: ID,
    /// Events that happened from this moment …
    pub since: DateTime<Utc>,
    /// … until before this one (at most 1,000 events are queued).
    pub until: DateTime<Utc>,
}

#[derive(SimpleObject)]
pub struct WebhookEndpointPayload {
    pub endpoint: Option<WebhookEndpoint>,
    /// The signing secret (`whsec_…`): shown only when created or rotated.
    pub secret: Option<String>,
    pub user_errors: Vec<UserError>,
}

#[derive(SimpleObject)]
pub struct DeleteWebhookEndpointPayload {
    pub deleted_endpoint_id: Option<ID>,
    pub user_errors: Vec<UserError>,
}

#[derive(SimpleObject)]
pub struct WebhookDeliveryPayload {
    pub delivery: Option<WebhookDelivery>,
    pub user_errors: Vec<UserError>,
}

#[derive(SimpleObject)]
pub struct ReplayWebhooksPayload {
    /// Deliveries queued.
    pub queued: Option<u64>,
    pub user_errors: Vec<UserError>,
}

fn endpoint_id(id: &ID) -> async_graphql::Result<i64> {
    relay::decode_as(id, NodeType::WebhookEndpoint).gql()
}

fn endpoint_payload(
    result: Result<webhook_endpoint::Model, crate::error::AppError>,
) -> async_graphql::Result<WebhookEndpointPayload> {
    let (endpoint, user_errors) = payload(result)?;
    Ok(WebhookEndpointPayload {
        endpoint: endpoint.map(WebhookEndpoint),
        secret: None,
        user_errors,
    })
}

fn with_secret(
    result: Result<(webhook_endpoint::Model, String), crate::error::AppError>,
) -> async_graphql::Result<WebhookEndpointPayload> {
    let (created, user_errors) = payload(result)?;
    let (endpoint, secret) = created.unzip();
    Ok(WebhookEndpointPayload {
        endpoint: endpoint.map(WebhookEndpoint),
        secret,
        user_errors,
    })
}

#[derive(Default)]
pub struct WebhookMutation;

#[Object]
impl WebhookMutation {
    /// Registers an endpoint (at most 20 per vendor or partner); the payload carries its
    /// secret, shown this once.
    async fn create_webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        input: CreateWebhookEndpointInput,
    ) -> async_graphql::Result<WebhookEndpointPayload> {
        let actor = ctx.actor()?;
        let vendor_id = input
            .vendor_id
            .map(|id| relay::decode_as(&id, NodeType::Vendor))
            .transpose()
            .gql()?;
        let new = NewEndpoint {
            vendor_id,
            url: input.url,
            description: input.description,
            event_types: input.event_types,
        };
        with_secret(webhooks::create(ctx.services(), &actor, new).await)
    }

    /// Changes an endpoint's URL, description or event types.
    async fn update_webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        input: UpdateWebhookEndpointInput,
    ) -> async_graphql::Result<WebhookEndpointPayload> {
        let actor = ctx.actor()?;
        let id = endpoint_id(&input.id)?;
        let changes = EndpointChanges {
            url: input.url,
            description: input.description,
            event_types: input.event_types,
        };
        endpoint_payload(webhooks::update(ctx.services(), &actor, id, changes).await)
    }

    /// Stops deliveries to an endpoint until it is resumed.
    async fn pause_webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        input: WebhookEndpointInput,
    ) -> async_graphql::Result<WebhookEndpointPayload> {
        let actor = ctx.actor()?;
        let id = endpoint_id(&input.id)?;
        endpoint_payload(webhooks::set_paused(ctx.services(), &actor, id, true).await)
    }

    /// Resumes a paused endpoint, or one the server disabled after failures.
    async fn resume_webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        input: WebhookEndpointInput,
    ) -> async_graphql::Result<WebhookEndpointPayload> {
        let actor = ctx.actor()?;
        let id = endpoint_id(&input.id)?;
        endpoint_payload(webhooks::set_paused(ctx.services(), &actor, id, false).await)
    }

    /// A new secret (returned once); the old one keeps signing alongside for 24 hours.
    async fn rotate_webhook_secret(
        &self,
        ctx: &Context<'_>,
        input: WebhookEndpointInput,
    ) -> async_graphql::Result<WebhookEndpointPayload> {
        let actor = ctx.actor()?;
        let id = endpoint_id(&input.id)?;
        with_secret(webhooks::rotate_secret(ctx.services(), &actor, id).await)
    }

    /// Deletes an endpoint and its delivery log.
    async fn delete_webhook_endpoint(
        &self,
        ctx: &Context<'_>,
        input: WebhookEndpointInput,
    ) -> async_graphql::Result<DeleteWebhookEndpointPayload> {
        let actor = ctx.actor()?;
        let id = endpoint_id(&input.id)?;
        let (deleted, user_errors) = payload(webhooks::delete(ctx.services(), &actor, id).await)?;
        Ok(DeleteWebhookEndpointPayload {
            deleted_endpoint_id: deleted.map(|id| relay::encode(NodeType::WebhookEndpoint, id)),
            user_errors,
        })
    }

    /// Sends a `webhook.test` message to the endpoint.
    async fn send_test_webhook(
        &self,
        ctx: &Context<'_>,
        input: WebhookEndpointInput,
    ) -> async_graphql::Result<WebhookDeliveryPayload> {
        let actor = ctx.actor()?;
        let id = endpoint_id(&input.id)?;
        let (delivery, user_errors) =
            payload(webhooks::send_test(ctx.services(), &actor, id).await)?;
        Ok(WebhookDeliveryPayload {
            delivery: delivery.map(WebhookDelivery),
            user_errors,
        })
    }

    /// Sends one delivery again (same `webhook-id`).
    async fn redeliver_webhook(
        &self,
        ctx: &Context<'_>,
        input: RedeliverWebhookInput,
    ) -> async_graphql::Result<WebhookDeliveryPayload> {
        let actor = ctx.actor()?;
        let id = relay::decode_as(&input.delivery_id, NodeType::WebhookDelivery).gql()?;
        let (delivery, user_errors) =
            payload(webhooks::redeliver(ctx.services(), &actor, id).await)?;
        Ok(WebhookDeliveryPayload {
            delivery: delivery.map(WebhookDelivery),
            user_errors,
        })
    }

    /// Queues again the endpoint's events of a time range.
    async fn replay_webhooks(
        &self,
        ctx: &Context<'_>,
        input: ReplayWebhooksInput,
    ) -> async_graphql::Result<ReplayWebhooksPayload> {
        let actor = ctx.actor()?;
        let id = endpoint_id(&input.endpoint_id)?;
        let (queued, user_errors) =
            payload(webhooks::replay(ctx.services(), &actor, id, input.since, input.until).await)?;
        Ok(ReplayWebhooksPayload {
            queued,
            user_errors,
        })
    }
}
