//! Program listings: creation, updates, terms (tiers and commission rules) and the
//! lifecycle `DRAFT → PUBLISHED ⇄ PAUSED → ARCHIVED`. Every change checks the version the
//! client last saw and runs in one transaction with its audit event.

mod import;
mod listing;
mod rows;
mod rules;
mod terms;

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};
use entity::{
    category,
    commission_rule::{self, CommissionDuration, CommissionEvent, CommissionModel},
    program::{
        self, ApprovalMode, PartnerType, PayoutMethod, PayoutSchedule, ProgramStatus,
        ReapplyPolicy, Visibility,
    },
    program_tier, vendor,
};
pub use import::{ImportItem, import};
pub use listing::{
    ProgramFilter, ProgramOrder, RuleWithTier, count, find, find_by_slug, find_listed, find_many,
    list, records_by_ids, rules_by_ids, rules_of, tiers_by_ids, tiers_by_plain_ids, tiers_of,
};
use rules::{CheckedListing, CheckedTerms};
use rust_decimal::Decimal;
use sea_orm::{
    ActiveModelTrait,
    ActiveValue::Set,
    ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, NotSet, PaginatorTrait,
    QueryFilter,
    sea_query::{Expr, ExprTrait},
};
pub use terms::summary;

use super::{
    Actor, Services,
    events::{self, DomainEvent, ProgramFacts},
    reference::{categories, currencies, exchange_rates},
    validate::{self, Problems},
    vendors,
};
use crate::{
    db,
    error::{AppError, FieldError, FieldErrorCode},
};

/// A program with what every read shows alongside it.
#[derive(Debug, Clone)]
pub struct ProgramRecord {
    pub program: program::Model,
    pub vendor: vendor::Model,
    pub category: Option<category::Model>,
    /// The program's statistics as stored (none until a change first moved them), read
    /// with the row. What of them a viewer may see is `stats::disclosed`'s call.
    pub stats: Option<entity::program_stats::Model>,
}

/// Everything about a listing except its slug, vendor and terms.
#[derive(Debug, Clone)]
pub struct Listing {
    pub name: String,
    pub tagline: String,
    pub description: String,
    /// Category slug.
    pub category: Option<String>,
    pub website: Option<String>,
    pub partner_types: Vec<PartnerType>,
    pub countries: Vec<String>,
    pub visibility: Visibility,
    pub approval_mode: ApprovalMode,
    pub currency: String,
    pub cookie_window_days: i32,
    pub holding_period_days: i32,
    /// In the program currency.
    pub minimum_payout: Decimal,
    pub payout_schedule: PayoutSchedule,
    pub payout_methods: Vec<PayoutMethod>,
    pub terms_url: Option<String>,
    /// Vendor-declared average monthly revenue per account, program currency.
    pub arpa: Option<Decimal>,
    pub reapply_policy: ReapplyPolicy,
}

#[derive(Debug, Clone)]
pub struct TierSpec {
    /// An existing tier to keep (enrollments stay in it); `None` creates one.
    pub id: Option<i64>,
    pub name: String,
    pub rank: i32,
    pub is_default: bool,
    pub promotion_threshold: Option<Decimal>,
}

#[derive(Debug, Clone)]
pub struct RuleSpec {
    /// Name of a tier in the same terms; `None` applies to every tier.
    pub tier: Option<String>,
    pub event: CommissionEvent,
    pub model: CommissionModel,
    /// Percentage, for `PERCENTAGE` rules.
    pub rate: Option<Decimal>,
    /// Program currency, for `FLAT` rules.
    pub amount: Option<Decimal>,
    pub duration: CommissionDuration,
    pub recurring_months: Option<i32>,
    pub cap_per_customer: Option<Decimal>,
}

#[derive(Debug, Clone, Default)]
pub struct Terms {
    pub tiers: Vec<TierSpec>,
    pub rules: Vec<RuleSpec>,
}

pub struct NewProgram {
    pub vendor_id: i64,
    pub slug: String,
    pub listing: Listing,
    pub terms: Terms,
}

