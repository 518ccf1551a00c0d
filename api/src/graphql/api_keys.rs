//! Vendor API keys over GraphQL: create (the secret is in that one response), revoke,
//! and `Vendor.apiKeys` for the vendor's managers.

use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use entity::{api_key, code_list};

use super::{
    GqlResultExt,
    context::ContextExt,
    error::{UserError, payload},
    relay::{self, NodeType},
};
use crate::service::api_keys;

#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[graphql(remote = "entity::api_key::ApiScope")]
pub enum ApiScope {
    /// `conversions:write`: report conversions and refunds.
    ConversionsWrite,
    /// `applications:read`: read the vendor's applications and applicants.
    ApplicationsRead,
    /// `enrollments:read`: read the vendor's partnerships.
    EnrollmentsRead,
}

/// A vendor's API key, without its secret. Send the secret as `X-Api-Key: mk_…` or
/// `Authorization: Bearer mk_…`.
#[derive(Clone)]
pub struct ApiKey(pub api_key::Model);

#[Object]
impl ApiKey {
    pub async fn id(&self) -> ID {
        relay::encode(NodeType::ApiKey, self.0.id)
    }

    async fn name(&self) -> &str {
        &self.0.name
    }

    /// The first characters of the secret, to tell keys apart.
    async fn prefix(&self) -> &str {
        &self.0.prefix
    }

    async fn scopes(&self) -> Vec<ApiScope> {
        code_list::decode::<entity::api_key::ApiScope>(&self.0.scopes)
            .into_iter()
            .map(ApiScope::from)
            .collect()
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// Recorded at most once a minute.
    async fn last_used_at(&self) -> Option<DateTime<Utc>> {
        self.0.last_used_at
    }

    async fn revoked_at(&self) -> Option<DateTime<Utc>> {
        self.0.revoked_at
    }
}

#[derive(InputObject)]
pub struct CreateApiKeyInput {
    pub vendor_id: ID,
    /// What the key is for ("billing back end").
    pub name: String,
    pub scopes: Vec<ApiScope>,
}

#[derive(SimpleObject)]
pub struct CreateApiKeyPayload {
    pub api_key: Option<ApiKey>,
    /// The secret, shown only in this response: store it now.
    pub secret: Option<String>,
    pub user_errors: Vec<UserError>,
}

#[derive(InputObject)]
pub struct RevokeApiKeyInput {
    pub api_key_id: ID,
}

#[derive(SimpleObject)]
pub struct RevokeApiKeyPayload {
    pub api_key: Option<ApiKey>,
    pub user_errors: Vec<UserError>,
}

#[derive(Default)]
pub struct ApiKeyMutation;

#[Object]
impl ApiKeyMutation {
    /// Creates an API key for a vendor (`OWNER` or `ADMIN`).
    async fn create_api_key(
        &self,
        ctx: &Context<'_>,
        input: CreateApiKeyInput,
    ) -> async_graphql::Result<CreateApiKeyPayload> {
        let actor = ctx.actor()?;
        let vendor_id = relay::decode_as(&input.vendor_id, NodeType::Vendor).gql()?;
        let scopes: Vec<entity::api_key::ApiScope> =
            input.scopes.into_iter().map(Into::into).collect();
        let (created, user_errors) = payload(
            api_keys::create(ctx.services(), &actor, vendor_id, &input.name, &scopes).await,
        )?;
        let (api_key, secret) = match created {
            Some(c) => (Some(ApiKey(c.key)), Some(c.secret)),
            None => (None, None),
        };
        Ok(CreateApiKeyPayload {
            api_key,
            secret,
            user_errors,
        })
    }

    /// Revokes an API key for good (`OWNER` or `ADMIN`).
    async fn revoke_api_key(
        &self,
        ctx: &Context<'_>,
        input: RevokeApiKeyInput,
    ) -> async_graphql::Result<RevokeApiKeyPayload> {
        let actor = ctx.actor()?;
        let id = relay::decode_as(&input.api_key_id, NodeType::ApiKey).gql()?;
        let (key, user_errors) = payload(api_keys::revoke(ctx.services(), &actor, id).await)?;
        Ok(RevokeApiKeyPayload {
            api_key: key.map(ApiKey),
            user_errors,
        })
    }
}
