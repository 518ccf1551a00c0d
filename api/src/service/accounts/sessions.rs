//! Refresh-token families. A log-in starts a family; every refresh marks its token used and
//! issues the next one in the family. Presenting a used token again means it was copied:
//! the whole family is revoked, so both the thief and the victim must log in again.

use chrono::{DateTime, Utc};
use entity::{refresh_token, user};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, ConnectionTrait, EntityTrait, NotSet,
    QueryFilter, sea_query::Expr,
};

use super::Session;
use crate::{
    auth::token,
    db,
    error::{AppError, AuthFailure},
    service::{
        Actor, Services,
        events::{self, DomainEvent},
    },
};

const REFRESH_TOKEN_PREFIX: &str = "rt_";

/// A refresh token as handed to the client (the database keeps only its hash).
pub(super) struct NewRefreshToken {
    token: String,
    expires_at: DateTime<Utc>,
}

/// Starts a new family for `user_id`.
pub(super) async fn start(
    conn: &impl ConnectionTrait,
    services: &Services,
    user_id: i64,
    now: DateTime<Utc>,
) -> Result<NewRefreshToken, AppError> {
    let family = token::generate("fam_")?;
    insert(conn, services, user_id, family, now).await
}

async fn insert(
    conn: &impl ConnectionTrait,
    services: &Services,
    user_id: i64,
    family_id: String,
    now: DateTime<Utc>,
) -> Result<NewRefreshToken, AppError> {
    let secret = token::generate(REFRESH_TOKEN_PREFIX)?;
    let expires_at =
        now + chrono::Duration::from_std(services.refresh_token_ttl).map_err(AppError::internal)?;
    refresh_token::ActiveModel {
        id: NotSet,
        user_id: Set(user_id),
        family_id: Set(family_id),
        token_hash: Set(token::hash(&secret)),
        created_at: Set(now),
        expires_at: Set(expires_at),
        used_at: Set(None),
        revoked_at: Set(None),
        revoked_reason: Set(None),
    }
    .insert(conn)
    .await?;
    Ok(NewRefreshToken {
        token: secret,
        expires_at,
    })
}

/// Signs the access token that goes with a refresh token just stored.
pub(super) fn finish(
    services: &Services,
    user: user::Model,
    refresh: NewRefreshToken,
    now: DateTime<Utc>,
) -> Result<Session, AppError> {
    let access = services.access_tokens.issue(user.id, user.role, now)?;
    Ok(Session {
        user,
        access_token: access.token,
        access_token_expires_at: access.expires_at,
        refresh_token: refresh.token,
        refresh_token_expires_at: refresh.expires_at,
    })
}

async fn revoke_family(
    conn: &impl ConnectionTrait,
    family_id: &str,
    reason: &str,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::RevokedAt, Expr::value(now))
        .col_expr(refresh_token::Column::RevokedReason, Expr::value(reason))
        .filter(refresh_token::Column::FamilyId.eq(family_id))
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(conn)
        .await?;
    Ok(())
}

async fn find_by_secret(
    services: &Services,
    secret: &str,
) -> Result<Option<refresh_token::Model>, AppError> {
    if !secret.starts_with(REFRESH_TOKEN_PREFIX) || secret.len() > 128 {
        return Ok(None);
    }
    Ok(refresh_token::Entity::find()
        .filter(refresh_token::Column::TokenHash.eq(token::hash(secret)))
        .one(&services.db)
        .await?)
}

/// Exchanges a refresh token for a new session in the same family.
#[tracing::instrument(skip_all)]
pub async fn refresh(
    services: &Services,
    actor: &Actor,
    secret: &str,
) -> Result<Session, AppError> {
    let invalid = AppError::Unauthenticated(AuthFailure::InvalidRefreshToken);
    let now = crate::service::now();
    let Some(current) = find_by_secret(services, secret).await? else {
        return Err(invalid);
    };
    if current.revoked_at.is_some() || current.expires_at <= now {
        return Err(invalid);
    }
    if current.used_at.is_some() {
        return Err(reuse_detected(services, actor, &current, now).await);
    }

    let txn = db::begin_write(&services.db).await?;
    // Conditional update: of two concurrent refreshes with one token, exactly one wins.
    let claimed = refresh_token::Entity::update_many()
        .col_expr(refresh_token::Column::UsedAt, Expr::value(now))
        .filter(refresh_token::Column::Id.eq(current.id))
        .filter(refresh_token::Column::UsedAt.is_null())
        .filter(refresh_token::Column::RevokedAt.is_null())
        .exec(&txn)
        .await?;
    if claimed.rows_affected != 1 {
        txn.rollback().await?;
        return Err(reuse_detected(services, actor, &current, now).await);
    }
    let Some(user) = user::Entity::find_by_id(current.user_id).one(&txn).await? else {
        txn.rollback().await?;
        return Err(invalid);
    };
    let next = insert(&txn, services, user.id, current.family_id.clone(), now).await?;
    txn.commit().await?;
    super::sessions::finish(services, user, next, now)
}

/// Revokes the family of a replayed token and answers `UNAUTHENTICATED`.
async fn reuse_detected(
    services: &Services,
    actor: &Actor,
    token: &refresh_token::Model,
    now: DateTime<Utc>,
) -> AppError {
    tracing::warn!(
        user_id = token.user_id,
        "refresh token reuse detected; revoking its family"
    );
    let revoked = async {
        let txn = db::begin_write(&services.db).await?;
        revoke_family(&txn, &token.family_id, "reuse_detected", now).await?;
        events::emit(
            &txn,
            actor,
            DomainEvent::SessionReuseDetected {
                user_id: token.user_id,
            },
        )
        .await?;
        txn.commit().await.map_err(AppError::from)
    }
    .await;
    match revoked {
        Ok(()) => AppError::Unauthenticated(AuthFailure::RefreshTokenReused),
        Err(e) => e,
    }
}

/// Ends the session the refresh token belongs to (or, with `all_sessions`, every session
/// of its user). An unknown token is not an error: the session is gone either way.
#[tracing::instrument(skip_all)]
pub async fn log_out(
    services: &Services,
    actor: &Actor,
    secret: &str,
    all_sessions: bool,
) -> Result<(), AppError> {
    let Some(current) = find_by_secret(services, secret).await? else {
        return Ok(());
    };
    let now = crate::service::now();
    let txn = db::begin_write(&services.db).await?;
    if all_sessions {
        refresh_token::Entity::update_many()
            .col_expr(refresh_token::Column::RevokedAt, Expr::value(now))
            .col_expr(
                refresh_token::Column::RevokedReason,
                Expr::value("logout_all"),
            )
            .filter(refresh_token::Column::UserId.eq(current.user_id))
            .filter(refresh_token::Column::RevokedAt.is_null())
            .exec(&txn)
            .await?;
    } else {
        revoke_family(&txn, &current.family_id, "logout", now).await?;
    }
    events::emit(
        &txn,
        actor,
        DomainEvent::UserLoggedOut {
            user_id: current.user_id,
            all_sessions,
        },
    )
    .await?;
    txn.commit().await?;
    Ok(())
}
