//! Charts: deliveries per hour over the last 24 hours, delivered against failed.

use std::sync::Arc;

use axum::extract::State;
use maud::html;

use crate::App;
use crate::activity;
use crate::pages::PageResult;
use crate::pages::layout::{self, Section};
use crate::pages::overview::sample_note;

pub async fn show(State(app): State<Arc<App>>) -> PageResult {
    let activity = activity::last_day(&app.ops).await?;
    let total = activity.hourly.total();
    Ok(layout::page(
        "Charts",
        Section::Charts,
        html! {
            div #charts data-refresh="60" {
                h2 { "Deliveries per hour, last 24 hours (UTC)" }
                p #chart-legend {
                    span.legend-delivered { "Solid: delivered" } " · " span.legend-failed { "Hatched: failed" }
                    " — in total " span #chart-delivered { (total.delivered) } " delivered and "
                    span #chart-failed { (total.failed) } " failed attempt(s)."
                }
                (crate::chart::svg(&activity.hourly))
                p.hint { (sample_note(&activity)) }
            }
        },
    ))
}
