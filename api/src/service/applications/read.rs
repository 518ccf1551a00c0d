//! Reading applications, enrollments and invitations. Every read starts from a scoped
//! condition: the partner's own rows, the rows of the programs of the viewer's vendors,
//! or everything for platform admins.

use std::collections::HashMap;

use entity::{
    api_key::ApiScope,
    application::{self, ApplicationStatus},
    application_event,
    enrollment::{self, EnrollmentStatus},
    invitation, partner, program, vendor_member,
};
use sea_orm::{
    ColumnTrait, Condition, EntityTrait, ExprTrait, JoinType, QueryFilter, QueryOrder, QuerySelect,
    RelationDef,
    sea_query::{Expr, Query, SelectStatement},
};

use crate::{
    auth::Viewer,
    error::AppError,
    service::{
        Services,
        pagination::{self, Page, PageRequest},
        partners, vendors,
    },
};

/// Narrowing of an application list; empty means every status.
#[derive(Debug, Clone, Default)]
pub struct ApplicationFilter {
    pub statuses: Vec<ApplicationStatus>,
}

fn my_partner(user_id: i64) -> SelectStatement {
    Query::select()
        .column(partner::Column::Id)
        .from(partner::Entity)
        .and_where(partner::Column::UserId.eq(user_id))
        .to_owned()
}

/// The program of the outer query's row (its `program_id` column), to narrow further.
fn rows_program<C: ColumnTrait>(program_id: C) -> SelectStatement {
    Query::select()
        .expr(Expr::val(1))
        .from(program::Entity)
        .and_where(
            Expr::col((program::Entity, program::Column::Id))
                .equals((program_id.entity_name(), program_id)),
        )
        .to_owned()
}

/// The row's program belongs to one of the user's vendors, checked for that row: an
/// `IN (programs of my vendors)` set would hash a whole catalogue per statement, which
/// for a team on many vendors cost more than the rest of the request.
fn on_my_vendors<C: ColumnTrait>(user_id: i64, program_id: C) -> Expr {
    Expr::exists(
        rows_program(program_id)
            .inner_join(
                vendor_member::Entity,
                Expr::col((vendor_member::Entity, vendor_member::Column::VendorId))
                    .equals((program::Entity, program::Column::VendorId)),
            )
            .and_where(
                Expr::col((vendor_member::Entity, vendor_member::Column::UserId)).eq(user_id),
            )
            .to_owned(),
    )
}

/// The row's program is the vendor's, checked for that row.
fn on_vendor<C: ColumnTrait>(vendor_id: i64, program_id: C) -> Expr {
    Expr::exists(
        rows_program(program_id)
            .and_where(Expr::col((program::Entity, program::Column::VendorId)).eq(vendor_id))
            .to_owned(),
    )
}

/// Rows of a table with `program_id` and `partner_id` the viewer may see; an API key
/// sees its vendor's rows when it holds `scope`.
pub(crate) fn scoped<C: ColumnTrait>(
    viewer: &Viewer,
    program_id: C,
    partner_id: C,
    scope: ApiScope,
) -> Condition {
    match viewer {
        _ if viewer.is_admin() => Condition::all(),
        Viewer::User(me) => Condition::any()
            .add(partner_id.in_subquery(my_partner(me.user_id)))
            .add(on_my_vendors(me.user_id, program_id)),
        Viewer::ApiKey(key) if key.allows(scope) => {
            Condition::all().add(on_vendor(key.vendor_id, program_id))
        }
        Viewer::Anonymous | Viewer::ApiKey(_) => Condition::all().add(Expr::value(false)),
    }
}

/// Rows of `E` with these ids that pass `visible`: one query, none for no ids.
pub(crate) async fn visible_by_ids<E: EntityTrait>(
    services: &Services,
    visible: Condition,
    id: E::Column,
    ids: &[i64],
) -> Result<Vec<E::Model>, AppError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    Ok(E::find()
        .filter(visible)
        .filter(id.is_in(ids.iter().copied()))
        .all(&services.db)
        .await?)
}

