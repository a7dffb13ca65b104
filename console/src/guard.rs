//! The console's security model, applied to every request before any route sees it (Jupyter's
//! model for a local admin page):
//!
//! 1. `Host` must be `127.0.0.1:PORT` or `localhost:PORT`, else 421: a page on another origin
//!    that rebinds its DNS name to 127.0.0.1 still sends its own name.
//! 2. A `GET` with `?token=` exchanges the launch token for an `HttpOnly`, `SameSite=Strict`
//!    session cookie and redirects to the same URL without it; without the cookie, 401.
//! 3. A `POST` (every state change is one) must carry the launch's CSRF token in its `csrf`
//!    field, a same-origin `Origin` when it has one, and no cross-site `Sec-Fetch-Site`; else 403.
//!    Under `Referrer-Policy: no-referrer` a browser's form post says `Origin: null` (Fetch,
//!    "append a request `Origin` header"), so `null` passes only with `Sec-Fetch-Site:
//!    same-origin`, a header no page can set. A `GET` on a mutating route is the router's 405.
//!
//! Every answer, refusals included, carries the headers of [`security_headers`]. The checks are
//! pure functions with their own tests; [`guard`] only wires them.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, StatusCode};

use crate::form::Fields;
use crate::launch::LaunchSecrets;
use crate::pages::layout;

/// The query parameter that carries the launch token.
pub const TOKEN_PARAM: &str = "token";
/// The form field that carries the CSRF token.
pub const CSRF_FIELD: &str = "csrf";
/// A form larger than this is not one of ours (the largest is a list of selected event ids).
const MAX_FORM_BYTES: usize = 256 * 1024;

/// The policy: nothing from another origin, no inline script or style, no framing.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Why a request was refused, each with its status and the line shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// `Host` is not this console's.
    MisdirectedHost,
    /// No session cookie, or a wrong launch token.
    Unauthenticated,
    /// A state change without the CSRF token.
    MissingCsrf,
    /// A state change from another origin.
    CrossOrigin,
    /// A form too large or not a form.
    BadForm,
}

impl Refusal {
    pub fn status(self) -> StatusCode {
        match self {
            Refusal::MisdirectedHost => StatusCode::MISDIRECTED_REQUEST,
            Refusal::Unauthenticated => StatusCode::UNAUTHORIZED,
            Refusal::MissingCsrf | Refusal::CrossOrigin => StatusCode::FORBIDDEN,
            Refusal::BadForm => StatusCode::BAD_REQUEST,
        }
    }

    pub fn message(self) -> &'static str {
        match self {
            Refusal::MisdirectedHost => {
                "This console answers only at 127.0.0.1 or localhost on its own port."
            }
            Refusal::Unauthenticated => {
                "Open the URL that `hookpost console` printed (it carries this launch's token)."
            }
            Refusal::MissingCsrf => {
                "This form is not from this console's launch: reload the page and try again."
            }
            Refusal::CrossOrigin => "A change can only be asked for from the console's own pages.",
            Refusal::BadForm => "The form could not be read.",
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let page = layout::refusal(self.status(), self.message());
        (self.status(), page).into_response()
    }
}

/// What the guard needs to know about this launch.
#[derive(Debug)]
pub struct GuardConfig {
    pub port: u16,
    pub secrets: LaunchSecrets,
}

impl GuardConfig {
    /// The session cookie's name: the port is in it because cookies ignore ports, and two
    /// consoles on one machine must not overwrite each other's.
    pub fn cookie_name(&self) -> String {
        format!("hookpost_console_{}", self.port)
    }
}

/// Whether `host` (the `Host` header) names this console: `127.0.0.1:PORT` or `localhost:PORT`.
pub fn host_allowed(host: Option<&str>, port: u16) -> bool {
    let Some(host) = host else { return false };
    let Some((name, given_port)) = host.rsplit_once(':') else {
        return false;
    };
    (name == "127.0.0.1" || name.eq_ignore_ascii_case("localhost"))
        && given_port == port.to_string()
}