/// Fields to change; `None` keeps the current value, `Some(None)` clears a nullable one.
#[derive(Debug, Clone, Default)]
pub struct ListingPatch {
    pub slug: Option<String>,
    pub name: Option<String>,
    pub tagline: Option<String>,
    pub description: Option<String>,
    pub category: Option<Option<String>>,
    pub website: Option<Option<String>>,
    pub partner_types: Option<Vec<PartnerType>>,
    pub countries: Option<Vec<String>>,
    pub visibility: Option<Visibility>,
    pub approval_mode: Option<ApprovalMode>,
    pub currency: Option<String>,
    pub cookie_window_days: Option<i32>,
    pub holding_period_days: Option<i32>,
    pub minimum_payout: Option<Decimal>,
    pub payout_schedule: Option<PayoutSchedule>,
    pub payout_methods: Option<Vec<PayoutMethod>>,
    pub terms_url: Option<Option<String>>,
    pub arpa: Option<Option<Decimal>>,
    pub reapply_policy: Option<ReapplyPolicy>,
}

/// A lifecycle step.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transition {
    /// `DRAFT` or `PAUSED` → `PUBLISHED`.
    Publish,
    /// `PUBLISHED` → `PAUSED`.
    Pause,
    /// `DRAFT`, `PUBLISHED` or `PAUSED` → `ARCHIVED` (final).
    Archive,
}

impl Transition {
    fn target(self) -> ProgramStatus {
        match self {
            Self::Publish => ProgramStatus::Published,
            Self::Pause => ProgramStatus::Paused,
            Self::Archive => ProgramStatus::Archived,
        }
    }

    fn allowed_from(self, status: ProgramStatus) -> bool {
        use ProgramStatus::*;
        matches!(
            (self, status),
            (Self::Publish, Draft | Paused)
                | (Self::Pause, Published)
                | (Self::Archive, Draft | Published | Paused)
        )
    }

    fn event(self) -> fn(ProgramFacts) -> DomainEvent {
        match self {
            Self::Publish => DomainEvent::ProgramPublished,
            Self::Pause => DomainEvent::ProgramPaused,
            Self::Archive => DomainEvent::ProgramArchived,
        }
    }
}

fn status_name(status: ProgramStatus) -> &'static str {
    match status {
        ProgramStatus::Draft => "DRAFT",
        ProgramStatus::Published => "PUBLISHED",
        ProgramStatus::Paused => "PAUSED",
        ProgramStatus::Archived => "ARCHIVED",
    }
}

fn slug_taken() -> AppError {
    AppError::invalid(FieldError::new(
        "slug",
        FieldErrorCode::Taken,
        "is already used by another program",
    ))
}

/// A unique violation on insert is a taken slug; anything else stays internal.
fn unique_or(e: sea_orm::DbErr) -> AppError {
    if db::unique_violation(&e).is_some() {
        slug_taken()
    } else {
        e.into()
    }
}

async fn category_ids(services: &Services) -> Result<HashMap<String, i64>, AppError> {
    Ok(categories::list(services)
        .await?
        .into_iter()
        .map(|c| (c.slug, c.id))
        .collect())
}

/// The program for a change by the caller: `UNAUTHENTICATED` when anonymous, `NOT_FOUND`
/// when the caller cannot see it (same answer as a missing id), `FORBIDDEN` when they can
/// see it but may not manage it (another vendor's published program, or a `MEMBER`).
async fn for_manager(
    services: &Services,
    actor: &Actor,
    id: i64,
) -> Result<program::Model, AppError> {
    actor.viewer.require_user()?;
    let record = find(services, &actor.viewer, id)
        .await?
        .ok_or(AppError::NotFound)?;
    vendors::ensure_manager(&services.db, actor, record.program.vendor_id).await?;
    Ok(record.program)
}

fn check_version(current: &program::Model, expected: i32) -> Result<(), AppError> {
    if current.version == expected {
        Ok(())
    } else {
        Err(vendors::stale_version())
    }
}

