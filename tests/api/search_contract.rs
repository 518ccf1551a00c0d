//! The search contract: one suite of cases that every engine must pass, so the embedded
//! engine and Meilisearch behave the same. Runs against the embedded engine always, and
//! against a real Meilisearch server whenever `MEILISEARCH_URL` (and `MEILISEARCH_API_KEY`)
//! are set — each run in an index of its own, deleted afterwards.
//!
//! Expectations follow Meilisearch's rules: every query word must match (matching
//! strategy `all`); 1 typo from 5 letters, 2 from 9, a transposition is one typo, a typo
//! on the first letter counts as two; the last word is a prefix unless a separator follows;
//! only ten words count; case and accents fold. Ranking: sort, typo, proximity, attribute
//! (name, tagline, vendor, category, description), exactness, then newest.

mod ranking;

use std::{sync::Arc, time::Duration};

use api::search::{
    Change, Facets, ProgramDocument, SearchFilter, SearchIndex, SearchRequest, SearchSort,
    document::{LIFETIME_MONTHS, WITHHELD},
    embedded::EmbeddedIndex,
    meili::{MeiliConfig, MeilisearchIndex},
};

#[allow(clippy::too_many_arguments)]
fn doc(
    id: i64,
    name: &str,
    tagline: &str,
    vendor: &str,
    (category, category_name): (&str, &str),
    description: &str,
    partner_types: &[&str],
    (models, rate, flat): (&[&str], i64, i64),
    recurring: bool,
    cookie_days: i64,
    currency: &str,
    approval: &str,
    countries: &[&str],
) -> ProgramDocument {
    let strings = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    ProgramDocument {
        program_id: id,
        name: name.into(),
        tagline: tagline.into(),
        description: description.into(),
        vendor_id: id % 3 + 1,
        vendor_name: vendor.into(),
        category: category.into(),
        category_name: category_name.into(),
        all_partner_types: partner_types.is_empty(),
        partner_types: strings(partner_types),
        commission_models: strings(models),
        best_rate_bps: rate,
        best_flat_usd_cents: flat,
        durations: vec![if recurring { "RECURRING" } else { "ONE_TIME" }.into()],
        recurring,
        recurring_months: if recurring { 12 } else { 0 },
        cookie_days,
        holding_days: 30,
        currency: currency.into(),
        minimum_payout_minor: 0,
        approval_mode: approval.into(),
        worldwide: countries.is_empty(),
        countries: strings(countries),
        published_at: 1_000 + id,
        average_earnings_usd_cents: WITHHELD,
        approval_rate_bps: WITHHELD,
    }
}

/// Measured figures of some fixture programs (the others' are withheld): earnings in US
/// cents, approval rates in basis points.
const EARNINGS: [(i64, i64); 5] = [(7, 30_000), (12, 12_000), (1, 12_000), (2, 4_500), (14, 0)];
const APPROVAL_RATES: [(i64, i64); 4] = [(1, 9_000), (2, 5_000), (3, 10_000), (12, 7_500)];

fn fixture() -> Vec<ProgramDocument> {
    let mut docs = documents();
    for doc in &mut docs {
        let of = |figures: &[(i64, i64)]| {
            figures
                .iter()
                .find(|(id, _)| *id == doc.program_id)
                .map_or(WITHHELD, |(_, value)| *value)
        };
        doc.average_earnings_usd_cents = of(&EARNINGS);
        doc.approval_rate_bps = of(&APPROVAL_RATES);
        if let Some((_, days)) = HOLDING_DAYS.iter().find(|(id, _)| *id == doc.program_id) {
            doc.holding_days = *days;
        }
        if let Some((_, months)) = RECURRING_MONTHS
            .iter()
            .find(|(id, _)| *id == doc.program_id)
        {
            doc.recurring_months = *months;
        }
    }
    docs
}

/// Holding periods other than the fixture's 30 days.
const HOLDING_DAYS: [(i64, i64); 3] = [(3, 0), (7, 14), (12, 60)];
/// Longest recurring periods of the recurring programs (1, 7, 12, 14).
const RECURRING_MONTHS: [(i64, i64); 4] = [(1, 12), (7, 24), (12, LIFETIME_MONTHS), (14, 6)];

