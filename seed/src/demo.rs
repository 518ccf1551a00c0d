//! The demo marketplace shown by the README's run command: 42 fictional SaaS vendors
//! across every category, five programs each with varied terms.

use entity::{
    commission_rule::{CommissionDuration::*, CommissionEvent::*},
    program::{
        ApprovalMode, PartnerType, PayoutMethod, PayoutSchedule, ProgramStatus, ReapplyPolicy,
        Visibility,
    },
};
use rust_decimal::Decimal;

use crate::{
    rng::Rng,
    spec::{ProgramSpec, RuleSpec, TierSpec, VendorSpec},
};

/// An account created on first start in development mode.
#[derive(Debug, Clone, Copy)]
pub struct DemoUser {
    pub email: &'static str,
    pub password: &'static str,
    pub display_name: &'static str,
    /// Platform operator (`ADMIN`) rather than a plain user.
    pub admin: bool,
    /// What to tell people the account is for.
    pub role: &'static str,
}

/// Shared password of every demo account; shown in the README. Development only.
pub const DEMO_PASSWORD: &str = "demo-password-2026";

pub const DEMO_USERS: &[DemoUser] = &[
    DemoUser {
        email: "admin@example.com",
        password: DEMO_PASSWORD,
        display_name: "Ops Admin",
        admin: true,
        role: "platform admin",
    },
    DemoUser {
        email: "vendor@example.com",
        password: DEMO_PASSWORD,
        display_name: "Vera Vendor",
        admin: false,
        role: "owner of Acme Analytics, Pipeline CRM and Mailwise",
    },
    DemoUser {
        email: "member@example.com",
        password: DEMO_PASSWORD,
        display_name: "Max Member",
        admin: false,
        role: "MEMBER of Acme Analytics (reads drafts)",
    },
    DemoUser {
        email: "owner@example.com",
        password: DEMO_PASSWORD,
        display_name: "Olga Owner",
        admin: false,
        role: "owner of the other 39 vendors",
    },
    DemoUser {
        email: "partner@example.com",
        password: DEMO_PASSWORD,
        display_name: "Pat Partner",
        admin: false,
        role: "a partner with no team",
    },
];

