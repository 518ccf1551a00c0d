//! Webhooks: endpoints vendors' teams (and partners, for their own events) register, and
//! one delivery row per event and endpoint, with its attempts.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum WebhookEndpoint {
    Table,
    Id,
    /// `vendor:<id>` or `partner:<id>`: whose events it receives (one unique URL each).
    Owner,
    VendorId,
    PartnerId,
    Url,
    Description,
    EventTypes,
    Status,
    DisabledReason,
    Secret,
    PreviousSecret,
    PreviousSecretExpiresAt,
    FailingSince,
    ConsecutiveFailures,
    CreatedByUserId,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum WebhookDelivery {
    Table,
    Id,
    EndpointId,
    EventId,
    EventType,
    /// `Type:id` of what the event concerns: deliveries of one subject go in order.
    Subject,
    MessageId,
    Body,
    Status,
    Attempts,
    NextAttemptAt,
    ClaimedUntil,
    LastAttemptAt,
    LastStatusCode,
    LastError,
    LastLatencyMs,
    CreatedAt,
    DeliveredAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(WebhookEndpoint::Table)
                    .col(big_pk_auto(WebhookEndpoint::Id))
                    .col(string_len(WebhookEndpoint::Owner, 64))
                    .col(big_integer_null(WebhookEndpoint::VendorId))
                    .col(big_integer_null(WebhookEndpoint::PartnerId))
                    .col(string_len(WebhookEndpoint::Url, 2048))
                    .col(string_len(WebhookEndpoint::Description, 500))
                    .col(text(WebhookEndpoint::EventTypes))
                    .col(string_len(WebhookEndpoint::Status, 16))
                    .col(text_null(WebhookEndpoint::DisabledReason))
                    .col(string_len(WebhookEndpoint::Secret, 128))
                    .col(string_len_null(WebhookEndpoint::PreviousSecret, 128))
                    .col(timestamp_with_time_zone_null(
                        WebhookEndpoint::PreviousSecretExpiresAt,
                    ))
                    .col(timestamp_with_time_zone_null(WebhookEndpoint::FailingSince))
                    .col(integer(WebhookEndpoint::ConsecutiveFailures).default(0))
                    .col(big_integer_null(WebhookEndpoint::CreatedByUserId))
                    .col(integer(WebhookEndpoint::Version).default(1))
                    .col(timestamp_with_time_zone(WebhookEndpoint::CreatedAt))
                    .col(timestamp_with_time_zone(WebhookEndpoint::UpdatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_webhook_endpoint_owner_url")
                    .table(WebhookEndpoint::Table)
                    .col(WebhookEndpoint::Owner)
                    .col(WebhookEndpoint::Url)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(WebhookDelivery::Table)
                    .col(big_pk_auto(WebhookDelivery::Id))
                    .col(big_integer(WebhookDelivery::EndpointId))
                    .col(big_integer_null(WebhookDelivery::EventId))
                    .col(string_len(WebhookDelivery::EventType, 64))
                    .col(string_len(WebhookDelivery::Subject, 96))
                    .col(string_len(WebhookDelivery::MessageId, 64))
                    .col(text(WebhookDelivery::Body))
                    .col(string_len(WebhookDelivery::Status, 16))
                    .col(integer(WebhookDelivery::Attempts).default(0))
                    .col(timestamp_with_time_zone(WebhookDelivery::NextAttemptAt))
                    .col(timestamp_with_time_zone_null(WebhookDelivery::ClaimedUntil))
                    .col(timestamp_with_time_zone_null(
                        WebhookDelivery::LastAttemptAt,
                    ))
                    .col(integer_null(WebhookDelivery::LastStatusCode))
                    .col(text_null(WebhookDelivery::LastError))
                    .col(integer_null(WebhookDelivery::LastLatencyMs))
                    .col(timestamp_with_time_zone(WebhookDelivery::CreatedAt))
                    .col(timestamp_with_time_zone_null(WebhookDelivery::DeliveredAt))
                    .foreign_key(
                        ForeignKey::create()
                            .from(WebhookDelivery::Table, WebhookDelivery::EndpointId)
                            .to(WebhookEndpoint::Table, WebhookEndpoint::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, cols) in [
            (
                "idx_webhook_delivery_due",
                &["status", "next_attempt_at", "id"][..],
            ),
            ("idx_webhook_delivery_endpoint", &["endpoint_id", "id"][..]),
            (
                "idx_webhook_delivery_subject",
                &["endpoint_id", "subject", "id"][..],
            ),
        ] {
            let mut index = Index::create();
            index.name(name).table(WebhookDelivery::Table);
            for col in cols {
                index.col(Alias::new(*col));
            }
            manager.create_index(index.to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(WebhookDelivery::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(WebhookEndpoint::Table).to_owned())
            .await
    }
}
