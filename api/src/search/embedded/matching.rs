//! Which index terms a query word stands for, with Meilisearch's typo rules: a word of
//! 5–8 letters may carry one typo, from 9 letters two; a transposition is one typo; a typo
//! on the first letter counts as two; the last word (unless followed by a separator) is
//! a prefix, and prefixes may carry typos too. Adjacent words also match their
//! concatenation ("data stack" finds "datastack") with one typo less per extra word.

use std::sync::LazyLock;

use levenshtein_automata::{DFA, Distance, LevenshteinAutomatonBuilder, SINK_STATE};
use tantivy::{postings::TermInfo, termdict::TermDictionary};

use crate::search::query::{ParsedQuery, TermKind, typo_budget};

static BUILDERS: LazyLock<[LevenshteinAutomatonBuilder; 3]> = LazyLock::new(|| {
    [
        LevenshteinAutomatonBuilder::new(0, true),
        LevenshteinAutomatonBuilder::new(1, true),
        LevenshteinAutomatonBuilder::new(2, true),
    ]
});

/// A term of the query graph: one query term, or the concatenation of 2–3 adjacent word
/// terms (an n-gram).
#[derive(Debug, Clone)]
pub struct Node {
    /// Index of its first term.
    pub start: usize,
    /// Terms it covers.
    pub len: usize,
    /// Query position of its first word, and how many positions it spans.
    pub position: u16,
    pub positions: u16,
    /// The word (or concatenation) to derive; a phrase's words joined by spaces.
    pub text: String,
    /// A phrase's words (matched exactly, adjacent and in order).
    pub phrase: Option<Vec<String>>,
    pub budget: u8,
    pub prefix: bool,
}

/// Every node of the query: each term, and each 2- and 3-term concatenation of word
/// terms adjacent in the query (as Meilisearch builds n-grams).
pub fn nodes(query: &ParsedQuery) -> Vec<Node> {
    let n = query.terms.len();
    let mut nodes = Vec::new();
    for (start, term) in query.terms.iter().enumerate() {
        let (text, phrase) = match &term.kind {
            TermKind::Word(word) => (word.clone(), None),
            TermKind::Phrase(words) => (words.join(" "), Some(words.clone())),
        };
        let phrase_words = phrase.as_ref().map_or(1, Vec::len);
        nodes.push(Node {
            start,
            len: 1,
            position: term.start,
            positions: u16::try_from(phrase_words).unwrap_or(u16::MAX),
            budget: if phrase.is_some() {
                0
            } else {
                typo_budget(&text)
            },
            prefix: phrase.is_none() && query.last_is_prefix && start + 1 == n,
            text,
            phrase,
        });
    }
    for len in 2..=3.min(n) {
        for start in 0..=(n - len) {
            let terms = &query.terms[start..start + len];
            let words: Option<Vec<&str>> = terms.iter().map(|t| t.word()).collect();
            let adjacent = terms
                .windows(2)
                .all(|w| w[0].end.wrapping_add(1) == w[1].start);
            let Some(words) = words.filter(|_| adjacent) else {
                continue;
            };
            let text: String = words.concat();
            let extra = u8::try_from(len - 1).unwrap_or(2);
            nodes.push(Node {
                start,
                len,
                position: terms[0].start,
                positions: u16::try_from(len).unwrap_or(u16::MAX),
                budget: typo_budget(&text).saturating_sub(extra),
                prefix: query.last_is_prefix && start + len == n,
                text,
                phrase: None,
            });
        }
    }
    nodes
}

/// An index term a node stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Derivation {
    pub term: String,
    pub typos: u8,
    /// The term extends the node's text (prefix match): highlight only the first
    /// `text` characters of it, and it is not an exact match.
    pub extends: bool,
}

impl Derivation {
    pub fn exact(&self) -> bool {
        self.typos == 0 && !self.extends
    }
}

struct Dfa(DFA);

impl tantivy_fst::Automaton for Dfa {
    type State = u32;

    fn start(&self) -> u32 {
        self.0.initial_state()
    }

    fn is_match(&self, state: &u32) -> bool {
        matches!(self.0.distance(*state), Distance::Exact(_))
    }

    fn can_match(&self, state: &u32) -> bool {
        *state != SINK_STATE
    }

    fn accept(&self, state: &u32, byte: u8) -> u32 {
        self.0.transition(*state, byte)
    }
}

