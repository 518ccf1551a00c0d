//! Who is asking: the identity every service call is authorized against.

use entity::{api_key::ApiScope, user::PlatformRole};

use crate::error::{AppError, AuthFailure};

use super::AccessTokens;

/// An authenticated user, as proven by a verified access token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserViewer {
    pub user_id: i64,
    pub role: PlatformRole,
}

/// A vendor's back end, as proven by one of its API keys.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKeyViewer {
    pub key_id: i64,
    pub vendor_id: i64,
    pub scopes: Vec<ApiScope>,
}

impl ApiKeyViewer {
    pub fn allows(&self, scope: ApiScope) -> bool {
        self.scopes.contains(&scope)
    }
}

/// The caller of a request. A request with no credentials is `Anonymous`; a request with
/// bad credentials never becomes one (see [`from_authorization_header`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Viewer {
    Anonymous,
    User(UserViewer),
    /// A vendor API key: reaches its own vendor's data within its scopes, and acts as
    /// nobody's account (user-only operations answer `FORBIDDEN`).
    ApiKey(ApiKeyViewer),
}

impl Viewer {
    pub fn user_id(&self) -> Option<i64> {
        match self {
            Self::User(user) => Some(user.user_id),
            Self::Anonymous | Self::ApiKey(_) => None,
        }
    }

    pub fn is_admin(&self) -> bool {
        matches!(
            self,
            Self::User(UserViewer {
                role: PlatformRole::Admin,
                ..
            })
        )
    }

    /// Any verified caller (a user or a vendor API key), or `UNAUTHENTICATED`.
    pub fn require_authenticated(&self) -> Result<(), AppError> {
        match self {
            Self::Anonymous => Err(AppError::Unauthenticated(AuthFailure::LoginRequired)),
            Self::User(_) | Self::ApiKey(_) => Ok(()),
        }
    }

    /// The logged-in user, or `UNAUTHENTICATED`.
    pub fn require_user(&self) -> Result<&UserViewer, AppError> {
        match self {
            Self::User(user) => Ok(user),
            Self::Anonymous => Err(AppError::Unauthenticated(AuthFailure::LoginRequired)),
            Self::ApiKey(_) => Err(AppError::Forbidden),
        }
    }
}

/// Reads `Authorization: Bearer <jwt>`. No header → anonymous; anything else that does not
/// verify is an error the caller must surface, never a silent downgrade to anonymous.
pub fn from_authorization_header(
    header: Option<&str>,
    tokens: &AccessTokens,
) -> Result<Viewer, AuthFailure> {
    let Some(value) = header else {
        return Ok(Viewer::Anonymous);
    };
    tokens.verify(bearer_token(value)?).map(Viewer::User)
}

/// The token of `Bearer <token>`.
pub fn bearer_token(value: &str) -> Result<&str, AuthFailure> {
    let mut parts = value.trim().splitn(2, ' ');
    let scheme = parts.next().unwrap_or_default();
    let token = parts.next().map(str::trim).unwrap_or_default();
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(AuthFailure::MalformedHeader);
    }
    Ok(token)
}

/// The API key presented with a request, if any: `X-Api-Key: mk_…`, or a bearer token
/// with the key prefix (`Authorization: Bearer mk_…`).
pub fn api_key_of<'a>(
    authorization: Option<&'a str>,
    x_api_key: Option<&'a str>,
) -> Option<&'a str> {
    if let Some(key) = x_api_key {
        return Some(key.trim());
    }
    let value = authorization?.trim();
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && token.starts_with(API_KEY_PREFIX)).then_some(token)
}

/// Every API key starts with this.
pub const API_KEY_PREFIX: &str = "mk_";
