//! The outcome of one delivery attempt, as a type the batch handler maps to SQS actions.

use std::time::Duration;

/// What one HTTP attempt to a subscriber came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// 2xx: the subscriber has the event; it is never sent to this subscription again.
    Delivered { status: u16 },
    /// 410 Gone: the subscriber asked to stop; the subscription is disabled, not retried.
    Gone { status: u16 },
    /// Anything else: try again later, no sooner than `retry_after` when the subscriber said so.
    Retry {
        status: Option<u16>,
        reason: RetryReason,
        retry_after: Option<Duration>,
    },
}

/// Why an attempt is to be retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryReason {
    /// 429 Too Many Requests.
    Throttled,
    /// 5xx.
    ServerError,
    /// 3xx: redirects are never followed, so they are not deliveries.
    Redirect,
    /// Another 4xx: retried too, but usually needs the subscriber's owner to fix something.
    ClientError,
    /// No answer in time.
    Timeout,
    /// The connection failed (DNS, refused, reset, TLS).
    Connection,
    /// The target was refused before connecting (e.g. a private address).
    Blocked,
    /// Nothing was sent: the subscription cannot be delivered to as configured (its secret, URL
    /// or custom headers). Retried like the rest, so a fixed subscription gets the event.
    Misconfigured,
}

impl RetryReason {
    /// The name recorded in delivery records and logs; stored, so it never changes.
    pub fn as_str(self) -> &'static str {
        match self {
            RetryReason::Throttled => "throttled",
            RetryReason::ServerError => "server_error",
            RetryReason::Redirect => "redirect",
            RetryReason::ClientError => "client_error",
            RetryReason::Timeout => "timeout",
            RetryReason::Connection => "connection_error",
            RetryReason::Blocked => "blocked_target",
            RetryReason::Misconfigured => "misconfigured",
        }
    }
}

impl AttemptOutcome {
    /// An attempt that never reached the network, for `reason`.
    pub fn unsent(reason: RetryReason) -> Self {
        AttemptOutcome::Retry {
            status: None,
            reason,
            retry_after: None,
        }
    }

    /// The short name recorded in delivery records and logs; stored, so it never changes.
    pub fn label(&self) -> &'static str {
        match self {
            AttemptOutcome::Delivered { .. } => "delivered",
            AttemptOutcome::Gone { .. } => "gone",
            AttemptOutcome::Retry { reason, .. } => reason.as_str(),
        }
    }

    /// A delivery record's `status` after this attempt: `delivered`, `gone` or `failing`.
    pub fn record_status(&self) -> &'static str {
        match self {
            AttemptOutcome::Delivered { .. } => "delivered",
            AttemptOutcome::Gone { .. } => "gone",
            AttemptOutcome::Retry { .. } => "failing",
        }
    }

    /// Whether the event still has to reach this subscription.
    pub fn needs_retry(&self) -> bool {
        matches!(self, AttemptOutcome::Retry { .. })
    }

    /// Whether the subscriber has the event.
    pub fn is_delivered(&self) -> bool {
        matches!(self, AttemptOutcome::Delivered { .. })
    }

    /// The HTTP status the subscriber answered with, if it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            AttemptOutcome::Delivered { status } | AttemptOutcome::Gone { status } => Some(*status),
            AttemptOutcome::Retry { status, .. } => *status,
        }
    }
}

/// Classifies an HTTP answer. `retry_after` is the raw `Retry-After` header, if any.
pub fn classify_status(status: u16, retry_after: Option<&str>) -> AttemptOutcome {
    let reason = match status {
        200..=299 => return AttemptOutcome::Delivered { status },
        410 => return AttemptOutcome::Gone { status },
        429 => RetryReason::Throttled,
        300..=399 => RetryReason::Redirect,
        500..=599 => RetryReason::ServerError,
        _ => RetryReason::ClientError,
    };
    AttemptOutcome::Retry {
        status: Some(status),
        reason,
        retry_after: retry_after.and_then(parse_retry_after_seconds),
    }
}

/// `Retry-After` in its delay-seconds form (RFC 9110 §10.2.3); HTTP dates are ignored, as the
/// schedule already bounds the wait.
fn parse_retry_after_seconds(value: &str) -> Option<Duration> {
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_map_to_outcomes() {
        assert_eq!(
            classify_status(200, None),
            AttemptOutcome::Delivered { status: 200 }
        );
        assert_eq!(
            classify_status(204, None),
            AttemptOutcome::Delivered { status: 204 }
        );
        assert_eq!(
            classify_status(410, None),
            AttemptOutcome::Gone { status: 410 }
        );
        for (status, reason) in [
            (429, RetryReason::Throttled),
            (500, RetryReason::ServerError),
            (503, RetryReason::ServerError),
            (301, RetryReason::Redirect),
            (400, RetryReason::ClientError),
            (404, RetryReason::ClientError),
        ] {
            assert_eq!(
                classify_status(status, None),
                AttemptOutcome::Retry {
                    status: Some(status),
                    reason,
                    retry_after: None
                }
            );
        }
    }

    #[test]
    fn every_outcome_keeps_the_label_stored_in_delivery_records() {
        let labels: Vec<&str> = [
            AttemptOutcome::Delivered { status: 200 },
            AttemptOutcome::Gone { status: 410 },
        ]
        .into_iter()
        .chain(
            [
                RetryReason::Throttled,
                RetryReason::ServerError,
                RetryReason::Redirect,
                RetryReason::ClientError,
                RetryReason::Timeout,
                RetryReason::Connection,
                RetryReason::Blocked,
                RetryReason::Misconfigured,
            ]
            .map(AttemptOutcome::unsent),
        )
        .map(|outcome| outcome.label())
        .collect();
        assert_eq!(
            labels,
            [
                "delivered",
                "gone",
                "throttled",
                "server_error",
                "redirect",
                "client_error",
                "timeout",
                "connection_error",
                "blocked_target",
                "misconfigured",
            ]
        );
    }

    #[test]
    fn the_status_is_the_answer_if_there_was_one() {
        assert_eq!(classify_status(204, None).status(), Some(204));
        assert_eq!(classify_status(410, None).status(), Some(410));
        assert_eq!(classify_status(503, None).status(), Some(503));
        assert_eq!(AttemptOutcome::unsent(RetryReason::Timeout).status(), None);
        assert!(classify_status(204, None).is_delivered());
        assert!(!classify_status(410, None).is_delivered());
    }

    #[test]
    fn retry_after_seconds_are_read_and_dates_ignored() {
        let AttemptOutcome::Retry { retry_after, .. } = classify_status(429, Some(" 120 ")) else {
            panic!("429 is retried");
        };
        assert_eq!(retry_after, Some(Duration::from_secs(120)));
        let AttemptOutcome::Retry { retry_after, .. } =
            classify_status(503, Some("Wed, 21 Oct 2015 07:28:00 GMT"))
        else {
            panic!("503 is retried");
        };
        assert_eq!(retry_after, None);
    }
}
