//! One record of a batch: decode the envelope, archive the event for replay, find the
//! subscriptions that want it and do not have it yet, deliver to them, and keep the record on
//! the queue (delayed by the schedule) when one of them needs another try.

use std::collections::HashSet;
use std::time::Duration;

use aws_lambda_events::event::sqs::SqsMessage;
use bytes::Bytes;
use futures_util::future::join_all;
use hookpost_shared::clock::unix_seconds;
use hookpost_shared::envelope::{EncodedBody, Envelope, Replay};
use hookpost_shared::routing;
use hookpost_shared::store::{
    ArchivedEvent, BodyStore, DeliveryLog, EventArchive, SubscriptionStore, Visibility,
};
use hookpost_shared::subscription::Subscription;
use reqwest::header::HeaderValue;
use tracing::{Instrument as _, debug, field, info, info_span, warn};

use crate::delivery::Delivery;
use crate::{Batch, Dispatcher};

/// What became of a record.
enum RecordResult {
    /// Every wanted subscription has the event (or gave it up with 410).
    Done,
    /// Not an envelope this build can deliver, and why: it can never succeed, so it goes to the
    /// dead-letter queue at once.
    Malformed(String),
    /// Some subscription still needs it.
    Retry { retry_after: Option<Duration> },
}

impl<S, L, V, B, E> Dispatcher<S, L, V, B, E>
where
    S: SubscriptionStore,
    L: DeliveryLog,
    V: Visibility,
    B: BodyStore,
    E: EventArchive,
{
    /// One record in its own span; `Some(message id)` when it failed.
    pub(crate) async fn handle_record(&self, message: SqsMessage, batch: &Batch) -> Option<String> {
        // Lambda treats an empty item identifier as a failure of the whole batch: a record
        // without an id (never sent by SQS) is then retried with the rest instead of dropped.
        let message_id = message.message_id.clone().unwrap_or_default();
        let span = info_span!("record", message_id = %message_id, event_id = field::Empty);
        async {
            match self.process(&message, batch).await {
                RecordResult::Done => None,
                RecordResult::Malformed(reason) => {
                    batch.measure(|m| m.malformed += 1);
                    self.dead_letter_now(&message, &message_id, &reason).await
                }
                RecordResult::Retry { retry_after } => {
                    batch.measure(|m| m.retries += 1);
                    self.back_off(&message, retry_after).await;
                    Some(message_id)
                }
            }
        }
        .instrument(span)
        .await
    }

    /// Sends a record that can never be delivered to the dead-letter queue at once, with why, so
    /// it does not wait out every receive; `None` once it is there (the original is then
    /// deleted), `Some(message id)` when it could not be sent, leaving it for the next receive.
    async fn dead_letter_now(
        &self,
        message: &SqsMessage,
        message_id: &str,
        reason: &str,
    ) -> Option<String> {
        let body = message.body.as_deref().unwrap_or_default();
        match self.visibility.dead_letter(body, message_id, reason).await {
            Ok(()) => {
                warn!(
                    reason,
                    "a record that can never be delivered went to the dead-letter queue"
                );
                None
            }
            Err(e) => {
                warn!(reason, error = %e, "a record that can never be delivered could not be dead-lettered; it stays on the queue");
                Some(message_id.to_owned())
            }
        }
    }

    async fn process(&self, message: &SqsMessage, batch: &Batch) -> RecordResult {
        let Some(body) = message.body.as_deref() else {
            return RecordResult::Malformed("the record has no body".to_owned());
        };
        let envelope = match Envelope::decode(body) {
            Ok(envelope) => envelope,
            Err(e) => {
                return RecordResult::Malformed(format!(
                    "the record is not a deliverable envelope: {e}"
                ));
            }
        };
        tracing::Span::current().record("event_id", field::display(&envelope.event_id));
        if HeaderValue::from_str(&envelope.event_id).is_err() {
            return RecordResult::Malformed(
                "the envelope's event id cannot be sent as a header".to_owned(),
            );
        }
        // Archiving runs beside the deliveries: it adds no latency, and its failure only costs
        // the replay of this event, never its delivery.
        // A replay (`hookpost events replay`) is already archived as first queued.
        if let Some(replay) = Replay::read(body) {
            info!(replay_id = %replay.id, "replaying the event");
            return self.deliver_envelope(&envelope, Some(&replay), batch).await;
        }
        let (result, ()) = tokio::join!(
            self.deliver_envelope(&envelope, None, batch),
            self.archive(&envelope, body)
        );
        result
    }

    /// Keeps the event for replay, the envelope exactly as queued.
    async fn archive(&self, envelope: &Envelope, queued: &str) {
        let now = self.clock.now();
        let event = ArchivedEvent {
            event_id: envelope.event_id.clone(),
            source_id: envelope.source_id.clone(),
            event_type: envelope.event_type.clone(),
            received_at: envelope.received_at.clone(),
            envelope: queued.to_owned(),
            expires_at: unix_seconds(now)
                .saturating_add(i64::try_from(self.config.retention.as_secs()).unwrap_or(i64::MAX)),
        };
        match self.events.archive(&event).await {
            Ok(true) => debug!("event archived"),
            Ok(false) => debug!("event already archived"),
            Err(e) => warn!(error = %e, "archiving the event failed; it cannot be replayed"),
        }
    }

    /// Delivers a decoded envelope to every subscription still missing it.
    async fn deliver_envelope(
        &self,
        envelope: &Envelope,
        replay: Option<&Replay>,
        batch: &Batch,
    ) -> RecordResult {
        let payload = match &envelope.body {
            // The claim check: a body too large for the message was stored aside.
            EncodedBody::Stored(key) => match self.bodies.get(key).await {
                Ok(bytes) => Bytes::from(bytes),
                Err(e) => {
                    warn!(error = %e, "reading the stored body failed");
                    return RecordResult::Retry { retry_after: None };
                }
            },
            inline => match inline.bytes() {
                Ok(bytes) => Bytes::from(bytes.into_owned()),
                Err(e) => {
                    return RecordResult::Malformed(format!(
                        "the envelope's body cannot be decoded: {e}"
                    ));
                }
            },
        };

        let snapshot = match self.source_snapshot(batch, &envelope.source_id).await {
            Ok(snapshot) => snapshot,
            Err(e) => {
                warn!(source = %envelope.source_id, error = %e, "loading subscriptions failed");
                return RecordResult::Retry { retry_after: None };
            }
        };
        // What payload filters read, built once for the event and only if one is asked.
        let filter_input = std::cell::OnceCell::new();
        let wanted: Vec<&Subscription> = snapshot
            .subscriptions
            .iter()
            .filter(|s| {
                s.enabled
                    && !snapshot.is_disabled(&s.subscription_id)
                    && s.wants(envelope.event_type.as_deref())
                    && replay.is_none_or(|r| r.includes(&s.subscription_id))
                    && snapshot.filter_allows(s, || {
                        filter_input.get_or_init(|| routing::pattern_input(envelope, &payload))
                    })
            })
            .collect();
        if wanted.is_empty() {
            info!(source = %envelope.source_id, "no subscription wants this event");
            return RecordResult::Done;
        }
        let delivered: HashSet<String> = match self
            .log
            .delivered_subscriptions(&delivery_key(envelope, replay))
            .await
        {
            Ok(delivered) => delivered,
            Err(e) => {
                // Delivering without knowing who has the event would call them again.
                warn!(error = %e, "reading earlier deliveries failed");
                return RecordResult::Retry { retry_after: None };
            }
        };
        let pending: Vec<&Subscription> = wanted
            .into_iter()
            .filter(|s| {
                let done = delivered.contains(&s.subscription_id);
                if done {
                    debug!(subscription_id = %s.subscription_id, "already delivered, skipped");
                }
                !done
            })
            .collect();

        let results = join_all(
            pending
                .iter()
                .map(|s| self.deliver(envelope, replay, &payload, s, &snapshot, batch)),
        )
        .await;
        let mut retry = false;
        let mut retry_after: Option<Duration> = None;
        for result in results {
            match result {
                Delivery::Settled => {}
                Delivery::Retry { after } => {
                    retry = true;
                    retry_after = retry_after.max(after);
                }
            }
        }
        if retry {
            RecordResult::Retry { retry_after }
        } else {
            RecordResult::Done
        }
    }
}

