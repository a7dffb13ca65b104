//! One record of a batch: decode the envelope, archive the event for replay, find the
//! subscriptions that want it and do not have it yet, deliver to them, and keep the record on
//! the queue (delayed by the schedule) when one of them needs another try.

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use aws_lambda_events::event::sqs::SqsMessage;
use bytes::Bytes;
use futures_util::future::join_all;
use hookpost_shared::aws::MAX_DELAY_SECONDS;
use hookpost_shared::clock::{unix_micros, unix_seconds};
use hookpost_shared::envelope::{Deferral, EncodedBody, Envelope, Markers, Replay};
use hookpost_shared::routing;
use hookpost_shared::store::{
    ArchivedEvent, BodyStore, DeliveryLog, EventArchive, SubscriptionStore, Visibility,
};
use hookpost_shared::subscription::Subscription;
use reqwest::header::HeaderValue;
use tracing::{Instrument as _, debug, field, info, info_span, warn};

use crate::delivery::Delivery;
use crate::timing::receive_count;
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
    /// Every subscription still missing it waits for its rate limit: the slot each reserved.
    Defer { slots: BTreeMap<String, i64> },
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
            let body = message.body.as_deref().unwrap_or_default();
            let Markers { replay, deferral } = Markers::read(body);
            let deferral = deferral.unwrap_or_default();
            match self.process(&message, replay.as_ref(), &deferral, batch).await {
                RecordResult::Done => None,
                RecordResult::Malformed(reason) => {
                    batch.measure(|m| m.malformed += 1);
                    self.dead_letter_now(body, &message_id, &reason).await
                }
                RecordResult::Retry { retry_after } => {
                    batch.measure(|m| m.retries += 1);
                    let spent = deferral.failed_receives + receive_count(&message);
                    // SQS counts only this copy's receives toward the redrive policy: a copy
                    // that carries earlier failures is moved by the dispatcher when they are
                    // used up, as SQS would move the original.
                    if deferral.failed_receives > 0
                        && self.config.max_receive_count.is_some_and(|max| spent >= max)
                    {
                        let original = Deferral::clear(body).unwrap_or_else(|_| body.to_owned());
                        let reason = format!(
                            "delivery failed on {spent} receives, the last the redrive policy allows"
                        );
                        return self.dead_letter_now(&original, &message_id, &reason).await;
                    }
                    self.back_off(&message, retry_after, deferral.failed_receives)
                        .await;
                    Some(message_id)
                }
                RecordResult::Defer { slots } => {
                    self.defer(&message, &message_id, &deferral, slots, batch)
                        .await
                }
            }
        }
        .instrument(span)
        .await
    }

    /// Sends a record that can never be delivered to the dead-letter queue at once, with why, so
    /// it does not wait out every receive; `None` once it is there (the original is then
    /// deleted), `Some(message id)` when it could not be sent, leaving it for the next receive.
    async fn dead_letter_now(&self, body: &str, message_id: &str, reason: &str) -> Option<String> {
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

    /// Queues the record again, invisible until shortly before the earliest of the waiting
    /// deliveries' `slots`, carrying the slots and the receives spent on failures; the original
    /// is then deleted, so waiting costs it no receive. `None` once the copy is queued.
    ///
    /// The copy is sent before the original is deleted: a crash between the two leaves both,
    /// and the delivery log keeps the duplicate from reaching a subscriber that already has the
    /// event (at least once, as everywhere). If the copy cannot be sent (a FIFO queue cannot
    /// delay one message) the original is held back instead, which spends a receive.
    async fn defer(
        &self,
        message: &SqsMessage,
        message_id: &str,
        carried: &Deferral,
        slots: BTreeMap<String, i64>,
        batch: &Batch,
    ) -> Option<String> {
        let body = message.body.as_deref().unwrap_or_default();
        let now = unix_micros(self.clock.now());
        let earliest = slots.values().copied().min().unwrap_or(now);
        let delay = requeue_delay(earliest - now);
        let copy = Deferral {
            failed_receives: carried.failed_receives + receive_count(message).saturating_sub(1),
            slots,
        };
        let sent = match copy.mark(body) {
            // Copies made while another is being sent go together in the next request.
            Ok(marked) => {
                self.copies
                    .submit(&(), (marked, delay), |copies| async move {
                        self.visibility.requeue(&copies).await
                    })
                    .await
            }
            Err(e) => Err(hookpost_shared::store::StoreError::new(
                "SendMessage",
                e.to_string(),
            )),
        };
        match sent {
            Ok(()) => {
                batch.measure(|m| m.requeued += 1);
                info!(
                    delay_secs = delay,
                    "waiting for the rate limit on the queue"
                );
                None
            }
            Err(e) => {
                warn!(error = %e, delay_secs = delay, "queuing the record again failed; it is held back instead");
                if let Some(receipt_handle) = message.receipt_handle.as_deref()
                    && let Err(e) = self.visibility.delay(receipt_handle, delay).await
                {
                    warn!(error = %e, "holding the record back failed; the queue's visibility timeout applies");
                }
                Some(message_id.to_owned())
            }
        }
    }

    /// Delivers one record; `replay` and `deferral` are the [markers](Markers) beside its
    /// envelope.
    async fn process(
        &self,
        message: &SqsMessage,
        replay: Option<&Replay>,
        deferral: &Deferral,
        batch: &Batch,
    ) -> RecordResult {
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
        if let Some(replay) = replay {
            info!(replay_id = %replay.id, "replaying the event");
            return self
                .deliver_envelope(&envelope, Some(replay), deferral, batch)
                .await;
        }
        // A deferred copy was archived on its first receive.
        if !deferral.slots.is_empty() {
            return self
                .deliver_envelope(&envelope, None, deferral, batch)
                .await;
        }
        let (result, ()) = tokio::join!(
            self.deliver_envelope(&envelope, None, deferral, batch),
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
        deferral: &Deferral,
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

        let results = join_all(pending.iter().map(|s| async {
            if let Some(rate) = s.rate {
                let carried = deferral.slots.get(&s.subscription_id).copied();
                if let Err(waiting) = self.take_turn(envelope, s, rate, carried, batch).await {
                    return waiting;
                }
            }
            self.deliver(envelope, replay, &payload, s, &snapshot, batch)
                .await
        }))
        .await;
        let mut retry = false;
        let mut retry_after: Option<Duration> = None;
        let mut slots = BTreeMap::new();
        for (result, subscription) in results.into_iter().zip(&pending) {
            match result {
                Delivery::Settled => {}
                Delivery::Retry { after } => {
                    retry = true;
                    retry_after = retry_after.max(after);
                }
                Delivery::Waiting { slot } => {
                    slots.insert(subscription.subscription_id.clone(), slot);
                }
            }
        }
        // A failure decides: the record comes back on the retry schedule, and a waiting
        // delivery takes a new turn then (its slot only goes unused).
        if retry {
            RecordResult::Retry { retry_after }
        } else if !slots.is_empty() {
            RecordResult::Defer { slots }
        } else {
            RecordResult::Done
        }
    }
}

/// How early a deferred copy may come back before its slot, at most: what the rounding of
/// [`requeue_delay`] leaves to be waited for in the invocation.
const EARLY_MICROS: i64 = 250_000;

/// How long a deferred copy stays invisible for a slot `wait_micros` away: whole seconds (SQS's
/// unit), rounded so it comes back at most [`EARLY_MICROS`] before its slot (a short wait in the
/// invocation) and otherwise less than a second after it (delivered at once, within the late
/// tolerance of [`crate::delivery`]). Rounding down instead would hold every copy half a second
/// on average, an invocation's worth of concurrency for each limited delivery a second; at least
/// 1, at most SQS's 900 (a later slot is waited for over several copies).
fn requeue_delay(wait_micros: i64) -> i32 {
    let seconds = u64::try_from(wait_micros - EARLY_MICROS)
        .unwrap_or(0)
        .div_ceil(1_000_000);
    i32::try_from(seconds)
        .unwrap_or(MAX_DELAY_SECONDS)
        .clamp(1, MAX_DELAY_SECONDS)
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

    mod rate_limits {
        use std::collections::BTreeMap;

        use hookpost_shared::clock::FixedClock;
        use hookpost_shared::delivery::RateLimit;
        use hookpost_shared::envelope::{Deferral, EncodedBody};
        use hookpost_shared::subscription::Subscription;

        use crate::Config;
        use crate::test_support::*;

        const NOW_MICROS: i64 = NOW as i64 * 1_000_000;

        fn limited(id: &str, url: &str, rate: &str) -> Subscription {
            Subscription {
                rate: Some(RateLimit::parse(rate, None).expect("valid")),
                ..subscription(id, url)
            }
        }

        fn body(event_id: &str) -> String {
            envelope(event_id, EncodedBody::Utf8(BODY.to_owned())).encode()
        }

        #[tokio::test]
        async fn a_delivery_whose_slot_is_far_off_waits_on_the_queue_and_the_others_go_now() {
            let slow = Subscriber::start(Answer::Status(204)).await;
            let fast = Subscriber::start(Answer::Status(204)).await;
            let world = World::with(vec![
                limited("sub_slow", &slow.url(), "1/m"),
                subscription("sub_fast", &fast.url()),
            ]);

            let (response, metrics) = world
                .dispatcher(local_config())
                .handle_measured(
                    batch(vec![
                        message("m-1", &body("evt_1"), 1),
                        message("m-2", &body("evt_2"), 3),
                    ]),
                    None,
                )
                .await;

            // Neither record is failed: the waiting one went back to the queue as a new message.
            assert!(failed_ids(&response).is_empty(), "{response:?}");
            assert!(world.delays().is_empty());
            let mut fast_ids = fast.event_ids();
            fast_ids.sort();
            assert_eq!(fast_ids, ["evt_1", "evt_2"], "not held back by the limit");
            assert_eq!(slow.requests().len(), 1, "one slot a minute");
            let requeued = lock(&world.requeued).clone();
            assert_eq!(requeued.len(), 1, "{requeued:?}");
            let (copy, delay) = &requeued[0];
            assert_eq!(*delay, 60, "back just before its slot");
            let deferral = Deferral::read(copy).expect("marked");
            let slot = NOW_MICROS + 60_000_000;
            let waiting = if slow.event_ids() == ["evt_1"] {
                "evt_2"
            } else {
                "evt_1"
            };
            assert!(copy.contains(waiting), "{copy}");
            assert_eq!(
                deferral.slots,
                BTreeMap::from([("sub_slow".to_owned(), slot)])
            );
            // The copy of the record on its third receive carries the two failed receives.
            let expected_failed = if waiting == "evt_2" { 2 } else { 0 };
            assert_eq!(deferral.failed_receives, expected_failed);
            assert_eq!(
                (metrics.throttled, metrics.requeued, metrics.retries),
                (1, 1, 0)
            );
            assert_eq!(lock(&world.rate_next)["sub_slow"], slot + 60_000_000);
        }

        #[tokio::test]
        async fn a_burst_in_one_batch_reserves_and_queues_its_copies_in_few_calls() {
            let slow = Subscriber::start(Answer::Status(204)).await;
            let fast = Subscriber::start(Answer::Status(204)).await;
            let world = World::with(vec![
                limited("sub_slow", &slow.url(), "1/m"),
                subscription("sub_fast", &fast.url()),
            ]);
            let records: Vec<_> = (0..10)
                .map(|i| message(&format!("m-{i}"), &body(&format!("evt_{i}")), 1))
                .collect();

            let (response, metrics) = world
                .dispatcher(local_config())
                .handle_measured(batch(records), None)
                .await;

            assert!(failed_ids(&response).is_empty(), "{response:?}");
            assert_eq!(fast.requests().len(), 10, "not held back by the limit");
            assert_eq!(slow.requests().len(), 1, "one slot a minute");
            // Ten slots, fewer calls: the reservations made while one was in flight shared
            // the next.
            let reservations = lock(&world.reservations).clone();
            assert_eq!(reservations.iter().sum::<u32>(), 10, "{reservations:?}");
            assert!(reservations.len() < 10, "not gathered: {reservations:?}");
            assert_eq!(
                lock(&world.rate_next)["sub_slow"],
                NOW_MICROS + 10 * 60_000_000
            );
            // Nine copies, each with its own slot, one minute apart, queued in fewer calls.
            let calls = lock(&world.requeue_calls).clone();
            assert_eq!(calls.iter().sum::<usize>(), 9, "{calls:?}");
            assert!(calls.len() < 9, "not gathered: {calls:?}");
            let mut slots: Vec<i64> = lock(&world.requeued)
                .iter()
                .map(|(copy, _)| Deferral::read(copy).expect("marked").slots["sub_slow"])
                .collect();
            slots.sort_unstable();
            let expected: Vec<i64> = (1..10).map(|k| NOW_MICROS + k * 60_000_000).collect();
            assert_eq!(slots, expected);
            assert_eq!((metrics.throttled, metrics.requeued), (9, 9));
        }

        #[tokio::test]
        async fn a_contended_subscription_reserves_slots_ahead_and_spends_them_without_a_call() {
            let slow = Subscriber::start(Answer::Status(204)).await;
            let world = World::with(vec![limited("sub_slow", &slow.url(), "20/s")]);
            // Busy: its next slot is 100 ms off.
            lock(&world.rate_next).insert("sub_slow".to_owned(), NOW_MICROS + 100_000);
            let dispatcher = world.dispatcher(local_config());
            for i in 0..4 {
                let record = message(&format!("m-{i}"), &body(&format!("evt_{i}")), 1);
                let (response, _) = dispatcher.handle_measured(batch(vec![record]), None).await;
                assert!(failed_ids(&response).is_empty(), "{response:?}");
            }

            assert_eq!(slow.requests().len(), 4);
            // The first reservation waited, so the second took five spare slots (a quarter
            // second at 20/s) beside its own; the next two deliveries spent spare ones.
            assert_eq!(*lock(&world.reservations), [1, 6]);
            assert_eq!(
                lock(&world.rate_next)["sub_slow"],
                NOW_MICROS + 100_000 + 7 * 50_000,
                "every slot handed out, spare ones included, was reserved in the table"
            );
        }

        #[tokio::test]
        async fn a_deferred_copy_delivers_in_its_own_slot_without_reserving_another() {
            let slow = Subscriber::start(Answer::Status(204)).await;
            let fast = Subscriber::start(Answer::Status(204)).await;
            let world = World::with(vec![
                limited("sub_slow", &slow.url(), "1/m"),
                subscription("sub_fast", &fast.url()),
            ]);
            lock(&world.delivered).insert(
                "evt_1".to_owned(),
                std::collections::HashSet::from(["sub_fast".to_owned()]),
            );
            lock(&world.rate_next).insert("sub_slow".to_owned(), NOW_MICROS + 120_000_000);
            let copy = Deferral {
                failed_receives: 0,
                slots: BTreeMap::from([("sub_slow".to_owned(), NOW_MICROS)]),
            }
            .mark(&body("evt_1"))
            .expect("object");

            let response = world
                .dispatcher(local_config())
                .handle(batch(vec![message("m-copy", &copy, 1)]), None)
                .await;

            assert!(failed_ids(&response).is_empty());
            assert_eq!(slow.event_ids(), ["evt_1"]);
            assert!(fast.requests().is_empty(), "already had it");
            assert_eq!(
                lock(&world.rate_next)["sub_slow"],
                NOW_MICROS + 120_000_000,
                "no second reservation"
            );
            assert!(lock(&world.requeued).is_empty());
        }

        #[tokio::test]
        async fn a_copy_back_long_after_its_slot_takes_a_new_turn() {
            let slow = Subscriber::start(Answer::Status(204)).await;
            let world = World::with(vec![limited("sub_slow", &slow.url(), "1/m")]);
            lock(&world.rate_next).insert("sub_slow".to_owned(), NOW_MICROS + 30_000_000);
            let copy = Deferral {
                failed_receives: 0,
                slots: BTreeMap::from([("sub_slow".to_owned(), NOW_MICROS - 5_000_000)]),
            }
            .mark(&body("evt_1"))
            .expect("object");

            world
                .dispatcher(local_config())
                .handle(batch(vec![message("m-copy", &copy, 1)]), None)
                .await;

            // Sent now, five seconds late, it could bunch with the deliveries of later slots.
            assert!(slow.requests().is_empty());
            let requeued = lock(&world.requeued).clone();
            assert_eq!(requeued[0].1, 30);
            let again = Deferral::read(&requeued[0].0).expect("marked");
            assert_eq!(again.slots["sub_slow"], NOW_MICROS + 30_000_000);
        }

        #[tokio::test]
        async fn a_copy_back_within_a_second_of_its_slot_is_delivered_in_it() {
            let slow = Subscriber::start(Answer::Status(204)).await;
            let world = World::with(vec![limited("sub_slow", &slow.url(), "1/m")]);
            lock(&world.rate_next).insert("sub_slow".to_owned(), NOW_MICROS + 30_000_000);
            // As late as the rounding of its delay and the queue's hand-over may make it.
            let slot = NOW_MICROS - crate::delivery::LATE_TOLERANCE_MICROS;
            let copy = Deferral {
                failed_receives: 0,
                slots: BTreeMap::from([("sub_slow".to_owned(), slot)]),
            }
            .mark(&body("evt_1"))
            .expect("object");

            world
                .dispatcher(local_config())
                .handle(batch(vec![message("m-copy", &copy, 1)]), None)
                .await;

            assert_eq!(slow.event_ids(), ["evt_1"]);
            assert!(lock(&world.requeued).is_empty());
            assert_eq!(
                lock(&world.rate_next)["sub_slow"],
                NOW_MICROS + 30_000_000,
                "no second reservation"
            );
        }

        #[test]
        fn a_copy_comes_back_at_most_a_quarter_second_early_and_under_a_second_late() {
            use crate::record::requeue_delay;
            for wait_ms in [
                1_000_i64, 1_200, 1_250, 1_251, 1_900, 59_999, 60_000, 60_700,
            ] {
                let wait = wait_ms * 1_000;
                let back = i64::from(requeue_delay(wait)) * 1_000_000;
                assert!(
                    (wait - 250_000..wait + 750_000).contains(&back),
                    "a slot {wait_ms} ms away: back after {back} µs"
                );
            }
            assert_eq!(requeue_delay(1_250_000), 1);
            assert_eq!(requeue_delay(1_250_001), 2);
            assert_eq!(requeue_delay(300_000), 1, "at least a second");
            assert_eq!(requeue_delay(-5), 1);
            assert_eq!(requeue_delay(i64::MAX), 900, "SQS's longest delay");
        }

        #[tokio::test]
        async fn a_slot_within_the_hold_is_waited_for_in_the_invocation() {
            let slow = Subscriber::start(Answer::Status(204)).await;
            let world = World::with(vec![limited("sub_slow", &slow.url(), "20/s")]);

            let (response, metrics) = world
                .dispatcher(local_config())
                .handle_measured(
                    batch(vec![
                        message("m-1", &body("evt_1"), 1),
                        message("m-2", &body("evt_2"), 1),
                    ]),
                    None,
                )
                .await;

            assert!(failed_ids(&response).is_empty());
            assert_eq!(slow.requests().len(), 2);
            assert!(lock(&world.requeued).is_empty());
            assert_eq!((metrics.throttled, metrics.requeued), (1, 0));
        }

        #[tokio::test]
        async fn failures_carried_by_a_copy_still_reach_the_dead_letter_queue_on_schedule() {
            let down = Subscriber::start(Answer::Status(503)).await;
            let world = World::with(vec![limited("sub_down", &down.url(), "10/s")]);
            let original = body("evt_1");
            let copy = Deferral {
                failed_receives: 2,
                slots: BTreeMap::new(),
            }
            .mark(&original)
            .expect("object");
            let config = Config {
                max_receive_count: Some(3),
                ..local_config()
            };

            let response = world
                .dispatcher(config)
                .handle(batch(vec![message("m-copy", &copy, 1)]), None)
                .await;

            // The third failed receive of the record, the copy's first: SQS would not move it.
            assert!(failed_ids(&response).is_empty(), "{response:?}");
            let dead = world.dead_lettered();
            assert_eq!(dead.len(), 1);
            let as_json =
                |text: &str| serde_json::from_str::<serde_json::Value>(text).expect("JSON");
            assert_eq!(
                as_json(&dead[0].body),
                as_json(&original),
                "without the marker, so a redrive starts afresh"
            );
            assert!(dead[0].reason.contains("3 receives"), "{}", dead[0].reason);
        }

        #[tokio::test]
        async fn a_copy_with_failures_left_is_delayed_by_the_schedule_for_all_its_receives() {
            let down = Subscriber::start(Answer::Status(503)).await;
            let world = World::with(vec![subscription("sub_down", &down.url())]);
            let copy = Deferral {
                failed_receives: 1,
                slots: BTreeMap::new(),
            }
            .mark(&body("evt_1"))
            .expect("object");
            let config = Config {
                retry: "10s,100s,1000s".parse().expect("valid"),
                max_receive_count: Some(4),
                ..local_config()
            };

            let response = world
                .dispatcher(config)
                .handle(batch(vec![message("m-copy", &copy, 1)]), None)
                .await;

            assert_eq!(failed_ids(&response), ["m-copy"]);
            let delays = world.delays();
            // The record's second receive: the schedule's second entry, ±20 %.
            assert!((80..=120).contains(&delays[0].1), "{delays:?}");
            assert!(world.dead_lettered().is_empty());
        }

        #[tokio::test]
        async fn a_record_that_cannot_be_queued_again_is_held_back_and_kept() {
            let slow = Subscriber::start(Answer::Status(204)).await;
            let world = World {
                fail_requeues: true,
                ..World::with(vec![limited("sub_slow", &slow.url(), "1/m")])
            };
            lock(&world.rate_next).insert("sub_slow".to_owned(), NOW_MICROS + 10_000_000);

            let response = world
                .dispatcher_at(local_config(), FixedClock::at_unix(NOW))
                .handle(batch(vec![message("m-1", &body("evt_1"), 1)]), None)
                .await;

            assert_eq!(failed_ids(&response), ["m-1"], "never lost");
            assert_eq!(world.delays(), [("rh-m-1".to_owned(), 10)]);
        }
    }
}
