//! What an event's pages share: its envelope (metadata, headers, the body pretty-printed when
//! it is JSON) and every subscription's attempts as a timeline. Everything is text to `maud`,
//! so a body of `<script>` is shown, never run.

use hookpost_shared::aws::DeliveryRecord;
use hookpost_shared::envelope::{EncodedBody, Envelope};
use maud::{Markup, html};

use crate::pages::layout::time;

/// How a body is shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BodyView {
    /// JSON, re-indented.
    Json(String),
    /// Other UTF-8 text, as it came.
    Text(String),
    /// Not UTF-8: its base64.
    Binary { base64: String },
    /// Too large for a queue message: where it was stored.
    Stored { key: String },
}

pub fn body_view(body: &EncodedBody) -> BodyView {
    match body {
        EncodedBody::Utf8(text) => match serde_json::from_str::<serde_json::Value>(text) {
            Ok(json) => {
                BodyView::Json(serde_json::to_string_pretty(&json).unwrap_or_else(|_| text.clone()))
            }
            Err(_) => BodyView::Text(text.clone()),
        },
        EncodedBody::Base64(data) => BodyView::Binary {
            base64: data.clone(),
        },
        EncodedBody::Stored(key) => BodyView::Stored { key: key.clone() },
    }
}

/// An envelope as the queue and the archive hold it (JSON); one that does not read as an
/// envelope is shown raw.
pub fn envelope(json: &serde_json::Value) -> Markup {
    let Ok(e) = serde_json::from_value::<Envelope>(json.clone()) else {
        return html! {
            section #envelope aria-labelledby="envelope-title" {
                h2 #envelope-title { "Message" }
                p { "This message is not an envelope Hookpost wrote; as received:" }
                pre #event-body data-testid="event-body" {
                    (serde_json::to_string_pretty(json).unwrap_or_default())
                }
            }
        };
    };
    html! {
        section #envelope aria-labelledby="envelope-title" {
            h2 #envelope-title { "Envelope" }
            dl.facts {
                dt { "Event id" } dd { code #event-id { (e.event_id) } }
                dt { "Source" } dd { a href=(format!("/events?source={}", e.source_id)) { (e.source_id) } }
                dt { "Provider" } dd { (e.provider.name()) }
                dt { "Type" } dd { (e.event_type.as_deref().unwrap_or("—")) }
                dt { "Provider's delivery id" } dd { (e.delivery_id.as_deref().unwrap_or("—")) }
                dt { "Received" } dd { (time(&e.received_at)) }
                dt { "Content type" } dd { (e.content_type.as_deref().unwrap_or("—")) }
            }
            @if !e.headers.is_empty() {
                h3 { "Headers kept" }
                div.scroll {
                    table #event-headers {
                        thead { tr { th scope="col" { "Name" } th scope="col" { "Value" } } }
                        tbody {
                            @for (name, value) in &e.headers {
                                tr { td { code { (name) } } td { code { (value) } } }
                            }
                        }
                    }
                }
            }
            h3 { "Body" }
            @match body_view(&e.body) {
                BodyView::Json(text) => {
                    p.hint { "JSON, re-indented." }
                    pre #event-body data-testid="event-body" data-format="json" { (text) }
                }
                BodyView::Text(text) => {
                    pre #event-body data-testid="event-body" data-format="text" { (text) }
                }
                BodyView::Binary { base64 } => {
                    p.hint { "Not UTF-8 text; its base64:" }
                    pre #event-body data-testid="event-body" data-format="base64" { (base64) }
                }
                BodyView::Stored { key } => {
                    p #event-body data-testid="event-body" data-format="stored" {
                        "Too large for a queue message: stored in the bodies bucket as "
                        code { (key) } "."
                    }
                }
            }
        }
    }
}

/// Every subscription's attempts, one timeline each.
pub fn attempts(records: &[DeliveryRecord]) -> Markup {
    html! {
        section #attempts aria-labelledby="attempts-title" {
            h2 #attempts-title { "Attempts" }
            @if records.is_empty() {
                p #no-attempts { "No subscription has attempted this event yet." }
            }
            @for r in records {
                article.timeline data-subscription-id=(r.subscription_id) {
                    h3 {
                        "Subscription "
                        a href=(format!("/subscriptions/{}", r.subscription_id)) { (r.subscription_id) }
                        " — " span class=(format!("status status-{}", r.status)) { (r.status) }
                        " after " (r.attempts) " attempt" @if r.attempts != 1 { "s" }
                    }
                    div.scroll {
                        table {
                            thead {
                                tr {
                                    th scope="col" { "Time" }
                                    th scope="col" { "Outcome" }
                                    th scope="col" { "HTTP status" }
                                    th scope="col" { "Latency" }
                                    th scope="col" { "Error" }
                                }
                            }
                            tbody {
                                @for a in &r.history {
                                    tr data-outcome=(a.outcome) {
                                        td { (time(&a.at)) }
                                        td { (a.outcome) }
                                        td { (a.status_code.map(|c| c.to_string()).unwrap_or_else(|| "—".to_owned())) }
                                        td { (a.duration_ms) " ms" }
                                        td { (a.error.as_deref().unwrap_or("—")) }
                                    }
                                }
                            }
                        }
                    }
                    @if let Some(response) = &r.last_response {
                        p { "Last response:" }
                        pre.snippet data-testid="response-snippet" { (response) }
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_json_body_is_reindented_and_other_text_is_kept_as_it_came() {
        assert_eq!(
            body_view(&EncodedBody::Utf8(r#"{"a":1}"#.into())),
            BodyView::Json("{\n  \"a\": 1\n}".into())
        );
        assert_eq!(
            body_view(&EncodedBody::Utf8("<script>alert(1)</script>".into())),
            BodyView::Text("<script>alert(1)</script>".into())
        );
    }

    #[test]
    fn a_script_body_is_shown_as_text() {
        let envelope = serde_json::json!({
            "version": 1,
            "event_id": "evt_1",
            "source_id": "gh",
            "provider": "github",
            "received_at": "2026-11-22T10:00:00.000Z",
            "headers": {"x-evil": "\"><img src=x onerror=alert(1)>"},
            "body": {"encoding": "utf8", "data": "<script>alert(1)</script>"}
        });
        let html = super::envelope(&envelope).into_string();
        assert!(
            html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
            "{html}"
        );
        assert!(!html.contains("<script>"));
        assert!(!html.contains("<img"));
    }
}