/// Bumps `version` only if it still is `expected`: the write loses a race cleanly.
async fn claim_version(
    txn: &DatabaseTransaction,
    id: i64,
    expected: i32,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let updated = program::Entity::update_many()
        .col_expr(
            program::Column::Version,
            Expr::col(program::Column::Version).add(1),
        )
        .col_expr(program::Column::UpdatedAt, Expr::value(now))
        .filter(program::Column::Id.eq(id))
        .filter(program::Column::Version.eq(expected))
        .exec(txn)
        .await?;
    if updated.rows_affected == 1 {
        Ok(())
    } else {
        Err(vendors::stale_version())
    }
}

fn listing_columns(active: &mut program::ActiveModel, l: &CheckedListing) {
    active.name = Set(l.name.clone());
    active.sort_name = Set(l.name.to_lowercase());
    active.tagline = Set(l.tagline.clone());
    active.description = Set(l.description.clone());
    active.category_id = Set(l.category_id);
    active.website = Set(l.website.clone());
    active.visibility = Set(l.visibility);
    active.approval_mode = Set(l.approval_mode);
    active.partner_types = Set(l.partner_types.clone());
    active.countries = Set(l.countries.clone());
    active.currency = Set(l.currency.clone());
    active.cookie_window_days = Set(l.cookie_window_days);
    active.holding_period_days = Set(l.holding_period_days);
    active.minimum_payout_minor = Set(l.minimum_payout_minor);
    active.payout_schedule = Set(l.payout_schedule);
    active.payout_methods = Set(l.payout_methods.clone());
    active.terms_url = Set(l.terms_url.clone());
    active.arpa_minor = Set(l.arpa_minor);
    active.reapply_policy = Set(l.reapply_policy);
}

/// Replaces the active terms: keeps tiers named by id, creates new ones, deletes the rest,
/// retires every active rule and inserts the new ones; then refreshes the best-rate
/// columns. Runs inside the caller's transaction.
async fn write_terms(
    txn: &DatabaseTransaction,
    program_id: i64,
    currency: &str,
    terms: &CheckedTerms,
    now: DateTime<Utc>,
) -> Result<(), AppError> {
    let kept: HashSet<i64> = terms.tiers.iter().filter_map(|t| t.id).collect();
    program_tier::Entity::delete_many()
        .filter(program_tier::Column::ProgramId.eq(program_id))
        .filter(program_tier::Column::Id.is_not_in(kept.iter().copied()))
        .exec(txn)
        .await?;
    // Clear ranks and the default flag first, so that reordering never trips the unique
    // indexes halfway through.
    for (offset, id) in kept.iter().enumerate() {
        program_tier::Entity::update_many()
            .col_expr(
                program_tier::Column::Rank,
                Expr::value(-1 - i32::try_from(offset).unwrap_or(0)),
            )
            .col_expr(program_tier::Column::IsDefault, Expr::value(false))
            .filter(program_tier::Column::Id.eq(*id))
            .exec(txn)
            .await?;
    }
    let mut tier_ids: HashMap<String, i64> = HashMap::new();
    for tier in &terms.tiers {
        let active = program_tier::ActiveModel {
            id: tier.id.map_or(NotSet, Set),
            program_id: Set(program_id),
            name: Set(tier.name.clone()),
            rank: Set(tier.rank),
            is_default: Set(tier.is_default),
            promotion_threshold_minor: Set(tier.promotion_threshold_minor),
            created_at: if tier.id.is_some() { NotSet } else { Set(now) },
        };
        let saved = if tier.id.is_some() {
            active.update(txn).await?
        } else {
            active.insert(txn).await?
        };
        tier_ids.insert(tier.name.to_lowercase(), saved.id);
    }

    commission_rule::Entity::update_many()
        .col_expr(commission_rule::Column::RetiredAt, Expr::value(now))
        .filter(commission_rule::Column::ProgramId.eq(program_id))
        .filter(commission_rule::Column::RetiredAt.is_null())
        .exec(txn)
        .await?;
    if !terms.rules.is_empty() {
        let rows =
            terms
                .rules
                .iter()
                .enumerate()
                .map(|(position, r)| commission_rule::ActiveModel {
                    id: NotSet,
                    program_id: Set(program_id),
                    tier_id: Set(r
                        .tier
                        .as_ref()
                        .and_then(|name| tier_ids.get(&name.to_lowercase()).copied())),
                    event: Set(r.event),
                    model: Set(r.model),
                    rate_bps: Set(r.rate_bps),
                    flat_amount_minor: Set(r.flat_amount_minor),
                    duration: Set(r.duration),
                    recurring_months: Set(r.recurring_months),
                    cap_per_customer_minor: Set(r.cap_per_customer_minor),
                    position: Set(i32::try_from(position).unwrap_or(i32::MAX)),
                    created_at: Set(now),
                    retired_at: Set(None),
                });
        commission_rule::Entity::insert_many(rows).exec(txn).await?;
    }
    refresh_best_rates(txn, program_id, currency).await
}

