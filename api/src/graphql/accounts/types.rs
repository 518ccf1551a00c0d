//! GraphQL types of accounts, converted explicitly from entities and service results.

use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};
use chrono::{DateTime, Utc};
use entity::user;

use crate::{
    graphql::{
        GqlResultExt,
        context::ContextExt,
        error::UserError,
        relay::{self, NodeType},
        vendors::VendorMember,
    },
    service::{accounts, vendors},
};

/// Platform-wide role. Vendor and partner capabilities come from memberships.
#[derive(Enum, Copy, Clone, Debug, PartialEq, Eq)]
#[graphql(remote = "entity::user::PlatformRole")]
pub enum PlatformRole {
    User,
    /// Marketplace operator.
    Admin,
}

/// A person with an account. Visible to themselves and to platform admins.
#[derive(Clone)]
pub struct User(pub user::Model);

#[Object]
impl User {
    pub async fn id(&self) -> ID {
        relay::encode(NodeType::User, self.0.id)
    }

    /// Lower-cased e-mail address.
    async fn email(&self) -> &str {
        &self.0.email
    }

    async fn display_name(&self) -> &str {
        &self.0.display_name
    }

    async fn role(&self) -> PlatformRole {
        self.0.role.into()
    }

    async fn created_at(&self) -> DateTime<Utc> {
        self.0.created_at
    }

    /// The vendor teams this user belongs to, with the role in each.
    async fn vendor_memberships(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Vec<VendorMember>> {
        let actor = ctx.actor()?;
        let members = vendors::memberships(ctx.services(), &actor.viewer, self.0.id)
            .await
            .gql()?;
        Ok(members.into_iter().map(VendorMember).collect())
    }
}

/// Credentials of a logged-in session. Send the access token as
/// `Authorization: Bearer <accessToken>`; renew it with `refreshToken` before it expires.
#[derive(SimpleObject)]
pub struct AuthSession {
    pub user: User,
    /// JWT, valid for at most 15 minutes.
    pub access_token: String,
    pub access_token_expires_at: DateTime<Utc>,
    /// Opaque, single-use: each `refreshToken` call returns the next one.
    pub refresh_token: String,
    pub refresh_token_expires_at: DateTime<Utc>,
    /// Always `Bearer`.
    pub token_type: &'static str,
}

impl From<accounts::Session> for AuthSession {
    fn from(s: accounts::Session) -> Self {
        Self {
            user: User(s.user),
            access_token: s.access_token,
            access_token_expires_at: s.access_token_expires_at,
            refresh_token: s.refresh_token,
            refresh_token_expires_at: s.refresh_token_expires_at,
            token_type: "Bearer",
        }
    }
}

#[derive(InputObject)]
pub struct SignUpInput {
    pub email: String,
    /// 10 to 128 characters, not a commonly breached password.
    pub password: String,
    pub display_name: String,
}

impl From<SignUpInput> for accounts::SignUp {
    fn from(i: SignUpInput) -> Self {
        Self {
            email: i.email,
            password: i.password,
            display_name: i.display_name,
        }
    }
}

#[derive(InputObject)]
pub struct LogInInput {
    pub email: String,
    pub password: String,
}

impl From<LogInInput> for accounts::LogIn {
    fn from(i: LogInInput) -> Self {
        Self {
            email: i.email,
            password: i.password,
        }
    }
}

#[derive(InputObject)]
pub struct RefreshTokenInput {
    pub refresh_token: String,
}

#[derive(InputObject)]
pub struct LogOutInput {
    pub refresh_token: String,
    /// End every session of the user, on every device (default false).
    pub all_sessions: Option<bool>,
}

#[derive(SimpleObject)]
pub struct SignUpPayload {
    pub session: Option<AuthSession>,
    pub user_errors: Vec<UserError>,
}

#[derive(SimpleObject)]
pub struct LogInPayload {
    pub session: Option<AuthSession>,
    pub user_errors: Vec<UserError>,
}

#[derive(SimpleObject)]
pub struct RefreshTokenPayload {
    pub session: Option<AuthSession>,
    pub user_errors: Vec<UserError>,
}

#[derive(SimpleObject)]
pub struct LogOutPayload {
    pub logged_out: bool,
    pub user_errors: Vec<UserError>,
}
