//! What Hookpost's tests and benches stand on; a dev-dependency only, never in a shipped binary.
//!
//! - [`subscriber`]: the capturing subscriber, told by the test to fail, stall, answer 410,
//!   throttle or redirect, and subscribed straight in the stack's table.
//! - [`queue`]: a queue's depth, and draining it.
//! - [`poll`]: waiting until something holds.
//! - [`journal`]: the poller's invocations written down, for the chaos run.
//! - [`proxy`]: a proxy before the emulator that counts the calls and injects faults.

pub mod journal;
pub mod poll;
pub mod proxy;
pub mod queue;
pub mod subscriber;

pub use journal::{Handling, Journal};
pub use poll::eventually;
pub use queue::{drain, queue_depth};
pub use subscriber::{Received, Reply, Subscriber, start_subscribed, start_subscribed_with};
