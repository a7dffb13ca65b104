//! `hookpost events`: accepted events from the archive, replaying one, and recovering a window
//! (every event in it re-delivered to the subscriptions that miss it).

use clap::Subcommand;
use hookpost_operations::events::{EventFilter, EventSummary, Recover, RecoverReport};
use hookpost_operations::{Operations, PageRequest};
use hookpost_shared::source::SourceId;

use crate::output::{Output, or_dash, print_table, table};
use crate::{CliError, parse};

#[derive(Debug, Subcommand)]
pub enum EventsCommand {
    /// Accepted events, oldest first, from the archive.
    #[command(
        after_help = "Examples:\n  hookpost --local events list --source github-main --since 1h\n  hookpost --local events list --type 'pull_request.*' --since 2026-11-22T00:00:00Z"
    )]
    List {
        #[arg(long, value_parser = parse::source_id)]
        source: Option<SourceId>,
        /// Received at or after: RFC 3339, or a duration ago (`90m`, `24h`, `7days`).
        #[arg(long, default_value = "24h", value_parser = parse::instant)]
        since: String,
        /// Received at or before: RFC 3339, or a duration ago.
        #[arg(long, value_parser = parse::instant)]
        until: Option<String>,
        /// Event-type filters (`push`, `invoice.*`).
        #[arg(long = "type", value_parser = parse::event_filters)]
        event_type: Option<parse::EventTypes>,
        /// At most this many events.
        #[arg(long, default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=10_000))]
        limit: u32,
    },
    /// One archived event with its envelope.
    #[command(
        after_help = "Example:\n  hookpost --local events show evt_0192f1c4a7b87c4e9d5d6f3a2b1c0d9e"
    )]
    Show { event_id: String },
    /// Replay one event (to every subscription that wants it, or to those named), or recover a
    /// window with --since: every archived event in it re-delivered to the subscriptions that
    /// did not get it.
    #[command(
        after_help = "Examples:\n  hookpost --local events replay evt_0192f1c4a7b87c4e9d5d6f3a2b1c0d9e\n  hookpost --local events replay --since 2026-11-22T02:00:00Z --until 2026-11-22T04:00:00Z --subscription sub_0192f1c4a7b87c4e\n  hookpost --local events replay --since 2h --source github-main --rate 20 --dry-run"
    )]
    Replay {
        /// The event to replay; omit it to recover a window with --since.
        #[arg(required_unless_present = "since", conflicts_with_all = ["since", "until", "source", "event_type", "rate", "dry_run", "include_delivered"])]
        event_id: Option<String>,
        /// Only this subscription (repeatable for one event; one for a window).
        #[arg(long = "subscription")]
        subscriptions: Vec<String>,
        /// Recover: the window's start (RFC 3339, or a duration ago).
        #[arg(long, value_parser = parse::instant)]
        since: Option<String>,
        /// Recover: the window's end (default: now).
        #[arg(long, value_parser = parse::instant, requires = "since")]
        until: Option<String>,
        /// Recover: only this source's events.
        #[arg(long, value_parser = parse::source_id, requires = "since")]
        source: Option<SourceId>,
        /// Recover: only these event types.
        #[arg(long = "type", value_parser = parse::event_filters, requires = "since")]
        event_type: Option<parse::EventTypes>,
        /// Recover: at most N events queued a second.
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=10_000), requires = "since")]
        rate: Option<u32>,
        /// Recover: count what would be re-delivered; queue nothing.
        #[arg(long, requires = "since")]
        dry_run: bool,
        /// Recover: also re-deliver the events the named subscription already has.
        #[arg(long, requires_all = ["since", "subscriptions"])]
        include_delivered: bool,
    },
}

pub async fn run(ops: &Operations, output: Output, command: EventsCommand) -> Result<(), CliError> {
    match command {
        EventsCommand::List {
            source,
            since,
            until,
            event_type,
            limit,
        } => {
            let filter = EventFilter {
                source,
                event_types: event_type.map(|t| t.0),
                since: Some(since),
                until,
            };
            let wanted = limit as usize;
            let mut events: Vec<EventSummary> = Vec::new();
            let mut page = Some(PageRequest::first(
                wanted.min(hookpost_operations::page::MAX_LIMIT),
            )?);
            while let Some(request) = page.filter(|_| events.len() < wanted) {
                let got = ops.list_events(&filter, &request).await?;
                events.extend(got.items);
                page = request.next(got.next_cursor);
            }
            events.truncate(wanted);
            output.show(&events, |events| {
                let mut t = table(["EVENT", "SOURCE", "TYPE", "RECEIVED"]);
                for e in events {
                    t.add_row([
                        e.event_id.clone(),
                        e.source_id.clone(),
                        or_dash(e.event_type.as_deref()),
                        e.received_at.clone(),
                    ]);
                }
                print_table(&t);
            })
        }
        EventsCommand::Show { event_id } => {
            let event = ops.get_event(&event_id).await?;
            output.show(&event, |e| {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&e.envelope).unwrap_or_default()
                );
            })
        }
        EventsCommand::Replay {
            event_id: Some(event_id),
            subscriptions,
            ..
        } => {
            let queued = ops.replay_event(&event_id, subscriptions).await?;
            output.show(&queued, |q| {
                println!("queued replay {} of {}", q.replay_id, q.event_id);
                println!("follow it with: hookpost deliveries '{}'", q.deliveries_key);
            })
        }
        EventsCommand::Replay {
            event_id: None,
            subscriptions,
            since,
            until,
            source,
            event_type,
            rate,
            dry_run,
            include_delivered,
        } => {
            if subscriptions.len() > 1 {
                return Err(CliError::Usage(
                    "a recovery takes one --subscription (or none: every subscription)".to_owned(),
                ));
            }
            let request = Recover {
                filter: EventFilter {
                    source,
                    event_types: event_type.map(|t| t.0),
                    since,
                    until,
                },
                subscription: subscriptions.into_iter().next(),
                include_delivered,
                rate,
                dry_run,
            };
            let bar = output.progress("events");
            let report = ops.recover(&request, &bar).await;
            bar.finish();
            output.show(&report?, print_recovery)
        }
    }
}

fn print_recovery(r: &RecoverReport) {
    let verb = if r.dry_run { "would queue" } else { "queued" };
    println!(
        "{verb} {} of {} event(s) in the window: {} delivery(ies)",
        r.events_queued, r.events_scanned, r.deliveries
    );
    for (subscription, count) in &r.by_subscription {
        println!("  {subscription}  {count}");
    }
}
