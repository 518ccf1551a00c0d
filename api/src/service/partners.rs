//! Partner profiles: one per user, reused for every application. A partner sees its own
//! profile; a vendor's team sees the profiles of partners who applied to its programs;
//! platform admins see all; nobody else sees any.

use entity::{
    application, code_list, enrollment, partner,
    partner::PromotionChannel,
    program::{self, PartnerType},
    vendor_member,
};
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, Condition, EntityTrait, NotSet, PaginatorTrait, QueryFilter, Select,
    sea_query::{Expr, ExprTrait, Query},
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

const MAX_AUDIENCE_DESCRIPTION: usize = 2_000;
const MAX_AUDIENCE_SIZE: i64 = 10_000_000_000;
const MAX_LIST: usize = 50;

/// Every field of a profile, as the partner submits it.
#[derive(Debug, Clone, Default)]
pub struct Profile {
    pub display_name: String,
    pub partner_types: Vec<PartnerType>,
    pub website: Option<String>,
    pub audience_description: String,
    pub audience_size: Option<i64>,
    pub countries: Vec<String>,
    pub languages: Vec<String>,
    pub channels: Vec<PromotionChannel>,
}

/// Fields to change; `None` keeps the current value, `Some(None)` clears a nullable one.
#[derive(Debug, Clone, Default)]
pub struct ProfilePatch {
    pub slug: Option<String>,
    pub display_name: Option<String>,
    pub partner_types: Option<Vec<PartnerType>>,
    pub website: Option<Option<String>>,
    pub audience_description: Option<String>,
    pub audience_size: Option<Option<i64>>,
    pub countries: Option<Vec<String>>,
    pub languages: Option<Vec<String>>,
    pub channels: Option<Vec<PromotionChannel>>,
}

struct Checked {
    display_name: String,
    partner_types: String,
    website: Option<String>,
    audience_description: String,
    audience_size: Option<i64>,
    countries: String,
    languages: String,
    channels: String,
}

fn check(problems: &mut Problems, p: &Profile) -> Option<Checked> {
    let display_name = problems.check(validate::text("displayName", &p.display_name, 1, 100));
    let website = problems.check(validate::optional_url("website", p.website.as_deref()));
    let audience_description = problems.check(validate::text(
        "audienceDescription",
        &p.audience_description,
        0,
        MAX_AUDIENCE_DESCRIPTION,
    ));
    if p.partner_types.is_empty() {
        problems.push(FieldError::new(
            "partnerTypes",
            FieldErrorCode::Required,
            "name at least one kind of partnership you offer",
        ));
    }
    if let Some(size) = p.audience_size
        && !(0..=MAX_AUDIENCE_SIZE).contains(&size)
    {
        problems.push(FieldError::new(
            "audienceSize",
            FieldErrorCode::OutOfRange,
            format!("must be between 0 and {MAX_AUDIENCE_SIZE}"),
        ));
    }
    let mut countries = Vec::new();
    for (i, c) in p.countries.iter().enumerate() {
        if let Some(code) = problems.check(validate::country(&format!("countries.{i}"), c)) {
            countries.push(code);
        }
    }
    let mut languages = Vec::new();
    for (i, l) in p.languages.iter().enumerate() {
        let code = l.trim().to_ascii_lowercase();
        if code.len() == 2 && code.bytes().all(|b| b.is_ascii_lowercase()) {
            languages.push(code);
        } else {
            problems.push(FieldError::new(
                &format!("languages.{i}"),
                FieldErrorCode::Invalid,
                "must be an ISO 639-1 code such as `en` or `de`",
            ));
        }
    }
    for (field, len) in [
        ("countries", countries.len()),
        ("languages", languages.len()),
    ] {
        if len > MAX_LIST {
            problems.push(FieldError::new(
                field,
                FieldErrorCode::TooLong,
                format!("at most {MAX_LIST} entries"),
            ));
        }
    }
    countries.sort();
    countries.dedup();
    languages.sort();
    languages.dedup();
    let strs =
        |v: &[String]| code_list::encode_strs(&v.iter().map(String::as_str).collect::<Vec<_>>());
    Some(Checked {
        display_name: display_name?,
        partner_types: code_list::encode(&p.partner_types),
        website: website?,
        audience_description: audience_description?,
        audience_size: p.audience_size,
        countries: strs(&countries),
        languages: strs(&languages),
        channels: code_list::encode(&p.channels),
    })
}

fn slug_taken() -> AppError {
    AppError::invalid(FieldError::new(
        "slug",
        FieldErrorCode::Taken,
        "is already used by another partner",
    ))
}

