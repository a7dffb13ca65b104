//! `/v1/dead-letters`: the dead-letter queue listed and filtered, one dead letter with its
//! history, redrive (all, by ids, or by filters) and purge (only with `?confirm=purge`).

use hookpost_operations::dead_letters::{
    DeadLetter, DeadLetterDetail, DeadLetterFilter, PurgeReport, RedriveReport, Selection,
};
use hookpost_operations::{NoProgress, Operations, Page};
use http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::events::EventPath;
use crate::openapi::{
    BadRequest, Conflict, NotFound, PayloadTooLarge, Unavailable, UnsupportedMediaType,
};
use crate::request::{PageQuery, Request};
use crate::{Answer, answer, filters};

/// `POST /v1/dead-letters/redrive`: exactly one of `all`, `event_ids` or filters.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Redrive {
    /// Every message (an SQS message move task).
    #[serde(default)]
    pub all: bool,
    /// These events (or message ids, for messages that are not envelopes).
    #[serde(default)]
    pub event_ids: Option<Vec<String>>,
    /// Filter: only this source's events.
    #[serde(default)]
    pub source: Option<String>,
    /// Filter: comma-separated event-type filters.
    #[serde(default, rename = "type")]
    pub event_type: Option<String>,
    /// Filter: received at or after an RFC 3339 time or a duration before now.
    #[serde(default)]
    pub since: Option<String>,
    /// At most this many messages a second.
    #[serde(default)]
    pub rate: Option<u32>,
}

impl Redrive {
    fn selection(self) -> Result<Selection, ApiError> {
        let filter = DeadLetterFilter {
            source: filters::optional(self.source.as_deref(), "source", filters::source_id)?,
            event_types: filters::optional(
                self.event_type.as_deref(),
                "type",
                filters::event_types,
            )?,
            since: filters::optional(self.since.as_deref(), "since", filters::instant)?,
        };
        let filtered = filter != DeadLetterFilter::default();
        match (self.all, self.event_ids, filtered) {
            (true, None, false) => Ok(Selection::All),
            (false, Some(ids), false) => Ok(Selection::Events(ids)),
            (false, None, true) => Ok(Selection::Matching(filter)),
            (false, None, false) => Err(ApiError::invalid(
                "body",
                "say what to redrive: \"all\": true, \"event_ids\", or filters (source, type, since)",
            )),
            _ => Err(ApiError::invalid(
                "body",
                "give only one of \"all\", \"event_ids\" and filters",
            )),
        }
    }
}

/// `GET /v1/dead-letters?source=&type=&since=`.
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeadLetterQuery {
    /// Only this source's events.
    pub source: Option<String>,
    /// Comma-separated event-type filters (`push`, `invoice.*`, `*`).
    #[param(rename = "type")]
    pub event_type: Option<String>,
    /// Received at or after: an RFC 3339 time or a duration before now (`2h`, `7days`).
    pub since: Option<String>,
}

/// `DELETE /v1/dead-letters?confirm=purge`.
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PurgeQuery {
    /// Must be `purge`: purging deletes every dead letter.
    #[param(pattern = "^purge$")]
    pub confirm: String,
}

/// The words `DELETE /v1/dead-letters` needs, so a stray request purges nothing.
const PURGE_CONFIRMATION: &str = "purge";

/// The dead-letter queue, complete at any depth, each message with the subscriptions that miss it.
#[utoipa::path(get, path = "/v1/dead-letters", tag = "dead-letters", operation_id = "listDeadLetters",
    params(DeadLetterQuery, PageQuery),
    responses(
        (status = 200, description = "A page of dead letters.", body = Page<DeadLetter>),
        (status = 400, response = BadRequest),
        (status = 413, response = PayloadTooLarge),
        (status = 503, response = Unavailable),
    ))]
pub async fn list(ops: &Operations, req: &Request) -> Result<Answer, ApiError> {
    let filter = DeadLetterFilter {
        source: filters::optional(req.param("source")?, "source", filters::source_id)?,
        event_types: filters::optional(req.param("type")?, "type", filters::event_types)?,
        since: filters::optional(req.param("since")?, "since", filters::instant)?,
    };
    answer(
        StatusCode::OK,
        &ops.list_dead_letters(&filter, &req.page()?).await?,
    )
}

/// One dead letter with its envelope and every delivery record of its event.
#[utoipa::path(get, path = "/v1/dead-letters/{event_id}", tag = "dead-letters", operation_id = "getDeadLetter",
    params(EventPath),
    responses(
        (status = 200, description = "The dead letter.", body = DeadLetterDetail),
        (status = 400, response = BadRequest),
        (status = 404, response = NotFound),
        (status = 413, response = PayloadTooLarge),
        (status = 503, response = Unavailable),
    ))]
pub async fn get(ops: &Operations, id: &str) -> Result<Answer, ApiError> {
    answer(StatusCode::OK, &ops.get_dead_letter(id).await?)
}

/// Moves dead letters back to the ingest queue: all, by ids, or by filters.
#[utoipa::path(post, path = "/v1/dead-letters/redrive", tag = "dead-letters", operation_id = "redriveDeadLetters",
    request_body = Redrive,
    responses(
        (status = 200, description = "What the redrive moved.", body = RedriveReport),
        (status = 400, response = BadRequest),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 503, response = Unavailable),
    ))]
pub async fn redrive(ops: &Operations, req: &Request) -> Result<Answer, ApiError> {
    let body: Redrive = req.json()?;
    let rate = body.rate;
    let selection = body.selection()?;
    answer(
        StatusCode::OK,
        &ops.redrive(&selection, rate, &NoProgress).await?,
    )
}

/// Deletes every dead letter; only with `?confirm=purge`.
#[utoipa::path(delete, path = "/v1/dead-letters", tag = "dead-letters", operation_id = "purgeDeadLetters",
    params(PurgeQuery),
    responses(
        (status = 200, description = "About how many messages were deleted.", body = PurgeReport),
        (status = 400, response = BadRequest),
        (status = 413, response = PayloadTooLarge),
        (status = 503, response = Unavailable),
    ))]
pub async fn purge(ops: &Operations, req: &Request) -> Result<Answer, ApiError> {
    if req.param("confirm")? != Some(PURGE_CONFIRMATION) {
        return Err(ApiError::invalid(
            "confirm",
            "purging deletes every dead letter: repeat with ?confirm=purge",
        ));
    }
    answer(StatusCode::OK, &ops.purge_dead_letters().await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_redrive_names_exactly_one_selection() {
        let all = Redrive {
            all: true,
            ..Redrive::default()
        };
        assert_eq!(all.selection().expect("all"), Selection::All);
        assert!(Redrive::default().selection().is_err());
        let both = Redrive {
            all: true,
            event_ids: Some(vec!["evt_1".into()]),
            ..Redrive::default()
        };
        assert!(both.selection().is_err());
        let filtered = Redrive {
            source: Some("gh".into()),
            ..Redrive::default()
        };
        assert!(matches!(filtered.selection(), Ok(Selection::Matching(_))));
    }
}
