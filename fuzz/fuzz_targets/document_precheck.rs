//! The pre-check of GraphQL documents (size, tokens, nesting, fragment expansion) never
//! panics, and whatever it lets through is safe for async-graphql's recursive parser:
//! no stack overflow, whatever the text.
#![no_main]

use api::graphql::precheck::{DocumentLimits, check};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if check(text, &DocumentLimits::default()).is_ok() {
        let _ = async_graphql::parser::parse_query(text);
    }
});
