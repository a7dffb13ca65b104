//! Hostile requests to the real receiver against the emulator: each row is a request built to
//! break it (wrong method, no body, huge headers, invalid UTF-8, invalid base64, duplicate or
//! mis-sized signatures, overflowing timestamps, path tricks), the status and code it must get,
//! and an empty ingest queue after it. The table is the one in docs/reliability.md.
//!
//! Each request reaches the receiver as the deployed function gets it: the API Gateway payload
//! 2.0 event built from it (`support::ApiEvent`: repeated headers combined with commas, a binary
//! body base64-encoded), handed to `handle_event`. The last test sends raw HTTP to the loopback
//! front of the local stack instead.
//!
//! The last request of each test is signed correctly and queued, so the queue's emptiness is the
//! refusals' doing, not a receiver that queues nothing.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::{Hmac, Mac};
use hookpost_receiver::HttpApiEvent;
use hookpost_shared::clock::SystemClock;
use hookpost_shared::secret::SigningKey;
use hookpost_shared::signature::Provider;
use sha2::Sha256;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

use crate::support::{self, ApiEvent, invoke};

const GH_SECRET: &str = "hostile-github-secret";
const STRIPE_SECRET: &str = "whsec_hostile_stripe_secret";
const SLACK_SECRET: &str = "hostile-slack-secret";
const LINEAR_SECRET: &str = "hostile-linear-secret";
const BODY: &[u8] = br#"{"action":"opened"}"#;

/// One hostile request, as the API Gateway event the function is invoked with, and the answer it
/// must get.
struct Row {
    what: String,
    event: HttpApiEvent,
    status: u16,
    code: &'static str,
}

fn row(what: impl Into<String>, event: HttpApiEvent, status: u16, code: &'static str) -> Row {
    Row {
        what: what.into(),
        event,
        status,
        code,
    }
}

/// `method /webhooks/{source}` with `headers` (repeats kept, for API Gateway to combine) and
/// `body`, as API Gateway hands it to the function.
fn request(method: &str, source: &str, headers: &[(&str, &str)], body: &[u8]) -> HttpApiEvent {
    ApiEvent::post(source)
        .method(method)
        .headers(headers)
        .body(body)
        .event()
}

fn post(source: &str, headers: &[(&str, &str)], body: &[u8]) -> HttpApiEvent {
    request("POST", source, headers, body)
}

fn hmac_sha256(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("any key length");
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().to_vec()
}

fn github_signature(body: &[u8]) -> String {
    format!(
        "sha256={}",
        hex::encode(hmac_sha256(GH_SECRET.as_bytes(), &[body]))
    )
}

/// A `Stripe-Signature` correctly signed over `t` exactly as written, however absurd.
fn stripe_signature(t: &str, body: &[u8]) -> String {
    let mac = hmac_sha256(STRIPE_SECRET.as_bytes(), &[t.as_bytes(), b".", body]);
    format!("t={t},v1={}", hex::encode(mac))
}

/// Standard Webhooks headers correctly signed over `timestamp` exactly as written.
fn standard_webhooks_headers(
    key: &SigningKey,
    timestamp: &str,
    body: &[u8],
) -> [(String, String); 3] {
    let id = "msg_hostile";
    let mac = hmac_sha256(
        key.bytes(),
        &[id.as_bytes(), b".", timestamp.as_bytes(), b".", body],
    );
    [
        ("webhook-id".to_owned(), id.to_owned()),
        ("webhook-timestamp".to_owned(), timestamp.to_owned()),
        (
            "webhook-signature".to_owned(),
            format!("v1,{}", BASE64.encode(mac)),
        ),
    ]
}

fn slack_signature(timestamp: &str, body: &[u8]) -> String {
    let mac = hmac_sha256(
        SLACK_SECRET.as_bytes(),
        &[b"v0:", timestamp.as_bytes(), b":", body],
    );
    format!("v0={}", hex::encode(mac))
}

fn linear_signature(body: &[u8]) -> String {
    hex::encode(hmac_sha256(LINEAR_SECRET.as_bytes(), &[body]))
}