/// Recomputes the program's best-rate columns from its active rules.
async fn refresh_best_rates(
    txn: &impl ConnectionTrait,
    program_id: i64,
    currency: &str,
) -> Result<(), AppError> {
    let rules = commission_rule::Entity::find()
        .filter(commission_rule::Column::ProgramId.eq(program_id))
        .filter(commission_rule::Column::RetiredAt.is_null())
        .all(txn)
        .await?;
    let rates = exchange_rates::all(txn).await?;
    let best = terms::best_rates(
        rules
            .iter()
            .map(|r| (r.model, r.rate_bps, r.flat_amount_minor)),
        currency,
        &rates,
    );
    program::Entity::update_many()
        .col_expr(
            program::Column::HasPercentage,
            Expr::value(best.has_percentage),
        )
        .col_expr(program::Column::HasFlat, Expr::value(best.has_flat))
        .col_expr(
            program::Column::BestRateBps,
            Expr::value(best.best_rate_bps),
        )
        .col_expr(
            program::Column::BestFlatMinor,
            Expr::value(best.best_flat_minor),
        )
        .col_expr(
            program::Column::BestFlatUsdCents,
            Expr::value(best.best_flat_usd_cents),
        )
        .filter(program::Column::Id.eq(program_id))
        .exec(txn)
        .await?;
    Ok(())
}

/// Emits the change's event (the audit trail, search, webhooks and subscriptions read
/// it) in the same transaction, commits, and reads the program back as the caller sees
/// it.
async fn finish(
    txn: DatabaseTransaction,
    services: &Services,
    actor: &Actor,
    id: i64,
    event: fn(ProgramFacts) -> DomainEvent,
) -> Result<ProgramRecord, AppError> {
    let changed = program::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound)?;
    events::emit(&txn, actor, event(ProgramFacts::of(&changed))).await?;
    txn.commit().await?;
    find(services, &actor.viewer, id)
        .await?
        .ok_or(AppError::NotFound)
}

