//! Opaque secrets (refresh tokens, later API keys): random, prefixed, stored only as hashes.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use sha2::{Digest, Sha256};

use crate::error::AppError;

/// 256 random bits, URL-safe, with a prefix that says what the secret is.
pub fn generate(prefix: &str) -> Result<String, AppError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| AppError::internal(anyhow::anyhow!("getrandom: {e}")))?;
    Ok(format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes)))
}

/// Hex SHA-256. The secrets are high-entropy, so a fast hash is enough (no argon2 needed)
/// and lets the database look them up by equality.
pub fn hash(secret: &str) -> String {
    let digest = Sha256::digest(secret.as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_are_prefixed_unique_and_hash_to_64_hex_chars() {
        let a = generate("rt_").unwrap();
        let b = generate("rt_").unwrap();
        assert!(a.starts_with("rt_") && a.len() > 40);
        assert_ne!(a, b);
        assert_eq!(hash(&a).len(), 64);
        assert_eq!(hash(&a), hash(&a));
        assert_ne!(hash(&a), hash(&b));
    }
}
