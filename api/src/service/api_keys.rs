//! Vendor API keys: created by the vendor's `OWNER` or `ADMIN` (the secret is shown
//! once), listed without secrets, revoked for good. A request presenting a key is
//! authenticated by the SHA-256 of the secret; its last use is recorded (at most once a
//! minute per key, so reads do not become writes).

use chrono::Duration;
use entity::{
    api_key::{self, ApiScope},
    code_list,
};
use sea_orm::{
    ActiveModelTrait, ActiveValue::Set, ColumnTrait, Condition, EntityTrait, NotSet,
    PaginatorTrait, QueryFilter, QueryOrder, sea_query::Expr,
};

use super::{
    Actor, Services,
    events::{self, DomainEvent},
    validate::{self, Problems},
    vendors,
};
use crate::{
    auth::{ApiKeyViewer, Viewer, token},
    db,
    error::{AppError, AuthFailure, FieldError, FieldErrorCode},
};

/// Keys a vendor may hold at once (revoked ones do not count).
const MAX_ACTIVE_KEYS: u64 = 20;
const SECRET_PREFIX: &str = "mk_live_";
/// How much of the secret is kept in clear to tell keys apart.
const SHOWN_PREFIX_LEN: usize = 16;

/// A new key with the only copy of its secret.
pub struct CreatedKey {
    pub key: api_key::Model,
    pub secret: String,
}