fn applications_visible_to(viewer: &Viewer) -> Condition {
    scoped(
        viewer,
        application::Column::ProgramId,
        application::Column::PartnerId,
        ApiScope::ApplicationsRead,
    )
}

fn enrollments_visible_to(viewer: &Viewer) -> Condition {
    scoped(
        viewer,
        enrollment::Column::ProgramId,
        enrollment::Column::PartnerId,
        ApiScope::EnrollmentsRead,
    )
}

pub async fn applications_by_ids(
    services: &Services,
    viewer: &Viewer,
    ids: &[i64],
) -> Result<Vec<application::Model>, AppError> {
    visible_by_ids::<application::Entity>(
        services,
        applications_visible_to(viewer),
        application::Column::Id,
        ids,
    )
    .await
}

/// The application, or `NOT_FOUND` when it is missing or not the viewer's to see.
pub(super) async fn application_for(
    services: &Services,
    viewer: &Viewer,
    id: i64,
) -> Result<application::Model, AppError> {
    applications_by_ids(services, viewer, &[id])
        .await?
        .pop()
        .ok_or(AppError::NotFound)
}

pub async fn enrollments_by_ids(
    services: &Services,
    viewer: &Viewer,
    ids: &[i64],
) -> Result<Vec<enrollment::Model>, AppError> {
    visible_by_ids::<enrollment::Entity>(
        services,
        enrollments_visible_to(viewer),
        enrollment::Column::Id,
        ids,
    )
    .await
}

pub(super) async fn enrollment_for(
    services: &Services,
    viewer: &Viewer,
    id: i64,
) -> Result<enrollment::Model, AppError> {
    enrollments_by_ids(services, viewer, &[id])
        .await?
        .pop()
        .ok_or(AppError::NotFound)
}

/// Invitations are visible to the inviting vendor's team, the invited partner and
/// platform admins.
pub async fn invitations_by_ids(
    services: &Services,
    viewer: &Viewer,
    ids: &[i64],
) -> Result<Vec<invitation::Model>, AppError> {
    let condition = match viewer {
        _ if viewer.is_admin() => Condition::all(),
        Viewer::User(me) => Condition::any()
            .add(on_my_vendors(me.user_id, invitation::Column::ProgramId))
            .add(invitation::Column::PartnerId.in_subquery(my_partner(me.user_id))),
        Viewer::Anonymous | Viewer::ApiKey(_) => Condition::all().add(Expr::value(false)),
    };
    visible_by_ids::<invitation::Entity>(services, condition, invitation::Column::Id, ids).await
}

/// The program, if the viewer is on its vendor's team (or a platform admin, or the
/// vendor's API key holding `scope`); otherwise `NOT_FOUND`, the answer for a missing
/// program.
async fn require_team(
    services: &Services,
    viewer: &Viewer,
    program_id: i64,
    scope: ApiScope,
) -> Result<(), AppError> {
    let program = crate::service::programs::records_by_ids(services, &[program_id])
        .await?
        .pop();
    if let Viewer::ApiKey(key) = viewer {
        return match program {
            Some(p) if p.program.vendor_id == key.vendor_id && key.allows(scope) => Ok(()),
            Some(p) if p.program.vendor_id == key.vendor_id => Err(AppError::Forbidden),
            _ => Err(AppError::NotFound),
        };
    }
    viewer.require_user()?;
    let program = program.ok_or(AppError::NotFound)?;
    if viewer.is_admin()
        || vendors::role_of(&services.db, viewer, program.program.vendor_id)
            .await?
            .is_some()
    {
        Ok(())
    } else {
        Err(AppError::NotFound)
    }
}

