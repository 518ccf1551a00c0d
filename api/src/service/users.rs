//! Reading users: a user sees their own account; platform admins see every account.

use entity::user;
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, QuerySelect, Select};

use super::Services;
use crate::{
    auth::Viewer,
    error::{AppError, AuthFailure},
};

/// Users the viewer may see, as a query to narrow further.
pub fn visible_to(viewer: &Viewer) -> Select<user::Entity> {
    let scope = match viewer {
        _ if viewer.is_admin() => Condition::all(),
        Viewer::User(me) => Condition::all().add(user::Column::Id.eq(me.user_id)),
        Viewer::Anonymous | Viewer::ApiKey(_) => Condition::any(), // matches nothing
    };
    user::Entity::find().filter(scope)
}

pub async fn find(
    services: &Services,
    viewer: &Viewer,
    id: i64,
) -> Result<Option<user::Model>, AppError> {
    Ok(visible_to(viewer)
        .filter(user::Column::Id.eq(id))
        .one(&services.db)
        .await?)
}

pub async fn find_many(
    services: &Services,
    viewer: &Viewer,
    ids: &[i64],
) -> Result<Vec<user::Model>, AppError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(visible_to(viewer)
        .filter(user::Column::Id.is_in(ids.iter().copied()))
        .all(&services.db)
        .await?)
}

/// The logged-in user's own account; `None` when anonymous, `UNAUTHENTICATED` when the
/// token's account no longer exists.
pub async fn me(services: &Services, viewer: &Viewer) -> Result<Option<user::Model>, AppError> {
    match viewer.user_id() {
        Some(id) => match find(services, viewer, id).await? {
            Some(user) => Ok(Some(user)),
            None => Err(AppError::Unauthenticated(AuthFailure::AccountGone)),
        },
        None => Ok(None),
    }
}

/// `UNAUTHENTICATED` unless the account `user_id` still exists (one primary-key read).
pub async fn require_account(services: &Services, user_id: i64) -> Result<(), AppError> {
    let found: Option<i64> = user::Entity::find_by_id(user_id)
        .select_only()
        .column(user::Column::Id)
        .into_tuple()
        .one(&services.db)
        .await?;
    found
        .map(drop)
        .ok_or(AppError::Unauthenticated(AuthFailure::AccountGone))
}
