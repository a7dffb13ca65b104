//! Routing by event type, end to end: a GitHub source's events are typed as GitHub's users
//! write them (`pull_request.opened`), and a subscription to `pull_request`, to
//! `pull_request.*` and to `pull_request.opened` each gets exactly what its filter names, as
//! does one stored before types carried the action.

use hookpost_operations::Operations;
use hookpost_operations::subscriptions::SubscriptionChanges;
use hookpost_shared::signature::Provider;

use crate::support;

const SECRET: &str = "routing-secret";

/// Every `action` of the `pull_request` event in GitHub's "Webhook events and payloads" page
/// (docs.github.com/en/webhooks/webhook-events-and-payloads#pull_request), as of 2026-12.
const PULL_REQUEST_ACTIONS: [&str; 21] = [
    "assigned",
    "auto_merge_disabled",
    "auto_merge_enabled",
    "closed",
    "converted_to_draft",
    "demilestoned",
    "dequeued",
    "edited",
    "enqueued",
    "labeled",
    "locked",
    "milestoned",
    "opened",
    "ready_for_review",
    "reopened",
    "review_request_removed",
    "review_requested",
    "synchronize",
    "unassigned",
    "unlabeled",
    "unlocked",
];

async fn post_github(stack: &hookpost_local::LocalStack, event: &str, body: &str) {
    post_github_as(stack, event, body, "application/json").await;
}

/// The `action` of every delivery a subscriber got, sorted.
fn actions(subscriber: &hookpost_testkit::subscriber::Subscriber) -> Vec<String> {
    let mut got: Vec<String> = subscriber
        .received()
        .iter()
        .map(|r| {
            let body: serde_json::Value = serde_json::from_slice(&r.body).expect("JSON");
            body["action"].as_str().unwrap_or("(none)").to_owned()
        })
        .collect();
    got.sort();
    got
}

