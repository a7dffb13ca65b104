//! The retry schedule: how long a failed record stays invisible before its next attempt.
//!
//! The dispatcher sets a failed record's visibility timeout from its `ApproximateReceiveCount`;
//! after `maxReceiveCount` receives SQS moves it to the dead-letter queue. With the default table
//! and `maxReceiveCount` 11 an event is tried for about 28 hours, then dead-lettered at once: the
//! last failed receive is made visible again immediately instead of waiting another delay.

use std::time::Duration;

/// SQS refuses visibility timeouts over 12 hours.
pub const MAX_VISIBILITY: Duration = Duration::from_secs(12 * 60 * 60);

/// The default delays, in order: 5 s, 30 s, 2 min, 10 min, 30 min, 1 h, 2 h, 4 h, 8 h, 12 h.
pub const DEFAULT_DELAYS: &str = "5s,30s,2m,10m,30m,1h,2h,4h,8h,12h";

/// Share of each delay that is randomised, so retries of one outage do not arrive together.
const JITTER: f64 = 0.2;

/// A table of delays: the n-th failed receive waits the n-th entry (the last entry repeats).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrySchedule {
    delays: Vec<Duration>,
}

impl Default for RetrySchedule {
    fn default() -> Self {
        DEFAULT_DELAYS
            .parse()
            .unwrap_or_else(|_| unreachable!("the default table parses"))
    }
}

impl std::str::FromStr for RetrySchedule {
    type Err = String;

    /// Parses `5s,30s,2m`: durations in humantime form, each at most 12 h.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let delays = s
            .split(',')
            .map(str::trim)
            .filter(|d| !d.is_empty())
            .map(|d| {
                let delay = humantime::parse_duration(d)
                    .map_err(|e| format!("`{d}` is not a duration: {e}"))?;
                if delay > MAX_VISIBILITY {
                    return Err(format!("`{d}` is longer than SQS's 12 h visibility limit"));
                }
                Ok(delay)
            })
            .collect::<Result<Vec<_>, _>>()?;
        if delays.is_empty() {
            return Err("the retry schedule needs at least one delay".to_owned());
        }
        Ok(Self { delays })
    }
}

impl RetrySchedule {
    pub fn delays(&self) -> &[Duration] {
        &self.delays
    }

    /// The wait after the `receive_count`-th receive failed (1 = the first attempt).
    ///
    /// `jitter` is a sample from `[0, 1)`: the delay is spread over ±20 % of the table entry.
    /// A subscriber's `Retry-After` lengthens the wait, but never past the schedule's longest entry.
    pub fn delay_after(
        &self,
        receive_count: u32,
        retry_after: Option<Duration>,
        jitter: f64,
    ) -> Duration {
        let index = usize::try_from(receive_count.saturating_sub(1))
            .unwrap_or(usize::MAX)
            .min(self.delays.len() - 1);
        let base = self.delays[index];
        let factor = 1.0 - JITTER + 2.0 * JITTER * jitter.clamp(0.0, 1.0);
        let jittered = base.mul_f64(factor);
        let cap = self.delays.iter().copied().max().unwrap_or(MAX_VISIBILITY);
        let wanted = retry_after.map_or(jittered, |ra| jittered.max(ra.min(cap)));
        wanted.min(MAX_VISIBILITY)
    }
}

/// How long a failed record stays invisible after its `receive_count`-th receive: the schedule's
/// delay, or nothing when that was the last receive `max_receive_count` allows. SQS moves such a
/// record to the dead-letter queue on its next receive whatever it waited, so waiting would only
/// delay the alarm.
pub fn visibility_after(
    schedule: &RetrySchedule,
    receive_count: u32,
    max_receive_count: Option<u32>,
    retry_after: Option<Duration>,
    jitter: f64,
) -> Duration {
    if max_receive_count.is_some_and(|max| receive_count >= max) {
        return Duration::ZERO;
    }
    schedule.delay_after(receive_count, retry_after, jitter)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(secs: u64) -> Duration {
        Duration::from_secs(secs)
    }

    #[test]
    fn the_default_table_is_the_documented_one() {
        let d = RetrySchedule::default();
        assert_eq!(
            d.delays(),
            &[
                s(5),
                s(30),
                s(120),
                s(600),
                s(1800),
                s(3600),
                s(7200),
                s(14400),
                s(28800),
                s(43200)
            ]
        );
        let total: Duration = d.delays().iter().sum();
        assert!(total > s(24 * 3600) && total < s(30 * 3600), "{total:?}");
    }

    #[test]
    fn the_nth_failure_waits_the_nth_entry_and_the_last_repeats() {
        let d: RetrySchedule = "1s,2s,4s".parse().expect("valid");
        assert_eq!(d.delay_after(1, None, 0.5), s(1));
        assert_eq!(d.delay_after(2, None, 0.5), s(2));
        assert_eq!(d.delay_after(3, None, 0.5), s(4));
        assert_eq!(d.delay_after(9, None, 0.5), s(4));
        assert_eq!(d.delay_after(0, None, 0.5), s(1));
    }

    #[test]
    fn jitter_stays_within_twenty_percent() {
        let d: RetrySchedule = "100s".parse().expect("valid");
        assert_eq!(d.delay_after(1, None, 0.0), s(80));
        assert_eq!(d.delay_after(1, None, 1.0), s(120));
        assert_eq!(d.delay_after(1, None, 7.0), s(120));
    }

    #[test]
    fn retry_after_lengthens_the_wait_up_to_the_longest_entry() {
        let d: RetrySchedule = "1s,10s".parse().expect("valid");
        assert_eq!(d.delay_after(1, Some(s(5)), 0.5), s(5));
        assert_eq!(d.delay_after(1, Some(s(3600)), 0.5), s(10));
        assert_eq!(d.delay_after(2, Some(s(1)), 0.5), s(10));
    }

    #[test]
    fn the_last_receive_is_not_delayed_so_the_record_is_dead_lettered_promptly() {
        let d: RetrySchedule = "1s,2s,12h".parse().expect("valid");
        assert_eq!(visibility_after(&d, 2, Some(3), None, 0.5), s(2));
        assert_eq!(visibility_after(&d, 3, Some(3), Some(s(60)), 0.5), s(0));
        assert_eq!(visibility_after(&d, 4, Some(3), None, 0.5), s(0));
        assert_eq!(visibility_after(&d, 3, None, None, 0.5), s(43_200));
    }

    #[test]
    fn bad_tables_are_refused() {
        assert!("".parse::<RetrySchedule>().is_err());
        assert!("5 parsecs".parse::<RetrySchedule>().is_err());
        assert!("13h".parse::<RetrySchedule>().is_err());
        assert!("0s".parse::<RetrySchedule>().is_ok());
    }
}
