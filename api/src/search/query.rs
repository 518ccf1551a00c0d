//! How a search query is read, identically for both engines and as Meilisearch 1.50 reads
//! it: words are matched with typos according to their length, the last word is a prefix
//! unless anything follows it, `"…"` is a phrase (its words adjacent and in order, no
//! typos), `-word` and `-"…"` exclude documents (a `-` counts as the operator only after
//! a space or at the start), and only the first ten terms count (a phrase is one term).
//! Each word has a position in the query — one more than the previous word's, seven more
//! after a hard separator — that the position rule measures documents against.

use super::text;

/// Longest query accepted (characters).
pub const MAX_QUERY_CHARS: usize = 512;
/// Meilisearch ignores terms past the tenth.
pub const MAX_WORDS: usize = 10;

/// A term to match: a word (typos allowed, the last one maybe a prefix) or a phrase.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TermKind {
    Word(String),
    Phrase(Vec<String>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Term {
    pub kind: TermKind,
    /// Query positions of its first and last word.
    pub start: u16,
    pub end: u16,
}

impl Term {
    /// The single word of a word term.
    pub fn word(&self) -> Option<&str> {
        match &self.kind {
            TermKind::Word(word) => Some(word),
            TermKind::Phrase(_) => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ParsedQuery {
    /// The terms every result must match, in query order.
    pub terms: Vec<Term>,
    /// Whether the last term is a word matched as a prefix.
    pub last_is_prefix: bool,
    /// Words no result may contain (exactly, in any attribute).
    pub negative_words: Vec<String>,
    /// Phrases no result may contain.
    pub negative_phrases: Vec<Vec<String>>,
}

impl ParsedQuery {
    /// No term to match: a browse (minus the excluded documents).
    pub fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }
}

/// A phrase being read: its words and the positions of its first and last.
#[derive(Default)]
struct Open {
    words: Vec<String>,
    start: u16,
    end: u16,
    negative: bool,
}

impl Open {
    fn close(self, parsed: &mut ParsedQuery) {
        if self.words.is_empty() {
            return;
        }
        if self.negative {
            parsed.negative_phrases.push(self.words);
        } else {
            parsed.terms.push(Term {
                kind: TermKind::Phrase(self.words),
                start: self.start,
                end: self.end,
            });
        }
    }
}

/// A token of the query: a word, or one separator (`true` when hard).
enum Token<'a> {
    Word(&'a str),
    Separator(bool, &'a str),
}

fn tokens(raw: &str) -> Vec<Token<'_>> {
    let mut tokens = Vec::new();
    let mut previous_end = 0;
    for (start, end) in text::word_spans(raw) {
        let gap = text::separators(&raw[previous_end..start]);
        tokens.extend(gap.into_iter().map(|(hard, s)| Token::Separator(hard, s)));
        tokens.push(Token::Word(&raw[start..end]));
        previous_end = end;
    }
    let tail = text::separators(&raw[previous_end..]);
    tokens.extend(tail.into_iter().map(|(hard, s)| Token::Separator(hard, s)));
    tokens
}

pub fn parse(raw: &str) -> ParsedQuery {
    let tokens = tokens(raw);
    let mut parsed = ParsedQuery::default();
    // The first word takes position 0.
    let mut position = u16::MAX;
    let mut phrase: Option<Open> = None;
    let mut negative_next = false;
    let mut after_space = true;
    for (i, token) in tokens.iter().enumerate() {
        if parsed.terms.len() >= MAX_WORDS {
            // Whatever follows the tenth term is ignored, an open phrase included.
            phrase = None;
            break;
        }
        match token {
            Token::Word(original) => {
                after_space = false;
                let word = text::normalize(original);
                if word.is_empty() {
                    continue;
                }
                position = position.wrapping_add(1);
                if let Some(open) = &mut phrase {
                    if open.words.is_empty() {
                        open.start = position;
                    }
                    open.end = position;
                    open.words.push(word);
                } else if negative_next {
                    negative_next = false;
                    parsed.negative_words.push(word);
                } else {
                    parsed.last_is_prefix = i + 1 == tokens.len();
                    parsed.terms.push(Term {
                        kind: TermKind::Word(word),
                        start: position,
                        end: position,
                    });
                }
            }
            Token::Separator(hard, separator) => {
                if *hard {
                    position = position.wrapping_add(7);
                    // A hard separator inside a phrase ends it and starts another.
                    if let Some(open) = phrase.take() {
                        let negative = open.negative;
                        open.close(&mut parsed);
                        phrase = Some(Open {
                            negative,
                            ..Open::default()
                        });
                    }
                }
                let mut quotes = separator.matches('"').count();
                if quotes > 0 {
                    if let Some(open) = phrase.take() {
                        quotes -= 1;
                        open.close(&mut parsed);
                    }
                    if quotes % 2 == 1 {
                        phrase = Some(Open {
                            negative: negative_next,
                            ..Open::default()
                        });
                    }
                }
                negative_next = phrase.is_none() && *separator == "-" && after_space;
                after_space = separator.ends_with(char::is_whitespace);
            }
        }
    }
    // A quote never closed makes a phrase of the rest of the query.
    if let Some(open) = phrase.take() {
        open.close(&mut parsed);
    }
    if parsed
        .terms
        .last()
        .is_none_or(|t| matches!(t.kind, TermKind::Phrase(_)))
    {
        parsed.last_is_prefix = false;
    }
    parsed
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

    fn words(parsed: &ParsedQuery) -> Vec<(String, u16)> {
        parsed
            .terms
            .iter()
            .map(|t| match &t.kind {
                TermKind::Word(w) => (w.clone(), t.start),
                TermKind::Phrase(p) => (format!("\"{}\"", p.join(" ")), t.start),
            })
            .collect()
    }

    fn w(word: &str, at: u16) -> (String, u16) {
        (word.to_owned(), at)
    }

    #[test]
    fn the_last_word_is_a_prefix_unless_anything_follows() {
        let parsed = parse("crm analy");
        assert_eq!(words(&parsed), [w("crm", 0), w("analy", 1)]);
        assert!(parsed.last_is_prefix);
        assert!(!parse("crm analy ").last_is_prefix);
        assert!(!parse("\"crm\"").last_is_prefix);
        assert!(!parse("crm.").last_is_prefix);
    }

    #[test]
    fn only_ten_terms_count() {
        let parsed = parse("a b c d e f g h i j k l");
        assert_eq!(parsed.terms.len(), 10);
        assert!(!parsed.last_is_prefix);
        let parsed = parse("a b c d e f g h i j");
        assert!(parsed.last_is_prefix, "the tenth word ends the query");
        let parsed = parse("\"a b c\" d e f g h i j k l");
        assert_eq!(parsed.terms.len(), 10, "a phrase is one term");
    }

    #[test]
    fn hard_separators_move_the_next_word_seven_further() {
        assert_eq!(words(&parse("crm: sales")), [w("crm", 0), w("sales", 8)]);
        assert_eq!(words(&parse("crm, sales")), [w("crm", 0), w("sales", 8)]);
        assert_eq!(words(&parse("crm,sales")), [w("crm", 0), w("sales", 1)]);
    }

    #[test]
    fn quotes_make_phrases_and_a_dash_after_a_space_excludes() {
        let parsed = parse("\"cloud storage\" teams");
        assert_eq!(
            parsed.terms[0].kind,
            TermKind::Phrase(vec!["cloud".into(), "storage".into()])
        );
        assert_eq!((parsed.terms[0].start, parsed.terms[0].end), (0, 1));
        assert_eq!(words(&parsed)[1], w("teams", 2));

        let parsed = parse("crm -agencies");
        assert_eq!(words(&parsed), [w("crm", 0)]);
        assert_eq!(parsed.negative_words, ["agencies"]);
        assert!(!parsed.last_is_prefix, "the last term is not the last word");

        let parsed = parse("-crm sales");
        assert_eq!(parsed.negative_words, ["crm"]);
        assert_eq!(
            words(&parsed),
            [w("sales", 1)],
            "an excluded word keeps its place"
        );

        let parsed = parse("e-mail");
        assert_eq!(
            words(&parsed),
            [w("e", 0), w("mail", 1)],
            "a dash inside a word"
        );
        assert!(parsed.negative_words.is_empty());

        let parsed = parse("crm -\"sales teams\" pipeline");
        assert_eq!(
            parsed.negative_phrases,
            [vec!["sales".to_owned(), "teams".to_owned()]]
        );
        assert_eq!(words(&parsed), [w("crm", 0), w("pipeline", 3)]);

        let parsed = parse("\"open phrase");
        assert_eq!(
            parsed.terms[0].kind,
            TermKind::Phrase(vec!["open".into(), "phrase".into()]),
            "an unclosed quote runs to the end"
        );
        let parsed = parse("\"one. two\"");
        assert_eq!(parsed.terms.len(), 2, "a hard separator splits a phrase");
        assert!(
            parse("\"\" crm").terms.len() == 1,
            "an empty phrase is nothing"
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
