//! Per-subscription rate limits: the configured limit, and the arithmetic of the limiter.
//!
//! The limiter is the generic cell rate algorithm (GCRA, ITU-T I.371; the "virtual scheduling"
//! form of a token bucket) with one number of state per subscription, the *theoretical arrival
//! time* (TAT): when the next delivery would be due if deliveries were spaced exactly one
//! interval apart. Each delivery *reserves* a slot instead of asking "is there a token now?":
//!
//! - the TAT advances by one interval (`max(TAT, now) + interval`), atomically in the store, so
//!   every dispatcher of every invocation gets its own slot and no two get the same one;
//! - the delivery may go at `max(now, TAT_before - tolerance)`, where the tolerance lets
//!   `burst` deliveries through at once after a quiet spell.
//!
//! Reserving spreads a burst over time by itself: a thousand deliveries that arrive together get
//! a thousand different slots, one interval apart, instead of all asking again at the same
//! moment. Sending at or after its slot keeps every window of `w` seconds at or under
//! `burst + w × rate` deliveries.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

/// A subscription's limit: at most `count` deliveries per `per_seconds`, with bursts of `burst`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RateLimit {
    /// Deliveries per period (at least 1).
    pub count: u32,
    /// The period, in seconds: 1, 60 or 3600.
    pub per_seconds: u32,
    /// How many may go at once after a quiet spell (at least 1; 1 spaces every delivery).
    #[serde(default = "one")]
    pub burst: u32,
}

fn one() -> u32 {
    1
}

/// The most a rate may allow: beyond it the limiter's store would be the bottleneck anyway.
pub const MAX_PER_SECOND: u32 = 10_000;
/// The largest burst.
pub const MAX_BURST: u32 = 10_000;

impl RateLimit {
    /// Parses `20/s`, `600/m` or `1000/h` (also `/sec`, `/min`, `/hour`), with `burst` (default 1).
    pub fn parse(rate: &str, burst: Option<u32>) -> Result<Self, String> {
        let (count, period) = rate.trim().split_once('/').ok_or_else(|| {
            format!(
                "`{rate}`: write a rate as deliveries per period, e.g. `20/s`, `600/m`, `1000/h`"
            )
        })?;
        let count: u32 = count
            .trim()
            .parse()
            .map_err(|_| format!("`{rate}`: `{count}` is not a whole number of deliveries"))?;
        let per_seconds = match period.trim() {
            "s" | "sec" | "second" => 1,
            "m" | "min" | "minute" => 60,
            "h" | "hour" => 3600,
            other => {
                return Err(format!(
                    "`{rate}`: the period `{other}` is not one of s, m, h"
                ));
            }
        };
        Self::new(count, per_seconds, burst.unwrap_or(1))
    }

    /// A checked limit.
    pub fn new(count: u32, per_seconds: u32, burst: u32) -> Result<Self, String> {
        if count == 0 {
            return Err(
                "a rate must allow at least one delivery per period; to stop deliveries, disable the subscription"
                    .to_owned(),
            );
        }
        if !matches!(per_seconds, 1 | 60 | 3600) {
            return Err(format!(
                "the period must be 1, 60 or 3600 seconds, not {per_seconds}"
            ));
        }
        if u64::from(count) > u64::from(MAX_PER_SECOND) * u64::from(per_seconds) {
            return Err(format!(
                "at most {MAX_PER_SECOND} deliveries a second can be limited; leave the rate unset for no limit"
            ));
        }
        if !(1..=MAX_BURST).contains(&burst) {
            return Err(format!("the burst must be 1 to {MAX_BURST}, not {burst}"));
        }
        Ok(Self {
            count,
            per_seconds,
            burst,
        })
    }

    /// The spacing of deliveries, in microseconds (at least 1).
    pub fn interval_micros(&self) -> i64 {
        (i64::from(self.per_seconds) * 1_000_000 / i64::from(self.count.max(1))).max(1)
    }

    /// How far ahead of its TAT a delivery may go: `burst - 1` intervals.
    pub fn tolerance_micros(&self) -> i64 {
        i64::from(self.burst.saturating_sub(1)) * self.interval_micros()
    }

    /// When a delivery that reserved the slot after `tat_before` may go (`tat_before` is the TAT
    /// the reservation found, `None` or past when the subscription was idle).
    pub fn send_at(&self, tat_before: Option<i64>, now_micros: i64) -> i64 {
        tat_before.map_or(now_micros, |tat| {
            now_micros.max(tat - self.tolerance_micros())
        })
    }

    /// The TAT the `k`-th (from 0) of several slots reserved at once at `now_micros` found,
    /// when the first found `first` (what the store's reservation answered): the same as `k + 1`
    /// reservations one after the other at that moment.
    pub fn nth_tat(&self, first: Option<i64>, now_micros: i64, k: u32) -> Option<i64> {
        if k == 0 {
            return first;
        }
        let base = first.map_or(now_micros, |tat| tat.max(now_micros));
        Some(base.saturating_add(i64::from(k).saturating_mul(self.interval_micros())))
    }

