//! The event archive: finding accepted events, replaying one, and recovering a window — every
//! archived event in it re-delivered to the subscriptions that miss it.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::Duration;

use hookpost_shared::aws::S3Bodies;
use hookpost_shared::envelope::{EncodedBody, Envelope, Replay};
use hookpost_shared::routing::{self, SubscriptionFilter};
use hookpost_shared::source::SourceId;
use hookpost_shared::store::{
    ArchivedEvent, BodyStore as _, DeliveryLog as _, EventArchive as _, EventQueue as _,
};
use hookpost_shared::subscription::{Subscription, event_types_match};
use serde::Serialize;

use crate::page::slice_after;
use crate::{Kind, OpError, Operations, Page, PageRequest, Progress};

const LIST: &str = "events";
/// The start of time for an open window, as the archive writes instants.
const EPOCH: &str = "1970-01-01T00:00:00.000Z";

/// Which archived events: every filter present must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventFilter {
    pub source: Option<SourceId>,
    /// Event-type filters (`push`, `invoice.*`).
    pub event_types: Option<Vec<String>>,
    /// Received at or after (RFC 3339).
    pub since: Option<String>,
    /// Received at or before (RFC 3339).
    pub until: Option<String>,
}

impl EventFilter {
    /// The filters as a cursor's scope.
    fn scope(&self) -> String {
        format!(
            "source={}&type={}&since={}&until={}",
            self.source
                .as_ref()
                .map(SourceId::as_str)
                .unwrap_or_default(),
            self.event_types
                .as_ref()
                .map(|t| t.join(","))
                .unwrap_or_default(),
            self.since.as_deref().unwrap_or_default(),
            self.until.as_deref().unwrap_or_default(),
        )
    }

    fn check(&self) -> Result<(), OpError> {
        if let (Some(since), Some(until)) = (&self.since, &self.until)
            && since > until
        {
            return Err(OpError::invalid(
                "until",
                format!("{until} is before since ({since})"),
            ));
        }
        Ok(())
    }
}

/// An archived event, without its body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EventSummary {
    pub event_id: String,
    pub source_id: String,
    pub event_type: Option<String>,
    pub received_at: String,
}

impl From<&ArchivedEvent> for EventSummary {
    fn from(e: &ArchivedEvent) -> Self {
        Self {
            event_id: e.event_id.clone(),
            source_id: e.source_id.as_str().to_owned(),
            event_type: e.event_type.clone(),
            received_at: e.received_at.clone(),
        }
    }
}

/// An archived event with the envelope as it was queued.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct EventDetail {
    #[serde(flatten)]
    pub summary: EventSummary,
    pub envelope: serde_json::Value,
}

/// A replay queued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct ReplayQueued {
    pub event_id: String,
    pub replay_id: String,
    /// The subscriptions it is meant for; empty: every one that wants the event.
    pub subscriptions: Vec<String>,
    /// The key its delivery records are kept under (`hookpost deliveries KEY`).
    pub deliveries_key: String,
}

/// What to recover: a window of the archive, re-delivered to the subscriptions that miss it.
#[derive(Debug, Clone, Default)]
pub struct Recover {
    pub filter: EventFilter,
    /// Only this subscription (it must belong to the source, when one is named).
    pub subscription: Option<String>,
    /// With `subscription`: re-deliver also the events it already has.
    pub include_delivered: bool,
    /// At most this many events queued a second.
    pub rate: Option<u32>,
    /// Count what would be sent; queue nothing.
    pub dry_run: bool,
}

/// What a recovery did (or, dry, would do).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RecoverReport {
    /// Archived events in the window.
    pub events_scanned: u64,
    /// Events queued again (or that would be).
    pub events_queued: u64,
    /// Deliveries those replays make: one per (event, subscription missing it).
    pub deliveries: u64,
    /// Deliveries per subscription.
    pub by_subscription: BTreeMap<String, u64>,
    pub dry_run: bool,
}

impl Operations {
    /// Archived events, oldest first, matching `filter`.
    pub async fn list_events(
        &self,
        filter: &EventFilter,
        page: &PageRequest,
    ) -> Result<Page<EventSummary>, OpError> {
        let (events, next_cursor) = self.events_page(filter, page).await?;
        Ok(Page {
            items: events.iter().map(EventSummary::from).collect(),
            next_cursor,
        })
    }

