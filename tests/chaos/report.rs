//! The chaos run's figures: a Markdown table on stdout and in `target/chaos/report.md`, the same
//! as JSON in `target/chaos/report.json` (and `report-{events}.*`, so a short run does not
//! overwrite a full one).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use serde::Serialize;

use hookpost_testkit::proxy::{Fault, FaultKind, FaultShares};

/// One subscriber's figures.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SubscriberFigures {
    pub kind: String,
    pub source: String,
    /// Its event-type filter.
    pub events: String,
    /// Accepted events it wants.
    pub matching: u64,
    /// Of those, the ones it acknowledged.
    pub delivered: u64,
    pub calls: u64,
    /// Calls after it had acknowledged the event.
    pub duplicates: u64,
    /// 2xx answers after the attempt timeout.
    pub late: u64,
    pub unverified: u64,
}

/// A subscriber called again for an event it had acknowledged, and why.
#[derive(Debug, Clone, Serialize)]
pub struct Duplicate {
    pub subscriber: String,
    pub chaos_id: String,
    pub event_ids: Vec<String>,
    pub extra_calls: u32,
    pub why: String,
}

/// What the run measured, as the harness hands it over.
#[derive(Debug)]
pub struct Inputs<'a> {
    pub events: usize,
    pub shares: FaultShares,
    pub calls: BTreeMap<String, u64>,
    pub faults: &'a [Fault],
    /// The receiver's first answer to each event.
    pub sent_first: Vec<u16>,
    pub accepted: usize,
    pub accepted_after_retry: usize,
    /// Refused events that were queued anyway, and whether a lost answer explains it.
    pub half_accepted: Vec<(String, bool)>,
    pub dead_lettered: usize,
    pub dead_lettered_events: usize,
    pub dead_letter_reasons: BTreeMap<String, u64>,
    pub dead_wanted: usize,
    pub dead_in_dlq: usize,
    pub redriven: u64,
    pub dead_delivered: usize,
    pub dead_lettered_after_redrive: usize,
    pub lost_before_redrive: usize,
    pub lost: usize,
    pub subscribers: Vec<SubscriberFigures>,
    pub duplicates: Vec<Duplicate>,
    pub gone_disabled: bool,
    pub gone_reason: Option<String>,
    /// Messages in invocations the pollers stopped at the function timeout.
    pub invocations_cut: usize,
    /// SQS messages handed to two invocations at once.
    pub concurrent_receives: usize,
    pub sending: Duration,
    pub wall: Duration,
    /// `wave 2 of 5` when the run is split.
    pub wave: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Figures {
    pub events: usize,
    pub calls_total: u64,
    pub calls: BTreeMap<String, u64>,
    pub faults_total: u64,
    /// Kind → service → count.
    pub faults: BTreeMap<String, BTreeMap<String, u64>>,
    pub faults_by_operation: BTreeMap<String, u64>,
    pub accepted_first: usize,
    pub refused: usize,
    pub refused_by_status: BTreeMap<u16, u64>,
    pub accepted_after_retry: usize,
    pub accepted: usize,
    pub half_accepted: usize,
    pub half_accepted_explained: usize,
    /// Messages, and the distinct events among them (a lost `SendMessage` answer queues two
    /// copies of one event).
    pub dead_lettered: usize,
    pub dead_lettered_events: usize,
    pub dead_letter_reasons: BTreeMap<String, u64>,
    pub dead_subscriber_events: usize,
    pub dead_subscriber_events_dead_lettered: usize,
    pub redriven: u64,
    pub dead_subscriber_events_delivered_after_redrive: usize,
    pub dead_lettered_after_redrive: usize,
    pub lost_before_redrive: usize,
    pub lost: usize,
    pub duplicates: u64,
    pub duplicate_reasons: BTreeMap<String, u64>,
    pub gone_disabled: bool,
    pub gone_reason: Option<String>,
    pub unverified: u64,
    pub invocations_cut: usize,
    pub concurrent_receives: usize,
    pub sending_seconds: f64,
    pub wall_seconds: f64,
}

