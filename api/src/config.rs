//! Typed settings: defaults → command-line flags → environment variables, validated once
//! into a [`Config`]. Nothing else in the crate reads the environment.

use std::{
    fmt,
    net::SocketAddr,
    path::{Path, PathBuf},
    time::Duration,
};

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Minimum JWT secret length accepted in production (HS256 wants ≥ 256 bits of key).
pub const MIN_JWT_SECRET_BYTES: usize = 32;
/// Access tokens never live longer than this, whatever the configuration says.
pub const MAX_ACCESS_TOKEN_TTL_SECS: u64 = 15 * 60;

/// Command line of the `api` binary.
#[derive(Debug, Parser)]
#[command(
    name = "api",
    // A flag given twice keeps the last value (tests layer overrides on defaults).
    args_override_self = true,
    version,
    about = "GraphQL API for a marketplace of B2B SaaS partner programs",
    long_about = "GraphQL API for a marketplace of B2B SaaS partner programs.\n\n\
        With no configuration it serves the embedded mode: a SQLite database and its \
        secrets under ./data, GraphiQL at /graphiql, demo accounts seeded on first start. \
        Every flag can also be given as the environment variable shown next to it."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub settings: Settings,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the HTTP server (the default).
    Serve,
    /// Print the GraphQL schema (SDL, sorted) to stdout or to a file.
    PrintSchema {
        /// Write to this file instead of stdout.
        #[arg(long, short)]
        output: Option<PathBuf>,
    },
    /// Rebuild the search index from the database into a new index and swap it in.
    /// (The embedded engine's index belongs to one process: stop the server first.)
    Reindex,
    /// Apply migrations, then create whatever is missing of the demo marketplace
    /// (or, with --generate, benchmark programs).
    Seed {
        /// Generate this many deterministic benchmark programs instead of the demo.
        #[arg(long)]
        generate: Option<u64>,
        /// Programs written per transaction when generating.
        #[arg(long, default_value_t = 500)]
        batch: usize,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Mode {
    /// GraphiQL, introspection, pretty logs, generated JWT secret, demo data.
    Development,
    /// No GraphiQL, JSON logs, an explicit JWT secret of ≥ 32 bytes is required.
    Production,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    Pretty,
    Json,
}

/// Raw settings as given on the command line or in the environment.
#[derive(Debug, Clone, Args)]
pub struct Settings {
    /// development or production.
    #[arg(long, env = "APP_MODE", value_enum, default_value_t = Mode::Development)]
    pub mode: Mode,

    /// Address to listen on (port 0 picks a free port).
    #[arg(long, env = "BIND_ADDR", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,

    /// Directory for the embedded mode's files (SQLite database, generated secret).
    #[arg(long, env = "DATA_DIR", default_value = "./data")]
    pub data_dir: PathBuf,

    /// Database URL: sqlite://… or postgres://… (default: a SQLite file in DATA_DIR).
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,

    /// PostgreSQL schema to use (search_path); the server default if unset.
    #[arg(long, env = "DATABASE_SCHEMA")]
    pub database_schema: Option<String>,

    /// Size of the database connection pool.
    #[arg(long, env = "DATABASE_MAX_CONNECTIONS", default_value_t = 10)]
    pub database_max_connections: u32,

    /// Milliseconds to wait for a database connection before answering
    /// SERVICE_UNAVAILABLE.
    #[arg(long, env = "DATABASE_ACQUIRE_TIMEOUT_MS", default_value_t = 2_000)]
    pub database_acquire_timeout_ms: u64,

    /// PostgreSQL `statement_timeout` in milliseconds.
    #[arg(long, env = "DATABASE_STATEMENT_TIMEOUT_MS", default_value_t = 5_000)]
    pub database_statement_timeout_ms: u64,

    /// Seconds an operation may run before it is cancelled with TIMEOUT.
    #[arg(long, env = "OPERATION_TIMEOUT_SECS", default_value_t = 10)]
    pub operation_timeout_secs: u64,

    /// Apply pending migrations at start-up.
    #[arg(long, env = "AUTO_MIGRATE", default_value_t = true, action = clap::ArgAction::Set)]
    pub auto_migrate: bool,

    /// Write demo accounts into an empty database at start-up (development mode only).
    #[arg(long, env = "DEMO_DATA", default_value_t = true, action = clap::ArgAction::Set)]
    pub demo_data: bool,

    /// HS256 secret for access tokens (≥ 32 bytes; required in production).
    #[arg(long, env = "JWT_SECRET", hide_env_values = true)]
    pub jwt_secret: Option<String>,

    /// Former JWT secrets, comma-separated: tokens they signed still verify (key
    /// rotation; remove them once the access-token lifetime has passed).
    #[arg(
        long,
        env = "JWT_PREVIOUS_SECRETS",
        value_delimiter = ',',
        hide_env_values = true
    )]
    pub jwt_previous_secrets: Vec<String>,

    /// `iss` claim written into and required from access tokens.
    #[arg(long, env = "JWT_ISSUER", default_value = "partner-marketplace")]
    pub jwt_issuer: String,

    /// `aud` claim written into and required from access tokens.
    #[arg(long, env = "JWT_AUDIENCE", default_value = "partner-marketplace-api")]
    pub jwt_audience: String,

    /// Access token lifetime in seconds (at most 900).
    #[arg(long, env = "ACCESS_TOKEN_TTL_SECS", default_value_t = 900)]
    pub access_token_ttl_secs: u64,

    /// Refresh token lifetime in days.
    #[arg(long, env = "REFRESH_TOKEN_TTL_DAYS", default_value_t = 30)]
    pub refresh_token_ttl_days: u32,

    /// Origins allowed by CORS, comma-separated (none: same-origin only).
    #[arg(long, env = "CORS_ORIGINS", value_delimiter = ',')]
    pub cors_origins: Vec<String>,

    /// Largest accepted request body in bytes.
    #[arg(long, env = "BODY_LIMIT_BYTES", default_value_t = 1024 * 1024)]
    pub body_limit_bytes: usize,

    /// Seconds a request body may take to arrive (slow senders answer 408).
    #[arg(long, env = "BODY_READ_TIMEOUT_SECS", default_value_t = 10)]
    pub body_read_timeout_secs: u64,

    /// Anonymous query answers kept in memory for repeated requests (0 turns the response
    /// cache off).
    #[arg(long, env = "RESPONSE_CACHE_ENTRIES", default_value_t = 1024)]
    pub response_cache_entries: usize,

    /// Most bytes of answers the response cache holds.
    #[arg(long, env = "RESPONSE_CACHE_BYTES", default_value_t = 16 * 1024 * 1024)]
    pub response_cache_bytes: usize,

    /// Seconds a cached answer is served at most, even when no change was announced.
    #[arg(long, env = "RESPONSE_CACHE_TTL_SECS", default_value_t = 5)]
    pub response_cache_ttl_secs: u64,

    /// Largest accepted query document in bytes (checked before parsing).
    #[arg(long, env = "GRAPHQL_MAX_DOCUMENT_BYTES", default_value_t = 32 * 1024)]
    pub max_document_bytes: usize,

    /// Most lexical tokens accepted in one query document (checked before parsing).
    #[arg(long, env = "GRAPHQL_MAX_TOKENS", default_value_t = 15_000)]
    pub max_tokens: usize,

    /// Deepest accepted selection nesting (GraphiQL's introspection query needs 14).
    #[arg(long, env = "GRAPHQL_MAX_DEPTH", default_value_t = 15)]
    pub max_depth: usize,

    /// Highest accepted query cost (list fields weigh `first` times their children).
    #[arg(long, env = "GRAPHQL_MAX_COMPLEXITY", default_value_t = 10_000)]
    pub max_complexity: usize,

    /// Most aliases accepted in one document.
    #[arg(long, env = "GRAPHQL_MAX_ALIASES", default_value_t = 30)]
    pub max_aliases: usize,

    /// Most root fields accepted in one operation.
    #[arg(long, env = "GRAPHQL_MAX_ROOT_FIELDS", default_value_t = 20)]
    pub max_root_fields: usize,

    /// Most root fields accepted in one mutation (each is a write).
    #[arg(long, env = "GRAPHQL_MAX_MUTATION_FIELDS", default_value_t = 1)]
    pub max_mutation_fields: usize,

    /// Allow introspection (default: on in development, off in production).
    #[arg(long, env = "GRAPHQL_INTROSPECTION", action = clap::ArgAction::Set)]
    pub introspection: Option<bool>,

    /// Log format (default: pretty in development, json in production).
    #[arg(long, env = "LOG_FORMAT", value_enum)]
    pub log_format: Option<LogFormat>,

    /// Log filter, tracing-subscriber syntax.
    #[arg(long, env = "RUST_LOG", default_value = "info,sqlx=warn,sea_orm=warn")]
    pub log_filter: String,

    /// HTTP worker threads (default: one per core).
    #[arg(long, env = "HTTP_WORKERS")]
    pub workers: Option<usize>,

    /// Seconds in-flight requests get to finish after SIGTERM.
    #[arg(long, env = "SHUTDOWN_TIMEOUT_SECS", default_value_t = 30)]
    pub shutdown_timeout_secs: u64,

    /// Argon2id memory cost in KiB (OWASP: 19456).
    #[arg(long, env = "ARGON2_MEMORY_KIB", default_value_t = 19_456)]
    pub argon2_memory_kib: u32,

    /// Argon2id iterations (OWASP: 2).
    #[arg(long, env = "ARGON2_ITERATIONS", default_value_t = 2)]
    pub argon2_iterations: u32,

    /// Password hashes computed at once (default: one per core); the rest queue.
    #[arg(long, env = "PASSWORD_HASH_CONCURRENCY")]
    pub password_hash_concurrency: Option<usize>,

    /// Meilisearch server (e.g. http://127.0.0.1:7700); unset: the embedded engine.
    #[arg(long, env = "MEILISEARCH_URL")]
    pub meilisearch_url: Option<String>,

    /// Meilisearch API key (the master key, or a key allowed to manage its indexes).
    #[arg(long, env = "MEILISEARCH_API_KEY", hide_env_values = true)]
    pub meilisearch_api_key: Option<String>,

    /// Prefix of search index names, so environments sharing a server never collide.
    #[arg(long, env = "SEARCH_INDEX_PREFIX", default_value = "marketplace_")]
    pub search_index_prefix: String,

    /// Milliseconds a search may take before answering SEARCH_UNAVAILABLE.
    #[arg(long, env = "SEARCH_TIMEOUT_MS", default_value_t = 1000)]
    pub search_timeout_ms: u64,

    /// Seconds an index write may take before it is retried later.
    #[arg(long, env = "SEARCH_WRITE_TIMEOUT_SECS", default_value_t = 30)]
    pub search_write_timeout_secs: u64,

    /// Run the worker that keeps the search index in sync (tests drain explicitly).
    #[arg(long, env = "SEARCH_WORKER", default_value_t = true, action = clap::ArgAction::Set)]
    pub search_worker: bool,

    /// Run the job that approves commissions once their holding period ends (tests run
    /// it explicitly, with their own clock).
    #[arg(long, env = "LEDGER_JOB", default_value_t = true, action = clap::ArgAction::Set)]
    pub ledger_job: bool,

    /// Run the webhook dispatcher and sender (tests drive them explicitly).
    #[arg(long, env = "WEBHOOK_WORKER", default_value_t = true, action = clap::ArgAction::Set)]
    pub webhook_worker: bool,

    /// Let webhooks reach loopback, private and link-local addresses (default: in
    /// development only). Production refuses them, checked on the address connected to.
    #[arg(long, env = "WEBHOOKS_ALLOW_LOCAL", action = clap::ArgAction::Set)]
    pub webhooks_allow_local: Option<bool>,

    /// Seconds between a webhook's failed attempts, one per retry (jitter ±10 %).
    #[arg(
        long,
        env = "WEBHOOK_RETRY_SCHEDULE_SECS",
        value_delimiter = ',',
        default_value = "5,300,1800,7200,18000,36000,36000"
    )]
    pub webhook_retry_schedule_secs: Vec<u64>,

    /// Seconds a webhook receiver has to answer.
    #[arg(long, env = "WEBHOOK_TIMEOUT_SECS", default_value_t = 10)]
    pub webhook_timeout_secs: u64,

    /// Rate limits on or off (`off` only for benchmarks and load tests from one host).
    #[arg(long, env = "RATE_LIMITS", default_value_t = true, action = clap::ArgAction::Set)]
    pub rate_limits: bool,

    /// Failed log-ins allowed per account in LOGIN_WINDOW_SECS (then RATE_LIMITED).
    #[arg(long, env = "LOGIN_FAILURES_PER_ACCOUNT", default_value_t = 5)]
    pub login_failures_per_account: u32,

    /// Failed log-ins allowed per client IP in LOGIN_WINDOW_SECS.
    #[arg(long, env = "LOGIN_FAILURES_PER_IP", default_value_t = 20)]
    pub login_failures_per_ip: u32,

    /// The window of the log-in limits, in seconds.
    #[arg(long, env = "LOGIN_WINDOW_SECS", default_value_t = 900)]
    pub login_window_secs: u64,

    /// Sign-ups allowed per client IP and hour.
    #[arg(long, env = "SIGNUPS_PER_IP_PER_HOUR", default_value_t = 5)]
    pub signups_per_ip_per_hour: u32,

    /// Mutations allowed per user or API key and minute.
    #[arg(long, env = "MUTATIONS_PER_USER_PER_MINUTE", default_value_t = 120)]
    pub mutations_per_user_per_minute: u32,

    /// Mutations allowed per client IP and minute for anonymous callers.
    #[arg(long, env = "MUTATIONS_PER_IP_PER_MINUTE", default_value_t = 60)]
    pub mutations_per_ip_per_minute: u32,

    /// Cost budget per user, API key or anonymous IP, in points (1 point per 10 units of
    /// query complexity, at least 1 per request).
    #[arg(long, env = "COST_BUDGET_POINTS", default_value_t = 1_000)]
    pub cost_budget_points: u32,

    /// Points of the cost budget restored per second.
    #[arg(long, env = "COST_RESTORE_PER_SECOND", default_value_t = 50)]
    pub cost_restore_per_second: u32,

    /// Requests per second per client IP admitted by the in-process first line (burst
    /// twice that); 0 turns it off.
    #[arg(long, env = "IP_REQUESTS_PER_SECOND", default_value_t = 200)]
    pub ip_requests_per_second: u32,

    /// Reverse proxies in front of the server that append to X-Forwarded-For: the
    /// client IP is taken that many entries from the right (0: the TCP peer).
    #[arg(long, env = "TRUSTED_PROXY_HOPS", default_value_t = 0)]
    pub trusted_proxy_hops: usize,

    /// Keep the embedded search index in RAM instead of DATA_DIR/search (tests).
    #[arg(long, env = "SEARCH_IN_MEMORY", default_value_t = false, action = clap::ArgAction::Set)]
    pub search_in_memory: bool,
}

