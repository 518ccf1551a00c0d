//! Text as the embedded engine sees it, following Meilisearch's defaults: words are runs
//! of letters and digits; case and accents are folded (`Café` = `cafe`, `ZÜRICH` =
//! `zurich`).

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
    spans: std::vec::IntoIter<(usize, usize)>,
    token: &'a mut tantivy::tokenizer::Token,
    position: usize,
}

impl tantivy::tokenizer::Tokenizer for WordTokenizer {
    type TokenStream<'a> = WordTokenStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> Self::TokenStream<'a> {
        self.token.reset();
        WordTokenStream {
            text,
            spans: word_spans(text).into_iter(),
            token: &mut self.token,
            position: 0,
        }
    }
}

impl tantivy::tokenizer::TokenStream for WordTokenStream<'_> {
    fn advance(&mut self) -> bool {
        for (start, end) in self.spans.by_ref() {
            let word = normalize(&self.text[start..end]);
            if word.is_empty() {
                continue;
            }
            self.token.text = word;
            self.token.offset_from = start;
            self.token.offset_to = end;
            self.token.position = self.position;
            self.token.position_length = 1;
            self.position += 1;
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
}
