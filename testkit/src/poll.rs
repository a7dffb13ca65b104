//! Waiting for something asynchronous: poll a check until it holds or the time is up.

use std::time::Duration;

/// How long to wait between two checks.
const INTERVAL: Duration = Duration::from_millis(200);

/// Waits until `check` holds, polling; false if it never did within `timeout`.
pub async fn eventually<F, Fut>(timeout: Duration, mut check: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    while tokio::time::Instant::now() < deadline {
        if check().await {
            return true;
        }
        tokio::time::sleep(INTERVAL).await;
    }
    false
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;

    #[tokio::test]
    async fn a_check_that_comes_to_hold_is_seen_holding() {
        let calls = AtomicU32::new(0);
        let held = eventually(Duration::from_secs(5), || async {
            calls.fetch_add(1, Ordering::SeqCst) >= 2
        })
        .await;
        assert!(held);
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }

    #[tokio::test]
    async fn a_check_that_never_holds_gives_up_at_the_timeout() {
        let started = tokio::time::Instant::now();
        let held = eventually(Duration::from_millis(500), || async { false }).await;
        assert!(!held);
        assert!(started.elapsed() >= Duration::from_millis(500));
    }
}
