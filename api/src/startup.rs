//! Building the application: database, migrations, services, schema, HTTP server. The same
//! `Application::build` serves production, the seed command and the black-box tests.

use std::{
    net::{SocketAddr, TcpListener},
    sync::Arc,
    time::Duration,
};

use actix_cors::Cors;
use actix_web::{
    App, HttpResponse, HttpServer,
    dev::Server,
    http::header,
    middleware::{DefaultHeaders, from_fn},
    web,
};
use anyhow::Context as _;
use async_graphql::http::GraphiQLSource;
use migration::{Migrator, MigratorTrait};

pub use actix_web::dev::ServerHandle;

use crate::{
    config::Config,
    db,
    graphql::{AppSchema, build_schema},
    http::{self, request_id},
    search::{self, SearchIndex},
    service::{
        Services, demo,
        events::{self, consumer},
        indexer::SearchIndexer,
        reference,
        webhooks::{
            deliver::{self, Sender},
            dispatch::Dispatcher,
        },
    },
};

/// Shared by every worker: the schema and the services behind it.
pub struct AppState {
    pub schema: AppSchema,
    pub services: Services,
    pub body_limit_bytes: usize,
    /// A request body must arrive within this (slow senders answer 408).
    pub body_read_timeout: Duration,
    /// An operation is cancelled after this (TIMEOUT).
    pub operation_timeout: Duration,
    /// Checked on every document before async-graphql parses it.
    pub document_limits: crate::graphql::precheck::DocumentLimits,
    /// Documents parsed by earlier requests.
    pub documents: crate::graphql::documents::DocumentCache,
    /// Checked on every parsed document before it is kept or run.
    pub request_limits: crate::graphql::RequestLimits,
    /// Open subscription connections per user.
    pub connections: Arc<http::subscriptions::Connections>,
    /// Anonymous query answers kept for repeated requests; `None` when turned off.
    pub response_cache: Option<http::response_cache::ResponseCache>,
    pub graphiql: bool,
    /// The schema's field types, for spec-correct response data (`http::order`).
    pub types: Arc<http::order::Types>,
    /// Automatic persisted queries registered by clients.
    pub persisted: http::persisted::PersistedQueries,
}

pub struct Application {
    address: SocketAddr,
    server: Server,
    services: Services,
    /// The event log's consumers running in this process (and its broadcaster), and how
    /// to stop them.
    consumers: Vec<tokio::task::JoinHandle<()>>,
    stop_consumers: tokio::sync::watch::Sender<bool>,
    ledger_job: Option<tokio::task::JoinHandle<()>>,
    janitor: Option<tokio::task::JoinHandle<()>>,
    /// Other replicas' change announcements (PostgreSQL).
    listener: Option<tokio::task::JoinHandle<()>>,
}

/// Which search engine a process works with.
pub enum SearchSetup {
    /// The one the configuration names.
    Configured,
    /// This one (tests inject fault-injecting wrappers).
    Given(Arc<dyn SearchIndex>),
    /// None: changes wait in the event log (commands that only write).
    Detached,
}

