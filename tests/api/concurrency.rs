//! Concurrency as the load test ran it: many partners applying at once to programs that
//! approve automatically, so every application also enrolls and moves the program's
//! statistics. On PostgreSQL this deadlocked (23.9 % INTERNAL_SERVER_ERROR) until every
//! writer took the program's lock first.

use std::sync::{Arc, Mutex};

use serde_json::{Value, json};
use tests::{Client, TestApp, market::APPLY};

const PROGRAMS: usize = 5;
const PARTNERS: usize = 200;
const CLIENTS: usize = 32;

/// Runs `jobs` on `CLIENTS` concurrent workers; returns the results in job order.
async fn run_concurrently<J, R, F, Fut>(jobs: Vec<J>, work: F) -> Vec<R>
where
    J: Send + 'static,
    R: Send + 'static,
    F: Fn(J) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = R> + Send,
{
    let total = jobs.len();
    let queue = Arc::new(Mutex::new(jobs.into_iter().enumerate().collect::<Vec<_>>()));
    let results = Arc::new(Mutex::new(Vec::with_capacity(total)));
    let work = Arc::new(work);
    let mut workers = Vec::new();
    for _ in 0..CLIENTS {
        let (queue, results, work) = (queue.clone(), results.clone(), work.clone());
        workers.push(tokio::spawn(async move {
            loop {
                let next = queue.lock().unwrap().pop();
                let Some((index, job)) = next else { break };
                let result = work(job).await;
                results.lock().unwrap().push((index, result));
            }
        }));
    }
    for worker in workers {
        worker.await.unwrap();
    }
    let mut results = std::mem::take(&mut *results.lock().unwrap());
    results.sort_by_key(|(index, _)| *index);
    results.into_iter().map(|(_, r)| r).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_concurrent_applications_to_automatic_programs_all_succeed() {
    let app = Arc::new(TestApp::spawn_with(&["--database-max-connections", "10"]).await);
    let owner = app.user("owner-load@example.com").await;
    let vendor = app.vendor(&owner, "load-vendor").await;
    let mut programs = Vec::new();
    for i in 0..PROGRAMS {
        let (id, version) = app
            .program(
                &owner,
                &vendor,
                &format!("load-{i}"),
                json!({ "approvalMode": "AUTOMATIC" }),
            )
            .await;
        app.publish(&owner, &id, version).await;
        programs.push(id);
    }
    let partners: Vec<Client> = run_concurrently((0..PARTNERS).collect(), {
        let app = app.clone();
        move |i| {
            let app = app.clone();
            async move {
                let partner = app.user(&format!("load-partner-{i}@example.com")).await;
                app.partner_profile(&partner, &format!("load-partner-{i}"), json!({}))
                    .await;
                partner
            }
        }
    })
    .await;

    // Every (partner, program) pair once, in a shuffled but repeatable order.
    let mut pairs: Vec<(Client, Value, String)> = Vec::new();
    for (p, partner) in partners.iter().enumerate() {
        for (g, program) in programs.iter().enumerate() {
            pairs.push((partner.clone(), program.clone(), format!("load-{p}-{g}")));
        }
    }
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    for i in (1..pairs.len()).rev() {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        pairs.swap(i, usize::try_from(seed % (i as u64 + 1)).unwrap());
    }
    let answers = run_concurrently(pairs, |(partner, program, key)| async move {
        partner
            .gql(
                APPLY,
                json!({ "input": {
                    "programId": program, "joinSource": "MARKETPLACE_BROWSE",
                    "idempotencyKey": key, "answers": [], "pitch": "Load test."
                } }),
            )
            .await
    })
    .await;

    let mut problems = Vec::new();
    for answer in &answers {
        let payload = &answer.body["data"]["applyToProgram"];
        let approved = payload["application"]["status"] == "APPROVED"
            && payload["userErrors"] == json!([])
            && answer.body.get("errors").is_none();
        if !approved {
            problems.push(answer.body.to_string());
        }
    }
    assert!(
        problems.is_empty(),
        "{} of {} applications failed, e.g. {}",
        problems.len(),
        answers.len(),
        problems[0]
    );
    assert_eq!(app.count("application").await, (PROGRAMS * PARTNERS) as i64);
    assert_eq!(app.count("enrollment").await, (PROGRAMS * PARTNERS) as i64);
    // Each program's statistics saw every one of its partnerships.
    for program in &programs {
        let figures = app
            .anonymous()
            .gql(
                "query($id: ID!) { node(id: $id) { ... on Program { trust { enrolledPartners decisions approvalRate } } } }",
                json!({ "id": program }),
            )
            .await;
        let trust = &figures.data("node")["trust"];
        assert_eq!(trust["enrolledPartners"], PARTNERS, "{trust}");
        assert_eq!(trust["decisions"], PARTNERS, "{trust}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ten_concurrent_retries_with_one_idempotency_key_give_ten_identical_answers() {
    let app = TestApp::spawn().await;
    let market = app.market("retries").await;
    let mut tasks = Vec::new();
    for _ in 0..10 {
        let (partner, input) = (
            market.partner.clone(),
            json!({
                "programId": market.program_id,
                "answers": TestApp::good_answers(&market.questions),
                "joinSource": "MARKETPLACE_SEARCH",
                "idempotencyKey": "same-key",
            }),
        );
        tasks.push(tokio::spawn(async move {
            partner.gql(APPLY, json!({ "input": input })).await
        }));
    }
    let mut answers = Vec::new();
    for task in tasks {
        // The data of each answer (extensions.cost differs: each one spent the budget).
        answers.push(task.await.unwrap().body["data"].clone());
    }
    let first = &answers[0];
    assert_eq!(
        first["applyToProgram"]["userErrors"],
        json!([]),
        "{first:#}"
    );
    for answer in &answers {
        assert_eq!(answer, first);
    }
    assert_eq!(app.count("application").await, 1);
}
