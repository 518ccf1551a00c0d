//! Vendors and their teams over GraphQL.

mod types;

use async_graphql::{Context, Object};
use types::{
    AddVendorMemberInput, AddVendorMemberPayload, ChangeVendorMemberRoleInput,
    ChangeVendorMemberRolePayload, CreateVendorInput, CreateVendorPayload, RemoveVendorMemberInput,
    RemoveVendorMemberPayload, UpdateVendorInput, UpdateVendorPayload,
};
pub use types::{Vendor, VendorMember};

use super::{
    GqlResultExt,
    context::ContextExt,
    error::payload,
    input::patch,
    relay::{self, NodeType},
};
use crate::service::vendors::{self, NewVendor, VendorPatch, VendorProfile};

#[derive(Default)]
pub struct VendorQuery;

#[Object]
impl VendorQuery {
    /// The vendor with this slug.
    async fn vendor(
        &self,
        ctx: &Context<'_>,
        slug: String,
    ) -> async_graphql::Result<Option<Vendor>> {
        ctx.actor()?;
        Ok(vendors::find_by_slug(ctx.services(), &slug)
            .await
            .gql()?
            .map(Vendor))
    }
}

#[derive(Default)]
pub struct VendorMutation;

#[Object]
impl VendorMutation {
    /// Creates a vendor; you become its `OWNER`.
    async fn create_vendor(
        &self,
        ctx: &Context<'_>,
        input: CreateVendorInput,
    ) -> async_graphql::Result<CreateVendorPayload> {
        let actor = ctx.actor()?;
        let new = NewVendor {
            slug: input.slug,
            profile: VendorProfile {
                name: input.name,
                website: input.website,
                description: input.description,
                logo_url: input.logo_url,
                country: input.country,
            },
        };
        let (vendor, user_errors) = payload(vendors::create(ctx.services(), &actor, new).await)?;
        Ok(CreateVendorPayload {
            vendor: vendor.map(Vendor),
            user_errors,
        })
    }

    /// Updates a vendor's profile (`OWNER` or `ADMIN`).
    async fn update_vendor(
        &self,
        ctx: &Context<'_>,
        input: UpdateVendorInput,
    ) -> async_graphql::Result<UpdateVendorPayload> {
        let actor = ctx.actor()?;
        let id = relay::decode_as(&input.id, NodeType::Vendor).gql()?;
        let changes = VendorPatch {
            name: input.name,
            website: patch(input.website),
            description: patch(input.description),
            logo_url: patch(input.logo_url),
            country: patch(input.country),
        };
        let result =
            vendors::update(ctx.services(), &actor, id, input.expected_version, changes).await;
        let (vendor, user_errors) = payload(result)?;
        Ok(UpdateVendorPayload {
            vendor: vendor.map(Vendor),
            user_errors,
        })
    }

    /// Adds an existing account to the team (`OWNER` or `ADMIN`; only owners add owners).
    async fn add_vendor_member(
        &self,
        ctx: &Context<'_>,
        input: AddVendorMemberInput,
    ) -> async_graphql::Result<AddVendorMemberPayload> {
        let actor = ctx.actor()?;
        let vendor_id = relay::decode_as(&input.vendor_id, NodeType::Vendor).gql()?;
        let result = vendors::add_member(
            ctx.services(),
            &actor,
            vendor_id,
            &input.email,
            input.role.into(),
        )
        .await;
        let (member, user_errors) = payload(result)?;
        Ok(AddVendorMemberPayload {
            member: member.map(VendorMember),
            user_errors,
        })
    }

    /// Changes a teammate's role. The last owner cannot be demoted.
    async fn change_vendor_member_role(
        &self,
        ctx: &Context<'_>,
        input: ChangeVendorMemberRoleInput,
    ) -> async_graphql::Result<ChangeVendorMemberRolePayload> {
        let actor = ctx.actor()?;
        let member_id = relay::decode_as(&input.member_id, NodeType::VendorMember).gql()?;
        let result =
            vendors::change_member_role(ctx.services(), &actor, member_id, input.role.into()).await;
        let (member, user_errors) = payload(result)?;
        Ok(ChangeVendorMemberRolePayload {
            member: member.map(VendorMember),
            user_errors,
        })
    }

    /// Removes a teammate, or yourself. The last owner cannot be removed.
    async fn remove_vendor_member(
        &self,
        ctx: &Context<'_>,
        input: RemoveVendorMemberInput,
    ) -> async_graphql::Result<RemoveVendorMemberPayload> {
        let actor = ctx.actor()?;
        let member_id = relay::decode_as(&input.member_id, NodeType::VendorMember).gql()?;
        let (removed, user_errors) =
            payload(vendors::remove_member(ctx.services(), &actor, member_id).await)?;
        Ok(RemoveVendorMemberPayload {
            removed_member_id: removed.map(|m| relay::encode(NodeType::VendorMember, m.id)),
            user_errors,
        })
    }
}
