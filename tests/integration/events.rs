//! Every file in `events/` goes through the handler it is for, against the emulator, and gets the
//! answer events/README.md documents.

use std::sync::Arc;

use aws_lambda_events::event::sqs::SqsEvent;
use hookpost_cli::demo::{SAMPLE_GITHUB_SECRET, SAMPLE_GITHUB_SOURCE};
use hookpost_receiver::HttpApiEvent;
use hookpost_shared::clock::FixedClock;
use hookpost_shared::signature::Provider;

use crate::support::{self, PATIENCE};

const SW_SOURCE: &str = "standard-example";
const SW_SECRET: &str = "whsec_7UzIQLKOZqsTmC5bHNKCTWg062HvQszBFVVsFOmwHnc=";
/// The instant the Standard Webhooks sample was signed at.
const SW_SIGNED_AT: u64 = 1_795_402_800;

const EVENT_FILES: &[&str] = &[
    "apigw-api-create-source.json",
    "apigw-api-publish.json",
    "apigw-github-push.json",
    "apigw-github-tampered.json",
    "apigw-standard-webhooks.json",
    "sqs-batch-one.json",
    "sqs-batch-mixed.json",
];

fn read(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../events")
        .join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

#[test]
fn every_file_in_events_is_covered_here() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../events");
    let mut found: Vec<String> = std::fs::read_dir(dir)
        .expect("events/")
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".json"))
        .collect();
    found.sort();
    let mut covered: Vec<String> = EVENT_FILES.iter().map(|s| (*s).to_owned()).collect();
    covered.sort();
    assert_eq!(found, covered);
}

async fn receiver_answer(file: &str, at: u64) -> (u16, String) {
    let r = support::resources().await;
    support::add_source(
        &r.sdk,
        &r.names,
        SAMPLE_GITHUB_SOURCE,
        Provider::Github,
        SAMPLE_GITHUB_SECRET,
    )
    .await;
    support::add_source(
        &r.sdk,
        &r.names,
        SW_SOURCE,
        Provider::StandardWebhooks,
        SW_SECRET,
    )
    .await;
    let receiver = support::receiver(&r.sdk, &r.names, Arc::new(FixedClock::at_unix(at)));
    // As the deployed function reads its payload: the file's JSON into `HttpApiEvent`.
    let event: HttpApiEvent = serde_json::from_str(&read(file)).expect("an API Gateway v2 event");
    let response = receiver.handle_event(event).await;
    let body = response
        .body
        .as_ref()
        .map(|b| b.as_ref())
        .unwrap_or_default();
    let json: serde_json::Value = serde_json::from_slice(body).expect("json");
    let depth = support::queue_depth(&r.sdk, &r.names.ingest_queue_url).await;
    let status = u16::try_from(response.status_code).expect("an HTTP status");
    assert_eq!(
        depth,
        usize::from(status == 202),
        "queued exactly when accepted"
    );
    let code = json["error"]["code"].as_str().unwrap_or("").to_owned();
    (status, code)
}

#[tokio::test]
async fn the_api_gateway_samples_get_their_documented_answers() {
    let now = support::now().unsigned_abs();
    assert_eq!(
        receiver_answer("apigw-github-push.json", now).await,
        (202, String::new())
    );
    assert_eq!(
        receiver_answer("apigw-github-tampered.json", now).await,
        (401, "invalid_signature".to_owned())
    );
    assert_eq!(
        receiver_answer("apigw-standard-webhooks.json", SW_SIGNED_AT).await,
        (202, String::new())
    );
    assert_eq!(
        receiver_answer("apigw-standard-webhooks.json", SW_SIGNED_AT + 301).await,
        (401, "timestamp_out_of_tolerance".to_owned())
    );
}

