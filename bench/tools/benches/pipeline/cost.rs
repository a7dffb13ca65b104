//! What an event costs in billed AWS units (issue 19), counted on the wire.
//!
//! `COST_EVENTS` events go, 8 at a time, to a source with one subscription and then to one with
//! five, while the proxy keeps the body of every DynamoDB request and answer. Afterwards every
//! table is scanned through the same proxy, and each call is priced by DynamoDB's own rules
//! (<https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/CapacityUnitCalculations.html>
//! for item sizes; a write unit per started 1 KB of the item written, a read unit per started 4 KB
//! read strongly consistent and half that eventually consistent):
//!
//! - `PutItem`: the item in the request (the items Hookpost puts are new, so there is no larger
//!   old item to pay for); a put refused by its condition pays for the item already there.
//! - `UpdateItem`, `DeleteItem`: the item as the scan found it at the end. An item only grows over
//!   the run (a claim is confirmed, a delivery record gains attempts), so this is exact for the
//!   last write to an item and an upper bound for earlier ones: the write units are *at most*.
//! - `GetItem`, `Query`: the items read, at their size in the scan (a projection does not make a
//!   read cheaper), the same rounding over a query's items together; at least one unit.
//!
//! Beside the units: the SQS requests (each under 64 KiB, so one billed request each; empty long
//! polls are the idle cost of the event source mapping and counted apart), the dispatcher's
//! invocations (one per batch the poller handed out), and S3 requests. Figures
//! `pipeline/cost/{1,5}-sub/…`; bench/report.py puts them beside the list prices.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::Client as Dynamo;
use hookpost_bench_tools::capacity::{
    READ_UNIT, WRITE_UNIT, consistency, item_size, key_of, units,
};
use serde_json::{Value, json};

use super::{
    Call, DELIVERY_TIMEOUT, LocalStack, Poster, Proxy, SETTLE, Sink, add_github_source,
    check_accepted, role, round, subscribe,
};

/// Events per measured source: enough that the per-batch calls (receive, delete, the
/// subscriptions query) average out over batches as they do under load.
const COST_EVENTS: usize = 50;
const CONCURRENCY: usize = 8;

/// Runs both sources and returns their figures.
pub(super) async fn measure(stack: &LocalStack, proxy: &Proxy) -> Result<Vec<Value>, String> {
    let dynamo = Dynamo::new(&stack.sdk);
    let mut figures = Vec::new();
    for subscriptions in [1usize, 5] {
        let source = add_github_source(stack, &format!("github-cost-{subscriptions}")).await?;
        let mut sinks = Vec::with_capacity(subscriptions);
        for _ in 0..subscriptions {
            let sink = Sink::start().await?;
            subscribe(stack, &source, &sink.url).await?;
            sinks.push(sink);
        }
        proxy.recorder.start_capturing();
        let sent = Poster::new(stack, &source)?
            .send_all(COST_EVENTS, CONCURRENCY)
            .await;
        check_accepted(&sent)?;
        for sink in &sinks {
            sink.wait_for(COST_EVENTS, DELIVERY_TIMEOUT).await;
            if sink.count() < COST_EVENTS {
                return Err(format!(
                    "cost run: a subscriber got {} of {COST_EVENTS} events",
                    sink.count()
                ));
            }
        }
        tokio::time::sleep(SETTLE).await;
        let calls = proxy.recorder.stop();
        let items = scan_all(&dynamo, stack).await?;
        let bill = Bill::of(&calls, &items, stack)?;
        figures.extend(bill.figures(subscriptions, COST_EVENTS));
        println!(
            "cost: {subscriptions} subscription(s): {:.2} write units, {:.2} read units, {:.2} SQS \
             requests and {:.2} dispatcher invocations per event",
            bill.write_units.values().sum::<f64>() / COST_EVENTS as f64,
            bill.read_units.values().sum::<f64>() / COST_EVENTS as f64,
            bill.sqs_requests as f64 / COST_EVENTS as f64,
            bill.dispatcher_invocations as f64 / COST_EVENTS as f64,
        );
    }
    Ok(figures)
}

