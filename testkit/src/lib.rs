//! What Hookpost's tests and benches stand on; a dev-dependency only, never in a shipped binary.
//!
//! - [`subscriber`]: the capturing subscriber, told by the test to fail, stall, answer 410,
//!   throttle or redirect, and subscribed straight in the stack's table.
//! - [`queue`]: a queue's depth, and draining it.
//! - [`poll`]: waiting until something holds.
//! - [`journal`]: the poller's invocations written down, for the chaos run.
//! - [`proxy`]: a proxy before the emulator that counts the calls and injects faults.
//! - [`sigv4`]: a client that signs its requests to a local stack's `/v1` with SigV4.
//! - [`browser`]: headless Chromium over WebDriver, for the pages the console serves.

pub mod browser;
pub mod journal;
pub mod poll;
pub mod proxy;
pub mod queue;
pub mod sigv4;
pub mod subscriber;

pub use browser::{Browser, BrowserError};
pub use journal::{Handling, Journal};
pub use poll::eventually;
pub use queue::{drain, queue_depth};
pub use sigv4::SignedClient;
pub use subscriber::{Received, Reply, Subscriber, start_subscribed, start_subscribed_with};
