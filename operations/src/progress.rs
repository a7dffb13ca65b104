//! How a long operation (a redrive, a recovery) reports progress: the CLI draws a bar on a
//! terminal, the API reports nothing.

/// Told how much there is to do and each unit done.
pub trait Progress: Send + Sync {
    /// The total, when it becomes known (an estimate for a queue).
    fn total(&self, total: u64);
    /// `n` more units are done.
    fn advance(&self, n: u64);
}

/// Reports nothing.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoProgress;

impl Progress for NoProgress {
    fn total(&self, _: u64) {}
    fn advance(&self, _: u64) {}
}
