//! The values query strings and bodies share: source ids, event-type lists and instants, each
//! checked and refused naming its field.

use std::time::SystemTime;

use hookpost_operations::time::parse_instant;
use hookpost_shared::source::SourceId;
use hookpost_shared::subscription::parse_event_filters;

use crate::error::ApiError;

pub fn source_id(field: &str, text: &str) -> Result<SourceId, ApiError> {
    SourceId::parse(text).map_err(|e| ApiError::invalid(field, e.to_string()))
}

/// A comma-separated list of event types (`push`, `invoice.*`, `*`).
pub fn event_types(field: &str, text: &str) -> Result<Vec<String>, ApiError> {
    parse_event_filters(text).map_err(|e| ApiError::invalid(field, e))
}

/// An RFC 3339 time or a duration before now (`2h`).
pub fn instant(field: &str, text: &str) -> Result<String, ApiError> {
    parse_instant(text, SystemTime::now()).map_err(|e| ApiError::invalid(field, e))
}

pub fn optional<T>(
    value: Option<&str>,
    field: &str,
    parse: fn(&str, &str) -> Result<T, ApiError>,
) -> Result<Option<T>, ApiError> {
    value.map(|v| parse(field, v)).transpose()
}
