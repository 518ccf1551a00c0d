//! The Meilisearch engine's write protocol under a stalled server, reproduced: a document
//! write that times out may still be applied later, so a newer state must never be sent
//! before the older write has finished (observed from outside: three abandoned writes were
//! all applied when the server resumed, the oldest last). And start-up must not take any
//! failed index creation for "it already exists".
//!
//! A real Meilisearch cannot be made to stall on cue, so this drives the engine against a
//! small stand-in speaking the slice of Meilisearch's task API the engine uses (tasks
//! queued on write, processed only when the test says so, listed and polled like the real
//! ones). The contract suite covers everything else against a real server.

use std::{
    net::TcpListener,
    sync::{Arc, Mutex},
    time::Duration,
};

use actix_web::{App, HttpResponse, HttpServer, web};
use api::search::{
    Change, SearchIndex,
    document::ProgramDocument,
    meili::{MeiliConfig, MeilisearchIndex},
};
use serde_json::{Value, json};

const NOW: &str = "2026-12-06T12:00:00Z";

#[derive(Default)]
struct Server {
    /// Queued tasks: uid, type, the documents they carry.
    tasks: Vec<(u32, &'static str, Option<Value>, Status)>,
    /// The states of program 1 in the order the server applied them.
    applied: Vec<String>,
    /// Whether tasks run as soon as they are queued (else only on `release`).
    stalled: bool,
    index_exists: bool,
    /// Index creations asked for.
    creations: usize,
    /// How an index creation task ends.
    creation_error: Option<&'static str>,
}

#[derive(Clone, Copy, PartialEq)]
enum Status {
    Enqueued,
    Succeeded,
    Failed(&'static str),
}

type Shared = web::Data<Mutex<Server>>;

impl Server {
    fn enqueue(&mut self, kind: &'static str, body: Option<Value>) -> HttpResponse {
        let uid = u32::try_from(self.tasks.len()).unwrap();
        self.tasks.push((uid, kind, body, Status::Enqueued));
        if !self.stalled {
            self.process();
        }
        HttpResponse::Accepted().json(json!({
            "taskUid": uid, "indexUid": "t_programs", "status": "enqueued",
            "type": kind, "enqueuedAt": NOW,
        }))
    }

    /// Runs every queued task, in order, as Meilisearch does.
    fn process(&mut self) {
        for task in &mut self.tasks {
            if task.3 != Status::Enqueued {
                continue;
            }
            task.3 = match task.1 {
                "documentAdditionOrUpdate" => {
                    for doc in task.2.as_ref().unwrap().as_array().unwrap() {
                        self.applied.push(doc["name"].as_str().unwrap().to_owned());
                    }
                    Status::Succeeded
                }
                "indexCreation" => match self.creation_error {
                    Some(code) => Status::Failed(code),
                    None => {
                        self.index_exists = true;
                        Status::Succeeded
                    }
                },
                _ => Status::Succeeded,
            };
        }
    }

    fn view(&self, uid: u32) -> Value {
        let (uid, kind, _, status) = self.tasks[uid as usize];
        let mut task = json!({
            "uid": uid, "indexUid": "t_programs", "type": kind, "details": null,
            "enqueuedAt": NOW, "canceledBy": null, "error": null,
        });
        match status {
            Status::Enqueued => task["status"] = json!("enqueued"),
            Status::Succeeded | Status::Failed(_) => {
                task["startedAt"] = json!(NOW);
                task["finishedAt"] = json!(NOW);
                task["duration"] = json!("PT0.001S");
                task["status"] = json!("succeeded");
            }
        }
        if let Status::Failed(code) = status {
            task["status"] = json!("failed");
            task["error"] =
                json!({ "message": code, "code": code, "type": "invalid_request", "link": "" });
        }
        task
    }
}

async fn get_index(state: Shared) -> HttpResponse {
    if state.lock().unwrap().index_exists {
        HttpResponse::Ok().json(json!({
            "uid": "t_programs", "primaryKey": "program_id", "createdAt": NOW, "updatedAt": NOW,
        }))
    } else {
        HttpResponse::NotFound().json(json!({
            "message": "Index `t_programs` not found.", "code": "index_not_found",
            "type": "invalid_request", "link": "",
        }))
    }
}

async fn create_index(state: Shared) -> HttpResponse {
    let mut server = state.lock().unwrap();
    server.creations += 1;
    server.enqueue("indexCreation", None)
}

async fn sortable() -> HttpResponse {
    HttpResponse::Ok().json(api::search::meili::SORTABLE)
}

async fn settings(state: Shared) -> HttpResponse {
    state.lock().unwrap().enqueue("settingsUpdate", None)
}

async fn documents(state: Shared, body: web::Json<Value>) -> HttpResponse {
    state
        .lock()
        .unwrap()
        .enqueue("documentAdditionOrUpdate", Some(body.into_inner()))
}

async fn task(state: Shared, uid: web::Path<u32>) -> HttpResponse {
    HttpResponse::Ok().json(state.lock().unwrap().view(uid.into_inner()))
}

async fn tasks(state: Shared, query: web::Query<Vec<(String, String)>>) -> HttpResponse {
    let server = state.lock().unwrap();
    let statuses = query
        .iter()
        .find(|(k, _)| k == "statuses")
        .map(|(_, v)| v.clone())
        .unwrap_or_default();
    let results: Vec<Value> = server
        .tasks
        .iter()
        .filter(|t| !statuses.contains("enqueued") || t.3 == Status::Enqueued)
        .map(|t| server.view(t.0))
        .collect();
    HttpResponse::Ok().json(json!({
        "results": results, "total": results.len(), "limit": 20, "from": null, "next": null,
    }))
}

struct Stand {
    url: String,
    state: Shared,
    handle: actix_web::dev::ServerHandle,
}

impl Stand {
    fn start(server: Server) -> Self {
        let state = web::Data::new(Mutex::new(server));
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let data = state.clone();
        let running = HttpServer::new(move || {
            App::new()
                .app_data(data.clone())
                .route("/indexes/t_programs", web::get().to(get_index))
                .route("/indexes", web::post().to(create_index))
                .route(
                    "/indexes/t_programs/settings/sortable-attributes",
                    web::get().to(sortable),
                )
                .route("/indexes/t_programs/settings", web::patch().to(settings))
                .route("/indexes/t_programs/documents", web::post().to(documents))
                .route("/tasks/{uid}", web::get().to(task))
                .route("/tasks", web::get().to(tasks))
        })
        .workers(1)
        .listen(listener)
        .unwrap()
        .run();
        let handle = running.handle();
        tokio::spawn(running);
        Self { url, state, handle }
    }