fn apply(active: &mut partner::ActiveModel, c: Checked) {
    active.display_name = Set(c.display_name);
    active.partner_types = Set(c.partner_types);
    active.website = Set(c.website);
    active.audience_description = Set(c.audience_description);
    active.audience_size = Set(c.audience_size);
    active.countries = Set(c.countries);
    active.languages = Set(c.languages);
    active.channels = Set(c.channels);
}

/// The caller's profile, if they made one.
pub async fn mine(
    services: &Services,
    viewer: &Viewer,
) -> Result<Option<partner::Model>, AppError> {
    let Some(user_id) = viewer.user_id() else {
        return Ok(None);
    };
    Ok(partner::Entity::find()
        .filter(partner::Column::UserId.eq(user_id))
        .one(&services.db)
        .await?)
}

/// The caller's profile, or a user error on `field` saying one is needed first.
pub async fn require_mine(
    services: &Services,
    actor: &Actor,
    field: &str,
) -> Result<partner::Model, AppError> {
    actor.viewer.require_user()?;
    mine(services, &actor.viewer).await?.ok_or_else(|| {
        AppError::invalid(FieldError::new(
            field,
            FieldErrorCode::Required,
            "create your partner profile first (createPartnerProfile)",
        ))
    })
}

/// Creates the caller's profile (one per user).
#[tracing::instrument(skip_all)]
pub async fn create(
    services: &Services,
    actor: &Actor,
    slug: &str,
    profile: Profile,
) -> Result<partner::Model, AppError> {
    let me = actor.viewer.require_user()?.user_id;
    let mut problems = Problems::default();
    let slug = problems.check(validate::slug("slug", slug));
    let checked = check(&mut problems, &profile);
    let (Some(slug), Some(checked), true) = (slug, checked, problems.is_empty()) else {
        return Err(AppError::Invalid(problems.0));
    };
    if mine(services, &actor.viewer).await?.is_some() {
        return Err(AppError::invalid(FieldError::general(
            FieldErrorCode::Duplicate,
            "you already have a partner profile; update it instead",
        )));
    }
    if partner::Entity::find()
        .filter(partner::Column::Slug.eq(&slug))
        .count(&services.db)
        .await?
        > 0
    {
        return Err(slug_taken());
    }
    let now = super::now();
    let txn = db::begin_write(&services.db).await?;
    let mut active = partner::ActiveModel {
        id: NotSet,
        user_id: Set(me),
        slug: Set(slug),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    };
    apply(&mut active, checked);
    let created = active
        .insert(&txn)
        .await
        .map_err(|e| match db::unique_violation(&e) {
            Some(what) if what.contains("user_id") => AppError::invalid(FieldError::general(
                FieldErrorCode::Duplicate,
                "you already have a partner profile; update it instead",
            )),
            Some(_) => slug_taken(),
            None => e.into(),
        })?;
    events::emit(
        &txn,
        actor,
        DomainEvent::PartnerCreated {
            partner_id: created.id,
        },
    )
    .await?;
    txn.commit().await?;
    Ok(created)
}

/// Changes the caller's own profile.
#[tracing::instrument(skip_all)]
pub async fn update(
    services: &Services,
    actor: &Actor,
    expected_version: i32,
    patch: ProfilePatch,
) -> Result<partner::Model, AppError> {
    actor.viewer.require_user()?;
    let current = mine(services, &actor.viewer)
        .await?
        .ok_or(AppError::NotFound)?;
    if current.version != expected_version {
        return Err(super::vendors::stale_version());
    }
    let strs = |s: &str| {
        code_list::decode_strs(s)
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    let merged = Profile {
        display_name: patch
            .display_name
            .unwrap_or_else(|| current.display_name.clone()),
        partner_types: patch
            .partner_types
            .unwrap_or_else(|| code_list::decode(&current.partner_types)),
        website: patch.website.unwrap_or_else(|| current.website.clone()),
        audience_description: patch
            .audience_description
            .unwrap_or_else(|| current.audience_description.clone()),
        audience_size: patch.audience_size.unwrap_or(current.audience_size),
        countries: patch.countries.unwrap_or_else(|| strs(&current.countries)),
        languages: patch.languages.unwrap_or_else(|| strs(&current.languages)),
        channels: patch
            .channels
            .unwrap_or_else(|| code_list::decode(&current.channels)),
    };
    let mut problems = Problems::default();
    let slug = match &patch.slug {
        Some(s) => problems.check(validate::slug("slug", s)),
        None => Some(current.slug.clone()),
    };
    let checked = check(&mut problems, &merged);
    let (Some(slug), Some(checked), true) = (slug, checked, problems.is_empty()) else {
        return Err(AppError::Invalid(problems.0));
    };
    if slug != current.slug
        && partner::Entity::find()
            .filter(partner::Column::Slug.eq(&slug))
            .count(&services.db)
            .await?
            > 0
    {
        return Err(slug_taken());
    }
    let txn = db::begin_write(&services.db).await?;
    let claimed = partner::Entity::update_many()
        .col_expr(
            partner::Column::Version,
            Expr::col(partner::Column::Version).add(1),
        )
        .filter(partner::Column::Id.eq(current.id))
        .filter(partner::Column::Version.eq(expected_version))
        .exec(&txn)
        .await?;
    if claimed.rows_affected != 1 {
        return Err(super::vendors::stale_version());
    }
    let mut active: partner::ActiveModel = partner::Entity::find_by_id(current.id)
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound)?
        .into();
    active.slug = Set(slug);
    active.updated_at = Set(super::now());
    apply(&mut active, checked);
    let updated = active.update(&txn).await.map_err(|e| {
        if db::unique_violation(&e).is_some() {
            slug_taken()
        } else {
            e.into()
        }
    })?;
    events::emit(
        &txn,
        actor,
        DomainEvent::PartnerUpdated {
            partner_id: updated.id,
        },
    )
    .await?;
    txn.commit().await?;
    Ok(updated)
}

