//! Group commit for the store calls records make one each: while one call for a key is in
//! flight, the records that ask for the same key wait, and the next call serves all of them at
//! once. Nothing waits for a call that is not already in flight (no timer, no barrier),
//! so a record alone pays nothing, and an ordered lane, whose records go one by one, simply
//! never gathers.
//!
//! Used for a rate-limited subscription's slot reservations (one `UpdateItem` for several
//! slots) and for deferred copies (one `SendMessageBatch` for up to ten), the two calls a
//! throttled burst adds per event.
//!
//! Whoever finds no call in flight leads: it takes its own request and every one waiting (up to
//! the limit), makes the call, answers each, and hands the lead to the first request that came
//! in meanwhile, so nobody makes a call for requests that came after its own was answered.

use std::collections::hash_map::Entry;
use std::collections::{HashMap, VecDeque};
use std::hash::Hash;
use std::sync::{Mutex, MutexGuard, PoisonError};

use hookpost_shared::store::StoreError;
use tokio::sync::oneshot;

/// The calls gathered per key `K`: requests `T`, each answered with an `X` or an error.
pub(crate) struct Gather<K, T, X> {
    /// The most requests one call serves.
    most: usize,
    queues: Mutex<HashMap<K, Queue<T, X>>>,
}

struct Queue<T, X> {
    /// Someone leads for this key: a request that comes now waits.
    led: bool,
    waiting: VecDeque<(T, oneshot::Sender<Turn<T, X>>)>,
}

/// What a waiting request is told.
enum Turn<T, X> {
    /// Its answer.
    Done(Result<X, StoreError>),
    /// It leads now: its request back, to make the next call with.
    Lead(T),
}

impl<K, T, X> std::fmt::Debug for Gather<K, T, X> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let led = self
            .queues
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len();
        f.debug_struct("Gather")
            .field("most", &self.most)
            .field("keys_in_flight", &led)
            .finish()
    }
}

impl<K: Eq + Hash + Clone, T, X> Gather<K, T, X> {
    /// Calls serving at most `most` requests each (at least 1).
    pub(crate) fn new(most: usize) -> Self {
        Self {
            most: most.max(1),
            queues: Mutex::default(),
        }
    }

