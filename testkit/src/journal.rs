//! The poller's invocations written down, through its observer hook: which message each handled,
//! when, and whether it was cut at the function timeout. The chaos run reads it to tell how a
//! message came to be handled twice.

use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use hookpost_local::poller::{Invocation, Observer};

/// The invocations of one or more pollers (give each [`Journal::observer`]).
#[derive(Debug, Default)]
pub struct Journal {
    handlings: Mutex<Vec<Handling>>,
}

/// One message's part in one invocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Handling {
    pub message_id: String,
    /// The envelope's event id, when the body is an envelope.
    pub event_id: Option<String>,
    /// SQS's `ApproximateReceiveCount` for this receive.
    pub receive_count: Option<u32>,
    pub started: Instant,
    pub ended: Instant,
    /// Stopped at the function timeout, as Lambda stops it: nothing of the batch was deleted.
    pub cut: bool,
}

impl Journal {
    /// The poller hook that writes each invocation down here.
    pub fn observer(self: &Arc<Self>) -> Observer {
        let journal = Arc::clone(self);
        Arc::new(move |invocation: &Invocation<'_>| journal.record(invocation))
    }

    /// Every handling so far, in the order the invocations ended.
    pub fn handlings(&self) -> Vec<Handling> {
        self.lock().clone()
    }

    /// Invocations stopped at the function timeout (counted per message).
    pub fn cuts(&self) -> usize {
        self.lock().iter().filter(|h| h.cut).count()
    }

    fn record(&self, invocation: &Invocation<'_>) {
        #[derive(serde::Deserialize)]
        struct Ids {
            event_id: String,
        }
        let handlings = invocation.messages.iter().map(|m| Handling {
            message_id: m.message_id.to_owned(),
            event_id: serde_json::from_str::<Ids>(m.body)
                .ok()
                .map(|ids| ids.event_id),
            receive_count: m.receive_count,
            started: invocation.started,
            ended: invocation.ended,
            cut: invocation.cut,
        });
        self.lock().extend(handlings);
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Handling>> {
        self.handlings
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use hookpost_local::poller::Handed;

    use super::*;

    #[test]
    fn each_message_of_an_observed_invocation_is_written_down_with_its_event_id() {
        let journal = Arc::new(Journal::default());
        let observe = journal.observer();
        let started = Instant::now();
        let ended = started + Duration::from_secs(1);

        observe(&Invocation {
            messages: vec![
                Handed {
                    message_id: "m-1",
                    body: r#"{"event_id":"evt_1","source_id":"s"}"#,
                    receive_count: Some(1),
                },
                Handed {
                    message_id: "m-2",
                    body: "not an envelope",
                    receive_count: Some(3),
                },
            ],
            started,
            ended,
            cut: false,
        });

        let handlings = journal.handlings();
        assert_eq!(handlings.len(), 2);
        assert_eq!(handlings[0].message_id, "m-1");
        assert_eq!(handlings[0].event_id.as_deref(), Some("evt_1"));
        assert_eq!(handlings[1].event_id, None);
        assert_eq!(handlings[1].receive_count, Some(3));
        assert!(
            handlings
                .iter()
                .all(|h| h.started == started && h.ended == ended)
        );
        assert_eq!(journal.cuts(), 0);
    }

    #[test]
    fn a_cut_invocation_counts_once_per_message() {
        let journal = Arc::new(Journal::default());
        let now = Instant::now();
        let message = |id| Handed {
            message_id: id,
            body: "{}",
            receive_count: None,
        };
        journal.observer()(&Invocation {
            messages: vec![message("a"), message("b")],
            started: now,
            ended: now,
            cut: true,
        });
        journal.observer()(&Invocation {
            messages: vec![message("c")],
            started: now,
            ended: now,
            cut: false,
        });
        assert_eq!(journal.cuts(), 2);
        assert_eq!(journal.handlings().len(), 3);
    }
}
