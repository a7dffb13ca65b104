//! Subscriptions: the list (by source), one subscription's settings, enabling and disabling it
//! with a reason, and rotating its secret — the new secret shown once, on the answer to the
//! rotation, and on no other page.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use hookpost_operations::subscriptions::{SubscriptionRotate, SubscriptionView};
use maud::{Markup, html};

use crate::App;
use crate::form::Fields;
use crate::pages::PageResult;
use crate::pages::layout::{self, Section, copy_button, csrf, notice, time};
use crate::pages::overview::{all_subscriptions, state};

pub async fn list(State(app): State<Arc<App>>, RawQuery(query): RawQuery) -> PageResult {
    let fields = Fields::query(query.as_deref());
    let source = fields.source("source")?;
    let subscriptions = all_subscriptions(&app.ops, source.as_ref()).await?;
    Ok(layout::page(
        "Subscriptions",
        Section::Subscriptions,
        html! {
            form #subscription-filter method="get" action="/subscriptions" role="search" {
                label { "Source " input #subscriptions-source name="source" value=[fields.get("source")]; }
                " " button type="submit" { "Show" }
            }
            div #subscription-list data-refresh="30" {
                @if subscriptions.is_empty() {
                    p #no-subscriptions { "No subscription." }
                } @else {
                    div.scroll {
                        table #subscriptions-table {
                            thead {
                                tr {
                                    th scope="col" { "Subscription" }
                                    th scope="col" { "Source" }
                                    th scope="col" { "URL" }
                                    th scope="col" { "Event types" }
                                    th scope="col" { "State" }
                                    th scope="col" { "Last attempt" }
                                }
                            }
                            tbody {
                                @for s in &subscriptions {
                                    tr data-subscription-id=(s.subscription_id) {
                                        th scope="row" { a href=(format!("/subscriptions/{}", s.subscription_id)) { (s.subscription_id) } }
                                        td { (s.source_id) }
                                        td { code { (s.url) } }
                                        td { (s.event_types.join(", ")) }
                                        td { (state(s)) }
                                        td { (last_attempt(s)) }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        },
    ))
}

fn last_attempt(s: &SubscriptionView) -> Markup {
    html! {
        @match &s.last_delivery {
            Some(d) => {
                (d.status) " at " (time(&d.at)) " ("
                a href=(format!("/events/{}", d.event_id)) { "event" } ")"
            }
            None => "—",
        }
    }
}

pub async fn show(State(app): State<Arc<App>>, Path(id): Path<String>) -> PageResult {
    let s = app.ops.get_subscription(&id).await?;
    Ok(layout::page(
        &format!("Subscription {id}"),
        Section::Subscriptions,
        html! {
            (facts(&s))
            (enable_form(&app, &s))
            (rotate_form(&app, &s))
        },
    ))
}

fn facts(s: &SubscriptionView) -> Markup {
    html! {
        dl.facts #subscription-facts {
            dt { "Source" } dd { a href=(format!("/events?source={}", s.source_id)) { (s.source_id) } }
            dt { "URL" } dd { code #subscription-url { (s.url) } }
            dt { "Event types (filters)" } dd #subscription-filters { (s.event_types.join(", ")) }
            dt { "Payload filter" } dd {
                @match &s.filter {
                    Some(filter) => pre #subscription-pattern { (serde_json::to_string_pretty(filter).unwrap_or_default()) },
                    None => "— (every event of those types)",
                }
            }
            dt { "State" } dd #subscription-state { (state(s)) @if let Some(at) = &s.disabled_at { " since " (time(at)) } }
            dt { "Failing since" } dd { @match &s.failing_since { Some(at) => (time(at)), None => "— (not failing)" } }
            dt { "Timeout" } dd { @match s.timeout_seconds { Some(t) => { (t) " s" }, None => "the dispatcher's" } }
            dt { "Rate limit" } dd #subscription-rate {
                @match &s.rate {
                    Some(rate) => {
                        (rate.rate)
                        @if rate.burst > 1 { ", bursts of " (rate.burst) }
                        @if rate.wait_ms > 0 { " — deliveries wait " (format!("{:.1}", rate.wait_ms as f64 / 1000.0)) " s for their turn" }
                        @else { " — no wait now" }
                    },
                    None => "— (none)",
                }
            }
            dt { "Secrets" } dd #subscription-secrets { (s.secrets) " active (never shown after they are made)" }
            dt { "Signatures" } dd #subscription-signatures {
                (s.signatures.iter().map(|scheme| scheme.as_str()).collect::<Vec<_>>().join(", "))
            }
            @if !s.public_keys.is_empty() {
                dt { "Public keys (v1a)" } dd #subscription-public-keys {
                    @for key in &s.public_keys { code.public-key { (key) } " " }
                }
            }
            dt { "Custom headers" } dd { @if s.headers.is_empty() { "—" } @else { (s.headers.join(", ")) " (values not shown)" } }
            dt { "Created" } dd { (time(&s.created_at)) }
            dt { "Last attempt" } dd { (last_attempt(s)) }
        }
    }
}

fn enable_form(app: &App, s: &SubscriptionView) -> Markup {
    let id = &s.subscription_id;
    html! {
        @if s.enabled {
            form #disable-form method="post" action=(format!("/subscriptions/{id}/disable")) {
                (csrf(&app.csrf))
                fieldset.actions {
                    legend { "Disable" }
                    p.hint { "The dispatcher skips a disabled subscription; events stay in the archive and can be recovered after it is enabled." }
                    label { "Reason " input #disable-reason name="reason" required maxlength="500"; }
                    button #disable type="submit" { "Disable" }
                }
            }
        } @else {
            form #enable-form method="post" action=(format!("/subscriptions/{id}/enable")) {
                (csrf(&app.csrf))
                fieldset.actions {
                    legend { "Enable" }
                    p.hint { "Enabling clears the reason and the failure streak." }
                    button #enable type="submit" { "Enable" }
                }
            }
        }
    }
}

fn rotate_form(app: &App, s: &SubscriptionView) -> Markup {
    let id = &s.subscription_id;
    html! {
        form #rotate-form method="post" action=(format!("/subscriptions/{id}/rotate")) {
            (csrf(&app.csrf))
            fieldset.actions {
                legend { "Rotate the signing secret" }
                p.hint { "Adding a secret signs every delivery with each active one, so the subscriber can switch over; then retire the older ones." }
                button #rotate name="step" value="add" type="submit" { "Add a new secret" }
                @if s.secrets > 1 {
                    " " button #rotate-finish name="step" value="finish" type="submit" { "Retire all but the newest" }
                }
            }
        }
    }
}

