//! Automatic persisted queries, as Apollo Client's persisted-query link speaks them: a
//! request may carry `extensions.persistedQuery = { version: 1, sha256Hash }`. With the
//! hash alone, the registered document runs (or the answer is `PERSISTED_QUERY_NOT_FOUND`,
//! message `PersistedQueryNotFound`, and the client sends it again with the query); with
//! the query too, the hash must be the query's SHA-256 (else
//! `PERSISTED_QUERY_HASH_MISMATCH`) and the pair is registered. Registrations live in the
//! database, so every replica knows them, with the recent ones in memory; both are
//! bounded. A hash-only GET is an ordinary GET: queries only, cacheable.

use std::{collections::HashMap, sync::Mutex};

use async_graphql::Value;
use chrono::Utc;
use entity::persisted_query;
use sea_orm::{DatabaseConnection, EntityTrait, PaginatorTrait, Set};
use sha2::{Digest, Sha256};

use crate::error::ErrorCode;

/// Documents kept in memory (the table holds the rest).
const MEMORY_ENTRIES: usize = 1024;
/// Documents the table registers at most; past it, queries still run but are not kept.
pub const MAX_REGISTERED: u64 = 10_000;

/// Why a request's persisted query cannot run.
pub struct Refusal {
    pub code: ErrorCode,
    pub message: &'static str,
}

#[derive(Default)]
pub struct PersistedQueries(Mutex<HashMap<String, String>>);

impl PersistedQueries {
    /// Fills in the query of a hash-only request, or registers a query sent with its
    /// hash. Requests without the extension pass untouched.
    pub async fn resolve(
        &self,
        db: &DatabaseConnection,
        request: &mut async_graphql::Request,
    ) -> Result<(), Refusal> {
        let Some(hash) = requested_hash(request)? else {
            return Ok(());
        };
        if request.query.is_empty() {
            let document = match self.remembered(&hash) {
                Some(document) => Some(document),
                None => self.load(db, &hash).await,
            };
            let Some(document) = document else {
                return Err(Refusal {
                    code: ErrorCode::PersistedQueryNotFound,
                    message: "PersistedQueryNotFound",
                });
            };
            request.query = document;
            return Ok(());
        }
        if hex(&Sha256::digest(request.query.as_bytes())) != hash {
            return Err(Refusal {
                code: ErrorCode::PersistedQueryHashMismatch,
                message: "the query's SHA-256 is not the persisted-query hash sent with it",
            });
        }
        if self.remembered(&hash).is_none() {
            self.register(db, &hash, &request.query).await;
        }
        Ok(())
    }

    fn remembered(&self, hash: &str) -> Option<String> {
        self.0.lock().ok()?.get(hash).cloned()
    }

    fn remember(&self, hash: &str, document: &str) {
        if let Ok(mut memory) = self.0.lock() {
            if memory.len() >= MEMORY_ENTRIES {
                memory.clear();
            }
            memory.insert(hash.to_owned(), document.to_owned());
        }
    }

    async fn load(&self, db: &DatabaseConnection, hash: &str) -> Option<String> {
        match persisted_query::Entity::find_by_id(hash.to_owned())
            .one(db)
            .await
        {
            Ok(found) => {
                let document = found?.document;
                self.remember(hash, &document);
                Some(document)
            }
            Err(e) => {
                // Answered as not found: the client sends the query again.
                tracing::warn!(error = %e, "could not read a persisted query");
                None
            }
        }
    }

    async fn register(&self, db: &DatabaseConnection, hash: &str, document: &str) {
        self.remember(hash, document);
        let full = match persisted_query::Entity::find().count(db).await {
            Ok(count) => count >= MAX_REGISTERED,
            Err(e) => {
                tracing::warn!(error = %e, "could not count persisted queries");
                return;
            }
        };
        if full {
            return;
        }
        let row = persisted_query::ActiveModel {
            hash: Set(hash.to_owned()),
            document: Set(document.to_owned()),
            created_at: Set(Utc::now()),
        };
        let insert = persisted_query::Entity::insert_many([row])
            .on_conflict_do_nothing_on([persisted_query::Column::Hash])
            .exec(db)
            .await;
        if let Err(e) = insert {
            // The query runs anyway; the next hash-only request asks for it again.
            tracing::warn!(error = %e, "could not register a persisted query");
        }
    }
}

/// The hash of `extensions.persistedQuery`, if the request has one (version 1, 64 hex).
fn requested_hash(request: &async_graphql::Request) -> Result<Option<String>, Refusal> {
    let Some(extension) = request.extensions.get("persistedQuery") else {
        return Ok(None);
    };
    let bad = Refusal {
        code: ErrorCode::BadRequest,
        message: "`extensions.persistedQuery` must be { version: 1, sha256Hash: <64 hex digits> }",
    };
    let Value::Object(fields) = extension else {
        return Err(bad);
    };
    let version_one =
        matches!(fields.get("version"), Some(Value::Number(n)) if n.as_u64() == Some(1));
    let hash = match fields.get("sha256Hash") {
        Some(Value::String(hash))
            if hash.len() == 64 && hash.bytes().all(|b| b.is_ascii_hexdigit()) =>
        {
            hash.to_ascii_lowercase()
        }
        _ => return Err(bad),
    };
    if !version_one {
        return Err(bad);
    }
    Ok(Some(hash))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
