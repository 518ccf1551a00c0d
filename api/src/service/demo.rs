//! Writes the `seed` crate's data through the service layer: the demo marketplace
//! (idempotent: what exists is left alone) and generated benchmark programs.

use entity::{
    program,
    program::ProgramStatus,
    user::{self, PlatformRole},
    vendor_member::VendorRole,
};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter};
use seed::spec::{ProgramSpec, VendorSpec};

use super::{
    Actor, Services, accounts, applications, ledger, partners,
    programs::{self, ImportItem, Listing, RuleSpec, Terms, TierSpec, Transition},
    reference,
    vendors::{self, NewVendor, VendorProfile},
};
use crate::{
    auth::{UserViewer, Viewer},
    error::AppError,
};

/// What a load did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Loaded {
    pub users: usize,
    pub vendors: usize,
    pub programs: usize,
}

/// Loads the demo marketplace unless the database already has users (first start of
/// the embedded mode). Returns whether it did.
pub async fn load_if_empty(services: &Services) -> Result<bool, AppError> {
    if user::Entity::find().count(&services.db).await? > 0 {
        return Ok(false);
    }
    load(services).await?;
    Ok(true)
}

/// Creates whatever part of the demo marketplace is missing.
pub async fn load(services: &Services) -> Result<Loaded, AppError> {
    let mut loaded = Loaded::default();
    for demo in seed::DEMO_USERS {
        let role = if demo.admin {
            PlatformRole::Admin
        } else {
            PlatformRole::User
        };
        if ensure_user(services, demo.email, demo.password, demo.display_name, role).await? {
            loaded.users += 1;
        }
    }
    for spec in seed::demo::vendors() {
        if ensure_vendor(services, &spec).await? {
            loaded.vendors += 1;
        }
    }
    let acme = vendors::find_by_slug(services, "acme-analytics")
        .await?
        .ok_or(AppError::NotFound)?;
    let member = user_id(services, "member@example.com").await?;
    let member_viewer = Viewer::User(UserViewer {
        user_id: member,
        role: PlatformRole::User,
    });
    if vendors::role_of(&services.db, &member_viewer, acme.id)
        .await?
        .is_none()
    {
        let owner = actor_for(services, "vendor@example.com").await?;
        vendors::add_member(
            services,
            &owner,
            acme.id,
            "member@example.com",
            VendorRole::Member,
        )
        .await?;
    }
    let vendors_by_slug = seed::demo::vendors()
        .into_iter()
        .map(|v| (v.slug.clone(), v))
        .collect::<std::collections::HashMap<_, _>>();
    for spec in seed::demo::programs() {
        if program::Entity::find()
            .filter(program::Column::Slug.eq(&spec.slug))
            .count(&services.db)
            .await?
            > 0
        {
            continue;
        }
        let owner_email = vendors_by_slug
            .get(&spec.vendor_slug)
            .map_or("owner@example.com", |v| v.owner.as_str());
        create_program(services, &actor_for(services, owner_email).await?, &spec).await?;
        loaded.programs += 1;
    }
    for (slug, form) in seed::demo::application_forms() {
        let Some(program) = program::Entity::find()
            .filter(program::Column::Slug.eq(slug))
            .one(&services.db)
            .await?
        else {
            continue;
        };
        let existing = applications::questions_of(services, &[program.id]).await?;
        if existing.get(&program.id).is_some_and(|q| !q.is_empty()) {
            continue;
        }
        let vendor = vendors::find(services, program.vendor_id)
            .await?
            .ok_or(AppError::NotFound)?;
        let owner_email = vendors_by_slug
            .get(&vendor.slug)
            .map_or("owner@example.com", |v| v.owner.as_str());
        let questions = form
            .into_iter()
            .map(
                |(prompt, kind, options, required)| applications::QuestionSpec {
                    prompt: prompt.to_owned(),
                    kind,
                    options: options.iter().map(|o| (*o).to_owned()).collect(),
                    required,
                },
            )
            .collect();
        let owner = actor_for(services, owner_email).await?;
        applications::set_questions(services, &owner, program.id, questions).await?;
    }
    demo_earnings(services).await?;
    tracing::info!(?loaded, "demo marketplace in place");
    Ok(loaded)
}

