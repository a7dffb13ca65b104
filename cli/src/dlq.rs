//! `hookpost dlq`: every dead-lettered event and why, moving them back (all, by id, or by the
//! list's filters), and emptying the queue.

use std::io::{BufRead as _, IsTerminal as _, Write as _};

use clap::{Args, Subcommand};
use hookpost_operations::dead_letters::{DeadLetter, DeadLetterFilter, Selection};
use hookpost_operations::{Operations, PageRequest};
use hookpost_shared::source::SourceId;

use crate::output::{Output, age, or_dash, print_table, table};
use crate::{CliError, parse};

#[derive(Debug, Subcommand)]
pub enum DlqCommand {
    /// Dead-lettered events, every one at any depth: id, source, type, age, receives, the
    /// subscriptions that miss each and their last error.
    #[command(
        after_help = "Examples:\n  hookpost --local dlq list --output json\n  hookpost --local dlq list --source github-main --type 'pull_request.*' --since 2h"
    )]
    List {
        #[command(flatten)]
        filter: FilterArgs,
        /// At most this many (the rest is named by a cursor on stderr).
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=500))]
        limit: Option<u32>,
        /// Continue a listing cut by --limit.
        #[arg(long, requires = "limit")]
        cursor: Option<String>,
    },
    /// One dead-lettered event: its envelope and its delivery history.
    #[command(
        after_help = "Example:\n  hookpost --local dlq show evt_0192f1c4a7b87c4e9d5d6f3a2b1c0d9e"
    )]
    Show { event_id: String },
    /// Move dead-lettered events back to the ingest queue: all, the ones named, or the ones the
    /// filters match. Subscribers that already got an event are not called again.
    #[command(
        after_help = "Examples:\n  hookpost --local dlq redrive --all\n  hookpost --local dlq redrive evt_0192f1c4a7b87c4e9d5d6f3a2b1c0d9e --rate 5\n  hookpost --local dlq redrive --source github-main --since 6h"
    )]
    Redrive {
        /// Every message (SQS StartMessageMoveTask where the endpoint has it, else one by one).
        #[arg(long, conflicts_with_all = ["event_ids", "source", "event_type", "since"])]
        all: bool,
        /// These events only.
        #[arg(conflicts_with_all = ["source", "event_type", "since"])]
        event_ids: Vec<String>,
        #[command(flatten)]
        filter: FilterArgs,
        /// At most N messages a second.
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=500))]
        rate: Option<u32>,
    },
    /// Delete every message in the dead-letter queue (asks first).
    #[command(after_help = "Example:\n  hookpost --local dlq purge --yes")]
    Purge {
        /// Do not ask; required when stdin is not a terminal.
        #[arg(long)]
        yes: bool,
    },
}

/// The filters `dlq list` and `dlq redrive` share.
#[derive(Debug, Clone, Args)]
pub struct FilterArgs {
    /// Only this source's events.
    #[arg(long, value_parser = parse::source_id)]
    source: Option<SourceId>,
    /// Only these event types (`push`, `invoice.*`).
    #[arg(long = "type", value_parser = parse::event_filters)]
    event_type: Option<parse::EventTypes>,
    /// Only events received at or after: RFC 3339, or a duration ago (`90m`, `24h`).
    #[arg(long, value_parser = parse::instant)]
    since: Option<String>,
}

impl From<FilterArgs> for DeadLetterFilter {
    fn from(f: FilterArgs) -> Self {
        DeadLetterFilter {
            source: f.source,
            event_types: f.event_type.map(|t| t.0),
            since: f.since,
        }
    }
}

