//! Creating many programs at once, for seeding and benchmarks: the same rules as
//! [`super::create`] and publication, checked for every item, then multi-row inserts of
//! programs, tiers, rules and their events in one transaction.

use std::collections::{HashMap, HashSet};

use entity::{commission_rule, program, program::ProgramStatus, program_tier};
use sea_orm::{ActiveValue::Set, EntityTrait, NotSet};

use super::{Listing, Terms, category_ids, rules, terms, unique_or};
use crate::{
    db,
    error::{AppError, FieldError, FieldErrorCode},
    service::{
        Actor, Services,
        events::{self, DomainEvent, ProgramFacts},
        reference::exchange_rates,
        validate::{self, Problems},
        vendors,
    },
};

/// Rows per multi-row INSERT: a program row binds ~33 parameters, and SQLite allows 32,766
/// per statement (PostgreSQL 65,535).
const ROWS_PER_INSERT: usize = 400;

/// Splits `rows` into statement-sized chunks.
fn chunks<T>(rows: Vec<T>) -> Vec<Vec<T>> {
    let mut out = Vec::new();
    let mut rows = rows.into_iter().peekable();
    while rows.peek().is_some() {
        out.push(rows.by_ref().take(ROWS_PER_INSERT).collect());
    }
    out
}

pub struct ImportItem {
    pub vendor_id: i64,
    pub slug: String,
    pub listing: Listing,
    pub terms: Terms,
    /// Publish it right away (it must then meet the publication requirements).
    pub publish: bool,
}

/// Creates every item or none. Returns the ids in the order of `items`.
#[tracing::instrument(skip_all, fields(items = items.len()))]
pub async fn import(
    services: &Services,
    actor: &Actor,
    items: Vec<ImportItem>,
) -> Result<Vec<i64>, AppError> {
    let vendor_ids: HashSet<i64> = items.iter().map(|i| i.vendor_id).collect();
    for vendor_id in vendor_ids {
        vendors::ensure_manager(&services.db, actor, vendor_id).await?;
    }
    let categories = category_ids(services).await?;
    let rates = exchange_rates::all(&services.db).await?;

    let mut problems = Problems::default();
    let mut checked = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let mut own = Problems::default();
        let slug = own.check(validate::slug("slug", &item.slug));
        let listing = rules::check_listing(&mut own, &item.listing, &categories);
        let currency = listing
            .as_ref()
            .map_or("USD", |l| l.currency.as_str())
            .to_owned();
        let item_terms = rules::check_terms(&mut own, &item.terms, &currency, &HashSet::new());
        let unpublishable = listing
            .as_ref()
            .is_some_and(|l| l.description.is_empty() || l.category_id.is_none())
            || item_terms.rules.is_empty();
        if item.publish && unpublishable {
            own.push(FieldError::general(
                FieldErrorCode::Required,
                "a published program needs a description, a category and a rule",
            ));
        }
        for mut e in own.0 {
            e.field = Some(format!(
                "items.{i}{}",
                e.field.map(|f| format!(".{f}")).unwrap_or_default()
            ));
            problems.push(e);
        }
        if let (Some(slug), Some(listing)) = (slug, listing) {
            checked.push((item, slug, listing, item_terms));
        }
    }
    problems.into_result()?;

    let now = crate::service::now();
    let programs: Vec<program::ActiveModel> = checked
        .iter()
        .map(|(item, slug, listing, item_terms)| {
            let best = terms::best_rates(
                item_terms
                    .rules
                    .iter()
                    .map(|r| (r.model, r.rate_bps, r.flat_amount_minor)),
                &listing.currency,
                &rates,
            );
            let mut active = program::ActiveModel {
                id: NotSet,
                vendor_id: Set(item.vendor_id),
                slug: Set(slug.clone()),
                status: Set(if item.publish {
                    ProgramStatus::Published
                } else {
                    ProgramStatus::Draft
                }),
                terms_version: Set(1),
                has_percentage: Set(best.has_percentage),
                has_flat: Set(best.has_flat),
                best_rate_bps: Set(best.best_rate_bps),
                best_flat_minor: Set(best.best_flat_minor),
                best_flat_usd_cents: Set(best.best_flat_usd_cents),
                listed_at: Set(now),
                published_at: Set(item.publish.then_some(now)),
                version: Set(1),
                created_at: Set(now),
                updated_at: Set(now),
                ..Default::default()
            };
            super::listing_columns(&mut active, listing);
            active
        })
        .collect();

    let txn = db::begin_write(&services.db).await?;
    let mut inserted = Vec::with_capacity(checked.len());
    for chunk in chunks(programs) {
        inserted.extend(
            program::Entity::insert_many(chunk)
                .exec_with_returning(&txn)
                .await
                .map_err(unique_or)?,
        );
    }
    let ids: HashMap<String, i64> = inserted.iter().map(|p| (p.slug.clone(), p.id)).collect();
    let id_of = |slug: &str| {
        ids.get(slug)
            .copied()
            .ok_or_else(|| AppError::internal(anyhow::anyhow!("{slug} not returned")))
    };

    let mut tiers = Vec::new();
    for (_, slug, _, item_terms) in &checked {
        let program_id = id_of(slug)?;
        tiers.extend(item_terms.tiers.iter().map(|t| program_tier::ActiveModel {
            id: NotSet,
            program_id: Set(program_id),
            name: Set(t.name.clone()),
            rank: Set(t.rank),
            is_default: Set(t.is_default),
            promotion_threshold_minor: Set(t.promotion_threshold_minor),
            created_at: Set(now),
        }));
    }
    let tier_ids: HashMap<(i64, String), i64> = if tiers.is_empty() {
        HashMap::new()
    } else {
        {
            let mut saved = Vec::new();
            for chunk in chunks(tiers) {
                saved.extend(
                    program_tier::Entity::insert_many(chunk)
                        .exec_with_returning(&txn)
                        .await?,
                );
            }
            saved
        }
        .into_iter()
        .map(|t| ((t.program_id, t.name.to_lowercase()), t.id))
        .collect()
    };

    let mut rule_rows = Vec::new();
    for (_, slug, _, item_terms) in &checked {
        let program_id = id_of(slug)?;
        rule_rows.extend(item_terms.rules.iter().enumerate().map(|(position, r)| {
            commission_rule::ActiveModel {
                id: NotSet,
                program_id: Set(program_id),
                tier_id: Set(r
                    .tier
                    .as_ref()
                    .and_then(|name| tier_ids.get(&(program_id, name.to_lowercase())).copied())),
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
            }
        }));
    }
    if !rule_rows.is_empty() {
        for chunk in chunks(rule_rows) {
            commission_rule::Entity::insert_many(chunk)
                .exec_without_returning(&txn)
                .await?;
        }
    }
    // Created, and published where asked: what one create and one publish would emit.
    let emitted = inserted.iter().flat_map(|p| {
        let facts = ProgramFacts::of(p);
        let published = (p.status == ProgramStatus::Published)
            .then(|| DomainEvent::ProgramPublished(facts.clone()));
        std::iter::once(DomainEvent::ProgramCreated(facts)).chain(published)
    });
    events::emit_all(&txn, actor, emitted).await?;
    let created: Vec<i64> = checked
        .iter()
        .map(|(_, slug, _, _)| id_of(slug))
        .collect::<Result<_, _>>()?;
    txn.commit().await?;
    Ok(created)
}
