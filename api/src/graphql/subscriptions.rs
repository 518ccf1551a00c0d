//! GraphQL subscriptions: live updates from the event log (`service::events::live`),
//! served over WebSocket (`graphql-transport-ws`, `http::subscriptions`). Each update is
//! the object as the subscriber may see it at that moment.

use async_graphql::{Context, ID, Subscription};
use futures_util::{Stream, StreamExt};

use super::{
    GqlResultExt,
    applications::{Application, Enrollment},
    context::ContextExt,
    error::to_graphql,
    ledger::{Commission, Conversion},
    programs::Program,
    relay::{self, NodeType},
};
use crate::service::events::live::{self, Feed, Update};

#[derive(Default)]
pub struct Subscription;

/// The updates of `feed` that `pick` turns into `T`; an error ends the stream.
async fn follow<T: Send + 'static>(
    ctx: &Context<'_>,
    feed: Feed,
    pick: fn(Update) -> Option<T>,
) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<T>> + use<T>> {
    let actor = ctx.actor()?;
    let updates = live::follow(ctx.services(), actor.viewer, feed)
        .await
        .gql()?;
    Ok(updates.filter_map(move |update| async move {
        match update {
            Ok(update) => pick(update).map(Ok),
            Err(e) => Some(Err(to_graphql(e))),
        }
    }))
}

fn program_id(id: &ID) -> async_graphql::Result<i64> {
    relay::decode_as(id, NodeType::Program).gql()
}

#[Subscription]
impl Subscription {
    /// Your applications (as a partner) as they change: submitted, approved, rejected,
    /// withdrawn.
    async fn my_application_updated(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<Application>>> {
        follow(ctx, Feed::MyApplications, |u| match u {
            Update::Application(a) => Some(Application(a)),
            _ => None,
        })
        .await
    }

    /// Your partnerships as they change: created, suspended, reinstated, left, terminated.
    async fn my_enrollment_updated(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<Enrollment>>> {
        follow(ctx, Feed::MyEnrollments, |u| match u {
            Update::Enrollment(e) => Some(Enrollment(e)),
            _ => None,
        })
        .await
    }

    /// Your commissions as they change: earned, reversed, approved after the holding
    /// period, paid.
    async fn my_commission_updated(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<Commission>>> {
        follow(ctx, Feed::MyCommissions, |u| match u {
            Update::Commission(c) => Some(Commission(c)),
            _ => None,
        })
        .await
    }

    /// New applications to a program of your vendor (its team).
    async fn application_submitted(
        &self,
        ctx: &Context<'_>,
        program_id: ID,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<Application>>> {
        let program_id = self::program_id(&program_id)?;
        follow(
            ctx,
            Feed::ApplicationsSubmitted { program_id },
            |u| match u {
                Update::Application(a) => Some(Application(a)),
                _ => None,
            },
        )
        .await
    }

    /// Decisions on and withdrawals of a program's applications (its vendor's team).
    async fn application_updated(
        &self,
        ctx: &Context<'_>,
        program_id: ID,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<Application>>> {
        let program_id = self::program_id(&program_id)?;
        follow(ctx, Feed::ApplicationsUpdated { program_id }, |u| match u {
            Update::Application(a) => Some(Application(a)),
            _ => None,
        })
        .await
    }

    /// Conversions reported for a program of your vendor (its team).
    async fn conversion_recorded(
        &self,
        ctx: &Context<'_>,
        program_id: ID,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<Conversion>>> {
        let program_id = self::program_id(&program_id)?;
        follow(ctx, Feed::ConversionsRecorded { program_id }, |u| match u {
            Update::Conversion(c, rows) => Some(Conversion::new(c, rows)),
            _ => None,
        })
        .await
    }

    /// A listing as it changes: terms, status, figures. Anyone who may see it; ends when
    /// it can no longer be seen (paused or archived, for the public).
    async fn program_updated(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<impl Stream<Item = async_graphql::Result<Program>>> {
        let program_id = self::program_id(&id)?;
        follow(ctx, Feed::Program { program_id }, |u| match u {
            Update::Program(record) => Some(Program(*record)),
            _ => None,
        })
        .await
    }
}