/// Demo partners join the demo earning programs and their vendors report the partners'
/// sales, all through the service layer (so through the same rules as real traffic).
/// Idempotent: existing profiles and partnerships are kept.
async fn demo_earnings(services: &Services) -> Result<(), AppError> {
    let mut programs = Vec::new();
    for slug in seed::demo::DEMO_EARNING_PROGRAMS {
        let Some(program) = program::Entity::find()
            .filter(program::Column::Slug.eq(*slug))
            .one(&services.db)
            .await?
        else {
            continue;
        };
        let vendor = vendors::find(services, program.vendor_id)
            .await?
            .ok_or(AppError::NotFound)?;
        let owner_email = seed::demo::vendors()
            .into_iter()
            .find(|v| v.slug == vendor.slug)
            .map_or_else(|| "owner@example.com".to_owned(), |v| v.owner);
        programs.push((program, actor_for(services, &owner_email).await?));
    }
    for (email, slug, name, monthly_cents, customers) in seed::demo::DEMO_PARTNERS {
        ensure_user(
            services,
            email,
            seed::DEMO_PASSWORD,
            name,
            PlatformRole::User,
        )
        .await?;
        let actor = actor_for(services, email).await?;
        if partners::mine(services, &actor.viewer).await?.is_none() {
            let profile = partners::Profile {
                display_name: (*name).to_owned(),
                partner_types: vec![entity::program::PartnerType::Affiliate],
                website: Some(format!("https://{slug}.example.com")),
                audience_description: "B2B SaaS buyers".to_owned(),
                audience_size: Some(5_000),
                countries: vec!["US".to_owned()],
                languages: vec!["en".to_owned()],
                channels: vec![entity::partner::PromotionChannel::Blog],
            };
            partners::create(services, &actor, slug, profile).await?;
        }
        for (program, owner) in &programs {
            let sales = DemoSales {
                partner_slug: slug,
                name,
                monthly_cents: *monthly_cents,
                customers: *customers,
            };
            demo_partnership(services, &actor, program, owner, &sales).await?;
        }
    }
    Ok(())
}

/// One demo partner's sales in one program.
struct DemoSales<'a> {
    partner_slug: &'a str,
    name: &'a str,
    /// Each customer's monthly payment, program currency minor units.
    monthly_cents: i64,
    customers: u32,
}

/// The partner joins `program` (unless already in it) and its vendor reports one sale
/// per customer.
async fn demo_partnership(
    services: &Services,
    partner: &Actor,
    program: &program::Model,
    owner: &Actor,
    sales: &DemoSales<'_>,
) -> Result<(), AppError> {
    use entity::{application::JoinSource, commission_rule::CommissionEvent};
    if applications::viewer_relations(services, &partner.viewer, &[program.id])
        .await?
        .get(&program.id)
        .is_some_and(|relation| relation.enrollment.is_some())
    {
        return Ok(());
    }
    let slug = sales.partner_slug;
    let application = applications::apply(
        services,
        partner,
        applications::NewApplication {
            program_id: program.id,
            answers: Vec::new(),
            pitch: format!("{} reviews tools like yours every week.", sales.name),
            join_source: JoinSource::MarketplaceSearch,
            invitation_code: None,
            idempotency_key: Some(format!("demo-{slug}-{}", program.slug)),
        },
    )
    .await?;
    let Some(enrollment) =
        applications::enrollment_of_applications(services, &partner.viewer, &[application.id])
            .await?
            .remove(&application.id)
    else {
        return Ok(());
    };
    for customer in 0..sales.customers {
        ledger::record(
            services,
            owner,
            ledger::NewConversion {
                referral_code: Some(enrollment.referral_code.clone()),
                enrollment_id: None,
                event: CommissionEvent::Sale,
                customer_ref: format!("demo-{slug}-{customer}"),
                amount: reference::currencies::to_decimal(sales.monthly_cents, &program.currency),
                currency: program.currency.clone(),
                occurred_at: super::now(),
                idempotency_key: format!("demo-{slug}-{}-{customer}", program.slug),
            },
        )
        .await?;
    }
    Ok(())
}

async fn user_id(services: &Services, email: &str) -> Result<i64, AppError> {
    user::Entity::find()
        .filter(user::Column::Email.eq(email))
        .one(&services.db)
        .await?
        .map(|u| u.id)
        .ok_or(AppError::NotFound)
}

async fn actor_for(services: &Services, email: &str) -> Result<Actor, AppError> {
    let user_id = user_id(services, email).await?;
    Ok(Actor::new(
        Viewer::User(UserViewer {
            user_id,
            role: PlatformRole::User,
        }),
        None,
    ))
}

async fn ensure_user(
    services: &Services,
    email: &str,
    password: &str,
    name: &str,
    role: PlatformRole,
) -> Result<bool, AppError> {
    if user::Entity::find()
        .filter(user::Column::Email.eq(email))
        .count(&services.db)
        .await?
        > 0
    {
        return Ok(false);
    }
    let input = accounts::SignUp {
        email: email.to_owned(),
        password: password.to_owned(),
        display_name: name.to_owned(),
    };
    accounts::create_user(services, &Actor::system(), input, role).await?;
    Ok(true)
}

async fn ensure_vendor(services: &Services, spec: &VendorSpec) -> Result<bool, AppError> {
    if vendors::find_by_slug(services, &spec.slug).await?.is_some() {
        return Ok(false);
    }
    let owner = actor_for(services, &spec.owner).await?;
    vendors::create(services, &owner, vendor_input(spec)).await?;
    Ok(true)
}

fn vendor_input(spec: &VendorSpec) -> NewVendor {
    NewVendor {
        slug: spec.slug.clone(),
        profile: VendorProfile {
            name: spec.name.clone(),
            website: Some(spec.website.clone()),
            description: Some(spec.description.clone()),
            logo_url: None,
            country: Some(spec.country.clone()),
        },
    }
}