/// Creates a key for a vendor the caller manages.
#[tracing::instrument(skip_all, fields(vendor_id))]
pub async fn create(
    services: &Services,
    actor: &Actor,
    vendor_id: i64,
    name: &str,
    scopes: &[ApiScope],
) -> Result<CreatedKey, AppError> {
    actor.viewer.require_user()?;
    vendors::find(services, vendor_id)
        .await?
        .ok_or(AppError::NotFound)?;
    vendors::ensure_manager(&services.db, actor, vendor_id).await?;
    let mut problems = Problems::default();
    let name = problems.check(validate::text("name", name, 1, 100));
    if scopes.is_empty() {
        problems.push(FieldError::new(
            "scopes",
            FieldErrorCode::Required,
            "grant at least one scope",
        ));
    }
    let active = api_key::Entity::find()
        .filter(api_key::Column::VendorId.eq(vendor_id))
        .filter(api_key::Column::RevokedAt.is_null())
        .count(&services.db)
        .await?;
    if active >= MAX_ACTIVE_KEYS {
        problems.push(FieldError::general(
            FieldErrorCode::OutOfRange,
            format!("a vendor may hold {MAX_ACTIVE_KEYS} active keys; revoke one first"),
        ));
    }
    let (Some(name), true) = (name, problems.is_empty()) else {
        return Err(AppError::Invalid(problems.0));
    };
    let secret = token::generate(SECRET_PREFIX)?;
    let now = super::now();
    let txn = db::begin_write(&services.db).await?;
    let key = api_key::ActiveModel {
        id: NotSet,
        vendor_id: Set(vendor_id),
        name: Set(name),
        prefix: Set(secret.chars().take(SHOWN_PREFIX_LEN).collect()),
        secret_hash: Set(token::hash(&secret)),
        scopes: Set(code_list::encode(scopes)),
        created_by_user_id: Set(actor.viewer.user_id()),
        created_at: Set(now),
        last_used_at: Set(None),
        revoked_at: Set(None),
    }
    .insert(&txn)
    .await?;
    events::emit(
        &txn,
        actor,
        DomainEvent::ApiKeyCreated {
            vendor_id,
            key_id: key.id,
            scopes: scopes
                .iter()
                .map(|s| entity::code_list::Code::code(*s).to_owned())
                .collect(),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(CreatedKey { key, secret })
}

/// Keys visible to the viewer: those of vendors they manage (and all for platform
/// admins).
async fn visible(
    services: &Services,
    viewer: &Viewer,
    ids: &[i64],
) -> Result<Vec<api_key::Model>, AppError> {
    let rows = api_key::Entity::find()
        .filter(api_key::Column::Id.is_in(ids.iter().copied()))
        .all(&services.db)
        .await?;
    let mut out = Vec::new();
    for key in rows {
        if viewer.is_admin() || manages(services, viewer, key.vendor_id).await? {
            out.push(key);
        }
    }
    Ok(out)
}

async fn manages(services: &Services, viewer: &Viewer, vendor_id: i64) -> Result<bool, AppError> {
    Ok(vendors::role_of(&services.db, viewer, vendor_id)
        .await?
        .is_some_and(|r| r.can_manage_programs()))
}

pub async fn find_many(
    services: &Services,
    viewer: &Viewer,
    ids: &[i64],
) -> Result<Vec<api_key::Model>, AppError> {
    visible(services, viewer, ids).await
}

/// A vendor's keys, newest first, for its managers (`None` for anyone else).
pub async fn of_vendor(
    services: &Services,
    viewer: &Viewer,
    vendor_id: i64,
) -> Result<Option<Vec<api_key::Model>>, AppError> {
    if !(viewer.is_admin() || manages(services, viewer, vendor_id).await?) {
        return Ok(None);
    }
    Ok(Some(
        api_key::Entity::find()
            .filter(api_key::Column::VendorId.eq(vendor_id))
            .order_by_desc(api_key::Column::CreatedAt)
            .order_by_desc(api_key::Column::Id)
            .all(&services.db)
            .await?,
    ))
}

/// Revokes a key for good.
#[tracing::instrument(skip_all, fields(api_key_id = id))]
pub async fn revoke(
    services: &Services,
    actor: &Actor,
    id: i64,
) -> Result<api_key::Model, AppError> {
    actor.viewer.require_user()?;
    let key = visible(services, &actor.viewer, &[id])
        .await?
        .pop()
        .ok_or(AppError::NotFound)?;
    vendors::ensure_manager(&services.db, actor, key.vendor_id).await?;
    if key.revoked_at.is_some() {
        return Err(AppError::invalid(FieldError::new(
            "apiKeyId",
            FieldErrorCode::InvalidTransition,
            "the key is already revoked",
        )));
    }
    let now = super::now();
    let txn = db::begin_write(&services.db).await?;
    api_key::Entity::update_many()
        .col_expr(api_key::Column::RevokedAt, Expr::value(now))
        .filter(api_key::Column::Id.eq(id))
        .filter(api_key::Column::RevokedAt.is_null())
        .exec(&txn)
        .await?;
    events::emit(
        &txn,
        actor,
        DomainEvent::ApiKeyRevoked {
            vendor_id: key.vendor_id,
            key_id: id,
        },
    )
    .await?;
    txn.commit().await?;
    api_key::Entity::find_by_id(id)
        .one(&services.db)
        .await?
        .ok_or(AppError::NotFound)
}

/// The viewer a presented secret stands for. Unknown and revoked keys are
/// `UNAUTHENTICATED`, never anonymous.
pub async fn authenticate(services: &Services, secret: &str) -> Result<Viewer, AuthFailure> {
    let found = api_key::Entity::find()
        .filter(api_key::Column::SecretHash.eq(token::hash(secret)))
        .filter(api_key::Column::RevokedAt.is_null())
        .one(&services.db)
        .await
        .map_err(|e| {
            tracing::error!(error = %e, "API key lookup failed");
            AuthFailure::InvalidApiKey
        })?
        .ok_or(AuthFailure::InvalidApiKey)?;
    let now = super::now();
    if found
        .last_used_at
        .is_none_or(|at| now - at > Duration::seconds(60))
    {
        let touched = api_key::Entity::update_many()
            .col_expr(api_key::Column::LastUsedAt, Expr::value(now))
            .filter(api_key::Column::Id.eq(found.id))
            .filter(
                Condition::any()
                    .add(api_key::Column::LastUsedAt.is_null())
                    .add(api_key::Column::LastUsedAt.lt(now - Duration::seconds(60))),
            )
            .exec(&services.db)
            .await;
        if let Err(e) = touched {
            // Losing a last-used stamp must not fail the request.
            tracing::warn!(error = %e, "could not record API key use");
        }
    }
    Ok(Viewer::ApiKey(ApiKeyViewer {
        key_id: found.id,
        vendor_id: found.vendor_id,
        scopes: code_list::decode(&found.scopes),
    }))
}