/// Whether a state change's `Origin` and `Sec-Fetch-Site` say it comes from this console's own
/// pages. `Origin` may be absent (older clients), but when present it must be the origin of
/// `host`. `null` is what a browser sends for its form posts under this console's
/// `Referrer-Policy: no-referrer`, and also what a sandboxed frame anywhere sends; so it passes
/// only when the browser itself vouches with `Sec-Fetch-Site: same-origin`.
pub fn origin_allowed(origin: Option<&str>, fetch_site: Option<&str>, host: &str) -> bool {
    let same_origin = origin.is_none_or(|o| match o {
        "null" => fetch_site == Some("same-origin"),
        _ => o
            .strip_prefix("http://")
            .is_some_and(|authority| authority.eq_ignore_ascii_case(host)),
    });
    // `same-site` includes other ports of localhost: another local server is not us.
    let site_ok = fetch_site.is_none_or(|s| matches!(s, "same-origin" | "none"));
    same_origin && site_ok
}

/// The session cookie's value among the `Cookie` headers, if it is there.
fn cookie_values<'a>(headers: &'a HeaderMap, name: &'a str) -> impl Iterator<Item = &'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(move |pair| {
            let (k, v) = pair.trim().split_once('=')?;
            (k == name).then_some(v)
        })
}

/// Whether the request carries this launch's session cookie.
pub fn has_session(headers: &HeaderMap, config: &GuardConfig) -> bool {
    let name = config.cookie_name();
    // Every candidate is compared, so the time taken does not say which one matched.
    cookie_values(headers, &name).fold(false, |found, value| {
        config.secrets.session.matches(value) | found
    })
}

/// The request's path and query without the token, for the redirect after the exchange.
pub fn without_token(path: &str, query: Option<&str>) -> String {
    let rest: Vec<(String, String)> =
        url::form_urlencoded::parse(query.unwrap_or_default().as_bytes())
            .filter(|(k, _)| k != TOKEN_PARAM)
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
    if rest.is_empty() {
        return path.to_owned();
    }
    let query = url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(rest)
        .finish();
    format!("{path}?{query}")
}

fn header_str(headers: &HeaderMap, name: HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// The middleware: every check above, in order, before the router.
pub async fn guard(
    State(config): State<Arc<GuardConfig>>,
    request: Request,
    next: Next,
) -> Response {
    let headers = request.headers();
    let Some(host) = header_str(headers, header::HOST)
        .filter(|h| host_allowed(Some(h), config.port))
        .map(str::to_owned)
    else {
        return Refusal::MisdirectedHost.into_response();
    };

    let token = request.uri().query().and_then(|q| {
        url::form_urlencoded::parse(q.as_bytes())
            .find(|(k, _)| k == TOKEN_PARAM)
            .map(|(_, v)| v.into_owned())
    });
    if let Some(token) = token
        && request.method() == Method::GET
    {
        if !config.secrets.url_token.matches(&token) {
            return Refusal::Unauthenticated.into_response();
        }
        return exchange(&config, request.uri().path(), request.uri().query());
    }

    if !has_session(headers, &config) {
        return Refusal::Unauthenticated.into_response();
    }

    if request.method() != Method::POST {
        return next.run(request).await;
    }
    if !origin_allowed(
        header_str(headers, header::ORIGIN),
        header_str(headers, HeaderName::from_static("sec-fetch-site")),
        &host,
    ) {
        return Refusal::CrossOrigin.into_response();
    }
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, MAX_FORM_BYTES).await else {
        return Refusal::BadForm.into_response();
    };
    let fields = Fields::parse(&bytes);
    let csrf_ok = fields
        .get(CSRF_FIELD)
        .is_some_and(|t| config.secrets.csrf.matches(t));
    if !csrf_ok {
        return Refusal::MissingCsrf.into_response();
    }
    next.run(Request::from_parts(parts, Body::from(bytes)))
        .await
}

