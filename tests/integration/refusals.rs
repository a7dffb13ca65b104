//! Requests the receiver must refuse leave nothing on the queue; the same request signed
//! correctly is queued, so the emptiness is the refusal's doing.

use std::sync::Arc;

use hookpost_cli::signing::provider_headers;
use hookpost_shared::clock::SystemClock;
use hookpost_shared::secret::{Secret, SigningKey};
use hookpost_shared::signature::Provider;

use crate::support::{self, ApiEvent, invoke};

#[tokio::test]
async fn a_tampered_body_a_wrong_secret_and_a_stale_timestamp_each_get_401_and_leave_the_queue_empty()
 {
    let r = support::resources().await;
    let sw_secret = SigningKey::generate().expect("rng").to_whsec();
    support::add_source(&r.sdk, &r.names, "gh", Provider::Github, "right-secret").await;
    support::add_source(
        &r.sdk,
        &r.names,
        "sw",
        Provider::StandardWebhooks,
        sw_secret.expose(),
    )
    .await;
    let receiver = support::receiver(&r.sdk, &r.names, Arc::new(SystemClock));
    let body = br#"{"action":"opened"}"#;
    let now = support::now();

    let signed = provider_headers(
        Provider::Github,
        &Secret::new("right-secret"),
        body,
        Some("push"),
        now,
        &Default::default(),
    )
    .expect("signs");
    let tampered = invoke(
        &receiver,
        ApiEvent::post("gh")
            .headers(&signed)
            .body(br#"{"action":"closed"}"#)
            .event(),
    )
    .await;
    assert_eq!(
        (tampered.status, tampered.code()),
        (401, "invalid_signature".into())
    );

    let wrong = provider_headers(
        Provider::Github,
        &Secret::new("wrong-secret"),
        body,
        Some("push"),
        now,
        &Default::default(),
    )
    .expect("signs");
    let wrong = invoke(
        &receiver,
        ApiEvent::post("gh").headers(&wrong).body(body).event(),
    )
    .await;
    assert_eq!(
        (wrong.status, wrong.code()),
        (401, "invalid_signature".into())
    );

    let stale = provider_headers(
        Provider::StandardWebhooks,
        &sw_secret,
        body,
        None,
        now - 301,
        &Default::default(),
    )
    .expect("signs");
    let stale = invoke(
        &receiver,
        ApiEvent::post("sw").headers(&stale).body(body).event(),
    )
    .await;
    assert_eq!(
        (stale.status, stale.code()),
        (401, "timestamp_out_of_tolerance".into())
    );

    let unknown = invoke(
        &receiver,
        ApiEvent::post("nobody").headers(&signed).body(body).event(),
    )
    .await;
    assert_eq!(
        (unknown.status, unknown.code()),
        (404, "unknown_source".into())
    );

    assert_eq!(
        support::queue_depth(&r.sdk, &r.names.ingest_queue_url).await,
        0
    );

    let accepted = invoke(
        &receiver,
        ApiEvent::post("gh").headers(&signed).body(body).event(),
    )
    .await;
    assert_eq!(accepted.status, 202);
    assert_eq!(
        support::queue_depth(&r.sdk, &r.names.ingest_queue_url).await,
        1
    );
}

#[tokio::test]
async fn a_queue_that_refuses_the_event_gets_503_never_2xx() {
    let r = support::resources().await;
    support::add_source(&r.sdk, &r.names, "gh", Provider::Github, "s").await;
    let mut names = r.names.clone();
    names.ingest_queue_url = format!("{}-does-not-exist", names.ingest_queue_url);
    let receiver = support::receiver(&r.sdk, &names, Arc::new(SystemClock));
    let body = b"{}";
    let signed = provider_headers(
        Provider::Github,
        &Secret::new("s"),
        body,
        None,
        support::now(),
        &Default::default(),
    )
    .expect("signs");
    let response = invoke(
        &receiver,
        ApiEvent::post("gh").headers(&signed).body(body).event(),
    )
    .await;
    assert_eq!(
        (response.status, response.code()),
        (503, "enqueue_failed".into())
    );
    assert!(response.headers.contains_key("retry-after"));
}
