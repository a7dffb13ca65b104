//! `hookpost console` as an operator's browser (and an attacker's page) would meet it: a real
//! console on 127.0.0.1 over a stack on the emulator, asked with a plain HTTP client. Hostile
//! requests are refused and change nothing; every page renders the seeded data, escaped, with
//! the security headers; a redrive from the console empties the dead-letter queue.

use std::time::SystemTime;

use aws_sdk_sqs::Client as SqsClient;
use hookpost_console::{Console, ConsoleOptions};
use hookpost_operations::Operations;
use hookpost_shared::clock::rfc3339;
use hookpost_shared::envelope::{EncodedBody, Envelope, new_event_id};
use hookpost_shared::signature::Provider;
use hookpost_shared::source::SourceId;
use reqwest::header::HeaderMap;

use crate::support;

/// The body that must show as text, never run.
pub(crate) const HOSTILE_BODY: &str = "<script>alert(1)</script>";
pub(crate) const SOURCE_SECRET: &str = "gh-secret-never-on-a-page";

/// The headers every answer must carry, with their values.
const SECURITY_HEADERS: [(&str, &str); 5] = [
    (
        "content-security-policy",
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    ),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
    ("x-content-type-options", "nosniff"),
    ("cache-control", "no-store"),
];

fn assert_security_headers(path: &str, headers: &HeaderMap) {
    for (name, value) in SECURITY_HEADERS {
        assert_eq!(
            headers.get(name).and_then(|v| v.to_str().ok()),
            Some(value),
            "{name} on {path}"
        );
    }
}

/// A hostile form: what it lacks, its path, its body and its extra headers.
type HostileCase<'a> = (&'a str, &'a str, &'a str, &'a [(&'a str, &'a str)]);

/// An answer, read whole.
struct Answer {
    status: u16,
    headers: HeaderMap,
    body: String,
}

/// A browser's session with the console: the cookie from the token exchange and the page's CSRF
/// token.
struct Session {
    client: reqwest::Client,
    base: String,
    cookie: String,
    csrf: String,
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

async fn send(request: reqwest::RequestBuilder) -> Answer {
    let response = request.send().await.expect("the console answers");
    Answer {
        status: response.status().as_u16(),
        headers: response.headers().clone(),
        body: response.text().await.unwrap_or_default(),
    }
}

fn form(fields: &[(&str, &str)]) -> String {
    url::form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields)
        .finish()
}

