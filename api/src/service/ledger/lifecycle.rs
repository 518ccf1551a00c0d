//! Moving ledger rows along: approval when the holding period ends (a background job
//! with an injectable clock), payment in batches, reversal of refunded conversions.

use chrono::{DateTime, Utc};
use entity::{
    commission::{self, CommissionKind, CommissionStatus},
    conversion, enrollment, program,
};
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, EntityTrait, NotSet, QueryFilter, QuerySelect,
    sea_query::{Expr, Query},
};

use super::{Recorded, conversion_for, may_write};
use crate::{
    db,
    error::{AppError, FieldError, FieldErrorCode},
    service::{
        Actor, Services,
        events::{self, ConversionFacts, DomainEvent, EnrollmentFacts},
        validate,
    },
};

/// Most commissions one payment may settle.
pub const MAX_PAID_AT_ONCE: usize = 500;

/// Approves every pending row whose holding period has ended by `now`, and stamps the
/// partnerships whose first commission that approves (`activatedAt`). Returns the rows
/// approved. Idempotent; the clock is the caller's so tests need no waiting.
pub async fn approve_due(services: &Services, now: DateTime<Utc>) -> Result<u64, AppError> {
    db::retrying(|| approve_due_once(services, now)).await
}

async fn approve_due_once(services: &Services, now: DateTime<Utc>) -> Result<u64, AppError> {
    let txn = db::begin_write(&services.db).await?;
    let programs: Vec<i64> = commission::Entity::find()
        .select_only()
        .column(commission::Column::ProgramId)
        .distinct()
        .filter(commission::Column::Status.eq(CommissionStatus::Pending))
        .filter(commission::Column::AvailableAt.lte(now))
        .into_tuple()
        .all(&txn)
        .await?;
    // Lock order: the programs first, ascending; then only their rows change, so a
    // commission of another program that became due meanwhile waits for the next pass.
    db::lock_programs(&txn, &programs).await?;
    let due = commission::Entity::find()
        .filter(commission::Column::Status.eq(CommissionStatus::Pending))
        .filter(commission::Column::AvailableAt.lte(now))
        .filter(commission::Column::ProgramId.is_in(programs.iter().copied()))
        .all(&txn)
        .await?;
    let approved = commission::Entity::update_many()
        .col_expr(
            commission::Column::Status,
            Expr::value(CommissionStatus::Approved),
        )
        .col_expr(commission::Column::ApprovedAt, Expr::value(now))
        .filter(commission::Column::Id.is_in(due.iter().map(|c| c.id)))
        .exec(&txn)
        .await?
        .rows_affected;
    if approved > 0 {
        enrollment::Entity::update_many()
            .col_expr(enrollment::Column::ActivatedAt, Expr::value(now))
            .filter(enrollment::Column::ActivatedAt.is_null())
            .filter(
                enrollment::Column::Id.in_subquery(
                    Query::select()
                        .column(commission::Column::EnrollmentId)
                        .from(commission::Entity)
                        .and_where(
                            commission::Column::Status
                                .is_in([CommissionStatus::Approved, CommissionStatus::Paid]),
                        )
                        .and_where(commission::Column::Kind.eq(CommissionKind::Earning))
                        .and_where(commission::Column::AmountMinor.gt(0))
                        .to_owned(),
                ),
            )
            .exec(&txn)
            .await?;
        let vendor_of = program::Entity::find()
            .filter(program::Column::Id.is_in(programs.iter().copied()))
            .all(&txn)
            .await?
            .into_iter()
            .map(|p| (p.id, p.vendor_id))
            .collect();
        let approved_events = per_enrollment(&txn, &due, &vendor_of)
            .await?
            .into_iter()
            .map(
                |(enrollment, commission_ids)| DomainEvent::CommissionsApproved {
                    enrollment,
                    commission_ids,
                },
            );
        events::emit_all(&txn, &Actor::system(), approved_events).await?;
        for program_id in programs {
            crate::service::stats::refresh(&txn, program_id, now).await?;
        }
    }
    txn.commit().await?;
    if approved > 0 {
        tracing::info!(approved, "commissions approved after their holding period");
        services.changes.announce(&services.db).await;
    }
    Ok(approved)
}

