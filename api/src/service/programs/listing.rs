//! Reading programs. Every read starts from a scoped select: `visible_to` for reads by id
//! or slug, `listed_to` for lists. A page is one SQL statement: programs joined with their
//! vendor and category, filtered, ordered by a keyset and cut at `limit + 1`.

use std::collections::HashMap;

use entity::{
    category, code_list, commission_rule,
    commission_rule::CommissionModel,
    program::{self, PartnerType, ProgramStatus, Visibility},
    program_tier, vendor_member,
};
use sea_orm::{
    ColumnTrait, Condition, EntityTrait, JoinType, Order, PaginatorTrait, QueryFilter, QueryOrder,
    QuerySelect, RelationTrait, Select,
    sea_query::{Expr, ExprTrait, IntoCondition, Query},
};

use super::{ProgramRecord, rows};
use crate::{
    auth::Viewer,
    error::AppError,
    service::{
        Services,
        pagination::{Cursor, Direction, Key, Page, PageRequest},
    },
};

/// What a partner narrows a listing by. Within a field the values are alternatives (OR);
/// fields combine with AND.
#[derive(Debug, Clone, Default)]
pub struct ProgramFilter {
    pub categories: Vec<String>,
    pub partner_types: Vec<PartnerType>,
    pub commission_models: Vec<CommissionModel>,
    pub vendor_id: Option<i64>,
    /// Programs serving any of these countries (worldwide programs serve all).
    pub countries: Vec<String>,
    pub currencies: Vec<String>,
    /// `None`: published programs only.
    pub statuses: Option<Vec<ProgramStatus>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProgramOrder {
    /// Most recently published first.
    Newest,
    /// A to Z.
    Name,
    /// Highest percentage rate first.
    BestRate,
    /// Highest flat amount first, compared in US dollars.
    BestFlat,
}

impl ProgramOrder {
    fn tag(self) -> &'static str {
        match self {
            Self::Newest => "NEWEST",
            Self::Name => "NAME",
            Self::BestRate => "BEST_RATE",
            Self::BestFlat => "BEST_FLAT",
        }
    }

    fn column(self) -> program::Column {
        match self {
            Self::Newest => program::Column::ListedAt,
            Self::Name => program::Column::SortName,
            Self::BestRate => program::Column::BestRateBps,
            Self::BestFlat => program::Column::BestFlatUsdCents,
        }
    }

    fn descending(self) -> bool {
        !matches!(self, Self::Name)
    }

    fn key(self, p: &program::Model) -> Key {
        match self {
            Self::Newest => Key::Time(p.listed_at),
            Self::Name => Key::Text(p.sort_name.clone()),
            Self::BestRate => Key::Int(i64::from(p.best_rate_bps)),
            Self::BestFlat => Key::Int(p.best_flat_usd_cents),
        }
    }
}

fn published_public() -> Condition {
    Condition::all()
        .add(program::Column::Status.eq(ProgramStatus::Published))
        .add(program::Column::Visibility.eq(Visibility::Public))
}

fn my_vendors(user_id: i64) -> Condition {
    Condition::all().add(
        program::Column::VendorId.in_subquery(
            Query::select()
                .column(vendor_member::Column::VendorId)
                .from(vendor_member::Entity)
                .and_where(vendor_member::Column::UserId.eq(user_id))
                .to_owned(),
        ),
    )
}

/// Programs the viewer may open by id or slug: published ones (public or invite-only),
/// every program of their own vendors, everything for platform admins.
pub fn visible_to(viewer: &Viewer) -> Condition {
    let published = Condition::all().add(program::Column::Status.eq(ProgramStatus::Published));
    match viewer {
        _ if viewer.is_admin() => Condition::all(),
        Viewer::User(me) => Condition::any().add(published).add(my_vendors(me.user_id)),
        Viewer::ApiKey(key) => Condition::any()
            .add(published)
            .add(program::Column::VendorId.eq(key.vendor_id)),
        Viewer::Anonymous => published,
    }
}

/// Programs the viewer may see in lists: invite-only programs are left out, except for
/// their own vendor's team.
pub fn listed_to(viewer: &Viewer) -> Condition {
    match viewer {
        _ if viewer.is_admin() => Condition::all(),
        Viewer::User(me) => Condition::any()
            .add(published_public())
            .add(my_vendors(me.user_id)),
        Viewer::ApiKey(key) => Condition::any()
            .add(published_public())
            .add(program::Column::VendorId.eq(key.vendor_id)),
        Viewer::Anonymous => published_public(),
    }
}

pub async fn find(
    services: &Services,
    viewer: &Viewer,
    id: i64,
) -> Result<Option<ProgramRecord>, AppError> {
    Ok(find_many(services, viewer, &[id]).await?.pop())
}

