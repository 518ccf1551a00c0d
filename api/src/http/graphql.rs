//! GraphQL over HTTP (https://graphql.github.io/graphql-over-http/).
//!
//! Written here rather than taken from async-graphql-actix-web 7.2.1, whose extractor runs
//! mutations sent by GET, accepts `text/plain` bodies (a CSRF hole: browsers send those
//! cross-origin without a preflight), reads bodies without a size limit and executes
//! batches. Here:
//! - POST needs `Content-Type: application/json`, else 415, and nothing runs;
//! - bodies are capped while being read (413), JSON-array batches are refused (400);
//! - GET serves queries only: a mutation answers 405 before anything runs;
//! - with `Accept: application/graphql-response+json` request errors (parse, validation,
//!   unknown operation) answer 400 without a `data` key; with `application/json` they
//!   answer 200, as the spec requires for that media type;
//! - a body must arrive within the body-read deadline (408), so slow senders cannot hold
//!   a connection open;
//! - every document passes [`gql::precheck`] (size, tokens, nesting, fragment expansion)
//!   before async-graphql parses it: those refusals protect the process and answer 400
//!   whatever the media type, like the body limit's 413.

use actix_web::{
    HttpMessage, HttpRequest, HttpResponse,
    http::{
        StatusCode,
        header::{self, HeaderValue},
    },
    web,
};
use async_graphql::{
    ServerError,
    parser::types::{DocumentOperations, OperationDefinition, OperationType},
};
use std::net::IpAddr;

use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::json;

use super::request_id::RequestId;
use crate::{
    auth::viewer,
    error::ErrorCode,
    graphql::{self as gql, RequestInfo},
    startup::AppState,
};

use super::response_cache;

const GRAPHQL_RESPONSE_JSON: &str = "application/graphql-response+json";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    GraphqlResponseJson,
    Json,
}

impl Format {
    /// `application/graphql-response+json` when the client lists it (with q > 0),
    /// `application/json` otherwise, including for legacy clients sending `*/*`.
    fn negotiate(req: &HttpRequest) -> Self {
        let accept = req
            .headers()
            .get(header::ACCEPT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let wants = accept.split(',').any(|range| {
            let mut parts = range.split(';').map(str::trim);
            let media = parts.next().unwrap_or_default();
            let refused = parts.any(|p| p.replace(' ', "") == "q=0");
            media.eq_ignore_ascii_case(GRAPHQL_RESPONSE_JSON) && !refused
        });
        if wants {
            Self::GraphqlResponseJson
        } else {
            Self::Json
        }
    }

    fn content_type(self) -> &'static str {
        match self {
            Self::GraphqlResponseJson => "application/graphql-response+json; charset=utf-8",
            Self::Json => "application/json; charset=utf-8",
        }
    }
}

/// An error answered before GraphQL runs; the body is a GraphQL response with no `data`.
fn refuse(format: Format, status: StatusCode, code: ErrorCode, message: &str) -> HttpResponse {
    let body =
        json!({ "errors": [{ "message": message, "extensions": { "code": code.as_str() } }] });
    let mut response = HttpResponse::build(status);
    response
        .content_type(format.content_type())
        .insert_header((header::CACHE_CONTROL, "no-store"));
    if status == StatusCode::METHOD_NOT_ALLOWED {
        response.insert_header((header::ALLOW, "POST"));
    }
    response.body(body.to_string())
}

fn is_json(req: &HttpRequest) -> bool {
    req.mime_type()
        .ok()
        .flatten()
        .is_some_and(|mime| mime.essence_str() == "application/json")
}

enum BodyError {
    TooLarge,
    Broken,
    TooSlow,
}

/// Reads the body, refusing it as soon as it exceeds `limit` (declared or actual size).
async fn read_body(
    req: &HttpRequest,
    mut payload: web::Payload,
    limit: usize,
) -> Result<Vec<u8>, BodyError> {
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|len| len > limit) {
        return Err(BodyError::TooLarge);
    }
    let mut body = Vec::with_capacity(declared.unwrap_or(0));
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|_| BodyError::Broken)?;
        if body.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