/// (slug, name, category, country, currency, what it does)
const VENDORS: &[(&str, &str, &str, &str, &str, &str)] = &[
    (
        "acme-analytics",
        "Acme Analytics",
        "analytics",
        "US",
        "USD",
        "product analytics for B2B SaaS teams",
    ),
    (
        "pipeline-crm",
        "Pipeline CRM",
        "crm",
        "US",
        "USD",
        "a CRM built around the sales pipeline",
    ),
    (
        "mailwise",
        "Mailwise",
        "marketing-automation",
        "IE",
        "EUR",
        "e-mail marketing automation for growing brands",
    ),
    (
        "shopforge",
        "ShopForge",
        "e-commerce",
        "CA",
        "CAD",
        "headless storefronts for D2C brands",
    ),
    (
        "sentinel-shield",
        "Sentinel Shield",
        "security",
        "US",
        "USD",
        "endpoint security for remote teams",
    ),
    (
        "hireloop",
        "HireLoop",
        "hr",
        "GB",
        "GBP",
        "an applicant tracking system for scale-ups",
    ),
    (
        "ledgerleaf",
        "LedgerLeaf",
        "finance",
        "DE",
        "EUR",
        "bookkeeping and invoicing for freelancers",
    ),
    (
        "devharbor",
        "DevHarbor",
        "developer-tools",
        "US",
        "USD",
        "preview environments for every pull request",
    ),
    (
        "pixelcraft",
        "Pixelcraft",
        "design",
        "FR",
        "EUR",
        "collaborative design for product teams",
    ),
    (
        "chatterbox",
        "ChatterBox",
        "communication",
        "US",
        "USD",
        "team chat with built-in video",
    ),
    (
        "tasktide",
        "TaskTide",
        "productivity",
        "NL",
        "EUR",
        "project management that plans itself",
    ),
    (
        "cortex-ai",
        "Cortex AI",
        "ai",
        "US",
        "USD",
        "AI agents for customer operations",
    ),
    (
        "helphive",
        "HelpHive",
        "customer-support",
        "AU",
        "AUD",
        "a help desk with AI triage",
    ),
    (
        "dealdesk",
        "DealDesk",
        "sales",
        "US",
        "USD",
        "quotes, proposals and e-signatures",
    ),
    (
        "streamstack",
        "StreamStack",
        "data-infrastructure",
        "US",
        "USD",
        "real-time data pipelines as a service",
    ),
    (
        "learnloft",
        "LearnLoft",
        "education",
        "GB",
        "GBP",
        "online course platform for creators",
    ),
    (
        "metricly",
        "Metricly",
        "analytics",
        "SE",
        "SEK",
        "KPI dashboards for finance teams",
    ),
    (
        "relato",
        "Relato CRM",
        "crm",
        "ES",
        "EUR",
        "a CRM for Spanish and LatAm SMBs",
    ),
    (
        "campaign-kite",
        "Campaign Kite",
        "marketing-automation",
        "US",
        "USD",
        "multichannel campaigns without code",
    ),
    (
        "cartcloud",
        "CartCloud",
        "e-commerce",
        "US",
        "USD",
        "checkout and subscriptions for online shops",
    ),
    (
        "vaultkey",
        "VaultKey",
        "security",
        "CH",
        "CHF",
        "password management for businesses",
    ),
    (
        "peoplepulse",
        "PeoplePulse",
        "hr",
        "US",
        "USD",
        "employee engagement surveys",
    ),
    (
        "invoiceiq",
        "InvoiceIQ",
        "finance",
        "GB",
        "GBP",
        "accounts-payable automation",
    ),
    (
        "buildbeam",
        "BuildBeam",
        "developer-tools",
        "DE",
        "EUR",
        "CI pipelines that finish in minutes",
    ),
    (
        "frameflow",
        "FrameFlow",
        "design",
        "US",
        "USD",
        "video editing in the browser",
    ),
    (
        "meetmesh",
        "MeetMesh",
        "communication",
        "JP",
        "JPY",
        "meeting scheduling for distributed teams",
    ),
    (
        "focusflow",
        "FocusFlow",
        "productivity",
        "US",
        "USD",
        "time tracking and focus analytics",
    ),
    (
        "promptpilot",
        "PromptPilot",
        "ai",
        "US",
        "USD",
        "an LLM ops platform for product teams",
    ),
    (
        "tickettrail",
        "TicketTrail",
        "customer-support",
        "US",
        "USD",
        "a shared inbox for support teams",
    ),
    (
        "quotaquest",
        "QuotaQuest",
        "sales",
        "US",
        "USD",
        "sales gamification and commissions",
    ),
    (
        "lakeline",
        "LakeLine",
        "data-infrastructure",
        "NL",
        "EUR",
        "a managed lakehouse for analytics",
    ),
    (
        "skillsprout",
        "SkillSprout",
        "education",
        "IN",
        "INR",
        "skills training for enterprise teams",
    ),
    (
        "trendtrack",
        "TrendTrack",
        "analytics",
        "US",
        "USD",
        "social listening and trend analytics",
    ),
    (
        "socialspark",
        "SocialSpark",
        "marketing-automation",
        "BR",
        "BRL",
        "social media scheduling for agencies",
    ),
    (
        "payperch",
        "PayPerch",
        "finance",
        "SG",
        "SGD",
        "cross-border payments for SMBs",
    ),
    (
        "securesign",
        "SecureSign",
        "security",
        "US",
        "USD",
        "e-signatures with audit trails",
    ),
    (
        "rosterrocket",
        "RosterRocket",
        "hr",
        "CA",
        "CAD",
        "shift scheduling for hourly teams",
    ),
    (
        "api-atlas",
        "API Atlas",
        "developer-tools",
        "US",
        "USD",
        "API documentation and testing",
    ),
    (
        "brandboard",
        "BrandBoard",
        "design",
        "DK",
        "DKK",
        "brand asset management",
    ),
    (
        "notenest",
        "NoteNest",
        "productivity",
        "NZ",
        "NZD",
        "a knowledge base for teams",
    ),
    (
        "visionverse",
        "VisionVerse",
        "ai",
        "US",
        "USD",
        "computer vision APIs",
    ),
    (
        "callcraft",
        "CallCraft",
        "communication",
        "MX",
        "MXN",
        "cloud phone systems for sales teams",
    ),
];

/// Monthly revenue per account the demo vendors declare, in US dollars.
const ARPAS: [i64; 6] = [49, 79, 99, 149, 299, 499];

/// Rough value of one US dollar in each demo currency, so amounts look local.
fn scale(currency: &str) -> i64 {
    match currency {
        "SEK" | "NOK" | "DKK" => 10,
        "JPY" => 150,
        "INR" => 80,
        "BRL" => 5,
        "MXN" => 18,
        _ => 1,
    }
}

