//! Subscriptions: where a source's events are delivered, which ones, and signed with what.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::delivery::RateLimit;
use crate::secret::{DeliveryKey, DeliveryKeyError, Ed25519Key, Secret, SignatureScheme};
use crate::source::SourceId;

/// A subscription, as stored in the subscriptions table (keyed by source and subscription id).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscription {
    pub source_id: SourceId,
    pub subscription_id: String,
    pub url: String,
    /// Signing keys, oldest first: `whsec_` secrets (`v1`) and `whsk_` ed25519 keys (`v1a`);
    /// deliveries carry a signature for each (rotation, or a change of scheme).
    pub secrets: Vec<Secret>,
    /// Event-type filters: exact names, prefix wildcards such as `invoice.*`, or `*`.
    #[serde(default = "all_events")]
    pub event_types: Vec<String>,
    /// A payload filter: an EventBridge event pattern, as compact JSON text, over the event's
    /// type, source, headers and body ([`crate::routing`]). Absent: every event of the types.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter: Option<String>,
    #[serde(default = "enabled")]
    pub enabled: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled_reason: Option<String>,
    /// When it was disabled (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disabled_at: Option<String>,
    /// When its current streak of failed attempts began (RFC 3339); absent while it succeeds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failing_since: Option<String>,
    /// Its own limit for one attempt, in seconds; never more than the dispatcher's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_seconds: Option<u64>,
    /// Extra headers sent with every delivery.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// At most this many deliveries per period, across every dispatcher; absent: no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate: Option<RateLimit>,
    /// The rate limiter's state, written by the dispatcher only: when the next delivery is due
    /// (the theoretical arrival time, microseconds since the Unix epoch; see
    /// [`crate::delivery::rate`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_next: Option<i64>,
    pub created_at: String,
    /// The most recent delivery attempt, kept on the item by the dispatcher so that showing a
    /// subscription never reads the deliveries table.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_delivery: Option<LastDelivery>,
}

/// A subscription's most recent delivery attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct LastDelivery {
    pub event_id: String,
    /// When it was attempted (RFC 3339).
    pub at: String,
    /// `delivered`, `gone` or `failing`.
    pub status: String,
}

fn all_events() -> Vec<String> {
    vec!["*".to_owned()]
}

fn enabled() -> bool {
    true
}

impl Subscription {
    /// An enabled subscription of `source_id` to every event type, signed with `secrets`, with
    /// no custom headers or timeout; callers set what differs.
    pub fn new(
        source_id: SourceId,
        subscription_id: impl Into<String>,
        url: impl Into<String>,
        secrets: Vec<Secret>,
        created_at: impl Into<String>,
    ) -> Self {
        Self {
            source_id,
            subscription_id: subscription_id.into(),
            url: url.into(),
            secrets,
            event_types: all_events(),
            filter: None,
            enabled: true,
            disabled_reason: None,
            disabled_at: None,
            failing_since: None,
            timeout_seconds: None,
            headers: BTreeMap::new(),
            rate: None,
            rate_next: None,
            created_at: created_at.into(),
            last_delivery: None,
        }
    }

    /// Whether an event of `event_type` goes to this subscription (ignoring its state).
    pub fn wants(&self, event_type: Option<&str>) -> bool {
        event_types_match(&self.event_types, event_type)
    }

    /// The keys deliveries are signed with, one per stored secret, in order.
    pub fn signing_keys(&self) -> Result<Vec<DeliveryKey>, DeliveryKeyError> {
        self.secrets.iter().map(DeliveryKey::parse).collect()
    }

    /// The signature schemes its deliveries carry, `v1` first, each once.
    pub fn signature_schemes(&self) -> Vec<SignatureScheme> {
        let mut schemes: Vec<SignatureScheme> =
            self.secrets.iter().map(SignatureScheme::of).collect();
        schemes.sort_unstable();
        schemes.dedup();
        schemes
    }