/// Why the settings cannot start a server.
#[derive(Debug)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

/// A secret that never shows up in `Debug` output or logs.
#[derive(Clone)]
pub struct Secret(Vec<u8>);

impl Secret {
    pub fn new(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }

    pub fn expose(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(**redacted**)")
    }
}

/// Validated configuration handed to [`crate::startup::Application::build`].
#[derive(Debug, Clone)]
pub struct Config {
    pub mode: Mode,
    /// Run the commission approval job.
    pub ledger_job: bool,
    pub bind: SocketAddr,
    pub data_dir: PathBuf,
    pub database: DatabaseConfig,
    pub auto_migrate: bool,
    pub demo_data: bool,
    pub auth: AuthConfig,
    pub http: HttpConfig,
    pub graphql: GraphqlConfig,
    pub log_format: LogFormat,
    pub log_filter: String,
    pub search: SearchConfig,
    pub limits: LimitsConfig,
    pub webhooks: WebhookConfig,
}

/// Webhook delivery (`service::webhooks`).
#[derive(Debug, Clone)]
pub struct WebhookConfig {
    pub worker: bool,
    /// Endpoints may use `http://` (development).
    pub allow_http: bool,
    /// Endpoints may resolve to loopback, private or link-local addresses.
    pub allow_local: bool,
    /// The waits between attempts; the delivery fails after the last.
    pub retry_schedule: Vec<Duration>,
    pub timeout: Duration,
}

