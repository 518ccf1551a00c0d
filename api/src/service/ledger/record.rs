//! `recordConversion`: attribution, validation, idempotency and the commission the
//! program's rules give.

use chrono::{DateTime, Duration, Utc};
use entity::{
    commission::{self, CommissionKind, CommissionStatus},
    commission_rule::{self, CommissionEvent},
    conversion,
    enrollment::{self, EnrollmentStatus},
    program,
};
use rust_decimal::Decimal;
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, NotSet,
    QueryFilter,
};
use sha2::{Digest, Sha256};

use super::{
    math::{self, CustomerHistory, RuleTerms},
    may_write,
};
use crate::{
    auth::Viewer,
    db,
    error::{AppError, FieldError, FieldErrorCode},
    service::{
        Actor, Services,
        events::{self, ConversionFacts, DomainEvent},
        reference::currencies,
        validate,
    },
};

/// Clock skew tolerated between a vendor's servers and ours, both ways: a conversion
/// stamped a little ahead of our clock, or a little before the partnership we recorded.
const CLOCK_SKEW: Duration = Duration::minutes(5);

#[derive(Debug, Clone)]
pub struct NewConversion {
    pub referral_code: Option<String>,
    pub enrollment_id: Option<i64>,
    pub event: CommissionEvent,
    pub customer_ref: String,
    pub amount: Decimal,
    pub currency: String,
    pub occurred_at: DateTime<Utc>,
    pub idempotency_key: String,
}

/// A stored conversion with the commissions it produced.
#[derive(Debug, Clone)]
pub struct Recorded {
    pub conversion: conversion::Model,
    pub commissions: Vec<commission::Model>,
    /// The same idempotency key and payload were seen before: this is the first answer.
    pub replayed: bool,
}

fn problem(field: &str, code: FieldErrorCode, message: impl Into<String>) -> AppError {
    AppError::invalid(FieldError::new(field, code, message))
}