fn as_refs(headers: &[(String, String)]) -> Vec<(&str, &str)> {
    headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

/// A request to `gh` as API Gateway hands it to the function, to edit into an event of another
/// shape.
fn github_payload(headers: &[(&str, &str)], body: &[u8]) -> serde_json::Value {
    ApiEvent::post("gh").headers(headers).body(body).payload()
}

/// `payload` with `edit` applied to its members, read as the function reads it.
fn edited(
    mut payload: serde_json::Value,
    edit: impl FnOnce(&mut serde_json::Map<String, serde_json::Value>),
) -> HttpApiEvent {
    edit(payload.as_object_mut().expect("an event is an object"));
    support::read(&payload)
}

/// Every row against `receiver`; the ingest queue must be empty after each. Returns what went
/// wrong, row by row, so one run shows every failing row.
async fn run(
    r: &support::Resources,
    receiver: &hookpost_local::stack::AwsReceiver,
    rows: Vec<Row>,
) -> Vec<String> {
    let mut wrong = Vec::new();
    for row in rows {
        let answer = invoke(receiver, row.event).await;
        let (status, code) = (answer.status, answer.code());
        if (status, code.as_str()) != (row.status, row.code) {
            wrong.push(format!(
                "{}: got {status} {code:?}, documented {} {:?}",
                row.what, row.status, row.code
            ));
        }
        let allow = answer.headers.get("allow").map(|v| v.as_bytes());
        if status == 405 && allow != Some(b"POST") {
            wrong.push(format!("{}: 405 without `Allow: POST`", row.what));
        }
        let depth = support::queue_depth(&r.sdk, &r.names.ingest_queue_url).await;
        if depth != 0 {
            wrong.push(format!("{}: {depth} message(s) queued", row.what));
            support::drain(&r.sdk, &r.names.ingest_queue_url).await;
        }
    }
    wrong
}

async fn hostile_stack() -> (
    support::Resources,
    hookpost_local::stack::AwsReceiver,
    SigningKey,
) {
    let r = support::resources().await;
    let sw_key = SigningKey::generate().expect("rng");
    for (id, provider, secret) in [
        ("gh", Provider::Github, GH_SECRET.to_owned()),
        ("st", Provider::Stripe, STRIPE_SECRET.to_owned()),
        (
            "sw",
            Provider::StandardWebhooks,
            sw_key.to_whsec().expose().to_owned(),
        ),
        ("sl", Provider::Slack, SLACK_SECRET.to_owned()),
        ("ln", Provider::Linear, LINEAR_SECRET.to_owned()),
    ] {
        support::add_source(&r.sdk, &r.names, id, provider, &secret).await;
    }
    let receiver = support::receiver(&r.sdk, &r.names, Arc::new(SystemClock));
    (r, receiver, sw_key)
}

#[tokio::test]
async fn hostile_requests_get_their_documented_refusal_and_queue_nothing() {
    let (r, receiver, sw_key) = hostile_stack().await;
    let now = support::now();
    let gh_sig = github_signature(BODY);
    let signed_gh = [("x-hub-signature-256", gh_sig.as_str())];
    let mut rows = Vec::new();

    // Wrong method, with a valid signature: only POST is a webhook.
    for method in ["GET", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"] {
        rows.push(row(
            format!("{method} with a valid signature"),
            request(method, "gh", &signed_gh, BODY),
            405,
            "method_not_allowed",
        ));
    }

    // No body.
    rows.push(row(
        "no body, no signature",
        post("gh", &[], b""),
        401,
        "missing_signature",
    ));
    rows.push(row(
        "no body, the signature of another body",
        post("gh", &signed_gh, b""),
        401,
        "invalid_signature",
    ));
    rows.push(row(
        "no body to a Stripe source",
        post("st", &[], b""),
        401,
        "missing_signature",
    ));

    // Huge headers.
    let huge_sig = format!("sha256={}", "a".repeat(64 * 1024));
    rows.push(row(
        "a 64 KiB signature header",
        post("gh", &[("x-hub-signature-256", huge_sig.as_str())], BODY),
        401,
        "invalid_signature",
    ));
    let junk = "j".repeat(1024);
    let names: Vec<String> = (0..200).map(|i| format!("x-junk-{i}")).collect();
    let many: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), junk.as_str())).collect();
    rows.push(row(
        "200 junk headers of 1 KiB, no signature",
        post("gh", &many, BODY),
        401,
        "missing_signature",
    ));
    let huge_delivery = "d".repeat(64 * 1024);
    rows.push(row(
        "a 64 KiB delivery id with a wrong signature",
        post(
            "gh",
            &[
                ("x-hub-signature-256", github_signature(b"other").as_str()),
                ("x-github-delivery", huge_delivery.as_str()),
            ],
            BODY,
        ),
        401,
        "invalid_signature",
    ));

    // Invalid UTF-8.
    let not_utf8: &[u8] = &[0xff, 0xfe, b'{', 0xc3, 0x28, b'}'];
    rows.push(row(
        "an invalid UTF-8 body, no signature",
        post("gh", &[], not_utf8),
        401,
        "missing_signature",
    ));
    rows.push(row(
        "an invalid UTF-8 body with the signature of another body",
        post("gh", &[("x-hub-signature-256", gh_sig.as_str())], not_utf8),
        401,
        "invalid_signature",
    ));
    rows.push(row(
        "a signature header with non-ASCII characters",
        post(
            "gh",
            &[("x-hub-signature-256", "sha256=\u{ff}\u{fe}")],
            BODY,
        ),
        401,
        "invalid_signature",
    ));
    rows.push(row(
        "an invalid UTF-8 Linear body, correctly signed (no webhookTimestamp can be read)",
        post(
            "ln",
            &[("linear-signature", linear_signature(not_utf8).as_str())],
            not_utf8,
        ),
        400,
        "malformed_request",
    ));

    // Duplicate signature headers: never read two ways.
    rows.push(row(
        "two identical valid GitHub signatures",
        post(
            "gh",
            &[
                ("x-hub-signature-256", gh_sig.as_str()),
                ("x-hub-signature-256", gh_sig.as_str()),
            ],
            BODY,
        ),
        401,
        "invalid_signature",
    ));
    rows.push(row(
        "a valid and a bogus GitHub signature",
        post(
            "gh",
            &[
                ("x-hub-signature-256", "sha256=00"),
                ("x-hub-signature-256", gh_sig.as_str()),
            ],
            BODY,
        ),
        401,
        "invalid_signature",
    ));
    let st_sig = stripe_signature(&now.to_string(), BODY);
    rows.push(row(
        "two Stripe-Signature headers",
        post(
            "st",
            &[
                ("stripe-signature", st_sig.as_str()),
                ("stripe-signature", st_sig.as_str()),
            ],
            BODY,
        ),
        401,
        "invalid_signature",
    ));
    rows.push(row(
        "`t=` twice in one Stripe-Signature",
        post(
            "st",
            &[("stripe-signature", format!("t={now},{st_sig}").as_str())],
            BODY,
        ),
        401,
        "invalid_signature",
    ));
    let sw = standard_webhooks_headers(&sw_key, &now.to_string(), BODY);
    for repeated in ["webhook-signature", "webhook-timestamp", "webhook-id"] {
        let mut headers = as_refs(&sw);
        let again = sw.iter().find(|(k, _)| k == repeated).expect("present");
        headers.push((again.0.as_str(), again.1.as_str()));
        rows.push(row(
            format!("`{repeated}` twice"),
            post("sw", &headers, BODY),
            401,
            "invalid_signature",
        ));
    }
    let sl_sig = slack_signature(&now.to_string(), BODY);
    let now_text = now.to_string();
    rows.push(row(
        "two Slack timestamps",
        post(
            "sl",
            &[
                ("x-slack-signature", sl_sig.as_str()),
                ("x-slack-request-timestamp", now_text.as_str()),
                ("x-slack-request-timestamp", now_text.as_str()),
            ],
            BODY,
        ),
        401,
        "invalid_signature",
    ));

    // Signatures of the wrong length.
    let full = hmac_sha256(GH_SECRET.as_bytes(), &[BODY]);
    for (what, value) in [
        ("31 bytes", format!("sha256={}", hex::encode(&full[..31]))),
        ("33 bytes", format!("sha256={}00", hex::encode(&full))),
        (
            "63 hex digits",
            format!("sha256={}", &hex::encode(&full)[..63]),
        ),
        ("an empty digest", "sha256=".to_owned()),
        ("an empty header", String::new()),
        (
            "a SHA-512-sized digest",
            format!(
                "sha256={}",
                hex::encode([full.clone(), full.clone()].concat())
            ),
        ),
    ] {
        rows.push(row(
            format!("a GitHub signature of {what}"),
            post("gh", &[("x-hub-signature-256", value.as_str())], BODY),
            401,
            "invalid_signature",
        ));
    }
    let st_short = format!(
        "t={now},v1={}",
        &hex::encode(hmac_sha256(STRIPE_SECRET.as_bytes(), &[BODY]))[..62]
    );
    rows.push(row(
        "a Stripe v1 of 31 bytes",
        post("st", &[("stripe-signature", st_short.as_str())], BODY),
        401,
        "invalid_signature",
    ));
    let mut sw_short = sw.clone();
    sw_short[2].1 = format!("v1,{}", BASE64.encode([0u8; 31]));
    rows.push(row(
        "a Standard Webhooks v1 of 31 bytes",
        post("sw", &as_refs(&sw_short), BODY),
        401,
        "invalid_signature",
    ));
    let mut sw_long = sw.clone();
    sw_long[2].1 = format!("v1,{}", BASE64.encode([0u8; 64]));
    rows.push(row(
        "a Standard Webhooks v1 of 64 bytes",
        post("sw", &as_refs(&sw_long), BODY),
        401,
        "invalid_signature",
    ));

    // Timestamps that overflow: each request is correctly signed over the timestamp as written,
    // so only the timestamp can refuse it.
    for (t, code) in [
        (i64::MAX.to_string(), "timestamp_out_of_tolerance"),
        ("99999999999999999999".to_owned(), "invalid_signature"),
        ("-1".to_owned(), "invalid_signature"),
        (i64::MIN.to_string(), "invalid_signature"),
        ("0".to_owned(), "timestamp_out_of_tolerance"),
    ] {
        rows.push(row(
            format!("Stripe t={t}"),
            post(
                "st",
                &[("stripe-signature", stripe_signature(&t, BODY).as_str())],
                BODY,
            ),
            401,
            code,
        ));
    }
    for (t, code) in [
        (i64::MAX.to_string(), "timestamp_out_of_tolerance"),
        ("99999999999999999999".to_owned(), "invalid_signature"),
        ("-1".to_owned(), "timestamp_out_of_tolerance"),
        (i64::MIN.to_string(), "timestamp_out_of_tolerance"),
    ] {
        let headers = standard_webhooks_headers(&sw_key, &t, BODY);
        rows.push(row(
            format!("webhook-timestamp {t}"),
            post("sw", &as_refs(&headers), BODY),
            401,
            code,
        ));
        let sig = slack_signature(&t, BODY);
        rows.push(row(
            format!("x-slack-request-timestamp {t}"),
            post(
                "sl",
                &[
                    ("x-slack-signature", sig.as_str()),
                    ("x-slack-request-timestamp", t.as_str()),
                ],
                BODY,
            ),
            401,
            code,
        ));
    }
    for (millis, status, code) in [
        (i64::MAX.to_string(), 401, "timestamp_out_of_tolerance"),
        (i64::MIN.to_string(), 401, "timestamp_out_of_tolerance"),
        ("99999999999999999999".to_owned(), 400, "malformed_request"),
        ("1e300".to_owned(), 400, "malformed_request"),
    ] {
        let body = format!(r#"{{"type":"Issue","action":"create","webhookTimestamp":{millis}}}"#);
        rows.push(row(
            format!("Linear webhookTimestamp {millis}"),
            post(
                "ln",
                &[(
                    "linear-signature",
                    linear_signature(body.as_bytes()).as_str(),
                )],
                body.as_bytes(),
            ),
            status,
            code,
        ));
    }

    // Unknown source ids and path tricks, each with a valid GitHub signature.
    let long = "a".repeat(65);
    let very_long = "a".repeat(100_000);
    for source in [
        "nobody",
        "GH",
        "..",
        ".",
        "%2F",
        "a%2Fb",
        "a/b",
        "../gh",
        "gh/..",
        "gh%00",
        "gh\0",
        " gh",
        "gh ",
        "gh%20",
        "",
        long.as_str(),
        very_long.as_str(),
        "é",
        "💥",
        "ｇｈ",
        "gh\u{200b}",
        "%67%68",
    ] {
        let shown = if source.len() > 16 {
            format!("{} chars", source.len())
        } else {
            format!("{source:?}")
        };
        rows.push(row(
            format!("source id {shown}"),
            post(source, &signed_gh, BODY),
            404,
            "unknown_source",
        ));
    }

    // Over the body cap (MaxBodyBytes, 5 MiB by default), even correctly signed.
    let big = vec![b'x'; hookpost_receiver::DEFAULT_MAX_BODY_BYTES + 1];
    rows.push(row(
        "a correctly signed body one byte over MaxBodyBytes",
        post(
            "gh",
            &[("x-hub-signature-256", github_signature(&big).as_str())],
            &big,
        ),
        413,
        "payload_too_large",
    ));

    let wrong = run(&r, &receiver, rows).await;
    assert!(
        wrong.is_empty(),
        "rows that did not get their documented answer:\n{}",
        wrong.join("\n")
    );

    let accepted = invoke(
        &receiver,
        post("gh", &[("x-hub-signature-256", gh_sig.as_str())], BODY),
    )
    .await;
    assert_eq!(accepted.status, 202);
    assert_eq!(
        support::queue_depth(&r.sdk, &r.names.ingest_queue_url).await,
        1
    );
}

