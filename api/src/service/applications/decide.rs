//! Decisions on applications. Each is a conditional update (`WHERE status = 'PENDING'
//! AND version = …`): of many concurrent decisions exactly one wins, the others get
//! `CONFLICT` and change nothing.

use entity::{
    application::{self, ApplicationStatus, RejectionReason},
    application_event::ApplicationEventKind,
    program, program_tier,
};
use sea_orm::{
    ColumnTrait, EntityTrait, QueryFilter,
    sea_query::{Expr, ExprTrait},
};

use super::{MAX_BULK, enrollments, event};
use crate::{
    db,
    error::{AppError, FieldError, FieldErrorCode},
    service::{
        Actor, Services,
        events::{self, DomainEvent},
        partners,
        validate::{self},
        vendors,
    },
};

/// What a vendor decides.
#[derive(Debug, Clone)]
pub enum Decision {
    /// Approve and enroll, in the given tier or the program's default one.
    Approve { tier_id: Option<i64> },
    /// Reject; the note is shown to the partner.
    Reject {
        reason: Option<RejectionReason>,
        note: Option<String>,
    },
}

fn status_name(status: ApplicationStatus) -> &'static str {
    match status {
        ApplicationStatus::Pending => "PENDING",
        ApplicationStatus::Approved => "APPROVED",
        ApplicationStatus::Rejected => "REJECTED",
        ApplicationStatus::Withdrawn => "WITHDRAWN",
    }
}

fn conflict() -> AppError {
    AppError::invalid(FieldError::new(
        "applicationId",
        FieldErrorCode::Conflict,
        "the application was decided or changed meanwhile; reload it",
    ))
}

fn not_pending(status: ApplicationStatus, verb: &str) -> AppError {
    AppError::invalid(FieldError::new(
        "applicationId",
        FieldErrorCode::InvalidTransition,
        format!("a {} application cannot be {verb}", status_name(status)),
    ))
}

/// The application and its program, for a decision by the caller: `NOT_FOUND` when
/// they cannot see it, `FORBIDDEN` when they can but may not decide (the applicant, a
/// `MEMBER`, a platform admin, or a manager deciding their own application).
///
/// `my_partner` is the caller's own partner profile id, read once per request.
async fn for_decision(
    services: &Services,
    actor: &Actor,
    id: i64,
    my_partner: Option<i64>,
) -> Result<(application::Model, program::Model), AppError> {
    actor.viewer.require_user()?;
    let current = super::read::application_for(services, &actor.viewer, id).await?;
    let program = program::Entity::find_by_id(current.program_id)
        .one(&services.db)
        .await?
        .ok_or(AppError::NotFound)?;
    vendors::ensure_manager(&services.db, actor, program.vendor_id).await?;
    if my_partner == Some(current.partner_id) {
        return Err(AppError::Forbidden);
    }
    Ok((current, program))
}

async fn my_partner(services: &Services, actor: &Actor) -> Result<Option<i64>, AppError> {
    Ok(partners::mine(services, &actor.viewer).await?.map(|p| p.id))
}

fn check_decision(
    program: &program::Model,
    decision: &Decision,
    tiers: &[program_tier::Model],
) -> Result<Decision, AppError> {
    match decision {
        Decision::Approve { tier_id: Some(t) } if !tiers.iter().any(|x| x.id == *t) => {
            Err(AppError::invalid(FieldError::new(
                "tierId",
                FieldErrorCode::NotFound,
                format!("is not a tier of {}", program.name),
            )))
        }
        Decision::Approve { .. } => Ok(decision.clone()),
        Decision::Reject { reason, note } => {
            let Some(reason) = reason else {
                return Err(AppError::invalid(FieldError::new(
                    "reason",
                    FieldErrorCode::Required,
                    "choose a reason (NOT_A_FIT, INCOMPLETE, AUDIENCE, REGION or OTHER)",
                )));
            };
            let note = match note.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
                Some(n) => Some(validate::text("note", n, 1, 2_000).map_err(AppError::invalid)?),
                None if *reason == RejectionReason::Other => {
                    return Err(AppError::invalid(FieldError::new(
                        "note",
                        FieldErrorCode::Required,
                        "explain the reason when it is OTHER",
                    )));
                }
                None => None,
            };
            Ok(Decision::Reject {
                reason: Some(*reason),
                note,
            })
        }
    }
}

/// Applies a checked decision to a pending application, in one transaction (run again
/// if it lost to a deadlock: see `db::retrying`).
async fn decide_checked(
    services: &Services,
    actor: &Actor,
    current: &application::Model,
    program: &program::Model,
    decision: &Decision,
    expected_version: Option<i32>,
) -> Result<application::Model, AppError> {
    db::retrying(|| {
        decide_once(
            services,
            actor,
            current,
            program,
            decision,
            expected_version,
        )
    })
    .await
}

