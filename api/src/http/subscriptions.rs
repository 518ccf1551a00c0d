//! GraphQL subscriptions over WebSocket: `GET /graphql` with `Upgrade: websocket`,
//! speaking `graphql-transport-ws` (the protocol of the `graphql-ws` client library,
//! <https://github.com/enisdenjo/graphql-ws/blob/master/PROTOCOL.md>).
//!
//! Written here rather than taken from async-graphql 7.2.1's WebSocket driver, which
//! closes a refused `connection_init` with 1002 instead of 4401, has no limit on
//! subscriptions per connection, replaces a subscription whose id is reused instead of
//! refusing it, and hands documents to the parser unchecked. Here:
//! - authentication is the access token in `connection_init` (`{"Authorization": "Bearer
//!   …"}`), verified exactly as on HTTP: a bad one closes 4401, no token is an anonymous
//!   connection (public subscriptions only), and the socket closes (4401) when the token
//!   expires; a client renews by reconnecting with a new one;
//! - `connection_init` must come within [`INIT_TIMEOUT`] (else 4408), once (else 4429);
//!   `subscribe` before it closes 4401, a reused id 4409, an unreadable message 4400, a
//!   message over [`MAX_MESSAGE_BYTES`] 1009;
//! - every document passes the same pre-check and limits as over HTTP; only subscription
//!   operations run here (queries and mutations go over HTTP, with their caching and rate
//!   limits);
//! - at most [`MAX_SUBSCRIPTIONS`] subscriptions per connection (the next one gets an
//!   `error` with `LIMIT_EXCEEDED`) and [`MAX_CONNECTIONS_PER_USER`] connections per user on
//!   one replica (4429);
//! - each connection sends through a bounded queue: a subscriber whose socket does not
//!   drain falls behind the broadcast and is ended with `SUBSCRIBER_TOO_SLOW`, without
//!   slowing anyone else.

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::{Arc, Mutex},
    time::Duration,
};

use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};
use actix_ws::{AggregatedMessage, CloseCode, CloseReason, Session};
use async_graphql::{ServerError, parser::types::OperationType};
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::{sync::mpsc, task::AbortHandle};

use super::request_id::RequestId;
use crate::{
    auth::{Viewer, viewer},
    error::ErrorCode,
    graphql::{self as gql, RequestInfo},
    startup::AppState,
};

pub const PROTOCOL: &str = "graphql-transport-ws";
/// How long a client may take to send `connection_init`.
pub const INIT_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest message accepted from a client.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;
pub const MAX_SUBSCRIPTIONS: usize = 20;
pub const MAX_CONNECTIONS_PER_USER: usize = 5;
/// Messages waiting to be written to one socket.
const OUTGOING: usize = 64;

/// Open connections per user on this replica.
#[derive(Default)]
pub struct Connections(Mutex<HashMap<i64, usize>>);

/// A user's place among [`Connections`], given back when dropped.
struct Seat {
    connections: Arc<Connections>,
    user_id: i64,
}

impl Connections {
    fn take(self: &Arc<Self>, user_id: i64) -> Option<Seat> {
        let mut open = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let count = open.entry(user_id).or_default();
        if *count >= MAX_CONNECTIONS_PER_USER {
            return None;
        }
        *count += 1;
        Some(Seat {
            connections: Arc::clone(self),
            user_id,
        })
    }
}

impl Drop for Seat {
    fn drop(&mut self) {
        let mut open = self.connections.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(count) = open.get_mut(&self.user_id) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                open.remove(&self.user_id);
            }
        }
    }
}

