//! Keyset pagination: `first`/`after` and `last`/`before` windows over an ordering that
//! ends in the primary key, with opaque cursors that carry the row's sort key. No OFFSET:
//! page 1000 costs what page 1 does.

use base64::{Engine, engine::general_purpose::URL_SAFE_NO_PAD};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};

use crate::error::AppError;

pub const DEFAULT_PAGE_SIZE: u64 = 20;
pub const MAX_PAGE_SIZE: u64 = 100;

/// Connection arguments as the client sent them.
#[derive(Debug, Clone, Default)]
pub struct PageRequest {
    pub first: Option<i32>,
    pub after: Option<String>,
    pub last: Option<i32>,
    pub before: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Forward,
    Backward,
}

/// A validated request: how many rows, which way, from where.
#[derive(Debug, Clone)]
pub struct Window {
    pub limit: u64,
    pub direction: Direction,
    pub cursor: Option<Cursor>,
}

/// A sort-key value.
#[derive(Debug, Clone, PartialEq)]
pub enum Key {
    Int(i64),
    Text(String),
    Time(DateTime<Utc>),
}

/// Position of a row in one ordering: the ordering's tag, the row's sort key, its id.
#[derive(Debug, Clone, PartialEq)]
pub struct Cursor {
    pub ordering: String,
    pub key: Key,
    pub id: i64,
}

impl Cursor {
    pub fn encode(&self) -> String {
        let key = match &self.key {
            Key::Int(v) => json!({ "i": v }),
            Key::Text(v) => json!({ "s": v }),
            Key::Time(v) => json!({ "t": v.timestamp_micros() }),
        };
        URL_SAFE_NO_PAD.encode(json!([self.ordering, key, self.id]).to_string())
    }

    pub fn decode(raw: &str) -> Option<Self> {
        let bytes = URL_SAFE_NO_PAD.decode(raw.as_bytes()).ok()?;
        let value: Value = serde_json::from_slice(&bytes).ok()?;
        let [ordering, key, id] = value.as_array()?.as_slice() else {
            return None;
        };
        let key = if let Some(v) = key.get("i") {
            Key::Int(v.as_i64()?)
        } else if let Some(v) = key.get("s") {
            Key::Text(v.as_str()?.to_owned())
        } else {
            Key::Time(DateTime::from_timestamp_micros(key.get("t")?.as_i64()?)?)
        };
        Some(Self {
            ordering: ordering.as_str()?.to_owned(),
            key,
            id: id.as_i64()?,
        })
    }
}

fn bad(message: &str) -> AppError {
    AppError::BadUserInput(message.to_owned())
}

impl PageRequest {
    pub fn forward(first: u64) -> Self {
        Self {
            first: i32::try_from(first).ok(),
            ..Self::default()
        }
    }

    /// Checks the arguments against `ordering` (a cursor from another ordering is refused).
    pub fn window(&self, ordering: &str) -> Result<Window, AppError> {
        let size = |n: i32, name: &str| -> Result<u64, AppError> {
            match u64::try_from(n) {
                Ok(n) if (1..=MAX_PAGE_SIZE).contains(&n) => Ok(n),
                _ => Err(bad(&format!(
                    "`{name}` must be between 1 and {MAX_PAGE_SIZE}"
                ))),
            }
        };
        let (limit, direction, raw) = match (self.first, self.last) {
            (Some(_), Some(_)) => return Err(bad("use either `first` or `last`, not both")),
            (_, Some(last)) => {
                if self.after.is_some() {
                    return Err(bad("`after` goes with `first`; use `before` with `last`"));
                }
                (
                    size(last, "last")?,
                    Direction::Backward,
                    self.before.as_deref(),
                )
            }
            (first, None) => {
                if self.before.is_some() {
                    return Err(bad("`before` goes with `last`; use `after` with `first`"));
                }
                let limit = first.map_or(Ok(DEFAULT_PAGE_SIZE), |n| size(n, "first"))?;
                (limit, Direction::Forward, self.after.as_deref())
            }
        };
        let cursor = match raw {
            Some(raw) => {
                let cursor = Cursor::decode(raw).ok_or_else(|| bad("the cursor is malformed"))?;
                if cursor.ordering != ordering {
                    return Err(bad(
                        "the cursor belongs to another ordering; start again without it",
                    ));
                }
                Some(cursor)
            }
            None => None,
        };
        Ok(Window {
            limit,
            direction,
            cursor,
        })
    }
}

