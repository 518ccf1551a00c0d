//! Vendors and their teams. Vendor profiles are public; teams are visible to their
//! members; `OWNER` and `ADMIN` manage the vendor, its team and its programs.

use std::collections::HashMap;

use entity::{
    user, vendor,
    vendor_member::{self, VendorRole},
};
use sea_orm::{
    ActiveEnum, ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, NotSet, PaginatorTrait, QueryFilter,
    QueryOrder, QuerySelect,
    sea_query::{Expr, ExprTrait},
};

use super::{
    Actor, Services,
    events::{self, DomainEvent},
    validate::{self, Problems},
};
use crate::{
    auth::Viewer,
    db,
    error::{AppError, FieldError, FieldErrorCode},
};

/// A team membership with the user and vendor it links.
#[derive(Debug, Clone)]
pub struct MemberRecord {
    pub member: vendor_member::Model,
    pub user: user::Model,
    pub vendor: vendor::Model,
}

pub struct VendorProfile {
    pub name: String,
    pub website: Option<String>,
    pub description: Option<String>,
    pub logo_url: Option<String>,
    pub country: Option<String>,
}

pub struct NewVendor {
    pub slug: String,
    pub profile: VendorProfile,
}

/// Fields to change; `None` keeps the current value, `Some(None)` clears a nullable one.
#[derive(Default)]
pub struct VendorPatch {
    pub name: Option<String>,
    pub website: Option<Option<String>>,
    pub description: Option<Option<String>>,
    pub logo_url: Option<Option<String>>,
    pub country: Option<Option<String>>,
}

const MAX_VENDOR_DESCRIPTION: usize = 5_000;

fn slug_taken() -> AppError {
    AppError::invalid(FieldError::new(
        "slug",
        FieldErrorCode::Taken,
        "is already used by another vendor",
    ))
}

fn check_profile(problems: &mut Problems, p: &VendorProfile) -> Option<VendorProfile> {
    let name = problems.check(validate::text("name", &p.name, 1, 100));
    let website = problems.check(validate::optional_url("website", p.website.as_deref()));
    let logo_url = problems.check(validate::optional_url("logoUrl", p.logo_url.as_deref()));
    let description = match p
        .description
        .as_deref()
        .map(str::trim)
        .filter(|d| !d.is_empty())
    {
        Some(d) => {
            problems.check(validate::text("description", d, 0, MAX_VENDOR_DESCRIPTION).map(Some))
        }
        None => Some(None),
    };
    let country = match p.country.as_deref().filter(|c| !c.is_empty()) {
        Some(c) => problems.check(validate::country("country", c).map(Some)),
        None => Some(None),
    };
    Some(VendorProfile {
        name: name?,
        website: website?,
        description: description?,
        logo_url: logo_url?,
        country: country?,
    })
}

/// Creates a vendor; the caller becomes its `OWNER`.
#[tracing::instrument(skip_all)]
pub async fn create(
    services: &Services,
    actor: &Actor,
    input: NewVendor,
) -> Result<vendor::Model, AppError> {
    let me = actor.viewer.require_user()?.user_id;
    let mut problems = Problems::default();
    let slug = problems.check(validate::slug("slug", &input.slug));
    let profile = check_profile(&mut problems, &input.profile);
    let (Some(slug), Some(profile), true) = (slug, profile, problems.is_empty()) else {
        return Err(AppError::Invalid(problems.0));
    };
    if vendor::Entity::find()
        .filter(vendor::Column::Slug.eq(&slug))
        .count(&services.db)
        .await?
        > 0
    {
        return Err(slug_taken());
    }
    let now = crate::service::now();
    let txn = db::begin_write(&services.db).await?;
    let created = vendor::ActiveModel {
        id: NotSet,
        slug: Set(slug),
        name: Set(profile.name),
        website: Set(profile.website),
        description: Set(profile.description),
        logo_url: Set(profile.logo_url),
        country: Set(profile.country),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
    }
    .insert(&txn)
    .await
    .map_err(|e| {
        if db::unique_violation(&e).is_some() {
            slug_taken()
        } else {
            e.into()
        }
    })?;
    vendor_member::ActiveModel {
        id: NotSet,
        vendor_id: Set(created.id),
        user_id: Set(me),
        role: Set(VendorRole::Owner),
        created_at: Set(now),
    }
    .insert(&txn)
    .await?;
    events::emit(
        &txn,
        actor,
        DomainEvent::VendorCreated {
            vendor_id: created.id,
        },
    )
    .await?;
    txn.commit().await?;
    Ok(created)
}

