//! Ranking cases, rule by rule, as Meilisearch 1.50 ranks: each a query over 2–5
//! documents of its own (one vendor per case, filtered on, so the cases share an index)
//! and the order Meilisearch's rules give them. Documents are numbered in publication
//! order: on a full tie the higher number (newer) comes first.
//!
//! Rules, in order: typo (an n-gram of n words costs n; a split word 1), proximity
//! (per pair of words adjacent in the query: 0 in order and adjacent, reversed +1, 3 at
//! most — also for different attributes), attribute rank (name, tagline, vendor,
//! category, description), word position (the smallest in any attribute, bucketed,
//! against the word's place in the query), exact attribute (equal to the query, starts
//! with it, other), exact words, then newest.

use api::search::{ProgramDocument, SearchFilter, SearchRequest, document::WITHHELD};

/// The searchable texts of one document.
#[derive(Default, Clone)]
struct Texts {
    name: &'static str,
    tagline: &'static str,
    vendor: &'static str,
    category: &'static str,
    description: &'static str,
}

fn name(name: &'static str) -> Texts {
    Texts {
        name,
        ..Texts::default()
    }
}

fn tagline(tagline: &'static str) -> Texts {
    Texts {
        tagline,
        ..Texts::default()
    }
}

fn description(description: &'static str) -> Texts {
    Texts {
        description,
        ..Texts::default()
    }
}

impl Texts {
    fn tagline(self, tagline: &'static str) -> Self {
        Self { tagline, ..self }
    }

    fn description(self, description: &'static str) -> Self {
        Self {
            description,
            ..self
        }
    }

    fn category(self, category: &'static str) -> Self {
        Self { category, ..self }
    }

    fn vendor(self, vendor: &'static str) -> Self {
        Self { vendor, ..self }
    }
}

struct Case {
    name: &'static str,
    query: &'static str,
    /// Document 1, 2, … (published in this order).
    docs: Vec<Texts>,
    /// The documents found, best first.
    expected: Vec<i64>,
}

fn case(name: &'static str, query: &'static str, docs: Vec<Texts>, expected: &[i64]) -> Case {
    Case {
        name,
        query,
        docs,
        expected: expected.to_vec(),
    }
}

/// Vendors of the ranking cases start here (the main fixture's are 1–3).
const VENDORS: i64 = 1_000;

fn id(case: usize, doc: i64) -> i64 {
    10_000 + i64::try_from(case).unwrap() * 10 + doc
}

