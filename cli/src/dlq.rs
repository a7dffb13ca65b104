//! `hookpost dlq`: what is in the dead-letter queue and why, moving it back, and emptying it.
//!
//! Moving is send-then-delete, so an interruption leaves a duplicate, never a loss; the dispatcher
//! skips subscriptions that already have an event, so a duplicate costs nothing downstream.

use std::collections::HashSet;
use std::io::{BufRead, IsTerminal, Write};
use std::time::{Duration, SystemTime};

use aws_sdk_sqs::types::{Message, MessageSystemAttributeName, QueueAttributeName};
use hookpost_shared::aws::{SqsClient, is_fifo_url};
use hookpost_shared::clock::unix_millis;
use hookpost_shared::envelope::Envelope;
use hookpost_shared::store::DeliveryLog;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde_json::{Value, json};

use crate::CliError;
use crate::args::{DlqCommand, Global, Output};
use crate::commands::{Target, ago, sdk_message};

/// How many receive rounds a peek makes at most (each sees up to 10 messages).
const PEEK_ROUNDS: usize = 20;

pub async fn run(global: &Global, command: DlqCommand) -> Result<(), CliError> {
    let target = Target::resolve(global).await?;
    let sqs = SqsClient::new(&target.sdk);
    let dlq_url = target.names.dead_letter_queue_url.clone();
    match command {
        DlqCommand::List => {
            let mut rows = Vec::new();
            for message in peek(&sqs, &dlq_url).await? {
                rows.push(describe(&target, &message).await?);
            }
            print_list(global, &rows);
        }
        DlqCommand::Show { event_id } => {
            let message = peek(&sqs, &dlq_url)
                .await?
                .into_iter()
                .find(|m| event_id_of(m).as_deref() == Some(event_id.as_str()))
                .ok_or_else(|| {
                    CliError::Failed(format!(
                        "{event_id} is not in the dead-letter queue: `hookpost dlq list` shows \
                         what is, `hookpost events show {event_id}` finds any accepted event"
                    ))
                })?;
            let row = describe(&target, &message).await?;
            let envelope: Value = message
                .body
                .as_deref()
                .and_then(|b| serde_json::from_str(b).ok())
                .unwrap_or(Value::Null);
            let history = target.deliveries().for_event(&event_id).await?;
            match global.output {
                Output::Json => println!(
                    "{}",
                    json!({ "message": row, "envelope": envelope, "deliveries": history })
                ),
                Output::Table => {
                    print_list(global, std::slice::from_ref(&row));
                    println!();
                    println!(
                        "{}",
                        serde_json::to_string_pretty(&envelope).unwrap_or_default()
                    );
                    println!();
                    crate::commands::print_deliveries(&event_id, &history);
                }
            }
        }
        DlqCommand::Redrive {
            all,
            event_ids,
            rate,
        } => {
            let ingest = target.names.ingest_queue_url.clone();
            let (moved, method) = if all {
                redrive_everything(&sqs, &dlq_url, &ingest, rate, global.output).await?
            } else {
                let wanted: HashSet<String> = event_ids.iter().cloned().collect();
                let bar = progress(global.output, wanted.len() as u64);
                let moved =
                    move_messages(&sqs, &dlq_url, &ingest, Some(&wanted), rate, &bar).await?;
                bar.finish_and_clear();
                if moved.len() < wanted.len() {
                    let missing: Vec<_> = wanted.difference(&moved).cloned().collect();
                    eprintln!(
                        "not in the dead-letter queue: {} (see `hookpost dlq list`)",
                        missing.join(", ")
                    );
                }
                (moved.len(), "per-message")
            };
            match global.output {
                Output::Json => println!("{}", json!({ "moved": moved, "method": method })),
                Output::Table => {
                    println!("redriven {moved} message(s) to the ingest queue ({method})")
                }
            }
            if !all && moved < event_ids.len() {
                return Err(CliError::Failed(format!(
                    "{} of {} event(s) were not in the dead-letter queue",
                    event_ids.len() - moved,
                    event_ids.len()
                )));
            }
        }
        DlqCommand::Purge { yes } => {
            let depth = depth(&sqs, &dlq_url).await?;
            if !yes {
                confirm_purge(depth)?;
            }
            sqs.purge_queue()
                .queue_url(&dlq_url)
                .send()
                .await
                .map_err(|e| CliError::Failed(sdk_message(e)))?;
            match global.output {
                Output::Json => println!("{}", json!({ "purged": depth })),
                Output::Table => println!(
                    "purged the dead-letter queue (about {depth} message(s); SQS may take up to \
                     60 s to finish)"
                ),
            }
        }
    }
    Ok(())
}

