//! Query strings and form bodies as name/value pairs, and the values the pages take from them
//! (source ids, event types, instants, rates), each refused with the field it came from.

use std::time::SystemTime;

use hookpost_operations::time::parse_instant;
use hookpost_operations::{OpError, PageRequest};
use hookpost_shared::source::SourceId;
use hookpost_shared::subscription::parse_event_filters;

/// The pairs of an `application/x-www-form-urlencoded` text, in order; a name may repeat (a
/// list of checked boxes).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fields(Vec<(String, String)>);

impl Fields {
    pub fn parse(bytes: &[u8]) -> Self {
        Self(
            url::form_urlencoded::parse(bytes)
                .map(|(k, v)| (k.into_owned(), v.into_owned()))
                .collect(),
        )
    }

    pub fn query(query: Option<&str>) -> Self {
        Self::parse(query.unwrap_or_default().as_bytes())
    }

    /// The first value of `name`, trimmed; an empty value is no value.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// Every non-empty value of `name`.
    pub fn all(&self, name: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, v)| k == name && !v.trim().is_empty())
            .map(|(_, v)| v.trim().to_owned())
            .collect()
    }

    pub fn source(&self, field: &str) -> Result<Option<SourceId>, OpError> {
        self.get(field)
            .map(|v| SourceId::parse(v).map_err(|e| OpError::invalid(field, e.to_string())))
            .transpose()
    }

    /// A comma-separated list of event types (`push`, `invoice.*`).
    pub fn event_types(&self, field: &str) -> Result<Option<Vec<String>>, OpError> {
        self.get(field)
            .map(|v| parse_event_filters(v).map_err(|e| OpError::invalid(field, e)))
            .transpose()
    }

    /// An RFC 3339 time or a duration before now (`2h`), as an RFC 3339 instant.
    pub fn instant(&self, field: &str) -> Result<Option<String>, OpError> {
        self.get(field)
            .map(|v| parse_instant(v, SystemTime::now()).map_err(|e| OpError::invalid(field, e)))
            .transpose()
    }

    /// A rate in messages a second, 1 to 500 (as the CLI takes it).
    pub fn rate(&self, field: &str) -> Result<Option<u32>, OpError> {
        self.get(field)
            .map(|v| {
                v.parse::<u32>()
                    .ok()
                    .filter(|r| (1..=500).contains(r))
                    .ok_or_else(|| {
                        OpError::invalid(
                            field,
                            format!("`{v}` is not a whole number from 1 to 500"),
                        )
                    })
            })
            .transpose()
    }

    pub fn checked(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// The page asked for: `limit` rows (1 to 500; `default` when absent) after `cursor`.
    pub fn page(&self, default: usize) -> Result<PageRequest, OpError> {
        let limit = match self.get("limit") {
            None => default,
            Some(v) => v.parse::<usize>().map_err(|_| {
                OpError::invalid("limit", format!("`{v}` is not a whole number of rows"))
            })?,
        };
        PageRequest::new(limit, self.get("cursor").map(str::to_owned))
    }

    /// The link to the page after `cursor` on `path`, keeping the fields named in `keep` and
    /// the page size.
    pub fn next_link(&self, path: &str, keep: &[&str], cursor: &str) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        for name in keep.iter().chain(&["limit"]) {
            if let Some(v) = self.get(name) {
                query.append_pair(name, v);
            }
        }
        query.append_pair("cursor", cursor);
        format!("{path}?{}", query.finish())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_names_are_all_kept_and_empty_values_are_absent() {
        let f = Fields::parse(b"event_id=a&event_id=b&event_id=&source=%20gh%20&type=");
        assert_eq!(f.all("event_id"), vec!["a", "b"]);
        assert_eq!(f.get("source"), Some("gh"));
        assert_eq!(f.get("type"), None);
    }

    #[test]
    fn a_bad_value_is_refused_naming_its_field() {
        let f = Fields::parse(b"source=Not%20An%20Id&since=yesterday-ish&rate=0");
        for (field, result) in [
            ("source", f.source("source").map(|_| ())),
            ("since", f.instant("since").map(|_| ())),
            ("rate", f.rate("rate").map(|_| ())),
        ] {
            let err = result.expect_err(field);
            assert!(matches!(err, OpError::Invalid { field: ref got, .. } if got == field));
        }
        assert_eq!(
            Fields::parse(b"rate=5").rate("rate").expect("valid"),
            Some(5)
        );
    }

    #[test]
    fn a_page_takes_its_size_and_cursor_and_refuses_a_bad_size_by_name() {
        let page = Fields::parse(b"limit=2&cursor=abc")
            .page(50)
            .expect("valid");
        assert_eq!((page.limit, page.cursor.as_deref()), (2, Some("abc")));
        assert_eq!(Fields::parse(b"").page(50).expect("valid").limit, 50);
        for bad in ["limit=0", "limit=501", "limit=two", "limit=-1"] {
            let err = Fields::parse(bad.as_bytes()).page(50).expect_err(bad);
            assert!(
                matches!(err, OpError::Invalid { ref field, .. } if field == "limit"),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_next_link_keeps_the_filters_and_size_and_encodes_them() {
        let f = Fields::parse(b"source=gh&type=a%26b&limit=2&cursor=old&other=x");
        assert_eq!(
            f.next_link("/events", &["source", "type", "since"], "n/xt="),
            "/events?source=gh&type=a%26b&limit=2&cursor=n%2Fxt%3D"
        );
    }
}