#[allow(clippy::too_many_lines)]
fn cases() -> Vec<Case> {
    vec![
        // Word position: the smallest position in any attribute.
        case(
            "position in any attribute: a category at position 0 ties a name at 0; the equal category wins",
            "analytics",
            vec![
                name("Analytics Academy"),
                name("Acme Analytics").category("Analytics"),
            ],
            &[2, 1],
        ),
        case(
            "position in any attribute: a tagline at 0 ties the name at 0, newest first",
            "ledger",
            vec![
                name("Ledger Pro"),
                name("Open Ledger").tagline("Ledger tools"),
            ],
            &[2, 1],
        ),
        case(
            "earlier in the name ranks first",
            "billing",
            vec![
                name("Smart Billing"),
                name("Billing Hub"),
                name("The Best Recurring Billing"),
            ],
            &[2, 1, 3],
        ),
        case(
            "positions 16 to 23 all count as 24; 15 stays 15",
            "zephyr",
            vec![
                description("a b c d e f g h i j k l m n o zephyr"),
                description("a b c d e f g h i j k l m n o p zephyr"),
                description("a b c d e f g h i j k l m n o p q r s t u v w zephyr"),
            ],
            &[1, 3, 2],
        ),
        case(
            "each word against its place in the query",
            "crm sync",
            vec![name("CRM Sync Tool"), name("Acme CRM Sync")],
            &[1, 2],
        ),
        case(
            "the second word at its own place costs nothing",
            "payroll software",
            vec![
                description("payroll software for all"),
                description("the payroll software"),
            ],
            &[1, 2],
        ),
        // Typo: fewer first, and later rules see only the typo bucket's matches.
        case(
            "a typo-free match in the description beats a typo in the name",
            "platform",
            vec![
                name("Plattform"),
                name("Plattform Suite").description("platform for teams"),
                tagline("Platform tools"),
            ],
            &[3, 2, 1],
        ),
        case(
            "one typo before two",
            "analytics",
            vec![
                name("Analitycs Hub"),
                description("analytic dashboards"),
                name("Analytics"),
            ],
            &[3, 2, 1],
        ),
        case(
            "separate words before their concatenation (an n-gram of two costs two)",
            "data stack",
            vec![name("Data Stack"), name("DataStack")],
            &[1, 2],
        ),
        case(
            "a concatenation is found after the words",
            "team space",
            vec![name("Teamspace"), name("Team Space"), name("Space Team")],
            &[2, 3, 1],
        ),
        case(
            "an exact word before a prefix extension of the same length budget",
            "orbit ",
            vec![name("Orbit Tracker"), name("Orbits Hub")],
            &[1, 2],
        ),
        // Proximity.
        case(
            "adjacent in order, then reversed or one apart, then 3 and beyond alike",
            "team chat",
            vec![
                name("Chat Team"),
                name("Team Chat"),
                name("Team Group Chat"),
            ],
            &[2, 3, 1],
        ),
        case(
            "proximity stops counting at 3: farther words tie, the attribute decides",
            "cloud backup",
            vec![
                description("cloud backup"),
                description("cloud one two three four backup"),
                name("Cloud One Two Three Four Five Six Seven Backup"),
            ],
            &[1, 3, 2],
        ),
        case(
            "words in different attributes cost the most",
            "email marketing",
            vec![
                name("Email").tagline("Marketing"),
                description("email for marketing"),
                name("Email Marketing"),
            ],
            &[3, 2, 1],
        ),
        case(
            "a full stop puts the next word 8 positions further",
            "crm sync",
            vec![
                description("Fast CRM and sync contacts"),
                description("Fast CRM. Sync contacts"),
            ],
            &[1, 2],
        ),
        case(
            "a comma followed by a space is a hard separator",
            "invoice automation",
            vec![
                description("invoice and automation"),
                description("invoice, automation"),
            ],
            &[1, 2],
        ),
        case(
            "a comma without a space is not",
            "invoice automation",
            vec![
                description("invoice and automation"),
                description("invoice,automation"),
            ],
            &[2, 1],
        ),
        case(
            "a colon is a hard separator",
            "route planner",
            vec![
                description("route and planner"),
                description("route: planner"),
            ],
            &[1, 2],
        ),
        // Attribute rank.
        case(
            "name, tagline, vendor, category, description",
            "helpdesk",
            vec![
                name("Helpdesk"),
                tagline("The helpdesk"),
                name("Support").vendor("Helpdesk Inc"),
                name("Support").category("Helpdesk"),
                description("a helpdesk"),
            ],
            &[1, 2, 3, 4, 5],
        ),
        case(
            "the attribute rank comes before the word position",
            "invoicing",
            vec![
                name("Simple Fast Invoicing"),
                tagline("Invoicing made simple"),
            ],
            &[1, 2],
        ),
        case(
            "proximity comes before the attribute rank",
            "lead scoring",
            vec![description("lead scoring"), name("Lead").tagline("Scoring")],
            &[1, 2],
        ),
        // Exactness.
        case(
            "an attribute equal to the query before one starting with it",
            "notion",
            vec![name("Notion"), name("Notion Partners")],
            &[1, 2],
        ),
        case(
            "two words: equal, then starts with, then elsewhere",
            "project management",
            vec![
                name("Project Management"),
                name("Project Management Suite"),
                name("Simple Project Management"),
            ],
            &[1, 2, 3],
        ),
        case(
            "a description equal to the query counts too",
            "chat rooms",
            vec![
                description("Chat rooms."),
                description("Chat rooms for teams"),
            ],
            &[1, 2],
        ),
        case(
            "the exact word before a prefix extension at the same position",
            "note",
            vec![name("Note taking"), name("Notes app")],
            &[1, 2],
        ),
        case(
            "every word exact before one matched as a prefix",
            "crm auto",
            vec![name("CRM Auto Dialer"), name("CRM Automation")],
            &[1, 2],
        ),
        case(
            "exactness before newest",
            "hub",
            vec![name("Hub"), name("Hub Cloud"), name("Hubs")],
            &[1, 2, 3],
        ),
        // Phrases.
        case(
            "a phrase: its words adjacent and in order",
            "\"cloud storage\"",
            vec![
                description("cloud storage"),
                description("storage cloud"),
                name("Cloud Storage Hub"),
                description("best cloud, storage later"),
            ],
            &[3, 1],
        ),
        case(
            "a phrase and a word",
            "\"data warehouse\" teams",
            vec![
                name("Data Warehouse for Teams"),
                description("data teams warehouse"),
            ],
            &[1],
        ),
        case(
            "a phrase takes no typo",
            "\"analitycs\"",
            vec![name("Analytics"), name("Analitycs")],
            &[2],
        ),
        case(
            "a phrase takes no prefix",
            "\"cloud stor\"",
            vec![name("Cloud Stor"), name("Cloud Storage")],
            &[1],
        ),
        case(
            "an unclosed quote runs to the end",
            "\"sales pipeline",
            vec![description("sales pipeline"), description("pipeline sales")],
            &[1],
        ),
        // Exclusion.
        case(
            "-word leaves out documents with the word",
            "crm -agencies",
            vec![name("CRM for Agencies"), name("CRM Pro")],
            &[2],
        ),
        case(
            "-word is exact: no typo, no prefix",
            "crm -agency",
            vec![
                name("CRM for Agencies"),
                name("CRM Pro"),
                name("Agency CRM"),
            ],
            &[2, 1],
        ),
        case(
            "-\"phrase\" leaves out documents with the phrase",
            "crm -\"for agencies\"",
            vec![
                name("CRM for Agencies"),
                name("CRM Pro"),
                name("Agency CRM"),
            ],
            &[2, 3],
        ),
        case(
            "only exclusions: every other document, newest first",
            "-crm",
            vec![name("CRM Pro"), name("Helpdesk"), name("Mail")],
            &[3, 2],
        ),
        case(
            "a dash inside a word separates",
            "e-mail",
            vec![name("E-mail tools"), name("Email tools"), name("Mail")],
            &[1, 2],
        ),
        case(
            "a dash right after a word is not an exclusion",
            "crm-agencies",
            vec![name("CRM for Agencies"), name("CRM Pro")],
            &[1],
        ),
        case(
            "an excluded word keeps its place in the query",
            "-legacy crm",
            vec![name("CRM Legacy"), name("Modern CRM"), name("CRM Modern")],
            &[2, 3],
        ),
        // Split words.
        case(
            "a word split in two indexed words, adjacent and in order",
            "datawarehouse",
            vec![
                name("Data Warehouse"),
                name("Warehouse Data"),
                name("Datawarehouse"),
            ],
            &[3, 1],
        ),
        case(
            "a split counts as a typo",
            "mailbox",
            vec![name("Mailbox"), name("Mail Box")],
            &[1, 2],
        ),
        // Query positions and separators.
        case(
            "no proximity between words a hard separator parts in the query",
            "crm: sync",
            vec![name("CRM Sync"), name("Sync CRM")],
            &[1, 2],
        ),
        case(
            "only ten terms count",
            "alpha beta gamma delta epsilon zeta theta iota kappa lambda omicron",
            vec![
                description("alpha beta gamma delta epsilon zeta theta iota kappa lambda"),
                description("alpha beta gamma delta epsilon zeta theta iota kappa"),
            ],
            &[1],
        ),
        case(
            "case and accents fold everywhere",
            "ZURICH cafe",
            vec![name("Zürich Café"), name("Zurich Coffee")],
            &[1],
        ),
    ]
}

