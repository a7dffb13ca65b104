//! The `hookpost` binary against a running local stack: every command with `--output json`, parsed
//! and asserted, and the dead-letter flow an operator works through at 3 a.m.
//!
//! The binary is found next to this test's executable (`target/debug/hookpost`); `make
//! integration` builds it first. It is pointed at the stack the way an operator points it at a
//! deployment without `--stack`: `HOOKPOST_*` variables and `AWS_ENDPOINT_URL`.

use std::path::PathBuf;
use std::process::Stdio;

use aws_sdk_cloudformation::types::Parameter;
use hookpost_local::LocalStack;
use hookpost_shared::deployment::StackNames;
use hookpost_shared::signature::Provider;
use serde_json::Value;

use crate::support::{self, PATIENCE};

pub(crate) fn binary() -> PathBuf {
    // target/debug/deps/integration-… → target/debug/hookpost
    let exe = std::env::current_exe().expect("test executable");
    let path = exe
        .parent()
        .and_then(|deps| deps.parent())
        .expect("target/debug")
        .join(format!("hookpost{}", std::env::consts::EXE_SUFFIX));
    assert!(
        path.exists(),
        "{} is missing: run `cargo build -p hookpost-cli` first (`make integration` does)",
        path.display()
    );
    path
}

/// What one run of the binary printed and how it exited.
pub(crate) struct Run {
    pub(crate) code: i32,
    pub(crate) json: Value,
    pub(crate) stderr: String,
}