/// Asks on the terminal; refuses (exit 2) when nobody can answer.
fn confirm_purge(depth: u64) -> Result<(), CliError> {
    if !std::io::stdin().is_terminal() {
        return Err(CliError::Usage(
            "refusing to purge without confirmation: stdin is not a terminal; pass --yes"
                .to_owned(),
        ));
    }
    eprint!(
        "Delete about {depth} message(s) from the dead-letter queue for good? Type `purge` to \
         confirm: "
    );
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| CliError::Failed(format!("reading the answer: {e}")))?;
    if answer.trim() == "purge" {
        Ok(())
    } else {
        Err(CliError::Failed("not purged".to_owned()))
    }
}

/// The messages of a queue without taking them: a zero visibility timeout leaves each where it
/// is. SQS returns a sample per call, so several rounds are made until one shows nothing new.
async fn peek(sqs: &SqsClient, url: &str) -> Result<Vec<Message>, CliError> {
    let mut seen = HashSet::new();
    let mut messages = Vec::new();
    for _ in 0..PEEK_ROUNDS {
        let out = sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .visibility_timeout(0)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await
            .map_err(|e| CliError::Failed(sdk_message(e)))?;
        let before = messages.len();
        for m in out.messages.unwrap_or_default() {
            if seen.insert(m.message_id.clone().unwrap_or_default()) {
                messages.push(m);
            }
        }
        if messages.len() == before {
            break;
        }
    }
    messages.sort_by_key(|m| attribute(m, MessageSystemAttributeName::SentTimestamp));
    Ok(messages)
}

fn attribute(message: &Message, name: MessageSystemAttributeName) -> Option<String> {
    message.attributes.as_ref()?.get(&name).cloned()
}

fn event_id_of(message: &Message) -> Option<String> {
    Envelope::decode(message.body.as_deref()?)
        .ok()
        .map(|e| e.event_id)
}

/// One dead-lettered message: its event and which subscriptions still miss it, and why.
async fn describe(target: &Target, message: &Message) -> Result<Value, CliError> {
    let receives: u64 = attribute(message, MessageSystemAttributeName::ApproximateReceiveCount)
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    let body = message.body.as_deref().unwrap_or_default();
    let envelope = match Envelope::decode(body) {
        Ok(envelope) => envelope,
        Err(e) => {
            return Ok(json!({
                "message_id": message.message_id,
                "receive_count": receives,
                "error": e.to_string(),
            }));
        }
    };
    let deliveries = target.deliveries();
    let records = deliveries.for_event(&envelope.event_id).await?;
    let delivered = deliveries
        .delivered_subscriptions(&envelope.event_id)
        .await?;
    let undelivered: Vec<_> = records
        .iter()
        .filter(|r| !delivered.contains(&r.subscription_id))
        .map(|r| {
            json!({
                "subscription_id": r.subscription_id,
                "status": r.status,
                "attempts": r.attempts,
                "last_error": r.last_error,
                "last_status_code": r.last_status_code,
                "last_attempt_at": r.last_attempt_at,
            })
        })
        .collect();
    let age_seconds = humantime::parse_rfc3339_weak(&envelope.received_at)
        .ok()
        .and_then(|t| SystemTime::now().duration_since(t).ok())
        .map(|d| d.as_secs());
    Ok(json!({
        "message_id": message.message_id,
        "event_id": envelope.event_id,
        "source_id": envelope.source_id.as_str(),
        "event_type": envelope.event_type,
        "received_at": envelope.received_at,
        "age_seconds": age_seconds,
        "receive_count": receives,
        "delivered": delivered.len(),
        "undelivered": undelivered,
    }))
}