pub async fn post(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let format = Format::negotiate(&req);
    if let Some(shed) = shed_flood(&req, &state, format) {
        return shed;
    }
    if !is_json(&req) {
        return refuse(
            format,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorCode::UnsupportedMediaType,
            "POST bodies must be JSON with `Content-Type: application/json`",
        );
    }
    let body = tokio::time::timeout(
        state.body_read_timeout,
        read_body(&req, payload, state.body_limit_bytes),
    )
    .await
    .unwrap_or(Err(BodyError::TooSlow));
    let body = match body {
        Ok(body) => body,
        Err(BodyError::TooLarge) => {
            let message = format!("the request body exceeds {} bytes", state.body_limit_bytes);
            return refuse(
                format,
                StatusCode::PAYLOAD_TOO_LARGE,
                ErrorCode::PayloadTooLarge,
                &message,
            );
        }
        Err(BodyError::Broken) => {
            return refuse(
                format,
                StatusCode::BAD_REQUEST,
                ErrorCode::BadRequest,
                "the request body could not be read",
            );
        }
        Err(BodyError::TooSlow) => {
            let message = format!(
                "the request body did not arrive within {} s",
                state.body_read_timeout.as_secs_f32()
            );
            let mut response = refuse(
                format,
                StatusCode::REQUEST_TIMEOUT,
                ErrorCode::Timeout,
                &message,
            );
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            return response;
        }
    };
    match body.iter().find(|b| !b.is_ascii_whitespace()) {
        None => {
            return refuse(
                format,
                StatusCode::BAD_REQUEST,
                ErrorCode::BadRequest,
                "the request body is empty",
            );
        }
        Some(b'[') => {
            return refuse(
                format,
                StatusCode::BAD_REQUEST,
                ErrorCode::BadRequest,
                "batched requests are not supported; send one operation per request",
            );
        }
        Some(_) => {}
    }
    let key = cache_key(&req, &state, &body);
    if let Some(key) = key
        && let Some(hit) = cached(&req, &state, key, format).await
    {
        return hit;
    }
    let mut request = match serde_json::from_slice::<PostBody>(&body) {
        Ok(body)
            if body.query.is_none()
                && !body
                    .extensions
                    .as_ref()
                    .is_some_and(|e| e.contains_key("persistedQuery")) =>
        {
            return refuse(
                format,
                StatusCode::BAD_REQUEST,
                ErrorCode::BadRequest,
                "the body is not a valid GraphQL request: missing field `query`",
            );
        }
        Ok(body) => body.into_request(),
        Err(e) => {
            let message = format!("the body is not a valid GraphQL request: {e}");
            return refuse(
                format,
                StatusCode::BAD_REQUEST,
                ErrorCode::BadRequest,
                &message,
            );
        }
    };
    if let Some(refused) = persisted(&state, &mut request, format).await {
        return refused;
    }
    if let Err(refused) = precheck(&state, &mut request, format) {
        return *refused;
    }
    execute(&req, &state, request, format, false, key).await
}

/// The client's address: the TCP peer, or with `TRUSTED_PROXY_HOPS = n` the n-th entry
/// of `X-Forwarded-For` from the right (what the nearest trusted proxy saw).
pub fn client_ip(req: &HttpRequest, trusted_hops: usize) -> Option<IpAddr> {
    let peer = req.peer_addr().map(|a| a.ip());
    if trusted_hops == 0 {
        return peer;
    }
    let forwarded: Vec<&str> = req
        .headers()
        .get_all("x-forwarded-for")
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    forwarded
        .len()
        .checked_sub(trusted_hops)
        .and_then(|i| forwarded.get(i))
        .and_then(|ip| ip.parse().ok())
        .or(peer)
}

/// The in-process first line of the rate limits: an IP sending faster than
/// `IP_REQUESTS_PER_SECOND` is answered 429 before its body is read.
fn shed_flood(req: &HttpRequest, state: &AppState, format: Format) -> Option<HttpResponse> {
    let limiter = &state.services.limiter;
    let ip = client_ip(req, limiter.config.trusted_proxy_hops);
    let wait = limiter.check_flood(ip).err()?;
    let seconds = wait.as_secs().max(1);
    let body = json!({ "errors": [{
        "message": format!("too many requests; retry in {seconds} s"),
        "extensions": { "code": ErrorCode::RateLimited.as_str(), "retryAfterSeconds": seconds }
    }] });
    Some(
        HttpResponse::TooManyRequests()
            .content_type(format.content_type())
            .insert_header((header::RETRY_AFTER, seconds.to_string()))
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .body(body.to_string()),
    )
}