/// Whether a request asks to upgrade to WebSocket (the route guard).
pub fn is_upgrade(ctx: &actix_web::guard::GuardContext<'_>) -> bool {
    ctx.head()
        .headers()
        .get(actix_web::http::header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"))
}

pub async fn upgrade(
    req: HttpRequest,
    body: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let offered = req
        .headers()
        .get_all(actix_web::http::header::SEC_WEBSOCKET_PROTOCOL)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|p| p.trim() == PROTOCOL);
    if !offered {
        return HttpResponse::BadRequest()
            .content_type("text/plain; charset=utf-8")
            .body(format!(
                "subscriptions speak the `{PROTOCOL}` WebSocket subprotocol; offer it in Sec-WebSocket-Protocol"
            ));
    }
    let (response, session, messages) =
        match actix_ws::handle_with_protocols(&req, body, &[PROTOCOL]) {
            Ok(parts) => parts,
            Err(e) => return HttpResponse::from_error(e),
        };
    let messages = messages
        .max_frame_size(MAX_MESSAGE_BYTES)
        .aggregate_continuations()
        .max_continuation_size(MAX_MESSAGE_BYTES);
    let peer = Peer {
        client_ip: super::graphql::client_ip(
            &req,
            state.services.limiter.config.trusted_proxy_hops,
        ),
        request_id: req.extensions().get::<RequestId>().map(|id| id.0.clone()),
    };
    actix_web::rt::spawn(serve(state.into_inner(), session, messages, peer));
    response
}

/// Who is on the other end, from the upgrade request.
struct Peer {
    client_ip: Option<IpAddr>,
    request_id: Option<String>,
}

/// A message from the client.
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum Incoming {
    ConnectionInit {
        #[serde(default)]
        payload: Option<Value>,
    },
    Ping {
        #[serde(default)]
        payload: Option<Value>,
    },
    Pong {},
    Subscribe {
        id: String,
        payload: SubscribePayload,
    },
    Complete {
        id: String,
    },
}

#[derive(Deserialize)]
struct SubscribePayload {
    query: String,
    #[serde(rename = "operationName", default)]
    operation_name: Option<String>,
    #[serde(default)]
    variables: Option<async_graphql::Variables>,
    #[serde(default)]
    extensions: Option<async_graphql::Extensions>,
}

/// What a subscription task sends back to its connection.
enum Outgoing {
    /// A protocol message, ready to write.
    Message(String),
    /// The subscription ended (its `complete` or `error` went out already).
    Finished(String),
}

/// Why the server closes the socket.
fn close(code: u16, description: &str) -> CloseReason {
    CloseReason {
        code: CloseCode::Other(code),
        description: Some(description.to_owned()),
    }
}

struct Connection {
    state: Arc<AppState>,
    peer: Peer,
    /// Set by `connection_init`.
    viewer: Option<Viewer>,
    subscriptions: HashMap<String, AbortHandle>,
    outgoing: mpsc::Sender<Outgoing>,
    _seat: Option<Seat>,
}

async fn serve(
    state: Arc<AppState>,
    mut session: Session,
    mut messages: actix_ws::AggregatedMessageStream,
    peer: Peer,
) {
    let (outgoing, mut queued) = mpsc::channel(OUTGOING);
    let mut connection = Connection {
        state,
        peer,
        viewer: None,
        subscriptions: HashMap::new(),
        outgoing,
        _seat: None,
    };
    let init_deadline = tokio::time::sleep(INIT_TIMEOUT);
    tokio::pin!(init_deadline);
    // Far away until a token sets it.
    let expiry = tokio::time::sleep(Duration::from_secs(365 * 86_400));
    tokio::pin!(expiry);
    let reason = loop {
        tokio::select! {
            message = messages.next() => {
                let text = match message {
                    None => break None,
                    Some(Ok(AggregatedMessage::Text(text))) => text,
                    Some(Ok(AggregatedMessage::Ping(bytes))) => {
                        if session.pong(&bytes).await.is_err() { break None; }
                        continue;
                    }
                    Some(Ok(AggregatedMessage::Pong(_))) => continue,
                    Some(Ok(AggregatedMessage::Binary(_))) => {
                        break Some(close(4400, "messages are JSON text"));
                    }
                    Some(Ok(AggregatedMessage::Close(_))) => break None,
                    Some(Err(actix_ws::ProtocolError::Overflow)) => {
                        break Some(CloseReason {
                            code: CloseCode::Size,
                            description: Some(format!("messages are limited to {MAX_MESSAGE_BYTES} bytes")),
                        });
                    }
                    Some(Err(_)) => break Some(close(4400, "unreadable frame")),
                };
                let incoming = match serde_json::from_str::<Incoming>(&text) {
                    Ok(incoming) => incoming,
                    Err(_) => break Some(close(4400, "invalid message")),
                };
                match connection.handle(incoming, &mut expiry).await {
                    Ok(Some(reply)) => {
                        if session.text(reply).await.is_err() { break None; }
                    }
                    Ok(None) => {}
                    Err(reason) => break Some(reason),
                }
            }
            Some(out) = queued.recv() => match out {
                Outgoing::Message(text) => {
                    if session.text(text).await.is_err() { break None; }
                }
                Outgoing::Finished(id) => { connection.subscriptions.remove(&id); }
            },
            _ = &mut init_deadline, if connection.viewer.is_none() => {
                break Some(close(4408, "Connection initialisation timeout"));
            }
            _ = &mut expiry => break Some(close(4401, "the access token expired; reconnect with a new one")),
        }
    };
    for (_, task) in connection.subscriptions.drain() {
        task.abort();
    }
    let _ = session.close(reason).await;
}