/// Optimal-string-alignment distance between `a` and `b` (a transposition of neighbours
/// is one edit), and the smallest such distance between `a` and a prefix of `b`.
fn distances(a: &[char], b: &[char]) -> (usize, usize) {
    let (n, m) = (a.len(), b.len());
    let mut d = vec![vec![0usize; m + 1]; n + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=n {
        for j in 1..=m {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    let prefix = d[n].iter().copied().min().unwrap_or(n);
    (d[n][m], prefix)
}

/// Typos of `term` as a derivation of `node`, if it is one: the edit distance, plus one
/// when the first letter differs (a first-letter typo counts as two).
pub fn typos(node: &Node, term: &str) -> Option<Derivation> {
    let word: Vec<char> = node.text.chars().collect();
    let chars: Vec<char> = term.chars().collect();
    let (full, prefix) = distances(&word, &chars);
    let (distance, extends) = if node.prefix && prefix < full {
        (prefix, true)
    } else {
        (full, false)
    };
    let first_differs = word.first() != chars.first();
    let cost = distance + usize::from(first_differs && distance > 0);
    (cost <= usize::from(node.budget)).then(|| Derivation {
        term: term.to_owned(),
        typos: u8::try_from(cost).unwrap_or(u8::MAX),
        extends,
    })
}

/// A node with its Levenshtein automaton, built once per search and run over the term
/// dictionary of every field of every segment.
pub struct Matcher {
    pub node: Node,
    dfa: Dfa,
    /// The word split in two indexed words (`datawarehouse` → `data warehouse`): matched
    /// as a phrase, one typo.
    pub split: Option<[String; 2]>,
}

impl Matcher {
    pub fn new(node: Node) -> Self {
        let builder = &BUILDERS[usize::from(node.budget.min(2))];
        let dfa = if node.prefix {
            builder.build_prefix_dfa(&node.text)
        } else {
            builder.build_dfa(&node.text)
        };
        Self {
            node,
            dfa: Dfa(dfa),
            split: None,
        }
    }

    /// Every term of `dictionary` the node stands for, with its ordinal and where its
    /// postings are.
    pub fn derivations(
        &self,
        dictionary: &TermDictionary,
    ) -> std::io::Result<Vec<(Derivation, u64, TermInfo)>> {
        if self.node.phrase.is_some() {
            // Phrases are matched word by word, with positions (`search::phrases`).
            return Ok(Vec::new());
        }
        let mut stream = dictionary.search(&self.dfa).into_stream()?;
        let mut found = Vec::new();
        while stream.advance() {
            let Ok(term) = std::str::from_utf8(stream.key()) else {
                continue;
            };
            if let Some(derivation) = typos(&self.node, term) {
                found.push((derivation, stream.term_ord(), stream.value().clone()));
            }
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(text: &str, prefix: bool) -> Node {
        Node {
            start: 0,
            len: 1,
            position: 0,
            positions: 1,
            phrase: None,
            text: text.to_owned(),
            budget: typo_budget(text),
            prefix,
        }
    }

    fn cost(text: &str, prefix: bool, term: &str) -> Option<u8> {
        typos(&node(text, prefix), term).map(|d| d.typos)
    }

    #[test]
    fn typo_budgets_and_the_first_letter_rule() {
        assert_eq!(cost("crm", false, "crm"), Some(0));
        assert_eq!(
            cost("crn", false, "crm"),
            None,
            "4 letters or fewer: no typo"
        );
        assert_eq!(cost("sales", false, "sales"), Some(0));
        assert_eq!(cost("sakes", false, "sales"), Some(1));
        assert_eq!(
            cost("asles", false, "sales"),
            None,
            "first-letter typo counts as two"
        );
        assert_eq!(
            cost("analitycs", false, "analytics"),
            Some(2),
            "two substitutions... or a transposition and one"
        );
        assert_eq!(
            cost("anlaytics", false, "analytics"),
            Some(1),
            "a transposition is one typo"
        );
        assert_eq!(
            cost("xnalytics", false, "analytics"),
            Some(2),
            "first letter: two of the two"
        );
        assert_eq!(cost("xnalitics", false, "analytics"), None);
    }

    #[test]
    fn prefixes_extend_and_may_carry_typos() {
        let d = typos(&node("analy", true), "analytics").unwrap();
        assert_eq!((d.typos, d.extends), (0, true));
        assert_eq!(cost("anali", true, "analytics"), Some(1));
        assert_eq!(cost("ana", true, "analytics"), Some(0));
        assert_eq!(cost("anz", true, "analytics"), None);
        assert!(typos(&node("analytics", true), "analytics").is_some_and(|d| d.exact()));
    }

    #[test]
    fn concatenations_take_one_typo_less_per_extra_word() {
        let nodes = nodes(&crate::search::query::parse("data stack pro "));
        let pair = nodes.iter().find(|n| n.text == "datastack").unwrap();
        assert_eq!((pair.start, pair.len, pair.budget), (0, 2, 1));
        let triple = nodes.iter().find(|n| n.len == 3).unwrap();
        assert_eq!((triple.text.as_str(), triple.budget), ("datastackpro", 0));
        assert_eq!(nodes.len(), 6);
        let apart = nodes_of("data: stack ");
        assert_eq!(apart.len(), 2, "no n-gram across a hard separator");
        let phrase = nodes_of("\"data stack\" pro ");
        assert_eq!(phrase.len(), 2, "no n-gram with a phrase");
    }

    fn nodes_of(query: &str) -> Vec<Node> {
        nodes(&crate::search::query::parse(query))
    }
}
