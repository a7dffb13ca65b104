//! The ingest queue on SQS: the receiver's `SendMessage` and the dispatcher's backoff.
//!
//! Ordered mode is read off the queue itself: SQS requires a FIFO queue's name to end in `.fifo`
//! (<https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/FIFO-queues-understanding-logic.html>),
//! and the URL ends with the name, so no setting can disagree with the queue.

use aws_sdk_sqs::Client;

use super::sdk_error;
use crate::store::{EventQueue, StoreError, Visibility};

/// One SQS queue.
#[derive(Debug, Clone)]
pub struct SqsQueue {
    client: Client,
    url: String,
    fifo: bool,
    /// Where a record that can never be delivered goes at once.
    dead_letter_url: Option<String>,
}

/// SQS's longest per-message delay (`DelaySeconds`).
pub const MAX_DELAY_SECONDS: i32 = 900;

/// How much of a poison record's reason its attribute keeps.
const REASON_BYTES: usize = 1024;

impl SqsQueue {
    pub fn new(client: Client, url: impl Into<String>) -> Self {
        let url = url.into();
        Self {
            client,
            fifo: is_fifo_url(&url),
            url,
            dead_letter_url: None,
        }
    }

    /// The dead-letter queue [`Visibility::dead_letter`] sends to.
    pub fn with_dead_letter_queue(self, url: impl Into<String>) -> Self {
        Self {
            dead_letter_url: Some(url.into()),
            ..self
        }
    }

    /// Whether this is a FIFO queue (ordered mode).
    pub fn is_fifo(&self) -> bool {
        self.fifo
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn client(&self) -> &Client {
        &self.client
    }
}

impl EventQueue for SqsQueue {
    async fn enqueue(&self, envelope_json: String) -> Result<(), StoreError> {
        self.client
            .send_message()
            .queue_url(&self.url)
            .message_body(envelope_json)
            .send()
            .await
            .map_err(|e| sdk_error("SendMessage", e))?;
        Ok(())
    }

    async fn enqueue_in_group(
        &self,
        envelope_json: String,
        group: &str,
        id: &str,
    ) -> Result<(), StoreError> {
        // A FIFO queue refuses a message without a group; a standard one would read a group id
        // as a fair-queue tenant, which is not what it is here.
        let (group, id) = if self.fifo {
            (Some(group), Some(id))
        } else {
            (None, None)
        };
        self.client
            .send_message()
            .queue_url(&self.url)
            .message_body(envelope_json)
            .set_message_group_id(group.map(str::to_owned))
            .set_message_deduplication_id(id.map(str::to_owned))
            .send()
            .await
            .map_err(|e| sdk_error("SendMessage", e))?;
        Ok(())
    }
}

/// The most messages one `SendMessageBatch` carries.
const BATCH_ENTRIES: usize = 10;
/// The most bytes of bodies one `SendMessageBatch` carries: SQS's 256 KiB payload limit for a
/// whole batch, the long-standing one (raised to 1 MiB on AWS in 2025; emulators may keep it).
const BATCH_BYTES: usize = 256 * 1024;

/// `copies` in runs that fit one `SendMessageBatch` each, in order: at most [`BATCH_ENTRIES`]
/// and [`BATCH_BYTES`] (a body over the limit alone goes alone, for SQS to refuse by itself).
fn batches(copies: &[(String, i32)]) -> Vec<&[(String, i32)]> {
    let mut runs = Vec::new();
    let (mut start, mut bytes) = (0, 0);
    for (i, (body, _)) in copies.iter().enumerate() {
        if i > start && (i - start == BATCH_ENTRIES || bytes + body.len() > BATCH_BYTES) {
            runs.push(&copies[start..i]);
            (start, bytes) = (i, 0);
        }
        bytes += body.len();
    }
    if start < copies.len() {
        runs.push(&copies[start..]);
    }
    runs
}

impl SqsQueue {
    /// One `SendMessageBatch` of at most ten delayed copies: a result per copy, in order.
    async fn send_batch(&self, copies: &[(String, i32)]) -> Vec<Result<(), StoreError>> {
        let entries: Result<Vec<_>, _> = copies
            .iter()
            .enumerate()
            .map(|(i, (body, delay))| {
                aws_sdk_sqs::types::SendMessageBatchRequestEntry::builder()
                    .id(i.to_string())
                    .message_body(body)
                    .delay_seconds((*delay).clamp(0, MAX_DELAY_SECONDS))
                    .build()
            })
            .collect();
        let sent = match entries {
            Ok(entries) => {
                self.client
                    .send_message_batch()
                    .queue_url(&self.url)
                    .set_entries(Some(entries))
                    .send()
                    .await
            }
            Err(e) => {
                let e = StoreError::new("SendMessageBatch", e.to_string());
                return vec![Err(e); copies.len()];
            }
        };
        let out = match sent {
            Ok(out) => out,
            Err(e) => return vec![Err(sdk_error("SendMessageBatch", e)); copies.len()],
        };
        let mut answers: Vec<Result<(), StoreError>> = vec![
            Err(StoreError::new(
                "SendMessageBatch",
                "SQS did not answer for this message"
            ));
            copies.len()
        ];
        // Entries are named by their index in `copies`.
        let index = |id: &str| id.parse::<usize>().ok().filter(|i| *i < copies.len());
        for ok in out.successful() {
            if let Some(i) = index(ok.id()) {
                answers[i] = Ok(());
            }
        }
        for failed in out.failed() {
            if let Some(i) = index(failed.id()) {
                let why = failed.message().unwrap_or(failed.code());
                answers[i] = Err(StoreError::new("SendMessageBatch", why.to_owned()));
            }
        }
        answers
    }
}

/// Whether `url` names a FIFO queue.
pub fn is_fifo_url(url: &str) -> bool {
    url.trim_end_matches('/').ends_with(".fifo")
}

impl Visibility for SqsQueue {
    async fn delay(&self, receipt_handle: &str, seconds: i32) -> Result<(), StoreError> {
        self.client
            .change_message_visibility()
            .queue_url(&self.url)
            .receipt_handle(receipt_handle)
            .visibility_timeout(seconds)
            .send()
            .await
            .map_err(|e| sdk_error("ChangeMessageVisibility", e))?;
        Ok(())
    }