    /// One page of archived events: for each source, the index is read from the cursor's
    /// instant until `limit + 1` matching events are found; the merged, ordered page is cut at
    /// `limit`.
    async fn events_page(
        &self,
        filter: &EventFilter,
        page: &PageRequest,
    ) -> Result<(Vec<ArchivedEvent>, Option<String>), OpError> {
        filter.check()?;
        let scope = filter.scope();
        let after = page.after(LIST, &scope)?;
        let key = |e: &ArchivedEvent| format!("{}\n{}", e.received_at, e.event_id);
        let after_at = after
            .as_deref()
            .and_then(|a| a.split_once('\n'))
            .map(|(at, _)| at.to_owned());
        let from = match (after_at, &filter.since) {
            (Some(a), Some(s)) => a.max(s.clone()),
            (Some(a), None) => a,
            (None, Some(s)) => s.clone(),
            (None, None) => EPOCH.to_owned(),
        };
        let sources = match &filter.source {
            Some(source) => vec![source.clone()],
            None => {
                let mut ids: Vec<_> = self
                    .sources_table()
                    .list()
                    .await?
                    .into_iter()
                    .map(|s| s.source_id)
                    .collect();
                ids.sort();
                ids
            }
        };
        let mut events = Vec::new();
        for source in &sources {
            let found = self
                .events_table()
                .window(
                    source,
                    &from,
                    filter.until.as_deref(),
                    page.limit + 1,
                    |e| {
                        after.as_deref().is_none_or(|a| key(e).as_str() > a)
                            && filter
                                .event_types
                                .as_deref()
                                .is_none_or(|t| event_types_match(t, e.event_type.as_deref()))
                    },
                )
                .await?;
            events.extend(found);
        }
        events.sort_by_key(key);
        let page = slice_after(events, None, page.limit, LIST, &scope, key);
        Ok((page.items, page.next_cursor))
    }

    async fn archived(&self, event_id: &str) -> Result<ArchivedEvent, OpError> {
        self.events_table()
            .get(event_id)
            .await?
            .ok_or_else(|| OpError::NotFound {
                kind: Kind::Event,
                id: event_id.to_owned(),
                hint: Some(
                    "it was never accepted, or it is older than the retention period \
                     (DeliveryRetentionDays)",
                ),
            })
    }

    pub async fn get_event(&self, event_id: &str) -> Result<EventDetail, OpError> {
        let event = self.archived(event_id).await?;
        let envelope = serde_json::from_str(&event.envelope).unwrap_or(serde_json::Value::Null);
        Ok(EventDetail {
            summary: EventSummary::from(&event),
            envelope,
        })
    }

    /// Queues an archived event again, to `subscriptions` (each must be one of its source's) or
    /// to every subscription that wants it; subscribers see the original event id.
    pub async fn replay_event(
        &self,
        event_id: &str,
        subscriptions: Vec<String>,
    ) -> Result<ReplayQueued, OpError> {
        let event = self.archived(event_id).await?;
        let envelope = Envelope::decode(&event.envelope).map_err(|e| {
            OpError::Conflict(format!("the archived event cannot be replayed: {e}"))
        })?;
        if !subscriptions.is_empty() {
            let known = self
                .subscriptions_table()
                .list_for(&envelope.source_id)
                .await?;
            for id in &subscriptions {
                if !known.iter().any(|s| &s.subscription_id == id) {
                    return Err(OpError::invalid(
                        "subscriptions",
                        format!("{id} is not a subscription of {}", envelope.source_id),
                    ));
                }
            }
        }
        let replay = Replay::new(subscriptions);
        self.queue_replay(&event, &envelope, &replay).await?;
        Ok(ReplayQueued {
            deliveries_key: replay.delivery_key(&event.event_id),
            event_id: event.event_id,
            replay_id: replay.id,
            subscriptions: replay.subscriptions,
        })
    }

    async fn queue_replay(
        &self,
        event: &ArchivedEvent,
        envelope: &Envelope,
        replay: &Replay,
    ) -> Result<(), OpError> {
        let message = replay.mark(&event.envelope).map_err(|e| {
            OpError::Conflict(format!("the archived event cannot be replayed: {e}"))
        })?;
        // In ordered mode a replay takes its place in the source's order like a new event.
        self.ingest_queue()
            .enqueue_in_group(message, envelope.source_id.as_str(), &replay.id)
            .await?;
        Ok(())
    }