fn documents() -> Vec<ProgramDocument> {
    const P: &[&str] = &["PERCENTAGE"];
    const F: &[&str] = &["FLAT"];
    vec![
        doc(
            1,
            "Acme Analytics Partner Program",
            "Earn on every analytics customer",
            "Acme",
            ("analytics", "Analytics"),
            "Product analytics for SaaS teams.",
            &["AFFILIATE"],
            (P, 3000, 0),
            true,
            60,
            "USD",
            "AUTOMATIC",
            &[],
        ),
        doc(
            2,
            "Pipeline CRM Affiliates",
            "Sell the CRM sales teams love",
            "Pipeline",
            ("crm", "CRM"),
            "A CRM for sales pipelines.",
            &["AFFILIATE", "AGENCY"],
            (&["FLAT", "PERCENTAGE"], 2000, 5000),
            false,
            30,
            "USD",
            "MANUAL",
            &["US", "CA"],
        ),
        doc(
            3,
            "Beacon",
            "Security alerts",
            "Beacon Labs",
            ("security", "Security"),
            "Endpoint monitoring.",
            &[],
            (F, 0, 10000),
            false,
            90,
            "EUR",
            "AUTOMATIC",
            &[],
        ),
        doc(
            4,
            "Lighthouse Security Resellers",
            "Resell endpoint protection",
            "Lighthouse",
            ("security", "Security"),
            "Like a beacon for your network.",
            &["RESELLER"],
            (P, 1500, 0),
            false,
            45,
            "EUR",
            "MANUAL",
            &["DE", "FR"],
        ),
        doc(
            5,
            "Orbit Tracker",
            "Satellite ops",
            "Orbital",
            ("analytics", "Analytics"),
            "Track fleets.",
            &["REFERRAL"],
            (F, 0, 2500),
            false,
            30,
            "GBP",
            "AUTOMATIC",
            &["GB"],
        ),
        doc(
            6,
            "Orbits Hub",
            "Community",
            "Hubco",
            ("communication", "Communication"),
            "Chat rooms.",
            &["AFFILIATE"],
            (P, 1000, 0),
            false,
            120,
            "USD",
            "MANUAL",
            &[],
        ),
        doc(
            7,
            "Cloud Storage Partners",
            "Cloud storage for teams",
            "Vaulty",
            ("data-infrastructure", "Data infrastructure"),
            "Secure files.",
            &["TECHNOLOGY"],
            (P, 2500, 0),
            true,
            60,
            "USD",
            "MANUAL",
            &[],
        ),
        doc(
            8,
            "Teamspace",
            "Cloud based team storage and wikis",
            "Teamspace Inc",
            ("productivity", "Productivity"),
            "Docs.",
            &["AFFILIATE"],
            (P, 2000, 0),
            false,
            30,
            "USD",
            "AUTOMATIC",
            &[],
        ),
        doc(
            9,
            "Café Connect",
            "Loyalty for coffee shops",
            "Zürich Labs",
            ("e-commerce", "E-commerce"),
            "Point of sale.",
            &["REFERRAL"],
            (F, 0, 1500),
            false,
            30,
            "CHF",
            "MANUAL",
            &["CH"],
        ),
        doc(
            10,
            "Программа для партнеров",
            "Партнерская сеть",
            "Sever",
            ("sales", "Sales"),
            "Продажи.",
            &["AFFILIATE"],
            (P, 2200, 0),
            false,
            30,
            "EUR",
            "MANUAL",
            &[],
        ),
        doc(
            11,
            "DataStack Referral",
            "Warehouse in minutes",
            "DataStack",
            ("data-infrastructure", "Data infrastructure"),
            "Plug and play or self hosted.",
            &["REFERRAL"],
            (F, 0, 4000),
            false,
            30,
            "USD",
            "AUTOMATIC",
            &[],
        ),
        doc(
            12,
            "Sales Booster",
            "Gamified quotas",
            "QuotaQuest",
            ("sales", "Sales"),
            "Leaderboards for sales reps.",
            &["AGENCY"],
            (P, 3500, 0),
            true,
            90,
            "USD",
            "MANUAL",
            &["US"],
        ),
        doc(
            13,
            "Analytics Academy",
            "Courses",
            "LearnLoft",
            ("education", "Education"),
            "Learn data skills.",
            &["INFLUENCER"],
            (P, 4000, 0),
            false,
            30,
            "GBP",
            "AUTOMATIC",
            &[],
        ),
        doc(
            14,
            "Mailwise Marketing",
            "Email campaigns",
            "Mailwise",
            ("marketing-automation", "Marketing automation"),
            "Analytics dashboards included.",
            &["AFFILIATE"],
            (P, 2500, 0),
            true,
            60,
            "EUR",
            "AUTOMATIC",
            &[],
        ),
    ]
}

