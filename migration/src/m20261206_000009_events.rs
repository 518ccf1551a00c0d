//! The domain-event log and its consumers' cursors.
//!
//! - `event`: one typed row per thing that happened, written in the transaction that made
//!   it happen (the audit trail, the search indexer, webhooks and subscriptions all read
//!   it). `txid` is the writing transaction's id on PostgreSQL (0 on SQLite, where
//!   transactions commit one at a time in id order): consumers read in `(txid, id)` order
//!   and only below the oldest transaction still running, so an event whose transaction
//!   commits late is never skipped.
//! - `consumer_cursor`: how far each consumer got, and its retry state.
//!
//! The audit trail's rows move into the log (`audit_event` goes), and so do pending
//! search-outbox rows (`search_outbox` goes): each becomes a `search.reindex_requested`
//! event, which the search indexer, starting from the beginning of the log, applies.

use sea_orm_migration::{prelude::*, schema::*, sea_orm::DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

// `event_type` is the column's name: what the log calls an event's type.
#[allow(clippy::enum_variant_names)]
#[derive(DeriveIden)]
enum Event {
    Table,
    Id,
    Txid,
    EventType,
    OccurredAt,
    ActorUserId,
    ActorApiKeyId,
    RequestId,
    VendorId,
    ProgramId,
    PartnerId,
    SubjectType,
    SubjectId,
    Payload,
}

#[derive(DeriveIden)]
enum ConsumerCursor {
    Table,
    Consumer,
    Txid,
    EventId,
    Attempts,
    NextAttemptAt,
    LastError,
    UpdatedAt,
}

/// The tables this migration replaces, as `down` recreates them.
#[derive(DeriveIden)]
enum AuditEvent {
    Table,
    Id,
    ActorUserId,
    Action,
    SubjectType,
    SubjectId,
    RequestId,
    Data,
    CreatedAt,
}

#[derive(DeriveIden)]
enum SearchOutbox {
    Table,
    Id,
    ProgramId,
    CreatedAt,
    Attempts,
    NextAttemptAt,
    LastError,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Event::Table)
                    .col(big_pk_auto(Event::Id))
                    .col(big_integer(Event::Txid).default(0))
                    .col(string(Event::EventType))
                    .col(timestamp_with_time_zone(Event::OccurredAt))
                    .col(big_integer_null(Event::ActorUserId))
                    .col(big_integer_null(Event::ActorApiKeyId))
                    .col(string_null(Event::RequestId))
                    // No foreign keys: the log outlives what it tells of.
                    .col(big_integer_null(Event::VendorId))
                    .col(big_integer_null(Event::ProgramId))
                    .col(big_integer_null(Event::PartnerId))
                    .col(string(Event::SubjectType))
                    .col(big_integer_null(Event::SubjectId))
                    .col(json(Event::Payload))
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        if manager.get_database_backend() == DbBackend::Postgres {
            // The writing transaction's id (xid8, which never wraps), set by the database.
            db.execute_unprepared(
                "ALTER TABLE event ALTER COLUMN txid SET DEFAULT (pg_current_xact_id()::text::bigint)",
            )
            .await?;
        }
        for (name, cols) in [
            ("idx_event_read_order", &["txid", "id"][..]),
            ("idx_event_vendor", &["vendor_id", "id"][..]),
            ("idx_event_program", &["program_id", "id"][..]),
            ("idx_event_partner", &["partner_id", "id"][..]),
        ] {
            let mut index = Index::create();
            index.name(name).table(Event::Table);
            for col in cols {
                index.col(Alias::new(*col));
            }
            manager.create_index(index.to_owned()).await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(ConsumerCursor::Table)
                    .col(string(ConsumerCursor::Consumer).primary_key())
                    .col(big_integer(ConsumerCursor::Txid).default(0))
                    .col(big_integer(ConsumerCursor::EventId).default(0))
                    .col(integer(ConsumerCursor::Attempts).default(0))
                    .col(timestamp_with_time_zone_null(ConsumerCursor::NextAttemptAt))
                    .col(text_null(ConsumerCursor::LastError))
                    .col(timestamp_with_time_zone(ConsumerCursor::UpdatedAt))
                    .to_owned(),
            )
            .await?;

        // The audit trail, carried over in its order. Its data is kept as the payload's
        // `data` (schema version 0: free-form, from before the typed events).
        let payload = match manager.get_database_backend() {
            DbBackend::Postgres => "json_build_object('v', 0, 'data', data)",
            _ => "json_object('v', 0, 'data', json(data))",
        };
        db.execute_unprepared(&format!(
            "INSERT INTO event (event_type, occurred_at, actor_user_id, request_id, subject_type, subject_id, payload)
             SELECT action, created_at, actor_user_id, request_id, subject_type, subject_id, {payload}
             FROM audit_event ORDER BY id"
        ))
        .await?;
        // What the old rows tell of, for the vendors' audit view.
        for sql in [
            "UPDATE event SET program_id = subject_id WHERE subject_type = 'Program'",
            "UPDATE event SET vendor_id = subject_id WHERE subject_type = 'Vendor'",
            "UPDATE event SET program_id = (SELECT program_id FROM application WHERE application.id = event.subject_id),
                              partner_id = (SELECT partner_id FROM application WHERE application.id = event.subject_id)
             WHERE subject_type = 'Application'",
            "UPDATE event SET program_id = (SELECT program_id FROM enrollment WHERE enrollment.id = event.subject_id),
                              partner_id = (SELECT partner_id FROM enrollment WHERE enrollment.id = event.subject_id)
             WHERE subject_type = 'Enrollment'",
            "UPDATE event SET vendor_id = (SELECT vendor_id FROM program WHERE program.id = event.program_id)
             WHERE vendor_id IS NULL AND program_id IS NOT NULL",
        ] {
            db.execute_unprepared(sql).await?;
        }
        // Listing changes the search engine has not confirmed yet.
        let reindex = match manager.get_database_backend() {
            DbBackend::Postgres => "json_build_object('v', 1)",
            _ => "json_object('v', 1)",
        };
        db.execute_unprepared(&format!(
            "INSERT INTO event (event_type, occurred_at, program_id, vendor_id, subject_type, subject_id, payload)
             SELECT 'search.reindex_requested', o.created_at, o.program_id,
                    (SELECT vendor_id FROM program WHERE program.id = o.program_id), 'Program', o.program_id, {reindex}
             FROM (SELECT program_id, MIN(created_at) AS created_at FROM search_outbox GROUP BY program_id) AS o
             ORDER BY o.created_at"
        ))
        .await?;
        manager
            .drop_table(Table::drop().table(SearchOutbox::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(AuditEvent::Table).to_owned())
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // Back to the free-form audit trail (the typed payloads become its data) and an
        // empty outbox (a reindex rebuilds what it would have held).
        manager
            .create_table(
                Table::create()
                    .table(AuditEvent::Table)
                    .col(big_pk_auto(AuditEvent::Id))
                    .col(big_integer_null(AuditEvent::ActorUserId))
                    .col(string_len(AuditEvent::Action, 64))
                    .col(string_len(AuditEvent::SubjectType, 32))
                    .col(big_integer_null(AuditEvent::SubjectId))
                    .col(string_len_null(AuditEvent::RequestId, 64))
                    .col(json_null(AuditEvent::Data))
                    .col(timestamp_with_time_zone(AuditEvent::CreatedAt))
                    .to_owned(),
            )
            .await?;
        for (name, cols) in [
            (
                "idx_audit_event_subject",
                &["subject_type", "subject_id"][..],
            ),
            ("idx_audit_event_actor", &["actor_user_id"][..]),
        ] {
            let mut index = Index::create();
            index.name(name).table(AuditEvent::Table);
            for col in cols {
                index.col(Alias::new(*col));
            }
            manager.create_index(index.to_owned()).await?;
        }
        manager
            .get_connection()
            .execute_unprepared(
                "INSERT INTO audit_event (actor_user_id, action, subject_type, subject_id, request_id, data, created_at)
                 SELECT actor_user_id, event_type, subject_type, subject_id, request_id, payload, occurred_at
                 FROM event WHERE event_type <> 'search.reindex_requested' ORDER BY id",
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(SearchOutbox::Table)
                    .col(big_pk_auto(SearchOutbox::Id))
                    .col(big_integer(SearchOutbox::ProgramId))
                    .col(timestamp_with_time_zone(SearchOutbox::CreatedAt))
                    .col(integer(SearchOutbox::Attempts).default(0))
                    .col(timestamp_with_time_zone(SearchOutbox::NextAttemptAt))
                    .col(text_null(SearchOutbox::LastError))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_search_outbox_due")
                    .table(SearchOutbox::Table)
                    .col(SearchOutbox::NextAttemptAt)
                    .col(SearchOutbox::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .drop_table(Table::drop().table(ConsumerCursor::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Event::Table).to_owned())
            .await
    }
}
