//! Short-lived HS256 access tokens. The algorithm is pinned and `exp`, `iat`, `iss`, `aud`
//! and `sub` are all required and checked; anything else is refused.

use chrono::{DateTime, Utc};
use entity::user::PlatformRole;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, errors::ErrorKind};
use serde::{Deserialize, Serialize};

use crate::{
    config::AuthConfig,
    error::{AppError, AuthFailure},
};

use super::UserViewer;

/// Clock skew tolerated between replicas when checking `exp` and `iat`.
const LEEWAY_SECS: u64 = 10;

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    iss: String,
    aud: String,
    exp: i64,
    iat: i64,
    /// Platform role at issue time; changes take effect at the next refresh (≤ 15 min).
    role: String,
}

pub struct IssuedToken {
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

/// Signs and verifies access tokens.
pub struct AccessTokens {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
    issuer: String,
    audience: String,
    ttl: chrono::Duration,
}

impl AccessTokens {
    pub fn new(config: &AuthConfig) -> Result<Self, AppError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[&config.issuer]);
        validation.set_audience(&[&config.audience]);
        validation.set_required_spec_claims(&["exp", "iat", "iss", "aud", "sub"]);
        validation.leeway = LEEWAY_SECS;
        validation.validate_exp = true;
        Ok(Self {
            encoding: EncodingKey::from_secret(config.jwt_secret.expose()),
            decoding: DecodingKey::from_secret(config.jwt_secret.expose()),
            validation,
            issuer: config.issuer.clone(),
            audience: config.audience.clone(),
            ttl: chrono::Duration::from_std(config.access_token_ttl).map_err(AppError::internal)?,
        })
    }

    pub fn issue(
        &self,
        user_id: i64,
        role: PlatformRole,
        now: DateTime<Utc>,
    ) -> Result<IssuedToken, AppError> {
        let expires_at = now + self.ttl;
        let claims = Claims {
            sub: user_id.to_string(),
            iss: self.issuer.clone(),
            aud: self.audience.clone(),
            exp: expires_at.timestamp(),
            iat: now.timestamp(),
            role: role_name(role).to_owned(),
        };
        let token = jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &self.encoding)
            .map_err(AppError::internal)?;
        Ok(IssuedToken { token, expires_at })
    }

    pub fn verify(&self, token: &str) -> Result<UserViewer, AuthFailure> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => AuthFailure::ExpiredToken,
                _ => AuthFailure::InvalidToken,
            })?;
        let claims = data.claims;
        // jsonwebtoken requires `iat` but does not check it: a token from the future is forged
        // or comes from a broken clock.
        let leeway = i64::try_from(LEEWAY_SECS).unwrap_or(0);
        if claims.iat > Utc::now().timestamp() + leeway || claims.iat > claims.exp {
            return Err(AuthFailure::InvalidToken);
        }
        let user_id = claims
            .sub
            .parse::<i64>()
            .map_err(|_| AuthFailure::InvalidToken)?;
        let role = parse_role(&claims.role).ok_or(AuthFailure::InvalidToken)?;
        Ok(UserViewer { user_id, role })
    }
}

fn role_name(role: PlatformRole) -> &'static str {
    match role {
        PlatformRole::User => "USER",
        PlatformRole::Admin => "ADMIN",
    }
}

fn parse_role(name: &str) -> Option<PlatformRole> {
    match name {
        "USER" => Some(PlatformRole::User),
        "ADMIN" => Some(PlatformRole::Admin),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::config::Secret;

    fn config(secret: &str) -> AuthConfig {
        AuthConfig {
            jwt_secret: Secret::new(secret.as_bytes().to_vec()),
            issuer: "iss".into(),
            audience: "aud".into(),
            access_token_ttl: Duration::from_secs(900),
            refresh_token_ttl: Duration::from_secs(86_400),
            argon2_memory_kib: 8,
            argon2_iterations: 1,
            hash_concurrency: 1,
        }
    }

    #[test]
    fn a_token_verifies_with_its_own_key_and_not_with_another() {
        let ours = AccessTokens::new(&config(&"a".repeat(32))).unwrap();
        let theirs = AccessTokens::new(&config(&"b".repeat(32))).unwrap();
        let issued = ours.issue(7, PlatformRole::Admin, Utc::now()).unwrap();
        let viewer = ours.verify(&issued.token).unwrap();
        assert_eq!(
            viewer,
            UserViewer {
                user_id: 7,
                role: PlatformRole::Admin
            }
        );
        assert_eq!(theirs.verify(&issued.token), Err(AuthFailure::InvalidToken));
    }

    #[test]
    fn an_expired_token_is_reported_as_expired() {
        let tokens = AccessTokens::new(&config(&"a".repeat(32))).unwrap();
        let long_ago = Utc::now() - chrono::Duration::hours(1);
        let issued = tokens.issue(1, PlatformRole::User, long_ago).unwrap();
        assert_eq!(tokens.verify(&issued.token), Err(AuthFailure::ExpiredToken));
    }

    #[test]
    fn the_none_algorithm_is_refused() {
        let tokens = AccessTokens::new(&config(&"a".repeat(32))).unwrap();
        let issued = tokens.issue(1, PlatformRole::Admin, Utc::now()).unwrap();
        let payload = issued.token.split('.').nth(1).unwrap();
        // {"alg":"none","typ":"JWT"}
        let forged = format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{payload}.");
        assert_eq!(tokens.verify(&forged), Err(AuthFailure::InvalidToken));
    }
}
