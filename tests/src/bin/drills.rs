//! Failure drills against the compiled server on PostgreSQL, each bounded in time and on
//! loopback only (`scripts/drills` prepares the databases and runs them, as CI does):
//!
//! - `kill9`: 1,000 concurrent `applyToProgram` with idempotency keys; the server is
//!   killed with SIGKILL at a random moment and started again; clients retry what got
//!   no answer. Nothing acknowledged is lost, nothing is duplicated, and no answer is an
//!   error other than a refused connection.
//! - `postgres-outage`: PostgreSQL is stopped for 30 s under traffic. Requests answer
//!   `SERVICE_UNAVAILABLE` within 3 s, `/readyz` says 503, the process does not panic,
//!   and it serves again within 5 s of the database's return, without a restart.
//! - `sigterm`: SIGTERM with 200 requests in flight; all 200 complete.
//!
//! Usage: `drills <kill9|postgres-outage|sigterm>` with `API_BIN` (the server binary),
//! `DRILL_DATABASE_URL` (and `DRILL_DATABASE_SCHEMA`), and for the outage
//! `DRILL_PG_STOP` / `DRILL_PG_START` (shell commands).
#![allow(clippy::unwrap_used, clippy::expect_used)] // a test program: failing loudly is the point

use std::{
    collections::{HashMap, HashSet},
    io::{BufRead, BufReader, Read, Write},
    net::TcpStream,
    process::{Child, Command, Stdio},
    sync::{
        Arc, Mutex, RwLock,
        atomic::{AtomicBool, AtomicUsize, Ordering},
    },
    time::{Duration, Instant},
};

use serde_json::{Value, json};

const PASSWORD: &str = "correct horse battery staple";

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| panic!("{name} must be set"))
}

/// The server as a child process.
struct Server {
    child: Child,
    address: String,
    log: Arc<Mutex<Vec<String>>>,
}

impl Server {
    fn start(extra: &[(&str, &str)]) -> Self {
        let mut command = Command::new(env("API_BIN"));
        command
            .args(["--bind", "127.0.0.1:0", "--log-filter", "info,sqlx=warn"])
            .env("APP_MODE", "production")
            .env("JWT_SECRET", "drill-secret-drill-secret-drill-secret!")
            .env("DATABASE_URL", env("DRILL_DATABASE_URL"))
            .env("LOG_FORMAT", "pretty")
            .env("SEARCH_IN_MEMORY", "true")
            .env("LEDGER_JOB", "false")
            // One host plays every client: per-IP limits would refuse the drill itself.
            .env("RATE_LIMITS", "false")
            .env("ARGON2_MEMORY_KIB", "19456")
            .env("ARGON2_ITERATIONS", "2")
            .env("DATABASE_MAX_CONNECTIONS", "10")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if let Ok(schema) = std::env::var("DRILL_DATABASE_SCHEMA") {
            command.env("DATABASE_SCHEMA", schema);
        }
        for (k, v) in extra {
            command.env(k, v);
        }
        let mut child = command.spawn().expect("API_BIN starts");
        let log = Arc::new(Mutex::new(Vec::new()));
        let stderr = child.stderr.take().unwrap();
        let err_log = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                err_log.lock().unwrap().push(line);
            }
        });
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let address = loop {
            let line = lines
                .next()
                .expect("the server printed its address")
                .unwrap();
            log.lock().unwrap().push(line.clone());
            if let Some((_, rest)) = line.split_once("listening on http://") {
                break rest.trim().to_owned();
            }
        };
        let out_log = log.clone();
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                out_log.lock().unwrap().push(line);
            }
        });
        Self {
            child,
            address,
            log,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    fn signal(&self, signal: &str) {
        let ok = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill {signal}");
    }

    fn wait_exit(&mut self, within: Duration) -> std::process::ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status;
            }
            assert!(Instant::now() < deadline, "the server did not exit");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn panicked(&self) -> bool {
        self.log
            .lock()
            .unwrap()
            .iter()
            .any(|l| l.contains("panicked") || l.contains("overflowed its stack"))
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        drop(self.child.kill());
        drop(self.child.wait());
    }
}

async fn gql(
    http: &reqwest::Client,
    url: &str,
    token: Option<&str>,
    query: &str,
    variables: Value,
) -> Result<Value, reqwest::Error> {
    let mut request = http
        .post(url)
        .json(&json!({ "query": query, "variables": variables }));
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    request.send().await?.json().await
}

