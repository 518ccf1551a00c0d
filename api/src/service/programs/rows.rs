//! Decoding the hot joined selects (a listing page: program + vendor + category +
//! statistics; the rules of a page with their tiers) without sea-orm's joined-model path, which formats
//! `"{prefix}{column}"` into a new string for every column of every row (~11 % of a
//! listing request's CPU when measured). The leading entity is read by its own column
//! names; the joined ones are appended to the select list and read by position.

use entity::{category, commission_rule, program, program_stats, program_tier, vendor};
use sea_orm::{
    ConnectionTrait, DbErr, EntityTrait, FromQueryResult, IdenStatic, Iterable, JoinType,
    QueryResult, QuerySelect, RelationDef, RelationTrait, Select, TryGetable,
};

use super::ProgramRecord;

/// The joined entities' columns, read in select order from `next`.
struct Tail<'a> {
    row: &'a QueryResult,
    next: usize,
}

impl<'a> Tail<'a> {
    fn after<E: EntityTrait>(row: &'a QueryResult) -> Self {
        Self {
            row,
            next: E::Column::iter().count(),
        }
    }

    fn get<T: TryGetable>(&mut self) -> Result<T, DbErr> {
        let value = self.row.try_get_by_index(self.next);
        self.next += 1;
        value
    }

    fn skip(&mut self, columns: usize) {
        self.next += columns;
    }
}

/// Appends every column of `E`, in the order its `Column` enum lists them, aliased with
/// `prefix` (once per statement): by name, the leading entity's columns must be the only
/// `id`, `name`, … of the row — a driver answers a repeated name with the last one.
fn append<E: EntityTrait, S: QuerySelect>(mut select: S, prefix: &str) -> S {
    for column in E::Column::iter() {
        let alias = format!("{prefix}{}", column.as_str());
        select = select.column_as(column, alias);
    }
    select
}

fn vendor(tail: &mut Tail<'_>) -> Result<vendor::Model, DbErr> {
    use vendor::Column as C;
    // The position of each field is its column's position in `vendor::Column`.
    let mut model = vendor::Model {
        id: 0,
        slug: String::new(),
        name: String::new(),
        website: None,
        description: None,
        logo_url: None,
        country: None,
        version: 0,
        created_at: Default::default(),
        updated_at: Default::default(),
    };
    for column in C::iter() {
        match column {
            C::Id => model.id = tail.get()?,
            C::Slug => model.slug = tail.get()?,
            C::Name => model.name = tail.get()?,
            C::Website => model.website = tail.get()?,
            C::Description => model.description = tail.get()?,
            C::LogoUrl => model.logo_url = tail.get()?,
            C::Country => model.country = tail.get()?,
            C::Version => model.version = tail.get()?,
            C::CreatedAt => model.created_at = tail.get()?,
            C::UpdatedAt => model.updated_at = tail.get()?,
        }
    }
    Ok(model)
}

/// A LEFT-joined category: `None` when its id is null.
fn category(tail: &mut Tail<'_>) -> Result<Option<category::Model>, DbErr> {
    use category::Column as C;
    let mut model = category::Model {
        id: 0,
        slug: String::new(),
        name: String::new(),
        position: 0,
    };
    for column in C::iter() {
        match column {
            C::Id => match tail.get::<Option<i64>>()? {
                Some(id) => model.id = id,
                None => {
                    tail.skip(C::iter().count() - 1);
                    return Ok(None);
                }
            },
            C::Slug => model.slug = tail.get()?,
            C::Name => model.name = tail.get()?,
            C::Position => model.position = tail.get()?,
        }
    }
    Ok(Some(model))
}

/// A LEFT-joined tier: `None` when its id is null.
fn tier(tail: &mut Tail<'_>) -> Result<Option<program_tier::Model>, DbErr> {
    use program_tier::Column as C;
    let mut model = program_tier::Model {
        id: 0,
        program_id: 0,
        name: String::new(),
        rank: 0,
        is_default: false,
        promotion_threshold_minor: None,
        created_at: Default::default(),
    };
    for column in C::iter() {
        match column {
            C::Id => match tail.get::<Option<i64>>()? {
                Some(id) => model.id = id,
                None => {
                    tail.skip(C::iter().count() - 1);
                    return Ok(None);
                }
            },
            C::ProgramId => model.program_id = tail.get()?,
            C::Name => model.name = tail.get()?,
            C::Rank => model.rank = tail.get()?,
            C::IsDefault => model.is_default = tail.get()?,
            C::PromotionThresholdMinor => model.promotion_threshold_minor = tail.get()?,
            C::CreatedAt => model.created_at = tail.get()?,
        }
    }
    Ok(Some(model))
}