/// The caller's applications, newest first.
pub async fn my_applications(
    services: &Services,
    viewer: &Viewer,
    filter: &ApplicationFilter,
    page: &PageRequest,
) -> Result<Page<application::Model>, AppError> {
    viewer.require_user()?;
    let partner_id = partners::mine(services, viewer).await?.map_or(0, |p| p.id);
    let mut select =
        application::Entity::find().filter(application::Column::PartnerId.eq(partner_id));
    if !filter.statuses.is_empty() {
        select = select.filter(application::Column::Status.is_in(filter.statuses.clone()));
    }
    pagination::by_time(
        &services.db,
        select,
        application::Column::CreatedAt,
        application::Column::Id,
        "MY_APPLICATIONS",
        false,
        page,
        |a| (a.created_at, a.id),
    )
    .await
}

/// A program's applications as a review queue, oldest first (vendor team only).
pub async fn program_applications(
    services: &Services,
    viewer: &Viewer,
    program_id: i64,
    filter: &ApplicationFilter,
    page: &PageRequest,
) -> Result<Page<application::Model>, AppError> {
    require_team(services, viewer, program_id, ApiScope::ApplicationsRead).await?;
    let mut select =
        application::Entity::find().filter(application::Column::ProgramId.eq(program_id));
    if !filter.statuses.is_empty() {
        select = select.filter(application::Column::Status.is_in(filter.statuses.clone()));
    }
    pagination::by_time(
        &services.db,
        select,
        application::Column::CreatedAt,
        application::Column::Id,
        "QUEUE",
        true,
        page,
        |a| (a.created_at, a.id),
    )
    .await
}

/// The caller's partnerships, most recently joined first.
pub async fn my_enrollments(
    services: &Services,
    viewer: &Viewer,
    statuses: &[EnrollmentStatus],
    page: &PageRequest,
) -> Result<Page<enrollment::Model>, AppError> {
    viewer.require_user()?;
    let partner_id = partners::mine(services, viewer).await?.map_or(0, |p| p.id);
    let mut select =
        enrollment::Entity::find().filter(enrollment::Column::PartnerId.eq(partner_id));
    if !statuses.is_empty() {
        select = select.filter(enrollment::Column::Status.is_in(statuses.to_vec()));
    }
    pagination::by_time(
        &services.db,
        select,
        enrollment::Column::JoinedAt,
        enrollment::Column::Id,
        "MY_ENROLLMENTS",
        false,
        page,
        |e| (e.joined_at, e.id),
    )
    .await
}

/// A program's partners, most recently joined first (vendor team only).
pub async fn program_enrollments(
    services: &Services,
    viewer: &Viewer,
    program_id: i64,
    statuses: &[EnrollmentStatus],
    page: &PageRequest,
) -> Result<Page<enrollment::Model>, AppError> {
    require_team(services, viewer, program_id, ApiScope::EnrollmentsRead).await?;
    let mut select =
        enrollment::Entity::find().filter(enrollment::Column::ProgramId.eq(program_id));
    if !statuses.is_empty() {
        select = select.filter(enrollment::Column::Status.is_in(statuses.to_vec()));
    }
    pagination::by_time(
        &services.db,
        select,
        enrollment::Column::JoinedAt,
        enrollment::Column::Id,
        "ENROLLMENTS",
        false,
        page,
        |e| (e.joined_at, e.id),
    )
    .await
}

/// A program's invitations, newest first (vendor team only).
pub async fn invitations_of(
    services: &Services,
    viewer: &Viewer,
    program_id: i64,
    page: &PageRequest,
) -> Result<Page<invitation::Model>, AppError> {
    if matches!(viewer, Viewer::ApiKey(_)) {
        return Err(AppError::Forbidden);
    }
    require_team(services, viewer, program_id, ApiScope::ApplicationsRead).await?;
    pagination::by_time(
        &services.db,
        invitation::Entity::find().filter(invitation::Column::ProgramId.eq(program_id)),
        invitation::Column::CreatedAt,
        invitation::Column::Id,
        "INVITATIONS",
        false,
        page,
        |i| (i.created_at, i.id),
    )
    .await
}

/// The viewer's own relation with a program: their latest application and latest
/// partnership (what a listing shows as "applied" or "joined").
#[derive(Debug, Clone, Default)]
pub struct ViewerRelation {
    pub application: Option<application::Model>,
    pub enrollment: Option<enrollment::Model>,
}