/// Updates the profile of a vendor the caller manages.
#[tracing::instrument(skip_all, fields(vendor_id = id))]
pub async fn update(
    services: &Services,
    actor: &Actor,
    id: i64,
    expected_version: i32,
    patch: VendorPatch,
) -> Result<vendor::Model, AppError> {
    let current = find(services, id).await?.ok_or(AppError::NotFound)?;
    ensure_manager(&services.db, actor, current.id).await?;
    let merged = VendorProfile {
        name: patch.name.unwrap_or(current.name.clone()),
        website: patch.website.unwrap_or(current.website.clone()),
        description: patch.description.unwrap_or(current.description.clone()),
        logo_url: patch.logo_url.unwrap_or(current.logo_url.clone()),
        country: patch.country.unwrap_or(current.country.clone()),
    };
    let mut problems = Problems::default();
    let profile = check_profile(&mut problems, &merged);
    let (Some(profile), true) = (profile, problems.is_empty()) else {
        return Err(AppError::Invalid(problems.0));
    };
    let txn = db::begin_write(&services.db).await?;
    let updated = vendor::Entity::update_many()
        .col_expr(vendor::Column::Name, Expr::value(profile.name))
        .col_expr(vendor::Column::Website, Expr::value(profile.website))
        .col_expr(
            vendor::Column::Description,
            Expr::value(profile.description),
        )
        .col_expr(vendor::Column::LogoUrl, Expr::value(profile.logo_url))
        .col_expr(vendor::Column::Country, Expr::value(profile.country))
        .col_expr(
            vendor::Column::Version,
            Expr::col(vendor::Column::Version).add(1),
        )
        .col_expr(
            vendor::Column::UpdatedAt,
            Expr::value(crate::service::now()),
        )
        .filter(vendor::Column::Id.eq(id))
        .filter(vendor::Column::Version.eq(expected_version))
        .exec(&txn)
        .await?;
    if updated.rows_affected != 1 {
        return Err(stale_version());
    }
    // Its programs' search documents carry its name: the indexer follows the event.
    events::emit(&txn, actor, DomainEvent::VendorUpdated { vendor_id: id }).await?;
    txn.commit().await?;
    find(services, id).await?.ok_or(AppError::NotFound)
}

pub fn stale_version() -> AppError {
    AppError::invalid(FieldError::new(
        "expectedVersion",
        FieldErrorCode::Conflict,
        "was changed by someone else since you loaded it; reload and try again",
    ))
}

pub async fn find(services: &Services, id: i64) -> Result<Option<vendor::Model>, AppError> {
    Ok(vendor::Entity::find_by_id(id).one(&services.db).await?)
}

pub async fn find_by_slug(
    services: &Services,
    slug: &str,
) -> Result<Option<vendor::Model>, AppError> {
    Ok(vendor::Entity::find()
        .filter(vendor::Column::Slug.eq(slug))
        .one(&services.db)
        .await?)
}

pub async fn find_many(services: &Services, ids: &[i64]) -> Result<Vec<vendor::Model>, AppError> {
    Ok(vendor::Entity::find()
        .filter(vendor::Column::Id.is_in(ids.iter().copied()))
        .all(&services.db)
        .await?)
}