/// A LEFT-joined statistics row: `None` when the program has none yet.
fn stats(tail: &mut Tail<'_>) -> Result<Option<program_stats::Model>, DbErr> {
    use program_stats::Column as C;
    let mut model = program_stats::Model {
        program_id: 0,
        enrolled_partners: 0,
        activated_partners: 0,
        earning_partners: 0,
        average_monthly_minor: 0,
        median_monthly_minor: 0,
        conversions: 0,
        average_per_conversion_minor: 0,
        decisions: 0,
        approvals: 0,
        median_decision_secs: None,
        median_first_commission_secs: None,
        updated_at: Default::default(),
    };
    for column in C::iter() {
        match column {
            C::ProgramId => match tail.get::<Option<i64>>()? {
                Some(id) => model.program_id = id,
                None => {
                    tail.skip(C::iter().count() - 1);
                    return Ok(None);
                }
            },
            C::EnrolledPartners => model.enrolled_partners = tail.get()?,
            C::ActivatedPartners => model.activated_partners = tail.get()?,
            C::EarningPartners => model.earning_partners = tail.get()?,
            C::AverageMonthlyMinor => model.average_monthly_minor = tail.get()?,
            C::MedianMonthlyMinor => model.median_monthly_minor = tail.get()?,
            C::Conversions => model.conversions = tail.get()?,
            C::AveragePerConversionMinor => model.average_per_conversion_minor = tail.get()?,
            C::Decisions => model.decisions = tail.get()?,
            C::Approvals => model.approvals = tail.get()?,
            C::MedianDecisionSecs => model.median_decision_secs = tail.get()?,
            C::MedianFirstCommissionSecs => model.median_first_commission_secs = tail.get()?,
            C::UpdatedAt => model.updated_at = tail.get()?,
        }
    }
    Ok(Some(model))
}

struct ProgramRow(ProgramRecord);

impl FromQueryResult for ProgramRow {
    fn from_query_result(row: &QueryResult, pre: &str) -> Result<Self, DbErr> {
        let program = program::Model::from_query_result(row, pre)?;
        let mut tail = Tail::after::<program::Entity>(row);
        let vendor = vendor(&mut tail)?;
        let category = category(&mut tail)?;
        let stats = stats(&mut tail)?;
        Ok(Self(ProgramRecord {
            program,
            vendor,
            category,
            stats,
        }))
    }
}

/// The programs `select` finds, each with its vendor, category and statistics, in one
/// statement.
pub async fn programs<C: ConnectionTrait>(
    select: Select<program::Entity>,
    db: &C,
) -> Result<Vec<ProgramRecord>, DbErr> {
    // Statistics are one row per program at most (their primary key is the program's).
    let stats_of_program: RelationDef = program::Entity::belongs_to(program_stats::Entity)
        .from(program::Column::Id)
        .to(program_stats::Column::ProgramId)
        .into();
    let select = select
        .join(JoinType::InnerJoin, program::Relation::Vendor.def())
        .join(JoinType::LeftJoin, program::Relation::Category.def())
        .join(JoinType::LeftJoin, stats_of_program);
    let select = append::<category::Entity, _>(append::<vendor::Entity, _>(select, "v_"), "c_");
    let select = append::<program_stats::Entity, _>(select, "s_");
    Ok(select
        .into_model::<ProgramRow>()
        .all(db)
        .await?
        .into_iter()
        .map(|row| row.0)
        .collect())
}

pub struct RuleRow(pub commission_rule::Model, pub Option<program_tier::Model>);

impl FromQueryResult for RuleRow {
    fn from_query_result(row: &QueryResult, pre: &str) -> Result<Self, DbErr> {
        let rule = commission_rule::Model::from_query_result(row, pre)?;
        let mut tail = Tail::after::<commission_rule::Entity>(row);
        Ok(Self(rule, tier(&mut tail)?))
    }
}

/// The rules `select` finds (already joined with their tiers), each with its tier.
pub async fn rules<C: ConnectionTrait>(
    select: Select<commission_rule::Entity>,
    db: &C,
) -> Result<Vec<RuleRow>, DbErr> {
    append::<program_tier::Entity, _>(select, "t_")
        .into_model::<RuleRow>()
        .all(db)
        .await
}