async fn decide_once(
    services: &Services,
    actor: &Actor,
    current: &application::Model,
    program: &program::Model,
    decision: &Decision,
    expected_version: Option<i32>,
) -> Result<application::Model, AppError> {
    let verb = match decision {
        Decision::Approve { .. } => "approved",
        Decision::Reject { .. } => "rejected",
    };
    match current.status {
        ApplicationStatus::Pending => {}
        // Another decision got there first: the two conflict, whichever came earlier.
        ApplicationStatus::Approved | ApplicationStatus::Rejected => return Err(conflict()),
        ApplicationStatus::Withdrawn => return Err(not_pending(current.status, verb)),
    }
    if expected_version.is_some_and(|v| v != current.version) {
        return Err(conflict());
    }
    let now = crate::service::now();
    let me = actor.viewer.user_id();
    let txn = db::begin_program_write(&services.db, program.id).await?;
    let mut update = application::Entity::update_many()
        .col_expr(application::Column::DecidedByUserId, Expr::value(me))
        .col_expr(application::Column::DecidedAt, Expr::value(now))
        .col_expr(application::Column::UpdatedAt, Expr::value(now))
        .col_expr(
            application::Column::Version,
            Expr::col(application::Column::Version).add(1),
        )
        .filter(application::Column::Id.eq(current.id))
        .filter(application::Column::Status.eq(ApplicationStatus::Pending))
        .filter(application::Column::Version.eq(current.version));
    update = match decision {
        Decision::Approve { .. } => update.col_expr(
            application::Column::Status,
            Expr::value(ApplicationStatus::Approved),
        ),
        Decision::Reject { reason, note } => update
            .col_expr(
                application::Column::Status,
                Expr::value(ApplicationStatus::Rejected),
            )
            .col_expr(application::Column::Live, Expr::value(false))
            .col_expr(application::Column::RejectionReason, Expr::value(*reason))
            .col_expr(
                application::Column::RejectionNote,
                Expr::value(note.clone()),
            ),
    };
    if update.exec(&txn).await?.rows_affected != 1 {
        return Err(conflict());
    }
    let updated = application::Entity::find_by_id(current.id)
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound)?;
    match decision {
        Decision::Approve { tier_id } => {
            event(
                &txn,
                actor,
                &updated,
                ApplicationEventKind::Approved,
                None,
                now,
            )
            .await?;
            events::emit(
                &txn,
                actor,
                DomainEvent::ApplicationApproved(
                    events::application_facts(&updated, program.vendor_id).decided_by("team"),
                ),
            )
            .await?;
            enrollments::enroll(&txn, actor, &updated, program, *tier_id, now).await?;
        }
        Decision::Reject { reason, note } => {
            let data = serde_json::json!({ "reason": format!("{reason:?}"), "note": note });
            event(
                &txn,
                actor,
                &updated,
                ApplicationEventKind::Rejected,
                Some(data.clone()),
                now,
            )
            .await?;
            events::emit(
                &txn,
                actor,
                DomainEvent::ApplicationRejected(
                    events::application_facts(&updated, program.vendor_id).decided_by("team"),
                ),
            )
            .await?;
        }
    }
    crate::service::stats::refresh(&txn, program.id, now).await?;
    txn.commit().await?;
    Ok(updated)
}

async fn tiers(services: &Services, program_id: i64) -> Result<Vec<program_tier::Model>, AppError> {
    Ok(program_tier::Entity::find()
        .filter(program_tier::Column::ProgramId.eq(program_id))
        .all(&services.db)
        .await?)
}

/// Approves a pending application and enrolls the partner.
#[tracing::instrument(skip_all, fields(application_id = id))]
pub async fn approve(
    services: &Services,
    actor: &Actor,
    id: i64,
    tier_id: Option<i64>,
    expected_version: Option<i32>,
) -> Result<application::Model, AppError> {
    let mine = my_partner(services, actor).await?;
    let (current, program) = for_decision(services, actor, id, mine).await?;
    let decision = check_decision(
        &program,
        &Decision::Approve { tier_id },
        &tiers(services, program.id).await?,
    )?;
    decide_checked(
        services,
        actor,
        &current,
        &program,
        &decision,
        expected_version,
    )
    .await
}

