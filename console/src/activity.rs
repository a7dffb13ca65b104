//! The last 24 hours, as the overview and the chart show them: events received per source, and
//! per subscription how many of the recent events it got and when it last did.
//!
//! Read through the operations core only: the archive's window (every event of the 24 hours
//! counted, up to [`COUNT_CAP`]), then the delivery records of the newest [`SAMPLE`] of them.
//! Rates and the chart therefore describe that sample, which the pages say.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use futures_util::StreamExt as _;
use hookpost_operations::events::EventFilter;
use hookpost_operations::{OpError, Operations, PageRequest};
use hookpost_shared::clock::rfc3339;

use crate::chart::Hourly;

const DAY: Duration = Duration::from_secs(24 * 3600);
/// Events counted at most; past it a count reads "N+".
pub const COUNT_CAP: usize = 5_000;
/// The newest events whose delivery records are read.
pub const SAMPLE: usize = 200;
/// Delivery-record reads at once.
const CONCURRENCY: usize = 8;

/// A subscription's share of the sample.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubscriptionActivity {
    /// Events of the sample with a record for it.
    pub records: u64,
    pub delivered: u64,
    /// The latest successful attempt (RFC 3339).
    pub last_success: Option<String>,
}

impl SubscriptionActivity {
    /// Delivered out of attempted, in whole percent.
    pub fn success_percent(&self) -> Option<u64> {
        (self.records > 0).then(|| self.delivered * 100 / self.records)
    }
}

/// The 24 hours.
#[derive(Debug, Clone)]
pub struct Activity {
    pub events_by_source: BTreeMap<String, u64>,
    /// More events than [`COUNT_CAP`] were in the window.
    pub capped: bool,
    pub sampled: usize,
    pub by_subscription: BTreeMap<String, SubscriptionActivity>,
    pub hourly: Hourly,
}

/// The end of the chart: the next full hour, so each bar is a clock hour.
fn next_hour(now: SystemTime) -> SystemTime {
    let secs = now
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    SystemTime::UNIX_EPOCH + Duration::from_secs((secs / 3600 + 1) * 3600)
}

pub async fn last_day(ops: &Operations) -> Result<Activity, OpError> {
    let now = SystemTime::now();
    let end = next_hour(now);
    let filter = EventFilter {
        since: Some(rfc3339(end - DAY)),
        ..EventFilter::default()
    };
    let mut events = Vec::new();
    let mut capped = false;
    let mut page = PageRequest::first(hookpost_operations::page::MAX_LIMIT)?;
    loop {
        let got = ops.list_events(&filter, &page).await?;
        events.extend(got.items);
        if events.len() >= COUNT_CAP {
            capped = got.next_cursor.is_some() || events.len() > COUNT_CAP;
            events.truncate(COUNT_CAP);
            break;
        }
        match page.next(got.next_cursor) {
            Some(next) => page = next,
            None => break,
        }
    }
    let mut events_by_source = BTreeMap::new();
    for e in &events {
        *events_by_source.entry(e.source_id.clone()).or_default() += 1;
    }
    let sample: Vec<String> = events
        .iter()
        .rev()
        .take(SAMPLE)
        .map(|e| e.event_id.clone())
        .collect();
    let reads: Vec<_> = sample.iter().map(|id| ops.deliveries_of(id)).collect();
    let records = futures_util::stream::iter(reads)
        .buffer_unordered(CONCURRENCY)
        .collect::<Vec<_>>()
        .await;
    let mut by_subscription: BTreeMap<String, SubscriptionActivity> = BTreeMap::new();
    let mut hourly = Hourly::new(end);
    for record in records
        .into_iter()
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .flatten()
    {
        let entry = by_subscription
            .entry(record.subscription_id.clone())
            .or_default();
        entry.records += 1;
        for attempt in &record.history {
            let delivered = attempt.outcome == "delivered";
            hourly.add(&attempt.at, delivered);
            if delivered
                && entry
                    .last_success
                    .as_deref()
                    .is_none_or(|l| l < attempt.at.as_str())
            {
                entry.last_success = Some(attempt.at.clone());
            }
        }
        if record.status == "delivered" {
            entry.delivered += 1;
        }
    }
    Ok(Activity {
        events_by_source,
        capped,
        sampled: sample.len(),
        by_subscription,
        hourly,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chart_ends_at_the_next_full_hour() {
        let now = humantime::parse_rfc3339("2026-11-22T08:37:12Z").expect("instant");
        assert_eq!(
            next_hour(now),
            humantime::parse_rfc3339("2026-11-22T09:00:00Z").expect("instant")
        );
    }

    #[test]
    fn a_success_rate_needs_at_least_one_record() {
        assert_eq!(SubscriptionActivity::default().success_percent(), None);
        let half = SubscriptionActivity {
            records: 4,
            delivered: 2,
            last_success: None,
        };
        assert_eq!(half.success_percent(), Some(50));
    }
}