/// Rate limits (see `service::limits`). `enabled: false` turns every one off.
#[derive(Debug, Clone)]
pub struct LimitsConfig {
    pub enabled: bool,
    pub login_per_account: crate::service::limits::Rule,
    pub login_per_ip: crate::service::limits::Rule,
    pub signups_per_ip: crate::service::limits::Rule,
    pub mutations_per_user: crate::service::limits::Rule,
    pub mutations_per_ip: crate::service::limits::Rule,
    pub cost_budget: crate::service::limits::Rule,
    /// Points a replica takes from the shared budget at once.
    pub cost_lease: u32,
    pub ip_requests_per_second: u32,
    pub trusted_proxy_hops: usize,
}

#[derive(Debug, Clone)]
pub enum SearchEngine {
    /// tantivy, in `dir` (or in RAM when `None`).
    Embedded { dir: Option<PathBuf> },
    Meilisearch {
        url: String,
        api_key: Option<Secret>,
    },
}

#[derive(Debug, Clone)]
pub struct SearchConfig {
    pub engine: SearchEngine,
    pub index_prefix: String,
    pub search_timeout: Duration,
    pub write_timeout: Duration,
    pub worker: bool,
}

#[derive(Debug, Clone)]
pub struct DatabaseConfig {
    pub url: String,
    pub schema: Option<String>,
    pub max_connections: u32,
    /// Longest wait for a pooled connection (or a new one).
    pub acquire_timeout: Duration,
    /// PostgreSQL `statement_timeout`.
    pub statement_timeout: Duration,
}

