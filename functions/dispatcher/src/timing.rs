//! Time: how long an attempt may take (its subscription's limit, cut short by the invocation's
//! deadline), and how long a failed record stays invisible before its next receive (the retry
//! schedule by receive count, jittered, with the subscriber's `Retry-After` and the last receive
//! taken into account).

use std::time::{Duration, SystemTime};

use aws_lambda_events::event::sqs::SqsMessage;
use hookpost_shared::delivery::visibility_after;
use hookpost_shared::store::{BodyStore, DeliveryLog, EventArchive, SubscriptionStore, Visibility};
use tracing::{info, warn};

use crate::Dispatcher;

/// The SQS attribute the retry schedule is indexed by.
pub const RECEIVE_COUNT_ATTRIBUTE: &str = "ApproximateReceiveCount";

/// Time kept back from the invocation deadline to set visibility delays and answer Lambda.
const DEADLINE_MARGIN: Duration = Duration::from_secs(2);
/// With less time than this left, an attempt is not started: it could only time out.
const MIN_ATTEMPT: Duration = Duration::from_millis(250);

/// The most one attempt at a subscription may take: its own timeout, never above the configured
/// one (a zero of its own is ignored).
pub fn attempt_limit(configured: Duration, own_seconds: Option<u64>) -> Duration {
    own_seconds
        .filter(|s| *s > 0)
        .map_or(configured, |s| Duration::from_secs(s).min(configured))
}

/// How long the next attempt may take: the configured timeout, cut short so the invocation can
/// still answer before `deadline`; `None` when there is no useful time left.
pub fn attempt_budget(
    now: SystemTime,
    deadline: Option<SystemTime>,
    attempt_timeout: Duration,
) -> Option<Duration> {
    let Some(deadline) = deadline else {
        return Some(attempt_timeout);
    };
    let left = deadline
        .duration_since(now)
        .ok()?
        .checked_sub(DEADLINE_MARGIN)?;
    (left >= MIN_ATTEMPT).then(|| left.min(attempt_timeout))
}

impl<S, L, V, B, E> Dispatcher<S, L, V, B, E>
where
    S: SubscriptionStore,
    L: DeliveryLog,
    V: Visibility,
    B: BodyStore,
    E: EventArchive,
{
    /// Keeps a failed record invisible for the schedule's delay; `carried` receives were spent
    /// on failures by the copies it was deferred from.
    pub(crate) async fn back_off(
        &self,
        message: &SqsMessage,
        retry_after: Option<Duration>,
        carried: u32,
    ) {
        let Some(receipt_handle) = message.receipt_handle.as_deref() else {
            warn!("the record has no receipt handle; the queue's visibility timeout applies");
            return;
        };
        let receive_count = receive_count(message) + carried;
        let delay = visibility_after(
            &self.config.retry,
            receive_count,
            self.config.max_receive_count,
            retry_after,
            jitter(),
        );
        let seconds = visibility_seconds(delay);
        match self.visibility.delay(receipt_handle, seconds).await {
            Ok(()) if delay.is_zero() => info!(
                receive_count,
                "last receive failed: the record goes to the dead-letter queue"
            ),
            Ok(()) => info!(receive_count, delay_secs = seconds, "will retry"),
            Err(e) => warn!(
                receive_count,
                error = %e,
                "delaying the retry failed; the queue's visibility timeout applies"
            ),
        }
    }
}

/// The record's `ApproximateReceiveCount` (1 when absent or unreadable).
pub(crate) fn receive_count(message: &SqsMessage) -> u32 {
    message
        .attributes
        .get(RECEIVE_COUNT_ATTRIBUTE)
        .and_then(|count| count.trim().parse().ok())
        .unwrap_or(1)
}

/// A delay as whole seconds for `ChangeMessageVisibility`, rounded to the nearest.
fn visibility_seconds(delay: Duration) -> i32 {
    let rounded = delay.as_secs() + u64::from(delay.subsec_millis() >= 500);
    i32::try_from(rounded).unwrap_or(i32::MAX)
}

/// A sample from `[0, 1)`; jitter only spreads retries, so a failing RNG falls back to the middle.
fn jitter() -> f64 {
    getrandom::u64().map_or(0.5, |r| (r >> 11) as f64 / (1u64 << 53) as f64)
}

#[cfg(test)]
mod tests {
    use hookpost_shared::clock::{Clock as _, FixedClock};
    use hookpost_shared::delivery::classify_status;
    use hookpost_shared::envelope::EncodedBody;

    use super::*;
    use crate::Config;
    use crate::test_support::*;

    #[tokio::test]
    async fn a_failing_subscriber_fails_the_record_and_delays_it_by_the_schedule() {
        let subscriber = Subscriber::start(Answer::Status(500)).await;
        let world = World::with(vec![subscription("sub_a", &subscriber.url())]);
        let config = Config {
            retry: "10s,100s".parse().expect("valid"),
            ..local_config()
        };
        let body = envelope("evt_1", EncodedBody::Utf8(BODY.to_owned())).encode();

        let response = world
            .dispatcher(config)
            .handle(batch(vec![message("m-1", &body, 2)]), None)
            .await;

        assert_eq!(failed_ids(&response), vec!["m-1"]);
        let delays = world.delays();
        assert_eq!(delays.len(), 1);
        assert_eq!(delays[0].0, "rh-m-1");
        // The second receive waits the second entry, ±20 % jitter.
        assert!((80..=120).contains(&delays[0].1), "{delays:?}");
        let attempts = world.attempts();
        assert_eq!(attempts[0].outcome, classify_status(500, None));
        assert!(!attempts[0].outcome.is_delivered());
    }

