//! Anonymous query answers kept in memory, so that a hot read — the marketplace's first
//! page, a popular search — is answered without executing it again. Executing a listing
//! page through async-graphql costs ~1 ms of CPU however fast the database is; a cached
//! answer costs the HTTP exchange.
//!
//! What is kept: the body of a query answered without errors to a request that carries
//! no credentials (no `Authorization`, no `X-API-Key`), under the exact request (the POST
//! body's bytes, or the GET query string). Everything else runs as always: a logged-in
//! caller or an API key (their answers depend on who asks), a mutation, an answer with
//! errors, a request sending `Cache-Control: no-cache`.
//!
//! An entry is served while the data generation it was computed in is still current
//! ([`Changes`](crate::service::changes::Changes): this process moves it after every
//! mutation, search-index update and background job; other replicas move it through
//! PostgreSQL `NOTIFY`), and for at most the time-to-live, a safety net for a lost
//! notification. The generation is read *before* executing, so an answer computed while
//! a change committed is already stale when it is stored.
//!
//! Bounded three ways: entries, total bytes, and the size of one answer.

use std::{num::NonZeroUsize, sync::Mutex, time::Instant};

use actix_web::web::Bytes;
use lru::LruCache;

use crate::config::ResponseCacheConfig;

/// An answer larger than this is never kept (a 100-program page is ~60 KiB).
const MAX_ENTRY_BYTES: usize = 512 * 1024;

/// A request key longer than this is not kept (bodies up to the document cache's text
/// bound plus variables).
const MAX_KEY_BYTES: usize = 16 * 1024;

struct Entry {
    generation: u64,
    stored: Instant,
    answer: Answer,
}

/// A kept answer: the body without `extensions`, and the cost-budget points the query
/// was charged (charged again on every hit, so caching changes no one's budget).
#[derive(Clone)]
pub struct Answer {
    pub body: Bytes,
    pub points: Option<u64>,
}

struct Entries {
    lru: LruCache<Box<[u8]>, Entry>,
    bytes: usize,
}

pub struct ResponseCache {
    entries: Mutex<Entries>,
    config: ResponseCacheConfig,
}