impl Connection {
    /// Handles one message: `Ok(Some(text))` is the reply, `Err` closes the socket.
    async fn handle(
        &mut self,
        incoming: Incoming,
        expiry: &mut std::pin::Pin<&mut tokio::time::Sleep>,
    ) -> Result<Option<String>, CloseReason> {
        match incoming {
            Incoming::ConnectionInit { payload } => {
                if self.viewer.is_some() {
                    return Err(close(4429, "Too many initialisation requests"));
                }
                let (viewer, expires) = self.authenticate(payload.as_ref())?;
                if let Some(expires) = expires {
                    let left = (expires - chrono::Utc::now()).to_std().unwrap_or_default();
                    expiry.as_mut().reset(tokio::time::Instant::now() + left);
                }
                if let Some(user_id) = viewer.user_id() {
                    self._seat = Some(self.state.connections.take(user_id).ok_or_else(|| {
                        close(
                            4429,
                            &format!("at most {MAX_CONNECTIONS_PER_USER} connections per user"),
                        )
                    })?);
                }
                self.viewer = Some(viewer);
                Ok(Some(json!({ "type": "connection_ack" }).to_string()))
            }
            Incoming::Ping { payload } => Ok(Some(
                json!({ "type": "pong", "payload": payload }).to_string(),
            )),
            Incoming::Pong {} => Ok(None),
            Incoming::Subscribe { id, payload } => {
                let Some(viewer) = self.viewer.clone() else {
                    return Err(close(4401, "Unauthorized"));
                };
                if self.subscriptions.contains_key(&id) {
                    return Err(close(4409, &format!("Subscriber for {id} already exists")));
                }
                if self.subscriptions.len() >= MAX_SUBSCRIPTIONS {
                    let error = ServerError::new(
                        format!("at most {MAX_SUBSCRIPTIONS} subscriptions per connection"),
                        None,
                    );
                    return Ok(Some(error_message(
                        &id,
                        vec![with_code(error, ErrorCode::LimitExceeded)],
                    )));
                }
                match self.prepare(payload) {
                    Ok(request) => {
                        let task = self.start(id.clone(), request, viewer);
                        self.subscriptions.insert(id, task);
                        Ok(None)
                    }
                    Err(errors) => Ok(Some(error_message(&id, errors))),
                }
            }
            Incoming::Complete { id } => {
                if let Some(task) = self.subscriptions.remove(&id) {
                    task.abort();
                }
                Ok(None)
            }
        }
    }

