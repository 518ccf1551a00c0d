//! GraphQL types of vendors and teams.

use async_graphql::{Context, Enum, ID, InputObject, MaybeUndefined, Object, SimpleObject};
use chrono::{DateTime, Utc};
use entity::vendor;

use crate::{
    graphql::{
        GqlResultExt,
        connection::page_cost,
        context::ContextExt,
        error::{UserError, loader_error},
        loaders::{AppLoader, ViewerRoleIn},
        programs::{ProgramConnection, ProgramOrder, VendorProgramFilter, list_programs},
        relay::{self, NodeType},
    },
    service::{programs::ProgramFilter, vendors},
};

/// A team role. `OWNER` and `ADMIN` manage the vendor, its team and its programs;
/// `MEMBER` can read drafts. Only an owner may grant or take away ownership.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::vendor_member::VendorRole")]
pub enum VendorRole {
    Owner,
    Admin,
    Member,
}

/// A SaaS company publishing partner programs. Vendor profiles are public.
#[derive(Clone)]
pub struct Vendor(pub vendor::Model);

#[Object]
impl Vendor {
    pub async fn id(&self) -> ID {
        relay::encode(NodeType::Vendor, self.0.id)
    }

    async fn slug(&self) -> &str {
        &self.0.slug
    }

    async fn name(&self) -> &str {
        &self.0.name
    }

    async fn website(&self) -> Option<&str> {
        self.0.website.as_deref()
    }

    async fn description(&self) -> Option<&str> {
        self.0.description.as_deref()
    }

    async fn logo_url(&self) -> Option<&str> {
        self.0.logo_url.as_deref()
    }

    /// ISO 3166-1 alpha-2.
    async fn country(&self) -> Option<&str> {
        self.0.country.as_deref()
    }

    /// Send it back as `expectedVersion` when updating.
    async fn version(&self) -> i32 {
        self.0.version
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    async fn updated_at(&self) -> DateTime<Utc> {
        self.0.updated_at
    }

    /// The vendor's API keys, newest first (its `OWNER`s and `ADMIN`s only; null for
    /// anyone else). Secrets are never shown again after creation.
    async fn api_keys(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<Vec<crate::graphql::api_keys::ApiKey>>> {
        let actor = ctx.actor()?;
        Ok(
            crate::service::api_keys::of_vendor(ctx.services(), &actor.viewer, self.0.id)
                .await
                .gql()?
                .map(|keys| {
                    keys.into_iter()
                        .map(crate::graphql::api_keys::ApiKey)
                        .collect()
                }),
        )
    }

    /// The vendor's programs. The public sees published public listings; the vendor's
    /// team also sees drafts, paused, archived and invite-only ones (all statuses unless
    /// `filter.statuses` says otherwise).
    #[graphql(complexity = "page_cost(first, last, child_complexity)")]
    #[allow(clippy::too_many_arguments)]
    async fn programs(
        &self,
        ctx: &Context<'_>,
        filter: Option<VendorProgramFilter>,
        order_by: Option<ProgramOrder>,
        first: Option<i32>,
        after: Option<String>,
        last: Option<i32>,
        before: Option<String>,
    ) -> async_graphql::Result<ProgramConnection> {
        let filter = ProgramFilter {
            vendor_id: Some(self.0.id),
            statuses: Some(match filter.and_then(|f| f.statuses) {
                Some(statuses) => statuses.into_iter().map(Into::into).collect(),
                None => {
                    use entity::program::ProgramStatus::*;
                    vec![Draft, Published, Paused, Archived]
                }
            }),
            ..ProgramFilter::default()
        };
        list_programs(ctx, filter, order_by, first, after, last, before).await
    }

    /// The team; null unless the viewer is on it (or a platform admin).
    async fn members(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<Vec<VendorMember>>> {
        let actor = ctx.actor()?;
        let team = vendors::team(ctx.services(), &actor.viewer, self.0.id)
            .await
            .gql()?;
        Ok(team.map(|members| members.into_iter().map(VendorMember).collect()))
    }

    /// The viewer's role on the team, or null.
    async fn viewer_role(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<VendorRole>> {
        ctx.actor()?;
        let role = ctx
            .data_unchecked::<AppLoader>()
            .load_one(ViewerRoleIn(self.0.id))
            .await
            .map_err(loader_error)?;
        Ok(role.map(Into::into))
    }
}

/// A user's membership of a vendor's team.
#[derive(Clone)]
pub struct VendorMember(pub vendors::MemberRecord);

#[Object]
impl VendorMember {
    pub async fn id(&self) -> ID {
        relay::encode(NodeType::VendorMember, self.0.member.id)
    }

    async fn role(&self) -> VendorRole {
        self.0.member.role.into()
    }

    async fn display_name(&self) -> &str {
        &self.0.user.display_name
    }

    /// Visible to teammates only, like the team itself.
    async fn email(&self) -> &str {
        &self.0.user.email
    }

    async fn joined_at(&self) -> DateTime<Utc> {
        self.0.member.created_at
    }

    async fn vendor(&self) -> Vendor {
        Vendor(self.0.vendor.clone())
    }
}

#[derive(InputObject)]
pub struct CreateVendorInput {
    /// 3–64 lower-case letters, digits and dashes; unique.
    pub slug: String,
    pub name: String,
    pub website: Option<String>,
    pub description: Option<String>,
    pub logo_url: Option<String>,
    /// ISO 3166-1 alpha-2.
    pub country: Option<String>,
}

#[derive(InputObject)]
pub struct UpdateVendorInput {
    pub id: ID,
    /// The `version` you last read; a stale one is refused with a `CONFLICT` user error.
    pub expected_version: i32,
    pub name: Option<String>,
    pub website: MaybeUndefined<String>,
    pub description: MaybeUndefined<String>,
    pub logo_url: MaybeUndefined<String>,
    pub country: MaybeUndefined<String>,
}

#[derive(InputObject)]
pub struct AddVendorMemberInput {
    pub vendor_id: ID,
    /// E-mail address of an existing account.
    pub email: String,
    pub role: VendorRole,
}

#[derive(InputObject)]
pub struct ChangeVendorMemberRoleInput {
    pub member_id: ID,
    pub role: VendorRole,
}

#[derive(InputObject)]
pub struct RemoveVendorMemberInput {
    pub member_id: ID,
}

#[derive(SimpleObject)]
pub struct CreateVendorPayload {
    pub vendor: Option<Vendor>,
    pub user_errors: Vec<UserError>,
}

#[derive(SimpleObject)]
pub struct UpdateVendorPayload {
    pub vendor: Option<Vendor>,
    pub user_errors: Vec<UserError>,
}

#[derive(SimpleObject)]
pub struct AddVendorMemberPayload {
    pub member: Option<VendorMember>,
    pub user_errors: Vec<UserError>,
}

#[derive(SimpleObject)]
pub struct ChangeVendorMemberRolePayload {
    pub member: Option<VendorMember>,
    pub user_errors: Vec<UserError>,
}

#[derive(SimpleObject)]
pub struct RemoveVendorMemberPayload {
    pub removed_member_id: Option<ID>,
    pub user_errors: Vec<UserError>,
}
