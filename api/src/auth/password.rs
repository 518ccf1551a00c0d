//! Argon2id password hashing, off the async executor and with bounded concurrency: each
//! hash takes ~19 MiB and tens of milliseconds of one core, so an unbounded burst of
//! log-ins would exhaust memory and starve every other request.

use std::sync::Arc;

use argon2::{
    Algorithm, Argon2, Params, Version,
    password_hash::{PasswordHasher as _, PasswordVerifier as _, phc::PasswordHash},
};
use tokio::sync::Semaphore;

use crate::{config::AuthConfig, error::AppError};

#[derive(Clone)]
pub struct PasswordHasher {
    params: Params,
    permits: Arc<Semaphore>,
    /// Verified against when the e-mail is unknown, so a log-in takes as long whether or
    /// not the account exists.
    dummy_hash: Arc<String>,
}

impl PasswordHasher {
    pub async fn new(config: &AuthConfig) -> Result<Self, AppError> {
        let params = Params::new(config.argon2_memory_kib, config.argon2_iterations, 1, None)
            .map_err(|e| AppError::internal(anyhow::anyhow!("argon2 parameters: {e}")))?;
        let permits = Arc::new(Semaphore::new(config.hash_concurrency));
        let mut hasher = Self {
            params,
            permits,
            dummy_hash: Arc::new(String::new()),
        };
        hasher.dummy_hash = Arc::new(hasher.hash("not a real password".to_owned()).await?);
        Ok(hasher)
    }

    /// PHC string (`$argon2id$v=19$m=…`) with a fresh random salt.
    pub async fn hash(&self, password: String) -> Result<String, AppError> {
        let params = self.params.clone();
        self.run_blocking(move || {
            Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
                .hash_password(password.as_bytes())
                .map(|hash| hash.to_string())
                .map_err(|e| AppError::internal(anyhow::anyhow!("argon2 hash: {e}")))
        })
        .await
    }

    /// Checks `password` against `stored` (or against a dummy hash when there is no
    /// account, to keep timing uniform). The stored string's own parameters are used.
    pub async fn verify(&self, password: String, stored: Option<String>) -> Result<bool, AppError> {
        let known = stored.is_some();
        let stored = stored.unwrap_or_else(|| self.dummy_hash.as_ref().clone());
        let matches = self
            .run_blocking(move || {
                let parsed = PasswordHash::new(&stored)
                    .map_err(|e| AppError::internal(anyhow::anyhow!("stored hash: {e}")))?;
                Ok(Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok())
            })
            .await?;
        Ok(known && matches)
    }

    async fn run_blocking<T: Send + 'static>(
        &self,
        work: impl FnOnce() -> Result<T, AppError> + Send + 'static,
    ) -> Result<T, AppError> {
        let _permit = self.permits.acquire().await.map_err(AppError::internal)?;
        tokio::task::spawn_blocking(work)
            .await
            .map_err(AppError::internal)?
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::config::Secret;

    fn config(memory_kib: u32, iterations: u32) -> AuthConfig {
        AuthConfig {
            jwt_secret: Secret::new(vec![0; 32]),
            previous_secrets: Vec::new(),
            issuer: String::new(),
            audience: String::new(),
            access_token_ttl: Duration::from_secs(60),
            refresh_token_ttl: Duration::from_secs(60),
            argon2_memory_kib: memory_kib,
            argon2_iterations: iterations,
            hash_concurrency: 2,
        }
    }

    #[tokio::test]
    async fn hashes_use_argon2id_with_the_configured_owasp_parameters() {
        let hasher = PasswordHasher::new(&config(19_456, 2)).await.unwrap();
        let hash = hasher
            .hash("correct horse battery staple".into())
            .await
            .unwrap();
        assert!(
            hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{hash}"
        );
        assert!(
            hasher
                .verify("correct horse battery staple".into(), Some(hash.clone()))
                .await
                .unwrap()
        );
        assert!(
            !hasher
                .verify("wrong horse".into(), Some(hash))
                .await
                .unwrap()
        );
    }

    #[tokio::test]
    async fn an_unknown_account_never_verifies_even_with_the_dummy_password() {
        let hasher = PasswordHasher::new(&config(8, 1)).await.unwrap();
        assert!(
            !hasher
                .verify("not a real password".into(), None)
                .await
                .unwrap()
        );
    }
}
