//! The operations core through the `hookpost` binary, at the depths an outage leaves behind: a
//! dead-letter queue listed in full and redriven by source, a window recovered for the one
//! subscription that missed it, and no command that reads a whole table to find one item.

use std::collections::HashSet;

use futures_util::future::join_all;
use hookpost_cli::signing::provider_headers;
use hookpost_local::LocalStack;
use hookpost_shared::secret::Secret;
use hookpost_shared::signature::Provider;
use hookpost_testkit::proxy::{FaultProxy, FaultShares};
use serde_json::Value;

use crate::cli::{hookpost, ok, stack_env};
use crate::support::{self, PATIENCE};

/// Posts `count` signed GitHub `push` events to `source`, all at once; their event ids.
async fn post_events(stack: &LocalStack, source: &str, secret: &str, count: usize) -> Vec<String> {
    let bodies = (0..count).map(|n| format!(r#"{{"n":{n}}}"#)).collect();
    post_bodies(stack, source, secret, bodies).await
}

/// Posts one signed GitHub `push` event per body to `source`, all at once; their event ids.
async fn post_bodies(
    stack: &LocalStack,
    source: &str,
    secret: &str,
    bodies: Vec<String>,
) -> Vec<String> {
    let url = format!("{}{source}", stack.state.receiver_url);
    let posts = bodies.into_iter().map(|body| {
        let url = url.clone();
        async move {
            let headers = provider_headers(
                Provider::Github,
                &Secret::new(secret),
                body.as_bytes(),
                Some("push"),
                support::now(),
                &Default::default(),
            )
            .expect("signs");
            let (status, json) = support::post(&url, &headers, body.as_bytes()).await;
            assert_eq!(status, 202, "{json}");
            json["event_id"].as_str().expect("an event id").to_owned()
        }
    });
    join_all(posts).await
}

fn ids(rows: &Value) -> Vec<String> {
    rows.as_array()
        .expect("an array")
        .iter()
        .map(|r| r["event_id"].as_str().expect("an event id").to_owned())
        .collect()
}

#[tokio::test]
async fn every_dead_letter_is_listed_at_any_depth_and_a_redrive_by_source_moves_only_that_sources()
{
    let stack = support::running_stack(Some(1), Some("1s")).await;
    let (sdk, names) = (&stack.sdk, &stack.state.names);
    let env = stack_env(&stack);
    support::add_source(sdk, names, "gh", Provider::Github, "s-gh").await;
    support::add_source(sdk, names, "shop", Provider::Github, "s-shop").await;
    let (gh_down, _) = support::add_subscriber(sdk, names, "gh").await;
    let (shop_down, _) = support::add_subscriber(sdk, names, "shop").await;
    gh_down.answer_with(503);
    shop_down.answer_with(503);

    let (gh_events, shop_events) = tokio::join!(
        post_events(&stack, "gh", "s-gh", 40),
        post_events(&stack, "shop", "s-shop", 20)
    );
    let all_dead = support::eventually(|| async {
        support::queue_depth(sdk, &names.dead_letter_queue_url).await == 60
    })
    .await;
    assert!(
        all_dead,
        "all 60 events are dead-lettered: {} in the DLQ, {} on the ingest queue, gh got {}, shop {}",
        support::queue_depth(sdk, &names.dead_letter_queue_url).await,
        support::queue_depth(sdk, &names.ingest_queue_url).await,
        gh_down.received().len(),
        shop_down.received().len()
    );

    // The whole queue, not a sample: every event once.
    let listed = ids(&ok(&env, &["dlq", "list"]).await);
    assert_eq!(listed.len(), 60);
    let expected: HashSet<&String> = gh_events.iter().chain(&shop_events).collect();
    assert_eq!(listed.iter().collect::<HashSet<_>>(), expected);
    // The listing put every message back.
    assert_eq!(
        support::queue_depth(sdk, &names.dead_letter_queue_url).await,
        60
    );

    // Pages of 25 cover the queue once, in the same order.
    let mut paged = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut args = vec!["dlq", "list", "--limit", "25"];
        if let Some(c) = &cursor {
            args.extend(["--cursor", c.as_str()]);
        }
        let run = hookpost(&env, &args).await;
        assert_eq!(run.code, 0, "{}", run.stderr);
        paged.extend(ids(&run.json));
        cursor = run
            .stderr
            .lines()
            .find_map(|l| l.strip_prefix("more dead letters: add --cursor "))
            .map(str::to_owned);
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(paged, listed);

    let by_source = ids(&ok(&env, &["dlq", "list", "--source", "shop"]).await);
    assert_eq!(
        by_source.iter().collect::<HashSet<_>>(),
        shop_events.iter().collect()
    );
    let tampered = hookpost(&env, &["dlq", "list", "--limit", "5", "--cursor", "bm9wZQ"]).await;
    assert_eq!(
        tampered.code, 2,
        "a cursor that was never returned is bad usage"
    );
    assert!(tampered.stderr.contains("cursor"), "{}", tampered.stderr);

    // The shop's subscriber is back: only its events go back to the ingest queue.
    shop_down.answer_with(204);
    let moved = ok(
        &env,
        &["dlq", "redrive", "--source", "shop", "--rate", "100"],
    )
    .await;
    assert_eq!(moved["moved"], 20);
    let healed = shop_down.wait_for(40, PATIENCE).await;
    assert_eq!(
        healed.iter().filter(|d| d.answered == 204).count(),
        20,
        "each of the shop's events reaches its subscriber once"
    );
    let left = ids(&ok(&env, &["dlq", "list"]).await);
    assert_eq!(
        left.iter().collect::<HashSet<_>>(),
        gh_events.iter().collect()
    );
    assert_eq!(gh_down.received().len(), 40, "the gh events were not moved");

    gh_down.stop();
    shop_down.stop();
    stack.stop().await;
}

#[tokio::test]
async fn recovering_a_window_reaches_only_the_subscription_that_missed_it_and_only_once() {
    let stack = support::running_stack(None, Some("1s")).await;
    let (sdk, names) = (&stack.sdk, &stack.state.names);
    let env = stack_env(&stack);
    support::add_source(sdk, names, "gh", Provider::Github, "s").await;
    let (kept_up, _) = support::add_subscriber(sdk, names, "gh").await;
    let (missed, missed_id) = support::add_subscriber(sdk, names, "gh").await;
    // A third that only wants the events whose body has `n` 0 or 1 (two of the five).
    let (filtered, filtered_id) = support::add_subscriber(sdk, names, "gh").await;
    ok(
        &env,
        &[
            "subscriptions",
            "update",
            &filtered_id,
            "--filter",
            r#"{"body": {"n": [0, 1]}}"#,
        ],
    )
    .await;

    // An outage of the second and third subscribers: disabled while five events arrive.
    for id in [&missed_id, &filtered_id] {
        ok(
            &env,
            &["subscriptions", "disable", id, "--reason", "outage"],
        )
        .await;
    }
    let events = post_events(&stack, "gh", "s", 5).await;
    assert_eq!(kept_up.wait_for(5, PATIENCE).await.len(), 5);
    let recorded = support::eventually(|| async {
        let run = hookpost(&env, &["events", "list", "--source", "gh"]).await;
        run.code == 0 && run.json.as_array().map(Vec::len) == Some(5)
    })
    .await;
    assert!(recorded, "the five events are archived");
    ok(&env, &["subscriptions", "enable", &missed_id]).await;
    ok(&env, &["subscriptions", "enable", &filtered_id]).await;
    assert!(missed.received().is_empty());

    // Everyone's view: the filtered subscription misses only the two events its filter takes.
    let all = ok(&env, &["events", "replay", "--since", "1h", "--dry-run"]).await;
    assert_eq!(all["by_subscription"][&missed_id], 5, "{all}");
    assert_eq!(all["by_subscription"][&filtered_id], 2, "{all}");
    assert_eq!(all["deliveries"], 7, "{all}");

    let window = [
        "events",
        "replay",
        "--since",
        "1h",
        "--subscription",
        &missed_id,
    ];
    let dry = ok(&env, &[&window[..], &["--dry-run"]].concat()).await;
    assert_eq!(dry["events_queued"], 5, "{dry}");
    assert_eq!(dry["dry_run"], true);
    let recovered = ok(&env, &window).await;
    assert_eq!(recovered["events_scanned"], 5);
    assert_eq!(recovered["deliveries"], 5);
    assert_eq!(recovered["by_subscription"][&missed_id], 5);

    let got = missed.wait_for(5, PATIENCE).await;
    let mut got_ids: Vec<String> = got
        .iter()
        .map(|d| d.headers["webhook-id"].to_str().expect("ascii").to_owned())
        .collect();
    got_ids.sort();
    let mut sent = events.clone();
    sent.sort();
    assert_eq!(got_ids, sent, "the original event ids, each once");
    assert!(got.iter().all(|d| d.verified));

    // The recovered deliveries are recorded under the events' own records, so a second
    // recovery of the same window finds nothing missing.
    let settled = support::eventually(|| async {
        let again = hookpost(&env, &[&window[..], &["--dry-run"]].concat()).await;
        again.code == 0 && again.json["events_queued"] == 0
    })
    .await;
    assert!(settled, "a second recovery would send nothing");
    let only = [
        "events",
        "replay",
        "--since",
        "1h",
        "--subscription",
        &filtered_id,
    ];
    let recovered = ok(&env, &only).await;
    assert_eq!(recovered["deliveries"], 2, "{recovered}");
    let got = filtered.wait_for(2, PATIENCE).await;
    let mut bodies: Vec<&[u8]> = got.iter().map(|d| d.body.as_ref()).collect();
    bodies.sort();
    assert_eq!(bodies, [br#"{"n":0}"#.as_slice(), br#"{"n":1}"#.as_slice()]);
    let settled = support::eventually(|| async {
        let again = hookpost(&env, &[&only[..], &["--dry-run"]].concat()).await;
        again.code == 0 && again.json["events_queued"] == 0
    })
    .await;
    assert!(settled, "the filtered subscription misses nothing now");
    // Without --subscription, nobody misses anything either.
    let everyone = ok(&env, &["events", "replay", "--since", "1h", "--dry-run"]).await;
    assert_eq!(everyone["events_queued"], 0, "{everyone}");
    assert_eq!(
        kept_up.received().len(),
        5,
        "the subscriber that kept up was not called again"
    );
    assert_eq!(missed.received().len(), 5);
    assert_eq!(filtered.received().len(), 2);

    let unnamed = hookpost(
        &env,
        &["events", "replay", "--since", "1h", "--include-delivered"],
    )
    .await;
    assert_eq!(unnamed.code, 2, "{}", unnamed.stderr);
    kept_up.stop();
    missed.stop();
    filtered.stop();
    stack.stop().await;
}

/// A body too big for a queue message is stored aside in S3; a recovery reads it from there to
/// apply a payload filter, as the dispatcher does.
#[tokio::test]
async fn a_recovery_applies_payload_filters_to_bodies_stored_aside() {
    let stack = support::running_stack(None, Some("1s")).await;
    let (sdk, names) = (&stack.sdk, &stack.state.names);
    let env = stack_env(&stack);
    support::add_source(sdk, names, "big", Provider::Github, "s").await;
    let (filtered, filtered_id) = support::add_subscriber(sdk, names, "big").await;
    ok(
        &env,
        &[
            "subscriptions",
            "update",
            &filtered_id,
            "--filter",
            r#"{"body": {"n": [1]}}"#,
        ],
    )
    .await;
    ok(
        &env,
        &[
            "subscriptions",
            "disable",
            &filtered_id,
            "--reason",
            "outage",
        ],
    )
    .await;
    // Over SQS's 256 KiB, so each body is stored aside and the envelope carries its key.
    let pad = "x".repeat(300 * 1024);
    let bodies: Vec<String> = (0..3)
        .map(|n| format!(r#"{{"n":{n},"pad":"{pad}"}}"#))
        .collect();
    let sent = post_bodies(&stack, "big", "s", bodies.clone()).await;
    let archived = support::eventually(|| async {
        let run = hookpost(&env, &["events", "list", "--source", "big"]).await;
        run.code == 0 && run.json.as_array().map(Vec::len) == Some(3)
    })
    .await;
    assert!(archived, "the three events are archived");
    let stored = ok(&env, &["events", "show", &sent[0]]).await;
    assert_eq!(
        stored["envelope"]["body"]["encoding"], "stored",
        "the body is stored aside, not inline: {stored}"
    );
    ok(&env, &["subscriptions", "enable", &filtered_id]).await;

    let dry = ok(&env, &["events", "replay", "--since", "1h", "--dry-run"]).await;
    assert_eq!(dry["events_scanned"], 3, "{dry}");
    assert_eq!(dry["by_subscription"][&filtered_id], 1, "{dry}");
    let recovered = ok(&env, &["events", "replay", "--since", "1h"]).await;
    assert_eq!(recovered["deliveries"], 1, "{recovered}");
    let got = filtered.wait_for(1, PATIENCE).await;
    assert_eq!(got.len(), 1);
    assert_eq!(
        got[0].body.as_ref(),
        bodies[1].as_bytes(),
        "the whole body, from S3"
    );
    assert!(got[0].verified);
    filtered.stop();
    stack.stop().await;
}

#[tokio::test]
async fn no_command_on_one_item_scans_a_table() {
    let stack = support::running_stack(None, Some("1s")).await;
    let (sdk, names) = (&stack.sdk, &stack.state.names);
    support::add_source(sdk, names, "gh", Provider::Github, "s").await;
    let (subscriber, subscription_id) = support::add_subscriber(sdk, names, "gh").await;
    let events = post_events(&stack, "gh", "s", 1).await;
    assert_eq!(subscriber.wait_for(1, PATIENCE).await.len(), 1);

    // The binary talks to moto through a proxy that counts every call by operation.
    let proxy = FaultProxy::start(&stack.state.endpoints(), FaultShares::NONE)
        .await
        .expect("the proxy starts");
    let mut env = stack_env(&stack);
    for (name, value) in &mut env {
        if *name == "AWS_ENDPOINT_URL" {
            *value = proxy.url.clone();
        }
    }
    // A service served apart (DynamoDB on moto beside LocalStack) goes through the proxy too.
    let apart: Vec<String> = stack
        .state
        .service_endpoints
        .keys()
        .map(|key| format!("AWS_ENDPOINT_URL_{key}"))
        .collect();
    let mut env: Vec<(&str, String)> = env.into_iter().collect();
    env.extend(apart.iter().map(|name| (name.as_str(), proxy.url.clone())));
    let scans = |calls: &std::collections::BTreeMap<String, u64>| {
        calls.get("dynamodb.Scan").copied().unwrap_or(0)
    };
    let id = subscription_id.as_str();
    let event = events[0].as_str();
    let commands: Vec<(Vec<&str>, u64)> = vec![
        (vec!["subscriptions", "show", id], 0),
        (vec!["subscriptions", "disable", id], 0),
        (vec!["subscriptions", "enable", id], 0),
        (vec!["subscriptions", "rotate-secret", id], 0),
        (vec!["subscriptions", "rotate-secret", id, "--finish"], 0),
        (vec!["subscriptions", "list", "--source", "gh"], 0),
        (vec!["sources", "show", "gh"], 0),
        (vec!["events", "list", "--source", "gh"], 0),
        (vec!["events", "show", event], 0),
        (vec!["deliveries", event], 0),
        (vec!["dlq", "list"], 0),
        (vec!["events", "replay", event], 0),
        // Lists of everything read the (small) configuration tables, and only those.
        (vec!["sources", "list"], 1),
        (vec!["subscriptions", "list"], 1),
    ];
    let mut report = Vec::new();
    for (args, allowed) in commands {
        let before = scans(&proxy.calls());
        ok(&env, &args).await;
        let made = scans(&proxy.calls()) - before;
        report.push(format!("{:<45} {made}", args.join(" ")));
        assert_eq!(
            made,
            allowed,
            "`hookpost {}` made {made} Scan call(s)",
            args.join(" ")
        );
    }
    println!("Scan calls per command:\n{}", report.join("\n"));

    // Logs go to stderr: with every debug line on, stdout is still one JSON document.
    let mut debug = env.clone();
    debug.push(("RUST_LOG", "debug".to_owned()));
    let logged = hookpost(&debug, &["sources", "list"]).await;
    assert_eq!(logged.code, 0, "{}", logged.stderr);
    assert_eq!(logged.json[0]["source_id"], "gh", "stdout parses as JSON");
    assert!(
        logged.stderr.contains("DEBUG"),
        "the debug lines are on stderr"
    );
    let before = scans(&proxy.calls());
    let removed = ok(&env, &["subscriptions", "remove", id]).await;
    assert_eq!(removed["removed"], true);
    assert_eq!(
        scans(&proxy.calls()),
        before,
        "removing one subscription scans nothing"
    );
    proxy.stop();
    subscriber.stop();
    stack.stop().await;
}
