//! Asymmetric (`v1a`, ed25519) delivery signatures, end to end: subscriptions made with the
//! `hookpost` binary against a running local stack, an event sent as GitHub would, the delivery
//! captured on a subscriber on 127.0.0.1, and its `v1a` entry verified with the subscriber's
//! `whpk_` public key by Python's `cryptography` package (tests/integration/helpers/verify_v1a.py),
//! an ed25519 implementation independent of Hookpost's: the reference Standard Webhooks libraries
//! do not implement `v1a` yet. A tampered body must fail that check.
//!
//! The capturing subscriber verifies `v1` with the `standardwebhooks` crate, which ignores `v1a`
//! entries: a `v1a`-only delivery is recorded unverified (and answered 401).

use std::path::PathBuf;
use std::process::Stdio;

use hookpost_shared::secret::SigningKey;
use hookpost_shared::signature::standard_webhooks::sign;
use hookpost_testkit::{Received, Subscriber};
use serde_json::Value;
use tokio::io::AsyncWriteExt as _;

use crate::cli::{ok, stack_env};
use crate::support::{self, PATIENCE};

const BODY: &str =
    r#"{"ref":"refs/heads/main","after":"6113728f27ae82c7b1a177c8d03f9e96e0adf246"}"#;

/// The project's venv interpreter (`scripts/bootstrap.sh` makes it, with `cryptography`).
fn python() -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../.venv/bin/python");
    assert!(
        path.exists(),
        "{} is missing: run scripts/bootstrap.sh (`make integration` does)",
        path.display()
    );
    path
}

