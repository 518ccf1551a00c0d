//! Text as the embedded engine sees it, following Meilisearch's defaults: words are runs
//! of letters and digits; case and accents are folded (`Café` = `cafe`, `ZÜRICH` =
//! `zurich`). Between words, a *hard* separator (the end of a sentence or clause, as
//! Meilisearch's tokenizer charabia classifies them: `. `, `, `, `:`, `;`, `!`, `?` …)
//! puts the next word 8 positions further instead of 1.

use unicode_normalization::{UnicodeNormalization, char::is_combining_mark};

/// Lower-cased, accents removed (compatibility decomposition, marks dropped).
pub fn normalize(word: &str) -> String {
    word.nfkd()
        .filter(|c| !is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .collect()
}

/// Byte ranges of the words of `text`, in order.
pub fn word_spans(text: &str) -> Vec<(usize, usize)> {
    let mut spans = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        match (c.is_alphanumeric(), start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                spans.push((s, i));
                start = None;
            }
            _ => {}
        }
    }
    if let Some(s) = start {
        spans.push((s, text.len()));
    }
    spans
}

/// Separators charabia calls hard (its "context separators"), single characters; `.`
/// and `,` are hard only when a space follows them (`e.g`, `1,000` and `example.com`
/// are not sentence ends).
const HARD: &[char] = &[
    '!', ':', ';', '?', '¡', '§', '¶', '¿', '\u{37e}', '…', '‼', '‽', '⁇', '⁈', '⁉', '、', '。',
    '！', '，', '．', '：', '；', '？', '｡', '､',
];

/// The separator tokens of `gap` (text between two words) as charabia cuts them: one per
/// character, except `. ` and `, `; `true` for a hard one, with the token's text.
pub fn separators(gap: &str) -> Vec<(bool, &str)> {
    let mut tokens = Vec::new();
    let mut chars = gap.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if matches!(c, '.' | ',') && chars.peek().is_some_and(|(_, n)| *n == ' ') {
            chars.next();
            tokens.push((true, &gap[i..i + 2]));
        } else {
            tokens.push((HARD.contains(&c), &gap[i..i + c.len_utf8()]));
        }
    }
    tokens
}

/// The words of `text` (as [`word_spans`]) with their positions: 1 apart, 8 across a
/// hard separator — Meilisearch's positions, which its proximity and position rules read.
pub fn positioned_spans(text: &str) -> Vec<((usize, usize), u32)> {
    let mut previous_end = None;
    let mut position = 0u32;
    word_spans(text)
        .into_iter()
        .map(|(start, end)| {
            if let Some(previous_end) = previous_end {
                let hard = separators(&text[previous_end..start])
                    .iter()
                    .any(|(hard, _)| *hard);
                position += if hard { 8 } else { 1 };
            }
            previous_end = Some(end);
            ((start, end), position)
        })
        .collect()
}

/// The normalized words of `text`.
pub fn words(text: &str) -> Vec<String> {
    word_spans(text)
        .into_iter()
        .map(|(s, e)| normalize(&text[s..e]))
        .filter(|w| !w.is_empty())
        .collect()
}

/// A tantivy tokenizer producing exactly [`words`], with positions counted in words.
#[derive(Clone, Default)]
pub struct WordTokenizer {
    token: tantivy::tokenizer::Token,
}

pub struct WordTokenStream<'a> {
    text: &'a str,
    spans: std::vec::IntoIter<((usize, usize), u32)>,
    token: &'a mut tantivy::tokenizer::Token,
}

impl tantivy::tokenizer::Tokenizer for WordTokenizer {
    type TokenStream<'a> = WordTokenStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> Self::TokenStream<'a> {
        self.token.reset();
        WordTokenStream {
            text,
            spans: positioned_spans(text).into_iter(),
            token: &mut self.token,
        }
    }
}

impl tantivy::tokenizer::TokenStream for WordTokenStream<'_> {
    fn advance(&mut self) -> bool {
        for ((start, end), position) in self.spans.by_ref() {
            let word = normalize(&self.text[start..end]);
            if word.is_empty() {
                continue;
            }
            self.token.text = word;
            self.token.offset_from = start;
            self.token.offset_to = end;
            self.token.position = usize::try_from(position).unwrap_or(usize::MAX);
            self.token.position_length = 1;
            return true;
        }
        false
    }

    fn token(&self) -> &tantivy::tokenizer::Token {
        self.token
    }

    fn token_mut(&mut self) -> &mut tantivy::tokenizer::Token {
        self.token
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn case_and_accents_fold_and_punctuation_separates() {
        assert_eq!(
            words("Café ZÜRICH, e-mail: naïve_Déjà"),
            ["cafe", "zurich", "e", "mail", "naive", "deja"]
        );
        assert_eq!(
            words("Программа для партнеров"),
            ["программа", "для", "партнеров"]
        );
        assert_eq!(words("  "), Vec::<String>::new());
    }

    fn positions(text: &str) -> Vec<u32> {
        positioned_spans(text).into_iter().map(|(_, p)| p).collect()
    }

    #[test]
    fn hard_separators_put_the_next_word_eight_positions_further() {
        assert_eq!(positions("Fast CRM. For teams"), [0, 1, 9, 10]);
        assert_eq!(positions("crm: sales; ops! now? yes"), [0, 8, 16, 24, 32]);
        assert_eq!(positions("a, b,c e.g x-y"), [0, 8, 9, 10, 11, 12, 13]);
        assert_eq!(positions("end.  Next"), [0, 8], "`. ` then a space");
        assert_eq!(
            separators(" -\""),
            [(false, " "), (false, "-"), (false, "\"")]
        );
    }
}
