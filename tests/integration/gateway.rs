//! The local stack's HTTP API as API Gateway serves it: `/v1` behind the IAM (SigV4) check, over
//! real HTTP on loopback. Requests signed by `aws-sigv4` for the local credentials reach the
//! management API; unsigned, wrongly signed, stale, mis-scoped or altered ones are answered
//! `403 {"message":"Forbidden"}` before the function runs, and change nothing. `/webhooks/` stays
//! open, as deployed.

use std::time::{Duration, SystemTime};

use hookpost_cli::signing::provider_headers;
use hookpost_local::LocalStack;
use hookpost_shared::secret::Secret;
use hookpost_shared::signature::Provider;
use hookpost_testkit::SignedClient;
use http::Method;
use serde_json::{Value, json};

use crate::support;

fn forbidden() -> (u16, Value) {
    (403, json!({"message": "Forbidden"}))
}

async fn source_exists(client: &SignedClient, id: &str) -> bool {
    let (status, answer) = client.get(&format!("sources/{id}")).await;
    match status {
        200 => true,
        404 => false,
        _ => panic!("GET sources/{id}: {status} {answer}"),
    }
}

async fn stack() -> (LocalStack, SignedClient) {
    let stack = support::running_stack(None, None).await;
    let client = SignedClient::for_stack(&stack);
    (stack, client)
}

#[tokio::test]
async fn requests_signed_for_the_local_stack_reach_the_api_and_webhooks_stay_unsigned() {
    let (stack, client) = stack().await;
    assert_eq!(
        stack.state.api_url,
        stack.state.receiver_url.replace("/webhooks/", "/v1/")
    );

    let (status, listed) = client.get("sources").await;
    assert_eq!((status, &listed["items"]), (200, &json!([])), "{listed}");

    let (status, created) = client
        .post("sources", &json!({"id": "gh", "provider": "github"}))
        .await;
    assert_eq!(status, 201, "{created}");
    assert_eq!(
        created["url"],
        format!("{}gh", stack.state.receiver_url),
        "the webhook URL is the local receiver's"
    );
    let secret = created["secret"]
        .as_str()
        .expect("the secret, once")
        .to_owned();
    assert!(source_exists(&client, "gh").await);

    // Several query parameters, which SigV4 signs sorted.
    let (status, events) = client.get("events?type=push&source=gh&limit=2").await;
    assert_eq!((status, &events["items"]), (200, &json!([])), "{events}");

    // A subscription changed with PATCH and removed with DELETE.
    let (status, sub) = client
        .post(
            "subscriptions",
            &json!({"source": "gh", "url": "http://127.0.0.1:9/hook", "events": ["push"]}),
        )
        .await;
    assert_eq!(status, 201, "{sub}");
    let path = format!(
        "subscriptions/{}",
        sub["subscription_id"].as_str().expect("an id")
    );
    let (status, patched) = client
        .patch(&path, &json!({"events": ["push", "issues"]}))
        .await;
    assert_eq!(status, 200, "{patched}");
    assert_eq!(patched["event_types"], json!(["push", "issues"]));
    let (status, removed) = client.delete(&path).await;
    assert_eq!(status, 200, "{removed}");
    let (status, _) = client.get(&path).await;
    assert_eq!(status, 404);

    // The receiver's route takes no SigV4: the provider's own signature is what it checks.
    let body = br#"{"zen":"ok"}"#;
    let headers = provider_headers(
        Provider::Github,
        &Secret::new(&secret),
        body,
        Some("push"),
        support::now(),
        &Default::default(),
    )
    .expect("signs");
    let (status, accepted) =
        support::post(&format!("{}gh", stack.state.receiver_url), &headers, body).await;
    assert_eq!(status, 202, "{accepted}");

    stack.stop().await;
}

#[tokio::test]
async fn requests_not_signed_for_the_local_stack_are_forbidden_and_change_nothing() {
    let (stack, client) = stack().await;
    let create = |id: &str| json!({"id": id, "provider": "github"});
    let ten_minutes_ago = SystemTime::now() - Duration::from_secs(600);
    let in_ten_minutes = SystemTime::now() + Duration::from_secs(600);

    let cases: Vec<(&str, SignedClient)> = vec![
        (
            "wrong-secret",
            client.clone().with_credentials("test", "not-the-secret"),
        ),
        (
            "wrong-key",
            client.clone().with_credentials("AKIDEXAMPLE", "test"),
        ),
        ("wrong-region", client.clone().with_region("ap-south-2")),
        ("wrong-service", client.clone().with_service("s3")),
        ("expired", client.clone().signed_at(ten_minutes_ago)),
        ("future", client.clone().signed_at(in_ten_minutes)),
    ];
    for (id, wrong) in &cases {
        let answer = wrong.post("sources", &create(id)).await;
        assert_eq!(answer, forbidden(), "{id}");
        assert!(!source_exists(&client, id).await, "{id} was not created");
    }

    // Unsigned.
    let response = reqwest::Client::new()
        .post(client.url("sources"))
        .header("content-type", "application/json")
        .body(create("unsigned").to_string())
        .send()
        .await
        .expect("the local stack answers");
    assert_eq!(response.status().as_u16(), 403);
    assert_eq!(
        response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok()),
        Some("application/json")
    );
    let text = response.text().await.unwrap_or_default();
    assert_eq!(text, r#"{"message":"Forbidden"}"#);
    assert!(!source_exists(&client, "unsigned").await);

    // A correct signature over another body.
    let mut altered = client.request(Method::POST, "sources", Some(&create("signed")));
    *altered.body_mut() = create("altered").to_string().into_bytes();
    assert_eq!(client.send(altered).await, forbidden());
    assert!(!source_exists(&client, "signed").await);
    assert!(!source_exists(&client, "altered").await);

    // A correct signature for a read, sent to another path.
    let mut moved = client.request(Method::DELETE, "sources/keep", None);
    assert_eq!(
        client.post("sources", &create("keep")).await.0,
        201,
        "the source to keep"
    );
    *moved.uri_mut() = client
        .url("sources/keep?force=true")
        .parse()
        .expect("a URI");
    assert_eq!(client.send(moved).await, forbidden());
    assert!(source_exists(&client, "keep").await);

    let (_, listed) = client.get("sources").await;
    assert_eq!(
        listed["items"].as_array().map(Vec::len),
        Some(1),
        "only the source created with a good signature: {listed}"
    );

    stack.stop().await;
}
