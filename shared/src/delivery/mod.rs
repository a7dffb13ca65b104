//! The delivery policy: what an attempt's result means, and when to try again. Pure functions, so
//! the dispatcher's I/O code only carries out what these decide.

pub mod outcome;
pub mod rate;
pub mod retry;
pub mod ssrf;

pub use outcome::{AttemptOutcome, RetryReason, classify_status};
pub use rate::RateLimit;
pub use retry::{RetrySchedule, visibility_after};
pub use ssrf::{BlockedAddress, TargetPolicy, check_target};