/// `commissions` grouped by partnership, each with its partnership's facts (programs'
/// vendors from `vendor_of`).
async fn per_enrollment(
    txn: &impl sea_orm::ConnectionTrait,
    commissions: &[commission::Model],
    vendor_of: &std::collections::HashMap<i64, i64>,
) -> Result<Vec<(EnrollmentFacts, Vec<i64>)>, AppError> {
    let mut ids: std::collections::BTreeMap<i64, Vec<i64>> = Default::default();
    for c in commissions {
        ids.entry(c.enrollment_id).or_default().push(c.id);
    }
    let enrollments = enrollment::Entity::find()
        .filter(enrollment::Column::Id.is_in(ids.keys().copied()))
        .all(txn)
        .await?;
    Ok(enrollments
        .into_iter()
        .filter_map(|e| {
            let commission_ids = ids.remove(&e.id)?;
            let vendor_id = vendor_of.get(&e.program_id).copied().unwrap_or_default();
            Some((events::enrollment_facts(&e, vendor_id), commission_ids))
        })
        .collect())
}

/// Reverses a refunded conversion: appends the negative of each of its commissions.
/// A reversal of a paid commission is owed back (`APPROVED`, deducted from the next
/// payment); of a pending or approved one, it shares that status.
#[tracing::instrument(skip_all, fields(conversion_id = id))]
pub async fn reverse(
    services: &Services,
    actor: &Actor,
    id: i64,
    reason: &str,
) -> Result<Recorded, AppError> {
    db::retrying(|| reverse_once(services, actor, id, reason)).await
}

async fn reverse_once(
    services: &Services,
    actor: &Actor,
    id: i64,
    reason: &str,
) -> Result<Recorded, AppError> {
    actor.viewer.require_authenticated()?;
    let (current, _) = conversion_for(services, actor, id).await?;
    let reason = validate::text("reason", reason, 1, 1_000).map_err(AppError::invalid)?;
    let twice = || {
        AppError::invalid(FieldError::new(
            "conversionId",
            FieldErrorCode::InvalidTransition,
            "this conversion is already reversed",
        ))
    };
    if current.reversed_at.is_some() {
        return Err(twice());
    }
    let now = crate::service::now();
    let txn = db::begin_program_write(&services.db, current.program_id).await?;
    let claimed = conversion::Entity::update_many()
        .col_expr(conversion::Column::ReversedAt, Expr::value(now))
        .col_expr(
            conversion::Column::ReversalReason,
            Expr::value(reason.clone()),
        )
        .filter(conversion::Column::Id.eq(id))
        .filter(conversion::Column::ReversedAt.is_null())
        .exec(&txn)
        .await?;
    if claimed.rows_affected != 1 {
        return Err(twice());
    }
    let earnings = commission::Entity::find()
        .filter(commission::Column::ConversionId.eq(id))
        .filter(commission::Column::Kind.eq(CommissionKind::Earning))
        .all(&txn)
        .await?;
    for earning in &earnings {
        let status = match earning.status {
            CommissionStatus::Paid => CommissionStatus::Approved,
            other => other,
        };
        commission::ActiveModel {
            id: NotSet,
            conversion_id: Set(id),
            enrollment_id: Set(earning.enrollment_id),
            program_id: Set(earning.program_id),
            partner_id: Set(earning.partner_id),
            rule_id: Set(earning.rule_id),
            kind: Set(CommissionKind::Reversal),
            amount_minor: Set(-earning.amount_minor),
            currency: Set(earning.currency.clone()),
            status: Set(status),
            available_at: Set(earning.available_at),
            approved_at: Set((status == CommissionStatus::Approved).then_some(now)),
            paid_at: Set(None),
            payout_reference: Set(None),
            reverses_id: Set(Some(earning.id)),
            created_at: Set(now),
        }
        .insert(&txn)
        .await?;
    }
    let reversed: i64 = earnings.iter().map(|e| -e.amount_minor).sum();
    let mut facts = ConversionFacts::of(&current, reversed);
    facts.reason = Some(reason.clone());
    events::emit(&txn, actor, DomainEvent::ConversionReversed(facts)).await?;
    crate::service::stats::refresh(&txn, current.program_id, now).await?;
    txn.commit().await?;
    let conversion = conversion::Entity::find_by_id(id)
        .one(&services.db)
        .await?
        .ok_or(AppError::NotFound)?;
    let commissions = commission::Entity::find()
        .filter(commission::Column::ConversionId.eq(id))
        .all(&services.db)
        .await?;
    Ok(Recorded {
        conversion,
        commissions,
        replayed: false,
    })
}

