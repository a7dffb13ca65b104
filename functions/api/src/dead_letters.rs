//! `/v1/dead-letters`: the dead-letter queue listed and filtered, one dead letter with its
//! history, redrive (all, by ids, or by filters) and purge (only with `?confirm=purge`).

use hookpost_operations::dead_letters::{DeadLetterFilter, Selection};
use hookpost_operations::{NoProgress, Operations};
use http::StatusCode;
use serde::Deserialize;

use crate::error::ApiError;
use crate::request::Request;
use crate::{Answer, answer, filters};

/// `POST /v1/dead-letters/redrive`: exactly one of `all`, `event_ids` or filters.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Redrive {
    #[serde(default)]
    pub all: bool,
    #[serde(default)]
    pub event_ids: Option<Vec<String>>,
    #[serde(default)]
    pub source: Option<String>,
    /// Comma-separated event-type filters.
    #[serde(default, rename = "type")]
    pub event_type: Option<String>,
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

/// The words `DELETE /v1/dead-letters` needs, so a stray request purges nothing.
const PURGE_CONFIRMATION: &str = "purge";

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

pub async fn get(ops: &Operations, id: &str) -> Result<Answer, ApiError> {
    answer(StatusCode::OK, &ops.get_dead_letter(id).await?)
}

pub async fn redrive(ops: &Operations, req: &Request) -> Result<Answer, ApiError> {
    let body: Redrive = req.json()?;
    let rate = body.rate;
    let selection = body.selection()?;
    answer(
        StatusCode::OK,
        &ops.redrive(&selection, rate, &NoProgress).await?,
    )
}

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