/// Runs `hookpost --output json ARGS…` with `env`, stdin closed.
pub(crate) async fn hookpost(env: &[(&str, String)], args: &[&str]) -> Run {
    let mut command = tokio::process::Command::new(binary());
    command
        .args(["--output", "json"])
        .args(args)
        .env_remove("HOOKPOST_STACK")
        .stdin(Stdio::null());
    for (k, v) in env {
        command.env(k, v);
    }
    let out = command.output().await.expect("hookpost runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    Run {
        code: out.status.code().unwrap_or(-1),
        json: serde_json::from_str(stdout.trim()).unwrap_or(Value::String(stdout)),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Runs and insists on exit code 0.
pub(crate) async fn ok(env: &[(&str, String)], args: &[&str]) -> Value {
    let run = hookpost(env, args).await;
    assert_eq!(
        run.code, 0,
        "hookpost {args:?} failed: {}\n{}",
        run.stderr, run.json
    );
    run.json
}

/// Whether `hookpost deliveries KEY` shows the first record delivered; a failed read (see the
/// callers) is "not yet".
async fn recorded(env: &[(&str, String)], key: &str) -> bool {
    let run = hookpost(env, &["deliveries", key]).await;
    run.code == 0 && run.json[0]["status"] == "delivered"
}

pub(crate) fn env_for(
    names: &StackNames,
    receiver_url: Option<&str>,
) -> Vec<(&'static str, String)> {
    let mut env = names.to_env().to_vec();
    if let Some(url) = receiver_url {
        env.push(("HOOKPOST_RECEIVER_URL", url.to_owned()));
    }
    env
}

pub(crate) fn stack_env(stack: &LocalStack) -> Vec<(&'static str, String)> {
    let mut env = env_for(&stack.state.names, Some(&stack.state.receiver_url));
    env.push(("AWS_ENDPOINT_URL", stack.state.endpoint_url.clone()));
    env
}

#[tokio::test]
async fn every_operator_command_answers_in_json_against_a_running_stack() {
    let stack = support::running_stack(None, Some("1s")).await;
    let env = stack_env(&stack);

    // Sources: the URL to paste and the secret, once.
    let added = ok(&env, &["sources", "add", "gh", "--provider", "github"]).await;
    assert_eq!(added["source_id"], "gh");
    assert_eq!(
        added["url"].as_str(),
        Some(format!("{}gh", stack.state.receiver_url).as_str())
    );
    let first_secret = added["secret"].as_str().expect("secret").to_owned();
    assert!(first_secret.len() >= 32);
    let list = ok(&env, &["sources", "list"]).await;
    assert_eq!(list[0]["source_id"], "gh");
    assert!(list[0].get("secret").is_none(), "list never shows secrets");
    let shown = ok(&env, &["sources", "show", "gh"]).await;
    assert_eq!(shown[0]["secrets"], 1);

    let rotated = ok(
        &env,
        &["sources", "rotate-secret", "gh", "--secret", "new-secret"],
    )
    .await;
    assert_eq!(rotated["secret"], "new-secret");
    assert_eq!(rotated["secrets"], 2);
    let finished = ok(&env, &["sources", "rotate-secret", "gh", "--finish"]).await;
    assert_eq!(finished["retired"], 1);
    assert_eq!(finished["secrets"], 1);
    assert!(
        finished.get("secret").is_none(),
        "--finish prints no secret"
    );

    // Subscriptions: a live subscriber and one that wants nothing this test sends.
    let (subscriber, subscription_id) =
        support::add_subscriber(&stack.sdk, &stack.state.names, "gh").await;
    let other = ok(
        &env,
        &[
            "subscriptions",
            "add",
            "--source",
            "gh",
            "--url",
            "http://127.0.0.1:9/hook",
            "--events",
            "release.*",
            "--header",
            "X-Team: ops",
        ],
    )
    .await;
    let other_id = other["subscription_id"].as_str().expect("id").to_owned();
    assert!(
        other["secret"]
            .as_str()
            .expect("secret")
            .starts_with("whsec_")
    );

    // Send like GitHub would, with the rotated secret.
    let body = std::env::temp_dir().join(format!("{}.json", support::unique("push")));
    std::fs::write(&body, br#"{"ref":"refs/heads/main"}"#).expect("body file");
    let body_path = body.to_string_lossy().into_owned();
    let sent = ok(
        &env,
        &[
            "send",
            "--source",
            "gh",
            "--provider",
            "github",
            "--secret",
            "new-secret",
            "--event",
            "push",
            "--data-file",
            &body_path,
        ],
    )
    .await;
    assert_eq!(sent["status"], 202);
    let event_id = sent["response"]["event_id"]
        .as_str()
        .expect("event id")
        .to_owned();
    assert_eq!(subscriber.wait_for(1, PATIENCE).await.len(), 1);

    // Polled with `recorded`, not `ok`: moto applies an UpdateItem clause by clause, so a read
    // racing the dispatcher's write can see a half-written record and the command fails once.
    let delivered = support::eventually(|| recorded(&env, &event_id)).await;
    assert!(delivered, "the delivery is recorded");
    let records = ok(&env, &["deliveries", &event_id]).await;
    assert_eq!(records.as_array().map(Vec::len), Some(1));
    assert_eq!(records[0]["subscription_id"], subscription_id.as_str());
    assert_eq!(records[0]["history"][0]["status_code"], 204);

    let subscriptions = ok(&env, &["subscriptions", "list", "--source", "gh"]).await;
    let row = subscriptions
        .as_array()
        .expect("array")
        .iter()
        .find(|s| s["subscription_id"] == subscription_id.as_str())
        .expect("listed")
        .clone();
    assert_eq!(row["enabled"], true);
    assert_eq!(row["last_status"], "delivered");
    assert_eq!(row["last_event_id"], event_id.as_str());
    assert_eq!(row["failing_since"], Value::Null);
    let shown = ok(&env, &["subscriptions", "show", &other_id]).await;
    assert_eq!(shown[0]["event_types"][0], "release.*");
    assert_eq!(shown[0]["headers"][0], "x-team");
    assert_eq!(shown[0]["last_status"], Value::Null);

    let rotated = ok(&env, &["subscriptions", "rotate-secret", &other_id]).await;
    assert!(
        rotated["secret"]
            .as_str()
            .expect("secret")
            .starts_with("whsec_")
    );
    assert_eq!(rotated["secrets"], 2);
    let finished = ok(
        &env,
        &["subscriptions", "rotate-secret", &other_id, "--finish"],
    )
    .await;
    assert_eq!(finished["secrets"], 1);
    let disabled = ok(
        &env,
        &["subscriptions", "disable", &other_id, "--reason", "moving"],
    )
    .await;
    assert_eq!(disabled["enabled"], false);
    let shown = ok(&env, &["subscriptions", "show", &other_id]).await;
    assert_eq!(shown[0]["disabled_reason"], "moving");
    assert_eq!(
        ok(&env, &["subscriptions", "enable", &other_id]).await["enabled"],
        true
    );

    // The archive: list, filter, show.
    let archived = support::eventually(|| async {
        ok(&env, &["events", "list", "--source", "gh"]).await[0]["event_id"] == event_id.as_str()
    })
    .await;
    assert!(archived, "the event is archived");
    let by_type = ok(&env, &["events", "list", "--type", "push", "--since", "1h"]).await;
    assert_eq!(by_type.as_array().map(Vec::len), Some(1));
    let none = ok(&env, &["events", "list", "--type", "release.*"]).await;
    assert_eq!(none.as_array().map(Vec::len), Some(0));
    let event = ok(&env, &["events", "show", &event_id]).await;
    assert_eq!(event["event_type"], "push");
    assert_eq!(event["envelope"]["event_id"], event_id.as_str());

    // Replay to one subscription: it is called again, with the original event id.
    let replay = ok(
        &env,
        &[
            "events",
            "replay",
            &event_id,
            "--subscription",
            &subscription_id,
        ],
    )
    .await;
    let key = replay["deliveries_key"].as_str().expect("key").to_owned();
    let again = subscriber.wait_for(2, PATIENCE).await;
    assert_eq!(again.len(), 2, "a replay delivers again");
    let replayed = support::eventually(|| recorded(&env, &key)).await;
    assert!(
        replayed,
        "the replay's delivery is recorded under its own key"
    );
    let unknown = hookpost(
        &env,
        &["events", "replay", &event_id, "--subscription", "sub_nope"],
    )
    .await;
    assert_eq!(unknown.code, 2, "{}", unknown.stderr);

    // The dead-letter queue is empty; purging asks first and refuses without a terminal.
    assert_eq!(ok(&env, &["dlq", "list"]).await, Value::Array(Vec::new()));
    let refused = hookpost(&env, &["dlq", "purge"]).await;
    assert_eq!(refused.code, 2);
    assert!(refused.stderr.contains("--yes"), "{}", refused.stderr);
    assert_eq!(ok(&env, &["dlq", "purge", "--yes"]).await["purged"], 0);

    // Removing.
    assert_eq!(
        ok(&env, &["subscriptions", "remove", &other_id]).await["removed"],
        true
    );
    assert_eq!(
        ok(&env, &["sources", "remove", "gh"]).await["removed"],
        true
    );
    let gone = hookpost(&env, &["sources", "show", "gh"]).await;
    assert_eq!(gone.code, 1);

    // Usage errors exit 2.
    let bad = hookpost(&env, &["events", "list", "--since", "last tuesday"]).await;
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    let _ = std::fs::remove_file(body);
    subscriber.stop();
    stack.stop().await;
}

#[tokio::test]
async fn a_dead_subscribers_events_are_listed_in_the_dlq_and_redriven_to_it_alone() {
    const MAX_RECEIVES: u32 = 2;
    let stack = support::running_stack(Some(MAX_RECEIVES), Some("1s")).await;
    let (sdk, names) = (&stack.sdk, &stack.state.names);
    let env = stack_env(&stack);
    support::add_source(sdk, names, "gh", Provider::Github, "s3cret").await;
    let (healthy, _) = support::add_subscriber(sdk, names, "gh").await;
    let (dead, dead_id) = support::add_subscriber(sdk, names, "gh").await;
    dead.answer_with(503);

    let body = std::env::temp_dir().join(format!("{}.json", support::unique("push")));
    std::fs::write(&body, br#"{"zen":"Keep it logically awesome."}"#).expect("body file");
    let body_path = body.to_string_lossy().into_owned();
    let mut event_ids = Vec::new();
    for _ in 0..2 {
        let sent = ok(
            &env,
            &[
                "send",
                "--source",
                "gh",
                "--provider",
                "github",
                "--secret",
                "s3cret",
                "--event",
                "push",
                "--data-file",
                &body_path,
            ],
        )
        .await;
        event_ids.push(
            sent["response"]["event_id"]
                .as_str()
                .expect("id")
                .to_owned(),
        );
    }
    let dead_lettered = support::eventually(|| async {
        support::queue_depth(sdk, &names.dead_letter_queue_url).await == 2
    })
    .await;
    assert!(dead_lettered, "both events reach the dead-letter queue");
    assert_eq!(healthy.received().len(), 2);

    let listed = ok(&env, &["dlq", "list"]).await;
    let rows = listed.as_array().expect("array");
    assert_eq!(rows.len(), 2);
    for row in rows {
        assert!(event_ids.iter().any(|id| row["event_id"] == id.as_str()));
        assert_eq!(row["source_id"], "gh");
        assert_eq!(row["event_type"], "push");
        assert_eq!(row["delivered"], 1, "the healthy subscriber has it");
        let undelivered = row["undelivered"].as_array().expect("undelivered");
        assert_eq!(undelivered.len(), 1);
        assert_eq!(undelivered[0]["subscription_id"], dead_id.as_str());
        assert_eq!(undelivered[0]["last_status_code"], 503);
        // A refusal is told by its status; last_error is for transport failures.
        assert!(undelivered[0].get("last_error").is_some(), "{row}");
    }
    let shown = ok(&env, &["dlq", "show", &event_ids[0]]).await;
    assert_eq!(shown["envelope"]["event_id"], event_ids[0].as_str());
    let history = shown["deliveries"].as_array().expect("deliveries");
    assert_eq!(history.len(), 2);
    let subscriptions = ok(&env, &["subscriptions", "list"]).await;
    let dead_row = subscriptions
        .as_array()
        .expect("array")
        .iter()
        .find(|s| s["subscription_id"] == dead_id.as_str())
        .expect("listed")
        .clone();
    assert_eq!(dead_row["last_status"], "failing");
    assert!(dead_row["failing_since"].is_string(), "{dead_row}");

    // Fixed; everything goes back, and only the dead subscriber is called.
    dead.answer_with(204);
    let redriven = ok(&env, &["dlq", "redrive", "--all", "--rate", "50"]).await;
    assert_eq!(redriven["moved"], 2);
    // SQS moves them itself (StartMessageMoveTask), as LocalStack does; moto has no move task,
    // so there the CLI moves them one by one and says so.
    let expected = match std::env::var("HOOKPOST_EMULATOR").as_deref() {
        Ok("moto") => "per-message",
        _ => "move-task",
    };
    assert_eq!(redriven["method"], expected, "{redriven}");
    let delivered = dead.wait_for(2 * MAX_RECEIVES as usize + 2, PATIENCE).await;
    assert_eq!(
        delivered.iter().filter(|d| d.answered == 204).count(),
        2,
        "each redriven event reaches the fixed subscriber once"
    );
    let settled = support::eventually(|| async {
        support::queue_depth(sdk, &names.ingest_queue_url).await == 0
    })
    .await;
    assert!(settled, "the redriven events are deleted once delivered");
    assert_eq!(
        healthy.received().len(),
        2,
        "the healthy subscriber is not called again"
    );
    assert_eq!(ok(&env, &["dlq", "list"]).await, Value::Array(Vec::new()));
    let _ = std::fs::remove_file(body);
    healthy.stop();
    dead.stop();
    stack.stop().await;
}

#[tokio::test]
async fn stack_outputs_name_everything_and_a_missing_stack_says_what_to_do() {
    let resources = support::resources().await;
    let names = &resources.names;
    let stack_name = support::unique("hookpost");
    // A stack whose outputs are the provisioned names, as a deployed template's would be.
    let outputs = [
        ("WebhookBaseUrl", "http://127.0.0.1:9/webhooks/".to_owned()),
        ("IngestQueueUrl", names.ingest_queue_url.clone()),
        ("DeadLetterQueueUrl", names.dead_letter_queue_url.clone()),
        ("SourcesTableName", names.sources_table.clone()),
        ("SubscriptionsTableName", names.subscriptions_table.clone()),
        ("DeliveriesTableName", names.deliveries_table.clone()),
        ("DeliveryIdsTableName", names.delivery_ids_table.clone()),
        ("EventsTableName", names.events_table.clone()),
        ("BodiesBucketName", names.bodies_bucket.clone()),
    ];
    let mut template = String::from(
        "AWSTemplateFormatVersion: '2010-09-09'\nParameters:\n  Unused:\n    Type: String\n    \
         Default: x\nResources:\n  Marker:\n    Type: AWS::SQS::Queue\nOutputs:\n",
    );
    for (name, value) in &outputs {
        template.push_str(&format!("  {name}:\n    Value: '{value}'\n"));
    }
    aws_sdk_cloudformation::Client::new(&resources.sdk)
        .create_stack()
        .stack_name(&stack_name)
        .template_body(template)
        .parameters(
            Parameter::builder()
                .parameter_key("Unused")
                .parameter_value("x")
                .build(),
        )
        .send()
        .await
        .expect("CreateStack on the emulator");

    let endpoint = support::emulator().endpoint_url().to_owned();
    let env = vec![("AWS_ENDPOINT_URL", endpoint)];
    let added = ok(
        &env,
        &[
            "--stack",
            &stack_name,
            "sources",
            "add",
            "gh",
            "--provider",
            "github",
        ],
    )
    .await;
    assert_eq!(added["url"], "http://127.0.0.1:9/webhooks/gh");
    // The source landed in the table the outputs name.
    let listed = ok(&env_for(names, None), &["sources", "list"]).await;
    assert_eq!(listed[0]["source_id"], "gh");
    let via_variable = {
        let mut env = env.clone();
        env.push(("HOOKPOST_STACK", stack_name.clone()));
        let mut command = tokio::process::Command::new(binary());
        command
            .args(["--output", "json", "dlq", "list"])
            .stdin(Stdio::null());
        for (k, v) in &env {
            command.env(k, v);
        }
        command.output().await.expect("runs")
    };
    assert!(via_variable.status.success(), "HOOKPOST_STACK is honoured");

    let missing = hookpost(
        &env,
        &[
            "--stack",
            "no-such-stack",
            "--region",
            "us-east-1",
            "sources",
            "list",
        ],
    )
    .await;
    assert_eq!(missing.code, 1);
    assert!(
        missing
            .stderr
            .contains("no stack named no-such-stack in us-east-1"),
        "{}",
        missing.stderr
    );
    assert!(
        missing.stderr.contains("sam deploy --guided"),
        "{}",
        missing.stderr
    );
}