/// One page of a connection, in display order.
#[derive(Debug)]
pub struct Page<T> {
    pub items: Vec<(Cursor, T)>,
    pub has_next_page: bool,
    pub has_previous_page: bool,
}

impl<T> Page<T> {
    /// Builds the page from rows fetched in query order (`limit + 1` of them at most).
    pub fn from_rows(window: &Window, mut rows: Vec<(Cursor, T)>) -> Self {
        let limit = usize::try_from(window.limit).unwrap_or(usize::MAX);
        let more = rows.len() > limit;
        rows.truncate(limit);
        let from_cursor = window.cursor.is_some();
        match window.direction {
            Direction::Forward => Self {
                items: rows,
                has_next_page: more,
                has_previous_page: from_cursor,
            },
            Direction::Backward => {
                rows.reverse();
                Self {
                    items: rows,
                    has_next_page: from_cursor,
                    has_previous_page: more,
                }
            }
        }
    }
}

/// One keyset page of `select` ordered by a time column and the id (oldest first, or
/// newest first): the ordering of every queue and history list.
#[allow(clippy::too_many_arguments)]
pub async fn by_time<E>(
    conn: &impl sea_orm::ConnectionTrait,
    select: sea_orm::Select<E>,
    time: E::Column,
    id: E::Column,
    tag: &str,
    oldest_first: bool,
    page: &PageRequest,
    key: impl Fn(&E::Model) -> (DateTime<Utc>, i64),
) -> Result<Page<E::Model>, AppError>
where
    E: sea_orm::EntityTrait,
{
    use sea_orm::{
        Order, QueryFilter, QueryOrder, QuerySelect,
        sea_query::{Expr, ExprTrait},
    };
    let window = page.window(tag)?;
    let descending = oldest_first != (window.direction == Direction::Forward);
    let mut select = select;
    if let Some(cursor) = &window.cursor {
        let Key::Time(at) = cursor.key else {
            return Err(bad("the cursor is malformed"));
        };
        let row = Expr::tuple([Expr::col(time), Expr::col(id)]);
        let at = Expr::tuple([Expr::val(at), Expr::val(cursor.id)]);
        select = select.filter(if descending { row.lt(at) } else { row.gt(at) });
    }
    let direction = if descending { Order::Desc } else { Order::Asc };
    let rows = select
        .order_by(time, direction.clone())
        .order_by(id, direction)
        .limit(window.limit + 1)
        .all(conn)
        .await?;
    let rows = rows
        .into_iter()
        .map(|row| {
            let (time, id) = key(&row);
            (
                Cursor {
                    ordering: tag.to_owned(),
                    key: Key::Time(time),
                    id,
                },
                row,
            )
        })
        .collect();
    Ok(Page::from_rows(&window, rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_for_every_key_type() {
        let now = DateTime::from_timestamp_micros(1_795_000_000_123_456).unwrap();
        for key in [Key::Int(-5), Key::Text("a \"b\" ü".into()), Key::Time(now)] {
            let cursor = Cursor {
                ordering: "NAME".into(),
                key,
                id: 42,
            };
            assert_eq!(Cursor::decode(&cursor.encode()), Some(cursor));
        }
        assert_eq!(Cursor::decode("not a cursor"), None);
        assert_eq!(Cursor::decode(&URL_SAFE_NO_PAD.encode("[1,2]")), None);
    }

    #[test]
    fn page_sizes_are_bounded_and_cursors_must_match_the_ordering() {
        let request = |first, last| PageRequest {
            first,
            last,
            ..PageRequest::default()
        };
        assert_eq!(
            request(None, None).window("X").unwrap().limit,
            DEFAULT_PAGE_SIZE
        );
        for bad in [
            request(Some(0), None),
            request(Some(101), None),
            request(Some(1000), None),
            request(Some(-1), None),
            request(None, Some(0)),
            request(Some(1), Some(1)),
        ] {
            assert!(bad.window("X").is_err(), "{bad:?}");
        }
        let cursor = Cursor {
            ordering: "NEWEST".into(),
            key: Key::Int(1),
            id: 1,
        }
        .encode();
        let other = PageRequest {
            after: Some(cursor),
            ..PageRequest::default()
        };
        assert!(other.window("NAME").is_err());
        assert!(other.window("NEWEST").is_ok());
    }
}