fn listing(spec: &ProgramSpec) -> Listing {
    Listing {
        name: spec.name.clone(),
        tagline: spec.tagline.clone(),
        description: spec.description.clone(),
        category: Some(spec.category.clone()),
        website: Some(spec.website.clone()),
        partner_types: spec.partner_types.clone(),
        countries: spec.countries.clone(),
        visibility: spec.visibility,
        approval_mode: spec.approval_mode,
        currency: spec.currency.clone(),
        cookie_window_days: spec.cookie_window_days,
        holding_period_days: spec.holding_period_days,
        minimum_payout: spec.minimum_payout,
        payout_schedule: spec.payout_schedule,
        payout_methods: spec.payout_methods.clone(),
        terms_url: spec.terms_url.clone(),
        arpa: spec.arpa,
        reapply_policy: spec.reapply_policy,
    }
}

fn terms(spec: &ProgramSpec) -> Terms {
    Terms {
        tiers: spec
            .tiers
            .iter()
            .map(|t| TierSpec {
                id: None,
                name: t.name.clone(),
                rank: t.rank,
                is_default: t.is_default,
                promotion_threshold: t.promotion_threshold,
            })
            .collect(),
        rules: spec
            .rules
            .iter()
            .map(|r| RuleSpec {
                tier: r.tier.clone(),
                event: r.event,
                model: r.model,
                rate: r.rate,
                amount: r.amount,
                duration: r.duration,
                recurring_months: r.recurring_months,
                cap_per_customer: r.cap_per_customer,
            })
            .collect(),
    }
}

/// Creates the program, then walks it to the status the spec asks for.
async fn create_program(
    services: &Services,
    owner: &Actor,
    spec: &ProgramSpec,
) -> Result<(), AppError> {
    let vendor = vendors::find_by_slug(services, &spec.vendor_slug)
        .await?
        .ok_or(AppError::NotFound)?;
    let new = programs::NewProgram {
        vendor_id: vendor.id,
        slug: spec.slug.clone(),
        listing: listing(spec),
        terms: terms(spec),
    };
    let mut record = programs::create(services, owner, new).await?;
    let steps: &[Transition] = match spec.status {
        ProgramStatus::Draft => &[],
        ProgramStatus::Published => &[Transition::Publish],
        ProgramStatus::Paused => &[Transition::Publish, Transition::Pause],
        ProgramStatus::Archived => &[Transition::Archive],
    };
    for step in steps {
        record = programs::transition(
            services,
            owner,
            record.program.id,
            record.program.version,
            *step,
        )
        .await?;
    }
    Ok(())
}

/// Generates benchmark programs `from..from + count` (and their vendors) in batches,
/// reporting progress after each batch. Programs that exist already are skipped, so an
/// interrupted run can be resumed. Ends with `ANALYZE`: a bulk load leaves the planner
/// without statistics (it guessed 59 published programs out of 100,000).
pub async fn generate(
    services: &Services,
    count: u64,
    batch: usize,
    mut progress: impl FnMut(u64, u64),
) -> Result<u64, AppError> {
    ensure_user(
        services,
        seed::bench::OWNER_EMAIL,
        seed::DEMO_PASSWORD,
        "Bench Owner",
        PlatformRole::User,
    )
    .await?;
    let owner = actor_for(services, seed::bench::OWNER_EMAIL).await?;
    let existing = program::Entity::find()
        .filter(program::Column::Slug.starts_with("bench-"))
        .count(&services.db)
        .await?;
    let mut created = 0;
    let mut next = existing;
    progress(next.min(count), count);
    let mut vendor_ids = std::collections::HashMap::new();
    while next < count {
        let end = (next + u64::try_from(batch.max(1)).unwrap_or(500)).min(count);
        let mut items = Vec::with_capacity(batch);
        for i in next..end {
            let spec = seed::bench::program(i);
            let vendor_number = i / seed::bench::PROGRAMS_PER_VENDOR;
            let vendor_id = match vendor_ids.get(&vendor_number) {
                Some(id) => *id,
                None => {
                    let vendor_spec = seed::bench::vendor(vendor_number);
                    let id = match vendors::find_by_slug(services, &vendor_spec.slug).await? {
                        Some(v) => v.id,
                        None => {
                            vendors::create(services, &owner, vendor_input(&vendor_spec))
                                .await?
                                .id
                        }
                    };
                    vendor_ids.insert(vendor_number, id);
                    id
                }
            };
            items.push(ImportItem {
                vendor_id,
                slug: spec.slug.clone(),
                listing: listing(&spec),
                terms: terms(&spec),
                publish: spec.status == ProgramStatus::Published,
            });
        }
        created +=
            u64::try_from(programs::import(services, &owner, items).await?.len()).unwrap_or(0);
        next = end;
        progress(next, count);
    }
    services.db.execute_unprepared("ANALYZE").await?;
    Ok(created)
}
