//! Delivery records: every attempt of an event, per subscription.

use hookpost_shared::aws::DeliveryRecord;

use crate::{OpError, Operations};

impl Operations {
    /// Every delivery record of an event (or of one replay of it, `{event_id}#{replay id}`), each
    /// with its attempt history. One `Query`; bounded by the source's subscriptions.
    pub async fn deliveries_of(&self, event_id: &str) -> Result<Vec<DeliveryRecord>, OpError> {
        if event_id.trim().is_empty() {
            return Err(OpError::invalid("event_id", "cannot be empty"));
        }
        Ok(self.deliveries_table().for_event(event_id).await?)
    }
}
