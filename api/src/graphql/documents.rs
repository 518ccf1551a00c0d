//! Parsed documents kept between requests. SPA pages send the same few documents over and
//! over, and async-graphql's (pest) parser showed in every listing request's profile, so
//! a document is parsed once per process and cloned after; validation still runs per
//! request.
//!
//! Bounded twice: at most [`DocumentCache::ENTRIES`] documents, each from a text of at
//! most [`DocumentCache::MAX_TEXT`] bytes (longer ones are parsed every time). A client
//! sending a new document per request only churns the cache; it cannot grow it.

use std::{num::NonZeroUsize, sync::Mutex};

use async_graphql::parser::types::ExecutableDocument;
use lru::LruCache;

pub struct DocumentCache {
    entries: Mutex<LruCache<String, ExecutableDocument>>,
}

impl Default for DocumentCache {
    fn default() -> Self {
        Self {
            entries: Mutex::new(LruCache::new(Self::ENTRIES)),
        }
    }
}

impl DocumentCache {
    pub const ENTRIES: NonZeroUsize = match NonZeroUsize::new(256) {
        Some(n) => n,
        None => NonZeroUsize::MIN,
    };
    pub const MAX_TEXT: usize = 8 * 1024;

    /// The document parsed earlier from exactly this text.
    pub fn get(&self, text: &str) -> Option<ExecutableDocument> {
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(text)
            .cloned()
    }

    /// Whether a document from `text` would be kept (callers skip cloning one that would not).
    pub fn admits(text: &str) -> bool {
        text.len() <= Self::MAX_TEXT
    }

    /// Keeps a document that parsed from `text` (and passed the pre-check).
    pub fn put(&self, text: &str, document: ExecutableDocument) {
        if !Self::admits(text) {
            return;
        }
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .put(text.to_owned(), document);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> ExecutableDocument {
        async_graphql::parser::parse_query(text).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn a_document_is_found_by_its_exact_text_only() {
        let cache = DocumentCache::default();
        let text = "{ programs(first: 1) { totalCount } }";
        cache.put(text, parse(text));
        assert!(cache.get(text).is_some());
        assert!(cache.get("{ programs(first: 2) { totalCount } }").is_none());
        assert!(cache.get(&format!("{text} ")).is_none());
    }

    #[test]
    fn the_cache_stays_bounded_in_entries_and_text_length() {
        let cache = DocumentCache::default();
        for i in 0..DocumentCache::ENTRIES.get() + 50 {
            let text = format!("{{ a{i}: __typename }}");
            cache.put(&text, parse(&text));
        }
        assert_eq!(cache.len(), DocumentCache::ENTRIES.get());
        assert!(
            cache.get("{ a0: __typename }").is_none(),
            "the oldest entries go first"
        );

        let long = format!("{{ __typename {} }}", " ".repeat(DocumentCache::MAX_TEXT));
        cache.put(&long, parse(&long));
        assert!(cache.get(&long).is_none());
    }
}