/// A POST body as the GraphQL-over-HTTP spec defines it: `query` is required (async-graphql
/// alone would default it to an empty document).
#[derive(Deserialize)]
struct PostBody {
    /// Absent with a persisted-query hash alone.
    #[serde(default)]
    query: Option<String>,
    #[serde(rename = "operationName", default)]
    operation_name: Option<String>,
    #[serde(default)]
    variables: Option<async_graphql::Variables>,
    #[serde(default)]
    extensions: Option<async_graphql::Extensions>,
}

impl PostBody {
    fn into_request(self) -> async_graphql::Request {
        let mut request = async_graphql::Request::new(self.query.unwrap_or_default());
        request.operation_name = self.operation_name;
        request.variables = self.variables.unwrap_or_default();
        if let Some(extensions) = self.extensions {
            request.extensions = extensions;
        }
        request
    }
}

/// Resolves an automatic persisted query; the answer when it cannot run. An unknown hash
/// answers 200 (Apollo's link reads it and sends the query), a wrong one 400.
async fn persisted(
    state: &AppState,
    request: &mut async_graphql::Request,
    format: Format,
) -> Option<HttpResponse> {
    let refusal = state
        .persisted
        .resolve(&state.services.db, request)
        .await
        .err()?;
    let status = if refusal.code == ErrorCode::PersistedQueryNotFound {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    };
    Some(refuse(format, status, refusal.code, refusal.message))
}

/// A refusal of the document pre-check, answered before anything parses it.
struct Refused(gql::precheck::Refusal);

impl Refused {
    fn respond(&self, format: Format) -> HttpResponse {
        refuse(
            format,
            StatusCode::BAD_REQUEST,
            self.0.code(),
            &self.0.message(),
        )
    }
}

/// The pre-check, the parse and the document checks; a document that passed them is kept
/// for the next request with the same text (its limits are fixed for the life of the
/// process), so a cached one skips all three.
fn precheck(
    state: &AppState,
    request: &mut async_graphql::Request,
    format: Format,
) -> Result<(), Box<HttpResponse>> {
    if let Some(document) = state.documents.get(&request.query) {
        request.set_parsed_query(document);
        return Ok(());
    }
    gql::precheck::check(&request.query, &state.document_limits)
        .map_err(|refused| Box::new(Refused(refused).respond(format)))?;
    let document = async_graphql::parser::parse_query(&request.query)
        .map_err(|e| Box::new(request_errors(format, vec![gql::parse_failed(e.into())])))?;
    state
        .request_limits
        .check(&document)
        .map_err(|e| Box::new(request_errors(format, vec![e])))?;
    if gql::documents::DocumentCache::admits(&request.query) {
        state.documents.put(&request.query, document.clone());
    }
    request.set_parsed_query(document);
    Ok(())
}

/// Errors that stopped the request before execution: no `data`, HTTP 400 under
/// `application/graphql-response+json` (429 when a budget refused it).
fn request_errors(format: Format, errors: Vec<ServerError>) -> HttpResponse {
    let retry_after = retry_after(&errors);
    let status = match (retry_after, format) {
        (Some(_), _) => StatusCode::TOO_MANY_REQUESTS,
        (None, Format::GraphqlResponseJson) => StatusCode::BAD_REQUEST,
        (None, Format::Json) => StatusCode::OK,
    };
    let mut builder = HttpResponse::build(status);
    builder.content_type(format.content_type());
    if let Some(seconds) = retry_after {
        builder.insert_header((header::RETRY_AFTER, seconds.to_string()));
    }
    builder.insert_header((header::CACHE_CONTROL, HeaderValue::from_static("no-store")));
    builder.body(json!({ "errors": errors }).to_string())
}

/// GET parameters as the GraphQL-over-HTTP spec names them. (async-graphql 7.2.1's
/// `parse_query_string` expects `operation_name`, so it drops the spec's `operationName`.)
#[derive(Deserialize)]
struct GetParams {
    /// Absent with a persisted-query hash alone.
    #[serde(default)]
    query: Option<String>,
    #[serde(rename = "operationName")]
    operation_name: Option<String>,
    /// JSON, URL-encoded.
    variables: Option<String>,
    /// JSON, URL-encoded.
    extensions: Option<String>,
}

