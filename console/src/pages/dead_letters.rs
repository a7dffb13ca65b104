//! The dead-letter queue: every dead-lettered event (paged, at any depth) filtered by source,
//! type and age; one event's envelope, body and attempts; redrive (selected, filtered or all,
//! at a rate) and purge (after typing `purge`).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use hookpost_operations::dead_letters::{DeadLetter, DeadLetterFilter, RedriveMethod, Selection};
use hookpost_operations::{NoProgress, OpError};
use maud::{Markup, html};

use crate::App;
use crate::form::Fields;
use crate::pages::PageResult;
use crate::pages::detail;
use crate::pages::layout::{self, Section, age, csrf, notice};

/// Rows on one page.
const PAGE: usize = 50;
/// The filter fields, kept on the next page's link and by the redrive form.
const FILTERS: [&str; 3] = ["source", "type", "since"];
/// What the operator types to purge.
pub const PURGE_WORD: &str = "purge";

fn filter_from(fields: &Fields) -> Result<DeadLetterFilter, OpError> {
    Ok(DeadLetterFilter {
        source: fields.source("source")?,
        event_types: fields.event_types("type")?,
        since: fields.instant("since")?,
    })
}

pub async fn list(State(app): State<Arc<App>>, RawQuery(query): RawQuery) -> PageResult {
    let fields = Fields::query(query.as_deref());
    let filter = filter_from(&fields)?;
    let page = fields.page(PAGE)?;
    let (letters, depth) = tokio::try_join!(
        app.ops.list_dead_letters(&filter, &page),
        app.ops.dead_letter_depth()
    )?;
    let next = letters
        .next_cursor
        .as_deref()
        .map(|cursor| fields.next_link("/dead-letters", &FILTERS, cursor));
    Ok(layout::page(
        "Dead letters",
        Section::DeadLetters,
        html! {
            p { "About " span #dead-letter-depth data-testid="dead-letter-count" { (depth) } " message(s) in the queue." }
            (filters(&fields))
            div #dead-letter-list data-refresh="60" {
                (table(&app, &letters.items, &fields))
            }
            @if let Some(next) = next {
                p { a #next-page href=(next) rel="next" { "Next page" } }
            }
            (redrive_all(&app))
            (purge_form(&app))
        },
    ))
}

fn filters(fields: &Fields) -> Markup {
    html! {
        form #dead-letter-filters method="get" action="/dead-letters" role="search" {
            fieldset {
                legend { "Filter" }
                label { "Source " input #filter-source name="source" value=[fields.get("source")] autocomplete="off"; }
                label { "Type " input #filter-type name="type" value=[fields.get("type")] placeholder="push, invoice.*"; }
                label { "Received since " input #filter-since name="since" value=[fields.get("since")] placeholder="2h, 2026-11-22T08:00:00Z"; }
                button #apply-filters type="submit" { "Apply" }
                " " a href="/dead-letters" { "Clear" }
            }
        }
    }
}

fn table(app: &App, letters: &[DeadLetter], fields: &Fields) -> Markup {
    html! {
        form #redrive-form method="post" action="/dead-letters/redrive" {
            (csrf(&app.csrf))
            @for name in FILTERS {
                @if let Some(v) = fields.get(name) { input type="hidden" name=(name) value=(v); }
            }
            @if letters.is_empty() {
                p #no-dead-letters { "No dead letter matches." }
            } @else {
                div.scroll {
                    table #dead-letters-table {
                        caption { "Select events to redrive them, or open one to see why it failed." }
                        thead {
                            tr {
                                th scope="col" { span.visually-hidden { "Select" } }
                                th scope="col" { "Event" }
                                th scope="col" { "Source" }
                                th scope="col" { "Type" }
                                th scope="col" { "Age" }
                                th scope="col" { "Receives" }
                                th scope="col" { "Missing at" }
                            }
                        }
                        tbody {
                            @for d in letters {
                                @let key = d.event_id.clone().unwrap_or_else(|| d.message_id.clone());
                                tr data-event-id=(key) data-testid="dead-letter-row" {
                                    td {
                                        input type="checkbox" name="event_id" value=(key)
                                            id=(format!("select-{key}"))
                                            aria-label=(format!("Select {key}"));
                                    }
                                    th scope="row" {
                                        a href=(format!("/dead-letters/{key}")) { code { (key) } }
                                        @if let Some(error) = &d.error { br; span.error-text { "not an envelope: " (error) } }
                                    }
                                    td { (d.source_id.as_deref().unwrap_or("—")) }
                                    td { (d.event_type.as_deref().unwrap_or("—")) }
                                    td { (d.age_seconds.map(age).unwrap_or_else(|| "—".to_owned())) }
                                    td { (d.receive_count) }
                                    td {
                                        @for u in &d.undelivered {
                                            div {
                                                a href=(format!("/subscriptions/{}", u.subscription_id)) { (u.subscription_id) }
                                                " (" (u.status)
                                                @if let Some(code) = u.last_status_code { ", HTTP " (code) }
                                                @if let Some(error) = &u.last_error { ": " (error) }
                                                ")"
                                            }
                                        }
                                        @if d.undelivered.is_empty() && d.error.is_none() { "—" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
            fieldset.actions {
                legend { "Redrive" }
                label { "At most " input #redrive-rate name="rate" type="number" min="1" max="500" size="4" inputmode="numeric"; " a second (empty: as fast as possible)" }
                button #redrive-selected name="scope" value="selected" type="submit" { "Redrive selected" }
                button #redrive-filtered name="scope" value="filtered" type="submit" { "Redrive all matching the filter" }
            }
        }
    }
}

fn redrive_all(app: &App) -> Markup {
    html! {
        form #redrive-all-form method="post" action="/dead-letters/redrive" {
            (csrf(&app.csrf))
            input type="hidden" name="scope" value="all";
            fieldset.actions {
                legend { "Redrive everything" }
                label { "At most " input #redrive-all-rate name="rate" type="number" min="1" max="500" size="4" inputmode="numeric"; " a second" }
                button #redrive-all type="submit" { "Redrive all dead letters" }
            }
        }
    }
}

fn purge_form(app: &App) -> Markup {
    html! {
        form #purge-form method="post" action="/dead-letters/purge" {
            (csrf(&app.csrf))
            fieldset.danger {
                legend { "Purge" }
                p { "Deletes every message in the dead-letter queue. The events stay in the archive (Events) and can be replayed from there." }
                label { "Type " kbd { (PURGE_WORD) } " to confirm " input #purge-confirm name="confirm" autocomplete="off" required; }
                button #purge type="submit" { "Purge the dead-letter queue" }
            }
        }
    }
}

pub async fn show(State(app): State<Arc<App>>, Path(id): Path<String>) -> PageResult {
    let d = app.ops.get_dead_letter(&id).await?;
    let letter = &d.dead_letter;
    Ok(layout::page(
        &format!("Dead letter {id}"),
        Section::DeadLetters,
        html! {
            dl.facts #dead-letter-facts {
                dt { "Receives" } dd { (letter.receive_count) }
                dt { "Delivered to" } dd { (letter.delivered) " subscription(s)" }
                dt { "Missing at" } dd { (letter.undelivered.len()) " subscription(s)" }
                @if let Some(error) = &letter.error { dt { "Not an envelope" } dd { (error) } }
            }
            form #redrive-one-form method="post" action="/dead-letters/redrive" {
                (csrf(&app.csrf))
                input type="hidden" name="scope" value="selected";
                input type="hidden" name="event_id" value=(id);
                button #redrive-one type="submit" { "Redrive this event" }
            }
            @if let Some(event_id) = &letter.event_id {
                p { a href=(format!("/events/{event_id}")) { "This event in the archive" } }
            }
            (detail::envelope(&d.envelope))
            (detail::attempts(&d.deliveries))
        },
    ))
}

pub async fn redrive(State(app): State<Arc<App>>, body: Bytes) -> PageResult {
    let fields = Fields::parse(&body);
    let rate = fields.rate("rate")?;
    let selection = match fields.get("scope") {
        Some("all") => Selection::All,
        Some("filtered") => Selection::Matching(filter_from(&fields)?),
        Some("selected") => Selection::Events(fields.all("event_id")),
        other => {
            return Err(OpError::invalid(
                "scope",
                format!(
                    "`{}` is not one of selected, filtered, all",
                    other.unwrap_or_default()
                ),
            )
            .into());
        }
    };
    let report = app.ops.redrive(&selection, rate, &NoProgress).await?;
    Ok(layout::page(
        "Redrive",
        Section::DeadLetters,
        html! {
            (notice("redrive-result", html! {
                p {
                    "Moved " span #redrive-moved { (report.moved) } " dead letter(s) back to the ingest queue "
                    (match report.method {
                        RedriveMethod::MoveTask => "(an SQS message move task)",
                        RedriveMethod::PerMessage => "(one by one)",
                    })
                    ". Subscribers that already have an event are not called again."
                }
                @if !report.missing.is_empty() {
                    p #redrive-missing { "Not in the queue: " @for (i, id) in report.missing.iter().enumerate() { @if i > 0 { ", " } code { (id) } } }
                }
            }))
            p { a href="/dead-letters" { "Back to the dead letters" } }
        },
    ))
}

pub async fn purge(State(app): State<Arc<App>>, body: Bytes) -> PageResult {
    let fields = Fields::parse(&body);
    if fields.get("confirm") != Some(PURGE_WORD) {
        return Err(OpError::invalid(
            "confirm",
            format!("type `{PURGE_WORD}` to confirm; nothing was deleted"),
        )
        .into());
    }
    let report = app.ops.purge_dead_letters().await?;
    Ok(layout::page(
        "Purge",
        Section::DeadLetters,
        html! {
            (notice("purge-result", html! {
                p { "Purged about " span #purged { (report.purged) } " message(s) from the dead-letter queue." }
            }))
            p { a href="/dead-letters" { "Back to the dead letters" } }
        },
    ))
}
