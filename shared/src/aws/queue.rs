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

    async fn requeue(&self, body: &str, delay_seconds: i32) -> Result<(), StoreError> {
        if self.fifo {
            // Per-message delays are not supported on FIFO queues (only the queue's own).
            return Err(StoreError::new(
                "SendMessage",
                "a FIFO queue cannot delay one message",
            ));
        }
        self.client
            .send_message()
            .queue_url(&self.url)
            .message_body(body)
            .delay_seconds(delay_seconds.clamp(0, MAX_DELAY_SECONDS))
            .send()
            .await
            .map_err(|e| sdk_error("SendMessage", e))?;
        Ok(())
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
}
