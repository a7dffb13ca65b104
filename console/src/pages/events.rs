//! The event archive: search by source, type and time window; one event with every
//! subscription's attempts; replay it to one subscription or all; recover a window.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use hookpost_operations::events::{EventFilter, Recover};
use hookpost_operations::{NoProgress, OpError};
use hookpost_shared::source::SourceId;
use maud::{Markup, html};

use crate::App;
use crate::form::Fields;
use crate::pages::PageResult;
use crate::pages::detail;
use crate::pages::layout::{self, Section, csrf, notice, time};
use crate::pages::overview::all_subscriptions;

const PAGE: usize = 50;
const FILTERS: [&str; 4] = ["source", "type", "since", "until"];

fn filter_from(fields: &Fields) -> Result<EventFilter, OpError> {
    Ok(EventFilter {
        source: fields.source("source")?,
        event_types: fields.event_types("type")?,
        since: fields.instant("since")?,
        until: fields.instant("until")?,
    })
}

pub async fn list(State(app): State<Arc<App>>, RawQuery(query): RawQuery) -> PageResult {
    let fields = Fields::query(query.as_deref());
    let filter = filter_from(&fields)?;
    let page = fields.page(PAGE)?;
    let events = app.ops.list_events(&filter, &page).await?;
    let next = events
        .next_cursor
        .as_deref()
        .map(|cursor| fields.next_link("/events", &FILTERS, cursor));
    Ok(layout::page(
        "Events",
        Section::Events,
        html! {
            (search(&fields))
            div #event-list data-refresh="30" {
                @if events.items.is_empty() {
                    p #no-events { "No archived event matches." }
                } @else {
                    div.scroll {
                        table #events-table {
                            caption { "Oldest first." }
                            thead {
                                tr {
                                    th scope="col" { "Event" }
                                    th scope="col" { "Source" }
                                    th scope="col" { "Type" }
                                    th scope="col" { "Received" }
                                }
                            }
                            tbody {
                                @for e in &events.items {
                                    tr data-event-id=(e.event_id) data-testid="event-row" {
                                        th scope="row" { a href=(format!("/events/{}", e.event_id)) { code { (e.event_id) } } }
                                        td { (e.source_id) }
                                        td { (e.event_type.as_deref().unwrap_or("—")) }
                                        td { (time(&e.received_at)) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            @if let Some(next) = next {
                p { a #next-page href=(next) rel="next" { "Next page" } }
            }
            (recover_form(&app, &fields))
        },
    ))
}

fn search(fields: &Fields) -> Markup {
    html! {
        form #event-search method="get" action="/events" role="search" {
            fieldset {
                legend { "Search" }
                label { "Source " input #search-source name="source" value=[fields.get("source")] autocomplete="off"; }
                label { "Type " input #search-type name="type" value=[fields.get("type")] placeholder="push, invoice.*"; }
                label { "Since " input #search-since name="since" value=[fields.get("since")] placeholder="24h, 2026-11-22T08:00:00Z"; }
                label { "Until " input #search-until name="until" value=[fields.get("until")] placeholder="1h, 2026-11-22T09:00:00Z"; }
                button #search type="submit" { "Search" }
                " " a href="/events" { "Clear" }
            }
        }
    }
}

fn recover_form(app: &App, fields: &Fields) -> Markup {
    html! {
        form #recover-form method="post" action="/events/recover" {
            (csrf(&app.csrf))
            fieldset.actions {
                legend { "Recover a window" }
                p.hint { "Every archived event in the window is queued again for the subscriptions that miss it. Recovering the same window twice sends nothing twice." }
                label { "Source " input name="source" value=[fields.get("source")]; }
                label { "Type " input name="type" value=[fields.get("type")]; }
                label { "Since (required) " input #recover-since name="since" value=[fields.get("since")] required; }
                label { "Until " input name="until" value=[fields.get("until")]; }
                label { "Only subscription " input name="subscription"; }
                label { "At most " input name="rate" type="number" min="1" max="500" size="4"; " events a second" }
                label { input #recover-dry-run type="checkbox" name="dry_run" value="1" checked; " Only count (dry run)" }
                button #recover type="submit" { "Recover" }
            }
        }
    }
}

pub async fn show(State(app): State<Arc<App>>, Path(id): Path<String>) -> PageResult {
    let event = app.ops.get_event(&id).await?;
    let source = SourceId::parse(&event.summary.source_id)
        .map_err(|e| OpError::Conflict(format!("the archived event's source: {e}")))?;
    let (deliveries, subscriptions) = tokio::try_join!(
        app.ops.deliveries_of(&id),
        all_subscriptions(&app.ops, Some(&source))
    )?;
    Ok(layout::page(
        &format!("Event {id}"),
        Section::Events,
        html! {
            form #replay-form method="post" action=(format!("/events/{id}/replay")) {
                (csrf(&app.csrf))
                fieldset.actions {
                    legend { "Replay" }
                    label {
                        "To "
                        select #replay-subscription name="subscription" {
                            option value="" { "every subscription that wants it" }
                            @for s in &subscriptions {
                                option value=(s.subscription_id) { (s.subscription_id) " (" (s.url) ")" }
                            }
                        }
                    }
                    button #replay type="submit" { "Replay" }
                }
            }
            div #event-detail data-refresh="15" {
                (detail::attempts(&deliveries))
            }
            (detail::envelope(&event.envelope))
        },
    ))
}

pub async fn replay(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    body: Bytes,
) -> PageResult {
    let fields = Fields::parse(&body);
    let queued = app
        .ops
        .replay_event(&id, fields.all("subscription"))
        .await?;
    Ok(layout::page(
        "Replay",
        Section::Events,
        html! {
            (notice("replay-result", html! {
                p {
                    "Queued replay " code #replay-id { (queued.replay_id) } " of " code { (queued.event_id) }
                    @if queued.subscriptions.is_empty() { " to every subscription that wants it." }
                    @else { " to " @for (i, s) in queued.subscriptions.iter().enumerate() { @if i > 0 { ", " } code { (s) } } "." }
                }
                p { "Its attempts are recorded under " code { (queued.deliveries_key) } "." }
            }))
            p { a href=(format!("/events/{}", queued.event_id)) { "Back to the event" } }
        },
    ))
}

pub async fn recover(State(app): State<Arc<App>>, body: Bytes) -> PageResult {
    let fields = Fields::parse(&body);
    let request = Recover {
        filter: filter_from(&fields)?,
        subscription: fields.get("subscription").map(str::to_owned),
        include_delivered: false,
        rate: fields.rate("rate")?,
        dry_run: fields.checked("dry_run"),
    };
    let report = app.ops.recover(&request, &NoProgress).await?;
    Ok(layout::page(
        "Recover",
        Section::Events,
        html! {
            (notice("recover-result", html! {
                p {
                    @if report.dry_run { "Would queue " } @else { "Queued " }
                    span #recover-queued { (report.events_queued) } " of " (report.events_scanned)
                    " archived event(s), " (report.deliveries) " delivery(ies)."
                }
                @if !report.by_subscription.is_empty() {
                    ul {
                        @for (s, n) in &report.by_subscription { li { code { (s) } ": " (n) } }
                    }
                }
            }))
            p { a href="/events" { "Back to the events" } }
        },
    ))
}