    /// What payload filters read for an archived event's `envelope` (see
    /// [`routing::pattern_input`]), or `None` when its stored body cannot be read: then no filter
    /// is applied here and the dispatcher, which reads the same body, decides (as it does for an
    /// envelope that cannot be decoded).
    async fn filter_input(&self, envelope: &Envelope) -> Option<serde_json::Value> {
        let body = match &envelope.body {
            EncodedBody::Stored(key) => S3Bodies::new(self.s3.clone(), &self.names.bodies_bucket)
                .get(key)
                .await
                .ok()?,
            inline => inline.bytes().ok()?.into_owned(),
        };
        Some(routing::pattern_input(envelope, &body))
    }

    /// Recovers a window: every archived event in it is queued again for the subscriptions that
    /// miss it — enabled ones that want its type, whose payload filter lets it through, and that
    /// existed when it was received (or the one named, which may be newer, if its filter lets the
    /// event through). A subscription that has an event is not called again unless it is named
    /// with `include_delivered`. Recovering the same window twice sends nothing twice.
    pub async fn recover(
        &self,
        request: &Recover,
        progress: &dyn Progress,
    ) -> Result<RecoverReport, OpError> {
        let filter = &request.filter;
        if filter.since.is_none() {
            return Err(OpError::invalid(
                "since",
                "a recovery needs the start of its window",
            ));
        }
        if request.include_delivered && request.subscription.is_none() {
            return Err(OpError::invalid(
                "include_delivered",
                "re-delivering events a subscriber already has needs the subscription named",
            ));
        }
        if request.rate == Some(0) {
            return Err(OpError::invalid("rate", "must be at least 1 a second"));
        }
        let named = match &request.subscription {
            Some(id) => {
                let s = self.subscription(id).await?;
                if !s.enabled {
                    return Err(OpError::invalid(
                        "subscription",
                        format!(
                            "{id} is disabled, so the dispatcher would skip it: enable it first"
                        ),
                    ));
                }
                if filter
                    .source
                    .as_ref()
                    .is_some_and(|src| *src != s.source_id)
                {
                    return Err(OpError::invalid(
                        "subscription",
                        format!(
                            "{id} is a subscription of {}, not of the source named",
                            s.source_id
                        ),
                    ));
                }
                Some(s)
            }
            None => None,
        };
        // A named subscription narrows the window to its source.
        let filter = EventFilter {
            source: named
                .as_ref()
                .map(|s| s.source_id.clone())
                .or(filter.source.clone()),
            ..filter.clone()
        };
        let pause = request
            .rate
            .map(|r| Duration::from_secs_f64(1.0 / f64::from(r)));
        let mut subscriptions_of: BTreeMap<SourceId, Vec<Subscription>> = BTreeMap::new();
        let mut patterns = Patterns::default();
        let mut report = RecoverReport {
            dry_run: request.dry_run,
            ..RecoverReport::default()
        };
        let mut page = PageRequest::first(crate::page::MAX_LIMIT)?;
        loop {
            let (events, next) = self.events_page(&filter, &page).await?;
            progress.total(report.events_scanned + events.len() as u64 + u64::from(next.is_some()));
            for event in events {
                report.events_scanned += 1;
                let started = tokio::time::Instant::now();
                // Decoded at most once, and only when a filter or the queue needs it.
                let envelope = std::sync::OnceLock::new();
                let decoded = || envelope.get_or_init(|| Envelope::decode(&event.envelope));
                let candidates: Vec<Subscription> = match &named {
                    Some(s) => vec![s.clone()],
                    None => {
                        if !subscriptions_of.contains_key(&event.source_id) {
                            let list = self
                                .subscriptions_table()
                                .list_for(&event.source_id)
                                .await?;
                            subscriptions_of.insert(event.source_id.clone(), list);
                        }
                        subscriptions_of[&event.source_id]
                            .iter()
                            .filter(|s| {
                                s.enabled
                                    && s.wants(event.event_type.as_deref())
                                    && s.created_at <= event.received_at
                            })
                            .cloned()
                            .collect()
                    }
                };
                let delivered: HashSet<String> = if request.include_delivered {
                    HashSet::new()
                } else {
                    self.deliveries_table()
                        .delivered_subscriptions(&event.event_id)
                        .await?
                };
                let undelivered: Vec<Subscription> = candidates
                    .into_iter()
                    .filter(|s| !delivered.contains(&s.subscription_id))
                    .collect();
                // Payload filters as the dispatcher applies them: a subscription its filter
                // keeps the event from does not miss it, and is neither counted nor sent. Only
                // read for subscriptions still missing the event, so an event every subscription
                // has costs no body read.
                let undelivered = if undelivered.iter().any(|s| s.filter.is_some()) {
                    let input = match decoded() {
                        Ok(envelope) => self.filter_input(envelope).await,
                        Err(_) => None,
                    };
                    undelivered
                        .into_iter()
                        .filter(|s| patterns.allows(s, input.as_ref()))
                        .collect()
                } else {
                    undelivered
                };
                let missing: Vec<String> =
                    undelivered.into_iter().map(|s| s.subscription_id).collect();
                if !missing.is_empty() {
                    report.events_queued += 1;
                    report.deliveries += missing.len() as u64;
                    for id in &missing {
                        *report.by_subscription.entry(id.clone()).or_default() += 1;
                    }
                    if !request.dry_run {
                        let envelope = decoded().as_ref().map_err(|e| {
                            OpError::Conflict(format!(
                                "archived event {} cannot be replayed: {e}",
                                event.event_id
                            ))
                        })?;
                        let replay = if request.include_delivered {
                            Replay::new(missing)
                        } else {
                            Replay::recovery(missing)
                        };
                        self.queue_replay(&event, envelope, &replay).await?;
                        if let Some(pause) = pause {
                            tokio::time::sleep_until(started + pause).await;
                        }
                    }
                }
                progress.advance(1);
            }
            match page.next(next) {
                Some(p) => page = p,
                None => break,
            }
        }
        Ok(report)
    }
}

