//! Search latency, p50/p99, through the embedded engine alone and through the HTTP API,
//! over 10k and 100k generated listings (SQLite + embedded engine on disk, release build):
//!
//! ```sh
//! cargo bench -p api --bench search            # 10k and 100k
//! cargo bench -p api --bench search -- 10000   # one size
//! SEARCH_BENCH_DIR=/tmp/bench SEARCH_BENCH_ONLY=words cargo bench -p api --bench search
//! ```
//!
//! `SEARCH_BENCH_DIR` keeps the generated data between runs; `SEARCH_BENCH_ONLY` picks
//! the queries whose label contains it.
//!
//! A benchmark, not a test: it reports figures and fails nothing. Run on a quiet machine
//! and compare ratios from one run.

use std::time::{Duration, Instant};

use api::{
    config::Settings,
    search::{SearchFilter, SearchRequest, SearchSort},
    service::demo,
    startup::{self, Application, SearchSetup},
};
use serde_json::json;

/// Realistic queries: typos, prefixes, several words, filters, sorts, browsing.
fn requests() -> Vec<(&'static str, SearchRequest)> {
    let q = |text: &str| SearchRequest {
        query: text.into(),
        limit: 20,
        ..SearchRequest::default()
    };
    vec![
        ("one word", q("cloudflow")),
        ("two typos", q("clodflwo")),
        ("prefix", q("spar")),
        ("two words", q("cloud hub")),
        ("common words (all match)", q("partner program")),
        ("phrase", q("\"cloud hub\"")),
        ("exclusion", q("cloud -hub")),
        ("browse", q("")),
        (
            "filters",
            SearchRequest {
                filter: SearchFilter {
                    categories: vec!["crm".into(), "analytics".into()],
                    min_rate_bps: Some(2000),
                    recurring_only: true,
                    ..SearchFilter::default()
                },
                ..q("partner")
            },
        ),
        (
            "newest",
            SearchRequest {
                sort: SearchSort::Newest,
                ..q("mesh")
            },
        ),
        (
            "highest rate",
            SearchRequest {
                sort: SearchSort::HighestRate,
                ..q("data")
            },
        ),
        (
            "countries and currency",
            SearchRequest {
                filter: SearchFilter {
                    countries: vec!["DE".into()],
                    currencies: vec!["EUR".into()],
                    ..SearchFilter::default()
                },
                ..q("")
            },
        ),
    ]
}

fn graphql(request: &SearchRequest) -> serde_json::Value {
    let filter = &request.filter;
    json!({
        "query": "query($q: String, $f: SearchFilter, $s: SearchSort) { searchPrograms(query: $q, filter: $f, sort: $s, first: 20) {
            totalCount facets { categories { value count } currencies { value count } }
            edges { node { slug name vendor { name } } highlights { name } } } }",
        "variables": {
            "q": request.query,
            "s": match request.sort { SearchSort::Relevance => "RELEVANCE", SearchSort::Newest => "NEWEST", SearchSort::HighestRate => "HIGHEST_RATE", SearchSort::HighestEarnings => "HIGHEST_EARNINGS", SearchSort::Name => "NAME" },
            "f": {
                "categories": filter.categories,
                "minPercentageRate": filter.min_rate_bps.map(|b| format!("{}", b / 100)),
                "recurringOnly": filter.recurring_only,
                "countries": filter.countries,
                "currencies": filter.currencies,
            }
        }
    })
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index].as_secs_f64() * 1000.0
}

fn report(label: &str, mut samples: Vec<Duration>) {
    samples.sort();
    println!(
        "{label:<36} n={:<5} p50={:>7.2} ms  p99={:>7.2} ms  max={:>7.2} ms",
        samples.len(),
        percentile(&samples, 0.50),
        percentile(&samples, 0.99),
        percentile(&samples, 1.0)
    );
}

async fn run(size: u64, rounds: usize) -> anyhow::Result<()> {
    // SEARCH_BENCH_DIR keeps the generated marketplace between runs (generation resumes
    // where it stopped); without it each run starts from an empty temporary directory.
    let temporary = tempfile::tempdir()?;
    let data = match std::env::var_os("SEARCH_BENCH_DIR") {
        Some(base) => {
            let dir = std::path::Path::new(&base).join(size.to_string());
            std::fs::create_dir_all(&dir)?;
            dir.to_string_lossy().to_string()
        }
        None => temporary.path().to_string_lossy().to_string(),
    };
    let settings = Settings::from_args([
        "--bind",
        "127.0.0.1:0",
        "--data-dir",
        &data,
        "--demo-data",
        "false",
        "--search-worker",
        "false",
        "--log-filter",
        "error",
        "--workers",
        "2",
        "--database-max-connections",
        "8",
        "--jwt-secret",
        "bench-secret-bench-secret-bench-secret",
        // One client asks thousands of times a second: the limits would refuse it.
        "--rate-limits",
        "false",
        // The same query a hundred times: measure the search, not the response cache.
        "--response-cache-entries",
        "0",
    ])
    .map_err(|e| anyhow::anyhow!("{e}"))?;
    let config = settings.resolve().map_err(|e| anyhow::anyhow!("{e}"))?;

    let started = Instant::now();
    let services = startup::prepare(&config, SearchSetup::Configured).await?;
    demo::generate(&services, size, 1000, |_, _| {})
        .await
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let generated = started.elapsed();
    let indexer = api::service::indexer::SearchIndexer::new(&services, Duration::from_secs(300));
    let indexed_rows = api::service::events::consumer::drain(&services.db, &indexer)
        .await
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    println!(
        "\n== {size} listings: generated in {:.1} s, {indexed_rows} documents indexed in {:.1} s",
        generated.as_secs_f64(),
        (started.elapsed() - generated).as_secs_f64()
    );

    // The engine alone. SEARCH_BENCH_ONLY runs only the queries whose label contains it.
    let only = std::env::var("SEARCH_BENCH_ONLY").unwrap_or_default();
    let requests: Vec<_> = requests()
        .into_iter()
        .filter(|(name, _)| name.contains(only.as_str()))
        .collect();
    let mut all = Vec::new();
    for (name, request) in &requests {
        services.search.search(request).await?; // warm
        let mut samples = Vec::new();
        for _ in 0..rounds {
            let t = Instant::now();
            services.search.search(request).await?;
            samples.push(t.elapsed());
        }
        all.extend(samples.iter().copied());
        report(&format!("engine  {name}"), samples);
    }
    report("engine  ALL QUERIES", all);

    // Through the API: HTTP, GraphQL, engine, hydration, nested vendor.
    let app = Application::build_with(config.clone(), SearchSetup::Given(services.search.clone()))
        .await?;
    let url = format!("http://{}/graphql", app.address());
    tokio::spawn(app.run_until_stopped());
    let client = reqwest::Client::new();
    let mut all = Vec::new();
    for (name, request) in &requests {
        let body = graphql(request);
        let mut samples = Vec::new();
        for round in 0..=rounds {
            let t = Instant::now();
            let response = client.post(&url).json(&body).send().await?;
            let text = response.text().await?;
            if round == 0 {
                anyhow::ensure!(!text.contains("\"errors\""), "{name}: {text}");
                continue; // warm-up
            }
            samples.push(t.elapsed());
        }
        all.extend(samples.iter().copied());
        report(&format!("api     {name}"), samples);
    }
    report("api     ALL QUERIES", all);
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let sizes: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let sizes = if sizes.is_empty() {
        vec![10_000, 100_000]
    } else {
        sizes
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    for size in sizes {
        runtime.block_on(run(size, 100))?;
    }
    Ok(())
}
