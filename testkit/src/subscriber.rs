//! The capturing subscriber tests steer: the local stack's verifying, recording subscriber with a
//! scripted responder, so a test can make it fail (every time, or the next N times), stall past
//! the dispatcher's timeout, answer 410, throttle with Retry-After or redirect. Subscribed
//! straight in the stack's table, as the store writes a subscription.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use aws_config::SdkConfig;
use hookpost_local::subscriber::{self as local, Responder, SubscriberError, subscribe};
use hookpost_shared::deployment::StackNames;
use hookpost_shared::secret::SigningKey;
use hookpost_shared::source::SourceId;

pub use hookpost_local::subscriber::{Received, Reply};

/// The answers a test has scripted.
#[derive(Debug)]
struct Script {
    /// What verified deliveries get once the replies run out.
    status: AtomicU16,
    replies: Mutex<VecDeque<Reply>>,
}

impl Script {
    fn replies(&self) -> MutexGuard<'_, VecDeque<Reply>> {
        self.replies.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[derive(Debug, Clone)]
struct Scripted(Arc<Script>);

impl Responder for Scripted {
    fn reply(&self, _: &http::HeaderMap, _: &[u8]) -> Reply {
        self.0
            .replies()
            .pop_front()
            .unwrap_or_else(|| Reply::status(self.0.status.load(Ordering::SeqCst)))
    }
}

/// A running subscriber that answers as the test says (204 until told otherwise).
#[derive(Debug)]
pub struct Subscriber {
    /// `http://127.0.0.1:PORT/hook`.
    pub url: String,
    server: local::Subscriber,
    script: Arc<Script>,
}

impl Subscriber {
    /// A subscriber with a key of its own that no subscription knows, e.g. where a redirect
    /// points: whatever reaches it does not verify.
    pub async fn start() -> Result<Self, SubscriberError> {
        let key = SigningKey::generate().map_err(|e| SubscriberError::Randomness(e.to_string()))?;
        Self::verifying(&key).await
    }

    /// A subscriber that verifies deliveries with `key`.
    pub async fn verifying(key: &SigningKey) -> Result<Self, SubscriberError> {
        let script = Arc::new(Script {
            status: AtomicU16::new(204),
            replies: Mutex::default(),
        });
        let server = local::Subscriber::start_with(key, Scripted(Arc::clone(&script))).await?;
        Ok(Self {
            url: server.url.clone(),
            server,
            script,
        })
    }

    /// The status verified deliveries get from now on (204 by default).
    pub fn answer_with(&self, status: u16) {
        self.script.status.store(status, Ordering::SeqCst);
    }

    /// Answers the next verified deliveries with `replies`, in order (a status, headers such as
    /// `retry-after` or `location`, a delay to stall); then with the
    /// [`Subscriber::answer_with`] status again.
    pub fn then_reply(&self, replies: impl IntoIterator<Item = Reply>) {
        self.script.replies().extend(replies);
    }

    /// Every delivery so far.
    pub fn received(&self) -> Vec<Received> {
        self.server.received()
    }

    /// Waits until at least `count` deliveries arrived, or `timeout` passed; the deliveries so far.
    pub async fn wait_for(&self, count: usize, timeout: Duration) -> Vec<Received> {
        self.server.wait_for(count, timeout).await
    }

    pub fn stop(&self) {
        self.server.stop();
    }
}

/// Starts a subscriber with a fresh key and subscribes it to every event of `source`; the
/// subscriber and its subscription id.
pub async fn start_subscribed(
    sdk: &SdkConfig,
    names: &StackNames,
    source: &SourceId,
) -> Result<(Subscriber, String), SubscriberError> {
    let key = SigningKey::generate().map_err(|e| SubscriberError::Randomness(e.to_string()))?;
    start_subscribed_with(sdk, names, source, &key).await
}

/// [`start_subscribed`] with a signing key of the caller's.
pub async fn start_subscribed_with(
    sdk: &SdkConfig,
    names: &StackNames,
    source: &SourceId,
    key: &SigningKey,
) -> Result<(Subscriber, String), SubscriberError> {
    let subscriber = Subscriber::verifying(key).await?;
    let subscription_id = subscribe(sdk, names, source, &subscriber.url, key).await?;
    Ok((subscriber, subscription_id))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scripted() -> Scripted {
        Scripted(Arc::new(Script {
            status: AtomicU16::new(204),
            replies: Mutex::default(),
        }))
    }

    fn answer(responder: &Scripted) -> Reply {
        responder.reply(&http::HeaderMap::new(), b"{}")
    }

    #[test]
    fn scripted_replies_come_first_in_order_then_the_standing_status() {
        let responder = scripted();
        responder.0.replies().extend([
            Reply::status(503),
            Reply::status(429).header("retry-after", "4"),
        ]);
        responder.0.status.store(410, Ordering::SeqCst);

        assert_eq!(answer(&responder), Reply::status(503));
        assert_eq!(
            answer(&responder),
            Reply::status(429).header("retry-after", "4")
        );
        assert_eq!(answer(&responder), Reply::status(410));
        assert_eq!(answer(&responder), Reply::status(410));
    }

    #[test]
    fn an_unscripted_subscriber_acknowledges() {
        assert_eq!(answer(&scripted()), Reply::status(204));
    }
}
