//! Field rules shared by every input: slugs, URLs, bounded text, country codes. Each
//! check returns a [`FieldError`] naming the field, so callers collect all problems of an
//! input at once.

use crate::error::{FieldError, FieldErrorCode};

use super::reference::countries;

pub const MAX_URL_LEN: usize = 2048;

/// Collects the problems of one input.
#[derive(Debug, Default)]
pub struct Problems(pub Vec<FieldError>);

impl Problems {
    pub fn push(&mut self, error: FieldError) {
        self.0.push(error);
    }

    /// Keeps the value when valid, records the problem otherwise.
    pub fn check<T>(&mut self, result: Result<T, FieldError>) -> Option<T> {
        result.map_err(|e| self.0.push(e)).ok()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn into_result(self) -> Result<(), crate::error::AppError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(crate::error::AppError::Invalid(self.0))
        }
    }
}

/// Lower-case letters, digits and single dashes, 3–64 characters: safe in URLs.
pub fn slug(field: &str, value: &str) -> Result<String, FieldError> {
    if value.is_empty() {
        return Err(FieldError::new(
            field,
            FieldErrorCode::Required,
            "is required",
        ));
    }
    if value.len() < 3 {
        return Err(FieldError::new(
            field,
            FieldErrorCode::TooShort,
            "must be at least 3 characters",
        ));
    }
    if value.len() > 64 {
        return Err(FieldError::new(
            field,
            FieldErrorCode::TooLong,
            "must be at most 64 characters",
        ));
    }
    let ok = value.split('-').all(|part| {
        !part.is_empty()
            && part
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
    });
    if !ok {
        return Err(FieldError::new(
            field,
            FieldErrorCode::Invalid,
            "may contain only lower-case letters, digits and single dashes (e.g. `acme-partners`)",
        ));
    }
    Ok(value.to_owned())
}

/// Trimmed text of `min..=max` characters (`min` 0 allows empty).
pub fn text(field: &str, value: &str, min: usize, max: usize) -> Result<String, FieldError> {
    let trimmed = value.trim();
    let chars = trimmed.chars().count();
    if min > 0 && chars == 0 {
        return Err(FieldError::new(
            field,
            FieldErrorCode::Required,
            "is required",
        ));
    }
    if chars < min {
        return Err(FieldError::new(
            field,
            FieldErrorCode::TooShort,
            format!("must be at least {min} characters"),
        ));
    }
    if chars > max {
        return Err(FieldError::new(
            field,
            FieldErrorCode::TooLong,
            format!("must be at most {max} characters"),
        ));
    }
    if trimmed
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        return Err(FieldError::new(
            field,
            FieldErrorCode::Invalid,
            "must not contain control characters",
        ));
    }
    if trimmed.chars().any(is_bidi_control) {
        return Err(bidi_refused(field));
    }
    Ok(trimmed.to_owned())
}

/// Unicode's explicit direction controls (embeddings, overrides, isolates and marks):
/// invisible, and able to make displayed text read differently from what it is
/// ("Trojan Source"), e.g. a program name that shows a different vendor's name.
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

pub fn bidi_refused(field: &str) -> FieldError {
    FieldError::new(
        field,
        FieldErrorCode::Invalid,
        "must not contain invisible text-direction characters (U+202A–U+202E, U+2066–U+2069, U+200E/U+200F, U+061C)",
    )
}

/// An absolute `http(s)` URL with a host.
pub fn url(field: &str, value: &str) -> Result<String, FieldError> {
    let value = value.trim();
    let invalid = || {
        FieldError::new(
            field,
            FieldErrorCode::Invalid,
            "must be an http(s) URL such as https://example.com",
        )
    };
    if value.len() > MAX_URL_LEN {
        return Err(FieldError::new(
            field,
            FieldErrorCode::TooLong,
            format!("must be at most {MAX_URL_LEN} characters"),
        ));
    }
    let rest = value
        .strip_prefix("https://")
        .or_else(|| value.strip_prefix("http://"))
        .ok_or_else(invalid)?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host = host.rsplit_once('@').map_or(host, |(_, h)| h);
    let host = host.split(':').next().unwrap_or_default();
    let host_ok = host.contains('.')
        && host
            .split('.')
            .all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'));
    if !host_ok || value.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid());
    }
    Ok(value.to_owned())
}

/// An optional URL: empty means none.
pub fn optional_url(field: &str, value: Option<&str>) -> Result<Option<String>, FieldError> {
    match value.map(str::trim).filter(|v| !v.is_empty()) {
        Some(v) => url(field, v).map(Some),
        None => Ok(None),
    }
}

/// ISO 3166-1 alpha-2, upper case.
pub fn country(field: &str, value: &str) -> Result<String, FieldError> {
    let code = value.trim().to_ascii_uppercase();
    if countries::is_known(&code) {
        Ok(code)
    } else {
        Err(FieldError::new(
            field,
            FieldErrorCode::Invalid,
            format!("`{value}` is not an ISO 3166-1 alpha-2 country code"),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn direction_overrides_are_refused_in_display_text() {
        assert!(text("name", "Acme\u{202E}lacol", 1, 100).is_err());
        assert!(text("name", "\u{2066}Acme\u{2069}", 1, 100).is_err());
        assert_eq!(
            text("name", "  مرحبا Acme  ", 1, 100).unwrap(),
            "مرحبا Acme"
        );
        assert_eq!(text("name", "👩‍💻 Acme", 1, 100).unwrap(), "👩‍💻 Acme");
    }

    #[test]
    fn slugs_are_lower_case_words_joined_by_single_dashes() {
        assert!(slug("slug", "acme-partners-2").is_ok());
        for bad in [
            "Acme",
            "acme partners",
            "acme--x",
            "-acme",
            "acme-",
            "ac",
            "a_b_c",
        ] {
            assert!(slug("slug", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn urls_need_a_scheme_and_a_host() {
        assert!(url("website", "https://acme.example.com/partners?x=1").is_ok());
        for bad in [
            "acme.com",
            "ftp://acme.com",
            "https://",
            "https://nohost",
            "https://a b.com",
            "javascript:alert(1)",
        ] {
            assert!(url("website", bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn text_is_trimmed_and_bounded() {
        assert_eq!(text("name", "  Acme  ", 1, 10).unwrap(), "Acme");
        assert_eq!(
            text("name", "   ", 1, 10).unwrap_err().code,
            FieldErrorCode::Required
        );
        assert_eq!(
            text("name", &"x".repeat(11), 1, 10).unwrap_err().code,
            FieldErrorCode::TooLong
        );
    }
}
