//! A request id per request: taken from a well-formed incoming `X-Request-Id` (set by a
//! load balancer) or generated, put on the tracing span of everything the request logs,
//! and echoed in the response.

use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::Instant,
};

use actix_web::{
    Error, HttpMessage,
    body::MessageBody,
    dev::{ServiceRequest, ServiceResponse},
    http::header::{HeaderName, HeaderValue},
    middleware::Next,
};
use tracing::Instrument;

pub const HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// The current request's id, readable from the request extensions.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

fn incoming(req: &ServiceRequest) -> Option<String> {
    let value = req.headers().get(&HEADER)?.to_str().ok()?;
    let ok = !value.is_empty()
        && value.len() <= 64
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b));
    ok.then(|| value.to_owned())
}

fn generate() -> String {
    static FALLBACK: AtomicU64 = AtomicU64::new(0);
    let mut bytes = [0u8; 12];
    // A failed RNG only costs the uniqueness of a log correlation id, never security.
    if getrandom::fill(&mut bytes).is_err() {
        return format!("local-{}", FALLBACK.fetch_add(1, Ordering::Relaxed));
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, Error> {
    let id = incoming(&req).unwrap_or_else(generate);
    req.extensions_mut().insert(RequestId(id.clone()));
    let span = tracing::info_span!("request", request_id = %id, method = %req.method(), path = %req.path());
    let started = Instant::now();
    let mut response = next.call(req).instrument(span.clone()).await?;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(HEADER, value);
    }
    let status = response.status().as_u16();
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    span.in_scope(|| tracing::info!(status, elapsed_ms, "request finished"));
    Ok(response)
}