    async fn requeue(&self, copies: &[(String, i32)]) -> Vec<Result<(), StoreError>> {
        if self.fifo {
            // Per-message delays are not supported on FIFO queues (only the queue's own).
            let refused =
                StoreError::new("SendMessageBatch", "a FIFO queue cannot delay one message");
            return vec![Err(refused); copies.len()];
        }
        let mut answers = Vec::with_capacity(copies.len());
        for chunk in batches(copies) {
            answers.extend(self.send_batch(chunk).await);
        }
        answers
    }

    async fn dead_letter(
        &self,
        body: &str,
        message_id: &str,
        reason: &str,
    ) -> Result<(), StoreError> {
        let Some(url) = &self.dead_letter_url else {
            return Err(StoreError::new(
                "SendMessage",
                "no dead-letter queue is configured (HOOKPOST_DEAD_LETTER_QUEUE_URL)",
            ));
        };
        let mut cut = reason.len().min(REASON_BYTES);
        while !reason.is_char_boundary(cut) {
            cut -= 1;
        }
        let attribute = aws_sdk_sqs::types::MessageAttributeValue::builder()
            .data_type("String")
            .string_value(&reason[..cut])
            .build()
            .map_err(|e| StoreError::new("SendMessage", e.to_string()))?;
        let mut send = self
            .client
            .send_message()
            .queue_url(url)
            .message_body(body)
            .message_attributes(crate::store::POISON_REASON_ATTRIBUTE, attribute);
        if is_fifo_url(url) {
            send = send
                .message_group_id("poison")
                .message_deduplication_id(message_id);
        }
        send.send().await.map_err(|e| sdk_error("SendMessage", e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_fifo_queue_is_known_by_its_name() {
        assert!(is_fifo_url(
            "https://sqs.eu-west-1.amazonaws.com/123456789012/hookpost-IngestQueue-AbC.fifo"
        ));
        assert!(is_fifo_url(
            "http://127.0.0.1:5000/123456789012/local-IngestQueue.fifo"
        ));
        assert!(!is_fifo_url(
            "https://sqs.eu-west-1.amazonaws.com/123456789012/hookpost-IngestQueue-AbC"
        ));
        assert!(!is_fifo_url(
            "https://sqs.eu-west-1.amazonaws.com/123456789012/fifo"
        ));
    }

    #[test]
    fn copies_are_sent_ten_at_most_and_within_the_batch_size() {
        let copy = |bytes: usize| ("x".repeat(bytes), 1);
        let lengths = |copies: &[(String, i32)]| -> Vec<usize> {
            batches(copies).iter().map(|run| run.len()).collect()
        };
        assert_eq!(lengths(&[]), Vec::<usize>::new());
        assert_eq!(lengths(&vec![copy(10); 10]), vec![10]);
        assert_eq!(lengths(&vec![copy(10); 23]), vec![10, 10, 3]);
        // 100 KiB each: two fit in 256 KiB, a third does not.
        assert_eq!(lengths(&vec![copy(100 * 1024); 5]), vec![2, 2, 1]);
        // Exactly the limit fits; one byte more starts a new batch.
        let half = BATCH_BYTES / 2;
        assert_eq!(lengths(&[copy(half), copy(half), copy(1)]), vec![2, 1]);
        // A body over the limit goes alone, in its place.
        assert_eq!(
            lengths(&[copy(1), copy(BATCH_BYTES + 1), copy(1)]),
            vec![1, 1, 1]
        );
        // Every copy is in exactly one run, in order.
        let many: Vec<(String, i32)> = (0..37).map(|i| (i.to_string(), i)).collect();
        let flat: Vec<&(String, i32)> = batches(&many).into_iter().flatten().collect();
        assert_eq!(flat, many.iter().collect::<Vec<_>>());
    }
}
