//! Lanes: what of a batch runs concurrently. A standard queue's record is a lane of its own; a
//! FIFO queue's message group is one lane whose records run one after the other, where a failed
//! record holds the group's later records back.

use std::collections::HashMap;

use aws_lambda_events::event::sqs::SqsMessage;
use futures_util::future::join_all;
use hookpost_shared::store::{BodyStore, DeliveryLog, EventArchive, SubscriptionStore, Visibility};
use tracing::{info, warn};

use crate::{Batch, Dispatcher};

/// The SQS attribute naming a FIFO message's group (the source, in ordered mode).
pub const GROUP_ATTRIBUTE: &str = "MessageGroupId";

/// Splits a batch into what the handler runs concurrently, in order of first appearance: each
/// record of a standard queue alone, and all records of one FIFO message group together, in batch
/// order. A record is from a FIFO queue when it carries a `MessageGroupId` (SQS sets it on every
/// FIFO message and on no standard one).
pub(crate) fn lanes(records: Vec<SqsMessage>) -> Vec<Vec<SqsMessage>> {
    let mut lanes: Vec<Vec<SqsMessage>> = Vec::with_capacity(records.len());
    let mut groups: HashMap<String, usize> = HashMap::new();
    for message in records {
        let Some(group) = message.attributes.get(GROUP_ATTRIBUTE).cloned() else {
            lanes.push(vec![message]);
            continue;
        };
        if let Some(&i) = groups.get(&group) {
            lanes[i].push(message);
        } else {
            groups.insert(group, lanes.len());
            lanes.push(vec![message]);
        }
    }
    lanes
}

