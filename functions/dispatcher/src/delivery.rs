//! One (event, subscription) pair: take its turn under the subscription's rate limit (a short
//! wait here, or a longer one on the queue), wait for a slot, check the time left, make the
//! attempt, record it, and let its outcome settle the pair (delivered, gone) or ask for another try,
//! extending or ending the subscription's failure streak on the way.

use std::time::{Duration, Instant};

use bytes::Bytes;
use hookpost_shared::clock::unix_micros;
use hookpost_shared::clock::{rfc3339, unix_seconds};
use hookpost_shared::delivery::{AttemptOutcome, RateLimit};
use hookpost_shared::envelope::{Envelope, Replay};
use hookpost_shared::store::{
    AttemptRecord, BodyStore, DeliveryLog, EventArchive, StoreError, SubscriptionStore, Visibility,
};
use hookpost_shared::subscription::{LastDelivery, Subscription};
use tracing::{debug, info, warn};

use crate::record::delivery_key;
use crate::snapshot::SourceSnapshot;
use crate::timing::{attempt_budget, attempt_limit};
use crate::{Batch, Dispatcher, SlotKey};

/// What became of one (event, subscription) pair.
pub(crate) enum Delivery {
    Settled,
    Retry {
        after: Option<Duration>,
    },
    /// Not attempted: the subscription's rate limit gives it the slot at `slot` (microseconds
    /// since the Unix epoch), too far off to wait for here.
    Waiting {
        slot: i64,
    },
}

/// The longest a delivery waits for its rate-limit slot inside an invocation; a later slot is
/// waited for on the queue ([`crate::record`]).
pub(crate) const MAX_HOLD: Duration = Duration::from_secs(1);
/// How long after its slot a carried reservation is still used: a deferred copy comes back up
/// to a second after its slot by design (SQS delays are whole seconds), plus the time the queue
/// takes to hand it over. A copy that comes back later reserves a new slot, so late copies never
/// bunch up: any window of `w` seconds sees at most `burst + (w + LATE_TOLERANCE) × rate`
/// deliveries. A tighter tolerance leaves more slots unused: each copy later than it reserves a
/// new slot at the back of the line, and the one it had goes to nobody.
pub(crate) const LATE_TOLERANCE_MICROS: i64 = 1_000_000;

