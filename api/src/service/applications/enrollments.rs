//! Enrollments: created on approval with the default (or chosen) tier and a referral
//! code; partners leave; vendors suspend, reinstate and terminate.

use chrono::{DateTime, Utc};
use entity::{
    application::{self},
    application_event::ApplicationEventKind,
    enrollment::{self, EnrollmentStatus},
    program, program_tier,
};
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, EntityTrait, NotSet, PaginatorTrait, QueryFilter,
    sea_query::{Expr, ExprTrait},
};

use super::event;
use crate::{
    db,
    error::{AppError, FieldError, FieldErrorCode},
    service::{
        Actor, Services,
        events::{self, DomainEvent, EnrollmentFacts},
        partners,
        validate::{self},
        vendors,
    },
};

/// Letters and digits that cannot be misread for one another (no 0/O, 1/I/L).
const CODE_ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";
const CODE_LEN: usize = 8;

/// A random referral code such as `K7QM4TZC`.
pub fn referral_code() -> Result<String, AppError> {
    let mut bytes = [0u8; CODE_LEN];
    getrandom::fill(&mut bytes)
        .map_err(|e| AppError::internal(anyhow::anyhow!("getrandom: {e}")))?;
    // 256 is not a multiple of 31: the slight bias is harmless for codes that only need
    // to be unique and unambiguous, not secret.
    Ok(bytes
        .iter()
        .map(|b| char::from(CODE_ALPHABET[usize::from(*b) % CODE_ALPHABET.len()]))
        .collect())
}

/// Enrolls the partner of an approved application (inside the caller's transaction).
pub async fn enroll(
    txn: &impl ConnectionTrait,
    actor: &Actor,
    application: &application::Model,
    program: &program::Model,
    tier_id: Option<i64>,
    now: DateTime<Utc>,
) -> Result<enrollment::Model, AppError> {
    let tier_id = match tier_id {
        Some(id) => Some(id),
        None => program_tier::Entity::find()
            .filter(program_tier::Column::ProgramId.eq(program.id))
            .filter(program_tier::Column::IsDefault.eq(true))
            .one(txn)
            .await?
            .map(|t| t.id),
    };
    // A clash is one in 10^11 per pair; the unique index is the guarantee, this loop
    // only keeps the (practically impossible) collision from failing the request.
    let mut code = referral_code()?;
    for _ in 0..5 {
        let taken = enrollment::Entity::find()
            .filter(enrollment::Column::ReferralCode.eq(&code))
            .count(txn)
            .await?;
        if taken == 0 {
            break;
        }
        code = referral_code()?;
    }
    let created = enrollment::ActiveModel {
        id: NotSet,
        program_id: Set(program.id),
        partner_id: Set(application.partner_id),
        application_id: Set(application.id),
        tier_id: Set(tier_id),
        referral_code: Set(code.clone()),
        status: Set(EnrollmentStatus::Active),
        live: Set(true),
        terms_version: Set(program.terms_version),
        joined_at: Set(now),
        activated_at: Set(None),
        first_commission_at: Set(None),
        ended_at: Set(None),
        end_reason: Set(None),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(txn)
    .await?;
    event(
        txn,
        actor,
        application,
        ApplicationEventKind::Enrolled,
        Some(serde_json::json!({ "enrollmentId": created.id, "referralCode": code })),
        now,
    )
    .await?;
    events::emit(
        txn,
        actor,
        DomainEvent::EnrollmentCreated(events::enrollment_facts(&created, program.vendor_id)),
    )
    .await?;
    Ok(created)
}

/// A vendor's action on a partnership.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EnrollmentChange {
    /// `ACTIVE` → `SUSPENDED`: no new commissions until reinstated.
    Suspend,
    /// `SUSPENDED` → `ACTIVE`.
    Reinstate,
    /// `ACTIVE` or `SUSPENDED` → `TERMINATED`, for good.
    Terminate,
}

impl EnrollmentChange {
    fn allowed_from(self, status: EnrollmentStatus) -> bool {
        use EnrollmentStatus::*;
        matches!(
            (self, status),
            (Self::Suspend, Active)
                | (Self::Reinstate, Suspended)
                | (Self::Terminate, Active | Suspended)
        )
    }

    fn target(self) -> EnrollmentStatus {
        match self {
            Self::Suspend => EnrollmentStatus::Suspended,
            Self::Reinstate => EnrollmentStatus::Active,
            Self::Terminate => EnrollmentStatus::Terminated,
        }
    }

    fn event(self) -> ApplicationEventKind {
        match self {
            Self::Suspend => ApplicationEventKind::Suspended,
            Self::Reinstate => ApplicationEventKind::Reinstated,
            Self::Terminate => ApplicationEventKind::Terminated,
        }
    }

    fn domain_event(self) -> fn(EnrollmentFacts) -> DomainEvent {
        match self {
            Self::Suspend => DomainEvent::EnrollmentSuspended,
            Self::Reinstate => DomainEvent::EnrollmentReinstated,
            Self::Terminate => DomainEvent::EnrollmentTerminated,
        }
    }
}

fn status_name(status: EnrollmentStatus) -> &'static str {
    match status {
        EnrollmentStatus::Active => "ACTIVE",
        EnrollmentStatus::Suspended => "SUSPENDED",
        EnrollmentStatus::Left => "LEFT",
        EnrollmentStatus::Terminated => "TERMINATED",
    }
}

fn invalid_transition(from: EnrollmentStatus, to: EnrollmentStatus) -> AppError {
    AppError::invalid(FieldError::new(
        "enrollmentId",
        FieldErrorCode::InvalidTransition,
        format!(
            "a {} partnership cannot become {}",
            status_name(from),
            status_name(to)
        ),
    ))
}