impl<S, L, V, B, E> Dispatcher<S, L, V, B, E>
where
    S: SubscriptionStore,
    L: DeliveryLog,
    V: Visibility,
    B: BodyStore,
    E: EventArchive,
{
    /// A standard queue's record on its own, or a FIFO message group's records one after the
    /// other in batch order. Returns the ids of the records to keep on the queue.
    ///
    /// Once a record of a group fails, the group's later records are kept unprocessed: delivering
    /// them would overtake the failed one. Lambda requires exactly this of a FIFO partial batch
    /// response (<https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html>).
    pub(crate) async fn handle_lane(&self, records: Vec<SqsMessage>, batch: &Batch) -> Vec<String> {
        let mut failed = Vec::new();
        let mut held = Vec::new();
        for message in records {
            if failed.is_empty() {
                failed.extend(self.handle_record(message, batch).await);
            } else {
                failed.push(message.message_id.clone().unwrap_or_default());
                held.push(message);
            }
        }
        if !held.is_empty() {
            info!(
                group = held[0]
                    .attributes
                    .get(GROUP_ATTRIBUTE)
                    .map_or("-", String::as_str),
                held = held.len(),
                "an earlier event of the group failed: its later events wait for it"
            );
        }
        // A held record would stay in flight for the queue's whole visibility timeout and keep
        // the group blocked past the failed record's retry delay. Visible again, it still waits:
        // SQS returns nothing of a group while one of its messages is in flight.
        join_all(held.iter().map(|message| self.release(message))).await;
        failed
    }

    /// Makes a held record visible again at once.
    async fn release(&self, message: &SqsMessage) {
        let Some(receipt_handle) = message.receipt_handle.as_deref() else {
            return;
        };
        if let Err(e) = self.visibility.delay(receipt_handle, 0).await {
            warn!(
                message_id = message.message_id.as_deref().unwrap_or_default(),
                error = %e,
                "releasing a held record failed; the queue's visibility timeout applies"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::time::Duration;

    use super::*;
    use crate::test_support::*;

    fn ids(lane: &[SqsMessage]) -> Vec<&str> {
        lane.iter()
            .map(|m| m.message_id.as_deref().unwrap_or_default())
            .collect()
    }

    #[test]
    fn a_group_is_one_lane_in_batch_order_and_a_standard_record_a_lane_of_its_own() {
        let lanes = lanes(vec![
            grouped("a-1", "alpha", "evt_a1"),
            record("s-1", "evt_s1"),
            grouped("b-1", "bravo", "evt_b1"),
            grouped("a-2", "alpha", "evt_a2"),
            record("s-2", "evt_s2"),
        ]);

        let lanes: Vec<Vec<&str>> = lanes.iter().map(|lane| ids(lane)).collect();
        assert_eq!(
            lanes,
            [vec!["a-1", "a-2"], vec!["s-1"], vec!["b-1"], vec!["s-2"]]
        );
    }

    #[tokio::test]
    async fn a_failed_event_holds_the_later_events_of_its_group_but_not_of_other_groups() {
        let failing = Subscriber::start(Answer::Status(500)).await;
        let healthy = Subscriber::start(Answer::Status(204)).await;
        let world = World::with(vec![
            subscription_of("alpha", "sub_a", &failing.url()),
            subscription_of("bravo", "sub_b", &healthy.url()),
        ]);

        let response = world
            .dispatcher(local_config())
            .handle(
                batch(vec![
                    grouped("a-1", "alpha", "evt_a1"),
                    grouped("b-1", "bravo", "evt_b1"),
                    grouped("a-2", "alpha", "evt_a2"),
                    grouped("b-2", "bravo", "evt_b2"),
                    grouped("a-3", "alpha", "evt_a3"),
                ]),
                None,
            )
            .await;

        let mut failed = failed_ids(&response);
        failed.sort_unstable();
        assert_eq!(failed, ["a-1", "a-2", "a-3"]);
        // Only the group's first event reached its subscriber; the later ones were never sent.
        assert_eq!(failing.event_ids(), ["evt_a1"]);
        let attempted: Vec<_> = world
            .attempts()
            .iter()
            .map(|a| a.event_id.clone())
            .collect();
        assert!(
            !attempted.iter().any(|e| e == "evt_a2" || e == "evt_a3"),
            "{attempted:?}"
        );
        assert_eq!(healthy.event_ids(), ["evt_b1", "evt_b2"]);
        // The failed event waits its retry delay; the held ones are visible again at once, and
        // SQS gives them out only after the failed one, in order.
        let delays: HashMap<String, i32> = world.delays().into_iter().collect();
        assert!(delays["rh-a-1"] > 0, "{delays:?}");
        assert_eq!(delays["rh-a-2"], 0);
        assert_eq!(delays["rh-a-3"], 0);
        assert!(!delays.contains_key("rh-b-1"));
    }

    #[tokio::test]
    async fn the_events_of_one_group_are_delivered_one_at_a_time_in_batch_order() {
        let subscriber = Subscriber::start(Answer::Slow(Duration::from_millis(30))).await;
        let world = World::with(vec![subscription_of("alpha", "sub_a", &subscriber.url())]);
        let ids: Vec<String> = (1..=5).map(|i| format!("evt_{i}")).collect();
        let records = ids
            .iter()
            .map(|id| grouped(&format!("m-{id}"), "alpha", id))
            .collect();

        let response = world
            .dispatcher(local_config())
            .handle(batch(records), None)
            .await;

        assert!(failed_ids(&response).is_empty());
        assert_eq!(subscriber.event_ids(), ids);
        assert_eq!(subscriber.most_at_once(), 1);
    }

    #[tokio::test]
    async fn records_of_a_standard_queue_are_still_delivered_concurrently() {
        let subscriber = Subscriber::start(Answer::Slow(Duration::from_millis(200))).await;
        let world = World::with(vec![subscription("sub_a", &subscriber.url())]);
        let records = (1..=5)
            .map(|i| record(&format!("m-{i}"), &format!("evt_{i}")))
            .collect();

        let response = world
            .dispatcher(local_config())
            .handle(batch(records), None)
            .await;

        assert!(failed_ids(&response).is_empty());
        assert!(subscriber.most_at_once() > 1);
    }
}