#[tokio::test]
async fn api_gateway_events_with_hostile_bodies_reach_the_receiver_decoded_and_are_refused() {
    let (r, receiver, _) = hostile_stack().await;
    let not_utf8: &[u8] = &[0xff, 0xfe, 0x00, 0xc3, 0x28];
    let sig = github_signature(BODY);
    let sig_of_body = [("x-hub-signature-256", sig.as_str())];
    let rows = vec![
        // isBase64Encoded: the body is decoded before it is verified, so the verified bytes are
        // the decoded ones: the signature of the base64 text itself does not match them.
        row(
            "base64 of invalid UTF-8, signed over something else",
            post("gh", &sig_of_body, not_utf8),
            401,
            "invalid_signature",
        ),
        row(
            "base64 text signed as text, not as the bytes it encodes",
            edited(
                github_payload(&[("x-hub-signature-256", &github_signature(b"eyJ9"))], b""),
                |event| {
                    event.insert("body".into(), "eyJ9".into());
                    event.insert("isBase64Encoded".into(), true.into());
                },
            ),
            401,
            "invalid_signature",
        ),
        // API Gateway never sends this (it encodes what it received); a direct invoker can.
        // lambda_http, which the function once ran behind, panicked on it (API Gateway's bare
        // 500); the receiver's own reading refuses it.
        row(
            "isBase64Encoded with a body that is not base64",
            edited(github_payload(&sig_of_body, b""), |event| {
                event.insert("body".into(), "not base64!".into());
                event.insert("isBase64Encoded".into(), true.into());
            }),
            400,
            "malformed_request",
        ),
        row(
            "an event whose headers hold a value that is not valid HTTP",
            post("gh", &[sig_of_body[0], ("x-evil", "a\u{0}b")], b"{}"),
            400,
            "malformed_request",
        ),
        // API Gateway combines a repeated header into one member; a direct invoker can still
        // name one twice, and the receiver reads both values (and so refuses the signature).
        row(
            "an event whose headers name the signature header twice",
            support::read_text(&github_payload(&sig_of_body, BODY).to_string().replacen(
                r#""headers":{"#,
                r#""headers":{"x-hub-signature-256":"sha256=00","#,
                1,
            )),
            401,
            "invalid_signature",
        ),
        row(
            "a GET event",
            request("GET", "gh", &sig_of_body, b"{}"),
            405,
            "method_not_allowed",
        ),
        row(
            "an event whose source path parameter is ../gh",
            post("../gh", &sig_of_body, b"{}"),
            404,
            "unknown_source",
        ),
        row(
            "an event without path parameters",
            edited(github_payload(&sig_of_body, b"{}"), |event| {
                event.remove("pathParameters");
            }),
            404,
            "unknown_source",
        ),
        row(
            "an event with no body at all",
            edited(github_payload(&sig_of_body, b"{}"), |event| {
                event.remove("body");
                event.remove("isBase64Encoded");
            }),
            401,
            "invalid_signature",
        ),
    ];
    let wrong = run(&r, &receiver, rows).await;
    assert!(
        wrong.is_empty(),
        "rows that did not get their documented answer:\n{}",
        wrong.join("\n")
    );

    // The base64 path delivers the exact decoded bytes: signed over them, the event is queued.
    let signed = github_signature(not_utf8);
    let event = post("gh", &[("x-hub-signature-256", signed.as_str())], not_utf8);
    assert_eq!(event.is_base64_encoded, Some(true));
    let accepted = invoke(&receiver, event).await;
    assert_eq!(accepted.status, 202);
    let queued = support::drain(&r.sdk, &r.names.ingest_queue_url).await;
    let envelope = hookpost_shared::envelope::Envelope::decode(&queued[0]).expect("envelope");
    assert_eq!(envelope.body.bytes().expect("inline").as_ref(), not_utf8);
}