pub async fn find_many(
    services: &Services,
    viewer: &Viewer,
    ids: &[i64],
) -> Result<Vec<ProgramRecord>, AppError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let select = program::Entity::find()
        .filter(visible_to(viewer))
        .filter(program::Column::Id.is_in(ids.iter().copied()));
    Ok(rows::programs(select, &services.db).await?)
}

/// Programs by id with no visibility check, for callers who are a party to an object
/// that names the program (an application, an enrollment): a partner keeps seeing the
/// program it applied to after the vendor pauses it.
pub async fn records_by_ids(
    services: &Services,
    ids: &[i64],
) -> Result<Vec<ProgramRecord>, AppError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let select = program::Entity::find().filter(program::Column::Id.is_in(ids.iter().copied()));
    Ok(rows::programs(select, &services.db).await?)
}

/// Published, public programs by id, whoever asks (search hydration). The ids are looked
/// up by primary key alone: a status condition in SQL could lead SQLite's planner to scan
/// the status index instead.
pub async fn find_listed(services: &Services, ids: &[i64]) -> Result<Vec<ProgramRecord>, AppError> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let select = program::Entity::find().filter(program::Column::Id.is_in(ids.iter().copied()));
    Ok(rows::programs(select, &services.db)
        .await?
        .into_iter()
        .filter(|r| {
            r.program.status == ProgramStatus::Published
                && r.program.visibility == Visibility::Public
        })
        .collect())
}

pub async fn find_by_slug(
    services: &Services,
    viewer: &Viewer,
    slug: &str,
) -> Result<Option<ProgramRecord>, AppError> {
    let select = program::Entity::find()
        .filter(visible_to(viewer))
        .filter(program::Column::Slug.eq(slug));
    Ok(rows::programs(select, &services.db).await?.pop())
}

fn filtered(viewer: &Viewer, filter: &ProgramFilter) -> Select<program::Entity> {
    let mut select = program::Entity::find().filter(listed_to(viewer));
    let statuses = filter
        .statuses
        .clone()
        .unwrap_or_else(|| vec![ProgramStatus::Published]);
    // The public listing already says `status = 'PUBLISHED'`; don't say it twice.
    let implied = matches!(viewer, Viewer::Anonymous) && statuses == [ProgramStatus::Published];
    if !implied {
        select = select.filter(program::Column::Status.is_in(statuses));
    }
    if !filter.categories.is_empty() {
        select = select.filter(
            program::Column::CategoryId.in_subquery(
                Query::select()
                    .column(category::Column::Id)
                    .from(category::Entity)
                    .and_where(category::Column::Slug.is_in(filter.categories.iter().cloned()))
                    .to_owned(),
            ),
        );
    }
    if !filter.partner_types.is_empty() {
        let mut any = Condition::any().add(program::Column::PartnerTypes.eq(""));
        for t in &filter.partner_types {
            any = any.add(
                program::Column::PartnerTypes
                    .like(code_list::contains_pattern(code_list::Code::code(*t))),
            );
        }
        select = select.filter(any);
    }
    if !filter.commission_models.is_empty() {
        let mut any = Condition::any();
        for model in &filter.commission_models {
            any = any.add(match model {
                CommissionModel::Percentage => program::Column::HasPercentage.eq(true),
                CommissionModel::Flat => program::Column::HasFlat.eq(true),
            });
        }
        select = select.filter(any);
    }
    if let Some(vendor_id) = filter.vendor_id {
        select = select.filter(program::Column::VendorId.eq(vendor_id));
    }
    if !filter.countries.is_empty() {
        let mut any = Condition::any().add(program::Column::Countries.eq(""));
        for c in &filter.countries {
            any = any.add(
                program::Column::Countries
                    .like(code_list::contains_pattern(&c.to_ascii_uppercase())),
            );
        }
        select = select.filter(any);
    }
    if !filter.currencies.is_empty() {
        let codes: Vec<String> = filter
            .currencies
            .iter()
            .map(|c| c.to_ascii_uppercase())
            .collect();
        select = select.filter(program::Column::Currency.is_in(codes));
    }
    select
}

/// One page of the programs the viewer may list, filtered and ordered.
pub async fn list(
    services: &Services,
    viewer: &Viewer,
    filter: &ProgramFilter,
    order: ProgramOrder,
    page: &PageRequest,
) -> Result<Page<ProgramRecord>, AppError> {
    let window = page.window(order.tag())?;
    let mut select = filtered(viewer, filter);
    // Walking backwards reads the ordering in reverse, then flips the rows.
    let descending = order.descending() == (window.direction == Direction::Forward);
    let key = Expr::col((program::Entity, order.column()));
    let id = Expr::col((program::Entity, program::Column::Id));
    if let Some(cursor) = &window.cursor {
        let value = match &cursor.key {
            Key::Int(v) => Expr::val(*v),
            Key::Text(v) => Expr::val(v.clone()),
            Key::Time(v) => Expr::val(*v),
        };
        let row = Expr::tuple([key.clone(), id.clone()]);
        let at = Expr::tuple([value, Expr::val(cursor.id)]);
        select = select.filter(if descending { row.lt(at) } else { row.gt(at) });
    }
    let direction = if descending { Order::Desc } else { Order::Asc };
    let select = select
        .order_by(key, direction.clone())
        .order_by(id, direction)
        .limit(window.limit + 1);
    let rows = rows::programs(select, &services.db).await?;
    let tag = order.tag().to_owned();
    let rows = rows
        .into_iter()
        .map(|r| {
            (
                Cursor {
                    ordering: tag.clone(),
                    key: order.key(&r.program),
                    id: r.program.id,
                },
                r,
            )
        })
        .collect();
    Ok(Page::from_rows(&window, rows))
}

