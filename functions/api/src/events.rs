//! `/v1/events`: the archive, every delivery attempt of an event, replaying one event, and
//! recovering a window (`POST /v1/events/replay`).

use hookpost_operations::events::{EventFilter, Recover};
use hookpost_operations::{NoProgress, Operations};
use http::StatusCode;
use serde::Deserialize;
use serde_json::json;

use crate::error::ApiError;
use crate::request::Request;
use crate::{Answer, answer, filters};

/// `POST /v1/events/{event_id}/replay`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReplayEvent {
    /// Only these subscriptions of the event's source; every one that wants it when empty.
    #[serde(default)]
    pub subscriptions: Vec<String>,
}

/// `POST /v1/events/replay`: recover a window.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RecoverWindow {
    /// Required: an RFC 3339 time or a duration before now (`2h`).
    #[serde(default)]
    pub since: Option<String>,
    #[serde(default)]
    pub until: Option<String>,
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub subscription: Option<String>,
    /// Comma-separated event-type filters.
    #[serde(default, rename = "type")]
    pub event_type: Option<String>,
    #[serde(default)]
    pub include_delivered: bool,
    #[serde(default)]
    pub rate: Option<u32>,
    #[serde(default)]
    pub dry_run: bool,
}

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

pub async fn get(ops: &Operations, id: &str) -> Result<Answer, ApiError> {
    answer(StatusCode::OK, &ops.get_event(id).await?)
}

/// Every delivery record of an archived event; 404 when the archive has no such event.
pub async fn deliveries(ops: &Operations, id: &str) -> Result<Answer, ApiError> {
    ops.get_event(id).await?;
    let items = ops.deliveries_of(id).await?;
    answer(StatusCode::OK, &json!({ "items": items }))
}

pub async fn replay(ops: &Operations, id: &str, req: &Request) -> Result<Answer, ApiError> {
    let body: ReplayEvent = req.json()?;
    answer(
        StatusCode::ACCEPTED,
        &ops.replay_event(id, body.subscriptions).await?,
    )
}

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