async fn sign_up(http: &reqwest::Client, url: &str, email: &str) -> String {
    let body = gql(
        http,
        url,
        None,
        "mutation($input: SignUpInput!) { signUp(input: $input) { session { accessToken } userErrors { code } } }",
        json!({ "input": { "email": email, "password": PASSWORD, "displayName": "Drill" } }),
    )
    .await
    .unwrap();
    body["data"]["signUp"]["session"]["accessToken"]
        .as_str()
        .unwrap_or_else(|| panic!("sign-up of {email}: {body}"))
        .to_owned()
}

/// A vendor with `programs` published programs that approve automatically, and
/// `partners` partners with profiles. Returns program ids and partner tokens.
async fn marketplace(
    http: &reqwest::Client,
    url: &str,
    programs: usize,
    partners: usize,
) -> (Vec<String>, Vec<String>) {
    let owner = sign_up(http, url, "drill-owner@example.com").await;
    let vendor = gql(
        http,
        url,
        Some(&owner),
        "mutation($input: CreateVendorInput!) { createVendor(input: $input) { vendor { id } userErrors { code } } }",
        json!({ "input": { "slug": "drill-vendor", "name": "Drill", "website": "https://drill.example.com", "country": "US" } }),
    )
    .await
    .unwrap();
    let vendor_id = vendor["data"]["createVendor"]["vendor"]["id"].clone();
    let mut program_ids = Vec::new();
    for i in 0..programs {
        let mut input = tests::fixtures::program_input(&vendor_id, &format!("drill-{i}"));
        input["approvalMode"] = json!("AUTOMATIC");
        let created = gql(
            http,
            url,
            Some(&owner),
            "mutation($input: CreateProgramInput!) { createProgram(input: $input) { program { id version } userErrors { code } } }",
            json!({ "input": input }),
        )
        .await
        .unwrap();
        let program = &created["data"]["createProgram"]["program"];
        let published = gql(
            http,
            url,
            Some(&owner),
            "mutation($input: ProgramVersionInput!) { publishProgram(input: $input) { userErrors { code } } }",
            json!({ "input": { "id": program["id"], "expectedVersion": program["version"] } }),
        )
        .await
        .unwrap();
        assert_eq!(
            published["data"]["publishProgram"]["userErrors"],
            json!([]),
            "{published}"
        );
        program_ids.push(program["id"].as_str().unwrap().to_owned());
    }
    use futures_util::StreamExt;
    // Eight sign-ups at a time: password hashing is deliberately slow, and a burst of
    // 200 would queue past the operation deadline.
    let tokens: Vec<String> = futures_util::stream::iter((0..partners).map(|i| async move {
        let token = sign_up(http, url, &format!("drill-partner-{i}@example.com")).await;
        let profile = gql(
            http,
            url,
            Some(&token),
            "mutation($input: CreatePartnerProfileInput!) { createPartnerProfile(input: $input) { userErrors { code } } }",
            json!({ "input": { "slug": format!("drill-partner-{i}"), "displayName": "Drill partner", "partnerTypes": ["AFFILIATE"] } }),
        )
        .await
        .unwrap();
        assert_eq!(profile["data"]["createPartnerProfile"]["userErrors"], json!([]), "{profile}");
        token
    }))
    .buffered(8)
    .collect()
    .await;
    (program_ids, tokens)
}

const APPLY: &str = "mutation($input: ApplyToProgramInput!) { applyToProgram(input: $input) {
    application { id status } userErrors { code } } }";