/// Profiles the viewer may see: their own, those of applicants to their vendors'
/// programs (partnerships imply an application), all for platform admins; a vendor's
/// API key by its scopes.
pub fn visible_to(viewer: &Viewer) -> Select<partner::Entity> {
    let select = partner::Entity::find();
    match viewer {
        _ if viewer.is_admin() => select,
        Viewer::User(me) => select.filter(
            Condition::any()
                .add(partner::Column::UserId.eq(me.user_id))
                .add(
                    partner::Column::Id.in_subquery(
                        Query::select()
                            .column((application::Entity, application::Column::PartnerId))
                            .from(application::Entity)
                            .inner_join(
                                program::Entity,
                                Expr::col((program::Entity, program::Column::Id))
                                    .equals((application::Entity, application::Column::ProgramId)),
                            )
                            .inner_join(
                                vendor_member::Entity,
                                Expr::col((vendor_member::Entity, vendor_member::Column::VendorId))
                                    .equals((program::Entity, program::Column::VendorId)),
                            )
                            .and_where(
                                Expr::col((vendor_member::Entity, vendor_member::Column::UserId))
                                    .eq(me.user_id),
                            )
                            .to_owned(),
                    ),
                ),
        ),
        Viewer::ApiKey(key) => {
            use entity::api_key::ApiScope;
            // A vendor's back end sees the partners its scopes reach: applicants with
            // `applications:read`, enrolled partners with `enrollments:read`.
            let mut reach = Condition::any();
            if key.allows(ApiScope::ApplicationsRead) {
                reach = reach.add(partner::Column::Id.in_subquery(partners_of(
                    application::Entity,
                    application::Column::ProgramId,
                    application::Column::PartnerId,
                    key.vendor_id,
                )));
            }
            if key.allows(ApiScope::EnrollmentsRead) {
                reach = reach.add(partner::Column::Id.in_subquery(partners_of(
                    enrollment::Entity,
                    enrollment::Column::ProgramId,
                    enrollment::Column::PartnerId,
                    key.vendor_id,
                )));
            }
            if reach.is_empty() {
                reach = reach.add(Expr::value(false));
            }
            select.filter(reach)
        }
        Viewer::Anonymous => select.filter(Expr::value(false)),
    }
}

/// Partner ids of rows of `table` (applications, enrollments) in `vendor_id`'s programs.
fn partners_of<T: EntityTrait, C: ColumnTrait>(
    table: T,
    program_id: C,
    partner_id: C,
    vendor_id: i64,
) -> sea_orm::sea_query::SelectStatement {
    Query::select()
        .column((table, partner_id))
        .from(table)
        .inner_join(
            program::Entity,
            Expr::col((program::Entity, program::Column::Id)).equals((table, program_id)),
        )
        .and_where(Expr::col((program::Entity, program::Column::VendorId)).eq(vendor_id))
        .to_owned()
}

pub async fn find_many(
    services: &Services,
    viewer: &Viewer,
    ids: &[i64],
) -> Result<Vec<partner::Model>, AppError> {
    Ok(visible_to(viewer)
        .filter(partner::Column::Id.is_in(ids.iter().copied()))
        .all(&services.db)
        .await?)
}

pub async fn find_by_slug(
    services: &Services,
    slug: &str,
) -> Result<Option<partner::Model>, AppError> {
    Ok(partner::Entity::find()
        .filter(partner::Column::Slug.eq(slug))
        .one(&services.db)
        .await?)
}
