//! Highlights, the same for both engines: engines wrap matched words in control
//! characters (`\u{1}` … `\u{2}`, which listing text can never contain); the text is then
//! HTML-escaped and the markers become `<mark>` tags, so a snippet is safe to render.

use std::collections::HashMap;

use super::text;

pub const PRE: &str = "\u{1}";
pub const POST: &str = "\u{2}";
/// Words around the first match kept in a description snippet.
pub const CROP_WORDS: usize = 30;
pub const CROP_MARKER: &str = "…";

/// Escapes HTML and turns the markers into `<mark>` tags.
pub fn to_html(marked: &str) -> String {
    let mut out = String::with_capacity(marked.len() + 16);
    for c in marked.chars() {
        match c {
            '\u{1}' => out.push_str("<mark>"),
            '\u{2}' => out.push_str("</mark>"),
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
    out
}

/// Marks the words of `text` found in `terms` (`Some(n)`: mark the first `n` characters).
pub fn mark(text: &str, terms: &HashMap<String, Option<usize>>) -> (String, bool) {
    mark_range(text, &text::word_spans(text), terms)
}

fn mark_range(
    text: &str,
    spans: &[(usize, usize)],
    terms: &HashMap<String, Option<usize>>,
) -> (String, bool) {
    let mut out = String::with_capacity(text.len() + 8);
    let mut last = spans.first().map_or(0, |s| s.0);
    let mut any = false;
    for &(start, end) in spans {
        let Some(prefix) = terms.get(&text::normalize(&text[start..end])) else {
            continue;
        };
        let cut = match prefix {
            Some(chars) => text[start..end]
                .char_indices()
                .nth(*chars)
                .map_or(end, |(i, _)| start + i),
            None => end,
        };
        out.push_str(&text[last..start]);
        out.push_str(PRE);
        out.push_str(&text[start..cut]);
        out.push_str(POST);
        last = cut;
        any = true;
    }
    let stop = spans.last().map_or(text.len(), |s| s.1);
    out.push_str(&text[last..stop.max(last)]);
    (out, any)
}

/// A window of [`CROP_WORDS`] words around the first match, marked; `None` without one.
pub fn crop(text: &str, terms: &HashMap<String, Option<usize>>) -> Option<String> {
    let spans = text::word_spans(text);
    let first = spans
        .iter()
        .position(|(s, e)| terms.contains_key(&text::normalize(&text[*s..*e])))?;
    let start = first.saturating_sub(CROP_WORDS / 3);
    let end = (start + CROP_WORDS).min(spans.len());
    let window = &spans[start..end];
    let (marked, _) = mark_range(text, window, terms);
    let mut snippet = String::new();
    if start > 0 {
        snippet.push_str(CROP_MARKER);
    }
    snippet.push_str(&marked);
    if end < spans.len() {
        snippet.push_str(CROP_MARKER);
    }
    Some(snippet)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn terms(pairs: &[(&str, Option<usize>)]) -> HashMap<String, Option<usize>> {
        pairs.iter().map(|(t, p)| ((*t).to_owned(), *p)).collect()
    }

    #[test]
    fn matched_words_and_prefixes_are_marked_and_html_is_escaped() {
        let (marked, any) = mark(
            "Café <b>Analytics</b> & more",
            &terms(&[("cafe", None), ("analytics", Some(5))]),
        );
        assert!(any);
        assert_eq!(
            to_html(&marked),
            "<mark>Café</mark> &lt;b&gt;<mark>Analy</mark>tics&lt;/b&gt; &amp; more"
        );
    }

    #[test]
    fn descriptions_are_cropped_around_the_first_match() {
        let text = (0..100)
            .map(|i| format!("w{i}"))
            .collect::<Vec<_>>()
            .join(" ");
        let snippet = crop(&text, &terms(&[("w50", None)])).unwrap();
        assert!(snippet.starts_with(CROP_MARKER) && snippet.ends_with(CROP_MARKER));
        assert!(to_html(&snippet).contains("<mark>w50</mark>"));
        assert_eq!(crop(&text, &terms(&[("nothing", None)])), None);
    }
}