    /// Answers `request`, made by `call` together with the requests for `key` that wait beside
    /// it. `call` gets the requests in order, the first being this one when it leads, and
    /// answers one result per request, in order (a missing one is an error).
    pub(crate) async fn submit<F, Fut>(&self, key: &K, request: T, call: F) -> Result<X, StoreError>
    where
        F: FnOnce(Vec<T>) -> Fut,
        Fut: Future<Output = Vec<Result<X, StoreError>>>,
    {
        let waiting = {
            let mut queues = self.lock();
            let queue = match queues.entry(key.clone()) {
                Entry::Occupied(queue) => queue.into_mut(),
                Entry::Vacant(vacant) => vacant.insert(Queue {
                    led: false,
                    waiting: VecDeque::new(),
                }),
            };
            if queue.led {
                let (tell, told) = oneshot::channel();
                queue.waiting.push_back((request, tell));
                Err(told)
            } else {
                queue.led = true;
                Ok(request)
            }
        };
        let own = match waiting {
            Ok(request) => request,
            Err(told) => match told.await {
                Ok(Turn::Done(answer)) => return answer,
                Ok(Turn::Lead(request)) => request,
                // The leader was dropped before it answered: only when the batch itself is.
                Err(_) => return Err(abandoned()),
            },
        };
        let lead = Lead { gather: self, key };
        let mut requests = vec![own];
        let mut tells = Vec::new();
        {
            let mut queues = self.lock();
            if let Some(queue) = queues.get_mut(key) {
                while requests.len() < self.most {
                    let Some((request, tell)) = queue.waiting.pop_front() else {
                        break;
                    };
                    requests.push(request);
                    tells.push(tell);
                }
            }
        }
        let mut answers = call(requests).await.into_iter();
        let own = answers.next().unwrap_or_else(|| Err(unanswered()));
        for tell in tells {
            // A request whose future was dropped meanwhile has nobody to tell.
            let _ = tell.send(Turn::Done(
                answers.next().unwrap_or_else(|| Err(unanswered())),
            ));
        }
        drop(lead);
        own
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<K, Queue<T, X>>> {
        self.queues.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The lead over one key, passed on when dropped: to the first waiting request still listening,
/// or, with none, given up. Dropping it on every path (a call that panics or a batch dropped
/// halfway included) means no request waits for a leader that is gone.
struct Lead<'a, K: Eq + Hash + Clone, T, X> {
    gather: &'a Gather<K, T, X>,
    key: &'a K,
}

impl<K: Eq + Hash + Clone, T, X> Drop for Lead<'_, K, T, X> {
    fn drop(&mut self) {
        let mut queues = self.gather.lock();
        let Some(queue) = queues.get_mut(self.key) else {
            return;
        };
        while let Some((request, tell)) = queue.waiting.pop_front() {
            if tell.send(Turn::Lead(request)).is_ok() {
                return;
            }
        }
        queues.remove(self.key);
    }
}

fn abandoned() -> StoreError {
    StoreError::new(
        "batched call",
        "the call this request waited for was abandoned",
    )
}

fn unanswered() -> StoreError {
    StoreError::new("batched call", "the call gave no answer for this request")
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use futures_util::future::join_all;
    use tokio::sync::Notify;

    use super::*;

    /// Records each call's requests; every call waits for `open` before answering, so requests
    /// made meanwhile queue up.
    #[derive(Default)]
    struct Calls {
        made: Mutex<Vec<Vec<u32>>>,
        open: Notify,
    }

    impl Calls {
        async fn call(&self, requests: Vec<u32>) -> Vec<Result<u32, StoreError>> {
            self.made.lock().expect("calls").push(requests.clone());
            self.open.notified().await;
            requests.into_iter().map(|r| Ok(r * 10)).collect()
        }

        fn made(&self) -> Vec<Vec<u32>> {
            self.made.lock().expect("calls").clone()
        }
    }

    #[tokio::test]
    async fn requests_made_while_a_call_is_in_flight_share_the_next_call() {
        let gather = Gather::<&str, u32, u32>::new(3);
        let calls = Arc::new(Calls::default());
        let asks = (0..6).map(|r| gather.submit(&"sub", r, |rs| calls.call(rs)));
        let answering = async {
            // Each call is let through once every request has been made and queued.
            for _ in 0..3 {
                tokio::task::yield_now().await;
                calls.open.notify_one();
            }
        };
        let (answers, ()) = tokio::join!(join_all(asks), answering);

        let answers: Vec<u32> = answers.into_iter().map(|a| a.expect("answered")).collect();
        assert_eq!(answers, vec![0, 10, 20, 30, 40, 50]);
        // The first goes alone; the five that came meanwhile share calls of at most three.
        assert_eq!(calls.made(), vec![vec![0], vec![1, 2, 3], vec![4, 5]]);
    }

    #[tokio::test]
    async fn a_request_alone_is_called_at_once_and_keys_do_not_wait_for_each_other() {
        let gather = Gather::<&str, u32, u32>::new(10);
        let calls = Arc::new(Calls::default());
        calls.open.notify_one();
        assert_eq!(
            gather.submit(&"a", 7, |rs| calls.call(rs)).await.ok(),
            Some(70)
        );
        // "a" is idle again: the next request leads at once.
        calls.open.notify_one();
        assert_eq!(
            gather.submit(&"a", 8, |rs| calls.call(rs)).await.ok(),
            Some(80)
        );

        // While a call for "a" is in flight, one for "b" goes by itself.
        let slow = gather.submit(&"a", 1, |rs| calls.call(rs));
        let other = gather.submit(&"b", 2, |rs| async move {
            rs.into_iter().map(|r| Ok(r + 1)).collect()
        });
        let (slow, other) = tokio::join!(slow, async {
            let answer = other.await;
            calls.open.notify_one();
            answer
        });
        assert_eq!((slow.ok(), other.ok()), (Some(10), Some(3)));
        assert_eq!(calls.made(), vec![vec![7], vec![8], vec![1]]);
        assert!(gather.lock().is_empty(), "idle keys are forgotten");
    }

    #[tokio::test]
    async fn a_short_answer_is_an_error_for_the_unanswered_and_the_lead_passes_on() {
        let gather = Gather::<(), u32, u32>::new(10);
        let calls = Arc::new(Calls::default());
        let first = gather.submit(&(), 1, |rs| calls.call(rs));
        // The second call answers only its first request.
        let second = gather.submit(&(), 2, |rs: Vec<u32>| async move {
            rs.into_iter().take(1).map(|r| Ok(r * 100)).collect()
        });
        let third = gather.submit(&(), 3, |_: Vec<u32>| async { Vec::new() });
        let (first, second, third, ()) = tokio::join!(first, second, third, async {
            tokio::task::yield_now().await;
            calls.open.notify_one();
        });
        assert_eq!(first.ok(), Some(10));
        assert_eq!(second.ok(), Some(200), "the second led the second call");
        let err = third.expect_err("unanswered");
        assert!(err.to_string().contains("no answer"), "{err}");
        assert!(gather.lock().is_empty());
    }

    #[tokio::test]
    async fn a_leader_dropped_halfway_passes_the_lead_on() {
        let gather = Gather::<(), u32, u32>::new(10);
        let calls = Arc::new(Calls::default());
        let mut leader = Box::pin(gather.submit(&(), 1, |rs| calls.call(rs)));
        // The leader starts its call and is then dropped before the call answers.
        let pending = std::future::poll_fn(|cx| {
            std::task::Poll::Ready(leader.as_mut().poll(cx).is_pending())
        })
        .await;
        assert!(pending);
        assert_eq!(calls.made(), vec![vec![1]]);
        let follower = gather.submit(&(), 2, |rs: Vec<u32>| async move {
            rs.into_iter().map(|r| Ok(r + 1)).collect()
        });
        let (answer, ()) = tokio::join!(follower, async {
            tokio::task::yield_now().await;
            drop(leader);
        });
        assert_eq!(answer.ok(), Some(3), "the follower made its own call");
        assert!(gather.lock().is_empty());
    }
}
