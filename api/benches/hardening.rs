//! What the production hardening costs, and how fast hostile documents are refused
//! (release build, one run; compare ratios, the machine is shared):
//!
//! ```sh
//! cargo bench -p api --bench hardening
//! BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres cargo bench -p api --bench hardening
//! ```
//!
//! 1. The document pre-check alone on the probe's documents (fragment bombs, deep
//!    nesting, alias floods) and on GraphiQL's introspection query: p50/p99 per call.
//! 2. The same hostile documents through HTTP against a running server (what a client
//!    waits): p50/p99.
//! 3. The shared rate-limit table: one GCRA upsert (a log-in attempt), and the cost budget
//!    as requests pay it (leases), per request; and `{ __typename }` through HTTP with the
//!    limits on and off, side by side.
//!
//! A benchmark, not a test: it reports figures and fails nothing.
#![allow(clippy::expect_used)] // a benchmark: a broken run should stop loudly

use std::time::{Duration, Instant};

use api::{
    config::Settings,
    graphql::precheck::{DocumentLimits, check},
    service::limits::{self, Rule},
    startup::{Application, SearchSetup},
};
use serde_json::json;

fn fragment_bomb(levels: usize) -> String {
    let mut q = String::from("query { ...F0 }\n");
    for i in 0..levels {
        q.push_str(&format!(
            "fragment F{i} on Query {{ ...F{n} ...F{n} }}\n",
            n = i + 1
        ));
    }
    q.push_str(&format!("fragment F{levels} on Query {{ __typename }}"));
    q
}

fn documents() -> Vec<(&'static str, String)> {
    let nested = |levels: usize| {
        format!(
            "{{ programs(first: {}1{}) {{ totalCount }} }}",
            "[".repeat(levels),
            "]".repeat(levels)
        )
    };
    vec![
        ("fragment bomb 2^26 (1 KB)", fragment_bomb(26)),
        ("fragment bomb 2^30 (1.2 KB)", fragment_bomb(30)),
        ("values 1,600 deep (3 KB)", nested(1_600)),
        ("values 100,000 deep (200 KB)", nested(100_000)),
        (
            "10,000 aliases (150 KB)",
            format!(
                "{{ {} }}",
                (0..10_000)
                    .map(|i| format!("a{i}:__typename "))
                    .collect::<String>()
            ),
        ),
        (
            "2,500 plain fields (27 KB)",
            format!("{{ {} }}", "__typename ".repeat(2_500)),
        ),
        (
            "introspection query (GraphiQL)",
            include_str!("introspection.graphql").to_owned(),
        ),
    ]
}

fn percentiles(mut samples: Vec<Duration>) -> (f64, f64) {
    samples.sort();
    let at = |q: f64| {
        let i = ((samples.len() as f64 - 1.0) * q).round() as usize;
        samples[i].as_secs_f64() * 1e3
    };
    (at(0.5), at(0.99))
}

fn precheck_alone() {
    println!("\n== document pre-check alone (ms per call)");
    let limits = DocumentLimits::default();
    for (name, text) in documents() {
        let mut samples = Vec::new();
        let mut outcome = String::new();
        for _ in 0..200 {
            let started = Instant::now();
            let result = check(&text, &limits);
            samples.push(started.elapsed());
            outcome = match result {
                Ok(summary) => format!("accepted ({} selections)", summary.selections),
                Err(refusal) => format!("refused {}", refusal.code().as_str()),
            };
        }
        let (p50, p99) = percentiles(samples);
        println!("{name:<34} p50 {p50:>8.4}  p99 {p99:>8.4}  {outcome}");
    }
}

async fn server(
    extra: &[&str],
    database_url: Option<&str>,
) -> anyhow::Result<(Application, tempfile::TempDir)> {
    let dir = tempfile::tempdir()?;
    let data = dir.path().to_string_lossy().to_string();
    let sqlite = format!("sqlite://{data}/bench.db?mode=rwc");
    let mut args = vec![
        "--bind",
        "127.0.0.1:0",
        "--data-dir",
        &data,
        "--database-url",
        database_url.unwrap_or(&sqlite),
        "--demo-data",
        "false",
        "--search-in-memory",
        "true",
        "--log-filter",
        "error",
        "--workers",
        "2",
        "--jwt-secret",
        "bench-secret-bench-secret-bench-secret",
    ];
    args.extend_from_slice(extra);
    let config = Settings::from_args(args)
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .resolve()
        .map_err(|e| anyhow::anyhow!("{e}"))?;
    Ok((
        Application::build_with(config, SearchSetup::Configured).await?,
        dir,
    ))
}