impl Application {
    /// Connects, migrates (unless disabled), seeds demo data in development, binds the
    /// listener (port 0 picks a free one) and prepares the server; `run_until_stopped`
    /// serves it.
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        Self::build_with(config, SearchSetup::Configured).await
    }

    /// [`Application::build`] with a chosen search engine.
    pub async fn build_with(config: Config, search: SearchSetup) -> anyhow::Result<Self> {
        let services = prepare(&config, search).await?;
        let schema = build_schema(services.clone(), &config.graphql);
        let sdl = schema.sdl();
        let state = web::Data::new(AppState {
            schema,
            services: services.clone(),
            body_limit_bytes: config.http.body_limit_bytes,
            body_read_timeout: config.http.body_read_timeout,
            operation_timeout: config.http.operation_timeout,
            document_limits: config.graphql.document,
            documents: Default::default(),
            request_limits: crate::graphql::request_limits(&config.graphql),
            response_cache: http::response_cache::ResponseCache::new(config.http.response_cache),
            connections: Arc::default(),
            graphiql: config.http.graphiql,
            types: Arc::new(http::order::Types::from_sdl(&sdl)),
            persisted: http::persisted::PersistedQueries::default(),
        });

        let listener = TcpListener::bind(config.bind)
            .with_context(|| format!("cannot listen on {}", config.bind))?;
        let address = listener.local_addr()?;
        let cors_origins = config.http.cors_origins.clone();
        if cors_origins.is_empty() {
            tracing::info!(
                "CORS_ORIGINS is empty: pages on other origins cannot call the API \
                 (for an SPA dev server: CORS_ORIGINS=http://localhost:5173)"
            );
        }
        let server = HttpServer::new(move || {
            App::new()
                .wrap(cors(&cors_origins))
                .wrap(
                    DefaultHeaders::new()
                        .add((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
                        .add((header::REFERRER_POLICY, "no-referrer")),
                )
                .wrap(from_fn(request_id::middleware))
                .app_data(state.clone())
                .configure(routes)
        })
        .workers(config.http.workers)
        .shutdown_timeout(config.http.shutdown_timeout.as_secs())
        .listen(listener)?
        .run();
        let (stop_consumers, stopped) = tokio::sync::watch::channel(false);
        let mut consumers = vec![services.broadcaster.spawn(
            services.db.clone(),
            Arc::clone(&services.changes),
            Duration::from_secs(1),
            stopped.clone(),
        )];
        if config.search.worker {
            let indexer = SearchIndexer::new(&services, config.search.write_timeout);
            consumers.push(consumer::spawn(
                services.db.clone(),
                Arc::new(indexer),
                Arc::clone(&services.changes),
                Duration::from_secs(1),
                stopped.clone(),
            ));
        }
        if config.webhooks.worker {
            let dispatcher = Dispatcher {
                queued: Arc::clone(&services.webhooks_queued),
            };
            consumers.push(consumer::spawn(
                services.db.clone(),
                Arc::new(dispatcher),
                Arc::clone(&services.changes),
                Duration::from_secs(1),
                stopped.clone(),
            ));
            let sender = Sender::new(&config.webhooks)
                .map_err(|e| anyhow::anyhow!("webhook sender: {e:?}"))?;
            consumers.push(deliver::spawn(
                services.db.clone(),
                Arc::new(sender),
                Arc::clone(&services.webhooks_queued),
                stopped.clone(),
            ));
        }
        let ledger_job = config
            .ledger_job
            .then(|| tokio::spawn(ledger_job(services.clone())));
        let janitor = config
            .limits
            .enabled
            .then(|| tokio::spawn(limits_janitor(services.clone())));
        let listener = services.changes.listen(&config.database.url).await;
        Ok(Self {
            address,
            server,
            services,
            consumers,
            stop_consumers,
            ledger_job,
            janitor,
            listener,
        })
    }

    pub fn address(&self) -> SocketAddr {
        self.address
    }

    pub fn services(&self) -> &Services {
        &self.services
    }

    /// Stops the server from another task (graceful: in-flight requests finish).
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until SIGINT/SIGTERM (or `handle().stop`), then drains in-flight requests.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let served = self.server.await;
        // Each finishes its current batch first.
        let _ = self.stop_consumers.send(true);
        for consumer in self.consumers {
            let _ = consumer.await;
        }
        for job in [self.ledger_job, self.janitor, self.listener]
            .into_iter()
            .flatten()
        {
            job.abort();
        }
        served
    }
}

/// Once a minute: approves commissions whose holding period has ended, and recomputes
/// statistics that have aged. Every step is idempotent, so stopping the job at any point
/// loses nothing.
async fn ledger_job(services: Services) {
    let mut every = tokio::time::interval(Duration::from_secs(60));
    loop {
        every.tick().await;
        if let Err(e) = crate::service::ledger::approve_due(&services, crate::service::now()).await
        {
            tracing::warn!(error = ?e, "commission approval pass failed; retrying next minute");
        }
        // Trailing windows move without changes: keep every program's figures under a
        // day old, a few programs a minute.
        if let Err(e) =
            crate::service::stats::refresh_stale(&services, crate::service::now(), 50).await
        {
            tracing::warn!(error = ?e, "statistics refresh failed; retrying next minute");
        }
    }
}

/// Every minute: deletes rate-limit buckets that have refilled (they mean the same as
/// no row) and forgets idle in-process counters.
async fn limits_janitor(services: Services) {
    let mut every = tokio::time::interval(Duration::from_secs(60));
    loop {
        every.tick().await;
        services.limiter.forget_idle();
        if let Err(e) = crate::service::limits::sweep(&services.db).await {
            tracing::warn!(error = ?e, "rate-limit sweep failed; retrying next minute");
        }
    }
}

