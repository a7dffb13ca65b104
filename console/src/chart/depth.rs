//! The dead-letter queue's depth over time, sampled while a page asks for it (the charts page
//! polls every few seconds), kept in memory for this launch only, drawn as a step line.

use std::collections::VecDeque;
use std::time::{Duration, SystemTime};

use maud::{Markup, html};

use crate::chart::scale_max;

/// Samples kept: two hours at one every five seconds.
pub const CAPACITY: usize = 1_440;
/// Samples closer than this replace the last one (two tabs polling make one line).
pub const SPACING: Duration = Duration::from_secs(2);

const WIDTH: u32 = 720;
const HEIGHT: u32 = 160;
const LEFT: u32 = 40;
const TOP: u32 = 8;
const BOTTOM: u32 = 24;

/// One reading of the queue's approximate depth.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sample {
    pub at: SystemTime,
    pub depth: u64,
}

/// The readings of this launch, oldest first.
#[derive(Debug, Clone, Default)]
pub struct DepthSeries {
    samples: VecDeque<Sample>,
}

impl DepthSeries {
    /// Adds a reading; one within [`SPACING`] of the last replaces it, and past [`CAPACITY`]
    /// the oldest is dropped. A reading older than the last (a slow answer) is left out.
    pub fn record(&mut self, at: SystemTime, depth: u64) {
        if let Some(last) = self.samples.back_mut() {
            match at.duration_since(last.at) {
                Err(_) => return,
                Ok(since) if since < SPACING => {
                    last.depth = depth;
                    return;
                }
                Ok(_) => {}
            }
        }
        self.samples.push_back(Sample { at, depth });
        while self.samples.len() > CAPACITY {
            self.samples.pop_front();
        }
    }

    pub fn samples(&self) -> impl ExactSizeIterator<Item = &Sample> {
        self.samples.iter()
    }
}

fn clock(at: SystemTime) -> String {
    let text = humantime::format_rfc3339_seconds(at).to_string();
    // `2026-11-22T08:37:12Z`: the time of day is at 11..19.
    text.get(11..19).unwrap_or("??").to_owned()
}

/// The step line from the first reading to the last, each reading a point with its value in a
/// `<title>`.
pub fn svg(series: &DepthSeries) -> Markup {
    let samples: Vec<Sample> = series.samples().copied().collect();
    let max = scale_max(samples.iter().map(|s| s.depth).max().unwrap_or(0));
    let plot_width = WIDTH - LEFT;
    let plot_height = HEIGHT - TOP - BOTTOM;
    let base = TOP + plot_height;
    let (first, last) = match (samples.first(), samples.last()) {
        (Some(f), Some(l)) => (f.at, l.at),
        _ => (SystemTime::UNIX_EPOCH, SystemTime::UNIX_EPOCH),
    };
    let span = last
        .duration_since(first)
        .unwrap_or_default()
        .as_millis()
        .max(1);
    let x = |at: SystemTime| {
        let since = at.duration_since(first).unwrap_or_default().as_millis();
        LEFT + (since * u128::from(plot_width) / span) as u32
    };
    let y = |depth: u64| base - (depth * u64::from(plot_height)).div_ceil(max) as u32;
    let mut points = Vec::with_capacity(samples.len() * 2);
    for (i, s) in samples.iter().enumerate() {
        if i > 0 {
            points.push(format!("{},{}", x(s.at), y(samples[i - 1].depth)));
        }
        points.push(format!("{},{}", x(s.at), y(s.depth)));
    }
    let latest = samples.last().map(|s| s.depth);
    html! {
        svg #depth-svg data-testid="depth-chart" xmlns="http://www.w3.org/2000/svg"
            viewBox=(format!("0 0 {WIDTH} {HEIGHT}")) role="img"
            aria-labelledby="depth-chart-title" class="chart" data-samples=(samples.len()) {
            title #depth-chart-title {
                "Dead-letter queue depth while the console was open: "
                (samples.len()) " reading(s)"
                @if let Some(latest) = latest { ", latest " (latest) }
            }
            line class="axis" x1=(LEFT) y1=(base) x2=(WIDTH) y2=(base) {}
            text class="axis-label" x=(LEFT - 6) y=(TOP + 10) text-anchor="end" { (max) }
            text class="axis-label" x=(LEFT - 6) y=(base) text-anchor="end" { "0" }
            @if let (Some(f), Some(l)) = (samples.first(), samples.last()) {
                text class="axis-label" x=(LEFT) y=(HEIGHT - 6) { (clock(f.at)) }
                text class="axis-label" x=(WIDTH) y=(HEIGHT - 6) text-anchor="end" { (clock(l.at)) " UTC" }
            }
            polyline class="depth-line" fill="none" points=(points.join(" ")) {}
            @for s in &samples {
                circle class="depth-point" cx=(x(s.at)) cy=(y(s.depth)) r="3" data-depth=(s.depth) {
                    title { (clock(s.at)) " UTC: " (s.depth) }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000 + secs)
    }

    #[test]
    fn close_readings_replace_the_last_and_late_ones_are_left_out() {
        let mut series = DepthSeries::default();
        series.record(at(0), 5);
        series.record(at(1), 6);
        series.record(at(5), 7);
        series.record(at(4), 99);
        let got: Vec<(SystemTime, u64)> = series.samples().map(|s| (s.at, s.depth)).collect();
        assert_eq!(got, vec![(at(0), 6), (at(5), 7)]);
    }

    #[test]
    fn the_oldest_reading_goes_past_the_capacity() {
        let mut series = DepthSeries::default();
        for i in 0..=CAPACITY as u64 {
            series.record(at(i * 5), i);
        }
        assert_eq!(series.samples().len(), CAPACITY);
        assert_eq!(series.samples().next().map(|s| s.depth), Some(1));
    }

    #[test]
    fn the_line_steps_through_every_reading_with_its_value_in_text() {
        let mut series = DepthSeries::default();
        series.record(at(0), 3);
        series.record(at(10), 0);
        let svg = svg(&series).into_string();
        assert_eq!(svg.matches("<circle").count(), 2);
        assert!(svg.contains(r#"data-depth="3""#) && svg.contains(r#"data-depth="0""#));
        assert!(svg.contains("2 reading(s), latest 0"), "{svg}");
        // 3 of a scale of 4 is 96 of the 128 pixels above the axis (y 136): across at y 40 to
        // the second reading, then down to 0.
        assert!(svg.contains(r#"points="40,40 720,40 720,136""#), "{svg}");
        assert!(!svg.contains("style="));
    }

    #[test]
    fn no_reading_draws_an_empty_axis() {
        let svg = svg(&DepthSeries::default()).into_string();
        assert!(svg.contains("0 reading(s)"));
        assert!(svg.contains(r#"points="""#));
    }
}
