//! Rate-limit slots reserved ahead: a dispatcher that sees a subscription busy (its last
//! reservation here had to wait for its slot, or was made less than [`LEASE_WINDOW_MICROS`] ago)
//! reserves a few more slots than its deliveries asked for, in the same conditional `UpdateItem`,
//! and hands them to the deliveries that follow without another call.
//!
//! Why it is safe: every slot handed out was reserved in the table (each advances the shared TAT
//! by one interval), and each is handed out at most once, in order. A spare slot is used at most
//! [`LEASE_WINDOW_MICROS`] after its time and dropped after that, so any window of `w` seconds
//! sees at most `rate × (w + 0.25 s) + 1` deliveries from spare slots: within the bound late
//! deferred copies already allow (docs/delivery.md). What it costs: when deliveries stop coming,
//! the spare slots go unused, at most a lease window of the subscription's capacity once. Only
//! rates fast enough that the window holds a whole slot lease (4/s and more).

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
    /// When the last reservation was made (µs since the epoch).
    reserved_at: i64,
}

impl Leases {
    /// Up to `count` of `key`'s spare slots, earliest first, each at most
    /// [`LEASE_WINDOW_MICROS`] past at `now`; the ones further past are dropped.
    pub(crate) fn take(&self, key: &SlotKey, now: i64, count: usize) -> Vec<i64> {
        let mut taken = Vec::new();
        let mut by_key = self.by_key.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(lease) = by_key.get_mut(key) else {
            return taken;
        };
        while taken.len() < count {
            match lease.spare.pop_front() {
                Some(slot) if slot >= now - LEASE_WINDOW_MICROS => taken.push(slot),
                Some(_) => {}
                None => break,
            }
        }
        taken
    }

    /// How many spare slots a reservation for `key` under `rate` made at `now` takes beside the
    /// ones asked for.
    pub(crate) fn spare_for(&self, key: &SlotKey, rate: RateLimit, now: i64) -> u32 {
        let busy = self
            .by_key
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(key)
            .is_some_and(|lease| lease.contended || now - lease.reserved_at < LEASE_WINDOW_MICROS);
        if busy { lease_size(rate) } else { 0 }
    }

    /// What a reservation for `key` made at `now` found (`contended`: its first slot was later)
    /// and the spare slots it took, in order.
    pub(crate) fn record(
        &self,
        key: &SlotKey,
        now: i64,
        contended: bool,
        spare: impl Iterator<Item = i64>,
    ) {
        let mut by_key = self.by_key.lock().unwrap_or_else(PoisonError::into_inner);
        let lease = by_key.entry(key.clone()).or_default();
        lease.contended = contended;
        lease.reserved_at = now;
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
    fn a_subscription_leases_only_while_busy() {
        let leases = Leases::default();
        let k = key(50_000);
        let r = rate(20, 1);
        assert_eq!(leases.spare_for(&k, r, 0), 0, "never reserved here");
        leases.record(&k, 1_000_000, false, std::iter::empty());
        assert_eq!(
            leases.spare_for(&k, r, 1_249_999),
            5,
            "reserved a moment ago"
        );
        assert_eq!(
            leases.spare_for(&k, r, 1_250_000),
            0,
            "free and quiet since"
        );
        leases.record(&k, 1_000_000, true, std::iter::empty());
        assert_eq!(
            leases.spare_for(&k, r, 9_000_000),
            5,
            "its last slot had to wait"
        );
        assert_eq!(
            leases.spare_for(&key(100_000), rate(10, 1), 1_000_001),
            0,
            "another key"
        );
    }

    #[test]
    fn spare_slots_go_out_once_in_order_and_stale_ones_are_dropped() {
        let leases = Leases::default();
        let k = key(50_000);
        let spare = [1_000_000, 1_050_000, 1_100_000, 1_150_000];
        leases.record(&k, 900_000, true, spare.into_iter());
        // Ahead of its time, and late by less than the lease window: both used.
        assert_eq!(leases.take(&k, 900_000, 1), [1_000_000]);
        assert_eq!(leases.take(&k, 1_200_000, 1), [1_050_000]);
        // 1_100_000 is 260 ms past at 1_360_000: dropped; 1_150_000 is 210 ms past: used.
        assert_eq!(leases.take(&k, 1_360_000, 3), [1_150_000]);
        assert!(leases.take(&k, 1_360_000, 1).is_empty(), "each slot once");
        assert!(
            leases.take(&key(1), 0, 1).is_empty(),
            "another key has none"
        );
    }
}