/// Every document, newest first (the order of a browse without sort).
const ALL: [i64; 14] = [14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1];

fn query(text: &str) -> SearchRequest {
    SearchRequest {
        query: text.into(),
        limit: 100,
        ..SearchRequest::default()
    }
}

fn filtered(filter: SearchFilter) -> SearchRequest {
    SearchRequest {
        filter,
        limit: 100,
        ..SearchRequest::default()
    }
}

fn strings(values: &[&str]) -> Vec<String> {
    values.iter().map(|s| (*s).to_owned()).collect()
}

enum Expect {
    /// These programs in this order, and no others.
    Ordered(Vec<i64>),
    /// These programs in any order.
    Set(Vec<i64>),
}

fn cases() -> Vec<(&'static str, SearchRequest, Expect)> {
    use Expect::{Ordered, Set};
    let analytics = vec![13, 1, 5, 14];
    let long: String = format!("{}xx", "analytics ".repeat(51));
    assert_eq!(long.chars().count(), 512);
    vec![
        (
            "one word: name, then category, then description; an attribute equal to the query first",
            query("analytics"),
            Ordered(vec![1, 13, 5, 14]),
        ),
        (
            "one typo in a 5-letter word",
            query("sakes"),
            Ordered(vec![12, 2, 10]),
        ),
        (
            "a first-letter typo counts as two",
            query("wales"),
            Ordered(vec![]),
        ),
        (
            "two typos in a 9-letter word",
            query("analitycs"),
            Ordered(analytics.clone()),
        ),
        ("no typo below 5 letters", query("crn"), Ordered(vec![])),
        (
            "a transposition is one typo",
            query("slaes"),
            Ordered(vec![12, 2, 10]),
        ),
        (
            "the last word is a prefix",
            query("analy"),
            Ordered(analytics.clone()),
        ),
        (
            "a prefix may carry a typo",
            query("anali"),
            Ordered(analytics.clone()),
        ),
        (
            "a trailing space ends the prefix",
            query("analy "),
            Ordered(vec![]),
        ),
        (
            "only the last word is a prefix",
            query("analy program"),
            Ordered(vec![]),
        ),
        (
            "every word must match",
            query("crm sales"),
            Ordered(vec![2]),
        ),
        (
            "an exact name ranks before a description",
            query("beacon"),
            Ordered(vec![3, 4]),
        ),
        (
            "an exact word ranks before a typo",
            query("orbit "),
            Ordered(vec![5, 6]),
        ),
        (
            "words close together rank first",
            query("cloud storage"),
            Ordered(vec![7, 8]),
        ),
        ("accents fold", query("cafe"), Ordered(vec![9])),
        (
            "case and accents fold in the query",
            query("CAFÉ"),
            Ordered(vec![9]),
        ),
        (
            "upper case and umlauts fold",
            query("ZÜRICH"),
            Ordered(vec![9]),
        ),
        ("non-Latin text", query("программа"), Ordered(vec![10])),
        (
            "non-Latin text with a typo",
            query("програма"),
            Ordered(vec![10]),
        ),
        (
            "a 512-character query: only ten words count",
            query(&long),
            Set(analytics.clone()),
        ),
        (
            "AND and OR are plain words",
            query("and or plug"),
            Ordered(vec![11]),
        ),
        (
            "a one-word phrase is the exact word",
            query("\"crm\""),
            Ordered(vec![2]),
        ),
        (
            "vendor filter",
            filtered(SearchFilter {
                vendor_ids: vec![2],
                ..SearchFilter::default()
            }),
            Ordered(vec![13, 10, 7, 4, 1]),
        ),
        (
            "holding period at most",
            filtered(SearchFilter {
                holding_days_max: Some(14),
                ..SearchFilter::default()
            }),
            Ordered(vec![7, 3]),
        ),
        (
            "recurring months range",
            filtered(SearchFilter {
                recurring_months_min: Some(12),
                recurring_months_max: Some(24),
                ..SearchFilter::default()
            }),
            Ordered(vec![7, 1]),
        ),
        (
            "a lifetime rule passes any minimum of recurring months",
            filtered(SearchFilter {
                recurring_months_min: Some(100),
                ..SearchFilter::default()
            }),
            Ordered(vec![12]),
        ),
        (
            "a maximum of recurring months keeps one-time programs out",
            filtered(SearchFilter {
                recurring_months_max: Some(12),
                ..SearchFilter::default()
            }),
            Ordered(vec![14, 1]),
        ),
        (
            "worldwide only",
            filtered(SearchFilter {
                worldwide_only: true,
                ..SearchFilter::default()
            }),
            Ordered(vec![14, 13, 11, 10, 8, 7, 6, 3, 1]),
        ),
        (
            "excluded countries leave worldwide programs in",
            filtered(SearchFilter {
                excluded_countries: strings(&["us"]),
                ..SearchFilter::default()
            }),
            Ordered(vec![14, 13, 11, 10, 9, 8, 7, 6, 5, 4, 3, 1]),
        ),
        (
            "by name, A to Z",
            SearchRequest {
                sort: SearchSort::Name,
                ..query("")
            },
            Ordered(vec![1, 13, 3, 9, 7, 11, 4, 14, 5, 6, 2, 12, 8, 10]),
        ),
        (
            "by name over a query",
            SearchRequest {
                sort: SearchSort::Name,
                ..query("analytics")
            },
            Ordered(vec![1, 13, 14, 5]),
        ),
        (
            "a phrase on the fixture",
            query("\"sales teams\""),
            Ordered(vec![2]),
        ),
        (
            "an excluded word on the fixture",
            query("sales -crm"),
            // "sale" (Café Connect's "point of sale") is one typo away.
            Ordered(vec![12, 10, 9]),
        ),
        (
            "colons are separators",
            query("crm: sales"),
            Ordered(vec![2]),
        ),
        (
            "backslashes are separators",
            query("crm\\sales"),
            Ordered(vec![2]),
        ),
        (
            "adjacent words match their concatenation",
            query("data stack"),
            Ordered(vec![11]),
        ),
        (
            "an empty query browses everything, newest first",
            query(""),
            Ordered(ALL.to_vec()),
        ),
        (
            "category filter",
            filtered(SearchFilter {
                categories: strings(&["security"]),
                ..SearchFilter::default()
            }),
            Ordered(vec![4, 3]),
        ),
        (
            "partner-type filter includes programs open to all",
            filtered(SearchFilter {
                partner_types: strings(&["RESELLER"]),
                ..SearchFilter::default()
            }),
            Ordered(vec![4, 3]),
        ),
        (
            "commission-model filter",
            filtered(SearchFilter {
                commission_models: strings(&["FLAT"]),
                ..SearchFilter::default()
            }),
            Ordered(vec![11, 9, 5, 3, 2]),
        ),
        (
            "minimum percentage rate",
            filtered(SearchFilter {
                min_rate_bps: Some(3000),
                ..SearchFilter::default()
            }),
            Ordered(vec![13, 12, 1]),
        ),
        (
            "recurring only",
            filtered(SearchFilter {
                recurring_only: true,
                ..SearchFilter::default()
            }),
            Ordered(vec![14, 12, 7, 1]),
        ),
        (
            "string filters fold case",
            filtered(SearchFilter {
                currencies: strings(&["eur"]),
                ..SearchFilter::default()
            }),
            Ordered(vec![14, 10, 4, 3]),
        ),
        (
            "cookie-window range",
            filtered(SearchFilter {
                cookie_days_min: Some(60),
                cookie_days_max: Some(90),
                ..SearchFilter::default()
            }),
            Ordered(vec![14, 12, 7, 3, 1]),
        ),
        (
            "automatic approval only",
            filtered(SearchFilter {
                automatic_approval_only: true,
                ..SearchFilter::default()
            }),
            Ordered(vec![14, 13, 11, 8, 5, 3, 1]),
        ),
        (
            "country filter includes worldwide programs",
            filtered(SearchFilter {
                countries: strings(&["DE"]),
                ..SearchFilter::default()
            }),
            Ordered(vec![14, 13, 11, 10, 8, 7, 6, 4, 3, 1]),
        ),
        (
            "a query and several filters combine",
            SearchRequest {
                filter: SearchFilter {
                    categories: strings(&["analytics", "education"]),
                    currencies: strings(&["GBP"]),
                    ..SearchFilter::default()
                },
                ..query("analytics")
            },
            Ordered(vec![13, 5]),
        ),
        (
            "quotes, backslashes, colons and OR/AND in filter values are literal",
            filtered(SearchFilter {
                categories: strings(&[
                    "security\" OR category = \"crm",
                    "a\\b",
                    "x:y",
                    "OR",
                    "AND",
                ]),
                currencies: strings(&["USD\" OR currency != \"x"]),
                ..SearchFilter::default()
            }),
            Ordered(vec![]),
        ),
        (
            "excluded programs",
            filtered(SearchFilter {
                exclude_program_ids: vec![14, 13],
                ..SearchFilter::default()
            }),
            Ordered(ALL[2..].to_vec()),
        ),
        (
            "newest first over every match",
            SearchRequest {
                sort: SearchSort::Newest,
                ..query("analytics")
            },
            Ordered(vec![14, 13, 5, 1]),
        ),
        (
            "highest rate first over every match",
            SearchRequest {
                sort: SearchSort::HighestRate,
                ..query("analytics")
            },
            Ordered(vec![13, 1, 14, 5]),
        ),
        (
            "highest earnings first, ties newest first, withheld figures last",
            SearchRequest {
                sort: SearchSort::HighestEarnings,
                ..query("")
            },
            Ordered(vec![7, 12, 1, 2, 14, 13, 11, 10, 9, 8, 6, 5, 4, 3]),
        ),
        (
            "highest earnings over a query; withheld figures last, by relevance",
            SearchRequest {
                sort: SearchSort::HighestEarnings,
                ..query("analytics")
            },
            Ordered(vec![1, 14, 13, 5]),
        ),
        (
            "minimum average earnings",
            filtered(SearchFilter {
                min_average_earnings_usd_cents: Some(12_000),
                ..SearchFilter::default()
            }),
            Ordered(vec![12, 7, 1]),
        ),
        (
            "a minimum of zero earnings still leaves withheld figures out",
            filtered(SearchFilter {
                min_average_earnings_usd_cents: Some(0),
                ..SearchFilter::default()
            }),
            Ordered(vec![14, 12, 7, 2, 1]),
        ),
        (
            "a negative minimum is a minimum of zero",
            filtered(SearchFilter {
                min_average_earnings_usd_cents: Some(-5),
                ..SearchFilter::default()
            }),
            Ordered(vec![14, 12, 7, 2, 1]),
        ),
        (
            "minimum approval rate",
            filtered(SearchFilter {
                min_approval_rate_bps: Some(7_500),
                ..SearchFilter::default()
            }),
            Ordered(vec![12, 3, 1]),
        ),
        (
            "minimum earnings with a query, sorted by earnings",
            SearchRequest {
                filter: SearchFilter {
                    min_average_earnings_usd_cents: Some(1),
                    ..SearchFilter::default()
                },
                sort: SearchSort::HighestEarnings,
                ..query("cloud")
            },
            Ordered(vec![7]),
        ),
    ]
}

