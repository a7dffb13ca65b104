//! Time to an answer per subscription: the median (solid) and the 95th percentile (hatched) as
//! horizontal bars, one row each, with each row's figures in its `<title>`.

use maud::{Markup, html};

use crate::activity::Latency;
use crate::chart::scale_max;

const WIDTH: u32 = 720;
/// Room for the subscription's id above its bars.
const ROW: u32 = 40;
const BAR: u32 = 14;
const TOP: u32 = 8;
const BOTTOM: u32 = 20;
const RIGHT: u32 = 16;

/// One subscription's row: its id and its latency.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub subscription_id: String,
    pub latency: Latency,
}

/// The chart; `rows` in the order given. With no rows, a chart that says so.
pub fn svg(rows: &[Row]) -> Markup {
    let max = scale_max(rows.iter().map(|r| r.latency.p95).max().unwrap_or(0));
    let plot = WIDTH - RIGHT;
    let length = |ms: u64| (ms * u64::from(plot)).div_ceil(max) as u32;
    let height = TOP + ROW * rows.len().max(1) as u32 + BOTTOM;
    html! {
        svg #latency-chart data-testid="latency-chart" xmlns="http://www.w3.org/2000/svg"
            viewBox=(format!("0 0 {WIDTH} {height}")) role="img"
            aria-labelledby="latency-chart-title" class="chart" {
            title #latency-chart-title {
                "Time to an answer per subscription, median and 95th percentile, in milliseconds"
            }
            defs {
                pattern #hatch-p95 patternUnits="userSpaceOnUse" width="6" height="6"
                    patternTransform="rotate(45)" {
                    rect class="hatch-back" width="6" height="6" {}
                    line class="hatch-line-p95" x1="0" y1="0" x2="0" y2="6" stroke-width="3" {}
                }
            }
            @if rows.is_empty() {
                text class="axis-label" x="0" y=(TOP + 16) { "No answered attempt in the sample." }
            }
            @for (i, row) in rows.iter().enumerate() {
                @let y = TOP + ROW * i as u32;
                @let l = row.latency;
                g data-subscription=(row.subscription_id) data-p50=(l.p50) data-p95=(l.p95) {
                    title {
                        (row.subscription_id) ": median " (l.p50) " ms, 95th percentile " (l.p95)
                        " ms, over " (l.answers) " answer(s)"
                    }
                    text class="row-label" x="0" y=(y + 12) { (row.subscription_id) " — " (l.p50) " / " (l.p95) " ms" }
                    rect class="bar-p95" fill="url(#hatch-p95)" x="0" y=(y + 18) width=(length(l.p95)) height=(BAR) {}
                    rect class="bar-p50" x="0" y=(y + 18) width=(length(l.p50)) height=(BAR) {}
                }
            }
            @let base = height - BOTTOM;
            line class="axis" x1="0" y1=(base) x2=(plot) y2=(base) {}
            text class="axis-label" x="0" y=(height - 4) { "0 ms" }
            text class="axis-label" x=(plot) y=(height - 4) text-anchor="end" { (max) " ms" }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, p50: u64, p95: u64) -> Row {
        Row {
            subscription_id: id.into(),
            latency: Latency {
                p50,
                p95,
                answers: 3,
            },
        }
    }

    #[test]
    fn each_subscription_has_a_row_with_its_figures_in_text() {
        let svg = svg(&[row("sub_fast", 4, 9), row("sub_slow", 120, 950)]).into_string();
        assert_eq!(svg.matches("<g data-subscription=").count(), 2);
        assert!(
            svg.contains("sub_slow: median 120 ms, 95th percentile 950 ms, over 3 answer(s)"),
            "{svg}"
        );
        // The scale rounds 950 up to 1000 ms over the 704 pixels: 950 ms is 669 of them,
        // 120 ms is 85.
        assert!(svg.contains(r#"width="669""#), "{svg}");
        assert!(svg.contains(r#"width="85""#), "{svg}");
        assert!(svg.contains("1000 ms"));
        assert!(!svg.contains("style="), "the CSP allows no inline style");
    }

    #[test]
    fn ids_are_escaped_and_an_empty_chart_says_so() {
        let svg = svg(&[row("<b>x</b>", 1, 2)]).into_string();
        assert!(svg.contains("&lt;b&gt;x&lt;/b&gt;"));
        assert!(!svg.contains("<b>"));
        let empty = super::svg(&[]).into_string();
        assert!(empty.contains("No answered attempt"));
    }
}