/// Creates a `DRAFT` program with its terms for a vendor the caller manages.
#[tracing::instrument(skip_all, fields(vendor_id = input.vendor_id))]
pub async fn create(
    services: &Services,
    actor: &Actor,
    input: NewProgram,
) -> Result<ProgramRecord, AppError> {
    actor.viewer.require_user()?;
    vendors::find(services, input.vendor_id)
        .await?
        .ok_or(AppError::NotFound)?;
    vendors::ensure_manager(&services.db, actor, input.vendor_id).await?;

    let mut problems = Problems::default();
    let slug = problems.check(validate::slug("slug", &input.slug));
    let listing = rules::check_listing(
        &mut problems,
        &input.listing,
        &category_ids(services).await?,
    );
    let currency = listing
        .as_ref()
        .map_or("USD", |l| l.currency.as_str())
        .to_owned();
    let terms = rules::check_terms(&mut problems, &input.terms, &currency, &HashSet::new());
    let (Some(slug), Some(listing), true) = (slug, listing, problems.is_empty()) else {
        return Err(AppError::Invalid(problems.0));
    };
    if program::Entity::find()
        .filter(program::Column::Slug.eq(&slug))
        .count(&services.db)
        .await?
        > 0
    {
        return Err(slug_taken());
    }

    let now = crate::service::now();
    let txn = db::begin_write(&services.db).await?;
    let mut active = program::ActiveModel {
        id: NotSet,
        vendor_id: Set(input.vendor_id),
        slug: Set(slug),
        status: Set(ProgramStatus::Draft),
        terms_version: Set(1),
        has_percentage: Set(false),
        has_flat: Set(false),
        best_rate_bps: Set(0),
        best_flat_minor: Set(0),
        best_flat_usd_cents: Set(0),
        listed_at: Set(now),
        published_at: Set(None),
        version: Set(1),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    };
    listing_columns(&mut active, &listing);
    let created = active.insert(&txn).await.map_err(|e| {
        if db::unique_violation(&e).is_some() {
            slug_taken()
        } else {
            e.into()
        }
    })?;
    write_terms(&txn, created.id, &listing.currency, &terms, now).await?;
    finish(
        txn,
        services,
        actor,
        created.id,
        DomainEvent::ProgramCreated,
    )
    .await
}

fn merge(
    current: &program::Model,
    category_slug: Option<String>,
    patch: ListingPatch,
) -> (Option<String>, Listing) {
    let dec = |minor: i64| currencies::to_decimal(minor, &current.currency);
    let listing = Listing {
        name: patch.name.unwrap_or_else(|| current.name.clone()),
        tagline: patch.tagline.unwrap_or_else(|| current.tagline.clone()),
        description: patch
            .description
            .unwrap_or_else(|| current.description.clone()),
        category: patch.category.unwrap_or(category_slug),
        website: patch.website.unwrap_or_else(|| current.website.clone()),
        partner_types: patch
            .partner_types
            .unwrap_or_else(|| entity::code_list::decode(&current.partner_types)),
        countries: patch.countries.unwrap_or_else(|| {
            entity::code_list::decode_strs(&current.countries)
                .map(str::to_owned)
                .collect()
        }),
        visibility: patch.visibility.unwrap_or(current.visibility),
        approval_mode: patch.approval_mode.unwrap_or(current.approval_mode),
        currency: patch.currency.unwrap_or_else(|| current.currency.clone()),
        cookie_window_days: patch
            .cookie_window_days
            .unwrap_or(current.cookie_window_days),
        holding_period_days: patch
            .holding_period_days
            .unwrap_or(current.holding_period_days),
        minimum_payout: patch
            .minimum_payout
            .unwrap_or_else(|| dec(current.minimum_payout_minor)),
        payout_schedule: patch.payout_schedule.unwrap_or(current.payout_schedule),
        payout_methods: patch
            .payout_methods
            .unwrap_or_else(|| entity::code_list::decode(&current.payout_methods)),
        terms_url: patch.terms_url.unwrap_or_else(|| current.terms_url.clone()),
        arpa: patch.arpa.unwrap_or_else(|| current.arpa_minor.map(dec)),
        reapply_policy: patch.reapply_policy.unwrap_or(current.reapply_policy),
    };
    (patch.slug, listing)
}

/// Whether a change of these payout terms changes what partners agreed to.
fn payout_terms_changed(before: &program::Model, after: &CheckedListing) -> bool {
    before.currency != after.currency
        || before.cookie_window_days != after.cookie_window_days
        || before.holding_period_days != after.holding_period_days
        || before.minimum_payout_minor != after.minimum_payout_minor
        || before.payout_schedule != after.payout_schedule
        || before.payout_methods != after.payout_methods
        || before.terms_url != after.terms_url
}