    async fn connect(&self) -> Result<MeilisearchIndex, api::search::SearchError> {
        MeilisearchIndex::connect(MeiliConfig {
            url: self.url.clone(),
            api_key: None,
            index_prefix: "t_".into(),
            search_timeout: Duration::from_millis(300),
            write_timeout: Duration::from_millis(400),
        })
        .await
        .map(|(index, _)| index)
    }
}

impl Drop for Stand {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
    }
}

fn state(name: &str) -> Change {
    let doc: ProgramDocument = serde_json::from_value(json!({
        "program_id": 1, "name": name, "tagline": "", "description": "", "vendor_id": 1, "vendor_name": "v",
        "category": "crm", "category_name": "CRM", "partner_types": [], "all_partner_types": true,
        "commission_models": ["PERCENTAGE"], "best_rate_bps": 2000, "best_flat_usd_cents": 0,
        "durations": ["ONE_TIME"], "recurring": false, "recurring_months": 0, "cookie_days": 30,
        "holding_days": 30, "currency": "USD", "minimum_payout_minor": 0,
        "approval_mode": "MANUAL", "countries": [], "worldwide": true, "published_at": 1,
        "average_earnings_usd_cents": -1, "approval_rate_bps": -1,
    }))
    .unwrap();
    Change::Upsert(doc)
}

#[tokio::test]
async fn a_newer_state_is_never_sent_while_an_older_write_may_still_land() {
    let stand = Stand::start(Server {
        index_exists: true,
        ..Server::default()
    });
    let engine = Arc::new(stand.connect().await.expect("connects"));
    stand.state.lock().unwrap().stalled = true;

    // The server stalls: the first write times out, queued but not applied.
    let first = engine.apply(vec![state("first")]).await;
    assert!(first.is_err(), "the write times out");
    // The indexer tries the newer state: it must not be sent while the first may land.
    let second = engine.apply(vec![state("second")]).await;
    assert!(
        second.is_err(),
        "refused while an older write is unfinished"
    );
    let sent = |stand: &Stand| {
        stand
            .state
            .lock()
            .unwrap()
            .tasks
            .iter()
            .filter(|t| t.1 == "documentAdditionOrUpdate")
            .count()
    };
    assert_eq!(sent(&stand), 1, "the newer state was not sent");

    // The server resumes and runs what it had queued; the newer state then goes, last.
    {
        let mut server = stand.state.lock().unwrap();
        server.stalled = false;
        server.process();
    }
    engine
        .apply(vec![state("second")])
        .await
        .expect("written once the older write has finished");
    assert_eq!(sent(&stand), 2);
    assert_eq!(stand.state.lock().unwrap().applied, ["first", "second"]);
}

#[tokio::test]
async fn start_up_checks_for_the_index_before_creating_it() {
    // An existing index: no creation asked for, so no failed task left behind.
    let stand = Stand::start(Server {
        index_exists: true,
        ..Server::default()
    });
    stand.connect().await.expect("connects");
    assert_eq!(stand.state.lock().unwrap().creations, 0);

    // A missing one is created.
    let stand = Stand::start(Server::default());
    stand.connect().await.expect("connects");
    assert_eq!(stand.state.lock().unwrap().creations, 1);

    // Another replica creating it meanwhile is fine…
    let stand = Stand::start(Server {
        creation_error: Some("index_already_exists"),
        ..Server::default()
    });
    stand.connect().await.expect("connects");

    // …but any other failure is an error, not "it exists".
    let stand = Stand::start(Server {
        creation_error: Some("invalid_index_uid"),
        ..Server::default()
    });
    assert!(stand.connect().await.is_err());
}