/// Whether the helper script finds a `v1a` entry of `delivery` that verifies over `body` with
/// `public_key`.
async fn python_verifies(public_key: &str, delivery: &Received, body: &[u8]) -> bool {
    let header = |name: &str| {
        delivery
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_else(|| panic!("the delivery has {name}"))
            .to_owned()
    };
    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("integration/helpers/verify_v1a.py");
    let mut child = tokio::process::Command::new(python())
        .arg(script)
        .args([
            public_key.to_owned(),
            header("webhook-id"),
            header("webhook-timestamp"),
            header("webhook-signature"),
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("python runs");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin.write_all(body).await.expect("body to python");
    drop(stdin);
    let out = child.wait_with_output().await.expect("python ends");
    match out.status.code() {
        Some(0) => true,
        Some(1) => false,
        other => panic!(
            "verify_v1a.py failed ({other:?}): {}",
            String::from_utf8_lossy(&out.stderr)
        ),
    }
}

/// The entries of the delivery's `webhook-signature`, by scheme.
fn entries(delivery: &Received) -> Vec<String> {
    delivery
        .headers
        .get("webhook-signature")
        .and_then(|v| v.to_str().ok())
        .expect("a webhook-signature header")
        .split(' ')
        .map(str::to_owned)
        .collect()
}

/// A byte of `BODY` changed.
fn tampered() -> Vec<u8> {
    BODY.replace("main", "mainx").into_bytes()
}

/// A GitHub source made with the CLI; its secret.
async fn github_source(env: &[(&str, String)]) -> String {
    let added = ok(env, &["sources", "add", "gh", "--provider", "github"]).await;
    added["secret"].as_str().expect("secret").to_owned()
}

/// `hookpost subscriptions add --signature SIGNATURE`, to `url`.
async fn subscribe(env: &[(&str, String)], url: &str, signature: &str) -> Value {
    ok(
        env,
        &[
            "subscriptions",
            "add",
            "--source",
            "gh",
            "--url",
            url,
            "--signature",
            signature,
        ],
    )
    .await
}

fn public_key_in(answer: &Value) -> String {
    let key = answer["public_key"]
        .as_str()
        .unwrap_or_else(|| panic!("a whpk_ public key in {answer}"))
        .to_owned();
    assert!(key.starts_with("whpk_"), "{key}");
    key
}

/// Sends one GitHub push to the stack and waits for the `n`th delivery.
async fn deliver(
    stack: &hookpost_local::LocalStack,
    secret: &str,
    subscriber: &Subscriber,
    n: usize,
) -> Received {
    support::post_github(stack, "gh", secret, "push", BODY, "application/json").await;
    let got = subscriber.wait_for(n, PATIENCE).await;
    assert!(got.len() >= n, "delivery {n} arrives");
    let delivery = got[n - 1].clone();
    assert_eq!(delivery.body.as_ref(), BODY.as_bytes());
    delivery
}

#[tokio::test]
async fn a_v1a_delivery_verifies_with_an_independent_ed25519_and_a_tampered_body_does_not() {
    let stack = support::running_stack(None, Some("1h")).await;
    let env = stack_env(&stack);
    let source_secret = github_source(&env).await;
    // Its key is for `v1`; this subscription signs with `v1a` alone.
    let subscriber = Subscriber::start().await.expect("subscriber");

    let created = subscribe(&env, &subscriber.url, "v1a").await;
    let id = created["subscription_id"].as_str().expect("id").to_owned();
    let public_key = public_key_in(&created);
    assert!(
        created.get("secret").is_none(),
        "no whsec_ secret: {created}"
    );
    assert_eq!(created["signatures"], serde_json::json!(["v1a"]));
    assert!(
        !created.to_string().contains("whsk_"),
        "the secret key is never shown"
    );

    // `show` prints the public key again, and still no secret key.
    let shown = ok(&env, &["subscriptions", "show", &id]).await;
    assert_eq!(shown[0]["public_keys"], serde_json::json!([public_key]));
    assert_eq!(shown[0]["signatures"], serde_json::json!(["v1a"]));
    assert!(!shown.to_string().contains("whsk_"));

    let delivery = deliver(&stack, &source_secret, &subscriber, 1).await;
    let entries = entries(&delivery);
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert!(entries[0].starts_with("v1a,"), "{entries:?}");
    assert!(
        !delivery.verified,
        "a v1 verifier finds no v1 entry to accept"
    );

    assert!(
        python_verifies(&public_key, &delivery, BODY.as_bytes()).await,
        "the v1a signature verifies with Python's cryptography"
    );
    assert!(
        !python_verifies(&public_key, &delivery, &tampered()).await,
        "a tampered body fails"
    );
    let stranger = subscribe(&env, "http://127.0.0.1:9/other", "v1a").await;
    assert!(
        !python_verifies(&public_key_in(&stranger), &delivery, BODY.as_bytes()).await,
        "another subscription's public key fails"
    );
    subscriber.stop();
}

#[tokio::test]
async fn with_both_schemes_v1_verifies_with_the_secret_and_v1a_with_the_public_key() {
    let stack = support::running_stack(None, Some("1h")).await;
    let env = stack_env(&stack);
    let source_secret = github_source(&env).await;

    let created = subscribe(&env, "http://127.0.0.1:9/not-yet", "v1,v1a").await;
    let id = created["subscription_id"].as_str().expect("id").to_owned();
    assert_eq!(created["signatures"], serde_json::json!(["v1", "v1a"]));
    let secret = created["secret"].as_str().expect("the whsec_ secret, once");
    let key = SigningKey::parse(secret).expect("a whsec_ key");
    let public_key = public_key_in(&created);
    let subscriber = Subscriber::verifying(&key).await.expect("subscriber");
    ok(
        &env,
        &["subscriptions", "update", &id, "--url", &subscriber.url],
    )
    .await;

    let delivery = deliver(&stack, &source_secret, &subscriber, 1).await;
    let entries = entries(&delivery);
    assert_eq!(entries.len(), 2, "{entries:?}");
    // v1 with the secret: the standardwebhooks crate accepted it, and it is our own HMAC.
    assert!(delivery.verified, "the v1 entry verifies");
    let header = |name: &str| {
        delivery
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .expect(name)
            .to_owned()
    };
    let timestamp: i64 = header("webhook-timestamp").parse().expect("seconds");
    assert_eq!(
        entries[0],
        sign(&key, &header("webhook-id"), timestamp, BODY.as_bytes())
    );
    // v1a with the public key, in Python.
    assert!(entries[1].starts_with("v1a,"), "{entries:?}");
    assert!(python_verifies(&public_key, &delivery, BODY.as_bytes()).await);
    assert!(!python_verifies(&public_key, &delivery, &tampered()).await);
    subscriber.stop();
}

#[tokio::test]
async fn a_change_from_v1_to_v1a_signs_with_both_until_finished_then_with_v1a_alone() {
    let stack = support::running_stack(None, Some("1h")).await;
    let env = stack_env(&stack);
    let source_secret = github_source(&env).await;

    let created = subscribe(&env, "http://127.0.0.1:9/not-yet", "v1").await;
    let id = created["subscription_id"].as_str().expect("id").to_owned();
    assert!(created.get("public_key").is_none(), "{created}");
    let secret = created["secret"].as_str().expect("the whsec_ secret");
    let subscriber = Subscriber::verifying(&SigningKey::parse(secret).expect("whsec_"))
        .await
        .expect("subscriber");
    ok(
        &env,
        &["subscriptions", "update", &id, "--url", &subscriber.url],
    )
    .await;

    // Adding a v1a key reveals its public key only.
    let rotated = ok(
        &env,
        &["subscriptions", "rotate-secret", &id, "--signature", "v1a"],
    )
    .await;
    assert!(rotated.get("secret").is_none(), "{rotated}");
    assert_eq!(rotated["secrets"], 2);
    let public_key = public_key_in(&rotated);

    let during = deliver(&stack, &source_secret, &subscriber, 1).await;
    assert_eq!(entries(&during).len(), 2);
    assert!(during.verified, "the old v1 secret still verifies");
    assert!(python_verifies(&public_key, &during, BODY.as_bytes()).await);

    // Finishing with v1a retires the v1 secret.
    let finished = ok(
        &env,
        &[
            "subscriptions",
            "rotate-secret",
            &id,
            "--finish",
            "--signature",
            "v1a",
        ],
    )
    .await;
    assert_eq!(
        (finished["retired"].as_u64(), finished["secrets"].as_u64()),
        (Some(1), Some(1))
    );
    let shown = ok(&env, &["subscriptions", "show", &id]).await;
    assert_eq!(shown[0]["signatures"], serde_json::json!(["v1a"]));
    assert_eq!(shown[0]["public_keys"], serde_json::json!([public_key]));

    let after = deliver(&stack, &source_secret, &subscriber, 2).await;
    let entries = entries(&after);
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert!(!after.verified, "no v1 entry any more");
    assert!(python_verifies(&public_key, &after, BODY.as_bytes()).await);
    assert!(!python_verifies(&public_key, &after, &tampered()).await);
    subscriber.stop();
}
