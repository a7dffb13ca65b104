//! One (event, subscription) pair: wait for a slot, check the time left, make the attempt,
//! record it, and let its outcome settle the pair (delivered, gone) or ask for another try,
//! extending or ending the subscription's failure streak on the way.

use std::time::{Duration, Instant};

use bytes::Bytes;
use hookpost_shared::clock::{rfc3339, unix_seconds};
use hookpost_shared::delivery::AttemptOutcome;
use hookpost_shared::envelope::{Envelope, Replay};
use hookpost_shared::store::{
    AttemptRecord, BodyStore, DeliveryLog, EventArchive, SubscriptionStore, Visibility,
};
use hookpost_shared::subscription::{LastDelivery, Subscription};
use tracing::{info, warn};

use crate::record::delivery_key;
use crate::snapshot::SourceSnapshot;
use crate::timing::{attempt_budget, attempt_limit};
use crate::{Batch, Dispatcher};

/// What became of one (event, subscription) pair.
pub(crate) enum Delivery {
    Settled,
    Retry { after: Option<Duration> },
}

impl<S, L, V, B, E> Dispatcher<S, L, V, B, E>
where
    S: SubscriptionStore,
    L: DeliveryLog,
    V: Visibility,
    B: BodyStore,
    E: EventArchive,
{
    /// One attempt at one subscription, recorded.
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
