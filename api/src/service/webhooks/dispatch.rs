//! The webhook dispatcher: a consumer of the event log that writes one delivery per
//! event and matching endpoint, in the transaction that moves its cursor — so every
//! event is queued exactly once, whichever replica drains it, and a crash in between
//! queues it again rather than losing it. Paused and disabled endpoints get nothing.

use std::collections::BTreeSet;

use entity::{
    code_list, event, webhook_delivery,
    webhook_endpoint::{self, EndpointStatus},
};
use sea_orm::{
    ColumnTrait, Condition, DatabaseConnection, DatabaseTransaction, EntityTrait, QueryFilter,
};

use super::{WEBHOOK_EVENT_TYPES, delivery_of};
use crate::{
    error::AppError,
    service::events::consumer::{Consumer, Start},
};

/// The dispatcher's cursor.
pub const NAME: &str = "webhook_dispatcher";

pub struct Dispatcher {
    /// Woken once deliveries are committed.
    pub queued: std::sync::Arc<tokio::sync::Notify>,
}

#[async_trait::async_trait]
impl Consumer for Dispatcher {
    fn name(&self) -> &'static str {
        NAME
    }

    /// Deliveries begin when the dispatcher first runs, not with history.
    fn start(&self) -> Start {
        Start::Head
    }

    async fn handle(&self, _: &DatabaseConnection, _: &[event::Model]) -> Result<(), String> {
        Ok(())
    }

    fn committed(&self) {
        self.queued.notify_one();
    }

    fn skippable(&self) -> bool {
        true
    }

    /// Endpoints get only events from their creation on: with none registered, nothing
    /// in the log is owed to anyone.
    async fn concerned(&self, txn: &DatabaseTransaction) -> Result<bool, AppError> {
        use sea_orm::{EntityTrait, PaginatorTrait};
        Ok(entity::webhook_endpoint::Entity::find().count(txn).await? > 0)
    }

    async fn record(
        &self,
        txn: &DatabaseTransaction,
        events: &[event::Model],
    ) -> Result<(), AppError> {
        let carried: Vec<&event::Model> = events
            .iter()
            .filter(|e| WEBHOOK_EVENT_TYPES.contains(&e.event_type.as_str()))
            .collect();
        if carried.is_empty() {
            return Ok(());
        }
        let vendors: BTreeSet<i64> = carried.iter().filter_map(|e| e.vendor_id).collect();
        let partners: BTreeSet<i64> = carried.iter().filter_map(|e| e.partner_id).collect();
        let endpoints = webhook_endpoint::Entity::find()
            .filter(webhook_endpoint::Column::Status.eq(EndpointStatus::Active))
            .filter(
                Condition::any()
                    .add(webhook_endpoint::Column::VendorId.is_in(vendors))
                    .add(webhook_endpoint::Column::PartnerId.is_in(partners)),
            )
            .all(txn)
            .await?;
        if endpoints.is_empty() {
            return Ok(());
        }
        let now = crate::service::now();
        let mut rows = Vec::new();
        for e in carried {
            for endpoint in &endpoints {
                let owns = match (endpoint.vendor_id, endpoint.partner_id) {
                    (Some(vendor_id), _) => e.vendor_id == Some(vendor_id),
                    (None, Some(partner_id)) => e.partner_id == Some(partner_id),
                    (None, None) => false,
                };
                let wants =
                    code_list::decode_strs(&endpoint.event_types).any(|t| t == e.event_type);
                if owns && wants {
                    rows.push(delivery_of(e, endpoint.id, now));
                }
            }
        }
        for chunk in rows.chunks(200) {
            webhook_delivery::Entity::insert_many(chunk.to_vec())
                .exec_without_returning(txn)
                .await?;
        }
        Ok(())
    }
}