/// For each program, the viewer's latest application and latest partnership, in one
/// statement: every partnership was made from an application of the same partner and
/// program (`enrollment.application_id`), so the viewer's applications joined with the
/// partnerships they led to hold both. The partner is found inside the statement too.
pub async fn viewer_relations(
    services: &Services,
    viewer: &Viewer,
    program_ids: &[i64],
) -> Result<HashMap<i64, ViewerRelation>, AppError> {
    let Some(user_id) = viewer.user_id() else {
        return Ok(HashMap::new());
    };
    let led_to: RelationDef = application::Entity::belongs_to(enrollment::Entity)
        .from(application::Column::Id)
        .to(enrollment::Column::ApplicationId)
        .into();
    let rows = application::Entity::find()
        .filter(application::Column::PartnerId.in_subquery(my_partner(user_id)))
        .filter(application::Column::ProgramId.is_in(program_ids.iter().copied()))
        .select_also(enrollment::Entity)
        .join(JoinType::LeftJoin, led_to)
        .order_by_asc(application::Column::CreatedAt)
        .order_by_asc(application::Column::Id)
        .all(&services.db)
        .await?;
    let mut relations: HashMap<i64, ViewerRelation> = HashMap::new();
    for (application, enrollment) in rows {
        let relation = relations.entry(application.program_id).or_default();
        if let Some(e) = enrollment
            && relation
                .enrollment
                .as_ref()
                .is_none_or(|latest| (latest.joined_at, latest.id) < (e.joined_at, e.id))
        {
            relation.enrollment = Some(e);
        }
        // Oldest first: the newest application is the last one kept.
        relation.application = Some(application);
    }
    Ok(relations)
}

/// The enrollment each application led to, if the viewer may see enrollments (an API
/// key with `applications:read` alone sees the application, not the partnership).
pub async fn enrollment_of_applications(
    services: &Services,
    viewer: &Viewer,
    application_ids: &[i64],
) -> Result<HashMap<i64, enrollment::Model>, AppError> {
    Ok(enrollment::Entity::find()
        .filter(enrollments_visible_to(viewer))
        .filter(enrollment::Column::ApplicationId.is_in(application_ids.iter().copied()))
        .all(&services.db)
        .await?
        .into_iter()
        .map(|e| (e.application_id, e))
        .collect())
}

/// The funnel events of applications, oldest first. Unchecked: the caller has read the
/// applications through a scoped query.
pub async fn application_events(
    services: &Services,
    application_ids: &[i64],
) -> Result<HashMap<i64, Vec<application_event::Model>>, AppError> {
    let mut by_application: HashMap<i64, Vec<application_event::Model>> = HashMap::new();
    for e in application_event::Entity::find()
        .filter(application_event::Column::ApplicationId.is_in(application_ids.iter().copied()))
        .order_by_asc(application_event::Column::Id)
        .all(&services.db)
        .await?
    {
        by_application.entry(e.application_id).or_default().push(e);
    }
    Ok(by_application)
}

/// Programs the viewer has a live application to or a running partnership with (what
/// `excludeMine` hides from search).
pub async fn live_program_ids(services: &Services, viewer: &Viewer) -> Result<Vec<i64>, AppError> {
    let Some(partner) = partners::mine(services, viewer).await? else {
        return Ok(Vec::new());
    };
    let mut ids: Vec<i64> = application::Entity::find()
        .select_only()
        .column(application::Column::ProgramId)
        .filter(application::Column::PartnerId.eq(partner.id))
        .filter(application::Column::Live.eq(true))
        .into_tuple()
        .all(&services.db)
        .await?;
    ids.extend(
        enrollment::Entity::find()
            .select_only()
            .column(enrollment::Column::ProgramId)
            .filter(enrollment::Column::PartnerId.eq(partner.id))
            .filter(enrollment::Column::Live.eq(true))
            .into_tuple::<i64>()
            .all(&services.db)
            .await?,
    );
    ids.sort_unstable();
    ids.dedup();
    Ok(ids)
}