async fn time_requests(
    http: &reqwest::Client,
    url: &str,
    body: &serde_json::Value,
    n: usize,
) -> (f64, f64, u16) {
    let mut samples = Vec::new();
    let mut status = 0;
    for _ in 0..n {
        let started = Instant::now();
        let response = http.post(url).json(body).send().await.expect("answer");
        status = response.status().as_u16();
        let _ = response.bytes().await;
        samples.push(started.elapsed());
    }
    let (p50, p99) = percentiles(samples);
    (p50, p99, status)
}

async fn through_http() -> anyhow::Result<()> {
    println!("\n== hostile documents through HTTP (ms per request, one connection)");
    let (app, _dir) = server(&["--rate-limits", "false"], None).await?;
    let url = format!("http://{}/graphql", app.address());
    tokio::spawn(app.run_until_stopped());
    let http = reqwest::Client::new();
    for (name, text) in documents() {
        let (p50, p99, status) = time_requests(&http, &url, &json!({ "query": text }), 100).await;
        println!("{name:<34} p50 {p50:>8.3}  p99 {p99:>8.3}  HTTP {status}");
    }
    Ok(())
}

async fn limit_costs(database_url: Option<&str>) -> anyhow::Result<()> {
    let engine = if database_url.is_some() {
        "PostgreSQL"
    } else {
        "SQLite"
    };
    println!("\n== rate limits on {engine}");
    // A budget the 15,000 points charged below cannot exhaust (leases stay 100 points).
    let (app, _dir) = server(&["--cost-budget-points", "100000000"], database_url).await?;
    let services = app.services().clone();
    let rule = Rule::new(1_000_000, Duration::from_secs(60));
    let mut samples = Vec::new();
    for i in 0..2_000 {
        let key = format!("bench:{}", i % 50);
        let started = Instant::now();
        limits::spend(&services.db, &key, rule, 1)
            .await
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        samples.push(started.elapsed());
    }
    let (p50, p99) = percentiles(samples);
    println!("one shared spend (GCRA upsert)       p50 {p50:>8.4}  p99 {p99:>8.4} ms");
    let mut samples = Vec::new();
    for _ in 0..5_000 {
        let started = Instant::now();
        services
            .limiter
            .charge(&services.db, "cost:user:1", 3)
            .await
            .map_err(|e| anyhow::anyhow!("{e:?}"))?;
        samples.push(started.elapsed());
    }
    let total: Duration = samples.iter().sum();
    let (p50, p99) = percentiles(samples);
    println!(
        "cost budget, 3 points a request      p50 {p50:>8.4}  p99 {p99:>8.4} ms, mean {:.4} ms (a lease write every ~33 requests)",
        total.as_secs_f64() * 1e3 / 5_000.0
    );
    drop(app);

    let body = json!({ "query": "{ __typename }" });
    let http = reqwest::Client::new();
    let mut figures = Vec::new();
    for (label, extra) in [
        ("limits on ", &[][..]),
        ("limits off", &["--rate-limits", "false"][..]),
    ] {
        let (app, _dir) = server(extra, database_url).await?;
        let url = format!("http://{}/graphql", app.address());
        tokio::spawn(app.run_until_stopped());
        time_requests(&http, &url, &body, 200).await; // warm-up
        let (p50, p99, _) = time_requests(&http, &url, &body, 2_000).await;
        println!("{{ __typename }} over HTTP, {label}    p50 {p50:>8.4}  p99 {p99:>8.4} ms");
        figures.push(p50);
    }
    println!("ratio on/off at p50: {:.2}", figures[0] / figures[1]);
    Ok(())
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    precheck_alone();
    through_http().await?;
    limit_costs(None).await?;
    if let Ok(url) = std::env::var("BENCH_DATABASE_URL") {
        limit_costs(Some(&url)).await?;
    }
    Ok(())
}
