//! The browser test infrastructure itself (`hookpost_testkit::browser`), on a small page served on
//! 127.0.0.1: headless Chromium reads it, fills and submits its form, screenshots it at desktop
//! and phone widths, never runs the script text it shows, sends nothing beyond loopback, and
//! leaves no process behind, whether the test closes it or panics with it open.

use std::collections::HashSet;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use bytes::Bytes;
use hookpost_testkit::browser::{Browser, BrowserError, MOBILE};
use http_body_util::{BodyExt, Full};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// The script text the page shows; it must appear as text and never run.
const SCRIPT_TEXT: &str = "<script>alert(1)</script>";

/// Nothing may run but what the page names, and the page names nothing: no script at all.
const STRICT_CSP: &str = "default-src 'none'; style-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'";

const STYLE: &str =
    "body { font: 16px sans-serif; margin: 2rem; } pre { background: #eee; padding: 1rem; }\n";

const FORM_PAGE: &str = r#"<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>Notes</title>
<link rel="stylesheet" href="/style.css"></head>
<body>
<h1>Notes</h1>
<pre id="payload">&lt;script&gt;alert(1)&lt;/script&gt;</pre>
<form id="note" method="post" action="/notes">
  <label for="note-text">Note</label>
  <input id="note-text" name="note" value="draft">
  <button type="submit">Save</button>
</form>
</body>
</html>
"#;

const SAVED_PAGE: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Saved</title></head>
<body><p id="saved">Saved.</p></body></html>
"#;

/// The control: the same script as markup, with no policy to stop it.
const UNSAFE_PAGE: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Unsafe</title></head>
<body><pre><script>alert(1)</script></pre></body></html>
"#;

/// A request the page server received.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Recorded {
    method: String,
    path: String,
    content_type: Option<String>,
    body: String,
}

/// The page server: `/` is the form, `POST /notes` is recorded, `/unsafe` is the control.
#[derive(Debug)]
struct PageServer {
    url: String,
    recorded: Arc<Mutex<Vec<Recorded>>>,
}

