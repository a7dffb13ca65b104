//! The overview: each source with the URL to give its provider and its events of the last
//! 24 hours; each subscription's state, last success, failure streak and success rate; the
//! dead-letter count.

use std::sync::Arc;
use std::time::SystemTime;

use axum::extract::State;
use hookpost_operations::sources::SourceView;
use hookpost_operations::subscriptions::SubscriptionView;
use hookpost_operations::time::age_seconds;
use hookpost_operations::{OpError, Operations, PageRequest};
use maud::{Markup, html};

use crate::App;
use crate::activity::{self, Activity};
use crate::pages::PageResult;
use crate::pages::layout::{self, Section, age, copy_button, time};

/// Every source, every page of them.
pub async fn all_sources(ops: &Operations) -> Result<Vec<SourceView>, OpError> {
    let mut all = Vec::new();
    let mut page = PageRequest::first(hookpost_operations::page::MAX_LIMIT)?;
    loop {
        let got = ops.list_sources(&page).await?;
        all.extend(got.items);
        match page.next(got.next_cursor) {
            Some(next) => page = next,
            None => return Ok(all),
        }
    }
}

/// Every subscription (of one source, when named), every page of them.
pub async fn all_subscriptions(
    ops: &Operations,
    source: Option<&hookpost_shared::source::SourceId>,
) -> Result<Vec<SubscriptionView>, OpError> {
    let mut all = Vec::new();
    let mut page = PageRequest::first(hookpost_operations::page::MAX_LIMIT)?;
    loop {
        let got = ops.list_subscriptions(source, &page).await?;
        all.extend(got.items);
        match page.next(got.next_cursor) {
            Some(next) => page = next,
            None => return Ok(all),
        }
    }
}

pub async fn show(State(app): State<Arc<App>>) -> PageResult {
    let ops = &app.ops;
    let (sources, subscriptions, depth, activity) = tokio::try_join!(
        all_sources(ops),
        all_subscriptions(ops, None),
        ops.dead_letter_depth(),
        activity::last_day(ops),
    )?;
    Ok(layout::page(
        "Overview",
        Section::Overview,
        html! {
            div #overview data-refresh="30" {
                section #dead-letters-summary aria-labelledby="dlq-title" {
                    h2 #dlq-title { "Dead-letter queue" }
                    p {
                        a #dead-letter-link href="/dead-letters" {
                            span #dead-letter-count data-testid="dead-letter-count" { (depth) }
                            " dead-lettered event" @if depth != 1 { "s" }
                        }
                        @if depth == 0 { " — nothing waits for a redrive." }
                    }
                }
                (sources_table(&sources, &activity))
                (subscriptions_table(&subscriptions, &activity))
                section aria-labelledby="chart-title" {
                    h2 #chart-title { "Deliveries per hour" }
                    (crate::chart::svg(&activity.hourly))
                    p.hint { (sample_note(&activity)) }
                }
            }
        },
    ))
}

pub fn sample_note(activity: &Activity) -> String {
    format!(
        "Rates and charts cover the attempts on the newest {} event{} of the last {} (at most {}).",
        activity.sampled,
        if activity.sampled == 1 { "" } else { "s" },
        crate::chart::window_words(activity.window.hours()),
        activity.window.sample(),
    )
}

fn sources_table(sources: &[SourceView], activity: &Activity) -> Markup {
    html! {
        section #sources aria-labelledby="sources-title" {
            h2 #sources-title { "Sources" }
            @if sources.is_empty() {
                p #no-sources { "No source yet: add one with " code { "hookpost sources add" } "." }
            } @else {
                div.scroll {
                    table #sources-table {
                        thead {
                            tr {
                                th scope="col" { "Source" }
                                th scope="col" { "Provider" }
                                th scope="col" { "URL for the provider's dashboard" }
                                th scope="col" { "Events, 24 h" }
                            }
                        }
                        tbody {
                            @for (i, s) in sources.iter().enumerate() {
                                @let count = activity.events_by_source.get(&s.source_id).copied().unwrap_or(0);
                                tr data-source-id=(s.source_id) {
                                    th scope="row" {
                                        a href=(format!("/events?source={}", s.source_id)) { (s.source_id) }
                                    }
                                    td { (s.provider) }
                                    td {
                                        @match &s.url {
                                            Some(url) => {
                                                code id=(format!("source-url-{i}")) data-testid="source-url" { (url) }
                                                " " (copy_button(&format!("source-url-{i}"), "Copy"))
                                            }
                                            None if s.provider == "publish" => { "— (published through the API)" }
                                            None => { "— (the receiver's address is not known)" }
                                        }
                                    }
                                    td data-testid="events-24h" {
                                        (count) @if activity.capped { "+" }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A subscription's state in words: colour is never the only signal.
pub fn state(s: &SubscriptionView) -> Markup {
    html! {
        @if s.enabled {
            span.state.state-enabled data-state="enabled" { "enabled" }
        } @else {
            span.state.state-disabled data-state="disabled" {
                "disabled"
                @if let Some(reason) = &s.disabled_reason { ": " (reason) }
            }
        }
    }
}

fn subscriptions_table(subscriptions: &[SubscriptionView], activity: &Activity) -> Markup {
    let now = SystemTime::now();
    html! {
        section #subscriptions aria-labelledby="subscriptions-title" {
            h2 #subscriptions-title { "Subscriptions" }
            @if subscriptions.is_empty() {
                p #no-subscriptions { "No subscription yet." }
            } @else {
                div.scroll {
                    table #subscriptions-table {
                        thead {
                            tr {
                                th scope="col" { "Subscription" }
                                th scope="col" { "Source" }
                                th scope="col" { "State" }
                                th scope="col" { "Last success" }
                                th scope="col" { "Failing for" }
                                th scope="col" { "Success rate" }
                            }
                        }
                        tbody {
                            @for s in subscriptions {
                                @let seen = activity.by_subscription.get(&s.subscription_id);
                                tr data-subscription-id=(s.subscription_id) {
                                    th scope="row" {
                                        a href=(format!("/subscriptions/{}", s.subscription_id)) { (s.subscription_id) }
                                    }
                                    td { (s.source_id) }
                                    td { (state(s)) }
                                    td data-testid="last-success" {
                                        @let last = seen.and_then(|a| a.last_success.clone()).or_else(|| {
                                            s.last_delivery.as_ref().filter(|d| d.status == "delivered").map(|d| d.at.clone())
                                        });
                                        @match last { Some(at) => (time(&at)), None => "—" }
                                    }
                                    td data-testid="failure-streak" {
                                        @match s.failing_since.as_deref().and_then(|at| age_seconds(at, now)) {
                                            Some(secs) => { "failing for " (age(secs)) }
                                            None => "—",
                                        }
                                    }
                                    td data-testid="success-rate" {
                                        @match seen.and_then(|a| a.success_percent().map(|p| (p, a))) {
                                            Some((percent, a)) => { (percent) "% (" (a.delivered) " of " (a.records) ")" }
                                            None => "—",
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}