/// The viewer's role in a vendor, if any.
pub async fn role_of(
    conn: &impl ConnectionTrait,
    viewer: &Viewer,
    vendor_id: i64,
) -> Result<Option<VendorRole>, AppError> {
    Ok(roles_of(conn, viewer, &[vendor_id])
        .await?
        .remove(&vendor_id))
}

/// The viewer's role on each of these vendors' teams, in one query (none for anonymous
/// viewers and API keys).
pub async fn roles_of(
    conn: &impl ConnectionTrait,
    viewer: &Viewer,
    vendor_ids: &[i64],
) -> Result<HashMap<i64, VendorRole>, AppError> {
    let Some(user_id) = viewer.user_id() else {
        return Ok(HashMap::new());
    };
    Ok(vendor_member::Entity::find()
        .filter(vendor_member::Column::VendorId.is_in(vendor_ids.iter().copied()))
        .filter(vendor_member::Column::UserId.eq(user_id))
        .all(conn)
        .await?
        .into_iter()
        .map(|m| (m.vendor_id, m.role))
        .collect())
}

/// The viewer's role on every team they are on, in one query (none for anonymous viewers
/// and API keys): a request that asks about many vendors reads them once.
pub async fn my_roles(
    conn: &impl ConnectionTrait,
    viewer: &Viewer,
) -> Result<HashMap<i64, VendorRole>, AppError> {
    let Some(user_id) = viewer.user_id() else {
        return Ok(HashMap::new());
    };
    Ok(vendor_member::Entity::find()
        .filter(vendor_member::Column::UserId.eq(user_id))
        .all(conn)
        .await?
        .into_iter()
        .map(|m| (m.vendor_id, m.role))
        .collect())
}

/// `OWNER` or `ADMIN` of the vendor, else `UNAUTHENTICATED` / `FORBIDDEN`.
pub async fn ensure_manager(
    conn: &impl ConnectionTrait,
    actor: &Actor,
    vendor_id: i64,
) -> Result<VendorRole, AppError> {
    actor.viewer.require_user()?;
    match role_of(conn, &actor.viewer, vendor_id).await? {
        Some(role) if role.can_manage_programs() => Ok(role),
        _ => Err(AppError::Forbidden),
    }
}

async fn member_records(
    services: &Services,
    filter: sea_orm::Condition,
) -> Result<Vec<MemberRecord>, AppError> {
    let rows = vendor_member::Entity::find()
        .filter(filter)
        .find_also_related(user::Entity)
        .find_also_related(vendor::Entity)
        .order_by_asc(vendor_member::Column::Id)
        .all(&services.db)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(member, user, vendor)| {
            Some(MemberRecord {
                member,
                user: user?,
                vendor: vendor?,
            })
        })
        .collect())
}

/// The memberships of `user_id`, as the viewer may see them: their own, or anyone's
/// for platform admins.
pub async fn memberships(
    services: &Services,
    viewer: &Viewer,
    user_id: i64,
) -> Result<Vec<MemberRecord>, AppError> {
    if viewer.user_id() != Some(user_id) && !viewer.is_admin() {
        return Ok(Vec::new());
    }
    member_records(
        services,
        sea_orm::Condition::all().add(vendor_member::Column::UserId.eq(user_id)),
    )
    .await
}

/// The team of a vendor, for its members and platform admins; `None` for anyone else.
pub async fn team(
    services: &Services,
    viewer: &Viewer,
    vendor_id: i64,
) -> Result<Option<Vec<MemberRecord>>, AppError> {
    if !viewer.is_admin() && role_of(&services.db, viewer, vendor_id).await?.is_none() {
        return Ok(None);
    }
    member_records(
        services,
        sea_orm::Condition::all().add(vendor_member::Column::VendorId.eq(vendor_id)),
    )
    .await
    .map(Some)
}

