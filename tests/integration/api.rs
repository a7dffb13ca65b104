//! The management API as it is deployed: API Gateway payload 2.0 events, read as the function
//! reads them, handed to `Api::handle_event` over a stack on the emulator. A source and a
//! subscription managed through `/v1`, events and dead letters read back; and hostile input,
//! each answered with its status and code and nothing changed in the tables.

use hookpost_api::{Api, HttpApiEvent};
use hookpost_cli::signing::provider_headers;
use hookpost_operations::{Operations, PageRequest};
use hookpost_shared::secret::Secret;
use hookpost_shared::signature::Provider;
use hookpost_testkit::Subscriber;
use serde_json::{Value, json};

use crate::support;

/// One request to `/v1`, as API Gateway hands it to the function (stage `$default`).
fn event(method: &str, target: &str, headers: &[(&str, &str)], body: Option<&str>) -> HttpApiEvent {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let headers: serde_json::Map<String, Value> = headers
        .iter()
        .map(|(k, v)| (k.to_ascii_lowercase(), Value::from(*v)))
        .collect();
    let mut payload = json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "hookpost",
            "http": { "method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "192.0.2.1" },
            "requestId": "it-request",
            "routeKey": "$default",
            "stage": "$default",
            "timeEpoch": 1_700_000_000_000_i64,
        },
        "isBase64Encoded": false,
    });
    if let Some(body) = body {
        payload["body"] = body.into();
    }
    serde_json::from_value(payload).expect("an API Gateway payload 2.0 event")
}

/// The status and JSON body of `method target`, with a JSON body when one is given.
async fn call(api: &Api, method: &str, target: &str, body: Option<Value>) -> (u16, Value) {
    let text = body.map(|b| b.to_string());
    let headers: &[(&str, &str)] = if text.is_some() {
        &[("content-type", "application/json")]
    } else {
        &[]
    };
    send(api, event(method, target, headers, text.as_deref())).await
}

async fn send(api: &Api, event: HttpApiEvent) -> (u16, Value) {
    let answer = support::Answer::from(api.handle_event(event).await);
    (answer.status, answer.json())
}

fn api_over(
    sdk: &aws_config::SdkConfig,
    names: &hookpost_shared::deployment::StackNames,
) -> (Api, Operations) {
    let ops = Operations::new(
        sdk,
        names.clone(),
        Some("https://hooks.example.com/webhooks/".into()),
    );
    (Api::new(ops.clone()), ops)
}

