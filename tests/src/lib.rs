//! Test harness: [`TestApp::spawn`] starts the real server on port 0 against a fresh
//! database — a SQLite file in a temporary directory, or, when `TEST_DATABASE_URL` names a
//! PostgreSQL server, a schema of its own that is dropped afterwards — and hands out
//! HTTP clients per role.
#![allow(clippy::unwrap_used, clippy::expect_used)] // this crate is test code

mod client;
mod database;
pub mod fixtures;
pub mod market;
pub mod receiver;
pub mod ws;

use std::net::SocketAddr;

use api::{
    config::Settings,
    search::faulty::{FaultSwitch, FaultyIndex},
    service::Services,
    startup::{Application, SearchSetup, ServerHandle},
};
pub use client::{Client, Gql};
use database::TestDatabase;
use serde_json::{Value, json};

/// The JWT secret of every test server, so tests can sign their own (forged) tokens.
pub const TEST_JWT_SECRET: &str = "test-secret-test-secret-test-secret!";
pub const TEST_ISSUER: &str = "partner-marketplace";
pub const TEST_AUDIENCE: &str = "partner-marketplace-api";
/// A password every rule accepts.
pub const PASSWORD: &str = "correct horse battery staple";

pub struct TestApp {
    pub address: SocketAddr,
    pub services: Services,
    http: reqwest::Client,
    handle: ServerHandle,
    /// The flags it was started with (a replica starts with the same).
    extra: Vec<String>,
    database: TestDatabase,
    /// The Meilisearch index this test created (deleted when it ends); replicas share it
    /// and leave it alone.
    own_index: Option<MeiliIndex>,
    _data_dir: tempfile::TempDir,
}

/// A Meilisearch index of one test: its own prefix, so tests in parallel never write into
/// each other's documents (nor into the development server's `marketplace_programs`).
struct MeiliIndex {
    url: String,
    api_key: Option<String>,
    uid: String,
}

impl MeiliIndex {
    /// With `MEILISEARCH_URL` set, a fresh prefix for this test; `None` otherwise.
    fn fresh() -> Option<(Self, String)> {
        let url = std::env::var("MEILISEARCH_URL")
            .ok()
            .filter(|u| !u.is_empty())?;
        let mut suffix = [0u8; 6];
        getrandom::fill(&mut suffix).expect("random bytes");
        let prefix = format!(
            "test_{}_",
            suffix
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>()
        );
        let index = Self {
            url: url.trim_end_matches('/').to_owned(),
            api_key: std::env::var("MEILISEARCH_API_KEY")
                .ok()
                .filter(|k| !k.is_empty()),
            uid: format!("{prefix}programs"),
        };
        Some((index, prefix))
    }

