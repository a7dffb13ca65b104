//! A source's subscriptions as the dispatcher sees them: read once per batch, kept warm across
//! batches for the cache period, and carrying what this function changed since the read — failure
//! streaks begun or ended, subscriptions disabled (410 Gone, or failing for too long).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use hookpost_shared::clock::rfc3339;
use hookpost_shared::routing::SubscriptionFilter;
use hookpost_shared::source::SourceId;
use hookpost_shared::store::{
    BodyStore, DeliveryLog, EventArchive, StoreError, SubscriptionStore, Visibility,
};
use hookpost_shared::subscription::Subscription;
use tokio::sync::OnceCell;
use tracing::{info, warn};

use crate::{Batch, Dispatcher};

/// A source's subscriptions, loaded at most once per batch (a failed load included).
pub(crate) type SourceSlot = Arc<OnceCell<Result<Arc<SourceSnapshot>, StoreError>>>;

/// A source's subscriptions as read, plus what this function changed since: failure streaks
/// begun or ended and subscriptions disabled. The changes live as long as the snapshot, so they
/// spare repeated writes within a batch and while cached, and give way to the table's state on
/// the next read.
#[derive(Debug)]
pub(crate) struct SourceSnapshot {
    pub(crate) subscriptions: Vec<Subscription>,
    /// Each payload filter, compiled once per read (subscriptions without one are not here).
    filters: HashMap<String, SubscriptionFilter>,
    streaks: Mutex<HashMap<String, Option<SystemTime>>>,
    disabled: Mutex<HashSet<String>>,
}

impl SourceSnapshot {
    fn new(subscriptions: Vec<Subscription>) -> Self {
        let filters = subscriptions
            .iter()
            .filter(|s| s.filter.is_some())
            .map(|s| {
                let compiled = SubscriptionFilter::compile(s.filter.as_deref())
                    .unwrap_or_else(|e| {
                        warn!(subscription = %s.subscription_id, error = %e, "the subscription's filter is unreadable; it gets no event until it is fixed");
                        SubscriptionFilter::Unreadable
                    });
                (s.subscription_id.clone(), compiled)
            })
            .collect();
        Self {
            subscriptions,
            filters,
            streaks: Mutex::default(),
            disabled: Mutex::default(),
        }
    }

    /// Whether the subscription's payload filter, if it has one, lets the event through;
    /// `input` builds the value the filter reads, at most once per event (a caller's cell).
    pub(crate) fn filter_allows<'v>(
        &self,
        subscription: &Subscription,
        input: impl FnOnce() -> &'v serde_json::Value,
    ) -> bool {
        self.filters
            .get(&subscription.subscription_id)
            .is_none_or(|filter| filter.allows(input))
    }

    /// When the subscription's running failure streak began, if one is.
    fn failing_since(&self, subscription: &Subscription) -> Option<SystemTime> {
        let changed = self
            .streaks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&subscription.subscription_id)
            .copied();
        match changed {
            Some(since) => since,
            // An unreadable stored time counts as a streak starting now: never an early disable.
            None => subscription
                .failing_since
                .as_deref()
                .map(|t| humantime::parse_rfc3339_weak(t).unwrap_or_else(|_| SystemTime::now())),
        }
    }

    fn set_streak(&self, subscription_id: &str, since: Option<SystemTime>) {
        self.streaks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(subscription_id.to_owned(), since);
    }

    /// False when it was already marked.
    fn mark_disabled(&self, subscription_id: &str) -> bool {
        self.disabled
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(subscription_id.to_owned())
    }

    pub(crate) fn is_disabled(&self, subscription_id: &str) -> bool {
        self.disabled
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(subscription_id)
    }
}

/// Whether a failure streak that began at `since` has run longer than `period` by `now`.
pub fn streak_expired(since: SystemTime, now: SystemTime, period: Duration) -> bool {
    now.duration_since(since).is_ok_and(|d| d > period)
}

/// `5 days`, `36 hours`: a period as the disable reason states it.
pub fn describe_period(period: Duration) -> String {
    let hours = period.as_secs() / 3600;
    match (hours, hours % 24) {
        (24, 0) => "1 day".to_owned(),
        (h, 0) if h > 0 => format!("{} days", h / 24),
        (1, _) => "1 hour".to_owned(),
        (h, _) if h > 0 => format!("{h} hours"),
        _ => humantime::format_duration(period).to_string(),
    }
}