impl<S, L, V, B, E> Dispatcher<S, L, V, B, E>
where
    S: SubscriptionStore,
    L: DeliveryLog,
    V: Visibility,
    B: BodyStore,
    E: EventArchive,
{
    /// One attempt at one subscription, recorded (after its [turn](Self::take_turn) under a
    /// rate limit).
    pub(crate) async fn deliver(
        &self,
        envelope: &Envelope,
        replay: Option<&Replay>,
        payload: &Bytes,
        subscription: &Subscription,
        snapshot: &SourceSnapshot,
        batch: &Batch,
    ) -> Delivery {
        let Ok(_permit) = batch.permits.acquire().await else {
            return Delivery::Retry { after: None };
        };
        let now = self.clock.now();
        let limit = attempt_limit(self.config.attempt_timeout, subscription.timeout_seconds);
        let Some(timeout) = attempt_budget(now, batch.deadline, limit) else {
            warn!(
                subscription_id = %subscription.subscription_id,
                "not attempted: the invocation is about to time out"
            );
            batch.measure(|m| m.deferred += 1);
            return Delivery::Retry { after: None };
        };

        let started = Instant::now();
        let attempt = self.attempt(envelope, payload, subscription, timeout).await;
        let duration_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);

        let record = AttemptRecord {
            event_id: delivery_key(envelope, replay),
            subscription_id: subscription.subscription_id.clone(),
            source_id: envelope.source_id.clone(),
            event_type: envelope.event_type.clone(),
            outcome: attempt.outcome,
            error: attempt.error,
            response_snippet: attempt.snippet,
            duration_ms,
            attempted_at: rfc3339(now),
            expires_at: unix_seconds(now)
                .saturating_add(i64::try_from(self.config.retention.as_secs()).unwrap_or(i64::MAX)),
        };
        let event_id = envelope.event_id.as_str();
        let subscription_id = subscription.subscription_id.as_str();
        let outcome = record.outcome.label();
        let status = record.outcome.status();
        if record.outcome.is_delivered() {
            info!(
                event_id,
                subscription_id, outcome, status, duration_ms, "delivered"
            );
        } else {
            warn!(
                event_id,
                subscription_id,
                outcome,
                status,
                duration_ms,
                error = record.error.as_deref(),
                "not delivered"
            );
        }
        batch.measure(|m| m.attempt(&record.outcome, duration_ms));
        if let Err(e) = self.log.record_attempt(&record).await {
            // For a success this means the subscriber may get the event again on a retry of
            // another subscription: at-least-once, which Standard Webhooks' `webhook-id` covers.
            warn!(event_id, subscription_id, outcome, error = %e, "recording the attempt failed");
        }

        let source = &envelope.source_id;
        let status = record.outcome.record_status();
        if self.last_deliveries.claim(subscription, status, now) {
            let last = LastDelivery {
                event_id: envelope.event_id.clone(),
                at: record.attempted_at.clone(),
                status: status.to_owned(),
            };
            if let Err(e) = self
                .subscriptions
                .record_last_delivery(source, subscription_id, &last)
                .await
            {
                self.last_deliveries.forget(subscription_id);
                warn!(subscription_id, error = %e, "keeping the last delivery failed");
            }
        }
        match record.outcome {
            AttemptOutcome::Delivered { .. } => {
                self.end_streak(source, subscription, snapshot).await;
                Delivery::Settled
            }
            AttemptOutcome::Gone { .. } => {
                // An AWS destination's refusal says what it was; an HTTP subscriber's is a 410.
                let what = record
                    .error
                    .as_deref()
                    .unwrap_or("the subscriber answered 410 Gone");
                let reason = format!("{what} at {}", rfc3339(now));
                self.disable(source, subscription_id, &reason, snapshot, batch)
                    .await;
                Delivery::Settled
            }
            AttemptOutcome::Retry { retry_after, .. } => {
                if self
                    .extend_streak(source, subscription, snapshot, now, batch)
                    .await
                {
                    return Delivery::Settled;
                }
                Delivery::Retry { after: retry_after }
            }
        }
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
    /// Waits for the delivery's slot under `rate`: the one `carried` from an earlier receive, or
    /// a new one ([`Self::reserve_slots`]). `Err` when the slot is too far off to wait for here
    /// (or the limiter's state could not be read).
    pub(crate) async fn take_turn(
        &self,
        envelope: &Envelope,
        subscription: &Subscription,
        rate: RateLimit,
        carried: Option<i64>,
        batch: &Batch,
    ) -> Result<(), Delivery> {
        let slot = match carried {
            Some(slot) if slot >= unix_micros(self.clock.now()) - LATE_TOLERANCE_MICROS => slot,
            _ => {
                let key = (
                    envelope.source_id.clone(),
                    subscription.subscription_id.clone(),
                    rate.interval_micros(),
                );
                // Deliveries to this subscription that ask while its reservation is in flight
                // reserve together in the next one (or take spare slots the last one left).
                let reserved = self
                    .slots
                    .submit(&key, (), |requests| {
                        self.reserve_slots(&key, rate, requests.len())
                    })
                    .await;
                match reserved {
                    Ok(slot) => slot,
                    Err(e) => {
                        warn!(subscription_id = %subscription.subscription_id, error = %e, "reserving a rate-limit slot failed");
                        return Err(Delivery::Retry { after: None });
                    }
                }
            }
        };
        let now = self.clock.now();
        let wait = Duration::from_micros(u64::try_from(slot - unix_micros(now)).unwrap_or(0));
        if wait.is_zero() {
            return Ok(());
        }
        batch.measure(|m| m.throttled += 1);
        let limit = attempt_limit(self.config.attempt_timeout, subscription.timeout_seconds);
        if wait > MAX_HOLD || attempt_budget(now + wait, batch.deadline, limit).is_none() {
            debug!(subscription_id = %subscription.subscription_id, wait_ms = wait.as_millis(), "waiting for the rate limit on the queue");
            return Err(Delivery::Waiting { slot });
        }
        debug!(subscription_id = %subscription.subscription_id, wait_ms = wait.as_millis(), "waiting for the rate limit");
        tokio::time::sleep(wait).await;
        Ok(())
    }

    /// When each of `count` deliveries to `key`'s subscription may go: spare slots this
    /// dispatcher reserved ahead first ([`crate::lease`]), then consecutive slots from one
    /// reservation, which also reserves spare slots after them while the subscription is busy.
    async fn reserve_slots(
        &self,
        key: &SlotKey,
        rate: RateLimit,
        count: usize,
    ) -> Vec<Result<i64, StoreError>> {
        let (source, subscription_id, interval) = key;
        let now = unix_micros(self.clock.now());
        let mut slots: Vec<Result<i64, StoreError>> = self
            .leases
            .take(key, now, count)
            .into_iter()
            .map(Ok)
            .collect();
        let missing = count - slots.len();
        if missing == 0 {
            return slots;
        }
        let Ok(n) = u32::try_from(missing) else {
            let e = StoreError::new("UpdateItem", "too many slots for one reservation");
            slots.extend(vec![Err(e); missing]);
            return slots;
        };
        let spare = self.leases.spare_for(key, rate, now);
        match self
            .subscriptions
            .reserve_slots(
                source,
                subscription_id,
                now,
                *interval,
                n.saturating_add(spare),
            )
            .await
        {
            Ok(first) => {
                let slot = |k| rate.send_at(rate.nth_tat(first, now, k), now);
                slots.extend((0..n).map(|k| Ok(slot(k))));
                let contended = slot(0) > now;
                self.leases
                    .record(key, now, contended, (n..n.saturating_add(spare)).map(slot));
            }
            Err(e) => slots.extend(vec![Err(e); missing]),
        }
        slots
    }
}

#[cfg(test)]
mod tests {
    use crate::test_support::*;

    #[tokio::test]
    async fn failing_to_record_a_success_does_not_fail_the_record() {
        let subscriber = Subscriber::start(Answer::Status(200)).await;
        let world = World {
            fail_recording: true,
            ..World::with(vec![subscription("sub_a", &subscriber.url())])
        };

        let response = world
            .dispatcher(local_config())
            .handle(batch(vec![record("m-1", "evt_1")]), None)
            .await;

        assert!(failed_ids(&response).is_empty());
        assert_eq!(subscriber.requests().len(), 1);
    }

    #[tokio::test]
    async fn an_attempt_is_kept_as_the_subscriptions_last_delivery() {
        let up = Subscriber::start(Answer::Status(204)).await;
        let down = Subscriber::start(Answer::Status(500)).await;
        let world = World::with(vec![
            subscription("sub_up", &up.url()),
            subscription("sub_down", &down.url()),
        ]);

        world
            .dispatcher(local_config())
            .handle(batch(vec![record("m-1", "evt_1")]), None)
            .await;

        let kept = lock(&world.last_deliveries);
        assert_eq!(kept["sub_up"].status, "delivered");
        assert_eq!(kept["sub_up"].event_id, "evt_1");
        assert_eq!(kept["sub_down"].status, "failing");
    }
}
