//! Charts: deliveries per hour over the last 24 hours or 7 days (delivered against failed), the
//! time to an answer per subscription (median and 95th percentile), and the dead-letter depth
//! while the page is open (the page polls `/charts/dead-letter-depth`).

use std::sync::Arc;
use std::time::SystemTime;

use axum::extract::{RawQuery, State};
use hookpost_operations::OpError;
use maud::{Markup, html};

use crate::App;
use crate::activity::{self, Activity, Window};
use crate::chart::{self, latency};
use crate::form::Fields;
use crate::pages::PageResult;
use crate::pages::layout::{self, Section};
use crate::pages::overview::sample_note;

/// Seconds between the depth chart's readings while the page is open.
pub const DEPTH_EVERY: u32 = 5;

fn window_from(fields: &Fields) -> Result<Window, OpError> {
    match fields.get("window") {
        None | Some("") => Ok(Window::Day),
        Some(text) => {
            Window::parse(text).ok_or_else(|| OpError::invalid("window", "use 24h or 7d"))
        }
    }
}

pub async fn show(State(app): State<Arc<App>>, RawQuery(query): RawQuery) -> PageResult {
    let fields = Fields::query(query.as_deref());
    let window = window_from(&fields)?;
    let (activity, depth) = tokio::try_join!(activity::of(&app.ops, window), read_depth(&app))?;
    let total = activity.hourly.total();
    let words = chart::window_words(window.hours());
    Ok(layout::page(
        "Charts",
        Section::Charts,
        html! {
            nav #chart-windows aria-label="Window" {
                "Show the last "
                @for w in [Window::Day, Window::Week] {
                    @if w == window {
                        strong aria-current="page" { (chart::window_words(w.hours())) }
                    } @else {
                        a #(format!("window-{}", w.as_str())) href=(format!("/charts?window={}", w.as_str())) {
                            (chart::window_words(w.hours()))
                        }
                    }
                    " "
                }
            }
            div #charts data-refresh="60" {
                h2 { "Deliveries per hour, last " (words) " (UTC)" }
                p #chart-legend {
                    span.legend-delivered { "Solid: delivered" } " · " span.legend-failed { "Hatched: failed" }
                    " — in total " span #chart-delivered { (total.delivered) } " delivered and "
                    span #chart-failed { (total.failed) } " failed attempt(s)."
                }
                (chart::svg(&activity.hourly))
                (latency_section(&activity))
                p.hint { (sample_note(&activity)) }
            }
            (depth_section(&depth))
        },
    ))
}

fn latency_section(activity: &Activity) -> Markup {
    let rows: Vec<latency::Row> = activity
        .by_subscription
        .iter()
        .filter_map(|(id, a)| {
            a.latency().map(|latency| latency::Row {
                subscription_id: id.clone(),
                latency,
            })
        })
        .collect();
    html! {
        h2 #latency-title { "Time to an answer per subscription" }
        p.hint { "Solid: median (p50) · hatched: 95th percentile (p95), over the attempts that got an HTTP answer." }
        (latency::svg(&rows))
        @if !rows.is_empty() {
            div.scroll {
                table #latency-table {
                    caption { "The same figures as a table." }
                    thead { tr { th scope="col" { "Subscription" } th scope="col" { "p50 (ms)" } th scope="col" { "p95 (ms)" } th scope="col" { "Answers" } } }
                    tbody {
                        @for r in &rows {
                            tr data-subscription-id=(r.subscription_id) {
                                th scope="row" { a href=(format!("/subscriptions/{}", r.subscription_id)) { (r.subscription_id) } }
                                td.p50 { (r.latency.p50) }
                                td.p95 { (r.latency.p95) }
                                td { (r.latency.answers) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Reads the queue's depth now and records it in this launch's series; the series to draw.
async fn read_depth(app: &App) -> Result<chart::depth::DepthSeries, OpError> {
    let depth = app.ops.dead_letter_depth().await?;
    let mut series = app
        .depth
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    series.record(SystemTime::now(), depth);
    Ok(series.clone())
}

fn depth_section(series: &chart::depth::DepthSeries) -> Markup {
    html! {
        section #depth-chart aria-labelledby="depth-title"
            data-refresh=(DEPTH_EVERY) data-refresh-from="/charts/dead-letter-depth" {
            h2 #depth-title { "Dead-letter depth while this console is open" }
            (chart::depth::svg(series))
            p.hint {
                "Read every " (DEPTH_EVERY) " seconds while a charts page is open; latest: "
                span #depth-latest { (series.samples().last().map(|s| s.depth).unwrap_or(0)) }
                ". SQS's count is approximate."
            }
        }
    }
}

/// The depth chart alone: the charts page fetches it to refresh its copy.
pub async fn depth(State(app): State<Arc<App>>) -> PageResult {
    let series = read_depth(&app).await?;
    Ok(layout::page(
        "Dead-letter depth",
        Section::Charts,
        depth_section(&series),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_window_is_24h_by_default_and_a_bad_one_names_the_field() {
        assert_eq!(window_from(&Fields::query(None)).ok(), Some(Window::Day));
        assert_eq!(
            window_from(&Fields::query(Some("window=7d"))).ok(),
            Some(Window::Week)
        );
        let err = window_from(&Fields::query(Some("window=1y"))).expect_err("refused");
        assert!(err.to_string().contains("window"), "{err}");
    }
}
