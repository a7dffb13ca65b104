//! clap value parsers for every structured value, so a bad one is a usage error (exit 2) that
//! names its flag before anything runs.

use std::time::SystemTime;

use hookpost_shared::source::SourceId;

/// A source id (`github-main`).
pub fn source_id(text: &str) -> Result<SourceId, String> {
    SourceId::parse(text).map_err(|e| e.to_string())
}

/// An instant: RFC 3339, or a duration before now (`90m`, `24h`, `7days`).
pub fn instant(text: &str) -> Result<String, String> {
    hookpost_operations::time::parse_instant(text, SystemTime::now())
}

/// A header, `Name: value`.
pub fn header(text: &str) -> Result<(String, String), String> {
    hookpost_operations::subscriptions::parse_header(text)
}

/// Signature schemes: `v1`, `v1a` or `v1,v1a`.
pub fn signatures(text: &str) -> Result<hookpost_shared::secret::SignatureSchemes, String> {
    hookpost_shared::secret::SignatureSchemes::parse(text)
}

/// Event-type filters as given on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventTypes(pub Vec<String>);

/// Event-type filters, comma-separated (`push,pull_request.*`).
pub fn event_filters(text: &str) -> Result<EventTypes, String> {
    hookpost_shared::subscription::parse_event_filters(text).map(EventTypes)
}

/// A payload filter: an EventBridge event pattern as JSON text, or `@FILE` to read it from a file.
/// Only the JSON is checked here; the pattern itself is checked by the operations core, which
/// names the offending key.
pub fn filter(text: &str) -> Result<serde_json::Value, String> {
    let json = match text.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path).map_err(|e| format!("reading {path}: {e}"))?,
        None => text.to_owned(),
    };
    serde_json::from_str(&json).map_err(|e| {
        format!("not JSON ({e}); write an EventBridge event pattern such as '{{\"body\": {{\"amount\": [{{\"numeric\": [\">\", 100]}}]}}}}'")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_parser_refuses_what_the_core_would_refuse() {
        assert!(source_id("github-main").is_ok());
        assert!(source_id("a/b").is_err());
        assert!(instant("24h").is_ok());
        assert!(instant("last tuesday").is_err());
        assert_eq!(
            header("X-Team: ops").expect("valid"),
            ("x-team".to_owned(), "ops".to_owned())
        );
        assert!(header("webhook-id: x").is_err());
        assert!(event_filters("push,pull_request.*").is_ok());
        assert!(signatures("v1,v1a").is_ok());
        assert!(signatures("v2").is_err());
    }
}
