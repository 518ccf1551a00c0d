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

/// Converts a list of GraphQL enum values into their service (or storage) types.
pub fn list<T: Copy, U: From<T>>(values: Vec<T>) -> Vec<U> {
    values.into_iter().map(U::from).collect()
}
