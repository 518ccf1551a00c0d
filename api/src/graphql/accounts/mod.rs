//! Accounts over GraphQL: the `viewer` query and the session mutations.

mod types;

use async_graphql::{Context, Object};

pub use types::User;
use types::{
    AuthSession, LogInInput, LogInPayload, LogOutInput, LogOutPayload, RefreshTokenInput,
    RefreshTokenPayload, SignUpInput, SignUpPayload,
};

use super::{GqlResultExt, context::ContextExt, error::payload};
use crate::service::{accounts, users};

#[derive(Default)]
pub struct AccountQuery;

#[Object]
impl AccountQuery {
    /// The logged-in user, or null when the request carries no access token.
    async fn viewer(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<User>> {
        let actor = ctx.actor()?;
        Ok(users::me(ctx.services(), &actor.viewer)
            .await
            .gql()?
            .map(User))
    }
}

#[derive(Default)]
pub struct AccountMutation;

#[Object]
impl AccountMutation {
    /// Creates an account and logs it in.
    async fn sign_up(
        &self,
        ctx: &Context<'_>,
        input: SignUpInput,
    ) -> async_graphql::Result<SignUpPayload> {
        let result = accounts::sign_up(ctx.services(), &ctx.credential_actor(), input.into()).await;
        let (session, user_errors) = payload(result)?;
        Ok(SignUpPayload {
            session: session.map(AuthSession::from),
            user_errors,
        })
    }

    /// Exchanges an e-mail address and password for a session.
    async fn log_in(
        &self,
        ctx: &Context<'_>,
        input: LogInInput,
    ) -> async_graphql::Result<LogInPayload> {
        let result = accounts::log_in(ctx.services(), &ctx.credential_actor(), input.into()).await;
        let (session, user_errors) = payload(result)?;
        Ok(LogInPayload {
            session: session.map(AuthSession::from),
            user_errors,
        })
    }

    /// Exchanges a refresh token for a new session; the presented token is used up. Using
    /// a refresh token twice revokes every session of its log-in (`UNAUTHENTICATED`).
    async fn refresh_token(
        &self,
        ctx: &Context<'_>,
        input: RefreshTokenInput,
    ) -> async_graphql::Result<RefreshTokenPayload> {
        let result = accounts::refresh(
            ctx.services(),
            &ctx.credential_actor(),
            &input.refresh_token,
        )
        .await;
        let (session, user_errors) = payload(result)?;
        Ok(RefreshTokenPayload {
            session: session.map(AuthSession::from),
            user_errors,
        })
    }

    /// Ends the session of this refresh token (or every session of its user). Access tokens
    /// already issued stay valid until they expire (at most 15 minutes).
    async fn log_out(
        &self,
        ctx: &Context<'_>,
        input: LogOutInput,
    ) -> async_graphql::Result<LogOutPayload> {
        let result = accounts::log_out(
            ctx.services(),
            &ctx.credential_actor(),
            &input.refresh_token,
            input.all_sessions.unwrap_or(false),
        )
        .await;
        let (done, user_errors) = payload(result)?;
        Ok(LogOutPayload {
            logged_out: done.is_some(),
            user_errors,
        })
    }
}