/// Every item of every table of the stack, by table and key, as DynamoDB JSON sizes.
type Items = HashMap<String, HashMap<String, usize>>;

/// Item sizes of every table, by key, and each table's key attributes.
struct Tables {
    sizes: Items,
    keys: HashMap<String, Vec<String>>,
}

async fn scan_all(dynamo: &Dynamo, stack: &LocalStack) -> Result<Tables, String> {
    let names = &stack.state.names;
    let mut tables = Tables {
        sizes: HashMap::new(),
        keys: HashMap::new(),
    };
    for table in [
        &names.sources_table,
        &names.subscriptions_table,
        &names.deliveries_table,
        &names.delivery_ids_table,
        &names.events_table,
    ] {
        let described = dynamo
            .describe_table()
            .table_name(table)
            .send()
            .await
            .map_err(|e| format!("describing {table}: {e}"))?;
        let keys: Vec<String> = described
            .table()
            .map(|t| t.key_schema())
            .unwrap_or_default()
            .iter()
            .map(|k| k.attribute_name().to_owned())
            .collect();
        let mut sizes = HashMap::new();
        let mut pages = dynamo.scan().table_name(table).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| format!("scanning {table}: {e}"))?;
            for item in page.items() {
                let json = item_json(item);
                sizes.insert(key_of(&json, &keys), item_size(&json));
            }
        }
        tables.sizes.insert(table.clone(), sizes);
        tables.keys.insert(table.clone(), keys);
    }
    Ok(tables)
}

/// What one run's calls cost, by table (units) and by service (requests).
#[derive(Default)]
struct Bill {
    write_units: BTreeMap<&'static str, f64>,
    read_units: BTreeMap<&'static str, f64>,
    writes: usize,
    reads: usize,
    sqs_requests: usize,
    empty_receives: usize,
    dispatcher_invocations: usize,
    s3_requests: usize,
}

impl Bill {
    fn of(calls: &[Call], tables: &Tables, stack: &LocalStack) -> Result<Self, String> {
        let names = &stack.state.names;
        let mut bill = Bill::default();
        for call in calls {
            let operation = call.operation.as_str();
            if let Some(sqs) = operation.strip_prefix("SQS.") {
                if sqs == "ReceiveMessage" && call.event_ids.is_empty() {
                    bill.empty_receives += 1;
                } else {
                    bill.sqs_requests += 1;
                    if sqs == "ReceiveMessage" {
                        bill.dispatcher_invocations += 1;
                    }
                }
                continue;
            }
            if operation.starts_with("S3.") {
                bill.s3_requests += 1;
                continue;
            }
            let Some(op) = operation.strip_prefix("DynamoDB.") else {
                continue;
            };
            let table = call.target.as_deref().unwrap_or_default();
            let Some((request, answer)) = call.bodies.as_ref() else {
                return Err(format!(
                    "cost run: {operation} was recorded without its bodies"
                ));
            };
            let request: Value = serde_json::from_slice(request).unwrap_or(Value::Null);
            let answer: Value = serde_json::from_slice(answer).unwrap_or(Value::Null);
            let empty = (HashMap::new(), Vec::new());
            let (sizes, keys) = match (tables.sizes.get(table), tables.keys.get(table)) {
                (Some(sizes), Some(keys)) => (sizes, keys),
                _ => (&empty.0, &empty.1),
            };
            let stored = |item: &Value| sizes.get(&key_of(item, keys)).copied();
            let refused = answer["__type"]
                .as_str()
                .is_some_and(|t| t.ends_with("ConditionalCheckFailedException"));
            let role = role(table, names);
            match op {
                "PutItem" => {
                    let item = &request["Item"];
                    let size = if refused {
                        stored(item).unwrap_or(0)
                    } else {
                        item_size(item)
                    };
                    *bill.write_units.entry(role).or_default() += units(size, WRITE_UNIT);
                    bill.writes += 1;
                }
                "UpdateItem" | "DeleteItem" => {
                    let size = stored(&request["Key"]).unwrap_or(0);
                    *bill.write_units.entry(role).or_default() += units(size, WRITE_UNIT);
                    bill.writes += 1;
                }
                "GetItem" => {
                    let size = stored(&request["Key"]).unwrap_or(0);
                    *bill.read_units.entry(role).or_default() +=
                        units(size, READ_UNIT) * consistency(&request);
                    bill.reads += 1;
                }
                "Query" => {
                    let size: usize = answer["Items"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|item| stored(item).unwrap_or_else(|| item_size(item)))
                        .sum();
                    *bill.read_units.entry(role).or_default() +=
                        units(size, READ_UNIT) * consistency(&request);
                    bill.reads += 1;
                }
                other => {
                    return Err(format!(
                        "cost run: DynamoDB.{other} has no pricing rule here; add one to \
                         bench/tools/benches/pipeline/cost.rs"
                    ));
                }
            }
        }
        Ok(bill)
    }