impl PageServer {
    async fn start() -> Self {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.expect("binds");
        let addr: SocketAddr = listener.local_addr().expect("has an address");
        let recorded = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&recorded);
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let log = Arc::clone(&log);
                tokio::spawn(async move {
                    let service = service_fn(move |request| answer(request, Arc::clone(&log)));
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Self {
            url: format!("http://{addr}"),
            recorded,
        }
    }

    fn recorded(&self) -> Vec<Recorded> {
        self.recorded
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

async fn answer(
    request: http::Request<hyper::body::Incoming>,
    log: Arc<Mutex<Vec<Recorded>>>,
) -> Result<http::Response<Full<Bytes>>, Infallible> {
    let method = request.method().to_string();
    let path = request.uri().path().to_owned();
    let content_type = request
        .headers()
        .get(http::header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let body = match request.into_body().collect().await {
        Ok(collected) => String::from_utf8_lossy(&collected.to_bytes()).into_owned(),
        Err(_) => String::new(),
    };
    let kind = if path.ends_with(".css") {
        "text/css"
    } else {
        "text/html; charset=utf-8"
    };
    let page = |status: u16, csp: bool, html: &'static str| {
        let mut response = http::Response::builder()
            .status(status)
            .header(http::header::CONTENT_TYPE, kind);
        if csp {
            response = response.header("content-security-policy", STRICT_CSP);
        }
        Ok(response
            .body(Full::new(Bytes::from_static(html.as_bytes())))
            .unwrap_or_default())
    };
    match (method.as_str(), path.as_str()) {
        ("GET", "/") => page(200, true, FORM_PAGE),
        ("GET", "/style.css") => page(200, true, STYLE),
        ("GET", "/unsafe") => page(200, false, UNSAFE_PAGE),
        ("POST", "/notes") => {
            log.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(Recorded {
                    method,
                    path,
                    content_type,
                    body,
                });
            page(200, true, SAVED_PAGE)
        }
        _ => page(404, true, "<!doctype html><title>Not found</title>"),
    }
}

/// The width and height in a PNG's header, after checking its signature.
pub(crate) fn png_size(png: &[u8]) -> (u32, u32) {
    assert!(
        png.starts_with(b"\x89PNG\r\n\x1a\n"),
        "a screenshot is a PNG"
    );
    let field = |at: usize| {
        let bytes: [u8; 4] = png
            .get(at..at + 4)
            .and_then(|b| b.try_into().ok())
            .expect("a PNG header");
        u32::from_be_bytes(bytes)
    };
    // The IHDR chunk comes first: length, type, then width and height.
    assert_eq!(png.get(12..16), Some(&b"IHDR"[..]));
    (field(16), field(20))
}

/// Live (not zombie) processes in `group`, or whose command line names `profile`.
fn live_processes(group: u32, profile: &Path) -> HashSet<u32> {
    let profile = profile.to_string_lossy().into_owned();
    let mut live = HashSet::new();
    for entry in std::fs::read_dir("/proc")
        .expect("/proc is readable")
        .flatten()
    {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        // After the command name in parentheses: state, parent, process group.
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map(|(_, rest)| rest.split_whitespace().collect())
            .unwrap_or_default();
        let (Some(state), Some(pgrp)) = (fields.first(), fields.get(2)) else {
            continue;
        };
        if *state == "Z" {
            continue;
        }
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        if pgrp.parse::<u32>().ok() == Some(group)
            || String::from_utf8_lossy(&cmdline).contains(&profile)
        {
            live.insert(pid);
        }
    }
    live
}

/// Waits briefly for killed processes to be gone; returns those still alive.
async fn survivors(group: u32, profile: &Path) -> HashSet<u32> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        let live = live_processes(group, profile);
        if live.is_empty() || tokio::time::Instant::now() >= deadline {
            return live;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_page_is_read_filled_submitted_and_screenshotted_and_the_script_text_it_shows_never_runs()
{
    let server = PageServer::start().await;
    let browser = Browser::start().await.expect("chromium starts");

    browser.goto(&server.url).await.expect("opens the page");
    assert_eq!(browser.title().await.expect("has a title"), "Notes");
    assert_eq!(
        browser.text("#payload").await.expect("reads the payload"),
        SCRIPT_TEXT
    );
    assert_eq!(browser.dialog().await.expect("asks for a dialog"), None);

    let desktop = browser
        .screenshot("browser-test-form")
        .await
        .expect("screenshots");
    let png = std::fs::read(&desktop).expect("the screenshot was written");
    assert_eq!(png_size(&png), (1280, 900));
    assert_eq!(
        browser.resources().await.expect("lists the page's fetches"),
        [format!("{}/style.css", server.url)]
    );
    assert!(desktop.ends_with("console/browser-test-form.png"));

    browser.resize(MOBILE).await.expect("resizes");
    let width = browser
        .client()
        .execute("return window.innerWidth", vec![])
        .await
        .expect("runs a WebDriver script despite the page's CSP");
    assert_eq!(width, serde_json::json!(MOBILE.width));
    let mobile = browser
        .screenshot("browser-test-form-mobile")
        .await
        .expect("screenshots");
    assert_eq!(
        png_size(&std::fs::read(&mobile).expect("written")).0,
        MOBILE.width
    );

    browser
        .fill("#note-text", "hello & <b>bye</b>")
        .await
        .expect("types");
    browser.submit("#note").await.expect("submits");
    browser.wait_for("#saved").await.expect("the saved page");
    assert_eq!(
        browser.current_url().await.expect("has a url"),
        format!("{}/notes", server.url)
    );
    assert_eq!(
        server.recorded(),
        vec![Recorded {
            method: "POST".into(),
            path: "/notes".into(),
            content_type: Some("application/x-www-form-urlencoded".into()),
            body: "note=hello+%26+%3Cb%3Ebye%3C%2Fb%3E".into(),
        }]
    );
    assert_eq!(browser.dialog().await.expect("asks for a dialog"), None);
    browser.close().await.expect("closes");
}

#[tokio::test]
async fn the_same_script_as_markup_without_a_policy_opens_a_dialog_the_browser_reports() {
    let server = PageServer::start().await;
    let browser = Browser::start().await.expect("chromium starts");

    browser
        .goto(&format!("{}/unsafe", server.url))
        .await
        .expect("opens the page");
    assert_eq!(
        browser.dialog().await.expect("asks for a dialog"),
        Some("1".to_owned())
    );
    // The open dialog blocks the page: reading it fails rather than passing unseen.
    assert!(browser.title().await.is_err());
    browser.dismiss_dialog().await.expect("dismisses");
    assert_eq!(browser.title().await.expect("has a title"), "Unsafe");
    browser.close().await.expect("closes");
}

#[tokio::test]
async fn a_page_on_any_host_but_loopback_reaches_only_the_refusing_loopback_proxy() {
    let browser = Browser::start().await.expect("chromium starts");

    // `.invalid` never resolves anywhere (RFC 2606); here nothing even asks.
    browser
        .goto("http://hookpost.invalid/page")
        .await
        .expect("shows the proxy's refusal");
    assert_eq!(
        browser.text("body").await.expect("reads the refusal"),
        "Refused: the test browser reaches only the loopback."
    );
    let tls = browser.goto("https://hookpost.invalid/").await;
    assert!(tls.is_err(), "an HTTPS page opened: {tls:?}");
    // Chromium's own background calls are refused there too, beside these.
    let refused = browser.outside_requests();
    for expected in [
        "GET http://hookpost.invalid/page HTTP/1.1",
        "CONNECT hookpost.invalid:443 HTTP/1.1",
    ] {
        assert!(
            refused.iter().any(|line| line == expected),
            "{expected} not in {refused:?}"
        );
    }
    browser.close().await.expect("closes");
}

#[tokio::test]
async fn waiting_for_an_element_that_never_comes_fails_with_its_selector() {
    let server = PageServer::start().await;
    let mut browser = Browser::start().await.expect("chromium starts");
    browser.goto(&server.url).await.expect("opens the page");
    let wait = Duration::from_millis(300);
    browser.set_wait(wait);

    let started = tokio::time::Instant::now();
    match browser.wait_for("#never").await {
        Err(BrowserError::Timeout { css, .. }) => assert_eq!(css, "#never"),
        other => panic!("waited for nothing: {other:?}"),
    }
    assert!(started.elapsed() >= wait);
    assert!(matches!(
        browser.wait_for_text("#payload", "absent").await,
        Err(BrowserError::TextTimeout { shown, .. }) if shown == SCRIPT_TEXT
    ));
    browser.close().await.expect("closes");
}

#[tokio::test]
async fn closing_the_browser_leaves_no_chromedriver_or_chromium_process() {
    let browser = Browser::start().await.expect("chromium starts");
    let group = browser.process_group();
    let profile = browser.profile().to_owned();
    assert!(
        live_processes(group, &profile).len() >= 2,
        "chromedriver and chromium are running"
    );

    browser.close().await.expect("closes");

    assert_eq!(survivors(group, &profile).await, HashSet::new());
    assert!(!profile.exists(), "the profile is removed");
}

#[tokio::test]
async fn a_test_that_panics_with_the_browser_open_leaves_no_process_behind() {
    let (started, opened) = tokio::sync::oneshot::channel();
    let failing = tokio::spawn(async move {
        let browser = Browser::start().await.expect("chromium starts");
        let _ = started.send((browser.process_group(), browser.profile().to_owned()));
        panic!("a failed assertion with the browser open");
    });
    let (group, profile) = opened.await.expect("the browser started");
    assert!(failing.await.expect_err("the task panicked").is_panic());

    assert_eq!(survivors(group, &profile).await, HashSet::new());
    assert!(!profile.exists(), "the profile is removed");
}