pub async fn enable(State(app): State<Arc<App>>, Path(id): Path<String>) -> PageResult {
    let s = app.ops.set_subscription_enabled(&id, true, None).await?;
    changed(&app, &s, "Enabled.")
}

pub async fn disable(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    body: Bytes,
) -> PageResult {
    let fields = Fields::parse(&body);
    let Some(reason) = fields.get("reason") else {
        return Err(hookpost_operations::OpError::invalid(
            "reason",
            "say why it is disabled (shown on the overview)",
        )
        .into());
    };
    let s = app
        .ops
        .set_subscription_enabled(&id, false, Some(reason))
        .await?;
    changed(&app, &s, "Disabled.")
}

fn changed(app: &App, s: &SubscriptionView, what: &str) -> PageResult {
    Ok(layout::page(
        &format!("Subscription {}", s.subscription_id),
        Section::Subscriptions,
        html! {
            (notice("subscription-result", html! { p { (what) } }))
            (facts(s))
            (enable_form(app, s))
            (rotate_form(app, s))
        },
    ))
}

pub async fn rotate(
    State(app): State<Arc<App>>,
    Path(id): Path<String>,
    body: Bytes,
) -> PageResult {
    let fields = Fields::parse(&body);
    // The console rotates the schemes in use; changing scheme is the CLI's or the API's.
    let rotate = if fields.get("step") == Some("finish") {
        SubscriptionRotate::Finish(None)
    } else {
        SubscriptionRotate::Add(None)
    };
    let rotation = app.ops.rotate_subscription_secret(&id, rotate).await?;
    Ok(layout::page(
        &format!("Subscription {id}"),
        Section::Subscriptions,
        html! {
            (notice("rotate-result", html! {
                @match &rotation.secret {
                    Some(secret) => {
                        p { "A new signing secret was added. " strong { "It is shown this once:" } " copy it to the subscriber now." }
                        p { code #new-secret data-testid="new-secret" { (secret.expose()) } " " (copy_button("new-secret", "Copy the secret")) }
                    }
                    None if rotation.public_key.is_none() => { p { "Retired " (rotation.retired) " secret(s)." } }
                    None => {}
                }
                @if let Some(public_key) = &rotation.public_key {
                    p { "A new ed25519 key was added; the subscriber verifies v1a signatures with its public key:" }
                    p { code #new-public-key { (public_key) } }
                }
                p { span #active-secrets { (rotation.secrets) } " secret(s) active." }
            }))
            p { a href=(format!("/subscriptions/{id}")) { "Back to the subscription" } }
        },
    ))
}