/// Marks approved commissions paid, all or none. A pending (or already paid) one
/// refuses the whole batch.
#[tracing::instrument(skip_all, fields(count = ids.len()))]
pub async fn mark_paid(
    services: &Services,
    actor: &Actor,
    ids: &[i64],
    reference: &str,
) -> Result<Vec<commission::Model>, AppError> {
    actor.viewer.require_authenticated()?;
    let reference =
        validate::text("payoutReference", reference, 1, 100).map_err(AppError::invalid)?;
    if ids.is_empty() || ids.len() > MAX_PAID_AT_ONCE {
        return Err(AppError::invalid(FieldError::new(
            "commissionIds",
            FieldErrorCode::OutOfRange,
            format!("name 1 to {MAX_PAID_AT_ONCE} commissions"),
        )));
    }
    let rows = commission::Entity::find()
        .filter(commission::Column::Id.is_in(ids.iter().copied()))
        .all(&services.db)
        .await?;
    if rows.len() != ids.len() {
        return Err(AppError::NotFound);
    }
    let programs: Vec<i64> = rows.iter().map(|c| c.program_id).collect();
    let mut vendor_of = std::collections::HashMap::new();
    for p in program::Entity::find()
        .filter(program::Column::Id.is_in(programs))
        .all(&services.db)
        .await?
    {
        if !may_write(services, actor, p.vendor_id).await? {
            return Err(AppError::NotFound);
        }
        vendor_of.insert(p.id, p.vendor_id);
    }
    let mut problems = Vec::new();
    for (i, row) in rows.iter().enumerate() {
        if row.status != CommissionStatus::Approved {
            problems.push(FieldError::new(
                &format!("commissionIds.{i}"),
                FieldErrorCode::InvalidTransition,
                format!(
                    "is {} and cannot be paid",
                    if row.status == CommissionStatus::Pending {
                        "still PENDING (within its holding period)"
                    } else {
                        "already PAID"
                    }
                ),
            ));
        }
    }
    if !problems.is_empty() {
        return Err(AppError::Invalid(problems));
    }
    let now = crate::service::now();
    let txn = db::begin_write(&services.db).await?;
    let paid = commission::Entity::update_many()
        .col_expr(
            commission::Column::Status,
            Expr::value(CommissionStatus::Paid),
        )
        .col_expr(commission::Column::PaidAt, Expr::value(now))
        .col_expr(
            commission::Column::PayoutReference,
            Expr::value(reference.clone()),
        )
        .filter(commission::Column::Id.is_in(ids.iter().copied()))
        .filter(commission::Column::Status.eq(CommissionStatus::Approved))
        .exec(&txn)
        .await?;
    if usize::try_from(paid.rows_affected).ok() != Some(ids.len()) {
        return Err(AppError::invalid(FieldError::new(
            "commissionIds",
            FieldErrorCode::Conflict,
            "some commissions changed meanwhile; nothing was paid",
        )));
    }
    // One event per partnership paid.
    let paid_events = per_enrollment(&txn, &rows, &vendor_of)
        .await?
        .into_iter()
        .map(
            |(enrollment, commission_ids)| DomainEvent::CommissionsPaid {
                enrollment,
                commission_ids,
                reference: reference.clone(),
            },
        );
    events::emit_all(&txn, actor, paid_events).await?;
    txn.commit().await?;
    Ok(commission::Entity::find()
        .filter(commission::Column::Id.is_in(ids.iter().copied()))
        .all(&services.db)
        .await?)
}