fn region(country: &str) -> Vec<String> {
    let codes: &[&str] = match country {
        "US" | "CA" => &["US", "CA"],
        "GB" | "IE" => &["GB", "IE", "US", "CA", "AU"],
        "DE" | "FR" | "NL" | "ES" | "SE" | "DK" | "CH" => {
            &["DE", "FR", "NL", "ES", "IT", "AT", "BE", "SE", "DK", "CH"]
        }
        "JP" => &["JP", "KR", "SG"],
        "IN" | "SG" => &["IN", "SG", "MY", "ID", "PH"],
        "BR" | "MX" => &["BR", "MX", "AR", "CO", "CL"],
        _ => &["AU", "NZ"],
    };
    codes.iter().map(|c| (*c).to_owned()).collect()
}

pub fn vendors() -> Vec<VendorSpec> {
    VENDORS
        .iter()
        .enumerate()
        .map(|(i, (slug, name, _, country, _, what))| VendorSpec {
            slug: (*slug).to_owned(),
            name: (*name).to_owned(),
            website: format!("https://{slug}.example.com"),
            description: format!("{name} makes {what}."),
            country: (*country).to_owned(),
            owner: if i < 3 {
                "vendor@example.com"
            } else {
                "owner@example.com"
            }
            .to_owned(),
        })
        .collect()
}

fn description(name: &str, what: &str, audience: &str, perks: &[&str]) -> String {
    let mut text = format!(
        "{name} makes {what}. We partner with {audience} who want to offer their audience a product \
         that sells itself.\n\n## What you get\n"
    );
    for perk in perks {
        text.push_str(&format!("- {perk}\n"));
    }
    text.push_str("\n## How it works\n1. Apply with a few words about your audience.\n2. Get your referral link and assets.\n3. Earn on every customer you bring.\n");
    text
}

/// Every demo program, five per vendor, with a deterministic mix of terms and statuses.
/// Demo partners with earnings: each joins the `DEMO_EARNING_PROGRAMS` (automatic
/// approval) and brings sales, so their listings show measured earnings from the first
/// start.
/// (e-mail, slug, display name, monthly revenue of each customer in cents, customers)
pub const DEMO_PARTNERS: &[(&str, &str, &str, i64, u32)] = &[
    (
        "ada@partners.example.com",
        "ada-writes",
        "Ada Writes",
        9_900,
        3,
    ),
    (
        "ben@partners.example.com",
        "ben-builds",
        "Ben Builds",
        24_900,
        2,
    ),
    (
        "cleo@partners.example.com",
        "cleo-casts",
        "Cleo Casts",
        4_900,
        5,
    ),
    (
        "dev@partners.example.com",
        "dev-digest",
        "Dev Digest",
        9_900,
        1,
    ),
    (
        "eli@partners.example.com",
        "eli-explains",
        "Eli Explains",
        49_900,
        1,
    ),
    (
        "fay@partners.example.com",
        "fay-funnels",
        "Fay Funnels",
        14_900,
        4,
    ),
];

/// The programs the demo partners earn in: one priced in US dollars, one in euros, so
/// sorting by earnings compares currencies from the first start.
pub const DEMO_EARNING_PROGRAMS: &[&str] = &["acme-analytics-affiliates", "lakeline-affiliates"];

/// One question of a demo application form: (prompt, kind, options, required).
pub type QuestionSpec = (
    &'static str,
    entity::application_question::QuestionKind,
    &'static [&'static str],
    bool,
);

/// Application forms of demo programs, by program slug. The README's walk-through
/// applies to `acme-analytics-resellers` (manual review) with these answers.
pub fn application_forms() -> Vec<(&'static str, Vec<QuestionSpec>)> {
    use entity::application_question::QuestionKind::*;
    vec![
        (
            "acme-analytics-resellers",
            vec![
                ("Which markets do you sell into?", ShortText, &[], true),
                ("Your company website", Url, &[], false),
                (
                    "Typical customer size",
                    SingleSelect,
                    &["1-50 employees", "51-500 employees", "500+ employees"],
                    true,
                ),
            ],
        ),
        (
            "pipeline-crm-agencies",
            vec![
                (
                    "How many CRM projects did you deliver last year?",
                    ShortText,
                    &[],
                    true,
                ),
                (
                    "Services you offer",
                    MultiSelect,
                    &[
                        "Implementation",
                        "Training",
                        "Custom development",
                        "Support",
                    ],
                    true,
                ),
            ],
        ),
    ]
}

