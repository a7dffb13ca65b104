//! `POST /v1/sources/{id}/events`: publish. The body is the event's payload as is, whatever its
//! type; `Content-Type` is kept, `Event-Type` sets the type subscriptions filter on, and
//! `Idempotency-Key` makes a retried publish return the first event (`200`, `"duplicate": true`)
//! instead of queueing it twice. `202 {"event_id"}` is answered only once the queue has it.

use hookpost_operations::Operations;
use hookpost_operations::publish::Publication;
use http::StatusCode;

use hookpost_operations::publish::Published;

use crate::error::ApiError;
use crate::openapi::{BadRequest, Conflict, NotFound, PayloadTooLarge, Unavailable};
use crate::request::Request;
use crate::sources::{SourcePath, existing};
use crate::{Answer, answer};

/// The event's payload: any bytes, in the content type the request names.
#[derive(Debug, utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct Payload(pub Vec<u8>);

/// The publish route's headers, as the OpenAPI document describes them.
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Header)]
pub struct PublishHeaders {
    /// The event's type, which subscriptions filter on (e.g. `invoice.paid`); 1 to 200
    /// characters of visible ASCII.
    #[param(rename = "Event-Type", max_length = 200)]
    pub event_type: Option<String>,
    /// Your key for this event (at most 200 characters): publishing again with the same key
    /// returns the first event (`200`, `"duplicate": true`) and nothing is queued twice.
    #[param(rename = "Idempotency-Key", max_length = 200)]
    pub idempotency_key: Option<String>,
}

/// The header that sets the event's type.
pub const EVENT_TYPE_HEADER: &str = "event-type";
/// The header that names the event for retries.
pub const IDEMPOTENCY_KEY_HEADER: &str = "idempotency-key";

/// Publishes an event to a `publish` source's subscriptions. The body is the payload as is
/// (any content type, which is kept); answered only once the event is durably queued.
#[utoipa::path(post, path = "/v1/sources/{source_id}/events", tag = "events",
    operation_id = "publishEvent",
    params(SourcePath, PublishHeaders),
    request_body(content = Payload, content_type = "*/*",
        description = "The event's payload, as subscribers receive it."),
    responses(
        (status = 202, description = "Queued as this event.", body = Published),
        (status = 200, description = "Published before with this Idempotency-Key: the first event.", body = Published),
        (status = 400, response = BadRequest),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
        (status = 503, response = Unavailable),
    ))]
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