#[derive(Debug, Clone)]
pub struct AuthConfig {
    pub jwt_secret: Secret,
    /// Former secrets that still verify (not sign).
    pub previous_secrets: Vec<Secret>,
    pub issuer: String,
    pub audience: String,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    pub argon2_memory_kib: u32,
    pub argon2_iterations: u32,
    pub hash_concurrency: usize,
}

#[derive(Debug, Clone)]
pub struct HttpConfig {
    pub cors_origins: Vec<String>,
    pub body_limit_bytes: usize,
    pub workers: usize,
    pub shutdown_timeout: Duration,
    pub body_read_timeout: Duration,
    /// An operation running longer is cancelled (its transaction rolls back).
    pub operation_timeout: Duration,
    pub graphiql: bool,
    pub response_cache: ResponseCacheConfig,
}

/// Anonymous query answers kept for repeated requests (`http::response_cache`).
#[derive(Debug, Clone, Copy)]
pub struct ResponseCacheConfig {
    /// 0: off.
    pub entries: usize,
    pub max_bytes: usize,
    pub ttl: Duration,
}

#[derive(Debug, Clone)]
pub struct GraphqlConfig {
    pub max_depth: usize,
    pub max_complexity: usize,
    pub max_aliases: usize,
    pub max_root_fields: usize,
    pub max_mutation_fields: usize,
    pub introspection: bool,
    /// Size, tokens, nesting and fragment expansion, checked before parsing.
    pub document: crate::graphql::precheck::DocumentLimits,
    /// Field suggestions ("Did you mean …?") in validation errors: development only.
    pub suggestions: bool,
}