/// Where an event's delivery records are kept: under its id, or under a replay's own key, so the
/// original deliveries do not make a replay skip anyone.
pub(crate) fn delivery_key(envelope: &Envelope, replay: Option<&Replay>) -> String {
    replay.map_or_else(
        || envelope.event_id.clone(),
        |r| r.delivery_key(&envelope.event_id),
    )
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use hookpost_shared::envelope::EncodedBody;

    use crate::test_support::*;

    #[tokio::test]
    async fn a_subscriber_that_already_got_the_event_is_not_called_again_on_redrive() {
        let done = Subscriber::start(Answer::Status(200)).await;
        let failing = Subscriber::start(Answer::Status(503)).await;
        let world = World::with(vec![
            subscription("sub_done", &done.url()),
            subscription("sub_failing", &failing.url()),
        ]);
        lock(&world.delivered).insert("evt_1".to_owned(), HashSet::from(["sub_done".to_owned()]));

        let response = world
            .dispatcher(local_config())
            .handle(batch(vec![record("m-1", "evt_1")]), None)
            .await;

        assert_eq!(failed_ids(&response), vec!["m-1"]);
        assert!(done.requests().is_empty());
        assert_eq!(failing.requests().len(), 1);
        let attempts = world.attempts();
        assert_eq!(attempts.len(), 1);
        assert_eq!(attempts[0].subscription_id, "sub_failing");
    }

    #[tokio::test]
    async fn a_retried_batch_only_calls_the_subscribers_still_missing_the_event() {
        let ok = Subscriber::start(Answer::Status(200)).await;
        let failing = Subscriber::start(Answer::Status(500)).await;
        let world = World::with(vec![
            subscription("sub_ok", &ok.url()),
            subscription("sub_failing", &failing.url()),
        ]);
        let dispatcher = world.dispatcher(local_config());

        for _ in 0..2 {
            let response = dispatcher
                .handle(batch(vec![record("m-1", "evt_1")]), None)
                .await;
            assert_eq!(failed_ids(&response), vec!["m-1"]);
        }

        assert_eq!(ok.requests().len(), 1);
        assert_eq!(failing.requests().len(), 2);
    }

    #[tokio::test]
    async fn disabled_subscriptions_and_unwanted_event_types_are_skipped() {
        let subscriber = Subscriber::start(Answer::Status(200)).await;
        let mut disabled = subscription("sub_disabled", &subscriber.url());
        disabled.enabled = false;
        let mut other_events = subscription("sub_push_only", &subscriber.url());
        other_events.event_types = vec!["push".to_owned()];
        let mut invoices = subscription("sub_invoices", &subscriber.url());
        invoices.event_types = vec!["invoice.*".to_owned()];
        let world = World::with(vec![disabled, other_events, invoices]);

        let response = world
            .dispatcher(local_config())
            .handle(batch(vec![record("m-1", "evt_1")]), None)
            .await;

        assert!(failed_ids(&response).is_empty());
        assert_eq!(subscriber.requests().len(), 1);
        let attempts = world.attempts();
        assert_eq!(attempts.len(), 1);
        assert_eq!(attempts[0].subscription_id, "sub_invoices");
    }

    #[tokio::test]
    async fn a_stored_body_is_fetched_and_delivered_byte_for_byte() {
        let subscriber = Subscriber::start(Answer::Status(204)).await;
        let world = World::with(vec![subscription("sub_a", &subscriber.url())]);
        let large = vec![b'x'; 300 * 1024];
        lock(&world.bodies).insert("bodies/billing/evt_big".to_owned(), large.clone());
        let stored = envelope(
            "evt_big",
            EncodedBody::Stored("bodies/billing/evt_big".to_owned()),
        );

        let response = world
            .dispatcher(local_config())
            .handle(batch(vec![message("m-1", &stored.encode(), 1)]), None)
            .await;

        assert!(failed_ids(&response).is_empty());
        let requests = subscriber.requests();
        assert_eq!(requests.len(), 1);
        assert_eq!(requests[0].body, large);
        assert_eq!(verify(&requests[0], SECRET), Ok(()));
    }

    #[tokio::test]
    async fn a_stored_body_that_cannot_be_read_keeps_the_record_for_a_retry() {
        let subscriber = Subscriber::start(Answer::Status(204)).await;
        let world = World::with(vec![subscription("sub_a", &subscriber.url())]);
        let missing = envelope(
            "evt_gone",
            EncodedBody::Stored("bodies/billing/nope".to_owned()),
        );

        let response = world
            .dispatcher(local_config())
            .handle(batch(vec![message("m-1", &missing.encode(), 1)]), None)
            .await;

        assert_eq!(failed_ids(&response), ["m-1"]);
        assert!(subscriber.requests().is_empty());
        assert_eq!(world.delays().len(), 1, "retried on the schedule");
    }

    #[tokio::test]
    async fn every_event_is_archived_once_with_the_envelope_as_queued() {
        let subscriber = Subscriber::start(Answer::Status(500)).await;
        let world = World::with(vec![subscription("sub_a", &subscriber.url())]);
        let stored = envelope(
            "evt_big",
            EncodedBody::Stored("bodies/billing/evt_big".to_owned()),
        );
        lock(&world.bodies).insert("bodies/billing/evt_big".to_owned(), b"{}".to_vec());
        let dispatcher = world.dispatcher(local_config());

        for receive in 1..=2 {
            dispatcher
                .handle(batch(vec![message("m-1", &stored.encode(), receive)]), None)
                .await;
        }

        let archived = lock(&world.archived).clone();
        assert_eq!(archived.len(), 1);
        let event = &archived["evt_big"];
        assert_eq!(event.envelope, stored.encode());
        assert_eq!(event.source_id.as_str(), "billing");
        assert_eq!(event.received_at, "2026-01-01T00:00:00.000Z");
        assert_eq!(
            event.expires_at,
            i64::try_from(NOW).expect("fits") + 30 * 24 * 60 * 60
        );
    }

    #[tokio::test]
    async fn failing_to_archive_does_not_keep_the_event_from_its_subscribers() {
        let subscriber = Subscriber::start(Answer::Status(204)).await;
        let world = World {
            fail_archiving: true,
            ..World::with(vec![subscription("sub_a", &subscriber.url())])
        };

        let response = world
            .dispatcher(local_config())
            .handle(batch(vec![record("m-1", "evt_1")]), None)
            .await;

        assert!(failed_ids(&response).is_empty());
        assert_eq!(subscriber.requests().len(), 1);
    }
}
