//! Global IDs, keyset cursors and search cursors: decoding never panics (the search
//! cursor `search:18446744073709551615` used to overflow), and what decodes encodes back
//! to the same value.
#![no_main]

use api::{
    graphql::relay,
    service::{pagination::Cursor, search::offset_after},
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    let id = async_graphql::ID(text.to_owned());
    if let Ok((kind, value)) = relay::decode(&id) {
        assert!(value > 0);
        assert_eq!(relay::decode(&relay::encode(kind, value)).ok(), Some((kind, value)));
    }
    if let Some(cursor) = Cursor::decode(text) {
        assert_eq!(Cursor::decode(&cursor.encode()), Some(cursor));
    }
    if let Some(offset) = offset_after(text) {
        assert!(offset >= 1 && offset <= api::service::search::MAX_SEARCH_POSITION);
    }
});