impl Settings {
    /// Settings from defaults and the environment only, as the server would see them
    /// with no flags.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_args(std::iter::empty::<&str>())
    }

    /// Settings from the given flags (without the program name) over the environment.
    pub fn from_args<I, T>(args: I) -> Result<Self, ConfigError>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let argv = std::iter::once(std::ffi::OsString::from("api"))
            .chain(args.into_iter().map(Into::into));
        Cli::try_parse_from(argv)
            .map(|cli| cli.settings)
            .map_err(|e| ConfigError(e.to_string()))
    }

    /// Validates the settings and fills in what the embedded mode derives (database URL,
    /// development JWT secret).
    pub fn resolve(self) -> Result<Config, ConfigError> {
        let production = self.mode == Mode::Production;
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());

        if self.access_token_ttl_secs == 0 || self.access_token_ttl_secs > MAX_ACCESS_TOKEN_TTL_SECS
        {
            return Err(ConfigError(format!(
                "ACCESS_TOKEN_TTL_SECS must be between 1 and {MAX_ACCESS_TOKEN_TTL_SECS}"
            )));
        }
        if self.refresh_token_ttl_days == 0 {
            return Err(ConfigError(
                "REFRESH_TOKEN_TTL_DAYS must be at least 1".into(),
            ));
        }
        if self.body_limit_bytes < 1024 {
            return Err(ConfigError("BODY_LIMIT_BYTES must be at least 1024".into()));
        }
        if self.argon2_memory_kib < 8 || self.argon2_iterations == 0 {
            return Err(ConfigError(
                "ARGON2_MEMORY_KIB ≥ 8 and ARGON2_ITERATIONS ≥ 1 are required".into(),
            ));
        }
        if production && (self.argon2_memory_kib < 19_456 || self.argon2_iterations < 2) {
            return Err(ConfigError(
                "production mode refuses Argon2id parameters below OWASP's (19456 KiB, 2 iterations)".into(),
            ));
        }
        let schema_ok =
            |s: &String| !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if self.database_schema.as_ref().is_some_and(|s| !schema_ok(s)) {
            return Err(ConfigError(
                "DATABASE_SCHEMA must be letters, digits and underscores".into(),
            ));
        }

        let jwt_secret = match self.jwt_secret {
            Some(secret) if secret.len() >= MIN_JWT_SECRET_BYTES => Secret(secret.into_bytes()),
            Some(_) => {
                return Err(ConfigError(format!(
                    "JWT_SECRET must be at least {MIN_JWT_SECRET_BYTES} bytes"
                )));
            }
            None if production => {
                return Err(ConfigError(format!(
                    "production mode needs JWT_SECRET (at least {MIN_JWT_SECRET_BYTES} bytes)"
                )));
            }
            None => development_secret(&self.data_dir)?,
        };

        let mut previous_secrets = Vec::new();
        for secret in self
            .jwt_previous_secrets
            .into_iter()
            .filter(|s| !s.is_empty())
        {
            if secret.len() < MIN_JWT_SECRET_BYTES {
                return Err(ConfigError(format!(
                    "every JWT_PREVIOUS_SECRETS entry must be at least {MIN_JWT_SECRET_BYTES} bytes"
                )));
            }
            previous_secrets.push(Secret(secret.into_bytes()));
        }

        let database_url = match self.database_url {
            Some(url) => url,
            None => {
                let file = self.data_dir.join("marketplace.db");
                format!("sqlite://{}?mode=rwc", file.display())
            }
        };

        let search = SearchConfig {
            engine: match self.meilisearch_url.filter(|u| !u.is_empty()) {
                Some(url) => SearchEngine::Meilisearch {
                    url,
                    api_key: self
                        .meilisearch_api_key
                        .filter(|k| !k.is_empty())
                        .map(|k| Secret(k.into_bytes())),
                },
                None => SearchEngine::Embedded {
                    dir: (!self.search_in_memory).then(|| self.data_dir.join("search")),
                },
            },
            index_prefix: self.search_index_prefix,
            search_timeout: Duration::from_millis(self.search_timeout_ms.max(1)),
            write_timeout: Duration::from_secs(self.search_write_timeout_secs.max(1)),
            worker: self.search_worker,
        };

        let webhooks = WebhookConfig {
            worker: self.webhook_worker,
            allow_http: !production,
            allow_local: self.webhooks_allow_local.unwrap_or(!production),
            retry_schedule: self
                .webhook_retry_schedule_secs
                .iter()
                .map(|s| Duration::from_secs(*s))
                .collect(),
            timeout: Duration::from_secs(self.webhook_timeout_secs.clamp(1, 60)),
        };

        Ok(Config {
            mode: self.mode,
            ledger_job: self.ledger_job,
            webhooks,
            bind: self.bind,
            search,
            data_dir: self.data_dir,
            database: DatabaseConfig {
                url: database_url,
                schema: self.database_schema,
                max_connections: self.database_max_connections.max(1),
                acquire_timeout: Duration::from_millis(self.database_acquire_timeout_ms.max(1)),
                statement_timeout: Duration::from_millis(self.database_statement_timeout_ms.max(1)),
            },
            auto_migrate: self.auto_migrate,
            demo_data: self.demo_data && !production,
            auth: AuthConfig {
                jwt_secret,
                previous_secrets,
                issuer: self.jwt_issuer,
                audience: self.jwt_audience,
                access_token_ttl: Duration::from_secs(self.access_token_ttl_secs),
                refresh_token_ttl: Duration::from_secs(
                    u64::from(self.refresh_token_ttl_days) * 86_400,
                ),
                argon2_memory_kib: self.argon2_memory_kib,
                argon2_iterations: self.argon2_iterations,
                hash_concurrency: self.password_hash_concurrency.unwrap_or(cores).max(1),
            },
            http: HttpConfig {
                cors_origins: self
                    .cors_origins
                    .into_iter()
                    .filter(|o| !o.is_empty())
                    .collect(),
                body_limit_bytes: self.body_limit_bytes,
                workers: self.workers.unwrap_or(cores).max(1),
                shutdown_timeout: Duration::from_secs(self.shutdown_timeout_secs),
                body_read_timeout: Duration::from_secs(self.body_read_timeout_secs.max(1)),
                operation_timeout: Duration::from_secs(self.operation_timeout_secs.max(1)),
                graphiql: !production,
                response_cache: ResponseCacheConfig {
                    entries: self.response_cache_entries,
                    max_bytes: self.response_cache_bytes,
                    ttl: Duration::from_secs(self.response_cache_ttl_secs),
                },
            },
            graphql: GraphqlConfig {
                max_depth: self.max_depth,
                max_complexity: self.max_complexity,
                max_aliases: self.max_aliases,
                max_root_fields: self.max_root_fields,
                max_mutation_fields: self.max_mutation_fields.max(1),
                introspection: self.introspection.unwrap_or(!production),
                document: crate::graphql::precheck::DocumentLimits {
                    max_bytes: self.max_document_bytes,
                    max_tokens: self.max_tokens,
                    ..crate::graphql::precheck::DocumentLimits::default()
                },
                suggestions: !production,
            },
            log_format: self.log_format.unwrap_or(if production {
                LogFormat::Json
            } else {
                LogFormat::Pretty
            }),
            log_filter: self.log_filter,
            limits: {
                use crate::service::limits::Rule;
                let budget = self.cost_budget_points.max(1);
                let restore = self.cost_restore_per_second.max(1);
                let login_window = Duration::from_secs(self.login_window_secs.max(1));
                LimitsConfig {
                    enabled: self.rate_limits,
                    login_per_account: Rule::new(
                        self.login_failures_per_account.max(1),
                        login_window,
                    ),
                    login_per_ip: Rule::new(self.login_failures_per_ip.max(1), login_window),
                    signups_per_ip: Rule::new(
                        self.signups_per_ip_per_hour.max(1),
                        Duration::from_secs(3_600),
                    ),
                    mutations_per_user: Rule::new(
                        self.mutations_per_user_per_minute.max(1),
                        Duration::from_secs(60),
                    ),
                    mutations_per_ip: Rule::new(
                        self.mutations_per_ip_per_minute.max(1),
                        Duration::from_secs(60),
                    ),
                    cost_budget: Rule::new(
                        budget,
                        Duration::from_secs_f64(f64::from(budget) / f64::from(restore)),
                    ),
                    cost_lease: (budget / 10).clamp(1, 100),
                    ip_requests_per_second: if self.rate_limits {
                        self.ip_requests_per_second
                    } else {
                        0
                    },
                    trusted_proxy_hops: self.trusted_proxy_hops,
                }
            },
        })
    }
}