/// How many programs the listing holds (a separate COUNT, only when asked for).
pub async fn count(
    services: &Services,
    viewer: &Viewer,
    filter: &ProgramFilter,
) -> Result<u64, AppError> {
    Ok(filtered(viewer, filter).count(&services.db).await?)
}

/// Tiers of each program, lowest rank first (one query for all of them).
pub async fn tiers_of(
    services: &Services,
    program_ids: &[i64],
) -> Result<HashMap<i64, Vec<program_tier::Model>>, AppError> {
    let rows = program_tier::Entity::find()
        .filter(program_tier::Column::ProgramId.is_in(program_ids.iter().copied()))
        .order_by_asc(program_tier::Column::Rank)
        .all(&services.db)
        .await?;
    let mut by_program: HashMap<i64, Vec<program_tier::Model>> = HashMap::new();
    for tier in rows {
        by_program.entry(tier.program_id).or_default().push(tier);
    }
    Ok(by_program)
}

/// A commission rule with the tier it is restricted to.
pub type RuleWithTier = (commission_rule::Model, Option<program_tier::Model>);

/// Active commission rules of each program, in their order, each joined with its tier
/// (one query for all of them). The join also names the programs on the tier side, so
/// the planner reaches the tiers by index (`uq_program_tier_rank`) instead of hashing the
/// whole tier table: a cost that would grow with the marketplace, not the page.
pub async fn rules_of(
    services: &Services,
    program_ids: &[i64],
) -> Result<HashMap<i64, Vec<RuleWithTier>>, AppError> {
    let ids: Vec<i64> = program_ids.to_vec();
    let tier_join = commission_rule::Relation::Tier
        .def()
        .on_condition(move |_, tier| {
            Expr::col((tier, program_tier::Column::ProgramId))
                .is_in(ids.clone())
                .into_condition()
        });
    let select = commission_rule::Entity::find()
        .filter(commission_rule::Column::ProgramId.is_in(program_ids.iter().copied()))
        .filter(commission_rule::Column::RetiredAt.is_null())
        .order_by_asc(commission_rule::Column::Position)
        .join(JoinType::LeftJoin, tier_join);
    let rows = rows::rules(select, &services.db).await?;
    let mut by_program: HashMap<i64, Vec<RuleWithTier>> = HashMap::new();
    for rows::RuleRow(rule, tier) in rows {
        by_program
            .entry(rule.program_id)
            .or_default()
            .push((rule, tier));
    }
    Ok(by_program)
}

/// Tiers by id with no visibility check, for objects the caller already sees (the tier
/// of an enrollment).
pub async fn tiers_by_plain_ids(
    services: &Services,
    ids: &[i64],
) -> Result<Vec<program_tier::Model>, AppError> {
    Ok(program_tier::Entity::find()
        .filter(program_tier::Column::Id.is_in(ids.iter().copied()))
        .all(&services.db)
        .await?)
}

/// Tiers by id, with their program's currency, if the viewer may see the program.
pub async fn tiers_by_ids(
    services: &Services,
    viewer: &Viewer,
    ids: &[i64],
) -> Result<Vec<(program_tier::Model, String)>, AppError> {
    let rows = program_tier::Entity::find()
        .filter(program_tier::Column::Id.is_in(ids.iter().copied()))
        .find_also_related(program::Entity)
        .filter(visible_to(viewer))
        .all(&services.db)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(t, p)| p.map(|p| (t, p.currency)))
        .collect())
}

/// Active or retired rules by id, with their program's currency, if the viewer may see
/// the program.
pub async fn rules_by_ids(
    services: &Services,
    viewer: &Viewer,
    ids: &[i64],
) -> Result<Vec<(RuleWithTier, String)>, AppError> {
    let rows = commission_rule::Entity::find()
        .filter(commission_rule::Column::Id.is_in(ids.iter().copied()))
        .find_also_related(program::Entity)
        .find_also_related(program_tier::Entity)
        .filter(visible_to(viewer))
        .all(&services.db)
        .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(r, p, t)| p.map(|p| ((r, t), p.currency)))
        .collect())
}