    fn figures(&self, subscriptions: usize, events: usize) -> Vec<Value> {
        let per_event = |n: f64| n / events as f64;
        let prefix = format!("pipeline/cost/{subscriptions}-sub");
        let mut out = Vec::new();
        let mut figure = |name: &str, value: f64, unit: &str| {
            out.push(
                json!({ "name": format!("{prefix}/{name}"), "value": round(value), "unit": unit }),
            );
        };
        figure("events", events as f64, "events");
        figure(
            "write-units-per-event",
            per_event(self.write_units.values().sum()),
            "WRU",
        );
        figure(
            "read-units-per-event",
            per_event(self.read_units.values().sum()),
            "RRU",
        );
        for (table, units) in &self.write_units {
            figure(&format!("write-units/{table}"), per_event(*units), "WRU");
        }
        for (table, units) in &self.read_units {
            figure(&format!("read-units/{table}"), per_event(*units), "RRU");
        }
        for (name, count, unit) in [
            ("dynamodb-writes-per-event", self.writes, "requests"),
            ("dynamodb-reads-per-event", self.reads, "requests"),
            ("sqs-requests-per-event", self.sqs_requests, "requests"),
            (
                "dispatcher-invocations-per-event",
                self.dispatcher_invocations,
                "invocations",
            ),
            ("s3-requests-per-event", self.s3_requests, "requests"),
        ] {
            figure(name, per_event(count as f64), unit);
        }
        figure("sqs-empty-receives", self.empty_receives as f64, "requests");
        out
    }
}

/// An SDK item as DynamoDB JSON, the form the proxy sees on the wire.
fn item_json(item: &HashMap<String, aws_sdk_dynamodb::types::AttributeValue>) -> Value {
    Value::Object(
        item.iter()
            .map(|(k, v)| (k.clone(), attribute_json(v)))
            .collect(),
    )
}

fn attribute_json(value: &aws_sdk_dynamodb::types::AttributeValue) -> Value {
    use aws_sdk_dynamodb::types::AttributeValue as A;
    use base64::Engine as _;
    let b64 = |b: &aws_sdk_dynamodb::primitives::Blob| {
        base64::engine::general_purpose::STANDARD.encode(b.as_ref())
    };
    match value {
        A::S(s) => json!({ "S": s }),
        A::N(n) => json!({ "N": n }),
        A::B(b) => json!({ "B": b64(b) }),
        A::Bool(b) => json!({ "BOOL": b }),
        A::Null(b) => json!({ "NULL": b }),
        A::Ss(v) => json!({ "SS": v }),
        A::Ns(v) => json!({ "NS": v }),
        A::Bs(v) => json!({ "BS": v.iter().map(b64).collect::<Vec<_>>() }),
        A::L(v) => json!({ "L": v.iter().map(attribute_json).collect::<Vec<_>>() }),
        A::M(m) => json!({ "M": item_json(m) }),
        _ => Value::Null,
    }
}