fn parse_get(query_string: &str) -> Result<async_graphql::Request, String> {
    let params = web::Query::<GetParams>::from_query(query_string)
        .map_err(|e| e.to_string())?
        .into_inner();
    let query = params.query;
    let mut request = async_graphql::Request::new(query.clone().unwrap_or_default());
    request.operation_name = params.operation_name.filter(|name| !name.is_empty());
    if let Some(variables) = params.variables.filter(|v| !v.is_empty()) {
        request.variables =
            serde_json::from_str(&variables).map_err(|e| format!("invalid variables: {e}"))?;
    }
    if let Some(extensions) = params.extensions.filter(|v| !v.is_empty()) {
        request.extensions =
            serde_json::from_str(&extensions).map_err(|e| format!("invalid extensions: {e}"))?;
    }
    if query.is_none() && !request.extensions.contains_key("persistedQuery") {
        return Err("missing field `query`".to_owned());
    }
    Ok(request)
}

pub async fn get(req: HttpRequest, state: web::Data<AppState>) -> HttpResponse {
    let format = Format::negotiate(&req);
    if let Some(shed) = shed_flood(&req, &state, format) {
        return shed;
    }
    // GET keys live apart from POST bodies.
    let get_key = [b"GET ".as_slice(), req.query_string().as_bytes()].concat();
    let key = cache_key(&req, &state, &get_key);
    if let Some(key) = key
        && let Some(hit) = cached(&req, &state, key, format).await
    {
        return hit;
    }
    let mut request = match parse_get(req.query_string()) {
        Ok(request) => request,
        Err(e) => {
            let message = format!("the query string is not a valid GraphQL request: {e}");
            return refuse(
                format,
                StatusCode::BAD_REQUEST,
                ErrorCode::BadRequest,
                &message,
            );
        }
    };
    if let Some(refused) = persisted(&state, &mut request, format).await {
        return refused;
    }
    if let Err(refused) = precheck(&state, &mut request, format) {
        return *refused;
    }
    if !matches!(
        operation_type(&mut request),
        Some(OperationType::Query) | None
    ) {
        return refuse(
            format,
            StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::MethodNotAllowed,
            "only queries may be sent with GET; send mutations with POST",
        );
    }
    execute(&req, &state, request, format, true, key).await
}

/// The request's key in the response cache: its raw bytes, when the cache is on and the
/// request carries no credentials and does not ask for a fresh answer.
fn cache_key<'a>(req: &HttpRequest, state: &AppState, raw: &'a [u8]) -> Option<&'a [u8]> {
    state.response_cache.as_ref()?;
    let headers = req.headers();
    let credentials =
        headers.contains_key(header::AUTHORIZATION) || headers.contains_key("x-api-key");
    let fresh = headers
        .get_all(header::CACHE_CONTROL)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|d| matches!(d.trim(), "no-cache" | "no-store"));
    (!credentials && !fresh).then_some(raw)
}

/// The kept answer for `key`, charged to the caller's cost budget like an execution.
async fn cached(
    req: &HttpRequest,
    state: &AppState,
    key: &[u8],
    format: Format,
) -> Option<HttpResponse> {
    let cache = state.response_cache.as_ref()?;
    let answer = cache.get(key, state.services.changes.generation())?;
    let body = match answer.points {
        Some(points) if state.services.limiter.config.enabled => {
            let ip = client_ip(req, state.services.limiter.config.trusted_proxy_hops);
            let viewer = crate::auth::Viewer::Anonymous;
            match gql::charge_cost(&state.services, &viewer, ip, points).await {
                Ok(budget) => {
                    let extensions = json!({ "cost": gql::cost_extension(&budget) });
                    web::Bytes::from(response_cache::with_extensions(
                        &answer.body,
                        extensions.to_string().as_bytes(),
                    ))
                }
                Err(refusal) => return Some(request_errors(format, vec![refusal])),
            }
        }
        _ => answer.body,
    };
    Some(answered(format, None, "no-store", body, Some("HIT")))
}

