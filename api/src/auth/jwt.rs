//! Short-lived HS256 access tokens. The algorithm is pinned; the header must say
//! `typ: at+jwt` (RFC 9068, so no other JWT of ours passes for an access token) and name
//! its key (`kid`); `exp`, `nbf`, `iat`, `iss`, `aud` and `sub` are all required and
//! checked, and a token may not live longer than the configured lifetime (a signed
//! `exp` in year 9999 is refused as well as an expired one).
//!
//! Key rotation: `JWT_SECRET` signs, `JWT_PREVIOUS_SECRETS` still verify. Tokens of a
//! previous key stop verifying by themselves TTL + leeway after the rotation (none is
//! issued with it any more, and none lives longer), after which it can be removed.

use chrono::{DateTime, Utc};
use entity::user::PlatformRole;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, errors::ErrorKind};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{
    config::AuthConfig,
    error::{AppError, AuthFailure},
};

use super::UserViewer;

/// Clock skew tolerated between replicas when checking `exp`, `nbf` and `iat`.
const LEEWAY_SECS: u64 = 10;
/// The `typ` header of our access tokens (RFC 9068).
pub const TOKEN_TYPE: &str = "at+jwt";

/// The `kid` naming a signing secret: a short digest, so the header says which key
/// without revealing anything about it.
pub fn key_id(secret: &[u8]) -> String {
    let digest = Sha256::digest(secret);
    let hex: String = digest[..8].iter().map(|b| format!("{b:02x}")).collect();
    format!("hs-{hex}")
}

#[derive(Debug, Serialize, Deserialize)]
struct Claims {
    sub: String,
    iss: String,
    aud: String,
    exp: i64,
    nbf: i64,
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
    key_id: String,
    /// Every key that verifies: the current one first, then the previous ones.
    decoding: Vec<(String, DecodingKey)>,
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
        validation.set_required_spec_claims(&["exp", "nbf", "iat", "iss", "aud", "sub"]);
        validation.leeway = LEEWAY_SECS;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        let current = config.jwt_secret.expose();
        let decoding = std::iter::once(current)
            .chain(config.previous_secrets.iter().map(|s| s.expose()))
            .map(|secret| (key_id(secret), DecodingKey::from_secret(secret)))
            .collect();
        Ok(Self {
            encoding: EncodingKey::from_secret(current),
            key_id: key_id(current),
            decoding,
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
            nbf: now.timestamp(),
            iat: now.timestamp(),
            role: role_name(role).to_owned(),
        };
        let mut header = Header::new(Algorithm::HS256);
        header.typ = Some(TOKEN_TYPE.to_owned());
        header.kid = Some(self.key_id.clone());
        let token =
            jsonwebtoken::encode(&header, &claims, &self.encoding).map_err(AppError::internal)?;
        Ok(IssuedToken { token, expires_at })
    }

    pub fn verify(&self, token: &str) -> Result<UserViewer, AuthFailure> {
        self.verify_until(token).map(|(viewer, _)| viewer)
    }

    /// [`AccessTokens::verify`], with the moment the token expires (a WebSocket stays
    /// authenticated until then).
    pub fn verify_until(
        &self,
        token: &str,
    ) -> Result<(UserViewer, chrono::DateTime<Utc>), AuthFailure> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| AuthFailure::InvalidToken)?;
        if header.typ.as_deref() != Some(TOKEN_TYPE) {
            return Err(AuthFailure::InvalidToken);
        }
        let key = header
            .kid
            .as_deref()
            .and_then(|kid| self.decoding.iter().find(|(id, _)| id == kid))
            .map(|(_, key)| key)
            .ok_or(AuthFailure::InvalidToken)?;
        let data =
            jsonwebtoken::decode::<Claims>(token, key, &self.validation).map_err(|e| {
                match e.kind() {
                    ErrorKind::ExpiredSignature => AuthFailure::ExpiredToken,
                    _ => AuthFailure::InvalidToken,
                }
            })?;
        let claims = data.claims;
        // jsonwebtoken requires `iat` but does not check it: a token from the future is
        // forged or comes from a broken clock. Nor does it bound `exp`: a token may not
        // promise more than the lifetime we issue.
        let leeway = i64::try_from(LEEWAY_SECS).unwrap_or(0);
        let longest = self.ttl.num_seconds() + leeway;
        let now = Utc::now().timestamp();
        if claims.iat > now + leeway
            || claims.iat > claims.exp
            || claims.exp - claims.iat > longest
            || claims.exp > now + longest
        {
            return Err(AuthFailure::InvalidToken);
        }
        let user_id = claims
            .sub
            .parse::<i64>()
            .map_err(|_| AuthFailure::InvalidToken)?;
        let role = parse_role(&claims.role).ok_or(AuthFailure::InvalidToken)?;
        let expires =
            chrono::DateTime::from_timestamp(claims.exp, 0).ok_or(AuthFailure::InvalidToken)?;
        Ok((UserViewer { user_id, role }, expires))
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
            previous_secrets: Vec::new(),
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
    fn a_previous_key_still_verifies_after_rotation_and_new_tokens_use_the_new_one() {
        let old = AccessTokens::new(&config(&"a".repeat(32))).unwrap();
        let mut rotated = config(&"b".repeat(32));
        rotated.previous_secrets = vec![Secret::new("a".repeat(32).into_bytes())];
        let rotated = AccessTokens::new(&rotated).unwrap();
        let before = old.issue(3, PlatformRole::User, Utc::now()).unwrap();
        assert_eq!(rotated.verify(&before.token).unwrap().user_id, 3);
        let after = rotated.issue(4, PlatformRole::User, Utc::now()).unwrap();
        assert_eq!(old.verify(&after.token), Err(AuthFailure::InvalidToken));
        let header = jsonwebtoken::decode_header(&after.token).unwrap();
        assert_eq!(header.kid.as_deref(), Some(key_id(&[b'b'; 32]).as_str()));
        assert_eq!(header.typ.as_deref(), Some(TOKEN_TYPE));
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