fn print_list(global: &Global, rows: &[Value]) {
    match global.output {
        Output::Json => println!("{}", Value::Array(rows.to_vec())),
        Output::Table => {
            if rows.is_empty() {
                println!("the dead-letter queue is empty");
                return;
            }
            let now = SystemTime::now();
            println!(
                "{:<40} {:<16} {:<20} {:>8} {:>8}  UNDELIVERED (LAST ERROR)",
                "EVENT", "SOURCE", "TYPE", "AGE", "RECEIVES"
            );
            for r in rows {
                let undelivered = match r["undelivered"].as_array() {
                    Some(list) if list.is_empty() => "none recorded".to_owned(),
                    Some(list) => list
                        .iter()
                        .map(|d| {
                            let why = d["last_error"].as_str().map(str::to_owned).or_else(|| {
                                d["last_status_code"].as_u64().map(|c| format!("HTTP {c}"))
                            });
                            format!(
                                "{} ({})",
                                d["subscription_id"].as_str().unwrap_or("?"),
                                why.as_deref().unwrap_or("-")
                            )
                        })
                        .collect::<Vec<_>>()
                        .join(", "),
                    None => r["error"].as_str().unwrap_or_default().to_owned(),
                };
                let age = r["received_at"]
                    .as_str()
                    .map_or("-".to_owned(), |at| ago(at, now).replace(" ago", ""));
                println!(
                    "{:<40} {:<16} {:<20} {:>8} {:>8}  {}",
                    r["event_id"]
                        .as_str()
                        .or(r["message_id"].as_str())
                        .unwrap_or("?"),
                    r["source_id"].as_str().unwrap_or("-"),
                    r["event_type"].as_str().unwrap_or("-"),
                    age,
                    r["receive_count"],
                    undelivered
                );
            }
        }
    }
}

/// A progress bar on a terminal (stderr), nothing otherwise.
fn progress(output: Output, total: u64) -> ProgressBar {
    if output == Output::Json || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template("{bar:40} {pos}/{len} moved {msg}") {
        bar.set_style(style);
    }
    bar
}

async fn depth(sqs: &SqsClient, url: &str) -> Result<u64, CliError> {
    Ok(sqs
        .get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .send()
        .await
        .map_err(|e| CliError::Failed(sdk_message(e)))?
        .attributes
        .and_then(|mut a| a.remove(&QueueAttributeName::ApproximateNumberOfMessages))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0))
}

