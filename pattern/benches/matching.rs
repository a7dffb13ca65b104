//! `matching`: what a subscription filter costs the dispatcher per delivery.
//!
//! The pattern has five fields, as a realistic filter would: a `type` prefix, an exact
//! `source`, a header that must exist, and two body fields (a numeric range and an
//! `anything-but` list). The event's body is about 1 KiB of JSON shaped like an invoice event.
//!
//! - `match/parsed-event`: `EventPattern::matches` on an event already parsed into a `Value`
//!   (the goal: at most 2 µs);
//! - `parse-pattern`: `EventPattern::parse` of the pattern's text (paid once per subscription
//!   load, not per delivery);
//! - `match/raw-body`: parsing the 1 KiB body into a `Value`, building the event around it, and
//!   matching: the real per-delivery cost when the pattern `looks_into("body")`.
//!
//! Run with `cargo bench -p hookpost-pattern --bench matching`.

use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hookpost_pattern::EventPattern;
use serde_json::{Value, json};

const PATTERN: &str = r#"{
  "type": [{ "prefix": "invoice." }],
  "source": ["billing"],
  "headers": { "x-request-id": [{ "exists": true }] },
  "body": {
    "data": {
      "amount_due": [{ "numeric": [">=", 100, "<", 100000] }],
      "status": [{ "anything-but": ["draft", "void"] }]
    }
  }
}"#;

/// An invoice-shaped body of 1014 bytes, with the matched fields after its six invoice lines.
fn body() -> Vec<u8> {
    let lines: Vec<Value> = (0..6)
        .map(|i| {
            json!({
                "id": format!("il_{i:024}"),
                "description": format!("Seat license {i} for the team plan"),
                "amount": 2500 + i,
                "currency": "eur",
                "quantity": 1,
            })
        })
        .collect();
    let body = json!({
        "id": "evt_1NG8Du2eZvKYlo2CUI79vXWy",
        "object": "event",
        "created": 1_700_000_000,
        "livemode": false,
        "data": {
            "customer": "cus_NffrFeUfNV2Hib",
            "customer_email": "billing@example.com",
            "currency": "eur",
            "lines": lines,
            "amount_due": 10_010,
            "status": "open",
        },
    });
    match serde_json::to_vec(&body) {
        Ok(bytes) => bytes,
        Err(error) => panic!("the bench body does not serialize: {error}"),
    }
}

fn headers() -> Value {
    json!({
        "content-type": "application/json",
        "user-agent": "Billing-Webhooks/1.0",
        "x-request-id": "req_8f14e45fceea167a",
        "x-signature": "t=1700000000,v1=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd",
    })
}

fn event(body: Value) -> Value {
    json!({
        "type": "invoice.paid",
        "source": "billing",
        "headers": headers(),
        "body": body,
    })
}

fn pattern() -> EventPattern {
    match EventPattern::parse(PATTERN) {
        Ok(pattern) => pattern,
        Err(error) => panic!("the bench pattern is refused: {error}"),
    }
}

fn parse_body(bytes: &[u8]) -> Value {
    match serde_json::from_slice(bytes) {
        Ok(value) => value,
        Err(error) => panic!("the bench body does not parse: {error}"),
    }
}

fn matching(c: &mut Criterion) {
    let pattern = pattern();
    let bytes = body();
    assert!(
        (1000..=1100).contains(&bytes.len()),
        "the body is {} bytes, not about 1 KiB",
        bytes.len()
    );
    let parsed = event(parse_body(&bytes));
    assert!(
        pattern.matches(&parsed),
        "the bench event must match, so every field is checked"
    );

    // One group, judged by bench/report.py: `match-parsed-event` against the 2 µs goal.
    let mut group = c.benchmark_group("pattern");
    group.throughput(Throughput::Bytes(bytes.len() as u64));
    group.bench_function("match-parsed-event", |b| {
        b.iter(|| black_box(&pattern).matches(black_box(&parsed)))
    });
    group.bench_function("match-raw-body", |b| {
        b.iter(|| {
            let event = event(parse_body(black_box(&bytes)));
            black_box(&pattern).matches(&event)
        })
    });
    group.bench_function("parse-pattern", |b| {
        b.iter(|| EventPattern::parse(black_box(PATTERN)).is_ok())
    });
    group.finish();
}

criterion_group!(benches, matching);
criterion_main!(benches);