    /// Deletes the index; from `Drop`, so on a thread with a runtime of its own.
    fn delete(&self) {
        let url = format!("{}/indexes/{}", self.url, self.uid);
        let key = self.api_key.clone();
        let deleting = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(async move {
                let mut request = reqwest::Client::new()
                    .delete(url)
                    .timeout(std::time::Duration::from_secs(5));
                if let Some(key) = key {
                    request = request.bearer_auth(key);
                }
                // Best effort: a test that already failed must not panic again here.
                let _ = request.send().await;
            });
        });
        let _ = deleting.join();
    }
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(&[]).await
    }

    /// Spawns with extra command-line flags (e.g. `["--body-limit-bytes", "2048"]`).
    pub async fn spawn_with(extra: &[&str]) -> Self {
        Self::spawn_full(extra, SearchSetup::Configured).await
    }

    /// Spawns with an in-memory search engine that a test can switch down, hanging or up.
    pub async fn spawn_with_faulty_search(extra: &[&str]) -> (Self, FaultSwitch) {
        let inner = api::search::embedded::EmbeddedIndex::in_memory().expect("in-memory index");
        let (faulty, switch) = FaultyIndex::wrap(std::sync::Arc::new(inner));
        let app = Self::spawn_full(extra, SearchSetup::Given(std::sync::Arc::new(faulty))).await;
        (app, switch)
    }

    /// A second server on the same database, as another replica behind a load balancer
    /// would be (its own process state: search index, caches, in-process limiters).
    pub async fn replica(&self) -> Self {
        let extra: Vec<&str> = self.extra.iter().map(String::as_str).collect();
        let data_dir = tempfile::tempdir().expect("temp dir");
        Self::start(
            &extra,
            SearchSetup::Configured,
            self.database.shared(),
            data_dir,
        )
        .await
    }

    async fn spawn_full(extra: &[&str], search: SearchSetup) -> Self {
        let data_dir = tempfile::tempdir().expect("temp dir");
        let database = TestDatabase::create(data_dir.path()).await;
        let meili = matches!(search, SearchSetup::Configured)
            .then(MeiliIndex::fresh)
            .flatten();
        let Some((index, prefix)) = meili else {
            return Self::start(extra, search, database, data_dir).await;
        };
        // The prefix goes with the flags, so a replica uses the same index.
        let mut flags = extra.to_vec();
        flags.extend(["--search-index-prefix", &prefix]);
        let mut app = Self::start(&flags, search, database, data_dir).await;
        app.own_index = Some(index);
        app
    }

    async fn start(
        extra: &[&str],
        search: SearchSetup,
        database: TestDatabase,
        data_dir: tempfile::TempDir,
    ) -> Self {
        let data = data_dir.path().to_string_lossy().to_string();
        let mut args: Vec<String> = [
            "--bind",
            "127.0.0.1:0",
            "--data-dir",
            &data,
            "--database-url",
            &database.url,
            "--database-max-connections",
            "5",
            "--jwt-secret",
            TEST_JWT_SECRET,
            // Real Argon2id, cheap parameters: tests hash hundreds of passwords.
            "--argon2-memory-kib",
            "256",
            "--argon2-iterations",
            "1",
            "--demo-data",
            "false",
            "--workers",
            "2",
            "--shutdown-timeout-secs",
            "1",
            "--log-filter",
            "warn",
            // The index lives in RAM; tests drain the indexer explicitly, never sleep.
            "--search-in-memory",
            "true",
            "--search-worker",
            "false",
            "--ledger-job",
            "false",
            // Webhooks too: tests dispatch and send explicitly (`deliver_webhooks`).
            "--webhook-worker",
            "false",
            // Limits stay on (their queries run in every test) but out of the way: the
            // whole suite calls from one IP. `limits` tests set realistic ones.
            "--login-failures-per-ip",
            "1000000",
            "--signups-per-ip-per-hour",
            "1000000",
            "--mutations-per-user-per-minute",
            "1000000",
            "--mutations-per-ip-per-minute",
            "1000000",
            "--cost-budget-points",
            "100000000",
            "--cost-restore-per-second",
            "1000000",
            "--ip-requests-per-second",
            "0",
        ]
        .into_iter()
        .map(str::to_owned)
        .collect();
        if let Some(schema) = &database.schema {
            args.extend(["--database-schema".to_owned(), schema.clone()]);
        }
        args.extend(extra.iter().map(|s| (*s).to_owned()));
        let config = Settings::from_args(args)
            .expect("test settings")
            .resolve()
            .expect("valid test config");
        if std::env::var_os("TEST_LOG").is_some() {
            api::telemetry::init(config.log_format, "info");
        }
        let app = Application::build_with(config, search)
            .await
            .expect("application builds");
        let address = app.address();
        let services = app.services().clone();
        let handle = app.handle();
        tokio::spawn(app.run_until_stopped());
        Self {
            address,
            services,
            http: reqwest::Client::new(),
            handle,
            extra: extra.iter().map(|s| (*s).to_owned()).collect(),
            database,
            own_index: None,
            _data_dir: data_dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    pub fn anonymous(&self) -> Client {
        Client::new(self.http.clone(), self.url("/graphql"), None)
    }

    /// A client sending `Authorization: Bearer <token>` as given.
    pub fn with_token(&self, token: &str) -> Client {
        Client::new(
            self.http.clone(),
            self.url("/graphql"),
            Some(token.to_owned()),
        )
    }

    /// Signs up a new user; returns the `signUp` session object.
    pub async fn sign_up(&self, email: &str) -> Value {
        let response = self
            .anonymous()
            .gql(
                "mutation($input: SignUpInput!) { signUp(input: $input) {
                    session { accessToken refreshToken user { id email role } }
                    userErrors { field code message } } }",
                json!({ "input": { "email": email, "password": PASSWORD, "displayName": "Test User" } }),
            )
            .await;
        let payload = response.data("signUp");
        assert_eq!(
            payload["userErrors"],
            json!([]),
            "sign-up of {email} failed"
        );
        payload["session"].clone()
    }

    /// A logged-in client for a new user with this e-mail address.
    pub async fn user(&self, email: &str) -> Client {
        let session = self.sign_up(email).await;
        self.with_token(session["accessToken"].as_str().unwrap())
    }

    /// A logged-in platform admin (promoted in the database: there is no API for it).
    pub async fn admin(&self, email: &str) -> Client {
        use entity::user;
        use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};
        self.sign_up(email).await;
        user::Entity::update_many()
            .col_expr(user::Column::Role, Expr::value("ADMIN"))
            .filter(user::Column::Email.eq(email))
            .exec(&self.services.db)
            .await
            .unwrap();
        let response = self
            .anonymous()
            .gql(
                "mutation($input: LogInInput!) { logIn(input: $input) { session { accessToken } } }",
                json!({ "input": { "email": email, "password": PASSWORD } }),
            )
            .await;
        self.with_token(
            response.data("logIn")["session"]["accessToken"]
                .as_str()
                .unwrap(),
        )
    }

    /// Applies every waiting listing change to the search index (tests never wait for the
    /// indexer). Returns the events processed.
    pub async fn drain_search(&self) -> usize {
        // The indexer announces its writes, as the worker's does.
        api::service::events::consumer::drain(&self.services.db, &self.indexer())
            .await
            .expect("search indexer drained")
    }

    /// The search indexer of this server's engine, to drain or inspect.
    pub fn indexer(&self) -> api::service::indexer::SearchIndexer {
        api::service::indexer::SearchIndexer::new(&self.services, std::time::Duration::from_secs(5))
    }

    /// Events the search indexer has not processed yet.
    pub async fn search_backlog(&self) -> u64 {
        api::service::events::consumer::backlog(&self.services.db, api::service::indexer::NAME)
            .await
            .expect("backlog read")
            .events
    }

    /// Rows in a table, read straight from the database (to prove refusals changed nothing).
    pub async fn count(&self, table: &str) -> i64 {
        use sea_orm::{ConnectionTrait, Statement};
        let backend = self.services.db.get_database_backend();
        let sql = format!("SELECT COUNT(*) AS n FROM \"{table}\"");
        let row = self
            .services
            .db
            .query_one_raw(Statement::from_string(backend, sql))
            .await
            .unwrap()
            .unwrap();
        row.try_get::<i64>("", "n").unwrap()
    }
}

impl TestApp {
    /// Stops the server as SIGTERM would (in-flight requests finish, background workers
    /// end their current batch).
    pub async fn stop(&self) {
        self.handle.stop(true).await;
    }

    /// Runs the webhook dispatcher and sender until nothing is due now (tests never wait
    /// for the workers). Returns the attempts made.
    pub async fn deliver_webhooks(&self) -> usize {
        use api::service::webhooks::{deliver::Sender, dispatch::Dispatcher};
        let dispatcher = Dispatcher {
            queued: std::sync::Arc::clone(&self.services.webhooks_queued),
        };
        api::service::events::consumer::drain(&self.services.db, &dispatcher)
            .await
            .expect("dispatcher drained");
        Sender::new(&self.services.webhook_config)
            .expect("sender")
            .run_until_idle(&self.services.db)
            .await
            .expect("deliveries sent")
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // Not awaited: the runtime is going away with the test anyway.
        drop(self.handle.stop(false));
        if let Some(index) = &self.own_index {
            index.delete();
        }
    }
}
