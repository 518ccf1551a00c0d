//! Invitations: a vendor manager invites a partner (by e-mail or partner slug) to a
//! program; applying with the code approves at once, invite-only programs included.

use chrono::Duration;
use entity::{
    invitation::{self, InvitationStatus},
    program::ProgramStatus,
};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, NotSet, QueryFilter,
    sea_query::Expr,
};

use crate::{
    auth::token,
    db,
    error::{AppError, FieldError, FieldErrorCode},
    service::{
        Actor, Services, accounts,
        events::{self, DomainEvent, ProgramFacts},
        partners, programs,
        validate::{self, Problems},
        vendors,
    },
};

pub const DEFAULT_EXPIRY_DAYS: i32 = 30;
const MAX_EXPIRY_DAYS: i32 = 365;

#[derive(Debug, Clone, Default)]
pub struct NewInvitation {
    pub program_id: i64,
    pub email: Option<String>,
    pub partner_slug: Option<String>,
    pub message: Option<String>,
    pub expires_in_days: Option<i32>,
}

/// Invites a partner to a program (`OWNER` or `ADMIN` of its vendor).
#[tracing::instrument(skip_all, fields(program_id = input.program_id))]
pub async fn invite(
    services: &Services,
    actor: &Actor,
    input: NewInvitation,
) -> Result<invitation::Model, AppError> {
    actor.viewer.require_user()?;
    let program = programs::find(services, &actor.viewer, input.program_id)
        .await?
        .ok_or(AppError::NotFound)?
        .program;
    vendors::ensure_manager(&services.db, actor, program.vendor_id).await?;
    let mut problems = Problems::default();
    if program.status == ProgramStatus::Archived {
        problems.push(FieldError::new(
            "programId",
            FieldErrorCode::NotAccepting,
            "an archived program takes no new partners",
        ));
    }
    let email_given = input.email.as_deref().filter(|e| !e.trim().is_empty());
    let slug_given = input
        .partner_slug
        .as_deref()
        .filter(|s| !s.trim().is_empty());
    let (email, partner_id) = match (email_given, slug_given) {
        (Some(e), None) => (problems.check(accounts::rules::email(e)), None),
        (None, Some(slug)) => match partners::find_by_slug(services, slug.trim()).await? {
            Some(p) => (None, Some(p.id)),
            None => {
                problems.push(FieldError::new(
                    "partnerSlug",
                    FieldErrorCode::NotFound,
                    "no partner has this slug",
                ));
                (None, None)
            }
        },
        _ => {
            problems.push(FieldError::general(
                FieldErrorCode::Required,
                "give either `email` or `partnerSlug`",
            ));
            (None, None)
        }
    };
    let message = match input
        .message
        .as_deref()
        .map(str::trim)
        .filter(|m| !m.is_empty())
    {
        Some(m) => problems
            .check(validate::text("message", m, 1, 2_000))
            .map(Some),
        None => Some(None),
    };
    let days = input.expires_in_days.unwrap_or(DEFAULT_EXPIRY_DAYS);
    if !(1..=MAX_EXPIRY_DAYS).contains(&days) {
        problems.push(FieldError::new(
            "expiresInDays",
            FieldErrorCode::OutOfRange,
            format!("must be between 1 and {MAX_EXPIRY_DAYS}"),
        ));
    }
    let (Some(message), true) = (message, problems.is_empty()) else {
        return Err(AppError::Invalid(problems.0));
    };
    let now = crate::service::now();
    // 128 random bits: the code alone admits its holder to an invite-only program.
    let code = token::generate("inv_")?
        .chars()
        .take(26)
        .collect::<String>();
    let txn = db::begin_write(&services.db).await?;
    let created = invitation::ActiveModel {
        id: NotSet,
        program_id: Set(program.id),
        code: Set(code),
        email: Set(email),
        partner_id: Set(partner_id),
        message: Set(message),
        status: Set(InvitationStatus::Pending),
        expires_at: Set(now + Duration::days(i64::from(days))),
        invited_by_user_id: Set(actor.viewer.user_id()),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await?;
    events::emit(
        &txn,
        actor,
        DomainEvent::InvitationCreated {
            facts: ProgramFacts::of(&program),
            invitation_id: created.id,
        },
    )
    .await?;
    txn.commit().await?;
    Ok(created)
}

/// Revokes a pending invitation.
#[tracing::instrument(skip_all, fields(invitation_id = id))]
pub async fn revoke_invitation(
    services: &Services,
    actor: &Actor,
    id: i64,
) -> Result<invitation::Model, AppError> {
    actor.viewer.require_user()?;
    let current = super::read::invitations_by_ids(services, &actor.viewer, &[id])
        .await?
        .pop()
        .ok_or(AppError::NotFound)?;
    let program = programs::records_by_ids(services, &[current.program_id])
        .await?
        .pop()
        .ok_or(AppError::NotFound)?;
    vendors::ensure_manager(&services.db, actor, program.program.vendor_id).await?;
    if current.status != InvitationStatus::Pending {
        return Err(AppError::invalid(FieldError::new(
            "invitationId",
            FieldErrorCode::InvalidTransition,
            "only a pending invitation can be revoked",
        )));
    }
    let now = crate::service::now();
    let txn = db::begin_write(&services.db).await?;
    let done = invitation::Entity::update_many()
        .col_expr(
            invitation::Column::Status,
            Expr::value(InvitationStatus::Revoked),
        )
        .col_expr(invitation::Column::UpdatedAt, Expr::value(now))
        .filter(invitation::Column::Id.eq(id))
        .filter(invitation::Column::Status.eq(InvitationStatus::Pending))
        .exec(&txn)
        .await?;
    if done.rows_affected != 1 {
        return Err(AppError::invalid(FieldError::new(
            "invitationId",
            FieldErrorCode::Conflict,
            "the invitation changed meanwhile; reload it",
        )));
    }
    events::emit(
        &txn,
        actor,
        DomainEvent::InvitationRevoked {
            facts: ProgramFacts::of(&program.program),
            invitation_id: id,
        },
    )
    .await?;
    txn.commit().await?;
    invitation::Entity::find_by_id(id)
        .one(&services.db)
        .await?
        .ok_or(AppError::NotFound)
}
