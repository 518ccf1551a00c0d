//! What makes an e-mail address, a password and a display name acceptable.

use crate::error::{FieldError, FieldErrorCode};

pub const MAX_EMAIL_LEN: usize = 254;
pub const MIN_PASSWORD_CHARS: usize = 10;
/// Long enough for any passphrase, short enough that hashing it is not a DoS lever.
pub const MAX_PASSWORD_CHARS: usize = 128;
pub const MAX_DISPLAY_NAME_CHARS: usize = 100;

/// Passwords of acceptable length that appear at the top of breach corpora.
const COMMON_PASSWORDS: &[&str] = &[
    "0123456789",
    "1234567890",
    "12345678910",
    "123456789a",
    "1q2w3e4r5t",
    "1qaz2wsx3edc",
    "a123456789",
    "aaaaaaaaaa",
    "abcdefghij",
    "administrator",
    "iloveyou123",
    "letmein123",
    "passw0rd123",
    "password01",
    "password1!",
    "password12",
    "password123",
    "password1234",
    "qwerty1234",
    "qwerty12345",
    "qwertyuiop",
    "trustno1234",
    "welcome123",
    "zaq12wsxcde",
    "changeme123",
    "superman123",
    "football123",
    "baseball123",
    "monkey12345",
    "dragon12345",
];

/// Trimmed, lower-cased address: uniqueness is case-insensitive.
pub fn email(raw: &str) -> Result<String, FieldError> {
    let email = raw.trim().to_lowercase();
    let invalid = || {
        FieldError::new(
            "email",
            FieldErrorCode::Invalid,
            "is not a valid e-mail address",
        )
    };
    if email.is_empty() {
        return Err(FieldError::new(
            "email",
            FieldErrorCode::Required,
            "is required",
        ));
    }
    if email.len() > MAX_EMAIL_LEN {
        return Err(FieldError::new(
            "email",
            FieldErrorCode::TooLong,
            format!("must be at most {MAX_EMAIL_LEN} characters"),
        ));
    }
    let (local, domain) = email.rsplit_once('@').ok_or_else(invalid)?;
    let local_ok = !local.is_empty()
        && local.len() <= 64
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && local
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c));
    let labels: Vec<&str> = domain.split('.').collect();
    let domain_ok = labels.len() >= 2
        && labels.iter().all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && !l.starts_with('-')
                && !l.ends_with('-')
                && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
        && labels
            .last()
            .is_some_and(|tld| tld.len() >= 2 && tld.chars().all(|c| c.is_ascii_alphabetic()));
    if local_ok && domain_ok {
        Ok(email)
    } else {
        Err(invalid())
    }
}

/// Length bounds (NIST SP 800-63B), a breach list, and not the e-mail address itself.
pub fn password(password: &str, email: Option<&str>) -> Result<(), FieldError> {
    let chars = password.chars().count();
    if chars == 0 {
        return Err(FieldError::new(
            "password",
            FieldErrorCode::Required,
            "is required",
        ));
    }
    if chars < MIN_PASSWORD_CHARS {
        return Err(FieldError::new(
            "password",
            FieldErrorCode::TooShort,
            format!("must be at least {MIN_PASSWORD_CHARS} characters"),
        ));
    }
    if chars > MAX_PASSWORD_CHARS {
        return Err(FieldError::new(
            "password",
            FieldErrorCode::TooLong,
            format!("must be at most {MAX_PASSWORD_CHARS} characters"),
        ));
    }
    let lowered = password.to_lowercase();
    let distinct = {
        let mut seen: Vec<char> = lowered.chars().collect();
        seen.sort_unstable();
        seen.dedup();
        seen.len()
    };
    let is_email =
        email.is_some_and(|e| lowered == e || e.split('@').next() == Some(lowered.as_str()));
    if distinct < 4 || is_email || COMMON_PASSWORDS.contains(&lowered.as_str()) {
        return Err(FieldError::new(
            "password",
            FieldErrorCode::TooCommon,
            "is too easy to guess; use a longer passphrase",
        ));
    }
    Ok(())
}

pub fn display_name(raw: &str) -> Result<String, FieldError> {
    let name = raw.trim();
    if name.is_empty() {
        return Err(FieldError::new(
            "displayName",
            FieldErrorCode::Required,
            "is required",
        ));
    }
    if name.chars().count() > MAX_DISPLAY_NAME_CHARS {
        return Err(FieldError::new(
            "displayName",
            FieldErrorCode::TooLong,
            format!("must be at most {MAX_DISPLAY_NAME_CHARS} characters"),
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(FieldError::new(
            "displayName",
            FieldErrorCode::Invalid,
            "must not contain control characters",
        ));
    }
    if name.chars().any(crate::service::validate::is_bidi_control) {
        return Err(crate::service::validate::bidi_refused("displayName"));
    }
    Ok(name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emails_are_trimmed_and_lower_cased() {
        assert_eq!(
            email("  Ada.Lovelace@Example.COM ").unwrap(),
            "ada.lovelace@example.com"
        );
    }

    #[test]
    fn malformed_emails_are_refused_with_a_reason() {
        for bad in [
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "a b@example.com",
            "ada@-x.com",
            "ada..l@x.io",
        ] {
            assert_eq!(
                email(bad).unwrap_err().code,
                FieldErrorCode::Invalid,
                "{bad}"
            );
        }
        assert_eq!(email("   ").unwrap_err().code, FieldErrorCode::Required);
        let long = format!("{}@example.com", "a".repeat(10_000));
        assert_eq!(email(&long).unwrap_err().code, FieldErrorCode::TooLong);
    }

    #[test]
    fn weak_passwords_are_refused_with_a_reason() {
        assert_eq!(
            password("", None).unwrap_err().code,
            FieldErrorCode::Required
        );
        assert_eq!(
            password("short", None).unwrap_err().code,
            FieldErrorCode::TooShort
        );
        assert_eq!(
            password(&"ab".repeat(65), None).unwrap_err().code,
            FieldErrorCode::TooLong
        );
        assert_eq!(
            password("Password123", None).unwrap_err().code,
            FieldErrorCode::TooCommon
        );
        assert_eq!(
            password("abababababab", None).unwrap_err().code,
            FieldErrorCode::TooCommon
        );
        assert_eq!(
            password("ada@example.com", Some("ada@example.com"))
                .unwrap_err()
                .code,
            FieldErrorCode::TooCommon
        );
        assert!(password("correct horse battery staple", Some("ada@example.com")).is_ok());
    }
}
