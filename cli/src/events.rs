//! `hookpost events`: accepted events from the archive (the events table), by source, type and
//! time, and replaying one onto the ingest queue.

use std::time::{Duration, SystemTime};

use hookpost_shared::clock::rfc3339;
use hookpost_shared::envelope::{Envelope, Replay};
use hookpost_shared::store::{ArchivedEvent, EventArchive, EventQueue};
use hookpost_shared::subscription::{Subscription, parse_event_filters};
use serde_json::{Value, json};

use crate::CliError;
use crate::args::{EventsCommand, Global, Output};
use crate::commands::{Target, parse_source_id};

pub async fn run(global: &Global, command: EventsCommand) -> Result<(), CliError> {
    let target = Target::resolve(global).await?;
    let archive = target.events();
    match command {
        EventsCommand::List {
            source,
            since,
            event_type,
            limit,
        } => {
            let since = parse_since(&since, SystemTime::now())?;
            let filters = event_type
                .as_deref()
                .map(parse_event_filters)
                .transpose()
                .map_err(CliError::Usage)?;
            let sources = match source {
                Some(name) => vec![parse_source_id(&name)?],
                None => target
                    .sources()
                    .list()
                    .await?
                    .into_iter()
                    .map(|s| s.source_id)
                    .collect(),
            };
            // The type filter is applied after the query: read more than asked, within reason.
            let fetch = if filters.is_some() {
                (limit as usize).saturating_mul(10).min(10_000)
            } else {
                limit as usize
            };
            let mut events = Vec::new();
            for source in &sources {
                events.extend(archive.list(source, Some(&since), fetch).await?);
            }
            if let Some(filters) = &filters {
                events.retain(|e| {
                    hookpost_shared::subscription::event_types_match(
                        filters,
                        e.event_type.as_deref(),
                    )
                });
            }
            events.sort_by(|a, b| a.received_at.cmp(&b.received_at));
            events.truncate(limit as usize);
            match global.output {
                Output::Json => {
                    let rows: Vec<_> = events.iter().map(summary).collect();
                    println!("{}", Value::Array(rows));
                }
                Output::Table => {
                    println!("{:<40} {:<20} {:<24} RECEIVED", "EVENT", "SOURCE", "TYPE");
                    for e in &events {
                        println!(
                            "{:<40} {:<20} {:<24} {}",
                            e.event_id,
                            e.source_id.as_str(),
                            e.event_type.as_deref().unwrap_or("-"),
                            e.received_at
                        );
                    }
                }
            }
        }
        EventsCommand::Show { event_id } => {
            let event = find(&archive, &event_id).await?;
            let envelope: Value = serde_json::from_str(&event.envelope).unwrap_or(Value::Null);
            match global.output {
                Output::Json => {
                    let mut row = summary(&event);
                    row["envelope"] = envelope;
                    println!("{row}");
                }
                Output::Table => println!(
                    "{}",
                    serde_json::to_string_pretty(&envelope).unwrap_or_default()
                ),
            }
        }
        EventsCommand::Replay {
            event_id,
            subscriptions,
        } => {
            let event = find(&archive, &event_id).await?;
            let envelope = Envelope::decode(&event.envelope).map_err(|e| {
                CliError::Failed(format!("the archived event cannot be replayed: {e}"))
            })?;
            if !subscriptions.is_empty() {
                let known: Vec<Subscription> = target
                    .subscriptions()
                    .list_all()
                    .await?
                    .into_iter()
                    .filter(|s| s.source_id == envelope.source_id)
                    .collect();
                for id in &subscriptions {
                    if !known.iter().any(|s| &s.subscription_id == id) {
                        return Err(CliError::Usage(format!(
                            "{id} is not a subscription of {}: see `hookpost subscriptions list \
                             --source {}`",
                            envelope.source_id, envelope.source_id
                        )));
                    }
                }
            }
            let replay = Replay::new(subscriptions);
            let message = replay
                .mark(&event.envelope)
                .map_err(|e| CliError::Failed(e.to_string()))?;
            let queue = hookpost_shared::aws::SqsQueue::new(
                hookpost_shared::aws::SqsClient::new(&target.sdk),
                &target.names.ingest_queue_url,
            );
            // In ordered mode a replay takes its place in the source's order like a new event.
            queue
                .enqueue_in_group(message, envelope.source_id.as_str(), &replay.id)
                .await?;
            let key = replay.delivery_key(&event.event_id);
            match global.output {
                Output::Json => println!(
                    "{}",
                    json!({
                        "event_id": event.event_id,
                        "replay_id": replay.id,
                        "subscriptions": replay.subscriptions,
                        "deliveries_key": key,
                    })
                ),
                Output::Table => {
                    println!("queued replay {} of {}", replay.id, event.event_id);
                    println!("follow it with: hookpost deliveries '{key}'");
                }
            }
        }
    }
    Ok(())
}

async fn find(
    archive: &hookpost_shared::aws::DynamoEvents,
    event_id: &str,
) -> Result<ArchivedEvent, CliError> {
    archive.get(event_id).await?.ok_or_else(|| {
        CliError::Failed(format!(
            "no archived event {event_id}: it was never accepted, or it is older than the \
             retention period (DeliveryRetentionDays)"
        ))
    })
}

fn summary(e: &ArchivedEvent) -> Value {
    json!({
        "event_id": e.event_id,
        "source_id": e.source_id.as_str(),
        "event_type": e.event_type,
        "received_at": e.received_at,
    })
}

/// `--since`: an RFC 3339 instant, or a duration before `now` (`30m`, `24h`, `7days`).
pub fn parse_since(text: &str, now: SystemTime) -> Result<String, CliError> {
    if let Ok(at) = humantime::parse_rfc3339_weak(text) {
        return Ok(rfc3339(at));
    }
    let ago: Duration = humantime::parse_duration(text).map_err(|_| {
        CliError::Usage(format!(
            "--since `{text}`: give an RFC 3339 time (2026-11-22T08:00:00Z) or a duration (90m, 24h, 7days)"
        ))
    })?;
    Ok(rfc3339(
        now.checked_sub(ago).unwrap_or(SystemTime::UNIX_EPOCH),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_takes_an_instant_or_a_duration_ago() {
        let now = humantime::parse_rfc3339("2026-11-22T12:00:00Z").expect("instant");
        assert_eq!(
            parse_since("2h", now).expect("duration"),
            rfc3339(humantime::parse_rfc3339("2026-11-22T10:00:00Z").expect("instant"))
        );
        assert_eq!(
            parse_since("2026-11-21T08:30:00Z", now).expect("instant"),
            rfc3339(humantime::parse_rfc3339("2026-11-21T08:30:00Z").expect("instant"))
        );
        assert!(matches!(
            parse_since("yesterday-ish", now),
            Err(CliError::Usage(_))
        ));
    }
}