/// Runs every case and facet/highlight/pagination check; returns the failures.
async fn run_contract(engine: &dyn SearchIndex) -> Vec<String> {
    let mut failures = Vec::new();
    for (name, request, expect) in cases() {
        let response = match engine.search(&request).await {
            Ok(r) => r,
            Err(e) => {
                failures.push(format!("{name}: error {e}"));
                continue;
            }
        };
        let got: Vec<i64> = response.hits.iter().map(|h| h.program_id).collect();
        let (mut expected, ordered) = match expect {
            Expect::Ordered(ids) => (ids, true),
            Expect::Set(ids) => (ids, false),
        };
        let mut seen = got.clone();
        if !ordered {
            seen.sort_unstable();
            expected.sort_unstable();
        }
        if seen != expected {
            failures.push(format!("{name}: expected {expected:?}, got {got:?}"));
        }
        if response.total != u64::try_from(expected.len()).unwrap() {
            failures.push(format!(
                "{name}: total {} for {} hits",
                response.total,
                expected.len()
            ));
        }
    }

    // Facets are counted with every other filter applied, and each facet without its own.
    let security = filtered(SearchFilter {
        categories: strings(&["security"]),
        ..SearchFilter::default()
    });
    let facet_case = |f: &Facets| {
        let expected_categories = vec![
            ("analytics", 2),
            ("data-infrastructure", 2),
            ("sales", 2),
            ("security", 2),
            ("communication", 1),
            ("crm", 1),
            ("e-commerce", 1),
            ("education", 1),
            ("marketing-automation", 1),
            ("productivity", 1),
        ];
        let categories: Vec<(&str, u64)> =
            f.categories.iter().map(|(v, c)| (v.as_str(), *c)).collect();
        let ok = categories == expected_categories
            && f.currencies == vec![("EUR".to_owned(), 2)]
            && f.commission_models == vec![("FLAT".to_owned(), 1), ("PERCENTAGE".to_owned(), 1)]
            && f.partner_types == vec![("RESELLER".to_owned(), 1)];
        (ok, format!("{f:?}"))
    };
    match engine.search(&security).await {
        Ok(r) => {
            let (ok, got) = facet_case(&r.facets);
            if !ok {
                failures.push(format!("facets with a category filter: got {got}"));
            }
        }
        Err(e) => failures.push(format!("facets: error {e}")),
    }
    let usd = SearchRequest {
        filter: SearchFilter {
            currencies: strings(&["USD"]),
            ..SearchFilter::default()
        },
        ..query("analytics")
    };
    match engine.search(&usd).await {
        Ok(r) => {
            let expected_currencies = vec![
                ("GBP".to_owned(), 2),
                ("EUR".to_owned(), 1),
                ("USD".to_owned(), 1),
            ];
            if r.facets.currencies != expected_currencies
                || r.facets.categories != vec![("analytics".to_owned(), 1)]
            {
                failures.push(format!(
                    "facets with a query and a currency filter: got {:?}",
                    r.facets
                ));
            }
        }
        Err(e) => failures.push(format!("facets with a query: error {e}")),
    }

    // Pages chain without gaps or repeats; the total is exhaustive on every page.
    let mut pages = Vec::new();
    for offset in [0, 5, 10] {
        match engine
            .search(&SearchRequest {
                offset,
                limit: 5,
                ..query("")
            })
            .await
        {
            Ok(r) => {
                if r.total != 14 {
                    failures.push(format!("pagination: total {} on page at {offset}", r.total));
                }
                pages.extend(r.hits.iter().map(|h| h.program_id));
            }
            Err(e) => failures.push(format!("pagination: error {e}")),
        }
    }
    if pages != ALL {
        failures.push(format!("pagination: pages chain to {pages:?}"));
    }

    // Highlights: prefixes marked up to the query's length, descriptions only when matched.
    match engine.search(&query("analy")).await {
        Ok(r) => {
            let first = r
                .hits
                .first()
                .map(|h| h.highlights.name.clone())
                .unwrap_or_default();
            if first != "<mark>Analy</mark>tics Academy" {
                failures.push(format!("prefix highlight: got {first:?}"));
            }
        }
        Err(e) => failures.push(format!("prefix highlight: error {e}")),
    }
    match engine.search(&query("dashboards")).await {
        Ok(r) => match r.hits.as_slice() {
            [hit]
                if hit.program_id == 14
                    && hit.highlights.name == "Mailwise Marketing"
                    && hit
                        .highlights
                        .description
                        .as_deref()
                        .is_some_and(|d| d.contains("<mark>dashboards</mark>")) => {}
            other => failures.push(format!("description highlight: got {other:?}")),
        },
        Err(e) => failures.push(format!("description highlight: error {e}")),
    }
    // A typo match is marked no longer than the query word (Meilisearch's rule).
    match engine.search(&query("satelite")).await {
        Ok(r) => {
            let tagline = r
                .hits
                .first()
                .map(|h| h.highlights.tagline.clone())
                .unwrap_or_default();
            if tagline != "<mark>Satellit</mark>e ops" {
                failures.push(format!("typo highlight: got {tagline:?}"));
            }
        }
        Err(e) => failures.push(format!("typo highlight: error {e}")),
    }
    match engine.search(&query("beacon")).await {
        Ok(r) => {
            if r.hits
                .first()
                .is_none_or(|h| h.highlights.description.is_some())
            {
                failures.push(format!(
                    "a description that did not match is not shown: {:?}",
                    r.hits.first()
                ));
            }
        }
        Err(e) => failures.push(format!("description without match: error {e}")),
    }
    failures
}