    #[tokio::test]
    async fn retry_after_from_the_subscriber_lengthens_the_delay() {
        let subscriber = Subscriber::start(Answer::WithHeaders(
            429,
            vec![("retry-after", "50".to_owned())],
        ))
        .await;
        let world = World::with(vec![subscription("sub_a", &subscriber.url())]);
        let config = Config {
            retry: "1s,100s".parse().expect("valid"),
            ..local_config()
        };

        let response = world
            .dispatcher(config)
            .handle(batch(vec![record("m-1", "evt_1")]), None)
            .await;

        assert_eq!(failed_ids(&response), vec!["m-1"]);
        assert_eq!(world.delays(), vec![("rh-m-1".to_owned(), 50)]);
        assert_eq!(world.attempts()[0].outcome.label(), "throttled");
    }

    #[tokio::test]
    async fn the_last_allowed_receive_is_not_delayed_so_it_reaches_the_dead_letter_queue_promptly()
    {
        let subscriber = Subscriber::start(Answer::Status(500)).await;
        let world = World::with(vec![subscription("sub_a", &subscriber.url())]);
        let config = Config {
            retry: "10s,12h".parse().expect("valid"),
            max_receive_count: Some(3),
            ..local_config()
        };
        let body = envelope("evt_1", EncodedBody::Utf8(BODY.to_owned())).encode();

        world
            .dispatcher(config)
            .handle(
                batch(vec![message("m-2", &body, 2), message("m-3", &body, 3)]),
                None,
            )
            .await;

        let mut delays = world.delays();
        delays.sort();
        assert_eq!(delays[1], ("rh-m-3".to_owned(), 0));
        assert_eq!(delays[0].0, "rh-m-2");
        assert!(delays[0].1 > 30_000, "{delays:?}");
    }

    #[tokio::test]
    async fn a_subscription_timeout_shorter_than_the_configured_one_cuts_the_attempt_short() {
        let subscriber = Subscriber::start(Answer::Stall).await;
        let mut sub = subscription("sub_slow", &subscriber.url());
        sub.timeout_seconds = Some(1);
        let world = World::with(vec![sub]);

        let response = world
            .dispatcher(Config {
                attempt_timeout: Duration::from_secs(30),
                ..local_config()
            })
            .handle(batch(vec![record("m-1", "evt_1")]), None)
            .await;

        assert_eq!(failed_ids(&response), vec!["m-1"]);
        assert_eq!(world.attempts()[0].outcome.label(), "timeout");
    }

    #[test]
    fn a_subscription_timeout_never_exceeds_the_configured_one() {
        let configured = Duration::from_secs(15);
        assert_eq!(attempt_limit(configured, None), configured);
        assert_eq!(attempt_limit(configured, Some(5)), Duration::from_secs(5));
        assert_eq!(attempt_limit(configured, Some(60)), configured);
        assert_eq!(attempt_limit(configured, Some(0)), configured);
    }

    #[tokio::test]
    async fn nothing_is_attempted_when_the_invocation_is_about_to_time_out() {
        let subscriber = Subscriber::start(Answer::Status(200)).await;
        let world = World::with(vec![subscription("sub_a", &subscriber.url())]);
        let almost_over = FixedClock::at_unix(NOW).now() + Duration::from_secs(1);

        let response = world
            .dispatcher(local_config())
            .handle(batch(vec![record("m-1", "evt_1")]), Some(almost_over))
            .await;

        assert_eq!(failed_ids(&response), vec!["m-1"]);
        assert!(subscriber.requests().is_empty());
        assert!(world.attempts().is_empty());
        assert_eq!(world.delays().len(), 1);
    }

    #[test]
    fn the_attempt_timeout_is_cut_short_by_the_invocation_deadline() {
        let now = FixedClock::at_unix(NOW).now();
        let timeout = Duration::from_secs(15);
        assert_eq!(attempt_budget(now, None, timeout), Some(timeout));
        assert_eq!(
            attempt_budget(now, Some(now + Duration::from_secs(60)), timeout),
            Some(timeout)
        );
        assert_eq!(
            attempt_budget(now, Some(now + Duration::from_secs(7)), timeout),
            Some(Duration::from_secs(5))
        );
        assert_eq!(
            attempt_budget(now, Some(now + Duration::from_secs(2)), timeout),
            None
        );
        assert_eq!(
            attempt_budget(now, Some(now - Duration::from_secs(1)), timeout),
            None
        );
    }

    #[test]
    fn the_receive_count_defaults_to_the_first_receive() {
        let mut m = message("m", "{}", 4);
        assert_eq!(receive_count(&m), 4);
        m.attributes.clear();
        assert_eq!(receive_count(&m), 1);
        m.attributes
            .insert(RECEIVE_COUNT_ATTRIBUTE.to_owned(), "lots".to_owned());
        assert_eq!(receive_count(&m), 1);
    }

    #[test]
    fn visibility_delays_are_rounded_to_whole_seconds_and_jitter_is_in_range() {
        assert_eq!(visibility_seconds(Duration::from_millis(4_400)), 4);
        assert_eq!(visibility_seconds(Duration::from_millis(4_500)), 5);
        assert_eq!(visibility_seconds(Duration::from_secs(43_200)), 43_200);
        for _ in 0..100 {
            let j = jitter();
            assert!((0.0..1.0).contains(&j), "{j}");
        }
    }
}