/// Sends `raw` (a whole HTTP/1.1 request) to `port` on 127.0.0.1; the status and the body.
async fn raw_http(port: u16, raw: &[u8]) -> (u16, String) {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    stream.write_all(raw).await.expect("write");
    let mut answer = Vec::new();
    // A server that closes on a malformed request may reset the connection: keep what arrived.
    // Every request asks to close; the bound only turns a server that does not into a failure.
    let _ = tokio::time::timeout(support::PATIENCE, stream.read_to_end(&mut answer)).await;
    let text = String::from_utf8_lossy(&answer).into_owned();
    let status = text
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

fn raw_post(target: &str, extra: &str, body: &[u8]) -> Vec<u8> {
    let mut raw = format!(
        "POST {target} HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\ncontent-length: {}\r\n{extra}\r\n",
        body.len()
    )
    .into_bytes();
    raw.extend_from_slice(body);
    raw
}

#[tokio::test]
async fn path_tricks_over_real_http_on_loopback_are_refused_and_queue_nothing() {
    // The loopback front of `hookpost local up` (local/src/front.rs), served here without the
    // poller so the ingest queue can be read: the raw request line reaches it as written (no
    // client normalises `..`).
    let (r, receiver, _) = hostile_stack().await;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0))
        .await
        .expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let server = tokio::spawn(hookpost_local::front::serve(
        listener,
        Arc::new(receiver),
        stopped,
    ));
    let sig = format!("x-hub-signature-256: {}\r\n", github_signature(BODY));
    let not_found = r#"{"message":"Not Found"}"#;
    let long = format!("/webhooks/{}", "a".repeat(8 * 1024));

    let mut wrong = Vec::new();
    for (target, status, expected) in [
        ("/webhooks/..", 404, "unknown_source"),
        ("/webhooks/.", 404, "unknown_source"),
        ("/webhooks/%2E%2E", 404, "unknown_source"),
        ("/webhooks/a%2Fb", 404, "unknown_source"),
        ("/webhooks/%2F", 404, "unknown_source"),
        ("/webhooks/gh%00", 404, "unknown_source"),
        ("/webhooks/%C3%A9", 404, "unknown_source"),
        ("/webhooks/%67%68", 404, "unknown_source"),
        (long.as_str(), 404, "unknown_source"),
        ("/webhooks/a/b", 404, not_found),
        ("/webhooks/../webhooks/gh", 404, not_found),
        ("/webhooks//gh", 404, not_found),
        ("/webhooks/gh/", 404, not_found),
        ("/webhooks/", 404, not_found),
        ("/webhooks", 404, not_found),
        ("/", 404, not_found),
        ("*", 404, not_found),
    ] {
        let (got, body) = raw_http(port, &raw_post(target, &sig, BODY)).await;
        if got != status || !body.contains(expected) {
            wrong.push(format!(
                "POST {}: got {got} {body}",
                &target[..target.len().min(40)]
            ));
        }
    }
    let get = b"GET /webhooks/gh HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n";
    let (got, body) = raw_http(port, get).await;
    if got != 405 || !body.contains("method_not_allowed") {
        wrong.push(format!("GET /webhooks/gh: got {got} {body}"));
    }
    // hyper refuses a header section over its buffer (about 400 KiB) before the receiver runs.
    let huge = format!("{sig}x-junk: {}\r\n", "j".repeat(1024 * 1024));
    let (got, _) = raw_http(port, &raw_post("/webhooks/gh", &huge, BODY)).await;
    if got != 431 {
        wrong.push(format!("a 1 MiB header: got {got}, expected 431"));
    }
    let (got, _) = raw_http(port, b"POST /webhooks/gh HTTP/1.1\r\nhost: \xff\r\nconnection: close\r\ncontent-length: 0\r\n\r\n").await;
    // hyper passes a non-ASCII Host through like any other header; unsigned, it is refused.
    if got != 401 {
        wrong.push(format!("a non-ASCII Host header: got {got}, expected 401"));
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert_eq!(
        support::queue_depth(&r.sdk, &r.names.ingest_queue_url).await,
        0
    );

    let (got, _) = raw_http(port, &raw_post("/webhooks/gh", &sig, BODY)).await;
    assert_eq!(got, 202);
    assert_eq!(
        support::queue_depth(&r.sdk, &r.names.ingest_queue_url).await,
        1
    );
    let _ = stop.send(true);
    let _ = server.await;
}
