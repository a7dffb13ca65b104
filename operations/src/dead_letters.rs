//! The dead-letter queue, complete at any depth: listing, showing, redriving (all, by ids, or by
//! the list's filters) and purging.
//!
//! SQS has no way to read a queue without receiving from it, and receiving with a zero
//! visibility timeout hands back the same few messages every round. So a listing receives every
//! message with a real visibility timeout (each is held, invisible, until the listing ends),
//! until a receive brings nothing it has not seen, then puts every message back at once. The
//! queue stays the one source of truth: an index written by the dispatcher would miss records
//! that SQS dead-letters without the dispatcher seeing their last receive (a crash, a timeout).
//! Costs: one `ReceiveMessage` per 10 messages and one `ChangeMessageVisibilityBatch` per 10 to
//! put them back; SQS holds at most 120,000 in-flight messages of a standard queue, which bounds
//! the depth one listing can see. A redrive is send-then-delete per message, so an interruption
//! leaves a duplicate, never a loss; the dispatcher skips subscriptions that already have an
//! event, so a duplicate costs nothing downstream.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::time::{Duration, SystemTime};

use aws_sdk_sqs::types::{
    ChangeMessageVisibilityBatchRequestEntry, Message, MessageSystemAttributeName,
    QueueAttributeName,
};
use futures_util::StreamExt as _;
use hookpost_shared::aws::{DeliveryRecord, is_fifo_url};
use hookpost_shared::clock::unix_millis;
use hookpost_shared::envelope::Envelope;
use hookpost_shared::source::SourceId;
use hookpost_shared::store::POISON_REASON_ATTRIBUTE;
use hookpost_shared::subscription::event_types_match;
use serde::Serialize;

use crate::page::slice_after;
use crate::time::age_seconds;
use crate::{Kind, OpError, Operations, Page, PageRequest, Progress};

const LIST: &str = "dead-letters";
/// How long a listing holds each message; it puts them back as soon as it is done.
const LIST_HOLD_SECONDS: i32 = 60;
/// How long a redrive holds the messages it leaves, while it moves the others.
const REDRIVE_HOLD_SECONDS: i32 = 120;
/// A receive waits this long for a message, so it asks every SQS server (a short poll samples
/// some, and could end a listing early).
const RECEIVE_WAIT_SECONDS: i32 = 1;
/// Dead letters described at once (each is one Query of its delivery records).
const DESCRIBE_CONCURRENCY: usize = 8;

/// Which dead letters: every filter present must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeadLetterFilter {
    pub source: Option<SourceId>,
    pub event_types: Option<Vec<String>>,
    /// Received at or after (RFC 3339).
    pub since: Option<String>,
}

impl DeadLetterFilter {
    fn scope(&self) -> String {
        format!(
            "source={}&type={}&since={}",
            self.source
                .as_ref()
                .map(SourceId::as_str)
                .unwrap_or_default(),
            self.event_types
                .as_ref()
                .map(|t| t.join(","))
                .unwrap_or_default(),
            self.since.as_deref().unwrap_or_default(),
        )
    }

    fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// Whether a message matches; one that is not an envelope matches only an empty filter.
    fn matches(&self, envelope: Option<&Envelope>) -> bool {
        let Some(e) = envelope else {
            return self.is_empty();
        };
        self.source.as_ref().is_none_or(|s| *s == e.source_id)
            && self
                .event_types
                .as_deref()
                .is_none_or(|t| event_types_match(t, e.event_type.as_deref()))
            && self
                .since
                .as_deref()
                .is_none_or(|s| e.received_at.as_str() >= s)
    }
}

/// A subscription that does not have a dead-lettered event, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Undelivered {
    pub subscription_id: String,
    pub status: String,
    pub attempts: u32,
    pub last_error: Option<String>,
    pub last_status_code: Option<u16>,
    pub last_attempt_at: String,
}

