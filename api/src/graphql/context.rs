//! Per-request data the transport puts into every GraphQL execution, and typed access
//! to it from resolvers.

use async_graphql::Context;

use super::GqlResultExt;
use crate::{
    auth::Viewer,
    error::{AppError, AuthFailure},
    service::{Actor, Services},
};

/// What the HTTP layer learned about the request before executing it.
#[derive(Debug, Clone)]
pub struct RequestInfo {
    /// The verified viewer, or why the presented credentials were refused.
    pub auth: Result<Viewer, AuthFailure>,
    pub request_id: Option<String>,
    /// The client's address (the TCP peer, or X-Forwarded-For behind trusted proxies).
    pub client_ip: Option<std::net::IpAddr>,
}

pub trait ContextExt {
    fn services(&self) -> &Services;
    /// The caller, or `UNAUTHENTICATED` when the request carried a bad token.
    fn actor(&self) -> async_graphql::Result<Actor>;
    /// For operations that establish credentials (sign-up, log-in, refresh): the request
    /// is served as anonymous even if it carries a stale access token.
    fn credential_actor(&self) -> Actor;
}

impl ContextExt for Context<'_> {
    fn services(&self) -> &Services {
        self.data_unchecked::<Services>()
    }

    fn actor(&self) -> async_graphql::Result<Actor> {
        let info = self.data_opt::<RequestInfo>();
        let request_id = info.and_then(|i| i.request_id.clone());
        let ip = info.and_then(|i| i.client_ip);
        match info.map(|i| i.auth.clone()) {
            Some(Ok(viewer)) => Ok(Actor::new(viewer, request_id).from_ip(ip)),
            Some(Err(failure)) => Err(AppError::Unauthenticated(failure)).gql(),
            None => Ok(Actor::new(Viewer::Anonymous, request_id).from_ip(ip)),
        }
    }

    fn credential_actor(&self) -> Actor {
        let info = self.data_opt::<RequestInfo>();
        Actor::new(Viewer::Anonymous, info.and_then(|i| i.request_id.clone()))
            .from_ip(info.and_then(|i| i.client_ip))
    }
}