/// Subscriptions' payload filters, each compiled once per recovery.
#[derive(Default)]
struct Patterns(HashMap<String, SubscriptionFilter>);

impl Patterns {
    /// Whether `subscription`'s filter lets an event with filter input `input` through, by the
    /// dispatcher's rule ([`SubscriptionFilter`]); an event whose input could not be built is
    /// let through, for the dispatcher to judge.
    fn allows(&mut self, subscription: &Subscription, input: Option<&serde_json::Value>) -> bool {
        let (Some(text), Some(input)) = (subscription.filter.as_deref(), input) else {
            return true;
        };
        self.0
            .entry(subscription.subscription_id.clone())
            .or_insert_with(|| {
                SubscriptionFilter::compile(Some(text)).unwrap_or(SubscriptionFilter::Unreadable)
            })
            .allows(|| input)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_recovery_applies_payload_filters_as_the_dispatcher_does() {
        let with = |id: &str, filter: Option<&str>| Subscription {
            filter: filter.map(str::to_owned),
            ..Subscription::new(
                SourceId::parse("gh").expect("valid"),
                id,
                "https://example.com/hook",
                Vec::new(),
                EPOCH,
            )
        };
        let small = serde_json::json!({"source": "gh", "headers": {}, "body": {"n": 1}});
        let big = serde_json::json!({"source": "gh", "headers": {}, "body": {"n": 9}});
        let mut patterns = Patterns::default();
        let none = with("none", None);
        let bounded = with(
            "bounded",
            Some(r#"{"body": {"n": [{"numeric": ["<", 5]}]}}"#),
        );
        let unreadable = with("unreadable", Some("{body"));
        for input in [&small, &big] {
            assert!(patterns.allows(&none, Some(input)));
            assert!(!patterns.allows(&unreadable, Some(input)));
        }
        assert!(patterns.allows(&bounded, Some(&small)));
        assert!(!patterns.allows(&bounded, Some(&big)));
        // An event whose body could not be read is left to the dispatcher.
        assert!(patterns.allows(&bounded, None));
        assert!(patterns.allows(&unreadable, None));
    }

    #[test]
    fn a_window_that_ends_before_it_starts_is_refused_naming_until() {
        let filter = EventFilter {
            since: Some("2026-11-22T10:00:00.000Z".into()),
            until: Some("2026-11-22T09:00:00.000Z".into()),
            ..EventFilter::default()
        };
        let err = filter.check().expect_err("refused");
        assert!(matches!(err, OpError::Invalid { ref field, .. } if field == "until"));
    }

    #[test]
    fn filters_write_a_scope_that_changes_with_each_filter() {
        let base = EventFilter::default();
        let typed = EventFilter {
            event_types: Some(vec!["push".into()]),
            ..EventFilter::default()
        };
        assert_ne!(base.scope(), typed.scope());
    }
}