    /// The `whpk_` public keys of its `whsk_` keys, oldest first: what subscribers verify `v1a`
    /// signatures with (not secret, so views may show them).
    pub fn public_keys(&self) -> Vec<String> {
        self.secrets
            .iter()
            .filter(|s| SignatureScheme::of(s) == SignatureScheme::V1a)
            .filter_map(|s| Ed25519Key::parse(s.expose()).ok())
            .map(|k| k.public_whpk())
            .collect()
    }
}

/// Whether any filter matches. A filter names a type and everything below it, where a type's
/// parts are separated by `.` (`pull_request.opened`) or `/` (Shopify's `orders/create`):
///
/// - `*` matches everything, even an event without a type;
/// - `pull_request` matches `pull_request`, `pull_request.opened`, `pull_request.review.x`, but
///   not `pull_request_review`;
/// - `pull_request.*` matches the same (the `.*` only spells out "and below");
/// - `pull_request.opened` matches that type (and anything below it) only;
/// - another trailing `*` is a plain prefix: `invoice*` matches `invoices.x` too.
///
/// Before types carried their action (`pull_request` became `pull_request.opened`), a filter
/// matched its exact name only; every type it matched then it still matches.
pub fn event_types_match(filters: &[String], event_type: Option<&str>) -> bool {
    filters
        .iter()
        .any(|filter| match (filter.as_str(), event_type) {
            ("*", _) => true,
            (_, None) => false,
            (f, Some(t)) => {
                if let Some(parent) = f.strip_suffix(".*").or_else(|| f.strip_suffix("/*")) {
                    is_at_or_below(t, parent)
                } else if let Some(prefix) = f.strip_suffix('*') {
                    t.starts_with(prefix)
                } else {
                    is_at_or_below(t, f)
                }
            }
        })
}

/// `t` is `parent`, or `parent` followed by a separator and more.
fn is_at_or_below(t: &str, parent: &str) -> bool {
    match t.strip_prefix(parent) {
        Some("") => true,
        Some(rest) => rest.starts_with('.') || rest.starts_with('/'),
        None => false,
    }
}

/// Splits `push, pull_request.*` into filters, refusing empty ones.
pub fn parse_event_filters(list: &str) -> Result<Vec<String>, String> {
    let filters: Vec<String> = list
        .split(',')
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .map(str::to_owned)
        .collect();
    if filters.is_empty() {
        return Err("give at least one event type, or `*` for all".to_owned());
    }
    if let Some(bad) = filters
        .iter()
        .find(|f| f.contains('*') && !(f.ends_with('*') && f.matches('*').count() == 1))
    {
        return Err(format!(
            "`{bad}`: a wildcard may only end a filter, as in `invoice.*`"
        ));
    }
    Ok(filters)
}

/// Checks a subscriber URL: absolute `http` or `https` with a host and no credentials in it.
pub fn parse_target_url(s: &str) -> Result<url::Url, String> {
    let url = url::Url::parse(s).map_err(|e| format!("`{s}` is not a URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "`{s}`: only http and https URLs can receive webhooks"
        ));
    }
    if url.host().is_none() {
        return Err(format!("`{s}` has no host"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!(
            "`{s}`: put credentials in a --header, not in the URL, so they are never logged"
        ));
    }
    Ok(url)
}

