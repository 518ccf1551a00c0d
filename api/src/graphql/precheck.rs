//! Bounds checked on the raw document text before async-graphql sees it.
//!
//! async-graphql 7.2.1 recurses without bound: its parser and value conversion over
//! nested lists and objects (1,600 levels of `[` overflow a worker's stack and abort the
//! process), and its `check_recursive_depth` and validation re-walk every fragment spread
//! (a 1 KB "fragment bomb" of 27 fragments spreading the next twice costs minutes). So
//! every document first goes through one linear pass here:
//! - size and token count are capped (a huge document costs CPU before any other limit);
//! - brackets of every kind (`{`, `[`, `(`) may nest [`DocumentLimits::max_nesting`] deep,
//!   strings and comments skipped;
//! - the fragment graph is reduced once, each fragment's expanded size memoised, so the
//!   selections an operation would expand to are known (and bounded) without walking
//!   them, and cycles are refused.
//!
//! The pass is a tokenizer plus a bracket stack, not a parser: whatever it lets through
//! still goes to async-graphql's parser, which reports syntax errors.

use std::collections::HashMap;

use crate::error::ErrorCode;

/// Limits of the pre-check. The defaults fit every query the README and the tests use
/// with room to spare (GraphiQL's introspection query: 4.3 KB, ~700 tokens, nesting 18).
#[derive(Debug, Clone, Copy)]
pub struct DocumentLimits {
    /// Bytes of query text.
    pub max_bytes: usize,
    /// Lexical tokens (names, punctuators, numbers, strings).
    pub max_tokens: usize,
    /// Open brackets of any kind at once.
    pub max_nesting: usize,
    /// Selections (fields, spreads, inline fragments) of one operation with every
    /// fragment spread expanded.
    pub max_selections: usize,
}

impl Default for DocumentLimits {
    fn default() -> Self {
        Self {
            max_bytes: 32 * 1024,
            max_tokens: 15_000,
            max_nesting: 64,
            max_selections: 2_000,
        }
    }
}

/// Why a document was refused before parsing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    TooLarge { bytes: usize, limit: usize },
    TooManyTokens { limit: usize },
    TooDeep { limit: usize },
    TooManySelections { limit: usize },
    FragmentCycle { fragment: String },
}

impl Refusal {
    pub fn code(&self) -> ErrorCode {
        match self {
            Self::TooLarge { .. } | Self::TooManyTokens { .. } => ErrorCode::QueryTooLarge,
            Self::TooDeep { .. } => ErrorCode::MaxDepthLimit,
            Self::TooManySelections { .. } => ErrorCode::QueryTooComplex,
            Self::FragmentCycle { .. } => ErrorCode::GraphqlValidationFailed,
        }
    }

