//! Password hashing with argon2id (PHC string format). Used for SCIM `password` attributes and
//! admin accounts; cleartext never leaves this module's callers.

use argon2::Argon2;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rand::RngCore;

use crate::scim::error::ScimError;

/// Hashes a password with a fresh salt.
pub fn hash(password: &str) -> Result<String, ScimError> {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    let salt = SaltString::encode_b64(&bytes).map_err(|e| {
        tracing::error!("argon2 salt encoding failed: {e}");
        ScimError::internal()
    })?;
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| {
            tracing::error!("argon2 hashing failed: {e}");
            ScimError::internal()
        })
}

/// Checks a password against a stored PHC hash.
pub fn verify(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn round_trip() {
        let h = super::hash("correct horse").expect("hash");
        assert!(h.starts_with("$argon2id$"));
        assert!(!h.contains("correct horse"));
        assert!(super::verify("correct horse", &h));
        assert!(!super::verify("wrong", &h));
    }
}
