//! Helpers shared by input conversions.

use async_graphql::MaybeUndefined;

/// For updates: a field left out keeps its value (`None`), `null` clears it
/// (`Some(None)`), a value sets it (`Some(Some(v))`).
pub fn patch<T>(value: MaybeUndefined<T>) -> Option<Option<T>> {
    match value {
        MaybeUndefined::Undefined => None,
        MaybeUndefined::Null => Some(None),
        MaybeUndefined::Value(v) => Some(Some(v)),
    }
}