async fn queue_arn(sqs: &SqsClient, url: &str) -> Result<String, CliError> {
    sqs.get_queue_attributes()
        .queue_url(url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .map_err(|e| CliError::Failed(sdk_message(e)))?
        .attributes
        .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
        .ok_or_else(|| CliError::Failed(format!("{url} has no QueueArn")))
}

/// `--all`: an SQS message move task where the endpoint offers one (it runs inside SQS, at
/// `rate` a second), else the messages one by one. Returns the count and the method used.
async fn redrive_everything(
    sqs: &SqsClient,
    from: &str,
    to: &str,
    rate: Option<u32>,
    output: Output,
) -> Result<(usize, &'static str), CliError> {
    let total = depth(sqs, from).await?;
    let bar = progress(output, total);
    let source_arn = queue_arn(sqs, from).await?;
    let started = sqs
        .start_message_move_task()
        .source_arn(&source_arn)
        .destination_arn(queue_arn(sqs, to).await?)
        .set_max_number_of_messages_per_second(rate.and_then(|r| i32::try_from(r).ok()))
        .send()
        .await;
    match started {
        Ok(_) => {
            let moved = follow_move_task(sqs, &source_arn, &bar).await?;
            bar.finish_and_clear();
            Ok((moved, "move-task"))
        }
        Err(e) => {
            // LocalStack and moto lack the move-task API; an account may lack the permission.
            eprintln!(
                "StartMessageMoveTask is not available here ({}): moving messages one by one",
                sdk_message(e)
            );
            let moved = move_messages(sqs, from, to, None, rate, &bar).await?;
            bar.finish_and_clear();
            Ok((moved.len(), "per-message"))
        }
    }
}

/// Polls the running move task until it ends; the number of messages it moved.
async fn follow_move_task(
    sqs: &SqsClient,
    source_arn: &str,
    bar: &ProgressBar,
) -> Result<usize, CliError> {
    loop {
        let out = sqs
            .list_message_move_tasks()
            .source_arn(source_arn)
            .max_results(1)
            .send()
            .await
            .map_err(|e| CliError::Failed(sdk_message(e)))?;
        let Some(task) = out.results().first() else {
            return Err(CliError::Failed(
                "the move task started but is not listed".to_owned(),
            ));
        };
        let moved = u64::try_from(task.approximate_number_of_messages_moved()).unwrap_or(0);
        bar.set_position(moved);
        match task.status().unwrap_or_default() {
            "RUNNING" | "CANCELLING" => tokio::time::sleep(Duration::from_secs(1)).await,
            "COMPLETED" => return Ok(usize::try_from(moved).unwrap_or(usize::MAX)),
            other => {
                return Err(CliError::Failed(format!(
                    "the move task ended {other} after {moved} message(s): {}",
                    task.failure_reason().unwrap_or("no reason given")
                )));
            }
        }
    }
}

/// Moves messages from `from` to `to` one by one, sent first and deleted after: every message,
/// or only the events in `only`. At most `rate` a second. Returns the moved event ids (message
/// ids for messages that are not envelopes).
///
/// Between FIFO queues each message keeps its group, so its place in its source's order, and
/// gets a fresh deduplication id (the queue would drop a resend under the old one).
pub async fn move_messages(
    sqs: &SqsClient,
    from: &str,
    to: &str,
    only: Option<&HashSet<String>>,
    rate: Option<u32>,
    bar: &ProgressBar,
) -> Result<HashSet<String>, CliError> {
    let fifo = is_fifo_url(to);
    let pause = rate.map(|r| Duration::from_secs_f64(1.0 / f64::from(r.max(1))));
    let mut moved = HashSet::new();
    let mut seen = HashSet::new();
    // Messages received but not wanted stay invisible until the end, so the scan moves on; then
    // they are made visible again at once.
    let mut skipped = Vec::new();
    let result = async {
        loop {
            if only.is_some_and(|ids| ids.iter().all(|id| moved.contains(id))) {
                return Ok(());
            }
            let out = sqs
                .receive_message()
                .queue_url(from)
                .max_number_of_messages(10)
                .visibility_timeout(60)
                .message_system_attribute_names(MessageSystemAttributeName::MessageGroupId)
                .send()
                .await
                .map_err(|e| CliError::Failed(sdk_message(e)))?;
            let messages = out.messages.unwrap_or_default();
            let fresh: Vec<_> = messages
                .into_iter()
                .filter(|m| seen.insert(m.message_id.clone().unwrap_or_default()))
                .collect();
            if fresh.is_empty() {
                return Ok(());
            }
            for message in fresh {
                let receipt = message.receipt_handle.clone().unwrap_or_default();
                let key = event_id_of(&message)
                    .or_else(|| message.message_id.clone())
                    .unwrap_or_default();
                if only.is_some_and(|ids| !ids.contains(&key)) {
                    skipped.push(receipt);
                    continue;
                }
                let started = tokio::time::Instant::now();
                let group = attribute(&message, MessageSystemAttributeName::MessageGroupId);
                let dedup = format!(
                    "redrive-{}-{}",
                    message.message_id.as_deref().unwrap_or_default(),
                    unix_millis(SystemTime::now())
                );
                sqs.send_message()
                    .queue_url(to)
                    .message_body(message.body.unwrap_or_default())
                    .set_message_group_id(group.filter(|_| fifo))
                    .set_message_deduplication_id(fifo.then_some(dedup))
                    .send()
                    .await
                    .map_err(|e| CliError::Failed(sdk_message(e)))?;
                sqs.delete_message()
                    .queue_url(from)
                    .receipt_handle(receipt)
                    .send()
                    .await
                    .map_err(|e| CliError::Failed(sdk_message(e)))?;
                moved.insert(key);
                bar.inc(1);
                if let Some(pause) = pause {
                    tokio::time::sleep_until(started + pause).await;
                }
            }
        }
    }
    .await;
    for receipt in skipped {
        let _ = sqs
            .change_message_visibility()
            .queue_url(from)
            .receipt_handle(receipt)
            .visibility_timeout(0)
            .send()
            .await;
    }
    result.map(|()| moved)
}
