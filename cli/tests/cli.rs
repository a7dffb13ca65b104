//! The `hookpost` binary as a user runs it: `sign` and `verify` agree, and exit codes are the
//! documented ones (0 valid, 1 invalid, 2 usage).

use std::path::PathBuf;
use std::process::{Command, Output};

fn hookpost(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_hookpost"))
        .args(args)
        .env_remove("HOOKPOST_SECRET")
        .output()
        .expect("the binary runs")
}

fn body_file(name: &str, body: &[u8]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hookpost-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join(name);
    std::fs::write(&path, body).expect("write body");
    path
}

/// `hookpost sign` output as `-H` arguments.
fn signed_headers(provider: &str, secret: &str, body: &str, extra: &[&str]) -> Vec<String> {
    let mut args = vec![
        "sign",
        "--provider",
        provider,
        "--secret",
        secret,
        "--data-file",
        body,
    ];
    args.extend_from_slice(extra);
    let out = hookpost(&args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .expect("utf-8")
        .lines()
        .map(str::to_owned)
        .collect()
}

fn verify(provider: &str, secret: &str, body: &str, headers: &[String], extra: &[&str]) -> Output {
    let mut args = vec![
        "verify",
        "--provider",
        provider,
        "--secret",
        secret,
        "--body-file",
        body,
    ];
    for h in headers {
        args.extend(["-H", h.as_str()]);
    }
    args.extend_from_slice(extra);
    hookpost(&args)
}

#[test]
fn what_sign_produces_verify_accepts_for_every_hmac_provider() {
    let json = body_file(
        "event.json",
        br#"{"id":"evt_1","type":"invoice.paid","webhookTimestamp":0}"#,
    );
    let json = json.to_str().expect("utf-8 path");
    for (provider, secret, extra) in [
        ("github", "s3cret", &[][..]),
        ("stripe", "whsec_abc", &[][..]),
        ("shopify", "s3cret", &[][..]),
        (
            "standard-webhooks",
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            &[][..],
        ),
        ("intercom", "s3cret", &[][..]),
        ("gitlab", "token", &[][..]),
        (
            "square",
            "key",
            &["--public-url", "https://h.example/webhooks/sq"][..],
        ),
        (
            "generic-hmac",
            "s3cret",
            &[
                "--signature-header",
                "X-Sig",
                "--algorithm",
                "sha512",
                "--encoding",
                "base64",
            ][..],
        ),
    ] {
        let headers = signed_headers(provider, secret, json, extra);
        let out = verify(provider, secret, json, &headers, extra);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{provider}: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).starts_with("valid"));

        let wrong = verify(provider, "not-the-secret-at-all", json, &headers, extra);
        assert_eq!(
            wrong.status.code(),
            Some(1),
            "{provider} with a wrong secret"
        );
    }
}

#[test]
fn an_invalid_request_exits_1_and_prints_the_reason_code() {
    let body = body_file("push.json", b"{}");
    let body = body.to_str().expect("utf-8 path");
    let out = verify(
        "github",
        "s3cret",
        body,
        &["X-Hub-Signature-256: sha256=00".to_owned()],
        &[],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("invalid_signature"));

    let missing = verify("github", "s3cret", body, &[], &["--output", "json"]);
    assert_eq!(missing.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&missing.stdout).expect("json");
    assert_eq!(json["code"], "missing_signature");
}

#[test]
fn a_stale_timestamp_is_judged_against_now_unless_told_otherwise() {
    let body = body_file("sw.json", br#"{"type":"x"}"#);
    let body = body.to_str().expect("utf-8 path");
    let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
    // The Standard Webhooks spec's published example, signed at 1614265330.
    let headers = [
        "webhook-id: msg_p5jXN8AQM9LWM0D4loKWxJek".to_owned(),
        "webhook-timestamp: 1614265330".to_owned(),
        "webhook-signature: v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=".to_owned(),
    ];
    let example = body_file("sw-doc.json", br#"{"test": 2432232314}"#);
    let example = example.to_str().expect("utf-8 path");
    let stale = verify("standard-webhooks", secret, example, &headers, &[]);
    assert_eq!(stale.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&stale.stdout).contains("timestamp_out_of_tolerance"));
    let then = verify(
        "standard-webhooks",
        secret,
        example,
        &headers,
        &["--now", "1614265330"],
    );
    assert_eq!(then.status.code(), Some(0));
    let tampered = verify(
        "standard-webhooks",
        secret,
        body,
        &headers,
        &["--now", "1614265330"],
    );
    assert_eq!(tampered.status.code(), Some(1));
}

#[test]
fn usage_errors_exit_2_with_a_message_that_says_what_to_do() {
    let body = body_file("u.json", b"{}");
    let body = body.to_str().expect("utf-8 path");
    let out = verify("twilio", "token", body, &[], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--public-url"));

    let unknown = hookpost(&[
        "verify",
        "--provider",
        "nope",
        "--secret",
        "s",
        "--body-file",
        body,
    ]);
    assert_eq!(unknown.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("known providers"));

    let no_file = verify("github", "s", "/nonexistent/body.json", &[], &[]);
    assert_eq!(no_file.status.code(), Some(2));
}