    /// How long a delivery reserving now would wait, given the stored TAT.
    pub fn current_wait(&self, tat: Option<i64>, now_micros: i64) -> Duration {
        let at = self.send_at(tat, now_micros);
        Duration::from_micros(u64::try_from(at - now_micros).unwrap_or(0))
    }
}

impl fmt::Display for RateLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let period = match self.per_seconds {
            1 => "s",
            60 => "m",
            _ => "h",
        };
        write!(f, "{}/{period}", self.count)?;
        if self.burst > 1 {
            write!(f, " (burst {})", self.burst)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_parsed_with_their_period_and_burst() {
        let r = RateLimit::parse("20/s", None).expect("valid");
        assert_eq!((r.count, r.per_seconds, r.burst), (20, 1, 1));
        assert_eq!(r.interval_micros(), 50_000);
        assert_eq!(r.tolerance_micros(), 0);
        assert_eq!(
            RateLimit::parse("600/m", Some(5))
                .expect("valid")
                .interval_micros(),
            100_000
        );
        assert_eq!(
            RateLimit::parse(" 3 / hour", None)
                .expect("valid")
                .per_seconds,
            3600
        );
        assert_eq!(
            RateLimit::parse("20/s", Some(4))
                .expect("valid")
                .to_string(),
            "20/s (burst 4)"
        );
        assert_eq!(
            RateLimit::parse("7/m", None).expect("valid").to_string(),
            "7/m"
        );
    }

    #[test]
    fn bad_rates_are_refused_naming_what_to_fix() {
        for (rate, burst, says) in [
            ("20", None, "per period"),
            ("x/s", None, "whole number"),
            ("0/s", None, "disable"),
            ("5/d", None, "s, m, h"),
            ("20000/s", None, "at most"),
            ("20/s", Some(0), "burst"),
            ("-1/s", None, "whole number"),
        ] {
            let err = RateLimit::parse(rate, burst).expect_err(rate);
            assert!(err.contains(says), "{rate}: {err}");
        }
    }

    /// Replays the limiter over `arrivals` (µs) with the store's arithmetic and returns when each
    /// delivery may go.
    fn schedule(rate: &RateLimit, arrivals: &[i64]) -> Vec<i64> {
        let mut tat: Option<i64> = None;
        arrivals
            .iter()
            .map(|&now| {
                let before = tat.filter(|t| *t > now);
                tat = Some(before.unwrap_or(now) + rate.interval_micros());
                rate.send_at(before, now)
            })
            .collect()
    }

    #[test]
    fn slots_reserved_together_are_the_slots_reserved_one_by_one() {
        for burst in [1, 3] {
            let rate = RateLimit::parse("20/s", Some(burst)).expect("valid");
            for (tat, now) in [(None, 1_000), (Some(500), 1_000), (Some(400_000), 1_000)] {
                // One by one, with the store's arithmetic.
                let mut state = tat;
                let one_by_one: Vec<i64> = (0..6)
                    .map(|_| {
                        let before = state.filter(|t| *t > now);
                        state = Some(before.unwrap_or(now) + rate.interval_micros());
                        rate.send_at(before, now)
                    })
                    .collect();
                let first = tat.filter(|t| *t > now);
                let together: Vec<i64> = (0..6)
                    .map(|k| rate.send_at(rate.nth_tat(first, now, k), now))
                    .collect();
                assert_eq!(together, one_by_one, "burst {burst}, TAT {tat:?}");
            }
        }
    }

    #[test]
    fn a_burst_is_spread_one_interval_apart_after_the_allowed_burst() {
        let rate = RateLimit::parse("20/s", Some(3)).expect("valid");
        let sends = schedule(&rate, &[0; 6]);
        assert_eq!(sends, [0, 0, 0, 50_000, 100_000, 150_000]);
    }

    #[test]
    fn no_window_holds_more_than_burst_plus_rate_times_its_length() {
        // A thousand deliveries in bursts and lulls; every 5 s window is checked.
        let rate = RateLimit::parse("20/s", Some(5)).expect("valid");
        let mut arrivals: Vec<i64> = Vec::new();
        for wave in 0..10 {
            arrivals.extend(std::iter::repeat_n(wave * 7_000_000, 100));
        }
        let mut sends = schedule(&rate, &arrivals);
        sends.sort_unstable();
        let window = 5_000_000;
        let most = sends
            .iter()
            .map(|&start| {
                sends
                    .iter()
                    .filter(|&&t| t >= start && t < start + window)
                    .count()
            })
            .max()
            .expect("sends");
        assert!(most <= 5 + 100, "{most} in one 5 s window");
        assert_eq!(sends.len(), 1000);
    }

    #[test]
    fn an_idle_subscription_does_not_wait() {
        let rate = RateLimit::parse("1/s", None).expect("valid");
        assert_eq!(rate.current_wait(None, 10), Duration::ZERO);
        assert_eq!(rate.current_wait(Some(5), 10), Duration::ZERO);
        assert_eq!(
            rate.current_wait(Some(3_000_010), 10),
            Duration::from_secs(3)
        );
    }
}