    pub fn message(&self) -> String {
        match self {
            Self::TooLarge { bytes, limit } => {
                format!("the query document has {bytes} bytes; at most {limit} are allowed")
            }
            Self::TooManyTokens { limit } => {
                format!("the query document has more than {limit} tokens")
            }
            Self::TooDeep { limit } => format!(
                "the query document nests brackets more than {limit} levels deep (values, selections and arguments together)"
            ),
            Self::TooManySelections { limit } => format!(
                "an operation expands to more than {limit} selections (fragment spreads counted where they are spread)"
            ),
            Self::FragmentCycle { fragment } => {
                format!("fragment `{fragment}` spreads itself (directly or through others)")
            }
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok<'a> {
    Name(&'a str),
    /// `{ } ( ) [ ] : @ ! $ = | &` and `...` (as `'.'`).
    Punct(u8),
    /// Numbers, strings and anything the parser will refuse: only counted.
    Other,
}

/// Splits `text` into tokens, skipping whitespace, commas, comments and string contents.
fn tokenize(text: &str, max_tokens: usize) -> Result<Vec<Tok<'_>>, Refusal> {
    let bytes = text.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let token = match b {
            b' ' | b'\t' | b'\n' | b'\r' | b',' => {
                i += 1;
                continue;
            }
            b'#' => {
                while i < bytes.len() && bytes[i] != b'\n' && bytes[i] != b'\r' {
                    i += 1;
                }
                continue;
            }
            b'"' if bytes[i..].starts_with(b"\"\"\"") => {
                i += 3;
                loop {
                    if i >= bytes.len() {
                        break;
                    }
                    if bytes[i..].starts_with(b"\\\"\"\"") {
                        i += 4;
                    } else if bytes[i..].starts_with(b"\"\"\"") {
                        i += 3;
                        break;
                    } else {
                        i += 1;
                    }
                }
                Tok::Other
            }
            b'"' => {
                i += 1;
                while i < bytes.len() && !matches!(bytes[i], b'"' | b'\n' | b'\r') {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
                Tok::Other
            }
            b'.' if bytes[i..].starts_with(b"...") => {
                i += 3;
                Tok::Punct(b'.')
            }
            b'{' | b'}' | b'(' | b')' | b'[' | b']' | b':' | b'@' | b'!' | b'$' | b'=' | b'|'
            | b'&' => {
                i += 1;
                Tok::Punct(b)
            }
            b'_' | b'a'..=b'z' | b'A'..=b'Z' => {
                let start = i;
                while i < bytes.len() && (bytes[i] == b'_' || bytes[i].is_ascii_alphanumeric()) {
                    i += 1;
                }
                Tok::Name(&text[start..i])
            }
            b'-' | b'0'..=b'9' => {
                i += 1;
                while i < bytes.len()
                    && (bytes[i].is_ascii_alphanumeric()
                        || bytes[i] == b'.' && !bytes[i..].starts_with(b"...")
                        || (matches!(bytes[i], b'+' | b'-') && matches!(bytes[i - 1], b'e' | b'E')))
                {
                    i += 1;
                }
                Tok::Other
            }
            _ => {
                // Anything else (a stray byte, a non-ASCII character): one token each, for
                // the parser to refuse.
                i += text[i..].chars().next().map_or(1, char::len_utf8);
                Tok::Other
            }
        };
        if tokens.len() == max_tokens {
            return Err(Refusal::TooManyTokens { limit: max_tokens });
        }
        tokens.push(token);
    }
    Ok(tokens)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Frame {
    /// A selection set: names here are fields, aliases, spreads.
    Selection,
    /// Arguments, variable definitions, object and list values: names here are not
    /// selections.
    Value,
}

/// One operation or fragment definition as written.
#[derive(Debug, Default)]
struct Definition<'a> {
    /// `Some(name)` for a fragment.
    fragment: Option<&'a str>,
    /// Fields, inline fragments and spreads written in its body.
    own: usize,
    /// Fragments it spreads, once per spread.
    spreads: Vec<&'a str>,
    /// Its `{` has been seen (a `query Name(…)` header comes before it).
    body: bool,
}

/// What the pre-check learned about a document that passed it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Summary {
    pub tokens: usize,
    /// The deepest bracket nesting of the text.
    pub nesting: usize,
    /// The largest expansion of any operation.
    pub selections: usize,
}

/// Checks `text` against `limits` in time linear in its length.
pub fn check(text: &str, limits: &DocumentLimits) -> Result<Summary, Refusal> {
    if text.len() > limits.max_bytes {
        return Err(Refusal::TooLarge {
            bytes: text.len(),
            limit: limits.max_bytes,
        });
    }
    let tokens = tokenize(text, limits.max_tokens)?;
    let (definitions, nesting) = definitions(&tokens, limits.max_nesting)?;
    let selections = largest_expansion(&definitions, limits.max_selections)?;
    Ok(Summary {
        tokens: tokens.len(),
        nesting,
        selections,
    })
}

/// Walks the tokens once with a bracket stack, collecting each definition's own
/// selections and spreads.
fn definitions<'a>(
    tokens: &[Tok<'a>],
    max_nesting: usize,
) -> Result<(Vec<Definition<'a>>, usize), Refusal> {
    let mut stack: Vec<Frame> = Vec::new();
    let mut deepest = 0;
    let mut defs: Vec<Definition<'a>> = Vec::new();
    let mut i = 0;
    while i < tokens.len() {
        let token = tokens[i];
        let next = tokens.get(i + 1).copied();
        match token {
            Tok::Punct(open @ (b'{' | b'(' | b'[')) => {
                if stack.len() == max_nesting {
                    return Err(Refusal::TooDeep { limit: max_nesting });
                }
                let frame = match (open, stack.last()) {
                    (b'{', None) => {
                        // `{` at the top level opens an operation body, unless a
                        // `query`/`fragment` header already started a definition.
                        match defs.last_mut() {
                            Some(header) if !header.body => header.body = true,
                            _ => defs.push(Definition {
                                body: true,
                                ..Definition::default()
                            }),
                        }
                        Frame::Selection
                    }
                    (b'{', Some(Frame::Selection)) => Frame::Selection,
                    _ => Frame::Value,
                };
                stack.push(frame);
                deepest = deepest.max(stack.len());
            }
            Tok::Punct(b'}' | b')' | b']') => {
                stack.pop();
            }
            // Outside any bracket: definition headers. Names that follow a keyword are
            // consumed with it, so a fragment, type or operation named like a keyword
            // cannot pass for one.
            Tok::Name(keyword) if stack.is_empty() => match keyword {
                "fragment" => {
                    let mut name = "";
                    if let Some(Tok::Name(n)) = next {
                        name = n;
                        i += 1;
                    }
                    if tokens.get(i + 1) == Some(&Tok::Name("on"))
                        && matches!(tokens.get(i + 2), Some(Tok::Name(_)))
                    {
                        i += 2;
                    }
                    defs.push(Definition {
                        fragment: Some(name),
                        ..Definition::default()
                    });
                }
                "query" | "mutation" | "subscription" => {
                    if let Some(Tok::Name(_)) = next {
                        i += 1;
                    }
                    defs.push(Definition::default());
                }
                _ => {}
            },
            Tok::Punct(b'@') if matches!(next, Some(Tok::Name(_))) => {
                // A directive: its name is not a selection (its arguments open a frame).
                i += 1;
            }
            Tok::Punct(b'.') if stack.last() == Some(&Frame::Selection) => {
                if let Some(d) = defs.last_mut() {
                    d.own += 1;
                    match next {
                        Some(Tok::Name("on")) => i += 2, // `... on Type`
                        Some(Tok::Name(fragment)) => {
                            d.spreads.push(fragment);
                            i += 1;
                        }
                        _ => {} // `... @dir {` or `... {`
                    }
                }
            }
            Tok::Name(_) if stack.last() == Some(&Frame::Selection) => {
                if let Some(d) = defs.last_mut() {
                    d.own += 1;
                }
                // `alias: field` is one selection.
                if next == Some(Tok::Punct(b':')) && matches!(tokens.get(i + 2), Some(Tok::Name(_)))
                {
                    i += 2;
                }
            }
            _ => {}
        }
        i += 1;
    }
    Ok((defs, deepest))
}

/// The largest number of selections any operation expands to, each fragment's expansion
/// computed once (iteratively, so a long chain of fragments cannot exhaust the stack).
fn largest_expansion(defs: &[Definition<'_>], limit: usize) -> Result<usize, Refusal> {
    let mut by_name: HashMap<&str, usize> = HashMap::new();
    for (index, def) in defs.iter().enumerate() {
        if let Some(name) = def.fragment {
            by_name.entry(name).or_insert(index);
        }
    }
    #[derive(Clone, Copy, PartialEq, Eq)]
    enum State {
        New,
        Visiting,
        Done(usize),
    }
    let mut state = vec![State::New; defs.len()];
    // Expansions are capped just above the limit so the sums cannot overflow.
    let cap = limit.saturating_add(1);
    let mut largest = 0;
    for root in 0..defs.len() {
        if state[root] != State::New {
            continue;
        }
        // (definition, index of the next spread to resolve)
        let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
        state[root] = State::Visiting;
        while let Some(&mut (def, ref mut next)) = stack.last_mut() {
            let spreads = &defs[def].spreads;
            if let Some(target) = spreads.get(*next) {
                *next += 1;
                let Some(&target) = by_name.get(target) else {
                    continue; // unknown fragment: validation reports it
                };
                match state[target] {
                    State::Visiting => {
                        return Err(Refusal::FragmentCycle {
                            fragment: defs[target].fragment.unwrap_or("").to_owned(),
                        });
                    }
                    State::New => {
                        state[target] = State::Visiting;
                        stack.push((target, 0));
                    }
                    State::Done(_) => {}
                }
                continue;
            }
            // Every spread of `def` is resolved: sum them up.
            let mut total = defs[def].own.min(cap);
            for target in spreads {
                if let Some(&t) = by_name.get(target)
                    && let State::Done(n) = state[t]
                {
                    total = total.saturating_add(n).min(cap);
                }
            }
            state[def] = State::Done(total);
            stack.pop();
        }
    }
    for (index, def) in defs.iter().enumerate() {
        if def.fragment.is_none()
            && let State::Done(n) = state[index]
        {
            if n > limit {
                return Err(Refusal::TooManySelections { limit });
            }
            largest = largest.max(n);
        }
    }
    Ok(largest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_default(text: &str) -> Result<Summary, Refusal> {
        check(text, &DocumentLimits::default())
    }

    fn nested(open: &str, levels: usize, inner: &str, close: &str) -> String {
        format!("{}{inner}{}", open.repeat(levels), close.repeat(levels))
    }

    #[test]
    fn ordinary_documents_pass_with_their_expanded_size() {
        let summary = check_default(
            "query Q($f: ProgramFilter = {categories: [\"crm\"]}) { programs(filter: $f, first: 3) { edges { node { ...P } } } }
             fragment P on Program { slug name vendor { name } commissionRules { summary } }",
        )
        .unwrap();
        // programs, edges, node, ...P + slug, name, vendor, name, commissionRules, summary
        assert_eq!(summary.selections, 10);
        let aliased = check_default("{ a: viewer { id } b: viewer { id } }").unwrap();
        assert_eq!(
            aliased.selections, 4,
            "an alias and its field are one selection"
        );
    }

    #[test]
    fn deep_values_are_refused_in_arguments_input_objects_and_directives() {
        let list = format!(
            "{{ programs(first: {}) {{ totalCount }} }}",
            nested("[", 1_600, "1", "]")
        );
        assert_eq!(check_default(&list), Err(Refusal::TooDeep { limit: 64 }));
        let object = format!(
            "{{ programs(filter: {}) {{ totalCount }} }}",
            nested("{a:", 1_000, "1", "}")
        );
        assert_eq!(check_default(&object), Err(Refusal::TooDeep { limit: 64 }));
        let directive = format!(
            "{{ viewer @include(if: {}) {{ id }} }}",
            nested("[", 1_000, "true", "]")
        );
        assert_eq!(
            check_default(&directive),
            Err(Refusal::TooDeep { limit: 64 })
        );
        let selections = nested("{ a ", 100, "", "}");
        assert_eq!(
            check_default(&selections),
            Err(Refusal::TooDeep { limit: 64 })
        );
    }

    #[test]
    fn brackets_inside_strings_block_strings_and_comments_do_not_count() {
        let text = format!(
            "{{ a(x: \"{}\", y: \"\"\"{}\\\"\"\" still \"\"\") # {}\n }}",
            "[".repeat(5_000),
            "{".repeat(5_000),
            "(".repeat(5_000)
        );
        assert!(check_default(&text).is_ok());
    }

    #[test]
    fn a_fragment_bomb_is_refused_without_being_walked() {
        let mut q = String::from("query { ...F0 }\n");
        for i in 0..26 {
            q.push_str(&format!(
                "fragment F{i} on Query {{ ...F{n} ...F{n} }}\n",
                n = i + 1
            ));
        }
        q.push_str("fragment F26 on Query { __typename }");
        assert!(q.len() < 1_200);
        assert_eq!(
            check_default(&q),
            Err(Refusal::TooManySelections { limit: 2_000 })
        );
    }

    #[test]
    fn fragments_named_like_keywords_cannot_hide_a_bomb() {
        let mut q = String::from("query { ...F0 }\n");
        for i in 0..26 {
            q.push_str(&format!(
                "fragment F{i} on query {{ ...F{n} ...F{n} }}\n",
                n = i + 1
            ));
        }
        q.push_str("fragment F26 on fragment { __typename }");
        assert_eq!(
            check_default(&q),
            Err(Refusal::TooManySelections { limit: 2_000 })
        );
    }

    #[test]
    fn cycles_are_refused_and_long_chains_do_not_recurse() {
        assert_eq!(
            check_default("{ ...A } fragment A on Query { ...B } fragment B on Query { ...A }"),
            Err(Refusal::FragmentCycle {
                fragment: "A".into()
            })
        );
        let mut chain = String::from("{ ...F0 }");
        for i in 0..3_000 {
            chain.push_str(&format!(" fragment F{i} on Query {{ ...F{} }}", i + 1));
        }
        let limits = DocumentLimits {
            max_bytes: 1 << 20,
            max_tokens: 1 << 20,
            ..DocumentLimits::default()
        };
        assert_eq!(
            check(&chain, &limits),
            Err(Refusal::TooManySelections { limit: 2_000 })
        );
    }

    #[test]
    fn size_and_token_caps_come_first() {
        let big = format!("{{ {} }}", "__typename ".repeat(4_000));
        assert!(matches!(check_default(&big), Err(Refusal::TooLarge { .. })));
        let many = format!("{{ {} }}", "a ".repeat(15_000));
        let limits = DocumentLimits {
            max_bytes: 1 << 20,
            ..DocumentLimits::default()
        };
        assert_eq!(
            check(&many, &limits),
            Err(Refusal::TooManyTokens { limit: 15_000 })
        );
    }

    #[test]
    fn repeated_plain_fields_count_as_selections() {
        let text = format!("{{ {} }}", "__typename ".repeat(2_500));
        let limits = DocumentLimits {
            max_bytes: 1 << 20,
            ..DocumentLimits::default()
        };
        assert_eq!(
            check(&text, &limits),
            Err(Refusal::TooManySelections { limit: 2_000 })
        );
    }
}
