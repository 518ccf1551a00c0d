//! Program listings over GraphQL: the `programs` connection, `program(slug)`, and the
//! mutations of the listing lifecycle.

mod figures;
mod inputs;
mod types;

use async_graphql::{
    Context, Object, SimpleObject,
    connection::{Connection, EmptyFields},
};
use inputs::{CreateProgramInput, ProgramVersionInput, SetProgramTermsInput, UpdateProgramInput};
pub use inputs::{ProgramFilter, ProgramOrder, VendorProgramFilter};
pub use types::{
    CommissionEvent, CommissionModel, CommissionRule, PartnerType, Program, ProgramTier,
};

use super::{
    GqlResultExt,
    connection::{connection, page_cost, page_request},
    context::ContextExt,
    error::{UserError, payload},
};
use crate::service::programs::{self, ProgramRecord, Transition};

/// Fields of the program connection beyond edges and page info.
pub struct ProgramConnectionFields {
    filter: programs::ProgramFilter,
}

#[Object]
impl ProgramConnectionFields {
    /// Programs matching the filter (a separate count, computed only when asked for).
    async fn total_count(&self, ctx: &Context<'_>) -> async_graphql::Result<u64> {
        let actor = ctx.actor()?;
        programs::count(ctx.services(), &actor.viewer, &self.filter)
            .await
            .gql()
    }
}

pub type ProgramConnection = Connection<String, Program, ProgramConnectionFields, EmptyFields>;

/// Shared by `programs` and `Vendor.programs`.
pub async fn list_programs(
    ctx: &Context<'_>,
    filter: programs::ProgramFilter,
    order_by: Option<ProgramOrder>,
    first: Option<i32>,
    after: Option<String>,
    last: Option<i32>,
    before: Option<String>,
) -> async_graphql::Result<ProgramConnection> {
    let actor = ctx.actor()?;
    let order = order_by.unwrap_or_default().into();
    let page = programs::list(
        ctx.services(),
        &actor.viewer,
        &filter,
        order,
        &page_request(first, after, last, before),
    )
    .await
    .gql()?;
    Ok(connection(
        page,
        ProgramConnectionFields { filter },
        Program,
    ))
}

#[derive(Default)]
pub struct ProgramQuery;

#[Object]
impl ProgramQuery {
    /// Program listings, newest first unless `orderBy` says otherwise. Keyset-paginated:
    /// `first` (1–100, default 20) with `after`, or `last` with `before`.
    #[graphql(complexity = "page_cost(first, last, child_complexity)")]
    #[allow(clippy::too_many_arguments)]
    async fn programs(
        &self,
        ctx: &Context<'_>,
        filter: Option<ProgramFilter>,
        order_by: Option<ProgramOrder>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<ProgramConnection> {
        let filter = filter.unwrap_or_default().into_service().gql()?;
        list_programs(ctx, filter, order_by, first, after, last, before).await
    }

    /// The program with this slug, if the viewer may see it.
    async fn program(
        &self,
        ctx: &Context<'_>,
        slug: String,
    ) -> async_graphql::Result<Option<Program>> {
        let actor = ctx.actor()?;
        Ok(programs::find_by_slug(ctx.services(), &actor.viewer, &slug)
            .await
            .gql()?
            .map(Program))
    }
}

macro_rules! program_payloads {
    ($($name:ident),*) => {$(
        /// The changed program, or why nothing changed.
        #[derive(SimpleObject)]
        pub struct $name {
            pub program: Option<Program>,
            pub user_errors: Vec<UserError>,
        }

        impl From<(Option<ProgramRecord>, Vec<UserError>)> for $name {
            fn from((program, user_errors): (Option<ProgramRecord>, Vec<UserError>)) -> Self {
                Self { program: program.map(Program), user_errors }
            }
        }
    )*};
}

program_payloads!(
    CreateProgramPayload,
    UpdateProgramPayload,
    SetProgramTermsPayload,
    PublishProgramPayload,
    PauseProgramPayload,
    ArchiveProgramPayload
);

#[derive(Default)]
pub struct ProgramMutation;

async fn move_program(
    ctx: &Context<'_>,
    input: &ProgramVersionInput,
    step: Transition,
) -> async_graphql::Result<(Option<ProgramRecord>, Vec<UserError>)> {
    let actor = ctx.actor()?;
    let (id, version) = input.ids().gql()?;
    payload(programs::transition(ctx.services(), &actor, id, version, step).await)
}

#[Object]
impl ProgramMutation {
    /// Creates a `DRAFT` program with its terms (`OWNER` or `ADMIN` of the vendor).
    async fn create_program(
        &self,
        ctx: &Context<'_>,
        input: CreateProgramInput,
    ) -> async_graphql::Result<CreateProgramPayload> {
        let actor = ctx.actor()?;
        let new = input.into_service().gql()?;
        Ok(payload(programs::create(ctx.services(), &actor, new).await)?.into())
    }

    /// Changes listing fields.
    async fn update_program(
        &self,
        ctx: &Context<'_>,
        input: UpdateProgramInput,
    ) -> async_graphql::Result<UpdateProgramPayload> {
        let actor = ctx.actor()?;
        let (id, version, changes) = input.into_service().gql()?;
        Ok(payload(programs::update(ctx.services(), &actor, id, version, changes).await)?.into())
    }

    /// Replaces the tiers and commission rules. On a program that was ever published this
    /// raises `termsVersion`.
    async fn set_program_terms(
        &self,
        ctx: &Context<'_>,
        input: SetProgramTermsInput,
    ) -> async_graphql::Result<SetProgramTermsPayload> {
        let actor = ctx.actor()?;
        let (id, version, terms) = input.into_service().gql()?;
        Ok(payload(programs::set_terms(ctx.services(), &actor, id, version, terms).await)?.into())
    }

    /// `DRAFT` or `PAUSED` → `PUBLISHED`. Needs a description, a category and at least
    /// one commission rule; each missing piece is a user error.
    async fn publish_program(
        &self,
        ctx: &Context<'_>,
        input: ProgramVersionInput,
    ) -> async_graphql::Result<PublishProgramPayload> {
        Ok(move_program(ctx, &input, Transition::Publish).await?.into())
    }

    /// `PUBLISHED` → `PAUSED`: off the marketplace until published again.
    async fn pause_program(
        &self,
        ctx: &Context<'_>,
        input: ProgramVersionInput,
    ) -> async_graphql::Result<PauseProgramPayload> {
        Ok(move_program(ctx, &input, Transition::Pause).await?.into())
    }

    /// → `ARCHIVED`, for good.
    async fn archive_program(
        &self,
        ctx: &Context<'_>,
        input: ProgramVersionInput,
    ) -> async_graphql::Result<ArchiveProgramPayload> {
        Ok(move_program(ctx, &input, Transition::Archive).await?.into())
    }
}