#[tokio::test]
async fn the_sqs_samples_deliver_the_good_records_and_dead_letter_the_malformed_one() {
    let r = support::resources().await;
    let (subscriber, _) = support::add_subscriber(&r.sdk, &r.names, SAMPLE_GITHUB_SOURCE).await;
    let dispatcher = support::dispatcher(&r.sdk, &r.names);

    let one: SqsEvent = serde_json::from_str(&read("sqs-batch-one.json")).expect("SQS event");
    let response = dispatcher.handle(one, None).await;
    assert!(response.batch_item_failures.is_empty(), "{response:?}");

    let mixed: SqsEvent = serde_json::from_str(&read("sqs-batch-mixed.json")).expect("SQS event");
    let malformed = mixed.records[1].body.clone().expect("a body");
    let response = dispatcher.handle(mixed, None).await;
    // The malformed record can never be delivered: it goes to the dead-letter queue at once
    // instead of being reported failed for the queue to hand back.
    assert!(response.batch_item_failures.is_empty(), "{response:?}");
    assert_eq!(
        support::drain(&r.sdk, &r.names.dead_letter_queue_url).await,
        [malformed],
        "the malformed body, as it was"
    );

    let received = subscriber.wait_for(3, PATIENCE).await;
    assert_eq!(received.len(), 3, "one delivery per good record");
    assert!(received.iter().all(|d| d.verified));
    subscriber.stop();
}

#[tokio::test]
async fn the_api_sample_creates_its_source_once() {
    let r = support::resources().await;
    let ops = hookpost_operations::Operations::new(&r.sdk, r.names.clone(), None);
    let api = hookpost_api::Api::new(ops);
    let answer = |response: hookpost_receiver::ApiGatewayV2httpResponse| {
        let answer = support::Answer::from(response);
        (answer.status, answer.code(), answer.json())
    };
    let event = || -> hookpost_api::HttpApiEvent {
        serde_json::from_str(&read("apigw-api-create-source.json"))
            .expect("an API Gateway v2 event")
    };
    let (status, _, created) = answer(api.handle_event(event()).await);
    assert_eq!(status, 201, "{created}");
    assert_eq!(created["source_id"], "api-example");
    // The webhook URL, from the domain the request came through.
    assert_eq!(
        created["url"],
        "https://hookpost.execute-api.us-east-1.amazonaws.com/webhooks/api-example"
    );
    assert!(created["secret"].as_str().is_some_and(|s| !s.is_empty()));
    let (status, code, _) = answer(api.handle_event(event()).await);
    assert_eq!((status, code.as_str()), (409, "conflict"));
}

#[tokio::test]
async fn the_publish_sample_is_queued_once_and_its_repeat_is_a_duplicate() {
    let r = support::resources().await;
    let ops = hookpost_operations::Operations::new(&r.sdk, r.names.clone(), None);
    let api = hookpost_api::Api::new(ops.clone());
    let answer = |response: hookpost_receiver::ApiGatewayV2httpResponse| {
        let answer = support::Answer::from(response);
        (answer.status, answer.code(), answer.json())
    };
    let event = || -> hookpost_api::HttpApiEvent {
        serde_json::from_str(&read("apigw-api-publish.json")).expect("an API Gateway v2 event")
    };
    let (status, code, _) = answer(api.handle_event(event()).await);
    assert_eq!((status, code.as_str()), (404, "not_found"));

    ops.add_source(hookpost_operations::sources::NewSource {
        source_id: hookpost_shared::source::SourceId::parse("publish-example").expect("an id"),
        provider: Provider::Publish,
        secret: None,
        tolerance_seconds: None,
        options: Default::default(),
    })
    .await
    .expect("a publish source");
    let (status, _, first) = answer(api.handle_event(event()).await);
    assert_eq!(status, 202, "{first}");
    let (status, _, again) = answer(api.handle_event(event()).await);
    assert_eq!(status, 200, "{again}");
    assert_eq!(again["event_id"], first["event_id"]);
    assert_eq!(again["duplicate"], true);
    assert_eq!(
        support::queue_depth(&r.sdk, &r.names.ingest_queue_url).await,
        1
    );
}
