//! A request as the handlers read it: its query parameters, decoded once, and its body, read as
//! JSON only when it says it is JSON, within the size limit, with unknown fields refused by the
//! target type (`#[serde(deny_unknown_fields)]`).

use std::collections::BTreeMap;

use hookpost_operations::PageRequest;
use hookpost_operations::page::DEFAULT_LIMIT;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};

use crate::error::ApiError;

/// A body that must be empty or `{}`.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Empty {}

/// `?limit=&cursor=`, as [`Request::page`] reads them (the OpenAPI document's description of it).
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// At most this many items (1 to 500; 50 when absent).
    #[param(minimum = 1, maximum = 500, default = 50)]
    pub limit: Option<usize>,
    /// The `next_cursor` of the previous page, as given; only valid with the same filters.
    pub cursor: Option<String>,
}

/// `?finish=true`, as [`Request::flag`] reads it.
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FinishQuery {
    /// Retire every secret but the newest instead of adding one (`true` or `false`).
    #[param(default = false)]
    pub finish: Option<bool>,
}

/// A request's query and body.
#[derive(Debug, Clone, Default)]
pub struct Request {
    /// The receiver's base URL on the API the request came through, when known.
    pub webhook_base: Option<String>,
    query: Vec<(String, String)>,
    /// By lower-case name.
    headers: BTreeMap<String, String>,
    content_type: Option<String>,
    body: Vec<u8>,
}

impl Request {
    pub fn new(raw_query: &str, content_type: Option<&str>, body: Vec<u8>) -> Self {
        Self {
            webhook_base: None,
            query: url::form_urlencoded::parse(raw_query.as_bytes())
                .into_owned()
                .collect(),
            headers: BTreeMap::new(),
            content_type: content_type.map(str::to_owned),
            body,
        }
    }

    /// The request's headers, by lower-case name (as API Gateway hands them over).
    pub fn with_headers(self, headers: BTreeMap<String, String>) -> Self {
        Self { headers, ..self }
    }

    /// A header's value, by lower-case name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).map(String::as_str)
    }

    pub fn content_type(&self) -> Option<&str> {
        self.content_type.as_deref()
    }

    /// The body as sent, for the routes that take any payload.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// The value of a query parameter; a parameter given twice is refused rather than guessed.
    pub fn param(&self, name: &str) -> Result<Option<&str>, ApiError> {
        let mut values = self.query.iter().filter(|(k, _)| k == name);
        let first = values.next().map(|(_, v)| v.as_str());
        if values.next().is_some() {
            return Err(ApiError::invalid(name, "given more than once"));
        }
        Ok(first)
    }

    /// A `true`/`false` query parameter, absent meaning false.
    pub fn flag(&self, name: &str) -> Result<bool, ApiError> {
        match self.param(name)? {
            None | Some("false") => Ok(false),
            Some("true") => Ok(true),
            Some(other) => Err(ApiError::invalid(
                name,
                format!("must be true or false, not `{other}`"),
            )),
        }
    }

    /// `?limit=` (default 50, 1 to 500) and `?cursor=`, as the core checks them.
    pub fn page(&self) -> Result<PageRequest, ApiError> {
        let limit = match self.param("limit")? {
            None => DEFAULT_LIMIT,
            Some(text) => text.parse().map_err(|_| {
                ApiError::invalid("limit", format!("must be a whole number, not `{text}`"))
            })?,
        };
        Ok(PageRequest::new(
            limit,
            self.param("cursor")?.map(str::to_owned),
        )?)
    }

    /// The body as `T`: JSON is required, an empty body reads as `{}`.
    pub fn json<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return parse(b"{}");
        }
        if !self.content_type.as_deref().is_some_and(is_json) {
            return Err(ApiError::UnsupportedMediaType);
        }
        parse(&self.body)
    }
}

/// A field that is present, even as `null`: `Some(None)` clears, absent leaves as is.
pub(crate) fn present<'de, D, T>(d: D) -> Result<Option<Option<T>>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Option::<T>::deserialize(d).map(Some)
}

fn parse<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        use serde_json::error::Category;
        match e.classify() {
            // The JSON parsed but does not fit the request: a missing, unknown or mistyped field.
            Category::Data => ApiError::invalid("body", e.to_string()),
            Category::Syntax | Category::Eof | Category::Io => ApiError::InvalidJson(e.to_string()),
        }
    })
}

/// `application/json`, with or without parameters (`; charset=utf-8`).
fn is_json(content_type: &str) -> bool {
    content_type
        .split(';')
        .next()
        .is_some_and(|media| media.trim().eq_ignore_ascii_case("application/json"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Named {
        name: Option<String>,
    }

    #[test]
    fn a_body_that_is_not_json_is_refused_naming_the_position() {
        let request = Request::new("", Some("application/json"), b"{\"name\": ".to_vec());
        let err = request.json::<Named>().expect_err("refused");
        assert_eq!(err.code(), "invalid_json");
        assert!(err.to_string().contains("column"), "{err}");
    }

    #[test]
    fn a_body_of_another_type_is_unsupported() {
        let request = Request::new("", Some("text/plain"), b"{}".to_vec());
        assert_eq!(request.json::<Named>().expect_err("refused").status(), 415);
        let charset = Request::new("", Some("application/json; charset=utf-8"), b"{}".to_vec());
        assert!(charset.json::<Named>().is_ok());
    }

    #[test]
    fn an_unknown_field_is_refused() {
        let request = Request::new("", Some("application/json"), b"{\"nmae\": \"x\"}".to_vec());
        let err = request.json::<Named>().expect_err("refused");
        assert_eq!((err.status().as_u16(), err.code()), (400, "invalid"));
        assert!(err.to_string().contains("nmae"), "{err}");
    }

    #[test]
    fn limits_default_to_fifty_and_are_checked() {
        assert_eq!(
            Request::new("", None, vec![]).page().expect("page").limit,
            50
        );
        for bad in [
            "limit=0",
            "limit=10000",
            "limit=-1",
            "limit=ten",
            "limit=1&limit=2",
        ] {
            let err = Request::new(bad, None, vec![]).page().expect_err(bad);
            assert_eq!(err.status(), 400, "{bad}");
        }
        let page = Request::new("limit=2&cursor=abc%3D", None, vec![])
            .page()
            .expect("page");
        assert_eq!((page.limit, page.cursor.as_deref()), (2, Some("abc=")));
    }
}