/// Changes listing fields. The currency can change only before the first publication;
/// stored amounts then keep their value in major units.
#[tracing::instrument(skip_all, fields(program_id = id))]
pub async fn update(
    services: &Services,
    actor: &Actor,
    id: i64,
    expected_version: i32,
    patch: ListingPatch,
) -> Result<ProgramRecord, AppError> {
    let current = for_manager(services, actor, id).await?;
    check_version(&current, expected_version)?;
    let categories = category_ids(services).await?;
    let current_category = categories
        .iter()
        .find(|(_, cid)| Some(**cid) == current.category_id)
        .map(|(s, _)| s.clone());
    let (new_slug, merged) = merge(&current, current_category, patch);

    let mut problems = Problems::default();
    let slug = match &new_slug {
        Some(s) => problems.check(validate::slug("slug", s)),
        None => Some(current.slug.clone()),
    };
    let listing = rules::check_listing(&mut problems, &merged, &categories);
    let currency_changed = listing
        .as_ref()
        .is_some_and(|l| l.currency != current.currency);
    if currency_changed && current.published_at.is_some() {
        problems.push(FieldError::new(
            "currency",
            FieldErrorCode::Invalid,
            "cannot change once the program has been published",
        ));
    }
    let (Some(slug), Some(listing), true) = (slug, listing, problems.is_empty()) else {
        return Err(AppError::Invalid(problems.0));
    };
    if slug != current.slug
        && program::Entity::find()
            .filter(program::Column::Slug.eq(&slug))
            .count(&services.db)
            .await?
            > 0
    {
        return Err(slug_taken());
    }

    let now = crate::service::now();
    let txn = db::begin_write(&services.db).await?;
    claim_version(&txn, id, expected_version, now).await?;
    let currency_changed = listing.currency != current.currency;
    if currency_changed {
        rescale_amounts(&txn, id, &current.currency, &listing.currency).await?;
    }
    let bump = current.published_at.is_some() && payout_terms_changed(&current, &listing);
    let mut active: program::ActiveModel = program::Entity::find_by_id(id)
        .one(&txn)
        .await?
        .ok_or(AppError::NotFound)?
        .into();
    listing_columns(&mut active, &listing);
    active.slug = Set(slug);
    if bump {
        active.terms_version = Set(current.terms_version + 1);
    }
    active.update(&txn).await.map_err(|e| {
        if db::unique_violation(&e).is_some() {
            slug_taken()
        } else {
            e.into()
        }
    })?;
    if currency_changed {
        refresh_best_rates(&txn, id, &listing.currency).await?;
    }
    finish(txn, services, actor, id, DomainEvent::ProgramUpdated).await
}

/// Re-expresses a draft's stored amounts in a new currency, keeping their major-unit
/// value; refuses when one cannot be represented (10.50 USD in JPY).
async fn rescale_amounts(
    txn: &DatabaseTransaction,
    program_id: i64,
    from: &str,
    to: &str,
) -> Result<(), AppError> {
    let unrepresentable = || {
        AppError::invalid(FieldError::new(
            "currency",
            FieldErrorCode::Invalid,
            format!("an amount in the terms cannot be expressed in {to}; change the terms first"),
        ))
    };
    let rescale = |minor: Option<i64>| -> Result<Option<i64>, AppError> {
        minor
            .map(|m| currencies::rescale(m, from, to).ok_or_else(unrepresentable))
            .transpose()
    };
    for tier in program_tier::Entity::find()
        .filter(program_tier::Column::ProgramId.eq(program_id))
        .all(txn)
        .await?
    {
        let threshold = rescale(tier.promotion_threshold_minor)?;
        let mut active: program_tier::ActiveModel = tier.into();
        active.promotion_threshold_minor = Set(threshold);
        active.update(txn).await?;
    }
    let rules = commission_rule::Entity::find()
        .filter(commission_rule::Column::ProgramId.eq(program_id))
        .filter(commission_rule::Column::RetiredAt.is_null())
        .all(txn)
        .await?;
    for rule in rules {
        let (flat, cap) = (
            rescale(rule.flat_amount_minor)?,
            rescale(rule.cap_per_customer_minor)?,
        );
        let mut active: commission_rule::ActiveModel = rule.into();
        active.flat_amount_minor = Set(flat);
        active.cap_per_customer_minor = Set(cap);
        active.update(txn).await?;
    }
    Ok(())
}

