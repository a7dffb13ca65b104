//! Paged lists: a limit and an opaque cursor. A cursor names the list and the filters it was made
//! for and the position after the last item returned, so a cursor from another list, or from the
//! same list with other filters, is refused rather than silently misread.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use crate::OpError;

/// How many items a page has unless the caller asks otherwise.
pub const DEFAULT_LIMIT: usize = 50;
/// The most items one page may have.
pub const MAX_LIMIT: usize = 500;
/// A cursor longer than this was not made here.
const MAX_CURSOR_LEN: usize = 2048;

/// One page of a list; `next_cursor` asks for the next one and is absent on the last.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next_cursor: Option<String>,
}

impl<T> Page<T> {
    pub fn last(items: Vec<T>) -> Self {
        Self {
            items,
            next_cursor: None,
        }
    }
}

/// The position a list resumes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// The list it belongs to (`sources`, `dead-letters`, …).
    #[serde(rename = "l")]
    list: String,
    /// The filters of the request that produced it, canonically written.
    #[serde(rename = "f")]
    scope: String,
    /// The list's own position: a key, an instant and an id, …
    #[serde(rename = "a")]
    pub(crate) after: String,
}

impl Cursor {
    pub(crate) fn new(list: &str, scope: &str, after: impl Into<String>) -> Self {
        Self {
            list: list.to_owned(),
            scope: scope.to_owned(),
            after: after.into(),
        }
    }

    pub fn encode(&self) -> String {
        // A struct of three strings always serializes.
        let json = serde_json::to_vec(self).unwrap_or_default();
        URL_SAFE_NO_PAD.encode(json)
    }

    /// Reads a cursor given back by a caller for `list` with filters `scope`.
    pub(crate) fn decode(text: &str, list: &str, scope: &str) -> Result<Self, OpError> {
        let invalid = |why: &str| OpError::invalid("cursor", why.to_owned());
        if text.len() > MAX_CURSOR_LEN {
            return Err(invalid("too long to be a cursor this list returned"));
        }
        let bytes = URL_SAFE_NO_PAD
            .decode(text)
            .map_err(|_| invalid("not a cursor this list returned (pass next_cursor as given)"))?;
        let cursor: Cursor = serde_json::from_slice(&bytes)
            .map_err(|_| invalid("not a cursor this list returned (pass next_cursor as given)"))?;
        if cursor.list != list {
            return Err(invalid(&format!(
                "this cursor belongs to the {} list, not to {list}",
                cursor.list
            )));
        }
        if cursor.scope != scope {
            return Err(invalid(
                "this cursor was returned for other filters: repeat the filters of the first page",
            ));
        }
        Ok(cursor)
    }
}

/// What page of a list to return.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest {
    pub limit: usize,
    /// The cursor as the caller gave it (checked by the list it is passed to).
    pub cursor: Option<String>,
}

impl PageRequest {
    /// The first page of at most `limit` items; 1 to [`MAX_LIMIT`].
    pub fn first(limit: usize) -> Result<Self, OpError> {
        Self::new(limit, None)
    }

    pub fn new(limit: usize, cursor: Option<String>) -> Result<Self, OpError> {
        if !(1..=MAX_LIMIT).contains(&limit) {
            return Err(OpError::invalid(
                "limit",
                format!("must be from 1 to {MAX_LIMIT}, not {limit}"),
            ));
        }
        Ok(Self { limit, cursor })
    }

    /// The page after `page`'s cursor, or `None` after the last.
    pub fn next(&self, next_cursor: Option<String>) -> Option<Self> {
        next_cursor.map(|cursor| Self {
            limit: self.limit,
            cursor: Some(cursor),
        })
    }

    /// The position to resume after, checked against `list` and `scope`.
    pub(crate) fn after(&self, list: &str, scope: &str) -> Result<Option<String>, OpError> {
        self.cursor
            .as_deref()
            .map(|text| Cursor::decode(text, list, scope).map(|c| c.after))
            .transpose()
    }
}

impl Default for PageRequest {
    fn default() -> Self {
        Self {
            limit: DEFAULT_LIMIT,
            cursor: None,
        }
    }
}

/// A page of `sorted` items (ordered by `key`) that come after `after`, with the cursor of the
/// next page when more remain.
pub(crate) fn slice_after<T>(
    sorted: Vec<T>,
    after: Option<&str>,
    limit: usize,
    list: &str,
    scope: &str,
    key: impl Fn(&T) -> String,
) -> Page<T> {
    let mut rest: Vec<T> = match after {
        Some(after) => sorted
            .into_iter()
            .filter(|t| key(t).as_str() > after)
            .collect(),
        None => sorted,
    };
    let next_cursor = (rest.len() > limit).then(|| {
        rest.truncate(limit);
        rest.last()
            .map(|t| Cursor::new(list, scope, key(t)).encode())
            .unwrap_or_default()
    });
    Page {
        items: rest,
        next_cursor,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_round_trips_for_its_own_list_and_filters() {
        let text = Cursor::new("sources", "", "gh").encode();
        assert_eq!(
            Cursor::decode(&text, "sources", "").expect("own").after,
            "gh"
        );
    }

    #[test]
    fn a_cursor_from_another_list_or_other_filters_is_refused() {
        let text = Cursor::new("sources", "", "gh").encode();
        for (list, scope) in [("dead-letters", ""), ("sources", "source=gh")] {
            let err = Cursor::decode(&text, list, scope).expect_err("refused");
            assert!(matches!(err, OpError::Invalid { ref field, .. } if field == "cursor"));
        }
    }

    #[test]
    fn a_tampered_or_foreign_cursor_is_refused_as_invalid() {
        let mut text = Cursor::new("sources", "", "gh").encode();
        text.insert(3, '!');
        for bad in [text.as_str(), "", "eyJ9", "bm90IGpzb24", &"A".repeat(5000)] {
            let err = Cursor::decode(bad, "sources", "").expect_err("refused");
            assert_eq!(err.code(), "invalid", "{bad}");
        }
    }

    #[test]
    fn limits_outside_one_to_the_maximum_are_refused() {
        for bad in [0, MAX_LIMIT + 1, 10_000] {
            assert!(PageRequest::first(bad).is_err(), "{bad}");
        }
        assert!(PageRequest::first(1).is_ok());
        assert!(PageRequest::first(MAX_LIMIT).is_ok());
    }

    #[test]
    fn pages_of_a_sorted_list_cover_it_once_in_order() {
        let all: Vec<u32> = (0..7).collect();
        let key = |n: &u32| format!("{n:04}");
        let mut seen = Vec::new();
        let mut after = None;
        loop {
            let page = slice_after(all.clone(), after.as_deref(), 3, "l", "", key);
            seen.extend(page.items);
            match page.next_cursor {
                Some(c) => after = Some(Cursor::decode(&c, "l", "").expect("ours").after),
                None => break,
            }
        }
        assert_eq!(seen, all);
    }
}