/// Database, migrations, search engine, services and demo data: everything but HTTP.
pub async fn prepare(config: &Config, search: SearchSetup) -> anyhow::Result<Services> {
    let (db, statements) = db::connect(&config.database)
        .await
        .context("cannot connect to the database")?;
    if config.auto_migrate {
        Migrator::up(&db, None).await.context("migrations failed")?;
    }
    let (engine, created): (Arc<dyn SearchIndex>, bool) = match search {
        SearchSetup::Configured => search::open(&config.search)
            .await
            .context("cannot open the search index")?,
        SearchSetup::Given(engine) => (engine, false),
        SearchSetup::Detached => (Arc::new(search::Detached), false),
    };
    let services = Services::new(db, statements, engine, config)
        .await
        .map_err(|e| anyhow::anyhow!("cannot start services: {e:?}"))?;
    if Migrator::get_pending_migrations(&services.db)
        .await?
        .is_empty()
    {
        reference::ensure_defaults(&services)
            .await
            .map_err(|e| anyhow::anyhow!("reference data: {e:?}"))?;
        // Webhook deliveries begin when the server first ran, worker or not.
        let dispatcher = Dispatcher {
            queued: Arc::clone(&services.webhooks_queued),
        };
        consumer::cursor(&services.db, &dispatcher)
            .await
            .map_err(|e| anyhow::anyhow!("webhook dispatcher: {e:?}"))?;
        if created {
            // A new, empty index: the indexer fills it from the database. What the log
            // holds before the reindex requests is superseded by them (at 1M programs,
            // ~2M events the indexer would otherwise work through first).
            let superseded = consumer::settled_head(&services.db)
                .await
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            let listed = sea_orm::Condition::all().add(sea_orm::ColumnTrait::eq(
                &entity::program::Column::Status,
                entity::program::ProgramStatus::Published,
            ));
            let queued = events::request_reindex(&services.db, listed, events::REINDEX_CHUNK)
                .await
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            let indexer = SearchIndexer::new(&services, config.search.write_timeout);
            consumer::skip_to(&services.db, &indexer, superseded)
                .await
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            tracing::info!(
                queued,
                engine = services.search.engine(),
                "new search index; queued every program"
            );
        }
    } else {
        tracing::warn!(
            "the database schema is not up to date; run the migrations (AUTO_MIGRATE=true or `cargo run -p migration -- up`)"
        );
    }
    if config.demo_data {
        demo::load_if_empty(&services)
            .await
            .map_err(|e| anyhow::anyhow!("demo data: {e:?}"))?;
    }
    Ok(services)
}

/// Every route of the server.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/graphql")
            .route(web::post().to(http::graphql::post))
            .route(
                web::get()
                    .guard(actix_web::guard::fn_guard(http::subscriptions::is_upgrade))
                    .to(http::subscriptions::upgrade),
            )
            .route(web::get().to(http::graphql::get))
            .default_service(web::to(http::graphql::other_method)),
    )
    .route("/graphiql", web::get().to(graphiql))
    .route("/healthz", web::get().to(http::health::healthz))
    .route("/readyz", web::get().to(http::health::readyz))
    .route("/metrics", web::get().to(http::health::metrics));
}

async fn graphiql(state: web::Data<AppState>) -> HttpResponse {
    if !state.graphiql {
        return HttpResponse::NotFound().finish();
    }
    HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .body(
            GraphiQLSource::build()
                .endpoint("/graphql")
                // Subscriptions over WebSocket on the same path; the Headers tab's
                // `Authorization` goes into `connection_init`.
                .subscription_endpoint("/graphql")
                .title("Partner marketplace API")
                .finish(),
        )
}

/// Request headers GraphQL clients send besides the standard ones: Apollo Client's name
/// and version (set with `name`/`version`), Apollo's CSRF-prevention header, and the
/// API key header of back ends calling from a browser-like client.
const CLIENT_HEADERS: [&str; 4] = [
    "apollographql-client-name",
    "apollographql-client-version",
    "apollo-require-preflight",
    "x-api-key",
];

fn cors(origins: &[String]) -> Cors {
    let mut cors = Cors::default()
        .allowed_methods(["GET", "POST"])
        .allowed_headers([header::AUTHORIZATION, header::CONTENT_TYPE, header::ACCEPT])
        .allowed_headers(CLIENT_HEADERS)
        .allowed_header(request_id::HEADER)
        .expose_headers([request_id::HEADER])
        .max_age(3600);
    for origin in origins {
        cors = cors.allowed_origin(origin);
    }
    cors
}