fn request_hash(e: &enrollment::Model, input: &NewConversion, amount_minor: i64) -> String {
    let canonical = format!(
        "{}|{:?}|{}|{}|{}|{}",
        e.id,
        input.event,
        input.customer_ref.trim(),
        amount_minor,
        input.currency.trim().to_ascii_uppercase(),
        input.occurred_at.timestamp_micros()
    );
    Sha256::digest(canonical.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The partnership the conversion is attributed to, if the caller may write for its
/// vendor; an unknown code and another vendor's code get the same answer.
async fn attributed(
    services: &Services,
    actor: &Actor,
    input: &NewConversion,
) -> Result<(enrollment::Model, program::Model), AppError> {
    let (field, found) = match (&input.referral_code, input.enrollment_id) {
        (Some(code), None) => (
            "referralCode",
            enrollment::Entity::find()
                .filter(enrollment::Column::ReferralCode.eq(code.trim().to_ascii_uppercase()))
                .one(&services.db)
                .await?,
        ),
        (None, Some(id)) => (
            "enrollmentId",
            enrollment::Entity::find_by_id(id).one(&services.db).await?,
        ),
        _ => {
            return Err(AppError::invalid(FieldError::general(
                FieldErrorCode::Required,
                "give either `referralCode` or `enrollmentId`",
            )));
        }
    };
    let unknown = || {
        problem(
            field,
            FieldErrorCode::NotFound,
            "no partnership of yours has this code",
        )
    };
    let enrollment = found.ok_or_else(unknown)?;
    let program = program::Entity::find_by_id(enrollment.program_id)
        .one(&services.db)
        .await?
        .ok_or_else(unknown)?;
    if !may_write(services, actor, program.vendor_id).await? {
        return Err(unknown());
    }
    Ok((enrollment, program))
}

async fn replay(
    services: &Services,
    vendor_id: i64,
    key: &str,
    hash: &str,
) -> Result<Option<Recorded>, AppError> {
    let Some(existing) = conversion::Entity::find()
        .filter(conversion::Column::VendorId.eq(vendor_id))
        .filter(conversion::Column::IdempotencyKey.eq(key))
        .one(&services.db)
        .await?
    else {
        return Ok(None);
    };
    if existing.request_hash != hash {
        return Err(problem(
            "idempotencyKey",
            FieldErrorCode::Conflict,
            "was already used for a different conversion",
        ));
    }
    let commissions = commission::Entity::find()
        .filter(commission::Column::ConversionId.eq(existing.id))
        .all(&services.db)
        .await?;
    Ok(Some(Recorded {
        conversion: existing,
        commissions,
        replayed: true,
    }))
}

/// The rule for this event: the enrollment's tier's own rule, else the all-tier rule.
fn event_name(event: CommissionEvent) -> &'static str {
    match event {
        CommissionEvent::Sale => "SALE",
        CommissionEvent::Lead => "LEAD",
        CommissionEvent::Signup => "SIGNUP",
    }
}

async fn rule_for(
    conn: &impl ConnectionTrait,
    enrollment: &enrollment::Model,
    event: CommissionEvent,
) -> Result<Option<commission_rule::Model>, AppError> {
    let rules = commission_rule::Entity::find()
        .filter(commission_rule::Column::ProgramId.eq(enrollment.program_id))
        .filter(commission_rule::Column::RetiredAt.is_null())
        .filter(commission_rule::Column::Event.eq(event))
        .all(conn)
        .await?;
    let tiered = rules
        .iter()
        .find(|r| r.tier_id.is_some() && r.tier_id == enrollment.tier_id);
    Ok(tiered
        .or_else(|| rules.iter().find(|r| r.tier_id.is_none()))
        .cloned())
}

async fn history(
    conn: &impl ConnectionTrait,
    enrollment_id: i64,
    customer_ref: &str,
    event: CommissionEvent,
    rule_id: i64,
) -> Result<CustomerHistory, AppError> {
    let prior = conversion::Entity::find()
        .filter(conversion::Column::EnrollmentId.eq(enrollment_id))
        .filter(conversion::Column::CustomerRef.eq(customer_ref))
        .filter(conversion::Column::Event.eq(event))
        .filter(conversion::Column::ReversedAt.is_null())
        .all(conn)
        .await?;
    let first_at = prior.iter().map(|c| c.occurred_at).min();
    let ids: Vec<i64> = prior.iter().map(|c| c.id).collect();
    let earned_minor = if ids.is_empty() {
        0
    } else {
        commission::Entity::find()
            .filter(commission::Column::ConversionId.is_in(ids))
            .filter(commission::Column::RuleId.eq(rule_id))
            .all(conn)
            .await?
            .iter()
            .map(|c| c.amount_minor)
            .sum()
    };
    Ok(CustomerHistory {
        first_at,
        earned_minor,
    })
}

/// Records a conversion and the commission it earns.
#[tracing::instrument(skip_all)]
pub async fn record(
    services: &Services,
    actor: &Actor,
    input: NewConversion,
) -> Result<Recorded, AppError> {
    db::retrying(|| record_once(services, actor, input.clone())).await
}

async fn record_once(
    services: &Services,
    actor: &Actor,
    input: NewConversion,
) -> Result<Recorded, AppError> {
    actor.viewer.require_authenticated()?;
    if let Viewer::ApiKey(k) = &actor.viewer
        && !k.allows(entity::api_key::ApiScope::ConversionsWrite)
    {
        return Err(AppError::Forbidden);
    }
    let key = validate::text("idempotencyKey", &input.idempotency_key, 1, 100)
        .map_err(AppError::invalid)?;
    let (enrollment, program) = attributed(services, actor, &input).await?;
    let currency = input.currency.trim().to_ascii_uppercase();
    if currency != program.currency {
        return Err(problem(
            "currency",
            FieldErrorCode::Invalid,
            format!(
                "this program pays in {}; report the amount in {}",
                program.currency, program.currency
            ),
        ));
    }
    let amount_minor = currencies::to_minor(input.amount, &currency).map_err(|e| {
        let message = match e {
            currencies::AmountError::Negative => {
                "must not be negative; report refunds with reverseConversion".to_owned()
            }
            other => other.message(&currency),
        };
        problem("amount", FieldErrorCode::OutOfRange, message)
    })?;
    if amount_minor == 0 && input.event == CommissionEvent::Sale {
        return Err(problem(
            "amount",
            FieldErrorCode::OutOfRange,
            "a sale needs an amount above zero (leads and sign-ups may report 0)".to_owned(),
        ));
    }
    let hash = request_hash(&enrollment, &input, amount_minor);
    if let Some(first) = replay(services, program.vendor_id, &key, &hash).await? {
        return Ok(first);
    }
    let customer_ref =
        validate::text("customerRef", &input.customer_ref, 1, 200).map_err(AppError::invalid)?;
    let now = crate::service::now();
    if input.occurred_at > now + CLOCK_SKEW {
        return Err(problem(
            "occurredAt",
            FieldErrorCode::OutOfRange,
            "is in the future",
        ));
    }
    if input.occurred_at < enrollment.joined_at - CLOCK_SKEW {
        return Err(problem(
            "occurredAt",
            FieldErrorCode::OutOfRange,
            "is before the partner joined the program",
        ));
    }
    if enrollment.status != EnrollmentStatus::Active {
        return Err(problem(
            "referralCode",
            FieldErrorCode::NotAccepting,
            "this partnership is not active (suspended, left or terminated) and earns nothing",
        ));
    }

    // Concurrent conversions of one customer must see each other's history: the
    // program's lock (taken first, see `db::lock_programs`) serialises them.
    let txn = db::begin_program_write(&services.db, program.id).await?;
    let Some(rule) = rule_for(&txn, &enrollment, input.event).await? else {
        // Recording it would earn nothing and say nothing: refuse, so the vendor's
        // back end learns the program has no terms for this event.
        return Err(problem(
            "event",
            FieldErrorCode::NoCommissionRule,
            format!(
                "this program pays nothing for {} events: no commission rule for the partner's tier or for all tiers",
                event_name(input.event)
            ),
        ));
    };
    let terms = RuleTerms {
        model: rule.model,
        rate_bps: rule.rate_bps,
        flat_minor: rule.flat_amount_minor,
        duration: rule.duration,
        recurring_months: rule.recurring_months,
        cap_minor: rule.cap_per_customer_minor,
    };
    let history = history(&txn, enrollment.id, &customer_ref, input.event, rule.id).await?;
    let earned = math::commission(&terms, amount_minor, input.occurred_at, &history);
    let inserted = conversion::ActiveModel {
        id: NotSet,
        vendor_id: Set(program.vendor_id),
        program_id: Set(program.id),
        enrollment_id: Set(enrollment.id),
        partner_id: Set(enrollment.partner_id),
        event: Set(input.event),
        customer_ref: Set(customer_ref),
        amount_minor: Set(amount_minor),
        currency: Set(currency.clone()),
        occurred_at: Set(input.occurred_at),
        idempotency_key: Set(key.clone()),
        request_hash: Set(hash.clone()),
        recorded_by_api_key_id: Set(match &actor.viewer {
            Viewer::ApiKey(k) => Some(k.key_id),
            _ => None,
        }),
        recorded_by_user_id: Set(actor.viewer.user_id()),
        reversed_at: Set(None),
        reversal_reason: Set(None),
        created_at: Set(now),
    }
    .insert(&txn)
    .await;
    let stored = match inserted {
        Ok(stored) => stored,
        Err(e) if db::unique_violation(&e).is_some() => {
            drop(txn);
            // A concurrent twin with this key won; answer as it did (or conflict).
            return replay(services, program.vendor_id, &key, &hash)
                .await?
                .ok_or_else(|| {
                    AppError::internal(anyhow::anyhow!("conversion vanished after a key clash"))
                });
        }
        Err(e) => return Err(e.into()),
    };
    let mut commissions = Vec::new();
    if earned != 0 {
        commissions.push(
            commission::ActiveModel {
                id: NotSet,
                conversion_id: Set(stored.id),
                enrollment_id: Set(enrollment.id),
                program_id: Set(program.id),
                partner_id: Set(enrollment.partner_id),
                rule_id: Set(Some(rule.id)),
                kind: Set(CommissionKind::Earning),
                amount_minor: Set(earned),
                currency: Set(currency),
                status: Set(CommissionStatus::Pending),
                available_at: Set(
                    input.occurred_at + Duration::days(i64::from(program.holding_period_days))
                ),
                approved_at: Set(None),
                paid_at: Set(None),
                payout_reference: Set(None),
                reverses_id: Set(None),
                created_at: Set(now),
            }
            .insert(&txn)
            .await?,
        );
    }
    if earned > 0 {
        // The partnership's first earning, kept for the time-to-first-commission figure.
        enrollment::Entity::update_many()
            .col_expr(
                enrollment::Column::FirstCommissionAt,
                sea_orm::sea_query::Expr::value(input.occurred_at),
            )
            .filter(enrollment::Column::Id.eq(enrollment.id))
            .filter(
                sea_orm::Condition::any()
                    .add(enrollment::Column::FirstCommissionAt.is_null())
                    .add(enrollment::Column::FirstCommissionAt.gt(input.occurred_at)),
            )
            .exec(&txn)
            .await?;
    }
    events::emit(
        &txn,
        actor,
        DomainEvent::ConversionRecorded(ConversionFacts::of(&stored, earned)),
    )
    .await?;
    crate::service::stats::refresh(&txn, program.id, now).await?;
    txn.commit().await?;
    Ok(Recorded {
        conversion: stored,
        commissions,
        replayed: false,
    })
}
