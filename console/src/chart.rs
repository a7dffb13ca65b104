//! Deliveries per hour over the last 24 hours or 7 days, delivered against failed, as an SVG
//! drawn on the server: no script, no external origin, and a text alternative for every bar.

pub mod depth;
pub mod latency;

use std::time::{Duration, SystemTime};

use maud::{Markup, html};

/// The windows the chart covers, in hours.
pub const DAY_HOURS: usize = 24;
pub const WEEK_HOURS: usize = 7 * 24;
const HOUR: Duration = Duration::from_secs(3600);

const WIDTH: u32 = 720;
const HEIGHT: u32 = 220;
/// Room for the axis labels.
const LEFT: u32 = 40;
const BOTTOM: u32 = 24;
const TOP: u32 = 8;

/// Attempts in one hour.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Bucket {
    pub delivered: u64,
    pub failed: u64,
}

/// Attempts per hour, oldest hour first; the last bucket ends at `end`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hourly {
    pub end: SystemTime,
    pub buckets: Vec<Bucket>,
}

impl Hourly {
    /// `hours` empty buckets ending at `end`.
    pub fn new(end: SystemTime, hours: usize) -> Self {
        Self {
            end,
            buckets: vec![Bucket::default(); hours.max(1)],
        }
    }

    pub fn hours(&self) -> usize {
        self.buckets.len()
    }

    /// Counts an attempt made at `at` (RFC 3339); one outside the window is left out.
    pub fn add(&mut self, at: &str, delivered: bool) {
        let Ok(at) = humantime::parse_rfc3339_weak(at) else {
            return;
        };
        let Ok(before_end) = self.end.duration_since(at) else {
            return;
        };
        let hours_back = (before_end.as_secs() / HOUR.as_secs()) as usize;
        let hours = self.hours();
        if hours_back >= hours {
            return;
        }
        let bucket = &mut self.buckets[hours - 1 - hours_back];
        if delivered {
            bucket.delivered += 1;
        } else {
            bucket.failed += 1;
        }
    }

    pub fn total(&self) -> Bucket {
        self.buckets
            .iter()
            .fold(Bucket::default(), |sum, b| Bucket {
                delivered: sum.delivered + b.delivered,
                failed: sum.failed + b.failed,
            })
    }

    /// The hour a bucket starts at, as `HH:00` UTC, with the day (`MM-DD HH:00`) on a week.
    fn label(&self, index: usize) -> String {
        let start = self.end - HOUR * (self.hours() - index) as u32;
        let text = humantime::format_rfc3339_seconds(start).to_string();
        // `2026-11-22T08:37:00Z`: the month and day are at 5..10, the hour at 11..13.
        let hour = text.get(11..13).unwrap_or("??");
        if self.hours() > DAY_HOURS {
            format!("{} {hour}:00", text.get(5..10).unwrap_or("??"))
        } else {
            format!("{hour}:00")
        }
    }

    /// Every how many bars an axis label fits: six labels on any window.
    fn label_every(&self) -> usize {
        (self.hours() / 6).max(1)
    }
}

/// The tallest bar's height as a round number, so the axis reads well.
pub(crate) fn scale_max(max: u64) -> u64 {
    match max {
        0..=4 => 4,
        n => {
            let magnitude = 10u64.pow(n.ilog10());
            n.div_ceil(magnitude) * magnitude
        }
    }
}

/// The chart: a stacked bar per hour (delivered solid, failed hatched, so the two differ without
/// colour), each with a `<title>` that states its counts.
pub fn svg(hourly: &Hourly) -> Markup {
    let max = scale_max(
        hourly
            .buckets
            .iter()
            .map(|b| b.delivered + b.failed)
            .max()
            .unwrap_or(0),
    );
    let plot_height = HEIGHT - BOTTOM - TOP;
    let hours = hourly.hours() as u32;
    // Whole pixels per bar; a week's bars touch, a day's have a gap.
    let slot = ((WIDTH - LEFT) / hours).max(1);
    let gap = if slot > 8 { 4 } else { 0 };
    let bar = slot - gap;
    let every = hourly.label_every();
    let height = |n: u64| (n * u64::from(plot_height)).div_ceil(max) as u32;
    let total = hourly.total();
    html! {
        svg #deliveries-chart data-testid="deliveries-chart" xmlns="http://www.w3.org/2000/svg"
            viewBox=(format!("0 0 {WIDTH} {HEIGHT}")) role="img"
            aria-labelledby="deliveries-chart-title" class="chart" {
            title #deliveries-chart-title {
                "Deliveries per hour over the last " (window_words(hourly.hours())) ": "
                (total.delivered) " delivered, " (total.failed) " failed"
            }
            defs {
                pattern #hatch-failed patternUnits="userSpaceOnUse" width="6" height="6"
                    patternTransform="rotate(45)" {
                    rect class="hatch-back" width="6" height="6" {}
                    line class="hatch-line" x1="0" y1="0" x2="0" y2="6" stroke-width="3" {}
                }
            }
            line class="axis" x1=(LEFT) y1=(TOP + plot_height) x2=(WIDTH) y2=(TOP + plot_height) {}
            text class="axis-label" x=(LEFT - 6) y=(TOP + 10) text-anchor="end" { (max) }
            text class="axis-label" x=(LEFT - 6) y=(TOP + plot_height) text-anchor="end" { "0" }
            @for (i, b) in hourly.buckets.iter().enumerate() {
                @let x = LEFT + i as u32 * slot + gap / 2;
                @let delivered = height(b.delivered);
                @let failed = height(b.failed);
                @let base = TOP + plot_height;
                g data-hour=(hourly.label(i)) data-delivered=(b.delivered) data-failed=(b.failed) {
                    title { (hourly.label(i)) " UTC: " (b.delivered) " delivered, " (b.failed) " failed" }
                    rect class="bar-delivered" x=(x) y=(base - delivered) width=(bar) height=(delivered) {}
                    rect class="bar-failed" fill="url(#hatch-failed)" x=(x) y=(base - delivered - failed)
                        width=(bar) height=(failed) {}
                    @if i % every == 0 {
                        text class="axis-label" x=(x) y=(HEIGHT - 6) { (hourly.label(i)) }
                    }
                }
            }
        }
    }
}