/// Moves the enrollment from `from` to `to` if nobody else moved it meanwhile; ending
/// it also ends its application's liveness, so the partner may apply again (subject to
/// the re-apply policy).
async fn transition(
    services: &Services,
    actor: &Actor,
    current: &enrollment::Model,
    to: EnrollmentStatus,
    reason: Option<String>,
    kind: ApplicationEventKind,
    happened: fn(EnrollmentFacts) -> DomainEvent,
) -> Result<enrollment::Model, AppError> {
    db::retrying(|| transition_once(services, actor, current, to, reason.clone(), kind, happened))
        .await
}

async fn transition_once(
    services: &Services,
    actor: &Actor,
    current: &enrollment::Model,
    to: EnrollmentStatus,
    reason: Option<String>,
    kind: ApplicationEventKind,
    happened: fn(EnrollmentFacts) -> DomainEvent,
) -> Result<enrollment::Model, AppError> {
    let now = crate::service::now();
    let ends = matches!(to, EnrollmentStatus::Left | EnrollmentStatus::Terminated);
    let txn = db::begin_program_write(&services.db, current.program_id).await?;
    let mut update = enrollment::Entity::update_many()
        .col_expr(enrollment::Column::Status, Expr::value(to))
        .col_expr(enrollment::Column::Live, Expr::value(!ends))
        .col_expr(
            enrollment::Column::Version,
            Expr::col(enrollment::Column::Version).add(1),
        )
        .col_expr(enrollment::Column::UpdatedAt, Expr::value(now))
        .filter(enrollment::Column::Id.eq(current.id))
        .filter(enrollment::Column::Version.eq(current.version));
    if ends {
        update = update
            .col_expr(enrollment::Column::EndedAt, Expr::value(now))
            .col_expr(enrollment::Column::EndReason, Expr::value(reason.clone()));
    }
    if update.exec(&txn).await?.rows_affected != 1 {
        return Err(AppError::invalid(FieldError::new(
            "enrollmentId",
            FieldErrorCode::Conflict,
            "the partnership changed meanwhile; reload and try again",
        )));
    }
    if ends {
        application::Entity::update_many()
            .col_expr(application::Column::Live, Expr::value(false))
            .filter(application::Column::Id.eq(current.application_id))
            .exec(&txn)
            .await?;
    }
    let application = application::Entity::find_by_id(current.application_id)
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound)?;
    event(
        &txn,
        actor,
        &application,
        kind,
        reason.as_ref().map(|r| serde_json::json!({ "reason": r })),
        now,
    )
    .await?;
    let updated = enrollment::Entity::find_by_id(current.id)
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound)?;
    let vendor_id = program::Entity::find_by_id(current.program_id)
        .one(&txn)
        .await?
        .map_or(0, |p| p.vendor_id);
    let facts = events::enrollment_facts(&updated, vendor_id).because(reason.as_deref());
    events::emit(&txn, actor, happened(facts)).await?;
    crate::service::stats::refresh(&txn, current.program_id, now).await?;
    txn.commit().await?;
    Ok(updated)
}

fn reason_text(
    field: &str,
    reason: Option<&str>,
    required: bool,
) -> Result<Option<String>, AppError> {
    match reason.map(str::trim).filter(|r| !r.is_empty()) {
        Some(r) => Ok(Some(
            validate::text(field, r, 1, 1_000).map_err(AppError::invalid)?,
        )),
        None if required => Err(AppError::invalid(FieldError::new(
            field,
            FieldErrorCode::Required,
            "say why",
        ))),
        None => Ok(None),
    }
}

/// The partner leaves a program it is enrolled in.
#[tracing::instrument(skip_all, fields(enrollment_id = id))]
pub async fn leave(
    services: &Services,
    actor: &Actor,
    id: i64,
    reason: &str,
) -> Result<enrollment::Model, AppError> {
    actor.viewer.require_user()?;
    let current = super::read::enrollment_for(services, &actor.viewer, id).await?;
    let mine = partners::mine(services, &actor.viewer).await?;
    if mine.map(|p| p.id) != Some(current.partner_id) {
        return Err(AppError::Forbidden);
    }
    let reason = reason_text("reason", Some(reason), true)?;
    if !matches!(
        current.status,
        EnrollmentStatus::Active | EnrollmentStatus::Suspended
    ) {
        return Err(invalid_transition(current.status, EnrollmentStatus::Left));
    }
    transition(
        services,
        actor,
        &current,
        EnrollmentStatus::Left,
        reason,
        ApplicationEventKind::Left,
        DomainEvent::EnrollmentLeft,
    )
    .await
}

/// A vendor manager suspends, reinstates or terminates a partnership.
#[tracing::instrument(skip_all, fields(enrollment_id = id, ?change))]
pub async fn change_enrollment(
    services: &Services,
    actor: &Actor,
    id: i64,
    change: EnrollmentChange,
    reason: Option<&str>,
) -> Result<enrollment::Model, AppError> {
    actor.viewer.require_user()?;
    let current = super::read::enrollment_for(services, &actor.viewer, id).await?;
    let program = program::Entity::find_by_id(current.program_id)
        .one(&services.db)
        .await?
        .ok_or(AppError::NotFound)?;
    vendors::ensure_manager(&services.db, actor, program.vendor_id).await?;
    let reason = reason_text("reason", reason, change == EnrollmentChange::Terminate)?;
    if !change.allowed_from(current.status) {
        return Err(invalid_transition(current.status, change.target()));
    }
    transition(
        services,
        actor,
        &current,
        change.target(),
        reason,
        change.event(),
        change.domain_event(),
    )
    .await
}