#[tokio::test]
async fn each_pull_request_filter_gets_exactly_the_pull_request_events_a_github_user_expects() {
    let stack = support::running_stack(None, None).await;
    let (sdk, names) = (&stack.sdk, &stack.state.names);
    let ops = Operations::new(sdk, names.clone(), Some(stack.state.receiver_url.clone()));
    support::add_source(sdk, names, "gh", Provider::Github, SECRET).await;
    // Stored as subscriptions were before types carried the action: `pull_request` exactly.
    let (legacy, legacy_id) = support::add_subscriber(sdk, names, "gh").await;
    let mut subscribers = Vec::new();
    for filter in ["pull_request", "pull_request.*", "pull_request.opened"] {
        let (subscriber, id) = support::add_subscriber(sdk, names, "gh").await;
        ops.update_subscription(
            &id,
            SubscriptionChanges {
                event_types: Some(vec![filter.to_owned()]),
                ..SubscriptionChanges::default()
            },
        )
        .await
        .expect("the filter is set");
        subscribers.push((filter, subscriber));
    }
    support::set_event_types(sdk, names, &legacy_id, &["pull_request"]).await;

    for action in PULL_REQUEST_ACTIONS {
        let body = format!(r#"{{"action":"{action}","number":1,"pull_request":{{"id":1}}}}"#);
        post_github(&stack, "pull_request", &body).await;
    }
    // Neighbours no pull request filter may take.
    post_github(&stack, "pull_request_review", r#"{"action":"submitted"}"#).await;
    post_github(&stack, "push", r#"{"ref":"refs/heads/main"}"#).await;

    let every: Vec<String> = {
        let mut all: Vec<String> = PULL_REQUEST_ACTIONS.iter().map(|a| a.to_string()).collect();
        all.sort();
        all
    };
    // Every event was queued before this poll; the queue counts messages in flight too, so
    // empty means every event was dispatched to every subscription that wanted it.
    let drained = support::eventually(|| async {
        support::queue_depth(sdk, &names.ingest_queue_url).await == 0
    })
    .await;
    assert!(drained, "the ingest queue drains");
    for (filter, subscriber) in &subscribers {
        let expected = if *filter == "pull_request.opened" {
            vec!["opened".to_owned()]
        } else {
            every.clone()
        };
        assert_eq!(actions(subscriber), expected, "{filter}");
    }
    assert_eq!(
        actions(&legacy),
        every,
        "the subscription stored the old way"
    );

    // The archive shows the types as a GitHub user writes them.
    let opened = ops
        .list_events(
            &hookpost_operations::events::EventFilter {
                event_types: Some(vec!["pull_request.opened".to_owned()]),
                ..Default::default()
            },
            &hookpost_operations::PageRequest::first(50).expect("page"),
        )
        .await
        .expect("lists");
    assert_eq!(opened.items.len(), 1);
    assert_eq!(
        opened.items[0].event_type.as_deref(),
        Some("pull_request.opened")
    );

    for (_, subscriber) in subscribers {
        subscriber.stop();
    }
    legacy.stop();
    stack.stop().await;
}

/// A GitHub delivery with the given body and content type.
async fn post_github_as(
    stack: &hookpost_local::LocalStack,
    event: &str,
    body: &str,
    content_type: &str,
) {
    support::post_github(stack, "gh", SECRET, event, body, content_type).await;
}

#[tokio::test]
async fn a_payload_filter_picks_events_by_their_content_and_never_a_body_that_is_not_json() {
    let stack = support::running_stack(None, None).await;
    let (sdk, names) = (&stack.sdk, &stack.state.names);
    let ops = Operations::new(sdk, names.clone(), Some(stack.state.receiver_url.clone()));
    support::add_source(sdk, names, "gh", Provider::Github, SECRET).await;
    let mut subscribers = Vec::new();
    for filter in [
        // Big orders only.
        r#"{"body": {"amount": [{"numeric": [">=", 100]}]}}"#,
        // Tag pushes: the type, a kept header and a prefix on the body.
        r#"{"type": ["push"], "headers": {"x-github-event": ["push"]}, "body": {"ref": [{"prefix": "refs/tags/"}]}}"#,
        // Looks into the body with exists:false, which a body that is not JSON must not pass.
        r#"{"body": {"amount": [{"exists": false}]}}"#,
    ] {
        let (subscriber, id) = support::add_subscriber(sdk, names, "gh").await;
        let view = ops
            .update_subscription(
                &id,
                SubscriptionChanges {
                    filter: Some(Some(serde_json::from_str(filter).expect("JSON"))),
                    ..SubscriptionChanges::default()
                },
            )
            .await
            .expect("the filter is set");
        assert_eq!(
            view.filter,
            Some(serde_json::from_str(filter).expect("JSON")),
            "shown as given"
        );
        subscribers.push(subscriber);
    }

    post_github(&stack, "order", r#"{"amount": 50}"#).await;
    post_github(&stack, "order", r#"{"amount": 150}"#).await;
    post_github(&stack, "push", r#"{"ref": "refs/tags/v1.0"}"#).await;
    post_github(&stack, "push", r#"{"ref": "refs/heads/main"}"#).await;
    post_github_as(
        &stack,
        "push",
        "payload=%7B%7D",
        "application/x-www-form-urlencoded",
    )
    .await;
    let drained = support::eventually(|| async {
        support::queue_depth(sdk, &names.ingest_queue_url).await == 0
    })
    .await;
    assert!(drained, "the ingest queue drains");

    let bodies = |i: usize| -> Vec<String> {
        let mut got: Vec<String> = subscribers[i]
            .received()
            .iter()
            .map(|r| String::from_utf8_lossy(&r.body).into_owned())
            .collect();
        got.sort();
        got
    };
    assert_eq!(bodies(0), [r#"{"amount": 150}"#]);
    assert_eq!(bodies(1), [r#"{"ref": "refs/tags/v1.0"}"#]);
    assert_eq!(
        bodies(2),
        [
            r#"{"ref": "refs/heads/main"}"#,
            r#"{"ref": "refs/tags/v1.0"}"#
        ],
        "every JSON body without an amount, and not the form-encoded one"
    );
    for subscriber in subscribers {
        subscriber.stop();
    }
    stack.stop().await;
}

#[tokio::test]
async fn an_invalid_filter_is_refused_with_the_path_of_the_offending_key_and_nothing_is_stored() {
    let stack = support::running_stack(None, None).await;
    let env = crate::cli::stack_env(&stack);
    crate::cli::ok(
        &env,
        &[
            "sources",
            "add",
            "gh",
            "--provider",
            "github",
            "--secret",
            SECRET,
        ],
    )
    .await;
    let refused = crate::cli::hookpost(
        &env,
        &[
            "subscriptions",
            "add",
            "--source",
            "gh",
            "--url",
            "http://127.0.0.1:9/hook",
            "--filter",
            r#"{"body": {"amount": [{"numeric": ["~", 1]}]}}"#,
        ],
    )
    .await;
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(refused.stderr.contains("filter"), "{}", refused.stderr);
    assert!(refused.stderr.contains("body.amount"), "{}", refused.stderr);
    let not_json = crate::cli::hookpost(
        &env,
        &[
            "subscriptions",
            "add",
            "--source",
            "gh",
            "--url",
            "http://127.0.0.1:9/hook",
            "--filter",
            "{body",
        ],
    )
    .await;
    assert_eq!(not_json.code, 2, "{}", not_json.stderr);
    assert!(not_json.stderr.contains("not JSON"), "{}", not_json.stderr);
    let listed = crate::cli::ok(&env, &["subscriptions", "list"]).await;
    assert_eq!(listed, serde_json::json!([]), "nothing was stored");

    let created = crate::cli::ok(
        &env,
        &[
            "subscriptions",
            "add",
            "--source",
            "gh",
            "--url",
            "http://127.0.0.1:9/hook",
            "--filter",
            r#"{"type": [{"prefix": "pull_request."}]}"#,
        ],
    )
    .await;
    assert_eq!(
        created["filter"],
        serde_json::json!({"type": [{"prefix": "pull_request."}]})
    );
    let id = created["subscription_id"]
        .as_str()
        .expect("an id")
        .to_owned();
    let cleared = crate::cli::ok(&env, &["subscriptions", "update", &id, "--clear-filter"]).await;
    assert_eq!(cleared["filter"], serde_json::Value::Null, "{cleared}");
    stack.stop().await;
}