#[derive(Debug, Serialize)]
pub struct Report {
    /// `wave 2 of 5`, or `5 waves` for the sum of a split run.
    pub wave: Option<String>,
    pub command: String,
    pub commit: String,
    pub shares: FaultShares,
    pub figures: Figures,
    pub subscribers: Vec<SubscriberFigures>,
    pub duplicates: Vec<Duplicate>,
}

impl Report {
    pub fn build(i: Inputs<'_>) -> Self {
        let mut faults: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
        let mut by_operation: BTreeMap<String, u64> = BTreeMap::new();
        for f in i.faults {
            *faults
                .entry(f.kind.name().to_owned())
                .or_default()
                .entry(f.service.to_owned())
                .or_default() += 1;
            *by_operation
                .entry(format!("{}.{} {}", f.service, f.operation, f.kind.name()))
                .or_default() += 1;
        }
        let mut refused_by_status = BTreeMap::new();
        for status in i.sent_first.iter().filter(|s| !matches!(s, 200 | 202)) {
            *refused_by_status.entry(*status).or_insert(0) += 1;
        }
        let mut duplicate_reasons = BTreeMap::new();
        for d in &i.duplicates {
            *duplicate_reasons.entry(d.why.clone()).or_insert(0) += u64::from(d.extra_calls);
        }
        let figures = Figures {
            events: i.events,
            calls_total: i
                .calls
                .iter()
                .filter(|(k, _)| !k.starts_with("other."))
                .map(|(_, v)| v)
                .sum(),
            calls: i.calls,
            faults_total: i.faults.len() as u64,
            faults,
            faults_by_operation: by_operation,
            accepted_first: i
                .sent_first
                .iter()
                .filter(|s| matches!(s, 200 | 202))
                .count(),
            refused: refused_by_status.values().sum::<u64>() as usize,
            refused_by_status,
            accepted_after_retry: i.accepted_after_retry,
            accepted: i.accepted,
            half_accepted: i.half_accepted.len(),
            half_accepted_explained: i.half_accepted.iter().filter(|(_, e)| *e).count(),
            dead_lettered: i.dead_lettered,
            dead_lettered_events: i.dead_lettered_events,
            dead_letter_reasons: i.dead_letter_reasons,
            dead_subscriber_events: i.dead_wanted,
            dead_subscriber_events_dead_lettered: i.dead_in_dlq,
            redriven: i.redriven,
            dead_subscriber_events_delivered_after_redrive: i.dead_delivered,
            dead_lettered_after_redrive: i.dead_lettered_after_redrive,
            lost_before_redrive: i.lost_before_redrive,
            lost: i.lost,
            duplicates: i.duplicates.iter().map(|d| u64::from(d.extra_calls)).sum(),
            duplicate_reasons,
            gone_disabled: i.gone_disabled,
            gone_reason: i.gone_reason,
            unverified: i.subscribers.iter().map(|s| s.unverified).sum(),
            invocations_cut: i.invocations_cut,
            concurrent_receives: i.concurrent_receives,
            sending_seconds: i.sending.as_secs_f64(),
            wall_seconds: i.wall.as_secs_f64(),
        };
        Self {
            wave: i.wave,
            command: std::env::var("HOOKPOST_CHAOS_COMMAND").unwrap_or_else(|_| {
                format!(
                    "HOOKPOST_CHAOS_EVENTS={} scripts/with-moto.sh cargo test -p hookpost-tests --test chaos",
                    i.events
                )
            }),
            commit: commit(),
            shares: i.shares,
            figures,
            subscribers: i.subscribers,
            duplicates: i.duplicates,
        }
    }

