//! `POST /v1/sources/{id}/events`: publish. The body is the event's payload as is, whatever its
//! type; `Content-Type` is kept, `Event-Type` sets the type subscriptions filter on, and
//! `Idempotency-Key` makes a retried publish return the first event (`200`, `"duplicate": true`)
//! instead of queueing it twice. `202 {"event_id"}` is answered only once the queue has it.

use hookpost_operations::Operations;
use hookpost_operations::publish::Publication;
use http::StatusCode;

use crate::error::ApiError;
use crate::request::Request;
use crate::sources::existing;
use crate::{Answer, answer};

/// The header that sets the event's type.
pub const EVENT_TYPE_HEADER: &str = "event-type";
/// The header that names the event for retries.
pub const IDEMPOTENCY_KEY_HEADER: &str = "idempotency-key";

pub async fn publish(ops: &Operations, id: &str, req: &Request) -> Result<Answer, ApiError> {
    let source = existing(id)?;
    let publication = Publication {
        event_type: req.header(EVENT_TYPE_HEADER).map(str::to_owned),
        idempotency_key: req.header(IDEMPOTENCY_KEY_HEADER).map(str::to_owned),
        content_type: req.content_type().map(str::to_owned),
        body: req.body().to_vec(),
    };
    let published = ops.publish(&source, publication).await?;
    let status = if published.duplicate {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    answer(status, &published)
}