/// A new subscription id, time-ordered.
pub fn new_subscription_id() -> String {
    format!("sub_{}", uuid::Uuid::now_v7().simple())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn schemes_and_public_keys_are_read_from_the_stored_keys() {
        let v1 = DeliveryKey::generate(SignatureScheme::V1).expect("rng");
        let v1a = DeliveryKey::generate(SignatureScheme::V1a).expect("rng");
        let sub = |keys: &[&DeliveryKey]| {
            Subscription::new(
                SourceId::parse("gh").expect("id"),
                "sub_1",
                "https://example.com/hook",
                keys.iter().map(|k| k.to_secret()).collect(),
                "2026-01-01T00:00:00Z",
            )
        };
        assert_eq!(sub(&[&v1]).signature_schemes(), [SignatureScheme::V1]);
        assert!(sub(&[&v1]).public_keys().is_empty());
        let both = sub(&[&v1a, &v1]);
        assert_eq!(
            both.signature_schemes(),
            [SignatureScheme::V1, SignatureScheme::V1a]
        );
        assert_eq!(both.public_keys(), [v1a.for_subscriber().expose()]);
        let keys = both.signing_keys().expect("valid");
        assert_eq!(
            keys.iter().map(DeliveryKey::scheme).collect::<Vec<_>>(),
            [SignatureScheme::V1a, SignatureScheme::V1]
        );
    }

    #[test]
    fn filters_match_exact_names_prefixes_and_everything() {
        assert!(event_types_match(&f(&["*"]), None));
        assert!(event_types_match(&f(&["*"]), Some("push")));
        assert!(event_types_match(&f(&["push"]), Some("push")));
        assert!(!event_types_match(&f(&["push"]), Some("pushed")));
        assert!(!event_types_match(&f(&["push"]), None));
        assert!(event_types_match(&f(&["invoice.*"]), Some("invoice.paid")));
        assert!(!event_types_match(
            &f(&["invoice.*"]),
            Some("invoices.paid")
        ));
        assert!(event_types_match(
            &f(&["a", "invoice.*"]),
            Some("invoice.x.y")
        ));
    }

    #[test]
    fn a_filter_matches_its_type_and_everything_below_it() {
        let types = [
            "pull_request",
            "pull_request.opened",
            "pull_request.closed",
            "pull_request_review.submitted",
            "push",
        ];
        let matched = |filter: &str| -> Vec<&str> {
            types
                .iter()
                .copied()
                .filter(|t| event_types_match(&f(&[filter]), Some(t)))
                .collect()
        };
        let every_pull_request = ["pull_request", "pull_request.opened", "pull_request.closed"];
        assert_eq!(matched("pull_request"), every_pull_request);
        assert_eq!(matched("pull_request.*"), every_pull_request);
        assert_eq!(matched("pull_request.opened"), ["pull_request.opened"]);
        assert_eq!(matched("*"), types);
        assert_eq!(
            matched("pull_request*"),
            [
                "pull_request",
                "pull_request.opened",
                "pull_request.closed",
                "pull_request_review.submitted"
            ],
            "a bare trailing * is a plain prefix"
        );
        // Shopify's topics use `/`.
        assert!(event_types_match(&f(&["orders"]), Some("orders/create")));
        assert!(event_types_match(&f(&["orders/*"]), Some("orders/create")));
        assert!(!event_types_match(&f(&["orders"]), Some("orders_edited/x")));
        // Slack's messages by channel type.
        assert!(event_types_match(&f(&["message"]), Some("message.im")));
        assert!(!event_types_match(
            &f(&["message.im"]),
            Some("message.mpim")
        ));
    }

    #[test]
    fn every_type_an_old_exact_filter_matched_it_still_matches() {
        // Before, a filter without `*` matched its exact name only.
        for (filter, event_type) in [
            ("push", "push"),
            ("pull_request", "pull_request"),
            ("invoice.paid", "invoice.paid"),
            ("orders/create", "orders/create"),
            ("Push Hook", "Push Hook"),
        ] {
            assert!(event_types_match(&f(&[filter]), Some(event_type)));
        }
    }

    #[test]
    fn event_filter_lists_are_parsed_and_checked() {
        assert_eq!(
            parse_event_filters("push, pull_request.*"),
            Ok(f(&["push", "pull_request.*"]))
        );
        assert!(parse_event_filters(" , ").is_err());
        assert!(parse_event_filters("in*voice").is_err());
    }

    #[test]
    fn target_urls_must_be_http_with_a_host_and_no_credentials() {
        assert!(parse_target_url("https://example.com/hook").is_ok());
        assert!(parse_target_url("http://127.0.0.1:8080/").is_ok());
        assert!(parse_target_url("ftp://example.com/").is_err());
        assert!(parse_target_url("https://user:pw@example.com/").is_err());
        assert!(parse_target_url("not a url").is_err());
    }
}