/// "24 hours" or "7 days".
pub fn window_words(hours: usize) -> String {
    if hours.is_multiple_of(DAY_HOURS) && hours > DAY_HOURS {
        format!("{} days", hours / DAY_HOURS)
    } else {
        format!("{hours} hours")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> SystemTime {
        humantime::parse_rfc3339(text).expect("instant")
    }

    #[test]
    fn attempts_fall_in_their_hour_and_older_ones_are_left_out() {
        let mut hourly = Hourly::new(at("2026-11-22T12:00:00Z"), DAY_HOURS);
        hourly.add("2026-11-22T11:59:59Z", true);
        hourly.add("2026-11-22T11:00:00.500Z", false);
        hourly.add("2026-11-21T12:00:01Z", true);
        hourly.add("2026-11-21T11:59:59Z", true);
        hourly.add("2026-11-22T12:00:01Z", true);
        hourly.add("not a time", true);
        assert_eq!(
            hourly.buckets[23],
            Bucket {
                delivered: 1,
                failed: 1
            }
        );
        assert_eq!(
            hourly.buckets[0],
            Bucket {
                delivered: 1,
                failed: 0
            }
        );
        assert_eq!(
            hourly.total(),
            Bucket {
                delivered: 2,
                failed: 1
            }
        );
    }

    #[test]
    fn the_svg_has_a_bar_per_hour_with_its_counts_in_text() {
        let mut hourly = Hourly::new(at("2026-11-22T12:00:00Z"), DAY_HOURS);
        hourly.add("2026-11-22T11:30:00Z", true);
        hourly.add("2026-11-22T11:31:00Z", false);
        let svg = svg(&hourly).into_string();
        assert_eq!(svg.matches("<g data-hour=").count(), DAY_HOURS);
        assert!(svg.contains("11:00 UTC: 1 delivered, 1 failed"), "{svg}");
        assert!(svg.contains("12:00 UTC: 0 delivered, 0 failed"), "{svg}");
        assert!(svg.contains("1 delivered, 1 failed</title>"));
        assert!(!svg.contains("style="), "the CSP allows no inline style");
        assert_eq!(
            svg.matches("http").count(),
            1,
            "no other origin than the SVG namespace"
        );
    }

    #[test]
    fn a_week_has_a_bar_per_hour_labelled_with_its_day() {
        let mut week = Hourly::new(at("2026-11-22T12:00:00Z"), WEEK_HOURS);
        week.add("2026-11-15T12:30:00Z", true);
        week.add("2026-11-15T11:30:00Z", true);
        assert_eq!(week.buckets[0].delivered, 1, "the oldest hour of the week");
        assert_eq!(
            week.total().delivered,
            1,
            "the hour before the week is left out"
        );
        let svg = svg(&week).into_string();
        assert_eq!(svg.matches("<g data-hour=").count(), WEEK_HOURS);
        assert!(svg.contains("last 7 days: 1 delivered"), "{svg}");
        assert!(
            svg.contains("11-15 12:00 UTC: 1 delivered, 0 failed"),
            "{svg}"
        );
        assert_eq!(
            svg.matches("class=\"axis-label\" x=").count() - 2,
            6,
            "six hour labels and the two scale labels"
        );
    }

    #[test]
    fn an_empty_chart_still_draws_an_axis_and_divides_by_nothing() {
        let svg = svg(&Hourly::new(at("2026-11-22T12:00:00Z"), DAY_HOURS)).into_string();
        assert!(svg.contains("0 delivered, 0 failed"));
        assert!(svg.contains("height=\"0\""));
    }

    #[test]
    fn the_axis_maximum_is_a_round_number_at_or_above_the_tallest_bar() {
        for (max, round) in [
            (0, 4),
            (3, 4),
            (7, 7),
            (12, 20),
            (99, 100),
            (101, 200),
            (2500, 3000),
        ] {
            assert_eq!(scale_max(max), round, "{max}");
        }
    }
}
