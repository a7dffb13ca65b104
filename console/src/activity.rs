//! The last 24 hours (or 7 days), as the overview and the charts show them: events received per
//! source, and per subscription how many of the recent events it got, when it last did, and how
//! long its answers took.
//!
//! Read through the operations core only: the archive's window (every event of the window
//! counted, up to [`COUNT_CAP`]), then the delivery records of the newest [`Window::sample`] of
//! them. Rates, latencies and the charts therefore describe that sample, which the pages say.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use futures_util::StreamExt as _;
use hookpost_operations::events::EventFilter;
use hookpost_operations::{OpError, Operations, PageRequest};
use hookpost_shared::clock::rfc3339;

use crate::chart::Hourly;

const HOUR: Duration = Duration::from_secs(3600);
/// Events counted at most; past it a count reads "N+".
pub const COUNT_CAP: usize = 5_000;
/// The newest events whose delivery records are read for the last 24 hours.
pub const SAMPLE: usize = 200;
/// ... and for the last 7 days.
pub const WEEK_SAMPLE: usize = 1_000;

/// The span the activity covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Window {
    #[default]
    Day,
    Week,
}

impl Window {
    /// `24h` or `7d`, as a query value; anything else is refused by the caller.
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "24h" => Some(Self::Day),
            "7d" => Some(Self::Week),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Day => "24h",
            Self::Week => "7d",
        }
    }

    pub fn hours(self) -> usize {
        match self {
            Self::Day => crate::chart::DAY_HOURS,
            Self::Week => crate::chart::WEEK_HOURS,
        }
    }

    /// The newest events whose delivery records are read.
    pub fn sample(self) -> usize {
        match self {
            Self::Day => SAMPLE,
            Self::Week => WEEK_SAMPLE,
        }
    }
}
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
    /// How long each attempt that got an HTTP answer took, in milliseconds (unsorted).
    pub answered_ms: Vec<u64>,
}

impl SubscriptionActivity {
    /// Delivered out of attempted, in whole percent.
    pub fn success_percent(&self) -> Option<u64> {
        (self.records > 0).then(|| self.delivered * 100 / self.records)
    }

    /// The median and 95th-percentile time to an answer, when there was one.
    pub fn latency(&self) -> Option<Latency> {
        let mut sorted = self.answered_ms.clone();
        sorted.sort_unstable();
        Some(Latency {
            p50: percentile(&sorted, 50)?,
            p95: percentile(&sorted, 95)?,
            answers: sorted.len(),
        })
    }
}

/// A subscription's time to an answer over the sample, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Latency {
    pub p50: u64,
    pub p95: u64,
    /// Attempts it was measured over.
    pub answers: usize,
}

/// The `p`th percentile of `sorted` by the nearest-rank method: the smallest value with at
/// least `p`% of the values at or below it. `None` for no values.
pub fn percentile(sorted: &[u64], p: u32) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = (sorted.len() * p.min(100) as usize).div_ceil(100).max(1);
    sorted.get(rank - 1).copied()
}

/// The window's activity.
#[derive(Debug, Clone)]
pub struct Activity {
    pub window: Window,
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

/// The last 24 hours.
pub async fn last_day(ops: &Operations) -> Result<Activity, OpError> {
    of(ops, Window::Day).await
}

/// The last `window`, ending at the next full hour.
pub async fn of(ops: &Operations, window: Window) -> Result<Activity, OpError> {
    let now = SystemTime::now();
    let end = next_hour(now);
    let filter = EventFilter {
        since: Some(rfc3339(end - HOUR * window.hours() as u32)),
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
        .take(window.sample())
        .map(|e| e.event_id.clone())
        .collect();
    let reads: Vec<_> = sample.iter().map(|id| ops.deliveries_of(id)).collect();
    let records = futures_util::stream::iter(reads)
        .buffer_unordered(CONCURRENCY)
        .collect::<Vec<_>>()
        .await;
    let mut by_subscription: BTreeMap<String, SubscriptionActivity> = BTreeMap::new();
    let mut hourly = Hourly::new(end, window.hours());
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
            if attempt.status_code.is_some() {
                entry.answered_ms.push(attempt.duration_ms);
            }
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
        window,
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
            answered_ms: Vec::new(),
        };
        assert_eq!(half.success_percent(), Some(50));
        assert_eq!(half.latency(), None, "no answer, no latency");
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let hundred: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&hundred, 50), Some(50));
        assert_eq!(percentile(&hundred, 95), Some(95));
        assert_eq!(percentile(&hundred, 100), Some(100));
        assert_eq!(percentile(&[7], 50), Some(7));
        assert_eq!(percentile(&[7], 95), Some(7));
        // Of 3: the median is the 2nd, the 95th percentile the 3rd.
        assert_eq!(percentile(&[10, 20, 900], 50), Some(20));
        assert_eq!(percentile(&[10, 20, 900], 95), Some(900));
        assert_eq!(percentile(&[], 50), None);
        assert_eq!(percentile(&[1, 2], 0), Some(1), "never below the first");
    }

    #[test]
    fn a_latency_is_read_from_the_answers_in_any_order() {
        let activity = SubscriptionActivity {
            answered_ms: vec![900, 10, 30, 20],
            ..SubscriptionActivity::default()
        };
        assert_eq!(
            activity.latency(),
            Some(Latency {
                p50: 20,
                p95: 900,
                answers: 4
            })
        );
    }

    #[test]
    fn a_window_is_24h_or_7d_and_nothing_else() {
        assert_eq!(Window::parse("24h"), Some(Window::Day));
        assert_eq!(Window::parse("7d"), Some(Window::Week));
        for bad in ["", "7D", "1d", "24h ", "<b>"] {
            assert_eq!(Window::parse(bad), None, "{bad}");
        }
        assert_eq!(Window::Week.hours(), 168);
        assert_eq!(Window::parse(Window::Week.as_str()), Some(Window::Week));
    }
}