/// Replaces the program's tiers and commission rules. On a program that was ever
/// published this is a change of terms: `termsVersion` goes up.
#[tracing::instrument(skip_all, fields(program_id = id))]
pub async fn set_terms(
    services: &Services,
    actor: &Actor,
    id: i64,
    expected_version: i32,
    terms: Terms,
) -> Result<ProgramRecord, AppError> {
    let current = for_manager(services, actor, id).await?;
    check_version(&current, expected_version)?;
    let existing: HashSet<i64> = tiers_of(services, &[id])
        .await?
        .remove(&id)
        .unwrap_or_default()
        .into_iter()
        .map(|t| t.id)
        .collect();
    let mut problems = Problems::default();
    let checked = rules::check_terms(&mut problems, &terms, &current.currency, &existing);
    problems.into_result()?;
    if current.status == ProgramStatus::Published && checked.rules.is_empty() {
        return Err(AppError::invalid(FieldError::new(
            "commissionRules",
            FieldErrorCode::Required,
            "a published program needs at least one commission rule; pause it first to remove them all",
        )));
    }
    let now = crate::service::now();
    let txn = db::begin_write(&services.db).await?;
    claim_version(&txn, id, expected_version, now).await?;
    write_terms(&txn, id, &current.currency, &checked, now).await?;
    if current.published_at.is_some() {
        program::Entity::update_many()
            .col_expr(
                program::Column::TermsVersion,
                Expr::col(program::Column::TermsVersion).add(1),
            )
            .filter(program::Column::Id.eq(id))
            .exec(&txn)
            .await?;
    }
    finish(txn, services, actor, id, DomainEvent::ProgramTermsChanged).await
}

/// Why a program cannot be published yet, one `userError` per missing piece.
async fn publication_problems(
    services: &Services,
    current: &program::Model,
) -> Result<Problems, AppError> {
    let mut problems = Problems::default();
    if current.description.trim().is_empty() {
        problems.push(FieldError::new(
            "description",
            FieldErrorCode::Required,
            "a published program needs a description",
        ));
    }
    if current.category_id.is_none() {
        problems.push(FieldError::new(
            "category",
            FieldErrorCode::Required,
            "a published program needs a category",
        ));
    }
    if rules_of(services, &[current.id])
        .await?
        .get(&current.id)
        .is_none_or(Vec::is_empty)
    {
        problems.push(FieldError::new(
            "commissionRules",
            FieldErrorCode::Required,
            "a published program needs at least one commission rule",
        ));
    }
    Ok(problems)
}

/// Moves the program along its lifecycle.
#[tracing::instrument(skip_all, fields(program_id = id, ?transition))]
pub async fn transition(
    services: &Services,
    actor: &Actor,
    id: i64,
    expected_version: i32,
    transition: Transition,
) -> Result<ProgramRecord, AppError> {
    let current = for_manager(services, actor, id).await?;
    check_version(&current, expected_version)?;
    if !transition.allowed_from(current.status) {
        return Err(AppError::invalid(FieldError::new(
            "status",
            FieldErrorCode::InvalidTransition,
            format!(
                "a {} program cannot become {}",
                status_name(current.status),
                status_name(transition.target())
            ),
        )));
    }
    if transition == Transition::Publish {
        publication_problems(services, &current)
            .await?
            .into_result()?;
    }
    let now = crate::service::now();
    let txn = db::begin_write(&services.db).await?;
    claim_version(&txn, id, expected_version, now).await?;
    let mut update = program::Entity::update_many()
        .col_expr(program::Column::Status, Expr::value(transition.target()))
        .filter(program::Column::Id.eq(id));
    if transition == Transition::Publish && current.published_at.is_none() {
        update = update
            .col_expr(program::Column::PublishedAt, Expr::value(now))
            .col_expr(program::Column::ListedAt, Expr::value(now));
    }
    update.exec(&txn).await?;
    finish(txn, services, actor, id, transition.event()).await
}
