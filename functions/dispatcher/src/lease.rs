//! Rate-limit slots reserved ahead: a dispatcher that finds a subscription contended reserves a
//! few more slots than its deliveries asked for, in the same conditional `UpdateItem`, and hands
//! them to the deliveries that follow without another call.
//!
//! Why it is safe: every slot handed out was reserved in the table (each advances the shared TAT
//! by one interval), and each is handed out at most once; a spare slot whose time has passed by
//! more than one interval is dropped, never used late, so spare slots cannot bunch up. What it
//! costs: when deliveries stop coming, the spare slots go unused, at most [`LEASE_WINDOW_MICROS`]
//! of the subscription's capacity once. Only subscriptions whose last reservation here had to wait
//! for its slot lease ahead, and only rates fast enough that the window holds a whole slot.

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, PoisonError};

use hookpost_shared::delivery::RateLimit;

use crate::SlotKey;

/// How far ahead (µs of the subscription's rate) a contended subscription's spare slots reach.
pub(crate) const LEASE_WINDOW_MICROS: i64 = 250_000;
/// The most spare slots one reservation takes.
pub(crate) const MAX_SPARE: u32 = 8;

/// Spare slots per subscription (by [`SlotKey`]), and whether its last reservation waited.
#[derive(Debug, Default)]
pub(crate) struct Leases {
    by_key: Mutex<HashMap<SlotKey, Lease>>,
}

#[derive(Debug, Default)]
struct Lease {
    /// Send times (µs since the epoch), earliest first.
    spare: VecDeque<i64>,
    /// The last reservation's first slot was later than the moment it was made.
    contended: bool,
}

impl Leases {
    /// The earliest spare slot of `key` that is at most one interval past at `now`; the ones
    /// further past are dropped.
    pub(crate) fn take(&self, key: &SlotKey, now: i64) -> Option<i64> {
        let interval = key.2;
        let mut by_key = self.by_key.lock().unwrap_or_else(PoisonError::into_inner);
        let lease = by_key.get_mut(key)?;
        while let Some(slot) = lease.spare.pop_front() {
            if slot >= now - interval {
                return Some(slot);
            }
        }
        None
    }

    /// How many spare slots a reservation for `key` under `rate` takes beside the ones asked for.
    pub(crate) fn spare_for(&self, key: &SlotKey, rate: RateLimit) -> u32 {
        let contended = self
            .by_key
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)
            .is_some_and(|lease| lease.contended);
        if contended { lease_size(rate) } else { 0 }
    }

    /// What a reservation for `key` found (`contended`: its first slot was in the future) and
    /// the spare slots it took, in order.
    pub(crate) fn record(&self, key: &SlotKey, contended: bool, spare: impl Iterator<Item = i64>) {
        let mut by_key = self.by_key.lock().unwrap_or_else(PoisonError::into_inner);
        let lease = by_key.entry(key.clone()).or_default();
        lease.contended = contended;
        lease.spare.extend(spare);
    }
}

/// How many slots of `rate` fit [`LEASE_WINDOW_MICROS`], at most [`MAX_SPARE`]: 5 at 20/s, none
/// below 4/s.
pub(crate) fn lease_size(rate: RateLimit) -> u32 {
    let fit = LEASE_WINDOW_MICROS / rate.interval_micros();
    u32::try_from(fit).unwrap_or(MAX_SPARE).min(MAX_SPARE)
}

#[cfg(test)]
mod tests {
    use hookpost_shared::source::SourceId;

    use super::*;

    fn key(interval: i64) -> SlotKey {
        (
            SourceId::parse("src").expect("id"),
            "sub".to_owned(),
            interval,
        )
    }

    fn rate(count: u32, per_seconds: u32) -> RateLimit {
        RateLimit::new(count, per_seconds, 1).expect("a valid rate")
    }

    #[test]
    fn only_fast_rates_lease_and_never_more_than_the_cap() {
        assert_eq!(lease_size(rate(20, 1)), 5);
        assert_eq!(lease_size(rate(4, 1)), 1);
        assert_eq!(lease_size(rate(3, 1)), 0);
        assert_eq!(lease_size(rate(60, 60)), 0);
        assert_eq!(lease_size(rate(1000, 1)), MAX_SPARE);
    }

    #[test]
    fn a_subscription_leases_only_after_a_reservation_that_waited() {
        let leases = Leases::default();
        let k = key(50_000);
        assert_eq!(leases.spare_for(&k, rate(20, 1)), 0, "never reserved here");
        leases.record(&k, false, std::iter::empty());
        assert_eq!(leases.spare_for(&k, rate(20, 1)), 0, "its slot was free");
        leases.record(&k, true, std::iter::empty());
        assert_eq!(leases.spare_for(&k, rate(20, 1)), 5);
        assert_eq!(
            leases.spare_for(&key(100_000), rate(10, 1)),
            0,
            "another key"
        );
    }

    #[test]
    fn spare_slots_go_out_once_in_order_and_stale_ones_are_dropped() {
        let leases = Leases::default();
        let k = key(50_000);
        leases.record(
            &k,
            true,
            [1_000_000, 1_050_000, 1_100_000, 1_150_000].into_iter(),
        );
        // Ahead of its time, and late by less than an interval: both used.
        assert_eq!(leases.take(&k, 900_000), Some(1_000_000));
        assert_eq!(leases.take(&k, 1_080_000), Some(1_050_000));
        // 1_100_000 is 60 ms past at 1_160_000: dropped; 1_150_000 is 10 ms past: used.
        assert_eq!(leases.take(&k, 1_160_000), Some(1_150_000));
        assert_eq!(leases.take(&k, 1_160_000), None, "each slot once");
        assert_eq!(leases.take(&key(1), 0), None, "another key has none");
    }
}
