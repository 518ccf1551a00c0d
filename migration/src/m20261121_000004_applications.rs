//! Applications: partner profiles, per-program application questions, applications with
//! their answers, enrollments (the partnership), invitations and the funnel events.
//!
//! "At most one live application (and one live enrollment) per partner and program" is a
//! partial unique index on a `live` flag, identical on SQLite and PostgreSQL: the
//! database, not the code, settles a race between concurrent applications.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Program {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum ProgramTier {
    Table,
    Id,
}

#[derive(DeriveIden)]
#[allow(clippy::enum_variant_names)]
enum Partner {
    Table,
    Id,
    UserId,
    Slug,
    DisplayName,
    PartnerTypes,
    Website,
    AudienceDescription,
    AudienceSize,
    Countries,
    Languages,
    Channels,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ApplicationQuestion {
    Table,
    Id,
    ProgramId,
    Prompt,
    Kind,
    Options,
    Required,
    Position,
    CreatedAt,
    RetiredAt,
}

#[derive(DeriveIden)]
enum Invitation {
    Table,
    Id,
    ProgramId,
    Code,
    Email,
    PartnerId,
    Message,
    Status,
    ExpiresAt,
    InvitedByUserId,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Application {
    Table,
    Id,
    ProgramId,
    PartnerId,
    Status,
    Live,
    Answers,
    Pitch,
    JoinSource,
    InvitationId,
    IdempotencyKey,
    DecidedByUserId,
    DecidedAt,
    RejectionReason,
    RejectionNote,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum Enrollment {
    Table,
    Id,
    ProgramId,
    PartnerId,
    ApplicationId,
    TierId,
    ReferralCode,
    Status,
    Live,
    TermsVersion,
    JoinedAt,
    ActivatedAt,
    EndedAt,
    EndReason,
    Version,
    CreatedAt,
    UpdatedAt,
}

#[derive(DeriveIden)]
enum ApplicationEvent {
    Table,
    Id,
    ApplicationId,
    ProgramId,
    PartnerId,
    Kind,
    ActorUserId,
    JoinSource,
    Data,
    CreatedAt,
}

fn index(name: &str, table: impl IntoIden, cols: &[&'static str]) -> IndexCreateStatement {
    let mut index = Index::create();
    index.name(name).table(table);
    for col in cols {
        index.col(Alias::new(*col));
    }
    index.to_owned()
}

fn fk(
    name: &str,
    from: (impl IntoIden, impl IntoIden),
    to: (impl IntoIden, impl IntoIden),
    on_delete: ForeignKeyAction,
) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(name)
        .from(from.0, from.1)
        .to(to.0, to.1)
        .on_delete(on_delete)
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Partner::Table)
                    .col(big_pk_auto(Partner::Id))
                    .col(big_integer_uniq(Partner::UserId))
                    .col(string_len_uniq(Partner::Slug, 64))
                    .col(string_len(Partner::DisplayName, 100))
                    .col(string_len(Partner::PartnerTypes, 255).default(""))
                    .col(string_len_null(Partner::Website, 2048))
                    .col(text(Partner::AudienceDescription).default(""))
                    .col(big_integer_null(Partner::AudienceSize))
                    .col(text(Partner::Countries).default(""))
                    .col(string_len(Partner::Languages, 255).default(""))
                    .col(string_len(Partner::Channels, 255).default(""))
                    .col(integer(Partner::Version).default(1))
                    .col(timestamp_with_time_zone(Partner::CreatedAt))
                    .col(timestamp_with_time_zone(Partner::UpdatedAt))
                    .foreign_key(&mut fk(
                        "fk_partner_user",
                        (Partner::Table, Partner::UserId),
                        (Users::Table, Users::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(ApplicationQuestion::Table)
                    .col(big_pk_auto(ApplicationQuestion::Id))
                    .col(big_integer(ApplicationQuestion::ProgramId))
                    .col(string_len(ApplicationQuestion::Prompt, 300))
                    .col(string_len(ApplicationQuestion::Kind, 16))
                    .col(json(ApplicationQuestion::Options))
                    .col(boolean(ApplicationQuestion::Required).default(false))
                    .col(integer(ApplicationQuestion::Position))
                    .col(timestamp_with_time_zone(ApplicationQuestion::CreatedAt))
                    // Questions are retired, never deleted: answers point at what was asked.
                    .col(timestamp_with_time_zone_null(
                        ApplicationQuestion::RetiredAt,
                    ))
                    .foreign_key(&mut fk(
                        "fk_application_question_program",
                        (ApplicationQuestion::Table, ApplicationQuestion::ProgramId),
                        (Program::Table, Program::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_application_question_program",
                ApplicationQuestion::Table,
                &["program_id", "position"],
            ))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Invitation::Table)
                    .col(big_pk_auto(Invitation::Id))
                    .col(big_integer(Invitation::ProgramId))
                    .col(string_len_uniq(Invitation::Code, 32))
                    .col(string_len_null(Invitation::Email, 254))
                    .col(big_integer_null(Invitation::PartnerId))
                    .col(text_null(Invitation::Message))
                    .col(string_len(Invitation::Status, 16))
                    .col(timestamp_with_time_zone(Invitation::ExpiresAt))
                    .col(big_integer_null(Invitation::InvitedByUserId))
                    .col(timestamp_with_time_zone(Invitation::CreatedAt))
                    .col(timestamp_with_time_zone(Invitation::UpdatedAt))
                    .foreign_key(&mut fk(
                        "fk_invitation_program",
                        (Invitation::Table, Invitation::ProgramId),
                        (Program::Table, Program::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .foreign_key(&mut fk(
                        "fk_invitation_partner",
                        (Invitation::Table, Invitation::PartnerId),
                        (Partner::Table, Partner::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "idx_invitation_program",
                Invitation::Table,
                &["program_id", "created_at", "id"],
            ))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(Application::Table)
                    .col(big_pk_auto(Application::Id))
                    .col(big_integer(Application::ProgramId))
                    .col(big_integer(Application::PartnerId))
                    .col(string_len(Application::Status, 16))
                    .col(boolean(Application::Live))
                    .col(json(Application::Answers))
                    .col(text(Application::Pitch).default(""))
                    .col(string_len(Application::JoinSource, 24))
                    .col(big_integer_null(Application::InvitationId))
                    .col(string_len_null(Application::IdempotencyKey, 100))
                    .col(big_integer_null(Application::DecidedByUserId))
                    .col(timestamp_with_time_zone_null(Application::DecidedAt))
                    .col(string_len_null(Application::RejectionReason, 16))
                    .col(text_null(Application::RejectionNote))
                    .col(integer(Application::Version).default(1))
                    .col(timestamp_with_time_zone(Application::CreatedAt))
                    .col(timestamp_with_time_zone(Application::UpdatedAt))
                    .foreign_key(&mut fk(
                        "fk_application_program",
                        (Application::Table, Application::ProgramId),
                        (Program::Table, Program::Id),
                        ForeignKeyAction::Restrict,
                    ))
                    .foreign_key(&mut fk(
                        "fk_application_partner",
                        (Application::Table, Application::PartnerId),
                        (Partner::Table, Partner::Id),
                        ForeignKeyAction::Restrict,
                    ))
                    .foreign_key(&mut fk(
                        "fk_application_invitation",
                        (Application::Table, Application::InvitationId),
                        (Invitation::Table, Invitation::Id),
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        // One live (pending, or approved and still enrolled) application per partner and
        // program. Partial indexes exist on both engines with the same syntax.
        db.execute_unprepared(
            "CREATE UNIQUE INDEX uq_application_live ON application (program_id, partner_id) WHERE live",
        )
        .await?;
        // A retried request with the same key finds the first answer instead of a twin.
        db.execute_unprepared(
            "CREATE UNIQUE INDEX uq_application_idempotency ON application (partner_id, idempotency_key) WHERE idempotency_key IS NOT NULL",
        )
        .await?;
        for (name, cols) in [
            (
                "idx_application_queue",
                &["program_id", "status", "created_at", "id"][..],
            ),
            (
                "idx_application_partner",
                &["partner_id", "created_at", "id"][..],
            ),
        ] {
            manager
                .create_index(index(name, Application::Table, cols))
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(Enrollment::Table)
                    .col(big_pk_auto(Enrollment::Id))
                    .col(big_integer(Enrollment::ProgramId))
                    .col(big_integer(Enrollment::PartnerId))
                    .col(big_integer_uniq(Enrollment::ApplicationId))
                    .col(big_integer_null(Enrollment::TierId))
                    .col(string_len_uniq(Enrollment::ReferralCode, 16))
                    .col(string_len(Enrollment::Status, 16))
                    .col(boolean(Enrollment::Live))
                    .col(integer(Enrollment::TermsVersion))
                    .col(timestamp_with_time_zone(Enrollment::JoinedAt))
                    .col(timestamp_with_time_zone_null(Enrollment::ActivatedAt))
                    .col(timestamp_with_time_zone_null(Enrollment::EndedAt))
                    .col(text_null(Enrollment::EndReason))
                    .col(integer(Enrollment::Version).default(1))
                    .col(timestamp_with_time_zone(Enrollment::CreatedAt))
                    .col(timestamp_with_time_zone(Enrollment::UpdatedAt))
                    .foreign_key(&mut fk(
                        "fk_enrollment_program",
                        (Enrollment::Table, Enrollment::ProgramId),
                        (Program::Table, Program::Id),
                        ForeignKeyAction::Restrict,
                    ))
                    .foreign_key(&mut fk(
                        "fk_enrollment_partner",
                        (Enrollment::Table, Enrollment::PartnerId),
                        (Partner::Table, Partner::Id),
                        ForeignKeyAction::Restrict,
                    ))
                    .foreign_key(&mut fk(
                        "fk_enrollment_application",
                        (Enrollment::Table, Enrollment::ApplicationId),
                        (Application::Table, Application::Id),
                        ForeignKeyAction::Restrict,
                    ))
                    .foreign_key(&mut fk(
                        "fk_enrollment_tier",
                        (Enrollment::Table, Enrollment::TierId),
                        (ProgramTier::Table, ProgramTier::Id),
                        ForeignKeyAction::SetNull,
                    ))
                    .to_owned(),
            )
            .await?;
        db.execute_unprepared(
            "CREATE UNIQUE INDEX uq_enrollment_live ON enrollment (program_id, partner_id) WHERE live",
        )
        .await?;
        for (name, cols) in [
            (
                "idx_enrollment_program",
                &["program_id", "joined_at", "id"][..],
            ),
            (
                "idx_enrollment_partner",
                &["partner_id", "joined_at", "id"][..],
            ),
        ] {
            manager
                .create_index(index(name, Enrollment::Table, cols))
                .await?;
        }
        manager
            .create_table(
                Table::create()
                    .table(ApplicationEvent::Table)
                    .col(big_pk_auto(ApplicationEvent::Id))
                    .col(big_integer(ApplicationEvent::ApplicationId))
                    .col(big_integer(ApplicationEvent::ProgramId))
                    .col(big_integer(ApplicationEvent::PartnerId))
                    .col(string_len(ApplicationEvent::Kind, 16))
                    .col(big_integer_null(ApplicationEvent::ActorUserId))
                    .col(string_len(ApplicationEvent::JoinSource, 24))
                    .col(json_null(ApplicationEvent::Data))
                    .col(timestamp_with_time_zone(ApplicationEvent::CreatedAt))
                    .foreign_key(&mut fk(
                        "fk_application_event_application",
                        (ApplicationEvent::Table, ApplicationEvent::ApplicationId),
                        (Application::Table, Application::Id),
                        ForeignKeyAction::Cascade,
                    ))
                    .to_owned(),
            )
            .await?;
        for (name, cols) in [
            (
                "idx_application_event_application",
                &["application_id", "id"][..],
            ),
            (
                "idx_application_event_funnel",
                &["program_id", "kind", "created_at"][..],
            ),
        ] {
            manager
                .create_index(index(name, ApplicationEvent::Table, cols))
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            ApplicationEvent::Table.into_iden(),
            Enrollment::Table.into_iden(),
            Application::Table.into_iden(),
            Invitation::Table.into_iden(),
            ApplicationQuestion::Table.into_iden(),
            Partner::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
