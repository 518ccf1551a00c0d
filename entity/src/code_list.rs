//! Sets of enum codes stored in one text column as `,A,B,` (leading and trailing
//! delimiters), so that "contains B" is `LIKE '%,B,%'` on SQLite and PostgreSQL alike.

/// An enum stored by a short upper-case code without commas.
pub trait Code: Sized + Copy + Eq + 'static {
    const ALL: &'static [Self];
    fn code(self) -> &'static str;

    fn from_code(code: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|v| v.code() == code)
    }
}

/// `[A, B]` → `,A,B,`; the empty set → `` (empty string).
pub fn encode<T: Code>(values: &[T]) -> String {
    let mut codes: Vec<&str> = values.iter().map(|v| v.code()).collect();
    codes.sort_unstable();
    codes.dedup();
    encode_strs(&codes)
}

/// Like [`encode`] for codes that are not an enum (ISO country codes).
pub fn encode_strs(codes: &[&str]) -> String {
    if codes.is_empty() {
        String::new()
    } else {
        format!(",{},", codes.join(","))
    }
}

/// Decodes, skipping unknown codes (a code removed from the enum must not break reads).
pub fn decode<T: Code>(stored: &str) -> Vec<T> {
    decode_strs(stored).filter_map(T::from_code).collect()
}

pub fn decode_strs(stored: &str) -> impl Iterator<Item = &str> {
    stored.split(',').filter(|s| !s.is_empty())
}

/// The `LIKE` pattern matching stored lists that contain `code`.
pub fn contains_pattern(code: &str) -> String {
    format!("%,{code},%")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_round_trip_sorted_and_without_duplicates() {
        assert_eq!(encode_strs(&["DE", "FR"]), ",DE,FR,");
        assert_eq!(encode_strs(&[]), "");
        assert_eq!(decode_strs(",DE,FR,").collect::<Vec<_>>(), ["DE", "FR"]);
        assert_eq!(decode_strs("").count(), 0);
        assert_eq!(contains_pattern("FR"), "%,FR,%");
    }
}
