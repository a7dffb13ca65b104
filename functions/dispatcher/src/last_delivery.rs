//! "Last delivery" kept on the subscription item, so that showing a subscription reads one item
//! instead of the deliveries table. Writing it on every attempt would add a write unit to every
//! delivery; instead a function writes it when the subscription's status changes (delivered,
//! failing, gone) and otherwise at most once a [`REFRESH`] per subscription, so the item is at
//! most that stale while deliveries keep succeeding or failing the same way.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use hookpost_shared::subscription::Subscription;

/// How stale the kept last delivery may grow while nothing changes.
pub const REFRESH: Duration = Duration::from_secs(60);

/// What this function last wrote, per subscription.
#[derive(Debug, Default)]
pub(crate) struct LastDeliveries {
    written: Mutex<HashMap<String, (&'static str, SystemTime)>>,
}

impl LastDeliveries {
    /// Whether an attempt with `status` at `now` should be written; if so it is noted as written
    /// (call [`LastDeliveries::forget`] when the write fails).
    pub(crate) fn claim(
        &self,
        subscription: &Subscription,
        status: &'static str,
        now: SystemTime,
    ) -> bool {
        let mut written = self.written.lock().unwrap_or_else(PoisonError::into_inner);
        let stored = subscription.last_delivery.as_ref().map(|l| {
            let at = humantime::parse_rfc3339_weak(&l.at).unwrap_or(SystemTime::UNIX_EPOCH);
            (l.status.as_str(), at)
        });
        let previous = written
            .get(&subscription.subscription_id)
            .map(|(s, at)| (*s, *at))
            .or(stored);
        if !due(previous, status, now) {
            return false;
        }
        written.insert(subscription.subscription_id.clone(), (status, now));
        true
    }

    /// A write that failed: the next attempt writes again.
    pub(crate) fn forget(&self, subscription_id: &str) {
        self.written
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(subscription_id);
    }
}

/// Whether the last delivery kept as `previous` (status, when) should be replaced by an attempt
/// with `status` at `now`.
fn due(previous: Option<(&str, SystemTime)>, status: &str, now: SystemTime) -> bool {
    match previous {
        None => true,
        Some((was, _)) if was != status => true,
        Some((_, at)) => now.duration_since(at).is_ok_and(|age| age >= REFRESH),
    }
}

#[cfg(test)]
mod tests {
    use hookpost_shared::clock::rfc3339;
    use hookpost_shared::source::SourceId;
    use hookpost_shared::subscription::LastDelivery;

    use super::*;

    fn at(seconds: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000 + seconds)
    }

    fn subscription(last: Option<(&str, SystemTime)>) -> Subscription {
        Subscription {
            last_delivery: last.map(|(status, when)| LastDelivery {
                event_id: "evt_1".into(),
                at: rfc3339(when),
                status: status.into(),
            }),
            ..Subscription::new(
                SourceId::parse("gh").expect("id"),
                "sub_1",
                "https://example.com/hook",
                Vec::new(),
                "2026-01-01T00:00:00Z",
            )
        }
    }

    #[test]
    fn the_first_attempt_a_change_of_status_and_a_stale_one_are_written() {
        assert!(due(None, "delivered", at(0)));
        assert!(due(Some(("delivered", at(0))), "failing", at(1)));
        assert!(due(Some(("failing", at(0))), "failing", at(60)));
        assert!(!due(Some(("delivered", at(0))), "delivered", at(59)));
    }

    #[test]
    fn a_busy_subscription_is_written_once_a_refresh_period() {
        let kept = LastDeliveries::default();
        let s = subscription(None);
        let writes = (0..120)
            .filter(|n| kept.claim(&s, "delivered", at(*n)))
            .count();
        assert_eq!(writes, 2, "at 0 s and at 60 s");
        assert!(
            kept.claim(&s, "failing", at(121)),
            "a change is written at once"
        );
    }

    #[test]
    fn what_the_table_holds_counts_until_this_function_writes() {
        let kept = LastDeliveries::default();
        let fresh = subscription(Some(("delivered", at(0))));
        assert!(!kept.claim(&fresh, "delivered", at(10)));
        let stale = subscription(Some(("delivered", at(0))));
        assert!(kept.claim(&stale, "delivered", at(61)));
    }

    #[test]
    fn a_failed_write_is_tried_again_by_the_next_attempt() {
        let kept = LastDeliveries::default();
        let s = subscription(None);
        assert!(kept.claim(&s, "delivered", at(0)));
        kept.forget("sub_1");
        assert!(kept.claim(&s, "delivered", at(1)));
    }
}