pub async fn run(ops: &Operations, output: Output, command: DlqCommand) -> Result<(), CliError> {
    match command {
        DlqCommand::List {
            filter,
            limit,
            cursor,
        } => {
            let filter = DeadLetterFilter::from(filter);
            let rows = match limit {
                Some(limit) => {
                    let page = ops
                        .list_dead_letters(&filter, &PageRequest::new(limit as usize, cursor)?)
                        .await?;
                    if let Some(next) = &page.next_cursor {
                        eprintln!("more dead letters: add --cursor {next}");
                    }
                    page.items
                }
                None => all_dead_letters(ops, &filter).await?,
            };
            output.show(&rows, |rows| print_list(rows))
        }
        DlqCommand::Show { event_id } => {
            let detail = ops.get_dead_letter(&event_id).await?;
            output.show(&detail, |d| {
                print_list(std::slice::from_ref(&d.dead_letter));
                println!();
                println!(
                    "{}",
                    serde_json::to_string_pretty(&d.envelope).unwrap_or_default()
                );
                println!();
                crate::deliveries::print(&event_id, &d.deliveries);
            })
        }
        DlqCommand::Redrive {
            all,
            event_ids,
            filter,
            rate,
        } => {
            let filter = DeadLetterFilter::from(filter);
            let selection = if all {
                Selection::All
            } else if !event_ids.is_empty() {
                Selection::Events(event_ids)
            } else if filter != DeadLetterFilter::default() {
                Selection::Matching(filter)
            } else {
                return Err(CliError::Usage(
                    "say what to redrive: --all, event ids, or --source/--type/--since".to_owned(),
                ));
            };
            let bar = output.progress("moved");
            let report = ops.redrive(&selection, rate, &bar).await;
            bar.finish();
            let report = report?;
            output.show(&report, |r| {
                let method = serde_json::to_value(r.method).unwrap_or_default();
                println!(
                    "redriven {} message(s) to the ingest queue ({})",
                    r.moved,
                    method.as_str().unwrap_or_default()
                );
            })?;
            if report.missing.is_empty() {
                Ok(())
            } else {
                eprintln!(
                    "not in the dead-letter queue: {} (see `hookpost dlq list`)",
                    report.missing.join(", ")
                );
                Err(CliError::Failed(format!(
                    "{} event(s) were not in the dead-letter queue",
                    report.missing.len()
                )))
            }
        }
        DlqCommand::Purge { yes } => {
            if !yes {
                confirm_purge(ops.dead_letter_depth().await?)?;
            }
            let report = ops.purge_dead_letters().await?;
            output.show(&report, |r| {
                println!(
                    "purged the dead-letter queue (about {} message(s); SQS may take up to 60 s \
                     to finish)",
                    r.purged
                );
            })
        }
    }
}

/// Every dead letter the filter matches, page after page.
async fn all_dead_letters(
    ops: &Operations,
    filter: &DeadLetterFilter,
) -> Result<Vec<DeadLetter>, CliError> {
    let mut all = Vec::new();
    let mut page = Some(PageRequest::first(hookpost_operations::page::MAX_LIMIT)?);
    while let Some(request) = page {
        let got = ops.list_dead_letters(filter, &request).await?;
        all.extend(got.items);
        page = request.next(got.next_cursor);
    }
    Ok(all)
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

fn print_list(rows: &[DeadLetter]) {
    if rows.is_empty() {
        println!("the dead-letter queue is empty");
        return;
    }
    let mut t = table([
        "EVENT",
        "SOURCE",
        "TYPE",
        "AGE",
        "RECEIVES",
        "UNDELIVERED (LAST ERROR)",
    ]);
    for r in rows {
        let undelivered = match (&r.error, r.undelivered.is_empty()) {
            (Some(error), _) => format!("not an envelope: {error}"),
            (None, true) => "none recorded".to_owned(),
            (None, false) => r
                .undelivered
                .iter()
                .map(|d| {
                    let why = d
                        .last_error
                        .clone()
                        .or_else(|| d.last_status_code.map(|c| format!("HTTP {c}")));
                    format!("{} ({})", d.subscription_id, or_dash(why))
                })
                .collect::<Vec<_>>()
                .join(", "),
        };
        t.add_row([
            r.event_id.clone().unwrap_or_else(|| r.message_id.clone()),
            or_dash(r.source_id.as_deref()),
            or_dash(r.event_type.as_deref()),
            or_dash(r.age_seconds.map(age)),
            r.receive_count.to_string(),
            undelivered,
        ]);
    }
    print_table(&t);
}