impl ResponseCache {
    /// `None` when the configuration turns it off.
    pub fn new(config: ResponseCacheConfig) -> Option<Self> {
        let capacity = NonZeroUsize::new(config.entries)?;
        (config.max_bytes > 0 && !config.ttl.is_zero()).then(|| Self {
            entries: Mutex::new(Entries {
                lru: LruCache::new(capacity),
                bytes: 0,
            }),
            config,
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.entries
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The answer kept for `key`, if it was computed in `generation` and is younger than
    /// the time-to-live.
    pub fn get(&self, key: &[u8], generation: u64) -> Option<Answer> {
        let mut entries = self.lock();
        let entry = entries.lru.get(key)?;
        if entry.generation == generation && entry.stored.elapsed() < self.config.ttl {
            return Some(entry.answer.clone());
        }
        let stale = entries.lru.pop(key);
        entries.bytes -= stale.map_or(0, |e| weight(key, &e.answer));
        None
    }

    /// Keeps `answer`, computed in `generation`, for `key`; evicts the least recently
    /// used entries beyond the byte bound.
    pub fn put(&self, key: &[u8], generation: u64, answer: Answer) {
        if answer.body.len() > MAX_ENTRY_BYTES || key.len() > MAX_KEY_BYTES {
            return;
        }
        let added = weight(key, &answer);
        let mut entries = self.lock();
        let entry = Entry {
            generation,
            stored: Instant::now(),
            answer,
        };
        if let Some((old_key, old)) = entries.lru.push(key.into(), entry) {
            // The entry replaced (same key) or evicted (capacity).
            entries.bytes -= weight(&old_key, &old.answer);
        }
        entries.bytes += added;
        while entries.bytes > self.config.max_bytes {
            let Some((old_key, old)) = entries.lru.pop_lru() else {
                break;
            };
            entries.bytes -= weight(&old_key, &old.answer);
        }
    }

    #[cfg(test)]
    fn bytes(&self) -> usize {
        self.lock().bytes
    }
}

fn weight(key: &[u8], answer: &Answer) -> usize {
    key.len() + answer.body.len()
}

/// `body` (a JSON object) with `"extensions": extensions` added as its last member.
pub fn with_extensions(body: &[u8], extensions: &[u8]) -> Vec<u8> {
    let Some(open) = body.strip_suffix(b"}") else {
        return body.to_vec();
    };
    let mut out = Vec::with_capacity(body.len() + extensions.len() + 16);
    out.extend_from_slice(open);
    if open != b"{" {
        out.push(b',');
    }
    out.extend_from_slice(b"\"extensions\":");
    out.extend_from_slice(extensions);
    out.push(b'}');
    out
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    fn cache(entries: usize, max_bytes: usize, ttl: Duration) -> ResponseCache {
        ResponseCache::new(ResponseCacheConfig {
            entries,
            max_bytes,
            ttl,
        })
        .unwrap()
    }

    fn answer(body: &'static str) -> Answer {
        Answer {
            body: Bytes::from_static(body.as_bytes()),
            points: None,
        }
    }

    #[test]
    fn an_answer_is_served_only_in_the_generation_it_was_computed_in() {
        let c = cache(8, 1 << 20, Duration::from_secs(60));
        c.put(b"q", 3, answer("{\"data\":1}"));
        assert_eq!(&c.get(b"q", 3).unwrap().body[..], b"{\"data\":1}");
        assert!(c.get(b"other", 3).is_none());
        assert!(c.get(b"q", 4).is_none());
        // The stale entry is gone, with its bytes.
        assert!(c.get(b"q", 3).is_none());
        assert_eq!(c.bytes(), 0);
    }

    #[test]
    fn an_answer_expires_after_its_time_to_live() {
        let c = cache(8, 1 << 20, Duration::from_millis(30));
        c.put(b"q", 0, answer("{}"));
        assert!(c.get(b"q", 0).is_some());
        std::thread::sleep(Duration::from_millis(40));
        assert!(c.get(b"q", 0).is_none());
    }

    #[test]
    fn the_byte_bound_evicts_the_least_recently_used() {
        // Each entry weighs 1 (key) + 9 (body) = 10 bytes.
        let c = cache(100, 25, Duration::from_secs(60));
        c.put(b"a", 0, answer("{\"d\":111}"));
        c.put(b"b", 0, answer("{\"d\":222}"));
        assert!(c.get(b"a", 0).is_some());
        c.put(b"c", 0, answer("{\"d\":333}"));
        assert!(c.get(b"b", 0).is_none(), "b was the least recently used");
        assert!(c.get(b"a", 0).is_some() && c.get(b"c", 0).is_some());
        assert_eq!(c.bytes(), 20);
        // Replacing a key does not count it twice.
        c.put(b"a", 1, answer("{\"d\":444}"));
        assert_eq!(c.bytes(), 20);
    }

    #[test]
    fn oversized_answers_and_keys_are_not_kept() {
        let c = cache(8, 4 << 20, Duration::from_secs(60));
        let big = Answer {
            body: Bytes::from(vec![b' '; MAX_ENTRY_BYTES + 1]),
            points: None,
        };
        c.put(b"q", 0, big);
        c.put(&vec![b'k'; MAX_KEY_BYTES + 1], 0, answer("{}"));
        assert_eq!(c.bytes(), 0);
    }

    #[test]
    fn zero_entries_or_a_zero_time_to_live_turn_it_off() {
        let off = |entries, ttl| {
            ResponseCache::new(ResponseCacheConfig {
                entries,
                max_bytes: 1024,
                ttl,
            })
            .is_none()
        };
        assert!(off(0, Duration::from_secs(5)));
        assert!(off(10, Duration::ZERO));
    }

    #[test]
    fn extensions_are_added_as_the_last_member() {
        assert_eq!(
            with_extensions(b"{\"data\":{\"a\":1}}", b"{\"cost\":2}"),
            b"{\"data\":{\"a\":1},\"extensions\":{\"cost\":2}}"
        );
        assert_eq!(
            with_extensions(b"{}", b"{}"),
            b"{\"extensions\":{}}".to_vec()
        );
    }
}