pub fn programs() -> Vec<ProgramSpec> {
    let mut rng = Rng::new(2026);
    let mut all = Vec::new();
    for (v, (slug, name, category, country, currency, what)) in VENDORS.iter().enumerate() {
        let k = |n: i64| n * scale(currency);
        let countries = if v % 2 == 0 {
            Vec::new()
        } else {
            region(country)
        };
        let base = |kind: &str, title: &str, tagline: String| ProgramSpec {
            vendor_slug: (*slug).to_owned(),
            slug: format!("{slug}-{kind}"),
            name: format!("{name} {title}"),
            tagline,
            description: String::new(),
            category: (*category).to_owned(),
            website: format!("https://{slug}.example.com/partners"),
            partner_types: Vec::new(),
            countries: countries.clone(),
            visibility: Visibility::Public,
            approval_mode: ApprovalMode::Manual,
            currency: (*currency).to_owned(),
            cookie_window_days: 30,
            holding_period_days: 30,
            minimum_payout: Decimal::from(k(50)),
            payout_schedule: PayoutSchedule::Monthly,
            payout_methods: vec![PayoutMethod::Paypal, PayoutMethod::BankTransfer],
            terms_url: Some(format!("https://{slug}.example.com/partner-terms")),
            arpa: Some(Decimal::from(k(ARPAS[v % ARPAS.len()]))),
            reapply_policy: ReapplyPolicy::After30Days,
            tiers: Vec::new(),
            rules: Vec::new(),
            status: ProgramStatus::Published,
        };

        // 1. Affiliates: recurring or lifetime revenue share on sales.
        let rate = *rng.pick(&[15, 20, 25, 30, 35, 40]);
        let (duration, months) = *rng.pick(&[
            (Recurring, Some(6)),
            (Recurring, Some(12)),
            (Recurring, Some(24)),
            (Lifetime, None),
        ]);
        let mut affiliate = base(
            "affiliates",
            "Affiliate Program",
            format!("Earn {rate}% on every customer you refer"),
        );
        affiliate.partner_types = vec![PartnerType::Affiliate, PartnerType::Influencer];
        affiliate.approval_mode = if rng.chance(50) {
            ApprovalMode::Automatic
        } else {
            ApprovalMode::Manual
        };
        affiliate.cookie_window_days = *rng.pick(&[30, 60, 90, 120]);
        affiliate.holding_period_days = *rng.pick(&[14, 30, 45]);
        affiliate.payout_methods.push(PayoutMethod::Wise);
        affiliate.rules = vec![RuleSpec::percentage(Sale, rate, duration, months)];
        affiliate.description = description(
            name,
            what,
            "bloggers, YouTubers and newsletter writers",
            &[
                "Commission on every sale",
                "Ready-made banners and copy",
                "Real-time click and conversion reports",
            ],
        );

        // 2. Referrals: flat amounts per sign-up and per qualified lead.
        let signup = *rng.pick(&[10, 20, 25]);
        let lead = *rng.pick(&[50, 75, 100]);
        let mut referral = base(
            "referrals",
            "Referral Program",
            format!("Get {} for every qualified lead", k(lead)),
        );
        referral.partner_types = vec![PartnerType::Referral];
        referral.approval_mode = ApprovalMode::Automatic;
        referral.cookie_window_days = *rng.pick(&[30, 45]);
        referral.minimum_payout = Decimal::from(k(25));
        referral.payout_schedule = PayoutSchedule::Biweekly;
        referral.reapply_policy = ReapplyPolicy::Instant;
        referral.rules = vec![
            RuleSpec::flat(Signup, k(signup)),
            RuleSpec::flat(Lead, k(lead)),
        ];
        referral.description = description(
            name,
            what,
            "customers and consultants",
            &[
                "A fixed bounty per lead",
                "Fast bi-weekly payouts",
                "No minimum traffic",
            ],
        );

        // 3. Resellers: tiered lifetime revenue share, capped per customer at the entry tier.
        let entry = *rng.pick(&[15, 20, 25]);
        let mut reseller = base(
            "resellers",
            "Reseller Program",
            format!("Resell {name} with up to {}% lifetime margin", entry + 10),
        );
        reseller.partner_types = vec![PartnerType::Reseller, PartnerType::Agency];
        reseller.holding_period_days = 60;
        reseller.minimum_payout = Decimal::from(k(100));
        reseller.payout_schedule = PayoutSchedule::Quarterly;
        reseller.payout_methods = vec![PayoutMethod::BankTransfer, PayoutMethod::AccountCredit];
        reseller.reapply_policy = ReapplyPolicy::Never;
        reseller.tiers = vec![
            TierSpec::new("Silver", 0, None),
            TierSpec::new("Gold", 1, Some(k(25_000))),
            TierSpec::new("Platinum", 2, Some(k(100_000))),
        ];
        reseller.rules = vec![
            RuleSpec::percentage(Sale, entry, Lifetime, None)
                .for_tier("Silver")
                .capped(k(2_000)),
            RuleSpec::percentage(Sale, entry + 5, Lifetime, None).for_tier("Gold"),
            RuleSpec::percentage(Sale, entry + 10, Lifetime, None).for_tier("Platinum"),
        ];
        reseller.description = description(
            name,
            what,
            "resellers and managed service providers",
            &[
                "Lifetime margin on every account",
                "Tiers that grow with your book",
                "Partner portal and deal registration",
            ],
        );

        // 4. Agencies: a bounty per lead for everyone, revenue share for premier agencies.
        let bounty = *rng.pick(&[100, 150, 250]);
        let mut agency = base(
            "agencies",
            "Agency Partners",
            format!("{} per lead, more for Premier agencies", k(bounty)),
        );
        agency.partner_types = vec![PartnerType::Agency, PartnerType::Referral];
        agency.approval_mode = ApprovalMode::RuleBased;
        agency.cookie_window_days = 90;
        agency.holding_period_days = 45;
        agency.tiers = vec![
            TierSpec::new("Partner", 0, None),
            TierSpec::new("Premier", 1, Some(k(50_000))),
        ];
        agency.rules = vec![
            RuleSpec::flat(Lead, k(bounty)),
            RuleSpec::percentage(Sale, 15, Recurring, Some(12)).for_tier("Premier"),
        ];
        agency.description = description(
            name,
            what,
            "digital agencies and consultancies",
            &[
                "Co-marketing and case studies",
                "Dedicated partner manager",
                "Certification for your team",
            ],
        );

        // 5. Technology partners: a flat fee per sale, invite-only for some vendors.
        let fee = *rng.pick(&[200, 300, 500]);
        let mut technology = base(
            "technology",
            "Technology Partners",
            format!("Build an integration, earn {} per sale", k(fee)),
        );
        technology.partner_types = vec![PartnerType::Technology];
        technology.visibility = if v % 3 == 0 {
            Visibility::InviteOnly
        } else {
            Visibility::Public
        };
        technology.cookie_window_days = 180;
        technology.holding_period_days = 30;
        technology.payout_methods = vec![PayoutMethod::StripeConnect, PayoutMethod::BankTransfer];
        technology.rules = vec![RuleSpec::flat(Sale, k(fee))];
        technology.description = description(
            name,
            what,
            "software vendors with a complementary product",
            &[
                "Listing in our integrations marketplace",
                "Sandbox accounts and API support",
                "Joint launches",
            ],
        );

        for (i, mut program) in [affiliate, referral, reseller, agency, technology]
            .into_iter()
            .enumerate()
        {
            let n = v * 5 + i;
            program.status = if n % 9 == 4 {
                ProgramStatus::Draft
            } else if n % 13 == 6 {
                ProgramStatus::Paused
            } else {
                ProgramStatus::Published
            };
            all.push(program);
        }
    }
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_marketplace_is_large_varied_and_deterministic() {
        let programs = programs();
        assert!(vendors().len() >= 40);
        assert!(programs.len() >= 200);
        assert_eq!(programs.len(), super::programs().len());
        assert_eq!(
            format!("{:?}", programs[17]),
            format!("{:?}", super::programs()[17])
        );
        let categories: std::collections::HashSet<_> =
            programs.iter().map(|p| p.category.as_str()).collect();
        assert!(categories.len() >= 12);
        let currencies: std::collections::HashSet<_> =
            programs.iter().map(|p| p.currency.as_str()).collect();
        assert!(currencies.len() >= 8);
        assert!(programs.iter().any(|p| p.status == ProgramStatus::Draft));
        assert!(programs.iter().any(|p| p.status == ProgramStatus::Paused));
        assert!(
            programs
                .iter()
                .any(|p| p.visibility == Visibility::InviteOnly)
        );
        let slugs: std::collections::HashSet<_> =
            programs.iter().map(|p| p.slug.as_str()).collect();
        assert_eq!(slugs.len(), programs.len());
    }
}
