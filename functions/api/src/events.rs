//! `/v1/events`: the archive, every delivery attempt of an event, replaying one event, and
//! recovering a window (`POST /v1/events/replay`).

use hookpost_operations::events::{
    EventDetail, EventFilter, EventSummary, Recover, RecoverReport, ReplayQueued,
};
use hookpost_operations::{NoProgress, Operations, Page};
use hookpost_shared::aws::DeliveryRecord;
use http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::openapi::{
    BadRequest, Conflict, NotFound, PayloadTooLarge, Unavailable, UnsupportedMediaType,
};
use crate::request::{PageQuery, Request};
use crate::{Answer, answer, filters};

/// `{event_id}` in a path.
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct EventPath {
    /// The event's id (`evt_…`).
    #[param(pattern = r"^[A-Za-z0-9_-]{1,200}$")]
    pub event_id: String,
}

/// `GET /v1/events?source=&type=&since=&until=`.
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventQuery {
    /// Only this source's events.
    pub source: Option<String>,
    /// Comma-separated event-type filters (`push`, `invoice.*`, `*`).
    #[param(rename = "type")]
    pub event_type: Option<String>,
    /// Received at or after: an RFC 3339 time or a duration before now (`2h`, `7days`).
    pub since: Option<String>,
    /// Received before: an RFC 3339 time or a duration before now.
    pub until: Option<String>,
}

/// Every delivery record of an event, each with its attempts.
#[derive(Debug, Serialize, ToSchema)]
pub struct Deliveries {
    pub items: Vec<DeliveryRecord>,
}

/// `POST /v1/events/{event_id}/replay`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplayEvent {
    /// Only these subscriptions of the event's source; every one that wants it when empty.
    #[serde(default)]
    pub subscriptions: Vec<String>,
}

/// `POST /v1/events/replay`: recover a window.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecoverWindow {
    /// Required: an RFC 3339 time or a duration before now (`2h`).
    #[serde(default)]
    #[schema(value_type = String, required = true)]
    pub since: Option<String>,
    /// An RFC 3339 time or a duration before now; now when absent.
    #[serde(default)]
    pub until: Option<String>,
    /// Only this source's events.
    #[serde(default)]
    pub source: Option<String>,
    /// Only this subscription (of `source`, when given).
    #[serde(default)]
    pub subscription: Option<String>,
    /// Comma-separated event-type filters.
    #[serde(default, rename = "type")]
    pub event_type: Option<String>,
    /// With `subscription`: re-deliver also the events it already has.
    #[serde(default)]
    pub include_delivered: bool,
    /// At most this many events queued a second.
    #[serde(default)]
    pub rate: Option<u32>,
    /// Count what would be sent; queue nothing.
    #[serde(default)]
    pub dry_run: bool,
}

/// Archived events, oldest first.
#[utoipa::path(get, path = "/v1/events", tag = "events", operation_id = "listEvents",
    params(EventQuery, PageQuery),
    responses(
        (status = 200, description = "A page of archived events.", body = Page<EventSummary>),
        (status = 400, response = BadRequest),
        (status = 413, response = PayloadTooLarge),
        (status = 503, response = Unavailable),
    ))]
pub async fn list(ops: &Operations, req: &Request) -> Result<Answer, ApiError> {
    let filter = EventFilter {
        source: filters::optional(req.param("source")?, "source", filters::source_id)?,
        event_types: filters::optional(req.param("type")?, "type", filters::event_types)?,
        since: filters::optional(req.param("since")?, "since", filters::instant)?,
        until: filters::optional(req.param("until")?, "until", filters::instant)?,
    };
    answer(
        StatusCode::OK,
        &ops.list_events(&filter, &req.page()?).await?,
    )
}

/// One archived event with its envelope.
#[utoipa::path(get, path = "/v1/events/{event_id}", tag = "events", operation_id = "getEvent",
    params(EventPath),
    responses(
        (status = 200, description = "The event.", body = EventDetail),
        (status = 400, response = BadRequest),
        (status = 404, response = NotFound),
        (status = 413, response = PayloadTooLarge),
        (status = 503, response = Unavailable),
    ))]
pub async fn get(ops: &Operations, id: &str) -> Result<Answer, ApiError> {
    answer(StatusCode::OK, &ops.get_event(id).await?)
}

/// Every delivery record of an archived event; 404 when the archive has no such event.
#[utoipa::path(get, path = "/v1/events/{event_id}/deliveries", tag = "events",
    operation_id = "listEventDeliveries",
    params(EventPath),
    responses(
        (status = 200, description = "Every delivery record of the event.", body = Deliveries),
        (status = 400, response = BadRequest),
        (status = 404, response = NotFound),
        (status = 413, response = PayloadTooLarge),
        (status = 503, response = Unavailable),
    ))]
pub async fn deliveries(ops: &Operations, id: &str) -> Result<Answer, ApiError> {
    ops.get_event(id).await?;
    let items = ops.deliveries_of(id).await?;
    answer(StatusCode::OK, &Deliveries { items })
}

/// Queues an archived event again, for some or all of its source's subscriptions.
#[utoipa::path(post, path = "/v1/events/{event_id}/replay", tag = "events", operation_id = "replayEvent",
    params(EventPath),
    request_body = Option<ReplayEvent>,
    responses(
        (status = 202, description = "The replay is queued.", body = ReplayQueued),
        (status = 400, response = BadRequest),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 503, response = Unavailable),
    ))]
pub async fn replay(ops: &Operations, id: &str, req: &Request) -> Result<Answer, ApiError> {
    let body: ReplayEvent = req.json()?;
    answer(
        StatusCode::ACCEPTED,
        &ops.replay_event(id, body.subscriptions).await?,
    )
}

/// Re-delivers a window of the archive to the subscriptions that miss its events.
#[utoipa::path(post, path = "/v1/events/replay", tag = "events", operation_id = "recoverEvents",
    request_body = RecoverWindow,
    responses(
        (status = 200, description = "With `dry_run`: what a recovery would queue.", body = RecoverReport),
        (status = 202, description = "What the recovery queued.", body = RecoverReport),
        (status = 400, response = BadRequest),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 503, response = Unavailable),
    ))]
pub async fn recover(ops: &Operations, req: &Request) -> Result<Answer, ApiError> {
    let body: RecoverWindow = req.json()?;
    let request = Recover {
        filter: EventFilter {
            source: filters::optional(body.source.as_deref(), "source", filters::source_id)?,
            event_types: filters::optional(
                body.event_type.as_deref(),
                "type",
                filters::event_types,
            )?,
            since: filters::optional(body.since.as_deref(), "since", filters::instant)?,
            until: filters::optional(body.until.as_deref(), "until", filters::instant)?,
        },
        subscription: body.subscription,
        include_delivered: body.include_delivered,
        rate: body.rate,
        dry_run: body.dry_run,
    };
    let report = ops.recover(&request, &NoProgress).await?;
    let status = if report.dry_run {
        StatusCode::OK
    } else {
        StatusCode::ACCEPTED
    };
    answer(status, &report)
}
