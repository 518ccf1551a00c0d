//! Relay connections over the service layer's keyset pages.

use async_graphql::{
    OutputType,
    connection::{Connection, Edge, EmptyFields},
};

use crate::service::pagination::{DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE, Page, PageRequest};

/// Cost of a connection field for the complexity limit: its children times the page size
/// asked for (default 20), clamped to the page cap so that an oversized `first` reaches
/// the resolver and gets its `BAD_USER_INPUT` answer.
pub fn page_cost(first: Option<i32>, last: Option<i32>, child_complexity: usize) -> usize {
    let size = first.or(last).map_or(DEFAULT_PAGE_SIZE, |n| {
        u64::try_from(n).unwrap_or(0).min(MAX_PAGE_SIZE)
    });
    usize::try_from(size)
        .unwrap_or(usize::MAX)
        .saturating_mul(child_complexity)
        .saturating_add(1)
}

/// The four Relay arguments, as the service layer takes them.
pub fn page_request(
    first: Option<i32>,
    after: Option<String>,
    last: Option<i32>,
    before: Option<String>,
) -> PageRequest {
    PageRequest {
        first,
        after,
        last,
        before,
    }
}

/// Turns a page into a connection, converting each item with `node`.
pub fn connection<T, N, F>(
    page: Page<T>,
    fields: F,
    node: impl Fn(T) -> N,
) -> Connection<String, N, F, EmptyFields>
where
    N: OutputType,
    F: async_graphql::ObjectType,
{
    let mut connection =
        Connection::with_additional_fields(page.has_previous_page, page.has_next_page, fields);
    connection.edges.extend(
        page.items
            .into_iter()
            .map(|(cursor, item)| Edge::new(cursor.encode(), node(item))),
    );
    connection
}