    /// The sum of a split run's waves.
    pub fn combine(waves: &[Report]) -> Report {
        fn add<K: Ord + Clone>(into: &mut BTreeMap<K, u64>, from: &BTreeMap<K, u64>) {
            for (k, v) in from {
                *into.entry(k.clone()).or_insert(0) += v;
            }
        }
        let mut f = waves[0].figures.clone();
        let mut subscribers = waves[0].subscribers.clone();
        let mut duplicates = waves[0].duplicates.clone();
        for w in &waves[1..] {
            let g = &w.figures;
            f.events += g.events;
            f.calls_total += g.calls_total;
            add(&mut f.calls, &g.calls);
            f.faults_total += g.faults_total;
            for (kind, services) in &g.faults {
                add(f.faults.entry(kind.clone()).or_default(), services);
            }
            add(&mut f.faults_by_operation, &g.faults_by_operation);
            f.accepted_first += g.accepted_first;
            f.refused += g.refused;
            add(&mut f.refused_by_status, &g.refused_by_status);
            f.accepted_after_retry += g.accepted_after_retry;
            f.accepted += g.accepted;
            f.half_accepted += g.half_accepted;
            f.half_accepted_explained += g.half_accepted_explained;
            f.dead_lettered += g.dead_lettered;
            f.dead_lettered_events += g.dead_lettered_events;
            add(&mut f.dead_letter_reasons, &g.dead_letter_reasons);
            f.dead_subscriber_events += g.dead_subscriber_events;
            f.dead_subscriber_events_dead_lettered += g.dead_subscriber_events_dead_lettered;
            f.redriven += g.redriven;
            f.dead_subscriber_events_delivered_after_redrive +=
                g.dead_subscriber_events_delivered_after_redrive;
            f.dead_lettered_after_redrive += g.dead_lettered_after_redrive;
            f.lost_before_redrive += g.lost_before_redrive;
            f.lost += g.lost;
            f.duplicates += g.duplicates;
            add(&mut f.duplicate_reasons, &g.duplicate_reasons);
            f.gone_disabled &= g.gone_disabled;
            f.unverified += g.unverified;
            f.invocations_cut += g.invocations_cut;
            f.concurrent_receives += g.concurrent_receives;
            f.sending_seconds += g.sending_seconds;
            f.wall_seconds += g.wall_seconds;
            for (mine, theirs) in subscribers.iter_mut().zip(&w.subscribers) {
                mine.matching += theirs.matching;
                mine.delivered += theirs.delivered;
                mine.calls += theirs.calls;
                mine.duplicates += theirs.duplicates;
                mine.late += theirs.late;
                mine.unverified += theirs.unverified;
            }
            duplicates.extend(w.duplicates.iter().cloned());
        }
        Report {
            wave: Some(format!("{} waves", waves.len())),
            command: waves[0].command.clone(),
            commit: waves[0].commit.clone(),
            shares: waves[0].shares,
            figures: f,
            subscribers,
            duplicates,
        }
    }