impl<S, L, V, B, E> Dispatcher<S, L, V, B, E>
where
    S: SubscriptionStore,
    L: DeliveryLog,
    V: Visibility,
    B: BodyStore,
    E: EventArchive,
{
    /// A source's subscriptions: from the warm cache while fresh, else read once for the batch
    /// (the records of one source share the read) and cached.
    pub(crate) async fn source_snapshot(
        &self,
        batch: &Batch,
        source: &SourceId,
    ) -> Result<Arc<SourceSnapshot>, StoreError> {
        let cell = Arc::clone(
            batch
                .sources
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .entry(source.clone())
                .or_default(),
        );
        cell.get_or_init(|| async {
            let ttl = self.config.subscription_cache;
            let cached = self
                .warm
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .get(source)
                .filter(|(at, _)| at.elapsed() < ttl)
                .map(|(_, snapshot)| Arc::clone(snapshot));
            if let Some(snapshot) = cached {
                return Ok(snapshot);
            }
            let snapshot = Arc::new(SourceSnapshot::new(
                self.subscriptions.subscriptions_for(source).await?,
            ));
            if !ttl.is_zero() {
                self.warm
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .insert(source.clone(), (Instant::now(), Arc::clone(&snapshot)));
            }
            Ok(snapshot)
        })
        .await
        .clone()
    }

    /// Disables a subscription, for this batch and the warm cache too.
    pub(crate) async fn disable(
        &self,
        source: &SourceId,
        subscription_id: &str,
        reason: &str,
        snapshot: &SourceSnapshot,
        batch: &Batch,
    ) {
        if !snapshot.mark_disabled(subscription_id) {
            // Another record of the batch has just disabled it.
            return;
        }
        match self
            .subscriptions
            .disable(source, subscription_id, reason)
            .await
        {
            Ok(()) => {
                batch.measure(|m| m.disabled_subscriptions += 1);
                warn!(subscription_id, reason, "subscription disabled");
            }
            Err(e) => warn!(subscription_id, error = %e, "disabling the subscription failed"),
        }
    }

    /// A failed attempt: starts the subscription's failure streak if none is running (one write
    /// when the state changes, none while it stays failing), and disables the subscription once
    /// the streak is longer than [`Config::disable_after`](crate::Config::disable_after). True
    /// when it was disabled.
    pub(crate) async fn extend_streak(
        &self,
        source: &SourceId,
        subscription: &Subscription,
        snapshot: &SourceSnapshot,
        now: SystemTime,
        batch: &Batch,
    ) -> bool {
        let id = subscription.subscription_id.as_str();
        let since = match snapshot.failing_since(subscription) {
            Some(since) => since,
            None => match self.subscriptions.record_failure(source, id, now).await {
                Ok(since) => {
                    snapshot.set_streak(id, Some(since));
                    since
                }
                Err(e) => {
                    warn!(subscription_id = id, error = %e, "recording the failure streak failed");
                    return false;
                }
            },
        };
        if !streak_expired(since, now, self.config.disable_after) {
            return false;
        }
        let reason = format!(
            "failing since {} for more than {}",
            rfc3339(since),
            describe_period(self.config.disable_after)
        );
        self.disable(source, id, &reason, snapshot, batch).await;
        true
    }

    /// A success: ends the failure streak, writing only if one is running.
    pub(crate) async fn end_streak(
        &self,
        source: &SourceId,
        subscription: &Subscription,
        snapshot: &SourceSnapshot,
    ) {
        if snapshot.failing_since(subscription).is_none() {
            return;
        }
        let id = subscription.subscription_id.as_str();
        match self.subscriptions.clear_failure(source, id).await {
            Ok(()) => {
                snapshot.set_streak(id, None);
                info!(subscription_id = id, "failure streak ended");
            }
            Err(e) => warn!(subscription_id = id, error = %e, "ending the failure streak failed"),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;

    use hookpost_shared::clock::{Clock as _, FixedClock};

    use super::*;
    use crate::Config;
    use crate::test_support::*;

    #[test]
    fn filters_are_compiled_once_and_an_unreadable_one_lets_nothing_through() {
        let with = |id: &str, filter: Option<&str>| Subscription {
            filter: filter.map(str::to_owned),
            ..Subscription::new(
                SourceId::parse("src").expect("id"),
                id,
                "http://127.0.0.1:9/",
                Vec::new(),
                "2026-12-03T00:00:00Z",
            )
        };
        let snapshot = SourceSnapshot::new(vec![
            with("none", None),
            with(
                "big",
                Some(r#"{"body":{"amount":[{"numeric":[">",100]}]}}"#),
            ),
            with("broken", Some(r#"{"body":"#)),
        ]);
        let input = serde_json::json!({"source": "src", "headers": {}, "body": {"amount": 150}});
        let allows = |id: &str| {
            let s = snapshot
                .subscriptions
                .iter()
                .find(|s| s.subscription_id == id)
                .expect("present");
            snapshot.filter_allows(s, || &input)
        };
        assert!(allows("none"));
        assert!(allows("big"));
        assert!(!allows("broken"), "an unreadable filter matches nothing");
        // The input is built only when a filter reads it.
        let unfiltered = &snapshot.subscriptions[0];
        assert!(snapshot.filter_allows(unfiltered, || unreachable!("no filter, no input")));
    }

    #[tokio::test]
    async fn a_failed_subscription_load_fails_the_records_and_is_tried_once_per_source_and_batch() {
        let world = World {
            fail_subscription_loads: true,
            ..World::default()
        };

        let response = world
            .dispatcher(local_config())
            .handle(
                batch(vec![record("m-1", "evt_1"), record("m-2", "evt_2")]),
                None,
            )
            .await;

        assert_eq!(failed_ids(&response), vec!["m-1", "m-2"]);
        assert_eq!(world.subscription_loads.load(Ordering::SeqCst), 1);
        assert_eq!(world.delays().len(), 2);
        assert!(world.attempts().is_empty());
    }

    #[tokio::test]
    async fn a_warm_dispatcher_reads_a_sources_subscriptions_once_per_cache_period() {
        let subscriber = Subscriber::start(Answer::Status(204)).await;
        let world = World::with(vec![subscription("sub_a", &subscriber.url())]);
        let dispatcher = world.dispatcher(Config {
            subscription_cache: Duration::from_secs(60),
            ..local_config()
        });

        for id in ["evt_1", "evt_2", "evt_3"] {
            dispatcher.handle(batch(vec![record("m", id)]), None).await;
        }

        assert_eq!(world.subscription_loads.load(Ordering::SeqCst), 1);
        assert_eq!(subscriber.requests().len(), 3);
    }

    #[tokio::test]
    async fn without_a_cache_every_batch_sees_the_subscriptions_as_they_are_now() {
        let first = Subscriber::start(Answer::Status(204)).await;
        let second = Subscriber::start(Answer::Status(204)).await;
        let world = World::with(vec![subscription("sub_a", &first.url())]);
        let dispatcher = world.dispatcher(Config {
            subscription_cache: Duration::ZERO,
            ..local_config()
        });

        dispatcher
            .handle(batch(vec![record("m-1", "evt_1")]), None)
            .await;
        lock(&world.subscriptions).push(subscription("sub_b", &second.url()));
        dispatcher
            .handle(batch(vec![record("m-2", "evt_2")]), None)
            .await;

        assert_eq!(world.subscription_loads.load(Ordering::SeqCst), 2);
        assert_eq!(first.requests().len(), 2);
        assert_eq!(second.requests().len(), 1);
    }

    #[tokio::test]
    async fn a_410_disables_the_subscription_and_is_not_retried() {
        let subscriber = Subscriber::start(Answer::Status(410)).await;
        let world = World::with(vec![subscription("sub_gone", &subscriber.url())]);

        let response = world
            .dispatcher(local_config())
            .handle(batch(vec![record("m-1", "evt_1")]), None)
            .await;

        assert!(failed_ids(&response).is_empty());
        let disabled = lock(&world.disabled).clone();
        assert_eq!(disabled.len(), 1);
        assert_eq!(disabled[0].0, "sub_gone");
        assert!(disabled[0].1.contains("410"), "{disabled:?}");
        assert_eq!(world.attempts()[0].outcome.label(), "gone");
        assert!(world.delays().is_empty());
    }

    #[tokio::test]
    async fn a_failure_starts_a_streak_once_and_a_success_ends_it_once() {
        let subscriber = Subscriber::start(Answer::Status(500)).await;
        let world = World::with(vec![subscription("sub_a", &subscriber.url())]);
        let dispatcher = world.dispatcher(Config {
            subscription_cache: Duration::from_secs(60),
            ..local_config()
        });

        // Two failing records in one batch and one more in the next: one write starts the streak.
        dispatcher
            .handle(
                batch(vec![record("m-1", "evt_1"), record("m-2", "evt_2")]),
                None,
            )
            .await;
        dispatcher
            .handle(batch(vec![record("m-3", "evt_3")]), None)
            .await;
        assert_eq!(world.streak_writes.load(Ordering::SeqCst), 1);
        assert_eq!(
            lock(&world.streaks).get("sub_a").copied(),
            Some(FixedClock::at_unix(NOW).now())
        );

        // The subscriber recovers: the first success ends the streak, later ones write nothing.
        let healthy = Subscriber::start(Answer::Status(204)).await;
        lock(&world.subscriptions)[0].url = healthy.url();
        let dispatcher = world.dispatcher(local_config());
        lock(&world.subscriptions)[0].failing_since = Some("2023-11-14T22:13:20Z".to_owned());
        for id in ["evt_4", "evt_5"] {
            dispatcher.handle(batch(vec![record("m", id)]), None).await;
        }
        assert_eq!(world.streak_writes.load(Ordering::SeqCst), 2);
        assert!(lock(&world.streaks).is_empty());
        assert!(lock(&world.disabled).is_empty());
    }

    #[tokio::test]
    async fn a_healthy_subscription_costs_no_streak_write() {
        let subscriber = Subscriber::start(Answer::Status(204)).await;
        let world = World::with(vec![subscription("sub_a", &subscriber.url())]);

        world
            .dispatcher(local_config())
            .handle(
                batch(vec![record("m-1", "evt_1"), record("m-2", "evt_2")]),
                None,
            )
            .await;

        assert_eq!(world.streak_writes.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn a_subscription_failing_for_longer_than_the_period_is_disabled_and_says_why() {
        let subscriber = Subscriber::start(Answer::Status(503)).await;
        let mut sub = subscription("sub_a", &subscriber.url());
        // Failing for five days and one second.
        sub.failing_since = Some("2023-11-09T22:13:19Z".to_owned());
        let world = World::with(vec![sub]);

        let response = world
            .dispatcher(local_config())
            .handle(
                batch(vec![record("m-1", "evt_1"), record("m-2", "evt_2")]),
                None,
            )
            .await;

        // Disabled, so the records are not kept for it.
        assert!(failed_ids(&response).is_empty());
        let disabled = lock(&world.disabled).clone();
        assert_eq!(disabled.len(), 1, "disabled once: {disabled:?}");
        assert_eq!(disabled[0].0, "sub_a");
        assert_eq!(
            disabled[0].1,
            "failing since 2023-11-09T22:13:19.000Z for more than 5 days"
        );
        assert_eq!(world.streak_writes.load(Ordering::SeqCst), 0);
    }

    #[tokio::test]
    async fn a_subscription_failing_for_less_than_the_period_is_kept_and_retried() {
        let subscriber = Subscriber::start(Answer::Status(503)).await;
        let mut sub = subscription("sub_a", &subscriber.url());
        sub.failing_since = Some("2023-11-10T00:00:00Z".to_owned());
        let world = World::with(vec![sub]);

        let response = world
            .dispatcher(local_config())
            .handle(batch(vec![record("m-1", "evt_1")]), None)
            .await;

        assert_eq!(failed_ids(&response), vec!["m-1"]);
        assert!(lock(&world.disabled).is_empty());
    }

    #[test]
    fn streaks_expire_after_the_period_and_the_period_reads_naturally() {
        let since = FixedClock::at_unix(NOW).now();
        let period = Duration::from_secs(120 * 3600);
        assert!(!streak_expired(since, since + period, period));
        assert!(streak_expired(
            since,
            since + period + Duration::from_secs(1),
            period
        ));
        assert!(!streak_expired(since + period, since, period));
        assert_eq!(describe_period(period), "5 days");
        assert_eq!(describe_period(Duration::from_secs(24 * 3600)), "1 day");
        assert_eq!(describe_period(Duration::from_secs(36 * 3600)), "36 hours");
        assert_eq!(describe_period(Duration::from_secs(3600)), "1 hour");
    }
}
