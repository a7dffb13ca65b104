//! Why a pattern is refused, and where: the JSON path of the offending key.

use std::fmt::Write as _;

/// Why a pattern is refused: `path` is the JSON path of the offending key, e.g.
/// `body.amount[0].numeric`, or `$` for the pattern as a whole (not JSON, too large).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("pattern at `{path}`: {reason}")]
pub struct PatternError {
    pub path: String,
    pub reason: String,
}

/// One step of a path inside the pattern: an object key or an array index.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Step<'a> {
    Key(&'a str),
    Index(usize),
}

/// The path from the pattern's root to the value being compiled. Rendered only when a refusal
/// needs it, so a valid pattern costs no formatting.
#[derive(Debug, Default)]
pub(crate) struct Path<'a> {
    steps: Vec<Step<'a>>,
}

impl<'a> Path<'a> {
    pub(crate) fn push(&mut self, step: Step<'a>) {
        self.steps.push(step);
    }

    pub(crate) fn pop(&mut self) {
        self.steps.pop();
    }

    /// A refusal at the current path.
    pub(crate) fn refuse(&self, reason: impl Into<String>) -> PatternError {
        PatternError {
            path: self.render(),
            reason: reason.into(),
        }
    }

    /// A refusal one step below the current path (the key of an operator, an item of a list).
    pub(crate) fn refuse_at(&self, step: Step<'_>, reason: impl Into<String>) -> PatternError {
        let mut path = self.render_steps();
        push_step(&mut path, step);
        PatternError {
            path,
            reason: reason.into(),
        }
    }

    fn render(&self) -> String {
        let path = self.render_steps();
        if path.is_empty() {
            ROOT.to_owned()
        } else {
            path
        }
    }

    fn render_steps(&self) -> String {
        let mut path = String::new();
        for step in &self.steps {
            push_step(&mut path, *step);
        }
        path
    }
}

/// How the pattern as a whole is named in a refusal.
pub(crate) const ROOT: &str = "$";

pub(crate) fn root_error(reason: impl Into<String>) -> PatternError {
    PatternError {
        path: ROOT.to_owned(),
        reason: reason.into(),
    }
}

fn push_step(path: &mut String, step: Step<'_>) {
    match step {
        Step::Key(key) => {
            if !path.is_empty() {
                path.push('.');
            }
            path.push_str(key);
        }
        Step::Index(index) => {
            // Writing to a String cannot fail.
            let _ = write!(path, "[{index}]");
        }
    }
}