/// A response with data, as every execution and cache hit ends.
fn answered(
    format: Format,
    retry_after: Option<u64>,
    cache_control: &str,
    body: web::Bytes,
    cache_status: Option<&'static str>,
) -> HttpResponse {
    let mut builder = HttpResponse::build(StatusCode::OK);
    builder.content_type(format.content_type());
    if let Some(seconds) = retry_after {
        builder.insert_header((header::RETRY_AFTER, seconds.to_string()));
    }
    if let Ok(value) = HeaderValue::from_str(cache_control) {
        builder.insert_header((header::CACHE_CONTROL, value));
    }
    if let Some(status) = cache_status {
        builder.insert_header((X_CACHE, HeaderValue::from_static(status)));
    }
    builder.body(body)
}

/// Root fields that start or end a session and need no valid access token.
const SESSION_FIELDS: [&str; 4] = ["signUp", "logIn", "refreshToken", "logOut"];

/// Whether `operation` is a mutation of session fields only.
fn only_session_fields(operation: &OperationDefinition) -> bool {
    use async_graphql::parser::types::Selection;
    operation.ty == OperationType::Mutation
        && operation.selection_set.node.items.iter().all(|item| {
            matches!(&item.node, Selection::Field(field)
                if SESSION_FIELDS.contains(&field.node.name.node.as_str())
                    || field.node.name.node == "__typename")
        })
}

/// HTTP 401 for a request whose token or key is not valid (RFC 6750's `invalid_token`).
fn unauthorized(format: Format, failure: crate::error::AuthFailure) -> HttpResponse {
    let message = failure.message();
    let body = json!({ "errors": [{
        "message": message,
        "extensions": { "code": ErrorCode::Unauthenticated.as_str() },
    }] });
    let challenge = format!(
        "Bearer error=\"invalid_token\", error_description=\"{}\"",
        message.replace('"', "'")
    );
    let mut response = HttpResponse::build(StatusCode::UNAUTHORIZED);
    response
        .content_type(format.content_type())
        .insert_header((header::CACHE_CONTROL, "no-store"));
    if let Ok(value) = HeaderValue::from_str(&challenge) {
        response.insert_header((header::WWW_AUTHENTICATE, value));
    }
    response.body(body.to_string())
}

/// Whether the response cache answered (`HIT`) or the request ran (`MISS`); only on
/// requests the cache may answer.
const X_CACHE: &str = "x-cache";

/// Any method other than GET and POST.
pub async fn other_method(req: HttpRequest) -> HttpResponse {
    refuse(
        Format::negotiate(&req),
        StatusCode::METHOD_NOT_ALLOWED,
        ErrorCode::MethodNotAllowed,
        "use GET or POST",
    )
}

/// The type of the operation the request would run, `None` when that cannot be told yet
/// (parse error, unknown operation name): execution reports those as request errors.
/// The parsed document is kept in the request, so it is not parsed twice.
fn operation_type(request: &mut async_graphql::Request) -> Option<OperationType> {
    selected_operation(request).map(|op| op.ty)
}

pub(super) fn selected_operation(
    request: &mut async_graphql::Request,
) -> Option<&OperationDefinition> {
    let name = request.operation_name.clone();
    let document = request.parsed_query().ok()?;
    operation_in(document, name.as_deref())
}

/// The operation of `document` a request names (or its only one).
fn operation_in<'a>(
    document: &'a async_graphql::parser::types::ExecutableDocument,
    name: Option<&str>,
) -> Option<&'a OperationDefinition> {
    match (&document.operations, name) {
        (DocumentOperations::Single(op), _) => Some(&op.node),
        (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name).map(|op| &op.node),
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => {
            ops.values().next().map(|op| &op.node)
        }
        (DocumentOperations::Multiple(_), None) => None,
    }
}