/// Team memberships by id, as visible to the viewer (their own teams; all for admins).
pub async fn members_by_ids(
    services: &Services,
    viewer: &Viewer,
    ids: &[i64],
) -> Result<Vec<MemberRecord>, AppError> {
    let Some(user_id) = viewer.user_id() else {
        return Ok(Vec::new());
    };
    let mut scope =
        sea_orm::Condition::all().add(vendor_member::Column::Id.is_in(ids.iter().copied()));
    if !viewer.is_admin() {
        scope = scope.add(
            vendor_member::Column::VendorId.in_subquery(
                sea_orm::sea_query::Query::select()
                    .column(vendor_member::Column::VendorId)
                    .from(vendor_member::Entity)
                    .and_where(vendor_member::Column::UserId.eq(user_id))
                    .to_owned(),
            ),
        );
    }
    member_records(services, scope).await
}

async fn record_of(services: &Services, member_id: i64) -> Result<MemberRecord, AppError> {
    member_records(
        services,
        sea_orm::Condition::all().add(vendor_member::Column::Id.eq(member_id)),
    )
    .await?
    .pop()
    .ok_or(AppError::NotFound)
}

/// Locks the vendor's team for a change that must see a stable owner count. SQLite write
/// transactions already hold the database write lock; PostgreSQL locks the vendor row.
async fn lock_team(txn: &impl ConnectionTrait, vendor_id: i64) -> Result<(), AppError> {
    if txn.get_database_backend() == DbBackend::Postgres {
        vendor::Entity::find_by_id(vendor_id)
            .lock_exclusive()
            .one(txn)
            .await?;
    }
    Ok(())
}

async fn owner_count(txn: &impl ConnectionTrait, vendor_id: i64) -> Result<u64, AppError> {
    Ok(vendor_member::Entity::find()
        .filter(vendor_member::Column::VendorId.eq(vendor_id))
        .filter(vendor_member::Column::Role.eq(VendorRole::Owner))
        .count(txn)
        .await?)
}

/// Only an `OWNER` may grant or touch the `OWNER` role.
fn ensure_may_assign(
    actor_role: VendorRole,
    from: Option<VendorRole>,
    to: Option<VendorRole>,
) -> Result<(), AppError> {
    let touches_owner = from == Some(VendorRole::Owner) || to == Some(VendorRole::Owner);
    if touches_owner && actor_role != VendorRole::Owner {
        return Err(AppError::Forbidden);
    }
    Ok(())
}

/// Adds an existing user, found by e-mail address, to the team.
#[tracing::instrument(skip_all, fields(vendor_id))]
pub async fn add_member(
    services: &Services,
    actor: &Actor,
    vendor_id: i64,
    email: &str,
    role: VendorRole,
) -> Result<MemberRecord, AppError> {
    find(services, vendor_id).await?.ok_or(AppError::NotFound)?;
    let actor_role = ensure_manager(&services.db, actor, vendor_id).await?;
    ensure_may_assign(actor_role, None, Some(role))?;
    let email = email.trim().to_lowercase();
    let Some(user) = user::Entity::find()
        .filter(user::Column::Email.eq(&email))
        .one(&services.db)
        .await?
    else {
        return Err(AppError::invalid(FieldError::new(
            "email",
            FieldErrorCode::NotFound,
            "no account uses this e-mail address; ask them to sign up first",
        )));
    };
    let already = || {
        AppError::invalid(FieldError::new(
            "email",
            FieldErrorCode::AlreadyMember,
            "is already on the team",
        ))
    };
    let txn = db::begin_write(&services.db).await?;
    let member = vendor_member::ActiveModel {
        id: NotSet,
        vendor_id: Set(vendor_id),
        user_id: Set(user.id),
        role: Set(role),
        created_at: Set(crate::service::now()),
    }
    .insert(&txn)
    .await
    .map_err(|e| {
        if db::unique_violation(&e).is_some() {
            already()
        } else {
            e.into()
        }
    })?;
    events::emit(
        &txn,
        actor,
        DomainEvent::VendorMemberAdded {
            vendor_id,
            user_id: user.id,
            role: role.to_value(),
        },
    )
    .await?;
    txn.commit().await?;
    record_of(services, member.id).await
}