/// The value of the hidden `csrf` field on a page.
fn csrf_of(page: &str) -> String {
    let start = page
        .find(r#"name="csrf" value=""#)
        .map(|i| i + r#"name="csrf" value=""#.len())
        .expect("a form with the CSRF field");
    page[start..]
        .split('"')
        .next()
        .expect("a quoted value")
        .to_owned()
}

impl Session {
    /// Opens the printed URL as a browser does: the token is exchanged for a cookie, then the
    /// redirect is followed.
    async fn open(console: &Console) -> Self {
        let client = client();
        let base = format!("http://127.0.0.1:{}", console.address().port());
        let exchange = send(client.get(console.url())).await;
        assert_eq!(exchange.status, 303, "the token is exchanged");
        assert_eq!(
            exchange
                .headers
                .get("location")
                .and_then(|v| v.to_str().ok()),
            Some("/"),
            "the redirect drops the token"
        );
        assert_security_headers("the exchange", &exchange.headers);
        let set_cookie = exchange
            .headers
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .expect("a session cookie")
            .to_owned();
        assert!(set_cookie.contains("HttpOnly"), "{set_cookie}");
        assert!(set_cookie.contains("SameSite=Strict"), "{set_cookie}");
        let cookie = set_cookie.split(';').next().expect("name=value").to_owned();
        let mut session = Self {
            client,
            base,
            cookie,
            csrf: String::new(),
        };
        let overview = session.get("/").await;
        assert_eq!(overview.status, 200, "{}", overview.body);
        session.csrf = csrf_of(&session.get("/dead-letters").await.body);
        session
    }

    async fn get(&self, path: &str) -> Answer {
        send(
            self.client
                .get(format!("{}{path}", self.base))
                .header("cookie", &self.cookie),
        )
        .await
    }

    /// A form posted from the console's own page, with the CSRF token.
    async fn post(&self, path: &str, fields: &[(&str, &str)]) -> Answer {
        let mut all = vec![("csrf", self.csrf.as_str())];
        all.extend_from_slice(fields);
        self.post_raw(path, &form(&all), &[("origin", &self.base)])
            .await
    }

    async fn post_raw(&self, path: &str, body: &str, headers: &[(&str, &str)]) -> Answer {
        let mut request = self
            .client
            .post(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body.to_owned());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        send(request).await
    }
}

/// An envelope put straight into the dead-letter queue, as the dispatcher's last receive leaves
/// it.
async fn dead_letter(sdk: &aws_config::SdkConfig, dlq: &str, body: &str) -> String {
    let envelope = Envelope {
        version: 1,
        event_id: new_event_id(),
        source_id: SourceId::parse("gh").expect("id"),
        provider: Provider::Github,
        event_type: Some("push".into()),
        delivery_id: None,
        received_at: rfc3339(SystemTime::now()),
        content_type: Some("text/plain".into()),
        headers: Default::default(),
        body: EncodedBody::from_bytes(body.as_bytes().to_vec()),
    };
    SqsClient::new(sdk)
        .send_message()
        .queue_url(dlq)
        .message_body(envelope.encode())
        .send()
        .await
        .expect("SendMessage");
    envelope.event_id
}

#[tokio::test]
async fn hostile_requests_are_refused_with_their_status_and_change_nothing() {
    let resources = support::resources().await;
    let (sdk, names) = (&resources.sdk, &resources.names);
    support::add_source(sdk, names, "gh", Provider::Github, SOURCE_SECRET).await;
    let (subscriber, subscription) = support::add_subscriber(sdk, names, "gh").await;
    let event_id = dead_letter(sdk, &names.dead_letter_queue_url, "{}").await;
    let console = hookpost_console::serve(
        Operations::new(sdk, names.clone(), None),
        ConsoleOptions::default(),
    )
    .await
    .expect("the console starts");
    let port = console.address().port();
    let base = format!("http://127.0.0.1:{port}");
    let session = Session::open(&console).await;
    let anonymous = client();

    // No cookie, a wrong token, another launch's cookie name: 401 everywhere, no cookie given.
    for path in ["/", "/dead-letters", "/assets/console.js", "/no-such-page"] {
        let answer = send(anonymous.get(format!("{base}{path}"))).await;
        assert_eq!(answer.status, 401, "{path}");
        assert_security_headers(path, &answer.headers);
        assert!(!answer.body.contains(&event_id), "{path} shows nothing");
    }
    let wrong_token = send(anonymous.get(format!("{base}/?token={}", "0".repeat(64)))).await;
    assert_eq!(wrong_token.status, 401);
    assert!(wrong_token.headers.get("set-cookie").is_none());
    let forged = send(anonymous.get(format!("{base}/")).header(
        "cookie",
        format!("hookpost_console_{port}={}", "0".repeat(64)),
    ))
    .await;
    assert_eq!(forged.status, 401);

    // DNS rebinding: the right cookie under another name is 421, so is the token exchange.
    for host in [
        "evil.example",
        "evil.example:80",
        &format!("127.0.0.1.evil.example:{port}"),
        &format!("127.0.0.1:{}", port.wrapping_add(1)),
    ] {
        let answer = send(
            session
                .client
                .get(format!("{base}/"))
                .header("host", host)
                .header("cookie", &session.cookie),
        )
        .await;
        assert_eq!(answer.status, 421, "{host}");
        assert_security_headers(host, &answer.headers);
        let exchange = send(anonymous.get(console.url()).header("host", host)).await;
        assert_eq!(exchange.status, 421, "{host}");
    }
    assert_eq!(
        send(
            session
                .client
                .get(format!("{base}/"))
                .header("host", format!("localhost:{port}"))
                .header("cookie", &session.cookie)
        )
        .await
        .status,
        200,
        "localhost is the same console"
    );

    // Every change, tried without what it needs.
    let purge = form(&[("csrf", &session.csrf), ("confirm", "purge")]);
    let purge_no_csrf = form(&[("confirm", "purge")]);
    let purge_wrong_csrf = form(&[("csrf", &"0".repeat(64)), ("confirm", "purge")]);
    let disable = form(&[("csrf", &session.csrf), ("reason", "attacker")]);
    let redrive = form(&[("csrf", &session.csrf), ("scope", "all")]);
    let disable_path = format!("/subscriptions/{subscription}/disable");
    let (purge_path, redrive_path) = ("/dead-letters/purge", "/dead-letters/redrive");
    let evil: &[(&str, &str)] = &[("origin", "http://evil.example")];
    let same: &[(&str, &str)] = &[("origin", base.as_str())];
    let cases: [HostileCase; 11] = [
        ("cross-origin Origin", purge_path, &purge, evil),
        (
            "another port's Origin",
            purge_path,
            &purge,
            &[("origin", "http://127.0.0.1:1")],
        ),
        ("null Origin", redrive_path, &redrive, &[("origin", "null")]),
        (
            "null Origin from a cross-site frame",
            purge_path,
            &purge,
            &[("origin", "null"), ("sec-fetch-site", "cross-site")],
        ),
        (
            "null Origin, same-origin fetch, missing CSRF",
            purge_path,
            &purge_no_csrf,
            &[("origin", "null"), ("sec-fetch-site", "same-origin")],
        ),
        (
            "cross-site fetch",
            purge_path,
            &purge,
            &[("sec-fetch-site", "cross-site")],
        ),
        (
            "same-site fetch",
            redrive_path,
            &redrive,
            &[("sec-fetch-site", "same-site")],
        ),
        ("missing CSRF", purge_path, &purge_no_csrf, same),
        ("wrong CSRF", purge_path, &purge_wrong_csrf, same),
        ("cross-origin disable", &disable_path, &disable, evil),
        ("missing CSRF on disable", &disable_path, "reason=x", &[]),
    ];
    for (what, path, body, headers) in cases {
        let answer = session.post_raw(path, body, headers).await;
        assert_eq!(answer.status, 403, "{what}: {}", answer.body);
        assert_security_headers(what, &answer.headers);
    }
    // Without the cookie even a valid CSRF token is nothing.
    let no_cookie = send(
        anonymous
            .post(format!("{base}/dead-letters/purge"))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(purge.clone()),
    )
    .await;
    assert_eq!(no_cookie.status, 401);
    // A GET on a mutating route is 405, cookie or not it never runs.
    for path in [
        "/dead-letters/purge".to_owned(),
        "/dead-letters/redrive".to_owned(),
        format!("/subscriptions/{subscription}/rotate"),
        format!("/events/{event_id}/replay"),
    ] {
        let answer = session
            .get(&format!("{path}?confirm=purge&scope=all"))
            .await;
        assert_eq!(answer.status, 405, "{path}");
        assert_security_headers(&path, &answer.headers);
    }
    // A purge without the typed confirmation is refused naming the field.
    let unconfirmed = session
        .post("/dead-letters/purge", &[("confirm", "yes")])
        .await;
    assert_eq!(unconfirmed.status, 400);
    assert!(unconfirmed.body.contains(r#"data-field="confirm""#));

    assert_eq!(
        support::queue_depth(sdk, &names.dead_letter_queue_url).await,
        1,
        "the dead letter is still there"
    );
    let ops = Operations::new(sdk, names.clone(), None);
    let still = ops.get_subscription(&subscription).await.expect("exists");
    assert!(still.enabled, "the subscription was not disabled");
    assert_eq!(still.secrets, 1, "no secret was added");

    console.shutdown().await;
    subscriber.stop();
}

#[tokio::test]
async fn a_console_will_not_listen_anywhere_but_127_0_0_1() {
    let resources = support::resources().await;
    for address in ["0.0.0.0:0", "[::1]:0", "127.0.0.2:0"] {
        let refused = hookpost_console::serve(
            Operations::new(&resources.sdk, resources.names.clone(), None),
            ConsoleOptions {
                address: address.parse().expect("address"),
            },
        )
        .await
        .expect_err("refused");
        assert!(
            matches!(refused, hookpost_console::ServeError::NotLoopback(_)),
            "{address}: {refused}"
        );
    }
}

/// A stack with a source, a healthy and a failing subscriber, events dead-lettered at the failing
/// one (the first with a hostile body) and one delivered everywhere, and a console over it.
pub(crate) struct Seeded {
    pub(crate) stack: hookpost_local::LocalStack,
    pub(crate) healthy: hookpost_testkit::Subscriber,
    pub(crate) failing: hookpost_testkit::Subscriber,
    pub(crate) failing_id: String,
    /// The dead-lettered events, the hostile one first.
    pub(crate) dead: Vec<String>,
    pub(crate) delivered: String,
    pub(crate) console: Console,
}

pub(crate) async fn post_event(stack: &hookpost_local::LocalStack, body: &str) -> String {
    support::post_github(stack, "gh", SOURCE_SECRET, "push", body, "application/json").await
}

async fn seeded() -> Seeded {
    seeded_with(1).await
}

/// [`Seeded`] with `dead` dead-lettered events.
pub(crate) async fn seeded_with(dead: usize) -> Seeded {
    let stack = support::running_stack(Some(2), Some("1s")).await;
    let (sdk, names) = (&stack.sdk, &stack.state.names);
    support::add_source(sdk, names, "gh", Provider::Github, SOURCE_SECRET).await;
    let (healthy, _) = support::add_subscriber(sdk, names, "gh").await;
    let (failing, failing_id) = support::add_subscriber(sdk, names, "gh").await;
    failing.answer_with(500);
    let mut dead_ids = vec![post_event(&stack, HOSTILE_BODY).await];
    for i in 1..dead {
        dead_ids.push(post_event(&stack, &format!(r#"{{"attempt":{i}}}"#)).await);
    }
    let dead_lettered = support::eventually(|| async {
        support::queue_depth(sdk, &names.dead_letter_queue_url).await == dead
    })
    .await;
    assert!(dead_lettered, "the events reach the dead-letter queue");
    failing.answer_with(204);
    let delivered = post_event(&stack, r#"{"zen":"Keep it logically awesome."}"#).await;
    // Each dead letter was tried twice at the failing subscriber (the queue's two receives).
    let settled = support::eventually(|| async {
        healthy.received().len() == dead + 1 && failing.received().len() == 2 * dead + 1
    })
    .await;
    assert!(settled, "the last event reaches both subscribers");
    let console = hookpost_console::serve(
        Operations::new(sdk, names.clone(), Some(stack.state.receiver_url.clone())),
        ConsoleOptions::default(),
    )
    .await
    .expect("the console starts");
    Seeded {
        stack,
        healthy,
        failing,
        failing_id,
        dead: dead_ids,
        delivered,
        console,
    }
}

impl Seeded {
    pub(crate) async fn stop(self) {
        self.console.shutdown().await;
        self.healthy.stop();
        self.failing.stop();
        self.stack.stop().await;
    }
}

#[tokio::test]
async fn every_page_renders_the_seeded_stack_escaped_with_the_security_headers_and_no_secret() {
    let seeded = seeded().await;
    let session = Session::open(&seeded.console).await;
    let (dead, delivered, failing) = (&seeded.dead[0], &seeded.delivered, &seeded.failing_id);
    // A filter with markup in it, shown as text on the subscription's page.
    Operations::new(&seeded.stack.sdk, seeded.stack.state.names.clone(), None)
        .update_subscription(
            failing,
            hookpost_operations::subscriptions::SubscriptionChanges {
                filter: Some(Some(
                    serde_json::json!({"type": [{"prefix": "<i>push</i>"}]}),
                )),
                ..Default::default()
            },
        )
        .await
        .expect("the filter is set");

    let pages: Vec<(String, Vec<String>)> = vec![
        (
            "/".into(),
            vec![
                r#"<span id="dead-letter-count" data-testid="dead-letter-count">1</span>"#.into(),
                r#"data-source-id="gh""#.into(),
                format!("{}gh", seeded.stack.state.receiver_url),
                format!(r#"data-subscription-id="{failing}""#),
                r#"id="deliveries-chart""#.into(),
            ],
        ),
        (
            "/dead-letters".into(),
            vec![
                format!(r#"data-event-id="{dead}""#),
                r#"id="redrive-all""#.into(),
                r#"id="purge-confirm""#.into(),
            ],
        ),
        (
            format!("/dead-letters/{dead}"),
            vec![
                "&lt;script&gt;alert(1)&lt;/script&gt;".into(),
                format!(r#"data-subscription-id="{failing}""#),
                r#"data-outcome="#.into(),
            ],
        ),
        (
            "/events?source=gh&since=1h".into(),
            vec![
                format!(r#"data-event-id="{dead}""#),
                format!(r#"data-event-id="{delivered}""#),
            ],
        ),
        (
            format!("/events/{delivered}"),
            vec![
                "Keep it logically awesome.".into(),
                r#"data-outcome="delivered""#.into(),
                r#"id="replay""#.into(),
            ],
        ),
        (
            format!("/events/{dead}"),
            vec!["&lt;script&gt;alert(1)&lt;/script&gt;".into()],
        ),
        (
            "/subscriptions".into(),
            vec![format!(r#"data-subscription-id="{failing}""#)],
        ),
        (
            format!("/subscriptions/{failing}"),
            vec![
                r#"id="disable-reason""#.into(),
                r#"id="rotate""#.into(),
                "&lt;i&gt;push&lt;/i&gt;".into(),
            ],
        ),
        (
            "/charts".into(),
            vec![
                r#"id="deliveries-chart""#.into(),
                format!(r#"<g data-subscription="{failing}""#),
                format!(r#"<tr data-subscription-id="{failing}""#),
                r#"id="depth-svg""#.into(),
                r#"data-refresh-from="/charts/dead-letter-depth""#.into(),
            ],
        ),
        (
            "/charts?window=7d".into(),
            vec!["last 7 days".into(), r#"id="latency-chart""#.into()],
        ),
        (
            "/charts/dead-letter-depth".into(),
            vec![
                r#"<circle class="depth-point""#.into(),
                r#"data-depth="1""#.into(),
            ],
        ),
        (
            "/dead-letters?limit=1".into(),
            vec![format!(r#"data-event-id="{dead}""#)],
        ),
    ];
    for (path, expected) in &pages {
        let page = session.get(path).await;
        assert_eq!(page.status, 200, "{path}: {}", page.body);
        assert_security_headers(path, &page.headers);
        for text in expected {
            assert!(
                page.body.contains(text.as_str()),
                "{path} shows {text}:\n{}",
                page.body
            );
        }
        assert!(
            !page.body.contains(HOSTILE_BODY),
            "{path} never carries the raw body"
        );
        assert!(
            !page.body.contains("whsec_"),
            "{path} shows no subscription secret"
        );
        assert!(
            !page.body.contains(SOURCE_SECRET),
            "{path} shows no source secret"
        );
        assert!(
            !page.body.contains("style=\""),
            "{path} has no inline style (CSP)"
        );
        assert!(
            !page.body.contains("<script>"),
            "{path} has no inline script (CSP)"
        );
    }
    for asset in ["/assets/console.css", "/assets/console.js"] {
        let answer = session.get(asset).await;
        assert_eq!(answer.status, 200, "{asset}");
        assert_security_headers(asset, &answer.headers);
    }

    // Input the operator controls is a 400 naming the field, or a 404: never a 500.
    for (path, status, field) in [
        ("/events?since=yesterday-ish", 400, Some("since")),
        ("/dead-letters?source=Not%20An%20Id", 400, Some("source")),
        ("/events?cursor=bm90IGEgY3Vyc29y", 400, Some("cursor")),
        ("/charts?window=1y", 400, Some("window")),
        ("/dead-letters?limit=0", 400, Some("limit")),
        ("/events?limit=many", 400, Some("limit")),
        ("/dead-letters/evt_nope", 404, None),
        ("/events/evt_nope", 404, None),
        ("/subscriptions/sub_nope", 404, None),
    ] {
        let answer = session.get(path).await;
        assert_eq!(answer.status, status, "{path}: {}", answer.body);
        if let Some(field) = field {
            assert!(
                answer.body.contains(&format!(r#"data-field="{field}""#)),
                "{path}"
            );
        }
    }

    // A rotation shows the new secret once; the subscription's page never does.
    let rotated = session
        .post(
            &format!("/subscriptions/{failing}/rotate"),
            &[("step", "add")],
        )
        .await;
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    assert_eq!(
        rotated.body.matches("whsec_").count(),
        1,
        "{}",
        rotated.body
    );
    assert!(rotated.body.contains(r#"id="new-secret""#));
    let after = session.get(&format!("/subscriptions/{failing}")).await;
    assert!(!after.body.contains("whsec_"));
    assert!(after.body.contains("2 active"));

    // Disable with a reason, shown escaped on the overview; enable again.
    let disabled = session
        .post(
            &format!("/subscriptions/{failing}/disable"),
            &[("reason", "<b>maintenance</b>")],
        )
        .await;
    assert_eq!(disabled.status, 200, "{}", disabled.body);
    let overview = session.get("/").await;
    assert!(
        overview
            .body
            .contains("disabled: &lt;b&gt;maintenance&lt;/b&gt;")
    );
    let enabled = session
        .post(&format!("/subscriptions/{failing}/enable"), &[])
        .await;
    assert_eq!(enabled.status, 200);
    assert!(enabled.body.contains(r#"data-state="enabled""#));

    seeded.stop().await;
}

#[tokio::test]
async fn a_redrive_from_the_console_empties_the_dead_letter_queue_and_delivers_the_event() {
    let seeded = seeded().await;
    let session = Session::open(&seeded.console).await;
    let (sdk, names) = (&seeded.stack.sdk, &seeded.stack.state.names);

    let answer = session
        .post(
            "/dead-letters/redrive",
            &[
                ("scope", "selected"),
                ("event_id", &seeded.dead[0]),
                ("rate", "50"),
            ],
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    assert!(
        answer.body.contains(r#"<span id="redrive-moved">1</span>"#),
        "{}",
        answer.body
    );
    assert_eq!(
        support::queue_depth(sdk, &names.dead_letter_queue_url).await,
        0,
        "the dead-letter queue is empty"
    );
    let fixed = seeded.failing.wait_for(4, support::PATIENCE).await;
    assert_eq!(
        fixed.len(),
        4,
        "the redriven event reaches the fixed subscriber"
    );
    assert_eq!(
        seeded.healthy.received().len(),
        2,
        "and not the healthy one again"
    );
    let overview = session.get("/").await;
    assert!(
        overview
            .body
            .contains(r#"<span id="dead-letter-count" data-testid="dead-letter-count">0</span>"#),
        "{}",
        overview.body
    );

    seeded.stop().await;
}

/// Opens a URL the CLI printed as a browser would: the console's base and the session cookie.
async fn exchange_printed(url: &str) -> (String, String) {
    let exchange = send(client().get(url)).await;
    assert_eq!(exchange.status, 303);
    let cookie = exchange
        .headers
        .get("set-cookie")
        .and_then(|v| v.to_str().ok())
        .and_then(|c| c.split(';').next())
        .expect("a session cookie")
        .to_owned();
    let base = url.split("/?").next().expect("base").to_owned();
    (base, cookie)
}

#[tokio::test]
async fn hookpost_console_prints_a_url_that_opens_the_overview_of_the_named_deployment() {
    use tokio::io::AsyncBufReadExt as _;

    let resources = support::resources().await;
    support::add_source(
        &resources.sdk,
        &resources.names,
        "gh",
        Provider::Github,
        SOURCE_SECRET,
    )
    .await;
    let mut command = tokio::process::Command::new(crate::cli::binary());
    command
        .args(["console", "--no-open"])
        .env_remove("HOOKPOST_STACK")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true);
    for (k, v) in crate::cli::env_for(&resources.names, Some("http://127.0.0.1:9/webhooks/")) {
        command.env(k, v);
    }
    let mut child = command.spawn().expect("hookpost runs");
    let stdout = child.stdout.take().expect("piped");
    // Kept open until the end: the console may still write to it.
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let first = tokio::time::timeout(support::PATIENCE, lines.next_line())
        .await
        .expect("the URL is printed in time")
        .expect("stdout")
        .expect("a line");
    let url = first
        .strip_prefix("Hookpost console: ")
        .expect("the URL line")
        .to_owned();
    assert!(url.starts_with("http://127.0.0.1:"), "{url}");
    let (base, cookie) = exchange_printed(&url).await;
    let overview = send(client().get(format!("{base}/")).header("cookie", cookie)).await;
    assert_eq!(overview.status, 200, "{}", overview.body);
    assert!(overview.body.contains("http://127.0.0.1:9/webhooks/gh"));
    child.kill().await.expect("the console stops");
}

#[tokio::test]
async fn hookpost_demo_console_shows_the_demo_s_event_and_stops_on_ctrl_c() {
    use tokio::io::AsyncBufReadExt as _;

    let mut command = tokio::process::Command::new(crate::cli::binary());
    command
        .args(["demo", "--console", "--no-open"])
        .env("AWS_ENDPOINT_URL", support::emulator().endpoint_url())
        .env_remove("HOOKPOST_STACK")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true);
    let mut child = command.spawn().expect("hookpost runs");
    let stdout = child.stdout.take().expect("piped");
    let mut lines = tokio::io::BufReader::new(stdout).lines();
    let (mut event_id, mut url) = (None, None);
    while url.is_none() {
        let line = tokio::time::timeout(support::PATIENCE, lines.next_line())
            .await
            .expect("the demo prints its trace in time")
            .expect("stdout")
            .expect("the demo goes on until the console's URL");
        // `[  0.91s] 2 queued     evt_… is on …`
        if let Some(rest) = line.split(" 2 queued ").nth(1) {
            event_id = rest.split_whitespace().next().map(str::to_owned);
        }
        url = line.strip_prefix("Hookpost console: ").map(str::to_owned);
    }
    let (event_id, url) = (
        event_id.expect("the trace names the event"),
        url.expect("a URL"),
    );
    let (base, cookie) = exchange_printed(&url).await;
    let page = |path: &str| {
        send(
            client()
                .get(format!("{base}{path}"))
                .header("cookie", cookie.as_str()),
        )
    };
    let overview = page("/").await;
    assert_eq!(overview.status, 200, "{}", overview.body);
    assert!(
        overview.body.contains(r#"data-source-id="github-example""#),
        "{}",
        overview.body
    );
    let event = page(&format!("/events/{event_id}")).await;
    assert_eq!(event.status, 200, "{}", event.body);
    assert!(
        event.body.contains(r#"data-outcome="delivered""#),
        "the demo's delivery is on its event's page: {}",
        event.body
    );

    let pid = child.id().expect("running").to_string();
    let interrupted = std::process::Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .expect("kill runs");
    assert!(interrupted.success());
    let status = tokio::time::timeout(support::PATIENCE, child.wait())
        .await
        .expect("Ctrl+C stops the demo and its console in time")
        .expect("exit status");
    assert!(status.success(), "{status}");
}