/// Every case's documents, each case's under its own vendor.
pub fn documents() -> Vec<ProgramDocument> {
    let mut docs = Vec::new();
    for (c, case) in cases().iter().enumerate() {
        for (k, texts) in case.docs.iter().enumerate() {
            let id = id(c, i64::try_from(k).unwrap() + 1);
            docs.push(ProgramDocument {
                program_id: id,
                name: texts.name.into(),
                tagline: texts.tagline.into(),
                description: texts.description.into(),
                vendor_id: VENDORS + i64::try_from(c).unwrap(),
                vendor_name: texts.vendor.into(),
                category: "ranking".into(),
                category_name: texts.category.into(),
                partner_types: Vec::new(),
                all_partner_types: true,
                commission_models: vec!["PERCENTAGE".into()],
                best_rate_bps: 1000,
                best_flat_usd_cents: 0,
                durations: vec!["ONE_TIME".into()],
                recurring: false,
                recurring_months: 0,
                cookie_days: 30,
                holding_days: 30,
                currency: "USD".into(),
                minimum_payout_minor: 0,
                approval_mode: "MANUAL".into(),
                countries: Vec::new(),
                worldwide: true,
                published_at: 1_000_000 + id,
                average_earnings_usd_cents: WITHHELD,
                approval_rate_bps: WITHHELD,
            });
        }
    }
    docs
}

/// Each case as a search over its own documents, with the program ids expected.
pub fn requests() -> Vec<(String, SearchRequest, Vec<i64>)> {
    cases()
        .into_iter()
        .enumerate()
        .map(|(c, case)| {
            let request = SearchRequest {
                query: case.query.into(),
                filter: SearchFilter {
                    vendor_ids: vec![VENDORS + i64::try_from(c).unwrap()],
                    ..SearchFilter::default()
                },
                limit: 100,
                ..SearchRequest::default()
            };
            let expected = case.expected.iter().map(|k| id(c, *k)).collect();
            (format!("ranking: {}", case.name), request, expected)
        })
        .collect()
}

/// How many ranking cases there are.
pub fn count() -> usize {
    cases().len()
}