async fn find_member(
    services: &Services,
    member_id: i64,
) -> Result<vendor_member::Model, AppError> {
    vendor_member::Entity::find_by_id(member_id)
        .one(&services.db)
        .await?
        .ok_or(AppError::NotFound)
}

/// Members of other teams get `NOT_FOUND` for memberships they cannot see.
async fn member_in_visible_team(
    services: &Services,
    actor: &Actor,
    member_id: i64,
) -> Result<vendor_member::Model, AppError> {
    actor.viewer.require_user()?;
    let member = find_member(services, member_id).await?;
    if role_of(&services.db, &actor.viewer, member.vendor_id)
        .await?
        .is_none()
    {
        return Err(AppError::NotFound);
    }
    Ok(member)
}

#[tracing::instrument(skip_all, fields(member_id))]
pub async fn change_member_role(
    services: &Services,
    actor: &Actor,
    member_id: i64,
    role: VendorRole,
) -> Result<MemberRecord, AppError> {
    let member = member_in_visible_team(services, actor, member_id).await?;
    let actor_role = ensure_manager(&services.db, actor, member.vendor_id).await?;
    ensure_may_assign(actor_role, Some(member.role), Some(role))?;
    let txn = db::begin_write(&services.db).await?;
    lock_team(&txn, member.vendor_id).await?;
    let current = vendor_member::Entity::find_by_id(member_id)
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound)?;
    if current.role == VendorRole::Owner
        && role != VendorRole::Owner
        && owner_count(&txn, current.vendor_id).await? <= 1
    {
        return Err(last_owner());
    }
    let before = current.role;
    let mut active: vendor_member::ActiveModel = current.into();
    active.role = Set(role);
    let updated = active.update(&txn).await?;
    events::emit(
        &txn,
        actor,
        DomainEvent::VendorMemberRoleChanged {
            vendor_id: updated.vendor_id,
            user_id: updated.user_id,
            before: before.to_value(),
            after: updated.role.to_value(),
        },
    )
    .await?;
    txn.commit().await?;
    record_of(services, member_id).await
}

/// Removes a member; any member may remove themselves (leave the team).
#[tracing::instrument(skip_all, fields(member_id))]
pub async fn remove_member(
    services: &Services,
    actor: &Actor,
    member_id: i64,
) -> Result<vendor_member::Model, AppError> {
    let member = member_in_visible_team(services, actor, member_id).await?;
    let leaving = actor.viewer.user_id() == Some(member.user_id);
    if !leaving {
        let actor_role = ensure_manager(&services.db, actor, member.vendor_id).await?;
        ensure_may_assign(actor_role, Some(member.role), None)?;
    }
    let txn = db::begin_write(&services.db).await?;
    lock_team(&txn, member.vendor_id).await?;
    let current = vendor_member::Entity::find_by_id(member_id)
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound)?;
    if current.role == VendorRole::Owner && owner_count(&txn, current.vendor_id).await? <= 1 {
        return Err(last_owner());
    }
    vendor_member::Entity::delete_by_id(member_id)
        .exec(&txn)
        .await?;
    events::emit(
        &txn,
        actor,
        DomainEvent::VendorMemberRemoved {
            vendor_id: current.vendor_id,
            user_id: current.user_id,
            role: current.role.to_value(),
        },
    )
    .await?;
    txn.commit().await?;
    Ok(current)
}

fn last_owner() -> AppError {
    AppError::invalid(FieldError::new(
        "role",
        FieldErrorCode::LastOwner,
        "the vendor must keep at least one owner; make someone else owner first",
    ))
}