/// Runs the ranking cases (an index holding `ranking::documents()`); returns the failures.
async fn run_ranking(engine: &dyn SearchIndex) -> Vec<String> {
    let mut failures = Vec::new();
    for (name, request, expected) in ranking::requests() {
        match engine.search(&request).await {
            Ok(r) => {
                let got: Vec<i64> = r.hits.iter().map(|h| h.program_id).collect();
                if got != expected {
                    failures.push(format!(
                        "{name} ({:?}): expected {expected:?}, got {got:?}",
                        request.query
                    ));
                }
            }
            Err(e) => failures.push(format!("{name}: error {e}")),
        }
    }
    failures
}

async fn load(engine: &dyn SearchIndex, documents: Vec<ProgramDocument>) {
    engine
        .apply(documents.into_iter().map(Change::Upsert).collect())
        .await
        .expect("fixture indexed");
}

#[test]
fn there_are_at_least_forty_ranking_cases() {
    assert!(ranking::count() >= 40, "{} ranking cases", ranking::count());
}

#[tokio::test]
async fn the_search_contract_holds_on_the_embedded_engine() {
    let engine = EmbeddedIndex::in_memory().unwrap();
    load(&engine, fixture()).await;
    let mut failures = run_contract(&engine).await;
    let ranking = EmbeddedIndex::in_memory().unwrap();
    load(&ranking, ranking::documents()).await;
    failures.extend(run_ranking(&ranking).await);
    assert!(
        failures.is_empty(),
        "{} contract failures on the embedded engine:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[tokio::test]
#[cfg_attr(
    not(meilisearch),
    ignore = "set MEILISEARCH_URL (and MEILISEARCH_API_KEY) to run the contract on Meilisearch"
)]
async fn the_search_contract_holds_on_meilisearch_when_configured() {
    let url = std::env::var("MEILISEARCH_URL")
        .expect("MEILISEARCH_URL: this test runs only when it is set (tests/build.rs)");
    let mut suffix = [0u8; 6];
    getrandom::fill(&mut suffix).unwrap();
    let prefix = format!(
        "contract_{}_",
        suffix
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    let config = |index_prefix: String| MeiliConfig {
        url: url.clone(),
        api_key: std::env::var("MEILISEARCH_API_KEY")
            .ok()
            .filter(|k| !k.is_empty()),
        index_prefix,
        search_timeout: Duration::from_secs(5),
        write_timeout: Duration::from_secs(60),
    };
    let (engine, created) = MeilisearchIndex::connect(config(prefix.clone()))
        .await
        .expect("Meilisearch reachable");
    assert!(created, "a fresh index per run");
    let engine = Arc::new(engine);
    let (ranking, created) = MeilisearchIndex::connect(config(format!("{prefix}ranking_")))
        .await
        .expect("Meilisearch reachable");
    assert!(created, "a fresh index per run");
    load(engine.as_ref(), fixture()).await;
    load(&ranking, ranking::documents()).await;
    let mut failures = run_contract(engine.as_ref()).await;
    failures.extend(run_ranking(&ranking).await);
    let deleted = engine.delete().await;
    let deleted_ranking = ranking.delete().await;
    assert!(
        failures.is_empty(),
        "{} contract failures on Meilisearch:\n{}",
        failures.len(),
        failures.join("\n")
    );
    deleted.expect("test index deleted");
    deleted_ranking.expect("test index deleted");
}