/// A variable of non-null type with no default that the request leaves out (or sends as
/// null). The spec makes that a request error; async-graphql 7.2.1 would run the operation
/// and fail the field with a code-less error instead.
fn missing_variable(request: &mut async_graphql::Request) -> Option<String> {
    let variables = request.variables.clone();
    let operation = selected_operation(request)?;
    operation
        .variable_definitions
        .iter()
        .find_map(|definition| {
            let definition = &definition.node;
            let name = definition.name.node.as_str();
            let given = variables
                .get(name)
                .is_some_and(|v| !matches!(v, async_graphql::Value::Null));
            (!definition.var_type.node.nullable && definition.default_value.is_none() && !given)
                .then(|| {
                    format!(
                        "variable `${name}` of type `{}` was not provided",
                        definition.var_type.node
                    )
                })
        })
}

async fn execute(
    req: &HttpRequest,
    state: &AppState,
    request: async_graphql::Request,
    format: Format,
    cacheable: bool,
    cache_key: Option<&[u8]>,
) -> HttpResponse {
    let authorization = req
        .headers()
        .get(header::AUTHORIZATION)
        .map(|v| v.to_str().unwrap_or("\u{0}"));
    let x_api_key = req
        .headers()
        .get("x-api-key")
        .map(|v| v.to_str().unwrap_or("\u{0}"));
    let auth = match viewer::api_key_of(authorization, x_api_key) {
        Some(secret) => crate::service::api_keys::authenticate(&state.services, secret).await,
        None => viewer::from_authorization_header(authorization, &state.services.access_tokens),
    };
    let info = RequestInfo {
        auth,
        request_id: req.extensions().get::<RequestId>().map(|id| id.0.clone()),
        client_ip: client_ip(req, state.services.limiter.config.trusted_proxy_hops),
    };
    let mut request = request;
    if let Some(message) = missing_variable(&mut request) {
        let status = match format {
            Format::GraphqlResponseJson => StatusCode::BAD_REQUEST,
            Format::Json => StatusCode::OK,
        };
        return refuse(format, status, ErrorCode::BadUserInput, &message);
    }
    let operation = selected_operation(&mut request).map(gql::Operation::of);
    if operation.is_some_and(|op| op.is_subscription()) {
        let status = match format {
            Format::GraphqlResponseJson => StatusCode::BAD_REQUEST,
            Format::Json => StatusCode::OK,
        };
        return refuse(
            format,
            status,
            ErrorCode::BadRequest,
            "subscriptions run over WebSocket (GET /graphql, graphql-transport-ws)",
        );
    }
    if let Some(operation) = operation
        && let Err(refusal) = gql::admit(&state.services, &info, operation).await
    {
        return request_errors(format, vec![refusal]);
    }
    if let Err(failure) = &info.auth
        && !selected_operation(&mut request).is_some_and(only_session_fields)
    {
        // Credentials were presented and are not valid: say so at the HTTP level, so a
        // client refreshes its token instead of guessing (a log-in or refresh still runs:
        // clients often keep sending the stale header with them).
        return unauthorized(format, *failure);
    }
    let mutation = operation.is_some_and(|op| op.is_mutation());
    let order = {
        let name = request.operation_name.clone();
        request.parsed_query().ok().and_then(|document| {
            operation_in(document, name.as_deref())
                .map(|op| super::order::Plan::of(document, op, &state.types))
        })
    };
    // Read before executing: an answer computed while a change commits is stored as
    // already stale.
    let generation = state.services.changes.generation();
    let idle = gql::idle::IdleSignal::new();
    let request = gql::with_request_data(request, &state.services, info, idle.clone());
    let execution = gql::idle::UntilIdle::new(state.schema.execute(request), idle);
    // Dropping the execution at the deadline cancels it: an open transaction rolls back.
    let executed = tokio::time::timeout(state.operation_timeout, execution).await;
    if mutation {
        // Whatever it committed (a timed-out mutation may have committed a part).
        state.services.changes.announce(&state.services.db).await;
    }
    let Ok(mut response) = executed else {
        tracing::warn!(
            timeout_secs = state.operation_timeout.as_secs(),
            "operation cancelled at its deadline"
        );
        let message = format!(
            "the operation took longer than {} s and was cancelled (a write not yet committed was rolled back)",
            state.operation_timeout.as_secs()
        );
        return refuse(
            format,
            StatusCode::GATEWAY_TIMEOUT,
            ErrorCode::Timeout,
            &message,
        );
    };
    if let Some(order) = &order {
        order.nulls(&mut response.data, &response.errors);
        order.apply(&mut response.data);
    }
    // Execution errors always carry the path of their field: errors without one, and no
    // data, mean the request was refused before it ran (validation, operation selection,
    // the cost budget).
    let request_error = response.data == async_graphql::Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|e| e.path.is_empty());
    if request_error {
        let errors = response
            .errors
            .into_iter()
            .map(gql::request_error_code)
            .collect();
        return request_errors(format, errors);
    }
    let cache_control = response.cache_control.value();
    let retry_after = retry_after(&response.errors);
    response.errors = std::mem::take(&mut response.errors)
        .into_iter()
        .map(execution_error_code)
        .collect();
    let points = gql::charged_points(&response);
    let extensions = std::mem::take(&mut response.extensions);
    // The body without extensions is what the cache keeps; they are added per answer.
    let body = serde_json::to_vec(&response).and_then(|base| {
        let base = web::Bytes::from(base);
        if extensions.is_empty() {
            return Ok((base.clone(), base));
        }
        let extensions = serde_json::to_vec(&extensions)?;
        let full = response_cache::with_extensions(&base, &extensions);
        Ok((base, web::Bytes::from(full)))
    });
    let (base, body) = match body {
        Ok(bodies) => bodies,
        Err(e) => {
            tracing::error!(error = %e, "could not serialize a GraphQL response");
            return refuse(
                format,
                StatusCode::INTERNAL_SERVER_ERROR,
                ErrorCode::InternalServerError,
                "internal server error",
            );
        }
    };
    let cache_status = cache_key.map(|key| {
        let query = operation.is_some_and(|op| op.is_query());
        if let Some(cache) = &state.response_cache
            && query
            && response.errors.is_empty()
        {
            cache.put(
                key,
                generation,
                response_cache::Answer { body: base, points },
            );
        }
        "MISS"
    });
    let cache_control = match cache_control {
        Some(value) if cacheable && authorization.is_none() => value,
        _ => "no-store".to_owned(),
    };
    answered(format, retry_after, &cache_control, body, cache_status)
}