/// Rejects a pending application with a reason (and a note for the partner).
#[tracing::instrument(skip_all, fields(application_id = id))]
pub async fn reject(
    services: &Services,
    actor: &Actor,
    id: i64,
    reason: Option<RejectionReason>,
    note: Option<String>,
    expected_version: Option<i32>,
) -> Result<application::Model, AppError> {
    let mine = my_partner(services, actor).await?;
    let (current, program) = for_decision(services, actor, id, mine).await?;
    let decision = check_decision(&program, &Decision::Reject { reason, note }, &[])?;
    decide_checked(
        services,
        actor,
        &current,
        &program,
        &decision,
        expected_version,
    )
    .await
}

/// The applicant withdraws a pending application.
#[tracing::instrument(skip_all, fields(application_id = id))]
pub async fn withdraw(
    services: &Services,
    actor: &Actor,
    id: i64,
) -> Result<application::Model, AppError> {
    actor.viewer.require_user()?;
    let current = super::read::application_for(services, &actor.viewer, id).await?;
    let mine = partners::mine(services, &actor.viewer).await?;
    if mine.map(|p| p.id) != Some(current.partner_id) {
        return Err(AppError::Forbidden);
    }
    if current.status != ApplicationStatus::Pending {
        return Err(not_pending(current.status, "withdrawn"));
    }
    let now = crate::service::now();
    let txn = db::begin_write(&services.db).await?;
    let done = application::Entity::update_many()
        .col_expr(
            application::Column::Status,
            Expr::value(ApplicationStatus::Withdrawn),
        )
        .col_expr(application::Column::Live, Expr::value(false))
        .col_expr(application::Column::UpdatedAt, Expr::value(now))
        .col_expr(
            application::Column::Version,
            Expr::col(application::Column::Version).add(1),
        )
        .filter(application::Column::Id.eq(id))
        .filter(application::Column::Status.eq(ApplicationStatus::Pending))
        .filter(application::Column::Version.eq(current.version))
        .exec(&txn)
        .await?;
    if done.rows_affected != 1 {
        return Err(conflict());
    }
    let updated = application::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound)?;
    event(
        &txn,
        actor,
        &updated,
        ApplicationEventKind::Withdrawn,
        None,
        now,
    )
    .await?;
    let vendor_id = program::Entity::find_by_id(updated.program_id)
        .one(&txn)
        .await?
        .map_or(0, |p| p.vendor_id);
    events::emit(
        &txn,
        actor,
        DomainEvent::ApplicationWithdrawn(events::application_facts(&updated, vendor_id)),
    )
    .await?;
    txn.commit().await?;
    Ok(updated)
}

/// The outcome of one item of a bulk decision.
#[derive(Debug)]
pub struct BulkItem {
    pub application_id: i64,
    pub result: Result<application::Model, AppError>,
}

/// Decides up to 100 applications. Authorization is all or nothing: if the caller may
/// not decide every one of them, nothing changes and the call fails. After that each
/// item succeeds or fails on its own (already decided, lost a race) in its own
/// transaction, and gets its own result.
#[tracing::instrument(skip_all, fields(count = ids.len()))]
pub async fn bulk_decide(
    services: &Services,
    actor: &Actor,
    ids: &[i64],
    decision: Decision,
) -> Result<Vec<BulkItem>, AppError> {
    actor.viewer.require_user()?;
    if ids.is_empty() || ids.len() > MAX_BULK {
        return Err(AppError::invalid(FieldError::new(
            "applicationIds",
            FieldErrorCode::OutOfRange,
            format!("name 1 to {MAX_BULK} applications"),
        )));
    }
    let mut distinct = ids.to_vec();
    distinct.sort_unstable();
    distinct.dedup();
    if distinct.len() != ids.len() {
        return Err(AppError::invalid(FieldError::new(
            "applicationIds",
            FieldErrorCode::Duplicate,
            "an application is named twice",
        )));
    }
    let mine = my_partner(services, actor).await?;
    let mut targets = Vec::with_capacity(ids.len());
    for id in ids {
        targets.push(for_decision(services, actor, *id, mine).await?);
    }
    let mut checked = Vec::with_capacity(targets.len());
    for (_, program) in &targets {
        let tiers = match decision {
            Decision::Approve { .. } => tiers(services, program.id).await?,
            Decision::Reject { .. } => Vec::new(),
        };
        checked.push(check_decision(program, &decision, &tiers)?);
    }
    let mut results = Vec::with_capacity(targets.len());
    for ((current, program), decision) in targets.iter().zip(checked) {
        let result = decide_checked(services, actor, current, program, &decision, None).await;
        results.push(BulkItem {
            application_id: current.id,
            result,
        });
    }
    Ok(results)
}
