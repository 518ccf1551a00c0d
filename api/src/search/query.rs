//! How a search query is read, identically for both engines: at most 10 words count, the
//! last one is a prefix unless a separator follows it, quotes are plain separators (no
//! phrase search), and each word may carry typos according to its length.

use super::text;

/// Longest query accepted (characters).
pub const MAX_QUERY_CHARS: usize = 512;
/// Meilisearch ignores words past the tenth.
pub const MAX_WORDS: usize = 10;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedQuery {
    pub words: Vec<String>,
    pub last_is_prefix: bool,
}

impl ParsedQuery {
    pub fn is_empty(&self) -> bool {
        self.words.is_empty()
    }
}

/// The query as sent to Meilisearch: quotes (phrase operators there) become spaces, and
/// words past the tenth are dropped, so both engines read the same words.
pub fn engine_text(raw: &str) -> String {
    let cleaned = raw.replace('"', " ");
    let spans = text::word_spans(&cleaned);
    match spans.get(MAX_WORDS) {
        // Cut right after the tenth word: nothing follows it, so it stays a prefix only if
        // it was the last word of the query… which it was not, so end with a space.
        Some(&(start, _)) => format!("{} ", cleaned[..start].trim_end()),
        None => cleaned,
    }
}

pub fn parse(raw: &str) -> ParsedQuery {
    let cleaned = engine_text(raw);
    let spans = text::word_spans(&cleaned);
    let words: Vec<String> = spans
        .iter()
        .map(|(s, e)| text::normalize(&cleaned[*s..*e]))
        .filter(|w| !w.is_empty())
        .collect();
    let last_is_prefix = spans.last().is_some_and(|(_, end)| *end == cleaned.len());
    ParsedQuery {
        words,
        last_is_prefix,
    }
}

/// Typos a word may carry (Meilisearch defaults): none below 5 letters, one from 5, two
/// from 9.
pub fn typo_budget(word: &str) -> u8 {
    match word.chars().count() {
        0..=4 => 0,
        5..=8 => 1,
        _ => 2,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_word_is_a_prefix_unless_a_separator_follows() {
        assert_eq!(
            parse("crm analy"),
            ParsedQuery {
                words: vec!["crm".into(), "analy".into()],
                last_is_prefix: true
            }
        );
        assert!(!parse("crm analy ").last_is_prefix);
        assert!(!parse("\"crm\"").last_is_prefix);
    }

    #[test]
    fn only_ten_words_count() {
        let parsed = parse("a b c d e f g h i j k l");
        assert_eq!(parsed.words.len(), 10);
        assert!(!parsed.last_is_prefix);
        assert_eq!(
            engine_text("a b c d e f g h i j k l"),
            "a b c d e f g h i j "
        );
    }

    #[test]
    fn typo_budgets_follow_word_length() {
        assert_eq!(
            [
                typo_budget("crm"),
                typo_budget("sales"),
                typo_budget("analytics")
            ],
            [0, 1, 2]
        );
    }
}