/// The development JWT secret: generated once, kept in `DATA_DIR/jwt-secret` so tokens
/// survive restarts, readable by the owner only.
fn development_secret(data_dir: &Path) -> Result<Secret, ConfigError> {
    let path = data_dir.join("jwt-secret");
    let io_err = |e: std::io::Error| ConfigError(format!("{}: {e}", path.display()));
    match std::fs::read_to_string(&path) {
        Ok(existing) if existing.trim().len() >= MIN_JWT_SECRET_BYTES => {
            return Ok(Secret(existing.trim().as_bytes().to_vec()));
        }
        Ok(_) => {
            return Err(ConfigError(format!(
                "{} holds a secret shorter than 32 bytes",
                path.display()
            )));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_err(e)),
    }
    std::fs::create_dir_all(data_dir).map_err(io_err)?;
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| ConfigError(format!("no randomness: {e}")))?;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    write_private(&path, &hex).map_err(io_err)?;
    Ok(Secret(hex.into_bytes()))
}

#[cfg(unix)]
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::{io::Write, os::unix::fs::OpenOptionsExt};
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(contents.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    std::fs::write(path, contents)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(args: &[&str]) -> Settings {
        let mut all = vec!["--database-url", "sqlite::memory:"];
        all.extend_from_slice(args);
        Settings::from_args(all).expect("settings parse")
    }

    #[test]
    fn production_refuses_to_start_without_a_jwt_secret() {
        let err = settings(&["--mode", "production"]).resolve().unwrap_err();
        assert!(err.0.contains("JWT_SECRET"), "{err}");
    }

    #[test]
    fn production_refuses_a_short_jwt_secret() {
        let err = settings(&["--mode", "production", "--jwt-secret", "too-short"])
            .resolve()
            .unwrap_err();
        assert!(err.0.contains("at least 32 bytes"), "{err}");
    }

    #[test]
    fn production_accepts_a_long_secret_and_turns_development_features_off() {
        let secret = "x".repeat(32);
        let config = settings(&["--mode", "production", "--jwt-secret", &secret])
            .resolve()
            .expect("valid production config");
        assert!(!config.http.graphiql);
        assert!(!config.graphql.introspection);
        assert!(!config.demo_data);
        assert_eq!(config.log_format, LogFormat::Json);
    }

    #[test]
    fn development_generates_a_secret_once_and_reuses_it() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data").to_string_lossy().to_string();
        let first = settings(&["--data-dir", &data]).resolve().unwrap();
        let second = settings(&["--data-dir", &data]).resolve().unwrap();
        assert!(first.auth.jwt_secret.expose().len() >= MIN_JWT_SECRET_BYTES);
        assert_eq!(
            first.auth.jwt_secret.expose(),
            second.auth.jwt_secret.expose()
        );
    }

    #[test]
    fn access_tokens_cannot_be_configured_to_outlive_fifteen_minutes() {
        assert!(
            settings(&["--access-token-ttl-secs", "901"])
                .resolve()
                .is_err()
        );
    }

    #[test]
    fn the_default_database_is_a_sqlite_file_under_the_data_dir() {
        let secret = "k".repeat(32);
        let s = Settings::from_args(["--data-dir", "/tmp/x", "--jwt-secret", &secret]).unwrap();
        // The environment may carry a DATABASE_URL; only check the derived default.
        if s.database_url.is_none() {
            let config = s.resolve().unwrap();
            assert_eq!(
                config.database.url,
                "sqlite:///tmp/x/marketplace.db?mode=rwc"
            );
        }
    }
}