/// One dead-lettered message: its event, and which subscriptions still miss it and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeadLetter {
    pub message_id: String,
    /// Absent when the message is not an envelope (see `error`).
    pub event_id: Option<String>,
    pub source_id: Option<String>,
    pub event_type: Option<String>,
    pub received_at: Option<String>,
    pub age_seconds: Option<u64>,
    /// Receives, across both queues.
    pub receive_count: u64,
    /// Subscriptions that have the event.
    pub delivered: usize,
    pub undelivered: Vec<Undelivered>,
    /// Why the message is not an envelope, when it is not.
    pub error: Option<String>,
}

/// A dead letter with its envelope and every delivery record of its event.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct DeadLetterDetail {
    #[serde(flatten)]
    pub dead_letter: DeadLetter,
    pub envelope: serde_json::Value,
    pub deliveries: Vec<DeliveryRecord>,
}

/// What to move back to the ingest queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    /// Every message (an SQS message move task where the endpoint has one).
    All,
    /// These events (or message ids, for messages that are not envelopes).
    Events(Vec<String>),
    /// Every message the filter matches.
    Matching(DeadLetterFilter),
}

/// How a redrive moved messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "kebab-case")]
pub enum RedriveMethod {
    /// SQS `StartMessageMoveTask`, running inside SQS.
    MoveTask,
    /// Received, sent to the ingest queue and deleted, one by one.
    PerMessage,
}

/// What a redrive did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RedriveReport {
    pub moved: usize,
    pub method: RedriveMethod,
    /// Events asked for by id that were not in the queue.
    pub missing: Vec<String>,
}

/// What a purge did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PurgeReport {
    /// About how many messages were deleted (SQS's approximate depth before the purge).
    pub purged: u64,
}

/// A received message and what it is.
struct Held {
    message: Message,
    envelope: Result<Envelope, String>,
}

impl Held {
    /// A message the dispatcher dead-lettered on sight carries why ([`POISON_REASON_ATTRIBUTE`]);
    /// it is shown as that reason, whether or not its body reads as an envelope.
    fn new(message: Message) -> Self {
        let poison = message
            .message_attributes
            .as_ref()
            .and_then(|a| a.get(POISON_REASON_ATTRIBUTE))
            .and_then(|v| v.string_value.clone());
        let envelope = match poison {
            Some(reason) => Err(reason),
            None => Envelope::decode(message.body.as_deref().unwrap_or_default())
                .map_err(|e| e.to_string()),
        };
        Self { message, envelope }
    }

    fn message_id(&self) -> &str {
        self.message.message_id.as_deref().unwrap_or_default()
    }

    /// The event id, or the message id for a message that is not an envelope.
    fn key(&self) -> String {
        match &self.envelope {
            Ok(e) => e.event_id.clone(),
            Err(_) => self.message_id().to_owned(),
        }
    }

    fn attribute(&self, name: MessageSystemAttributeName) -> Option<&str> {
        self.message
            .attributes
            .as_ref()?
            .get(&name)
            .map(String::as_str)
    }

    /// The list's order: when SQS first got the message, then its id.
    fn position(&self) -> String {
        let sent: u64 = self
            .attribute(MessageSystemAttributeName::SentTimestamp)
            .and_then(|t| t.parse().ok())
            .unwrap_or(0);
        format!("{sent:020}\n{}", self.message_id())
    }
}

impl Operations {
    fn dead_letter_queue(&self) -> &str {
        &self.names().dead_letter_queue_url
    }