/// kill -9 in the middle of 1,000 concurrent applications, then a restart.
async fn kill9() {
    let mut server = Server::start(&[]);
    let base = Arc::new(RwLock::new(server.url("/graphql")));
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let url = base.read().unwrap().clone();
    let (programs, partners) = marketplace(&http, &url, 5, 200).await;
    let mut jobs: Vec<(String, String, String)> = Vec::new();
    for (p, token) in partners.iter().enumerate() {
        for (g, program) in programs.iter().enumerate() {
            jobs.push((token.clone(), program.clone(), format!("drill-{p}-{g}")));
        }
    }
    let total = jobs.len();
    let queue = Arc::new(Mutex::new(jobs));
    let acknowledged: Arc<Mutex<HashMap<String, String>>> = Arc::default();
    let other_errors: Arc<Mutex<Vec<String>>> = Arc::default();
    let connection_failures = Arc::new(AtomicUsize::new(0));
    let answered = Arc::new(AtomicUsize::new(0));
    let mut kill_after = [0u8; 2];
    getrandom::fill(&mut kill_after).unwrap();
    // Somewhere between the 50th and the 800th answer.
    let kill_after = 50 + usize::from(u16::from_le_bytes(kill_after)) % 750;
    let mut workers = Vec::new();
    for _ in 0..32 {
        let (queue, acknowledged, other_errors, failures, answered, base, http) = (
            queue.clone(),
            acknowledged.clone(),
            other_errors.clone(),
            connection_failures.clone(),
            answered.clone(),
            base.clone(),
            http.clone(),
        );
        workers.push(tokio::spawn(async move {
            loop {
                let next = queue.lock().unwrap().pop();
                let Some((token, program, key)) = next else { break };
                let started = Instant::now();
                loop {
                    let url = base.read().unwrap().clone();
                    let input = json!({ "input": { "programId": program, "joinSource": "MARKETPLACE_BROWSE",
                        "idempotencyKey": key, "answers": [] } });
                    match gql(&http, &url, Some(&token), APPLY, input).await {
                        Ok(body) => {
                            let application = &body["data"]["applyToProgram"]["application"];
                            match application["id"].as_str() {
                                Some(id) if body.get("errors").is_none() => {
                                    acknowledged.lock().unwrap().insert(key.clone(), id.to_owned());
                                }
                                _ => other_errors.lock().unwrap().push(body.to_string()),
                            }
                            answered.fetch_add(1, Ordering::Relaxed);
                            break;
                        }
                        Err(_) => {
                            // Refused, reset or cut off by the kill: retry the same key.
                            failures.fetch_add(1, Ordering::Relaxed);
                            assert!(started.elapsed() < Duration::from_secs(120), "no server for two minutes");
                            tokio::time::sleep(Duration::from_millis(200)).await;
                        }
                    }
                }
            }
        }));
    }
    while answered.load(Ordering::Relaxed) < kill_after {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let acked_before_kill = acknowledged.lock().unwrap().clone();
    server.signal("-KILL");
    server.wait_exit(Duration::from_secs(5));
    let killed_at = answered.load(Ordering::Relaxed);
    tokio::time::sleep(Duration::from_millis(500)).await;
    let restarted = tokio::task::spawn_blocking(|| Server::start(&[]))
        .await
        .unwrap();
    *base.write().unwrap() = restarted.url("/graphql");
    for worker in workers {
        worker.await.unwrap();
    }
    let acknowledged = acknowledged.lock().unwrap().clone();
    let errors = other_errors.lock().unwrap().clone();
    // Every acknowledged application is in the database, once.
    let url = restarted.url("/graphql");
    let mut seen: HashSet<String> = HashSet::new();
    let mut rows = 0;
    for token in &partners {
        let mine = gql(
            &http,
            &url,
            Some(token),
            "{ myApplications(first: 100) { edges { node { id program { id } } } } }",
            json!({}),
        )
        .await
        .unwrap();
        let edges = mine["data"]["myApplications"]["edges"]
            .as_array()
            .unwrap_or_else(|| panic!("{mine}"));
        let programs_applied: HashSet<&str> = edges
            .iter()
            .map(|e| e["node"]["program"]["id"].as_str().unwrap())
            .collect();
        assert_eq!(
            programs_applied.len(),
            edges.len(),
            "a duplicate application: {mine}"
        );
        rows += edges.len();
        seen.extend(
            edges
                .iter()
                .map(|e| e["node"]["id"].as_str().unwrap().to_owned()),
        );
    }
    let lost: Vec<&String> = acknowledged
        .values()
        .filter(|id| !seen.contains(*id))
        .collect();
    let lost_before_kill: Vec<&String> = acked_before_kill
        .values()
        .filter(|id| !seen.contains(*id))
        .collect();
    println!(
        "kill9: killed after {killed_at} of {total} answers; {} acknowledged ({} before the kill), {rows} rows, {} lost, {} duplicates, {} connection failures retried, {} other errors, panics: {}",
        acknowledged.len(),
        acked_before_kill.len(),
        lost.len(),
        rows.saturating_sub(seen.len()),
        connection_failures.load(Ordering::Relaxed),
        errors.len(),
        restarted.panicked()
    );
    assert!(
        lost.is_empty() && lost_before_kill.is_empty(),
        "acknowledged but lost: {lost:?}"
    );
    assert_eq!(rows, total, "every application exactly once");
    assert_eq!(
        acknowledged.len(),
        total,
        "every request answered in the end"
    );
    assert!(
        errors.is_empty(),
        "errors other than connection failures: {:?}",
        &errors[..errors.len().min(5)]
    );
    assert!(!restarted.panicked());
}

fn shell(command: &str) {
    let ok = Command::new("sh")
        .args(["-c", command])
        .status()
        .unwrap()
        .success();
    assert!(ok, "`{command}` failed");
}

/// PostgreSQL stopped for 30 s under traffic.
async fn postgres_outage() {
    let server = Server::start(&[("DATABASE_ACQUIRE_TIMEOUT_MS", "2000")]);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let url = server.url("/graphql");
    let token = sign_up(&http, &url, "outage@example.com").await;
    let query = "{ viewer { id } programs(first: 3) { totalCount } }";
    let ok = gql(&http, &url, Some(&token), query, json!({}))
        .await
        .unwrap();
    assert!(ok.get("errors").is_none(), "{ok}");

    shell(&env("DRILL_PG_STOP"));
    let down_since = Instant::now();
    let mut slowest = Duration::ZERO;
    let mut answers = 0;
    let mut codes: HashMap<String, usize> = HashMap::new();
    while down_since.elapsed() < Duration::from_secs(30) {
        let started = Instant::now();
        let body = gql(&http, &url, Some(&token), query, json!({}))
            .await
            .expect("an HTTP answer");
        slowest = slowest.max(started.elapsed());
        answers += 1;
        for error in body["errors"].as_array().cloned().unwrap_or_default() {
            let code = error["extensions"]["code"]
                .as_str()
                .unwrap_or("none")
                .to_owned();
            *codes.entry(code).or_default() += 1;
        }
        let ready = http
            .get(server.url("/readyz"))
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(ready, 503, "readyz while the database is down");
        let alive = http
            .get(server.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(alive, 200);
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    shell(&env("DRILL_PG_START"));
    let back_since = Instant::now();
    let recovered = loop {
        let body = gql(&http, &url, Some(&token), query, json!({}))
            .await
            .unwrap();
        if body.get("errors").is_none() {
            break back_since.elapsed();
        }
        assert!(
            back_since.elapsed() < Duration::from_secs(30),
            "never recovered: {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let ready = http
        .get(server.url("/readyz"))
        .send()
        .await
        .unwrap()
        .status();
    println!(
        "postgres-outage: {answers} requests during 30 s down, slowest answer {:.2} s, codes {codes:?}; served again {:.2} s after the database returned; readyz {ready}; panics: {}",
        slowest.as_secs_f64(),
        recovered.as_secs_f64(),
        server.panicked()
    );
    assert!(
        slowest < Duration::from_secs(3),
        "slowest answer {slowest:?}"
    );
    assert!(
        codes.keys().all(|c| c == "SERVICE_UNAVAILABLE"),
        "{codes:?}"
    );
    assert!(codes.contains_key("SERVICE_UNAVAILABLE"));
    assert!(
        recovered < Duration::from_secs(5),
        "recovered after {recovered:?}"
    );
    assert_eq!(ready, 200);
    assert!(!server.panicked());
}

/// SIGTERM with 200 requests in flight.
fn sigterm() {
    let mut server = Server::start(&[("SHUTDOWN_TIMEOUT_SECS", "30")]);
    let body = r#"{"query":"{ programs(first: 1) { totalCount } }"}"#;
    let mut streams = Vec::new();
    for _ in 0..200 {
        let mut stream = TcpStream::connect(&server.address).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        write!(
            stream,
            "POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{}",
            body.len(),
            &body[..10]
        )
        .unwrap();
        streams.push(stream);
    }
    std::thread::sleep(Duration::from_millis(500));
    server.signal("-TERM");
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        server.child.try_wait().unwrap().is_none(),
        "exited with requests in flight"
    );
    let done = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicBool::new(false));
    let handles: Vec<_> = streams
        .into_iter()
        .map(|mut stream| {
            let (done, failed) = (done.clone(), failed.clone());
            std::thread::spawn(move || {
                stream.write_all(&body.as_bytes()[10..]).unwrap();
                let mut response = String::new();
                drop(stream.read_to_string(&mut response));
                if response.starts_with("HTTP/1.1 200") && response.contains("totalCount") {
                    done.fetch_add(1, Ordering::Relaxed);
                } else {
                    failed.store(true, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for handle in handles {
        handle.join().unwrap();
    }
    let status = server.wait_exit(Duration::from_secs(30));
    let completed = done.load(Ordering::Relaxed);
    println!(
        "sigterm: {completed} of 200 in-flight requests completed; exit {status}; panics: {}",
        server.panicked()
    );
    assert_eq!(completed, 200);
    assert!(status.success());
}

fn main() {
    let drill = std::env::args().nth(1).unwrap_or_default();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap();
    match drill.as_str() {
        "kill9" => runtime.block_on(kill9()),
        "postgres-outage" => runtime.block_on(postgres_outage()),
        "sigterm" => sigterm(),
        other => panic!("unknown drill `{other}` (kill9, postgres-outage, sigterm)"),
    }
}