    /// The figures as Markdown tables.
    pub fn markdown(&self) -> String {
        let f = &self.figures;
        let mut out = String::new();
        let share = |s: f64| format!("{:.1}%", s * 100.0);
        let _ = writeln!(out, "| Figure | Value |\n|---|---|");
        let mut row = |name: &str, value: String| {
            let _ = writeln!(out, "| {name} | {value} |");
        };
        row(
            "events sent (2 sources)",
            match &self.wave {
                Some(wave) => format!("{} ({wave}, each on a fresh stack)", f.events),
                None => f.events.to_string(),
            },
        );
        row(
            "fault shares per SQS/DynamoDB call",
            format!(
                "throttle {}, 500 {}, dropped {}, response lost {}; outage: SendMessage 100% for {} s",
                share(self.shares.throttle),
                share(self.shares.error),
                share(self.shares.drop),
                share(self.shares.lost),
                super::OUTAGE.as_secs()
            ),
        );
        row(
            "faults injected",
            format!(
                "{} of {} SQS and DynamoDB calls",
                f.faults_total, f.calls_total
            ),
        );
        for kind in FaultKind::ALL {
            if let Some(services) = f.faults.get(kind.name()) {
                let list: Vec<String> = services.iter().map(|(s, n)| format!("{s} {n}")).collect();
                row(&format!("– {}", kind.name()), list.join(", "));
            }
        }
        row("accepted (202) at first send", f.accepted_first.to_string());
        let refused: Vec<String> = f
            .refused_by_status
            .iter()
            .map(|(s, n)| format!("{n}× {s}"))
            .collect();
        row(
            "refused at first send",
            format!("{} ({})", f.refused, refused.join(", ")),
        );
        row(
            "refused, then accepted on the provider's retry",
            f.accepted_after_retry.to_string(),
        );
        row(
            "refused but queued anyway (half-accepted)",
            format!(
                "{} ({} explained by a lost SendMessage answer)",
                f.half_accepted, f.half_accepted_explained
            ),
        );
        row("accepted in all", f.accepted.to_string());
        let reasons: Vec<String> = f
            .dead_letter_reasons
            .iter()
            .map(|(r, n)| format!("{r} {n}"))
            .collect();
        row(
            "dead-lettered (before the redrive)",
            format!(
                "{} messages, {} events (failed deliveries recorded: {})",
                f.dead_lettered,
                f.dead_lettered_events,
                reasons.join(", ")
            ),
        );
        row(
            "dead subscriber's events dead-lettered",
            format!(
                "{} of {}",
                f.dead_subscriber_events_dead_lettered, f.dead_subscriber_events
            ),
        );
        row(
            "redriven (`hookpost dlq redrive --all`, counts events)",
            f.redriven.to_string(),
        );
        row(
            "dead subscriber's events delivered after the redrive",
            format!(
                "{} of {}",
                f.dead_subscriber_events_delivered_after_redrive, f.dead_subscriber_events
            ),
        );
        row(
            "dead-lettered after the redrive",
            f.dead_lettered_after_redrive.to_string(),
        );
        row(
            "**lost** (accepted, neither delivered nor dead-lettered)",
            format!(
                "**{}** (before the redrive: {})",
                f.lost, f.lost_before_redrive
            ),
        );
        let why: Vec<String> = f
            .duplicate_reasons
            .iter()
            .map(|(r, n)| format!("{n}× {r}"))
            .collect();
        row(
            "calls after an ack (duplicates)",
            if why.is_empty() {
                "0".to_owned()
            } else {
                format!("{}: {}", f.duplicates, why.join("; "))
            },
        );
        row(
            "410 subscriber disabled (one per wave)",
            if f.gone_disabled {
                format!("yes ({})", f.gone_reason.as_deref().unwrap_or("-"))
            } else {
                "NO".to_owned()
            },
        );
        row("deliveries with a bad signature", f.unverified.to_string());
        row(
            "messages in invocations stopped at the function timeout",
            f.invocations_cut.to_string(),
        );
        row(
            "messages handed to two invocations at once",
            f.concurrent_receives.to_string(),
        );
        row(
            "wall time",
            format!(
                "{:.0} s (sending {:.0} s)",
                f.wall_seconds, f.sending_seconds
            ),
        );
        row("command", format!("`{}`", self.command));
        row("commit", format!("`{}`", self.commit));

        let _ = writeln!(
            out,
            "\n| Subscriber | Source | Events | Matching | Delivered | Calls | Calls after an ack | Late 2xx |\n|---|---|---|---|---|---|---|---|"
        );
        for s in &self.subscribers {
            let _ = writeln!(
                out,
                "| {} | {} | `{}` | {} | {} | {} | {} | {} |",
                s.kind, s.source, s.events, s.matching, s.delivered, s.calls, s.duplicates, s.late
            );
        }
        out
    }

    /// Prints the tables and writes them, with the JSON, under `target/chaos/`.
    pub fn write(&self) {
        let markdown = self.markdown();
        println!("\n{markdown}");
        let dir = target_dir().join("chaos");
        let json = serde_json::to_string_pretty(self).unwrap_or_default();
        if std::fs::create_dir_all(&dir).is_ok() {
            let stem = match &self.wave {
                Some(wave) if wave.starts_with("wave") => {
                    format!("report-{}", wave.replace(' ', "-"))
                }
                _ => format!("report-{}", self.figures.events),
            };
            for (name, text) in [
                ("report.json".to_owned(), &json),
                ("report.md".to_owned(), &markdown),
                (format!("{stem}.json"), &json),
                (format!("{stem}.md"), &markdown),
            ] {
                if let Err(e) = std::fs::write(dir.join(&name), text) {
                    eprintln!("writing {name}: {e}");
                }
            }
            println!("figures written to {}", dir.display());
        }
    }
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../target"),
        PathBuf::from,
    )
}

fn commit() -> String {
    std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|| "unknown".to_owned())
}