    /// Dead letters matching `filter`, in the order SQS got them.
    pub async fn list_dead_letters(
        &self,
        filter: &DeadLetterFilter,
        page: &PageRequest,
    ) -> Result<Page<DeadLetter>, OpError> {
        let scope = filter.scope();
        let after = page.after(LIST, &scope)?;
        let held = self.hold_all(LIST_HOLD_SECONDS).await?;
        let mut matching: Vec<Held> = held
            .into_iter()
            .filter(|h| filter.matches(h.envelope.as_ref().ok()))
            .collect();
        matching.sort_by_key(Held::position);
        let page = slice_after(
            matching,
            after.as_deref(),
            page.limit,
            LIST,
            &scope,
            Held::position,
        );
        // Collected first: a stream over a closure that borrows its argument is not provably
        // `Send` (rust-lang/rust#110338), and callers such as the local front need a `Send` future.
        let describing: Vec<_> = page.items.iter().map(|h| self.describe(h)).collect();
        let items = futures_util::stream::iter(describing)
            .buffered(DESCRIBE_CONCURRENCY)
            .collect::<Vec<_>>()
            .await
            .into_iter()
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Page {
            items,
            next_cursor: page.next_cursor,
        })
    }

    /// One dead-lettered event, with its envelope and delivery history.
    pub async fn get_dead_letter(&self, event_id: &str) -> Result<DeadLetterDetail, OpError> {
        let held = self.hold_all(LIST_HOLD_SECONDS).await?;
        let found = held
            .into_iter()
            .find(|h| h.key() == event_id)
            .ok_or_else(|| OpError::NotFound {
                kind: Kind::DeadLetter,
                id: event_id.to_owned(),
                hint: Some("it is not in the dead-letter queue (the event archive has every accepted event)"),
            })?;
        let dead_letter = self.describe(&found).await?;
        let envelope = found
            .message
            .body
            .as_deref()
            .and_then(|b| serde_json::from_str(b).ok())
            .unwrap_or(serde_json::Value::Null);
        let deliveries = match &found.envelope {
            Ok(e) => self.deliveries_table().for_event(&e.event_id).await?,
            Err(_) => Vec::new(),
        };
        Ok(DeadLetterDetail {
            dead_letter,
            envelope,
            deliveries,
        })
    }

    /// About how many messages the dead-letter queue holds.
    pub async fn dead_letter_depth(&self) -> Result<u64, OpError> {
        let attributes = self
            .sqs
            .get_queue_attributes()
            .queue_url(self.dead_letter_queue())
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
            .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
            .send()
            .await
            .map_err(|e| OpError::sdk("GetQueueAttributes", e))?
            .attributes
            .unwrap_or_default();
        let count = |name| {
            attributes
                .get(&name)
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or(0)
        };
        Ok(count(QueueAttributeName::ApproximateNumberOfMessages)
            + count(QueueAttributeName::ApproximateNumberOfMessagesNotVisible))
    }

    /// Moves dead letters back to the ingest queue, at most `rate` a second.
    pub async fn redrive(
        &self,
        selection: &Selection,
        rate: Option<u32>,
        progress: &dyn Progress,
    ) -> Result<RedriveReport, OpError> {
        if rate == Some(0) {
            return Err(OpError::invalid("rate", "must be at least 1 a second"));
        }
        match selection {
            Selection::Events(ids) if ids.is_empty() => {
                return Err(OpError::invalid(
                    "event_ids",
                    "name at least one event, or redrive all or by filter",
                ));
            }
            Selection::All => {
                progress.total(self.dead_letter_depth().await?);
                if let Some(moved) = self.move_task(rate, progress).await? {
                    return Ok(RedriveReport {
                        moved,
                        method: RedriveMethod::MoveTask,
                        missing: Vec::new(),
                    });
                }
            }
            Selection::Events(ids) => progress.total(ids.len() as u64),
            Selection::Matching(_) => progress.total(self.dead_letter_depth().await?),
        }
        let moved = self.move_messages(selection, rate, progress).await?;
        let missing = match selection {
            Selection::Events(ids) => ids
                .iter()
                .filter(|id| !moved.contains(*id))
                .cloned()
                .collect(),
            _ => Vec::new(),
        };
        Ok(RedriveReport {
            moved: moved.len(),
            method: RedriveMethod::PerMessage,
            missing,
        })
    }

    /// Deletes every message of the dead-letter queue.
    pub async fn purge_dead_letters(&self) -> Result<PurgeReport, OpError> {
        let purged = self.dead_letter_depth().await?;
        self.sqs
            .purge_queue()
            .queue_url(self.dead_letter_queue())
            .send()
            .await
            .map_err(|e| OpError::sdk("PurgeQueue", e))?;
        Ok(PurgeReport { purged })
    }

    /// Receives every message of the dead-letter queue, holding each for `hold` seconds, then
    /// puts them all back.
    async fn hold_all(&self, hold: i32) -> Result<Vec<Held>, OpError> {
        let url = self.dead_letter_queue();
        let mut held: HashMap<String, Held> = HashMap::new();
        let mut receipts = Vec::new();
        let result = async {
            loop {
                let messages = self.receive(url, hold).await?;
                let mut fresh = 0;
                for message in messages {
                    if let Some(receipt) = &message.receipt_handle {
                        receipts.push(receipt.clone());
                    }
                    let id = message.message_id.clone().unwrap_or_default();
                    if let Entry::Vacant(slot) = held.entry(id) {
                        fresh += 1;
                        slot.insert(Held::new(message));
                    }
                }
                if fresh == 0 {
                    return Ok::<(), OpError>(());
                }
            }
        }
        .await;
        self.release(url, receipts).await;
        result?;
        Ok(held.into_values().collect())
    }

    async fn receive(&self, url: &str, hold: i32) -> Result<Vec<Message>, OpError> {
        Ok(self
            .sqs
            .receive_message()
            .queue_url(url)
            .max_number_of_messages(10)
            .visibility_timeout(hold)
            .wait_time_seconds(RECEIVE_WAIT_SECONDS)
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .message_attribute_names(POISON_REASON_ATTRIBUTE)
            .send()
            .await
            .map_err(|e| OpError::sdk("ReceiveMessage", e))?
            .messages
            .unwrap_or_default())
    }

    /// Makes held messages visible again at once. Best effort: a message not released here
    /// comes back by itself when its hold ends.
    async fn release(&self, url: &str, receipts: Vec<String>) {
        for chunk in receipts.chunks(10) {
            let entries: Vec<_> = chunk
                .iter()
                .enumerate()
                .filter_map(|(i, receipt)| {
                    ChangeMessageVisibilityBatchRequestEntry::builder()
                        .id(i.to_string())
                        .receipt_handle(receipt)
                        .visibility_timeout(0)
                        .build()
                        .ok()
                })
                .collect();
            if let Err(e) = self
                .sqs
                .change_message_visibility_batch()
                .queue_url(url)
                .set_entries(Some(entries))
                .send()
                .await
            {
                tracing::warn!(
                    error = %aws_sdk_sqs::error::DisplayErrorContext(e),
                    "could not put dead letters back at once; they return when their hold ends"
                );
            }
        }
    }

    /// `Selection::All` through an SQS message move task, followed until it ends; `None` where
    /// the endpoint has no move task (moto) or the caller may not start one.
    async fn move_task(
        &self,
        rate: Option<u32>,
        progress: &dyn Progress,
    ) -> Result<Option<usize>, OpError> {
        let source_arn = self.queue_arn(self.dead_letter_queue()).await?;
        let destination = self.queue_arn(&self.names().ingest_queue_url).await?;
        let started = self
            .sqs
            .start_message_move_task()
            .source_arn(&source_arn)
            .destination_arn(destination)
            .set_max_number_of_messages_per_second(rate.and_then(|r| i32::try_from(r).ok()))
            .send()
            .await;
        if let Err(e) = started {
            tracing::info!(
                reason = %aws_sdk_sqs::error::DisplayErrorContext(e),
                "StartMessageMoveTask is not available: moving messages one by one"
            );
            return Ok(None);
        }
        let mut reported = 0;
        loop {
            let out = self
                .sqs
                .list_message_move_tasks()
                .source_arn(&source_arn)
                .max_results(1)
                .send()
                .await
                .map_err(|e| OpError::sdk("ListMessageMoveTasks", e))?;
            let Some(task) = out.results().first() else {
                return Err(OpError::Conflict(
                    "the move task started but is not listed".to_owned(),
                ));
            };
            let moved = u64::try_from(task.approximate_number_of_messages_moved()).unwrap_or(0);
            progress.advance(moved.saturating_sub(reported));
            reported = reported.max(moved);
            match task.status().unwrap_or_default() {
                "RUNNING" | "CANCELLING" => tokio::time::sleep(Duration::from_secs(1)).await,
                "COMPLETED" => return Ok(Some(usize::try_from(moved).unwrap_or(usize::MAX))),
                other => {
                    return Err(OpError::Conflict(format!(
                        "the move task ended {other} after {moved} message(s): {}",
                        task.failure_reason().unwrap_or("no reason given")
                    )));
                }
            }
        }
    }

    async fn queue_arn(&self, url: &str) -> Result<String, OpError> {
        self.sqs
            .get_queue_attributes()
            .queue_url(url)
            .attribute_names(QueueAttributeName::QueueArn)
            .send()
            .await
            .map_err(|e| OpError::sdk("GetQueueAttributes", e))?
            .attributes
            .and_then(|mut a| a.remove(&QueueAttributeName::QueueArn))
            .ok_or_else(|| OpError::Conflict(format!("{url} has no QueueArn")))
    }

    /// Moves the selected messages one by one, sent first and deleted after; the moved keys.
    /// Messages received but not selected stay held until the end, so the scan moves on, then
    /// are put back at once.
    ///
    /// Between FIFO queues each message keeps its group, so its place in its source's order, and
    /// gets a fresh deduplication id (the queue would drop a resend under the old one).
    async fn move_messages(
        &self,
        selection: &Selection,
        rate: Option<u32>,
        progress: &dyn Progress,
    ) -> Result<HashSet<String>, OpError> {
        let from = self.dead_letter_queue();
        let to = &self.names().ingest_queue_url;
        let fifo = is_fifo_url(to);
        let pause = rate.map(|r| Duration::from_secs_f64(1.0 / f64::from(r)));
        let wanted: Option<HashSet<&str>> = match selection {
            Selection::Events(ids) => Some(ids.iter().map(String::as_str).collect()),
            _ => None,
        };
        let mut moved = HashSet::new();
        let mut seen = HashSet::new();
        let mut skipped = Vec::new();
        let result = async {
            loop {
                if wanted
                    .as_ref()
                    .is_some_and(|ids| ids.iter().all(|id| moved.contains(*id)))
                {
                    return Ok(());
                }
                let messages = self.receive(from, REDRIVE_HOLD_SECONDS).await?;
                let fresh: Vec<Held> = messages
                    .into_iter()
                    .filter(|m| seen.insert(m.message_id.clone().unwrap_or_default()))
                    .map(Held::new)
                    .collect();
                if fresh.is_empty() {
                    return Ok(());
                }
                for held in fresh {
                    let receipt = held.message.receipt_handle.clone().unwrap_or_default();
                    let key = held.key();
                    let selected = match selection {
                        Selection::All => true,
                        Selection::Events(_) => wanted
                            .as_ref()
                            .is_some_and(|ids| ids.contains(key.as_str())),
                        Selection::Matching(filter) => filter.matches(held.envelope.as_ref().ok()),
                    };
                    if !selected {
                        skipped.push(receipt);
                        continue;
                    }
                    let started = tokio::time::Instant::now();
                    let group = held
                        .attribute(MessageSystemAttributeName::MessageGroupId)
                        .map(str::to_owned);
                    let dedup = format!(
                        "redrive-{}-{}",
                        held.message_id(),
                        unix_millis(SystemTime::now())
                    );
                    self.sqs
                        .send_message()
                        .queue_url(to)
                        .message_body(held.message.body.clone().unwrap_or_default())
                        .set_message_group_id(group.filter(|_| fifo))
                        .set_message_deduplication_id(fifo.then_some(dedup))
                        .send()
                        .await
                        .map_err(|e| OpError::sdk("SendMessage", e))?;
                    self.sqs
                        .delete_message()
                        .queue_url(from)
                        .receipt_handle(receipt)
                        .send()
                        .await
                        .map_err(|e| OpError::sdk("DeleteMessage", e))?;
                    moved.insert(key);
                    progress.advance(1);
                    if let Some(pause) = pause {
                        tokio::time::sleep_until(started + pause).await;
                    }
                }
            }
        }
        .await;
        self.release(from, skipped).await;
        result.map(|()| moved)
    }

    /// A held message as a dead letter: its event and the subscriptions that miss it.
    async fn describe(&self, held: &Held) -> Result<DeadLetter, OpError> {
        let receive_count = held
            .attribute(MessageSystemAttributeName::ApproximateReceiveCount)
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        let envelope = match &held.envelope {
            Ok(envelope) => envelope,
            Err(error) => {
                return Ok(DeadLetter {
                    message_id: held.message_id().to_owned(),
                    event_id: None,
                    source_id: None,
                    event_type: None,
                    received_at: None,
                    age_seconds: None,
                    receive_count,
                    delivered: 0,
                    undelivered: Vec::new(),
                    error: Some(error.clone()),
                });
            }
        };
        let records = self
            .deliveries_table()
            .for_event(&envelope.event_id)
            .await?;
        let (delivered, undelivered): (Vec<_>, Vec<_>) =
            records.into_iter().partition(|r| r.status == "delivered");
        Ok(DeadLetter {
            message_id: held.message_id().to_owned(),
            event_id: Some(envelope.event_id.clone()),
            source_id: Some(envelope.source_id.as_str().to_owned()),
            event_type: envelope.event_type.clone(),
            received_at: Some(envelope.received_at.clone()),
            age_seconds: age_seconds(&envelope.received_at, SystemTime::now()),
            receive_count,
            delivered: delivered.len(),
            undelivered: undelivered
                .into_iter()
                .map(|r| Undelivered {
                    subscription_id: r.subscription_id,
                    status: r.status,
                    attempts: r.attempts,
                    last_error: r.last_error,
                    last_status_code: r.last_status_code,
                    last_attempt_at: r.last_attempt_at,
                })
                .collect(),
            error: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn envelope(source: &str, event_type: Option<&str>, received_at: &str) -> Envelope {
        Envelope {
            version: 1,
            event_id: "evt_1".into(),
            source_id: SourceId::parse(source).expect("id"),
            provider: hookpost_shared::signature::Provider::Github,
            event_type: event_type.map(str::to_owned),
            delivery_id: None,
            received_at: received_at.into(),
            content_type: None,
            headers: Default::default(),
            body: hookpost_shared::envelope::EncodedBody::from_bytes(Vec::new()),
        }
    }

    #[test]
    fn a_filter_matches_by_source_type_and_age_together() {
        let e = envelope("gh", Some("pull_request"), "2026-11-22T10:00:00.000Z");
        let by =
            |source: Option<&str>, types: Option<&str>, since: Option<&str>| DeadLetterFilter {
                source: source.map(|s| SourceId::parse(s).expect("id")),
                event_types: types.map(|t| vec![t.to_owned()]),
                since: since.map(str::to_owned),
            };
        assert!(by(None, None, None).matches(Some(&e)));
        assert!(
            by(
                Some("gh"),
                Some("pull_request"),
                Some("2026-11-22T09:00:00.000Z")
            )
            .matches(Some(&e))
        );
        assert!(!by(Some("stripe"), None, None).matches(Some(&e)));
        assert!(!by(None, Some("push"), None).matches(Some(&e)));
        assert!(!by(None, None, Some("2026-11-22T11:00:00.000Z")).matches(Some(&e)));
    }

    #[test]
    fn a_message_that_is_not_an_envelope_matches_only_an_empty_filter() {
        assert!(DeadLetterFilter::default().matches(None));
        let by_source = DeadLetterFilter {
            source: Some(SourceId::parse("gh").expect("id")),
            ..DeadLetterFilter::default()
        };
        assert!(!by_source.matches(None));
    }
}