/// The longest `retryAfterSeconds` of the response's `RATE_LIMITED` errors, for a
/// `Retry-After` header.
fn retry_after(errors: &[ServerError]) -> Option<u64> {
    errors
        .iter()
        .filter_map(|e| e.extensions.as_ref())
        .filter(|ext| {
            matches!(ext.get("code"), Some(async_graphql::Value::String(code)) if code == ErrorCode::RateLimited.as_str())
        })
        .filter_map(|ext| match ext.get("retryAfterSeconds") {
            Some(async_graphql::Value::Number(n)) => n.as_u64(),
            _ => Some(1),
        })
        .max()
}

fn with_default_code(mut err: ServerError, code: ErrorCode) -> ServerError {
    let extensions = err.extensions.get_or_insert_with(Default::default);
    if extensions.get("code").is_none() {
        extensions.set("code", code.as_str());
    }
    err
}

/// Our resolvers always attach a code; errors without one come from async-graphql itself
/// during execution. Those are argument-coercion failures ("Failed to parse …", "… occurred
/// while parsing …"), which the client can fix, or else faults of ours.
pub(super) fn execution_error_code(err: ServerError) -> ServerError {
    let coercion = err.message.starts_with("Failed to parse")
        || err.message.starts_with("Invalid value for argument")
        || err.message.contains("occurred while parsing");
    let code = if coercion {
        ErrorCode::BadUserInput
    } else {
        ErrorCode::InternalServerError
    };
    with_default_code(err, code)
}

#[cfg(test)]
mod tests {
    use actix_web::test::TestRequest;

    use super::*;

    fn format_for(accept: &str) -> Format {
        Format::negotiate(
            &TestRequest::default()
                .insert_header((header::ACCEPT, accept))
                .to_http_request(),
        )
    }

    #[test]
    fn the_graphql_response_media_type_is_chosen_only_when_accepted() {
        assert_eq!(
            format_for("application/graphql-response+json, application/json;q=0.9"),
            Format::GraphqlResponseJson
        );
        assert_eq!(format_for("application/json"), Format::Json);
        assert_eq!(format_for("*/*"), Format::Json);
        assert_eq!(
            format_for("application/graphql-response+json;q=0, application/json"),
            Format::Json
        );
    }
}