    /// The viewer of `connection_init`'s payload (anonymous without a token) and when
    /// its token expires.
    fn authenticate(
        &self,
        payload: Option<&Value>,
    ) -> Result<(Viewer, Option<chrono::DateTime<chrono::Utc>>), CloseReason> {
        let header = payload
            .and_then(|p| p.get("Authorization").or_else(|| p.get("authorization")))
            .map(|v| v.as_str().ok_or_else(|| close(4401, "Unauthorized")))
            .transpose()?;
        let Some(header) = header else {
            return Ok((Viewer::Anonymous, None));
        };
        // A bearer token, checked as on HTTP (signature, issuer, audience, expiry).
        let (user, expires) = viewer::bearer_token(header)
            .and_then(|token| self.state.services.access_tokens.verify_until(token))
            .map_err(|failure| close(4401, failure.message()))?;
        Ok((Viewer::User(user), Some(expires)))
    }

    /// The pre-check, the parse and the document limits, as over HTTP; only a
    /// subscription operation passes.
    fn prepare(
        &self,
        payload: SubscribePayload,
    ) -> Result<async_graphql::Request, Vec<ServerError>> {
        let state = &self.state;
        gql::precheck::check(&payload.query, &state.document_limits).map_err(|refused| {
            let error = ServerError::new(refused.message(), None);
            vec![with_code(error, refused.code())]
        })?;
        let document = async_graphql::parser::parse_query(&payload.query)
            .map_err(|e| vec![gql::parse_failed(e.into())])?;
        state.request_limits.check(&document).map_err(|e| vec![e])?;
        let mut request = async_graphql::Request::new(payload.query);
        request.operation_name = payload.operation_name;
        request.variables = payload.variables.unwrap_or_default();
        if let Some(extensions) = payload.extensions {
            request.extensions = extensions;
        }
        request.set_parsed_query(document);
        let subscription = super::graphql::selected_operation(&mut request)
            .is_some_and(|op| op.ty == OperationType::Subscription);
        if !subscription {
            let error = ServerError::new(
                "only subscriptions run over WebSocket; send queries and mutations over HTTP",
                None,
            );
            return Err(vec![with_code(error, ErrorCode::BadRequest)]);
        }
        Ok(request)
    }

    /// Runs one subscription until it ends or is aborted.
    fn start(&self, id: String, request: async_graphql::Request, viewer: Viewer) -> AbortHandle {
        let state = Arc::clone(&self.state);
        let outgoing = self.outgoing.clone();
        let info = RequestInfo {
            auth: Ok(viewer),
            request_id: self.peer.request_id.clone(),
            client_ip: self.peer.client_ip,
        };
        tokio::spawn(async move {
            let idle = gql::idle::IdleSignal::new();
            let request = gql::with_request_data(request, &state.services, info, idle.clone());
            let responses =
                gql::idle::UntilIdleStream::new(state.schema.execute_stream(request), idle);
            tokio::pin!(responses);
            let mut first = true;
            let mut ended_by_error = false;
            while let Some(mut response) = responses.next().await {
                let refused = first
                    && response.data == async_graphql::Value::Null
                    && !response.errors.is_empty()
                    && response.errors.iter().all(|e| e.path.is_empty());
                first = false;
                let message = if refused {
                    ended_by_error = true;
                    let errors = response
                        .errors
                        .into_iter()
                        .map(gql::request_error_code)
                        .collect();
                    error_message(&id, errors)
                } else {
                    response.errors = std::mem::take(&mut response.errors)
                        .into_iter()
                        .map(super::graphql::execution_error_code)
                        .collect();
                    json!({ "id": id, "type": "next", "payload": response }).to_string()
                };
                if outgoing.send(Outgoing::Message(message)).await.is_err() || ended_by_error {
                    break;
                }
            }
            if !ended_by_error {
                let complete = json!({ "id": id, "type": "complete" }).to_string();
                let _ = outgoing.send(Outgoing::Message(complete)).await;
            }
            let _ = outgoing.send(Outgoing::Finished(id)).await;
        })
        .abort_handle()
    }
}

fn with_code(mut error: ServerError, code: ErrorCode) -> ServerError {
    error
        .extensions
        .get_or_insert_with(Default::default)
        .set("code", code.as_str());
    error
}

fn error_message(id: &str, errors: Vec<ServerError>) -> String {
    json!({ "id": id, "type": "error", "payload": errors }).to_string()
}