/// The launch token exchanged for the session cookie, then the same page without the token (so
/// it leaves the address bar and the history).
fn exchange(config: &GuardConfig, path: &str, query: Option<&str>) -> Response {
    let cookie = format!(
        "{}={}; HttpOnly; SameSite=Strict; Path=/",
        config.cookie_name(),
        config.secrets.session.expose()
    );
    let location = without_token(path, query);
    let mut response = StatusCode::SEE_OTHER.into_response();
    let headers = response.headers_mut();
    if let (Ok(cookie), Ok(location)) = (
        HeaderValue::from_str(&cookie),
        HeaderValue::from_str(&location),
    ) {
        headers.insert(header::SET_COOKIE, cookie);
        headers.insert(header::LOCATION, location);
    }
    response
}

/// The headers every answer carries, refusals and assets included.
pub async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    for (name, value) in [
        (header::CONTENT_SECURITY_POLICY, CONTENT_SECURITY_POLICY),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::CACHE_CONTROL, "no-store"),
    ] {
        headers.insert(name, HeaderValue::from_static(value));
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config() -> GuardConfig {
        GuardConfig {
            port: 4321,
            secrets: LaunchSecrets::generate().expect("randomness"),
        }
    }

    #[test]
    fn only_loopback_names_on_the_consoles_own_port_are_this_host() {
        for ok in ["127.0.0.1:4321", "localhost:4321", "LOCALHOST:4321"] {
            assert!(host_allowed(Some(ok), 4321), "{ok}");
        }
        for bad in [
            None,
            Some(""),
            Some("127.0.0.1"),
            Some("localhost"),
            Some("127.0.0.1:4322"),
            Some("evil.example:4321"),
            Some("localhost.evil.example:4321"),
            Some("127.0.0.2:4321"),
            Some("[::1]:4321"),
            Some("0.0.0.0:4321"),
            Some("127.0.0.1:4321:4321"),
            Some("user@127.0.0.1:4321"),
        ] {
            assert!(!host_allowed(bad, 4321), "{bad:?}");
        }
    }

    #[test]
    fn a_change_is_allowed_from_the_same_origin_or_with_no_origin_only() {
        let host = "127.0.0.1:4321";
        assert!(origin_allowed(None, None, host));
        assert!(origin_allowed(
            Some("http://127.0.0.1:4321"),
            Some("same-origin"),
            host
        ));
        assert!(origin_allowed(None, Some("none"), host));
        // A form post from the console's own page under `no-referrer`, as Chromium sends it.
        assert!(origin_allowed(Some("null"), Some("same-origin"), host));
        for (origin, site) in [
            (Some("http://evil.example"), None),
            (Some("http://localhost:4321"), None),
            (Some("http://127.0.0.1:4322"), None),
            (Some("https://127.0.0.1:4321"), None),
            (Some("null"), None),
            (Some("null"), Some("none")),
            (Some("null"), Some("same-site")),
            (Some("null"), Some("cross-site")),
            (Some("NULL"), Some("same-origin")),
            (None, Some("cross-site")),
            (None, Some("same-site")),
            (Some("http://127.0.0.1:4321"), Some("cross-site")),
        ] {
            assert!(!origin_allowed(origin, site, host), "{origin:?} {site:?}");
        }
    }

    #[test]
    fn only_this_launchs_session_cookie_opens_a_session() {
        let config = config();
        let mut headers = HeaderMap::new();
        assert!(!has_session(&headers, &config));
        let name = config.cookie_name();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!("other=1; {name}=wrong")).expect("ascii"),
        );
        assert!(!has_session(&headers, &config));
        headers.append(
            header::COOKIE,
            HeaderValue::from_str(&format!("{name}={}", config.secrets.session.expose()))
                .expect("ascii"),
        );
        assert!(has_session(&headers, &config));
        let mut other_port = HeaderMap::new();
        other_port.insert(
            header::COOKIE,
            HeaderValue::from_str(&format!(
                "hookpost_console_1={}",
                config.secrets.session.expose()
            ))
            .expect("ascii"),
        );
        assert!(!has_session(&other_port, &config));
    }

    #[test]
    fn the_redirect_after_the_exchange_keeps_every_parameter_but_the_token() {
        assert_eq!(without_token("/", Some("token=abc")), "/");
        assert_eq!(
            without_token("/events", Some("source=gh&token=abc&type=push")),
            "/events?source=gh&type=push"
        );
        assert_eq!(without_token("/dead-letters", None), "/dead-letters");
    }
}
