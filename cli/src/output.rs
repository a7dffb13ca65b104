//! How results are printed: JSON for scripts (stable field names), tables for people (columns
//! sized by comfy-table), progress bars on a terminal only. Logs go to stderr, never here.

use std::io::IsTerminal as _;

use clap::ValueEnum;
use comfy_table::{ContentArrangement, Table, presets};
use hookpost_operations::Progress;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use serde::Serialize;

use crate::CliError;

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// Columns for people.
    Table,
    /// JSON for scripts (stable field names).
    Json,
}

impl Output {
    /// Prints `value` as JSON, or runs `table` to print it for people.
    pub fn show<T: Serialize>(self, value: &T, table: impl FnOnce(&T)) -> Result<(), CliError> {
        match self {
            Output::Json => {
                let json = serde_json::to_string(value)
                    .map_err(|e| CliError::Failed(format!("writing JSON: {e}")))?;
                println!("{json}");
            }
            Output::Table => table(value),
        }
        Ok(())
    }

    /// A progress bar for `what` on a terminal (stderr) when people read the output; nothing
    /// otherwise.
    pub fn progress(self, what: &str) -> Bar {
        if self == Output::Json || !std::io::stderr().is_terminal() {
            return Bar(ProgressBar::hidden());
        }
        let bar = ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr());
        if let Ok(style) =
            ProgressStyle::with_template(&format!("{{bar:40}} {{pos}}/{{len}} {what}"))
        {
            bar.set_style(style);
        }
        Bar(bar)
    }
}

/// A table with a header row and columns sized to their content, no borders and no colour.
pub fn table<const N: usize>(header: [&str; N]) -> Table {
    let mut table = Table::new();
    table
        .load_style(presets::NOTHING)
        .set_content_arrangement(ContentArrangement::Disabled)
        .set_header(header);
    table
}

/// Prints a table, trimming the padding comfy-table leaves at the ends of lines.
pub fn print_table(table: &Table) {
    for line in table.lines() {
        println!("{}", line.trim_end());
    }
}

/// A text cell for an optional value.
pub fn or_dash(value: Option<impl ToString>) -> String {
    value.map_or_else(|| "-".to_owned(), |v| v.to_string())
}

/// How long ago an instant was, roughly (`42s`, `3m`, `2h`, `5d`).
pub fn age(seconds: u64) -> String {
    match seconds {
        0..60 => format!("{seconds}s"),
        60..3600 => format!("{}m", seconds / 60),
        3600..86400 => format!("{}h", seconds / 3600),
        _ => format!("{}d", seconds / 86400),
    }
}

/// How long ago an RFC 3339 instant was (`3m ago`); the instant itself when unreadable.
pub fn ago(at: &str) -> String {
    hookpost_operations::time::age_seconds(at, std::time::SystemTime::now())
        .map_or_else(|| at.to_owned(), |s| format!("{} ago", age(s)))
}

/// indicatif's bar as the core's [`Progress`].
#[derive(Debug)]
pub struct Bar(ProgressBar);

impl Bar {
    pub fn finish(&self) {
        self.0.finish_and_clear();
    }
}

impl Progress for Bar {
    fn total(&self, total: u64) {
        self.0.set_length(total);
    }

    fn advance(&self, n: u64) {
        self.0.inc(n);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_cell_widens_its_column_instead_of_breaking_the_row() {
        let id = "a".repeat(64);
        let mut t = table(["SOURCE", "PROVIDER"]);
        t.add_row([id.as_str(), "github"]);
        t.add_row(["gh", "stripe"]);
        let lines: Vec<String> = t.lines().map(|l| l.trim_end().to_owned()).collect();
        let column = |line: &str, word: &str| line.find(word).expect("cell present");
        assert_eq!(column(&lines[1], "github"), column(&lines[2], "stripe"));
        assert_eq!(column(&lines[0], "PROVIDER"), column(&lines[2], "stripe"));
    }

    #[test]
    fn ages_are_rounded_to_one_unit() {
        assert_eq!(age(42), "42s");
        assert_eq!(age(3 * 60 + 5), "3m");
        assert_eq!(age(2 * 3600), "2h");
        assert_eq!(age(5 * 86400 + 1), "5d");
    }
}
