//! L1: the listing page (W1, and W2 with a keyset cursor) as the least a Rust server can
//! do for it: one prepared statement per connection, rows written straight to JSON.
//! Not GraphQL: it reads only `variables.after` (`"<listed_at micros>:<id>"`) from a JSON
//! body. `DATABASE_URL` and `PORT` configure it; `CONNECTIONS` (4) clients are opened and
//! requests are spread over them (tokio-postgres pipelines concurrent queries).

use std::sync::{
    Arc,
    atomic::{AtomicUsize, Ordering},
};

use actix_web::{App, HttpResponse, HttpServer, web};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::{Value, json};
use tokio_postgres::{Client, NoTls, Statement};

const PAGE: &str = "
SELECT p.id, p.slug, p.name, p.tagline, p.currency, p.listed_at, v.slug, v.name,
       (SELECT coalesce(json_agg(json_build_object(
                 'event', r.event, 'model', r.model, 'rateBps', r.rate_bps,
                 'flatAmountMinor', r.flat_amount_minor, 'duration', r.duration,
                 'recurringMonths', r.recurring_months) ORDER BY r.position, r.id), '[]')
          FROM commission_rule r WHERE r.program_id = p.id AND r.retired_at IS NULL)
  FROM program p JOIN vendor v ON v.id = p.vendor_id
 WHERE p.status = 'PUBLISHED' AND p.visibility = 'PUBLIC'
   AND (p.listed_at, p.id) < ($1, $2)
 ORDER BY p.listed_at DESC, p.id DESC
 LIMIT 21";

struct Conn {
    client: Client,
    page: Statement,
}

struct State {
    conns: Vec<Conn>,
    next: AtomicUsize,
}

#[derive(Deserialize, Default)]
struct Body {
    #[serde(default)]
    variables: Variables,
}

#[derive(Deserialize, Default)]
struct Variables {
    after: Option<String>,
}

fn cursor(after: Option<&str>) -> Option<(DateTime<Utc>, i64)> {
    let Some(after) = after else {
        return Some((DateTime::<Utc>::MAX_UTC, i64::MAX));
    };
    let (micros, id) = after.split_once(':')?;
    Some((DateTime::from_timestamp_micros(micros.parse().ok()?)?, id.parse().ok()?))
}

async fn page(state: web::Data<Arc<State>>, body: web::Bytes) -> HttpResponse {
    let body: Body = serde_json::from_slice(&body).unwrap_or_default();
    let Some((at, id)) = cursor(body.variables.after.as_deref()) else {
        return HttpResponse::BadRequest().body("bad cursor");
    };
    let n = state.next.fetch_add(1, Ordering::Relaxed) % state.conns.len();
    let conn = &state.conns[n];
    let rows = match conn.client.query(&conn.page, &[&at, &id]).await {
        Ok(rows) => rows,
        Err(e) => return HttpResponse::ServiceUnavailable().body(e.to_string()),
    };
    let more = rows.len() > 20;
    let mut end = None;
    let edges: Vec<Value> = rows
        .iter()
        .take(20)
        .map(|r| {
            let listed: DateTime<Utc> = r.get(5);
            let id: i64 = r.get(0);
            end = Some(format!("{}:{id}", listed.timestamp_micros()));
            let rules: Value = r.get(8);
            json!({ "node": {
                "id": id, "slug": r.get::<_, &str>(1), "name": r.get::<_, &str>(2),
                "tagline": r.get::<_, &str>(3), "currency": r.get::<_, &str>(4),
                "vendor": { "slug": r.get::<_, &str>(6), "name": r.get::<_, &str>(7) },
                "commissionRules": rules,
            }})
        })
        .collect();
    HttpResponse::Ok().json(json!({ "data": { "programs": {
        "edges": edges,
        "pageInfo": { "hasNextPage": more, "endCursor": end },
    }}}))
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let url = std::env::var("DATABASE_URL").map_err(std::io::Error::other)?;
    let port: u16 = std::env::var("PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(8082);
    let count: usize = std::env::var("CONNECTIONS").ok().and_then(|p| p.parse().ok()).unwrap_or(4);
    let mut conns = Vec::new();
    for _ in 0..count {
        let (client, connection) = tokio_postgres::connect(&url, NoTls)
            .await
            .map_err(std::io::Error::other)?;
        actix_web::rt::spawn(async move {
            if let Err(e) = connection.await {
                eprintln!("connection: {e}");
            }
        });
        let page = client.prepare(PAGE).await.map_err(std::io::Error::other)?;
        conns.push(Conn { client, page });
    }
    let state = Arc::new(State { conns, next: AtomicUsize::new(0) });
    HttpServer::new(move || {
        App::new()
            .app_data(web::Data::new(state.clone()))
            .route("/graphql", web::post().to(page))
    })
    .bind(("127.0.0.1", port))?
    .run()
    .await
}