#[tokio::test]
async fn a_source_and_subscription_are_managed_and_events_and_dead_letters_read_through_the_api() {
    let stack = support::running_stack(Some(1), Some("1s")).await;
    let (api, _) = api_over(&stack.sdk, &stack.state.names);

    // Create: the secret once, with the webhook URL.
    let (status, created) = call(
        &api,
        "POST",
        "/v1/sources",
        Some(json!({"id": "gh", "provider": "github"})),
    )
    .await;
    assert_eq!(status, 201, "{created}");
    let secret = created["secret"]
        .as_str()
        .expect("the secret, once")
        .to_owned();
    assert_eq!(created["url"], "https://hooks.example.com/webhooks/gh");
    let (status, again) = call(
        &api,
        "POST",
        "/v1/sources",
        Some(json!({"id": "gh", "provider": "github"})),
    )
    .await;
    assert_eq!(
        (status, again["error"]["code"].as_str()),
        (409, Some("conflict"))
    );

    // Read: never the secret.
    let (status, read) = call(&api, "GET", "/v1/sources/gh", None).await;
    assert_eq!(status, 200, "{read}");
    assert!(read.get("secret").is_none());
    assert!(!read.to_string().contains(&secret));
    assert_eq!(read["secrets"], 1);

    // Rotate: a second secret beside the first, shown once; finishing keeps only the new one.
    let (status, rotated) = call(&api, "POST", "/v1/sources/gh/rotate-secret", None).await;
    assert_eq!(
        (status, rotated["secrets"].as_u64()),
        (200, Some(2)),
        "{rotated}"
    );
    let secret = rotated["secret"]
        .as_str()
        .expect("the new secret, once")
        .to_owned();
    let (status, finished) = call(
        &api,
        "POST",
        "/v1/sources/gh/rotate-secret?finish=true",
        None,
    )
    .await;
    assert_eq!(
        (status, finished["retired"].as_u64()),
        (200, Some(1)),
        "{finished}"
    );
    assert!(finished.get("secret").is_none());
    let (_, read) = call(&api, "GET", "/v1/sources/gh", None).await;
    assert!(!read.to_string().contains(&secret));

    // Paging: two pages of two and one, the second from the first's cursor.
    for id in ["shop", "zoo"] {
        let (status, _) = call(
            &api,
            "POST",
            "/v1/sources",
            Some(json!({"id": id, "provider": "github"})),
        )
        .await;
        assert_eq!(status, 201);
    }
    let (_, first) = call(&api, "GET", "/v1/sources?limit=2", None).await;
    let ids = |page: &Value| -> Vec<String> {
        page["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|s| s["source_id"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    assert_eq!(ids(&first), ["gh", "shop"]);
    let cursor = first["next_cursor"]
        .as_str()
        .expect("a next page")
        .to_owned();
    let (status, second) = call(
        &api,
        "GET",
        &format!("/v1/sources?limit=2&cursor={cursor}"),
        None,
    )
    .await;
    assert_eq!(status, 200, "{second}");
    assert_eq!(ids(&second), ["zoo"]);
    assert!(second["next_cursor"].is_null());

    // A subscription whose subscriber cannot verify (its key is its own): every delivery fails.
    let subscriber = Subscriber::start().await.expect("subscriber on 127.0.0.1");
    let (status, sub) = call(
        &api,
        "POST",
        "/v1/subscriptions",
        Some(json!({"source": "gh", "url": subscriber.url, "events": ["push"]})),
    )
    .await;
    assert_eq!(status, 201, "{sub}");
    assert!(
        sub["secret"]
            .as_str()
            .is_some_and(|s| s.starts_with("whsec_"))
    );
    let sub_id = sub["subscription_id"].as_str().expect("an id").to_owned();
    let (_, read) = call(&api, "GET", &format!("/v1/subscriptions/{sub_id}"), None).await;
    assert!(
        read.get("secret").is_none() && read["enabled"] == true,
        "{read}"
    );

    let (_, disabled) = call(
        &api,
        "POST",
        &format!("/v1/subscriptions/{sub_id}/disable"),
        Some(json!({"reason": "maintenance"})),
    )
    .await;
    assert_eq!(
        (
            disabled["enabled"].as_bool(),
            disabled["disabled_reason"].as_str()
        ),
        (Some(false), Some("maintenance"))
    );
    let (_, enabled) = call(
        &api,
        "POST",
        &format!("/v1/subscriptions/{sub_id}/enable"),
        None,
    )
    .await;
    assert_eq!(enabled["enabled"], true);
    let (status, rotated) = call(
        &api,
        "POST",
        &format!("/v1/subscriptions/{sub_id}/rotate-secret"),
        None,
    )
    .await;
    assert_eq!(
        (status, rotated["secrets"].as_u64()),
        (200, Some(2)),
        "{rotated}"
    );
    assert!(
        rotated["secret"]
            .as_str()
            .is_some_and(|s| s.starts_with("whsec_"))
    );
    let (_, finished) = call(
        &api,
        "POST",
        &format!("/v1/subscriptions/{sub_id}/rotate-secret?finish=true"),
        None,
    )
    .await;
    assert_eq!(
        (finished["retired"].as_u64(), finished.get("secret")),
        (Some(1), None)
    );
    let (status, patched) = call(
        &api,
        "PATCH",
        &format!("/v1/subscriptions/{sub_id}"),
        Some(json!({"events": ["push", "issues"], "timeout_seconds": 5})),
    )
    .await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["event_types"], json!(["push", "issues"]));
    assert_eq!(patched["timeout_seconds"], 5);
    let (status, _) = call(&api, "DELETE", "/v1/sources/zoo", None).await;
    assert_eq!(status, 200);
    let (status, gone) = call(&api, "GET", "/v1/sources/zoo", None).await;
    assert_eq!(
        (status, gone["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
    let (_, listed) = call(&api, "GET", "/v1/subscriptions?source=gh", None).await;
    assert_eq!(listed["items"].as_array().map(Vec::len), Some(1));

    // Two events through the receiver.
    let url = format!("{}gh", stack.state.receiver_url);
    let mut event_ids = Vec::new();
    for n in 0..2 {
        let body = format!(r#"{{"n":{n}}}"#);
        let headers = provider_headers(
            Provider::Github,
            &Secret::new(&secret),
            body.as_bytes(),
            Some("push"),
            support::now(),
            &Default::default(),
        )
        .expect("signs");
        let (status, json) = support::post(&url, &headers, body.as_bytes()).await;
        assert_eq!(status, 202, "{json}");
        event_ids.push(json["event_id"].as_str().expect("an event id").to_owned());
    }

    // Each is archived, fails once and is dead-lettered.
    let dead = support::eventually(|| async {
        support::queue_depth(&stack.sdk, &stack.state.names.dead_letter_queue_url).await == 2
    })
    .await;
    assert!(dead, "both events are dead-lettered");
    let (status, events) = call(&api, "GET", "/v1/events?source=gh&type=push", None).await;
    assert_eq!(status, 200, "{events}");
    let mut listed: Vec<String> = events["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|e| e["event_id"].as_str().unwrap_or_default().to_owned())
        .collect();
    listed.sort();
    let mut expected = event_ids.clone();
    expected.sort();
    assert_eq!(listed, expected);
    let (status, one) = call(&api, "GET", &format!("/v1/events/{}", event_ids[0]), None).await;
    assert_eq!(
        (status, one["source_id"].as_str()),
        (200, Some("gh")),
        "{one}"
    );

    // Its attempts and the queue, read through the API.
    let (status, deliveries) = call(
        &api,
        "GET",
        &format!("/v1/events/{}/deliveries", event_ids[0]),
        None,
    )
    .await;
    assert_eq!(status, 200, "{deliveries}");
    let records = deliveries["items"].as_array().expect("items");
    assert!(
        records
            .iter()
            .any(|r| r["subscription_id"] == sub_id.as_str()),
        "{deliveries}"
    );

    let (status, letters) = call(&api, "GET", "/v1/dead-letters?limit=1", None).await;
    assert_eq!(status, 200, "{letters}");
    assert_eq!(letters["items"].as_array().map(Vec::len), Some(1));
    let cursor = letters["next_cursor"]
        .as_str()
        .expect("a second page")
        .to_owned();
    let (_, rest) = call(
        &api,
        "GET",
        &format!("/v1/dead-letters?limit=1&cursor={cursor}"),
        None,
    )
    .await;
    let mut seen: Vec<String> = [&letters, &rest]
        .iter()
        .flat_map(|p| p["items"].as_array().cloned().unwrap_or_default())
        .map(|d| d["event_id"].as_str().unwrap_or_default().to_owned())
        .collect();
    seen.sort();
    assert_eq!(seen, expected);
    let (status, letter) = call(
        &api,
        "GET",
        &format!("/v1/dead-letters/{}", event_ids[1]),
        None,
    )
    .await;
    assert_eq!(
        (status, letter["event_id"].as_str()),
        (200, Some(event_ids[1].as_str())),
        "{letter}"
    );

    // Replay one event, recover the window dry, redrive one dead letter, purge the rest.
    let (status, replayed) = call(
        &api,
        "POST",
        &format!("/v1/events/{}/replay", event_ids[0]),
        None,
    )
    .await;
    assert_eq!(status, 202, "{replayed}");
    assert_eq!(replayed["event_id"], event_ids[0].as_str());
    let (status, dry) = call(
        &api,
        "POST",
        "/v1/events/replay",
        Some(json!({"since": "1h", "source": "gh", "dry_run": true})),
    )
    .await;
    assert_eq!(status, 200, "{dry}");
    assert_eq!(
        (dry["events_scanned"].as_u64(), dry["dry_run"].as_bool()),
        (Some(2), Some(true))
    );
    let (status, moved) = call(
        &api,
        "POST",
        "/v1/dead-letters/redrive",
        Some(json!({"event_ids": [event_ids[1]]})),
    )
    .await;
    assert_eq!(status, 200, "{moved}");
    assert_eq!(moved["moved"], 1);
    let (status, purged) = call(&api, "DELETE", "/v1/dead-letters?confirm=purge", None).await;
    assert_eq!(status, 200, "{purged}");

    // The subscription's secret never reached a read.
    assert!(!read.to_string().contains("whsec_"));
    subscriber.stop();
}

/// The tables' contents, as the core lists them.
async fn snapshot(ops: &Operations) -> (Value, Value) {
    let page = PageRequest::first(500).expect("limit");
    let sources = ops.list_sources(&page).await.expect("sources");
    let subscriptions = ops
        .list_subscriptions(None, &page)
        .await
        .expect("subscriptions");
    (
        serde_json::to_value(sources).expect("json"),
        serde_json::to_value(subscriptions).expect("json"),
    )
}

#[tokio::test]
async fn hostile_requests_get_their_status_and_code_and_change_nothing() {
    let r = support::resources().await;
    let (api, ops) = api_over(&r.sdk, &r.names);
    let (status, _) = call(
        &api,
        "POST",
        "/v1/sources",
        Some(json!({"id": "gh", "provider": "github"})),
    )
    .await;
    assert_eq!(status, 201);
    let (status, _) = call(
        &api,
        "POST",
        "/v1/sources",
        Some(json!({"id": "shop", "provider": "github"})),
    )
    .await;
    assert_eq!(status, 201);
    let (_, page) = call(&api, "GET", "/v1/sources?limit=1", None).await;
    let cursor = page["next_cursor"]
        .as_str()
        .expect("a next page")
        .to_owned();
    let mut tampered = cursor.clone();
    tampered.insert(4, 'x');
    let before = snapshot(&ops).await;

    let json_type = [("content-type", "application/json")];
    let big = format!(
        r#"{{"id": "big", "provider": "github", "secret": "{}"}}"#,
        "a".repeat(1024 * 1024)
    );
    let cases: Vec<(&str, HttpApiEvent, u16, &str)> = vec![
        (
            "body not JSON",
            event("POST", "/v1/sources", &json_type, Some("{\"id\": \"x\",")),
            400,
            "invalid_json",
        ),
        (
            "wrong content type",
            event(
                "POST",
                "/v1/sources",
                &[("content-type", "text/plain")],
                Some(r#"{"id":"x","provider":"github"}"#),
            ),
            415,
            "unsupported_media_type",
        ),
        (
            "unknown field",
            event(
                "POST",
                "/v1/sources",
                &json_type,
                Some(r#"{"id":"x","provider":"github","admin":true}"#),
            ),
            400,
            "invalid",
        ),
        (
            "unknown provider",
            event(
                "POST",
                "/v1/sources",
                &json_type,
                Some(r#"{"id":"x","provider":"paypal"}"#),
            ),
            400,
            "invalid",
        ),
        (
            "tampered cursor",
            event("GET", &format!("/v1/sources?cursor={tampered}"), &[], None),
            400,
            "invalid",
        ),
        (
            "cursor from another list",
            event(
                "GET",
                &format!("/v1/subscriptions?cursor={cursor}"),
                &[],
                None,
            ),
            400,
            "invalid",
        ),
        (
            "limit 0",
            event("GET", "/v1/sources?limit=0", &[], None),
            400,
            "invalid",
        ),
        (
            "limit 10000",
            event("GET", "/v1/sources?limit=10000", &[], None),
            400,
            "invalid",
        ),
        (
            "an id that cannot exist",
            event("GET", "/v1/sources/..%2F", &[], None),
            404,
            "not_found",
        ),
        (
            "a source that does not exist",
            event("DELETE", "/v1/sources/nope", &[], None),
            404,
            "not_found",
        ),
        (
            "a subscription that does not exist",
            event(
                "PATCH",
                "/v1/subscriptions/sub_nope",
                &json_type,
                Some(r#"{"url":"https://example.com/h"}"#),
            ),
            404,
            "not_found",
        ),
        (
            "1 MiB body",
            event("POST", "/v1/sources", &json_type, Some(&big)),
            413,
            "payload_too_large",
        ),
        (
            "GET on a POST-only route",
            event("GET", "/v1/dead-letters/redrive", &[], None),
            405,
            "method_not_allowed",
        ),
        (
            "purge without confirm",
            event("DELETE", "/v1/dead-letters", &[], None),
            400,
            "invalid",
        ),
        (
            "an unknown path",
            event("GET", "/v1/secrets", &[], None),
            404,
            "not_found",
        ),
        (
            "a subscription URL that cannot receive webhooks",
            event(
                "POST",
                "/v1/subscriptions",
                &json_type,
                Some(r#"{"source":"gh","url":"ftp://example.com"}"#),
            ),
            400,
            "invalid",
        ),
        (
            "an ARN the stack's DestinationArns does not list",
            event(
                "POST",
                "/v1/subscriptions",
                &json_type,
                Some(r#"{"source":"gh","url":"arn:aws:sqs:us-east-1:123456789012:elsewhere"}"#),
            ),
            400,
            "invalid",
        ),
        (
            "a payload filter with an unknown operator",
            event(
                "POST",
                "/v1/subscriptions",
                &json_type,
                Some(
                    r#"{"source":"gh","url":"http://127.0.0.1:9/","filter":{"body":{"amount":[{"numeric":["~",1]}]}}}"#,
                ),
            ),
            400,
            "invalid",
        ),
        (
            "a payload filter that is not an object",
            event(
                "POST",
                "/v1/subscriptions",
                &json_type,
                Some(r#"{"source":"gh","url":"http://127.0.0.1:9/","filter":["push"]}"#),
            ),
            400,
            "invalid",
        ),
        (
            "a rate of nothing",
            event(
                "POST",
                "/v1/subscriptions",
                &json_type,
                Some(r#"{"source":"gh","url":"http://127.0.0.1:9/","rate":"0/s"}"#),
            ),
            400,
            "invalid",
        ),
        (
            "a rate per day",
            event(
                "POST",
                "/v1/subscriptions",
                &json_type,
                Some(r#"{"source":"gh","url":"http://127.0.0.1:9/","rate":"5/d"}"#),
            ),
            400,
            "invalid",
        ),
        (
            "a rate that is not a rate",
            event(
                "POST",
                "/v1/subscriptions",
                &json_type,
                Some(r#"{"source":"gh","url":"http://127.0.0.1:9/","rate":"fast"}"#),
            ),
            400,
            "invalid",
        ),
        (
            "a rate as a number",
            event(
                "POST",
                "/v1/subscriptions",
                &json_type,
                Some(r#"{"source":"gh","url":"http://127.0.0.1:9/","rate":20}"#),
            ),
            400,
            "invalid",
        ),
        (
            "a rate beyond the limiter",
            event(
                "POST",
                "/v1/subscriptions",
                &json_type,
                Some(r#"{"source":"gh","url":"http://127.0.0.1:9/","rate":"4294967295/s"}"#),
            ),
            400,
            "invalid",
        ),
        (
            "a negative rate",
            event(
                "POST",
                "/v1/subscriptions",
                &json_type,
                Some(r#"{"source":"gh","url":"http://127.0.0.1:9/","rate":"-5/s"}"#),
            ),
            400,
            "invalid",
        ),
        (
            "a burst of 0",
            event(
                "POST",
                "/v1/subscriptions",
                &json_type,
                Some(r#"{"source":"gh","url":"http://127.0.0.1:9/","rate":"5/s","burst":0}"#),
            ),
            400,
            "invalid",
        ),
        (
            "a burst without a rate",
            event(
                "POST",
                "/v1/subscriptions",
                &json_type,
                Some(r#"{"source":"gh","url":"http://127.0.0.1:9/","burst":5}"#),
            ),
            400,
            "invalid",
        ),
        (
            "a burst beyond any",
            event(
                "POST",
                "/v1/subscriptions",
                &json_type,
                Some(
                    r#"{"source":"gh","url":"http://127.0.0.1:9/","rate":"5/s","burst":99999999999}"#,
                ),
            ),
            400,
            "invalid",
        ),
        (
            "a changed rate that is not a rate",
            event(
                "PATCH",
                "/v1/subscriptions/sub_nope",
                &json_type,
                Some(r#"{"rate":"5 per second"}"#),
            ),
            400,
            "invalid",
        ),
        (
            "a redrive that names nothing",
            event("POST", "/v1/dead-letters/redrive", &json_type, Some("{}")),
            400,
            "invalid",
        ),
        (
            "a signature scheme that does not exist",
            event(
                "POST",
                "/v1/subscriptions",
                &json_type,
                Some(r#"{"source":"gh","url":"http://127.0.0.1:9/","signature":"v2"}"#),
            ),
            400,
            "invalid",
        ),
        (
            "a signature scheme named twice",
            event(
                "POST",
                "/v1/subscriptions",
                &json_type,
                Some(r#"{"source":"gh","url":"http://127.0.0.1:9/","signature":"v1a,v1a"}"#),
            ),
            400,
            "invalid",
        ),
        (
            "an empty signature",
            event(
                "POST",
                "/v1/subscriptions",
                &json_type,
                Some(r#"{"source":"gh","url":"http://127.0.0.1:9/","signature":""}"#),
            ),
            400,
            "invalid",
        ),
        (
            "a signature that is not a string",
            event(
                "POST",
                "/v1/subscriptions",
                &json_type,
                Some(r#"{"source":"gh","url":"http://127.0.0.1:9/","signature":["v1"]}"#),
            ),
            400,
            "invalid",
        ),
        (
            "a rotation to a signature scheme that does not exist",
            event(
                "POST",
                "/v1/subscriptions/sub_nope/rotate-secret",
                &json_type,
                Some(r#"{"signature":"whsk_"}"#),
            ),
            400,
            "invalid",
        ),
    ];
    for (what, request, status, code) in cases {
        let answer = support::Answer::from(api.handle_event(request).await);
        let message = answer.json()["error"]["message"].to_string();
        if what.contains("signature") && what != "a signature that is not a string" {
            assert!(
                message.contains("signature") && message.contains("v1,v1a"),
                "{what}: the message names the field and the allowed values: {message}"
            );
        }
        assert_eq!(
            (answer.status, answer.code().as_str()),
            (status, code),
            "{what}: {}",
            answer.json()
        );
        assert!(
            answer.json()["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{what}"
        );
        if status == 405 {
            assert_eq!(
                answer.headers.get("allow").and_then(|v| v.to_str().ok()),
                Some("POST")
            );
        }
    }
    assert_eq!(
        snapshot(&ops).await,
        before,
        "nothing changed in the tables"
    );
    for queue in [&r.names.ingest_queue_url, &r.names.dead_letter_queue_url] {
        assert_eq!(
            support::queue_depth(&r.sdk, queue).await,
            0,
            "nothing queued"
        );
    }
}
