//! Subscriptions: where a source's events are delivered. Every per-item operation is a keyed
//! read (the `by_id` index, then the item); "last delivery" is read from the subscription item,
//! where the dispatcher keeps it, never from the deliveries table.

use std::collections::BTreeMap;
use std::time::SystemTime;

use hookpost_shared::aws::destinations::{DestinationArn, is_arn};
use hookpost_shared::clock::{rfc3339, unix_micros};
use hookpost_shared::delivery::RateLimit;
use hookpost_shared::secret::{DeliveryKey, Secret, SignatureScheme, SignatureSchemes};
use hookpost_shared::source::SourceId;
use hookpost_shared::subscription::{
    LastDelivery, Subscription, new_subscription_id, parse_target_url,
};
use serde::Serialize;

use crate::page::slice_after;
use crate::sources::{Removed, Revealed, Rotation};
use crate::{Kind, OpError, Operations, Page, PageRequest};

const LIST: &str = "subscriptions";

/// Headers a subscription may not set: the signature, the framing and the identity of the
/// request are Hookpost's.
const RESERVED_HEADER_PREFIX: &str = "webhook-";

/// A subscription as shown to operators: secrets are counted, header values are not shown (they
/// often carry credentials); the schemes it signs with and its `whpk_` public keys are shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SubscriptionView {
    pub subscription_id: String,
    pub source_id: String,
    pub url: String,
    pub event_types: Vec<String>,
    /// Its payload filter, an EventBridge event pattern (docs/routing.md).
    #[cfg_attr(feature = "openapi", schema(value_type = Option<Object>))]
    pub filter: Option<serde_json::Value>,
    pub enabled: bool,
    pub disabled_reason: Option<String>,
    pub disabled_at: Option<String>,
    /// When its running streak of failures began; absent while it succeeds.
    pub failing_since: Option<String>,
    pub timeout_seconds: Option<u64>,
    pub secrets: usize,
    /// The signature schemes its deliveries carry: `v1` (HMAC-SHA256) and/or `v1a` (ed25519).
    pub signatures: Vec<SignatureScheme>,
    /// The `whpk_` public keys its `v1a` signatures verify with, oldest first (not secret).
    pub public_keys: Vec<String>,
    /// The names of its custom headers.
    pub headers: Vec<String>,
    pub created_at: String,
    pub last_delivery: Option<LastDelivery>,
    /// Its rate limit; absent: none.
    pub rate: Option<RateView>,
}

/// A subscription's rate limit and how long a delivery would wait for its turn now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RateView {
    /// As written: `20/s`, `600/m`, `1000/h`.
    #[cfg_attr(feature = "openapi", schema(example = "20/s"))]
    pub rate: String,
    pub burst: u32,
    /// How long a delivery reserving its slot now would wait, in milliseconds (0 when the
    /// subscription keeps up).
    pub wait_ms: u64,
}

impl RateView {
    fn of(rate: &RateLimit, tat: Option<i64>, now: SystemTime) -> Self {
        Self {
            rate: RateLimit { burst: 1, ..*rate }.to_string(),
            burst: rate.burst,
            wait_ms: u64::try_from(rate.current_wait(tat, unix_micros(now)).as_millis())
                .unwrap_or(u64::MAX),
        }
    }
}

impl From<&Subscription> for SubscriptionView {
    fn from(s: &Subscription) -> Self {
        Self {
            subscription_id: s.subscription_id.clone(),
            source_id: s.source_id.as_str().to_owned(),
            url: s.url.clone(),
            event_types: s.event_types.clone(),
            // Stored by `checked_filter`, so it parses; a hand-edited item that does not is
            // shown as the text it holds.
            filter: s.filter.as_deref().map(|text| {
                serde_json::from_str(text)
                    .unwrap_or_else(|_| serde_json::Value::String(text.to_owned()))
            }),
            enabled: s.enabled,
            disabled_reason: s.disabled_reason.clone(),
            disabled_at: s.disabled_at.clone(),
            failing_since: s.failing_since.clone(),
            timeout_seconds: s.timeout_seconds,
            secrets: s.secrets.len(),
            signatures: s.signature_schemes(),
            public_keys: s.public_keys(),
            headers: s.headers.keys().cloned().collect(),
            created_at: s.created_at.clone(),
            last_delivery: s.last_delivery.clone(),
            rate: s
                .rate
                .as_ref()
                .map(|r| RateView::of(r, s.rate_next, SystemTime::now())),
        }
    }
}

/// What creating a subscription needs; the URL, types and headers are checked here.
#[derive(Debug, Clone)]
pub struct NewSubscription {
    pub source_id: SourceId,
    pub url: String,
    /// Event-type filters (`push`, `invoice.*`, `*`).
    pub event_types: Vec<String>,
    /// A payload filter: an EventBridge event pattern (a JSON object).
    pub filter: Option<serde_json::Value>,
    pub headers: BTreeMap<String, String>,
    pub timeout_seconds: Option<u64>,
    /// At most this many deliveries a period ([`checked_rate`]).
    pub rate: Option<RateLimit>,
    /// The signature schemes its deliveries carry (`v1` unless asked otherwise).
    pub signatures: SignatureSchemes,
}

/// A change to a subscription's delivery: each field present replaces the current one.
#[derive(Debug, Clone, Default)]
pub struct SubscriptionChanges {
    pub url: Option<String>,
    pub event_types: Option<Vec<String>>,
    /// `Some(None)` removes the payload filter.
    pub filter: Option<Option<serde_json::Value>>,
    pub headers: Option<BTreeMap<String, String>>,
    /// `Some(None)` removes the subscription's own timeout.
    pub timeout_seconds: Option<Option<u64>>,
    /// `Some(None)` removes the rate limit.
    pub rate: Option<Option<RateLimit>>,
}

/// A rate limit as `N/s`, `N/m` or `N/h` with an optional burst, checked; errors name the field.
pub fn checked_rate(rate: &str, burst: Option<u32>) -> Result<RateLimit, OpError> {
    RateLimit::parse(rate, burst).map_err(|e| {
        let field = if e.contains("burst") { "burst" } else { "rate" };
        OpError::invalid(field, e)
    })
}

/// A created subscription, with what its subscriber verifies with: the `whsec_` secret (shown
/// this once) for `v1`, the `whpk_` public key for `v1a`. The `whsk_` key is never shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreatedSubscription {
    #[serde(flatten)]
    pub subscription: SubscriptionView,
    /// The `whsec_` secret `v1` signatures are made with: in this answer only, no read of the
    /// subscription shows it again. Absent when it signs with `v1a` alone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<Revealed>,
    /// The `whpk_` public key `v1a` signatures verify with (also in `public_keys` of every read).
    /// Absent when it signs with `v1` alone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_key: Option<String>,
}

/// What a rotation does to a subscription's signing keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubscriptionRotate {
    /// Add a new key of each scheme named (`None`: of each scheme in use); deliveries are signed
    /// with every key until the rotation is finished.
    Add(Option<SignatureSchemes>),
    /// Keep only the newest key of each scheme named (`None`: of each scheme in use). Naming
    /// fewer schemes than are in use retires the others: finishing a change from `v1` to `v1a`
    /// is `Finish(Some(SignatureSchemes::V1A))`.
    Finish(Option<SignatureSchemes>),
}

/// A header as `Name: value`, checked: a valid name, lower-cased, and not one of Hookpost's own.
pub fn parse_header(header: &str) -> Result<(String, String), String> {
    let (name, value) = header
        .split_once(':')
        .ok_or_else(|| format!("`{header}`: write headers as `Name: value`"))?;
    let name = name.trim().to_ascii_lowercase();
    check_header(&name, value.trim())?;
    Ok((name, value.trim().to_owned()))
}

fn check_header(name: &str, value: &str) -> Result<(), String> {
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
    {
        return Err(format!("`{name}` is not a header name"));
    }
    if name.starts_with(RESERVED_HEADER_PREFIX) {
        return Err(format!(
            "`{name}`: webhook-* headers are Hookpost's signature headers"
        ));
    }
    if value.bytes().any(|b| b.is_ascii_control() && b != b'\t') {
        return Err(format!("the value of {name} has control characters"));
    }
    Ok(())
}

fn checked_headers(headers: BTreeMap<String, String>) -> Result<BTreeMap<String, String>, OpError> {
    headers
        .into_iter()
        .map(|(name, value)| {
            let name = name.trim().to_ascii_lowercase();
            check_header(&name, &value).map_err(|e| OpError::invalid("headers", e))?;
            Ok((name, value))
        })
        .collect()
}

/// Reads a signature choice: `v1`, `v1a` or `v1,v1a`; refused naming the field `signature` and
/// the allowed values.
pub fn parse_signatures(text: &str) -> Result<SignatureSchemes, OpError> {
    SignatureSchemes::parse(text).map_err(|e| OpError::invalid("signature", e))
}

fn checked_types(types: Vec<String>) -> Result<Vec<String>, OpError> {
    let joined = types.join(",");
    hookpost_shared::subscription::parse_event_filters(&joined)
        .map_err(|e| OpError::invalid("events", e))
}

fn checked_filter(filter: Option<&serde_json::Value>) -> Result<Option<String>, OpError> {
    filter
        .map(|f| {
            hookpost_shared::routing::checked_filter(f)
                .map_err(|e| OpError::invalid("filter", e.to_string()))
        })
        .transpose()
}

/// A subscription's target: an http(s) URL, or the ARN of an SQS queue, SNS topic or
/// EventBridge bus that the deployment lets the dispatcher send to.
fn checked_target(url: &str, allowed: &[String]) -> Result<String, OpError> {
    if !is_arn(url) {
        return parse_target_url(url)
            .map(|u| u.to_string())
            .map_err(|e| OpError::invalid("url", e));
    }
    let arn: DestinationArn = url.parse().map_err(|e| OpError::invalid("url", e))?;
    if !allowed.iter().any(|a| a == arn.as_str()) {
        return Err(OpError::invalid(
            "url",
            format!(
                "the stack does not let the dispatcher send to {arn}: add it to the \
                 DestinationArns parameter (comma-separated) and deploy"
            ),
        ));
    }
    Ok(arn.to_string())
}

fn checked_timeout(timeout: Option<u64>) -> Result<Option<u64>, OpError> {
    match timeout {
        Some(0) => Err(OpError::invalid(
            "timeout_seconds",
            "must be at least 1 second",
        )),
        t => Ok(t),
    }
}

fn new_key(scheme: SignatureScheme) -> Result<DeliveryKey, OpError> {
    DeliveryKey::generate(scheme).map_err(|e| {
        OpError::Unavailable(hookpost_shared::store::StoreError::new(
            "generating a secret",
            format!("no randomness: {e}"),
        ))
    })
}

/// New keys of each scheme, in spec order; what the subscriber is shown of them: the `whsec_`
/// secret and the `whpk_` public key.
type NewKeys = (Vec<Secret>, Option<Revealed>, Option<String>);

fn new_keys(schemes: SignatureSchemes) -> Result<NewKeys, OpError> {
    let (mut stored, mut secret, mut public_key) = (Vec::new(), None, None);
    for scheme in schemes.iter() {
        let key = new_key(scheme)?;
        stored.push(key.to_secret());
        match key {
            DeliveryKey::Symmetric(_) => secret = Some(Revealed::new(&key.for_subscriber())),
            DeliveryKey::Asymmetric(_) => {
                public_key = Some(key.for_subscriber().expose().to_owned())
            }
        }
    }
    Ok((stored, secret, public_key))
}

/// The schemes in use by `secrets` (`v1` when there are none, as before `v1a` existed).
fn schemes_in_use(secrets: &[Secret]) -> SignatureSchemes {
    SignatureSchemes::from_names(
        [SignatureScheme::V1, SignatureScheme::V1a]
            .into_iter()
            .filter(|s| secrets.iter().any(|k| SignatureScheme::of(k) == *s))
            .map(SignatureScheme::as_str),
    )
    .unwrap_or_default()
}

/// Keeps the newest key of each scheme in `keep` and retires every other; how many were retired.
/// Refused (nothing changed) when a scheme in `keep` has no key: finishing must never leave a
/// scheme the subscriber was told about without a key, nor a subscription with none.
pub(crate) fn retire_all_but_newest_of(
    secrets: &mut Vec<Secret>,
    keep: SignatureSchemes,
) -> Result<usize, OpError> {
    let newest: Vec<usize> = keep
        .iter()
        .map(|scheme| {
            secrets
                .iter()
                .rposition(|s| SignatureScheme::of(s) == scheme)
                .ok_or_else(|| {
                    OpError::invalid(
                        "signature",
                        format!(
                            "the subscription has no {scheme} key to keep: add one first with \
                             a rotation that names {scheme}"
                        ),
                    )
                })
        })
        .collect::<Result<_, _>>()?;
    let before = secrets.len();
    let mut index = 0;
    secrets.retain(|_| {
        let kept = newest.contains(&index);
        index += 1;
        kept
    });
    Ok(before - secrets.len())
}

impl Operations {
    /// Subscriptions, of one source or of all, in (source, id) order.
    pub async fn list_subscriptions(
        &self,
        source: Option<&SourceId>,
        page: &PageRequest,
    ) -> Result<Page<SubscriptionView>, OpError> {
        let scope = source.map(|s| format!("source={s}")).unwrap_or_default();
        let after = page.after(LIST, &scope)?;
        let table = self.subscriptions_table();
        let mut all = match source {
            Some(source) => table.list_for(source).await?,
            None => table.list_all().await?,
        };
        all.sort_by(|a, b| {
            (&a.source_id, &a.subscription_id).cmp(&(&b.source_id, &b.subscription_id))
        });
        let views = all.iter().map(SubscriptionView::from).collect();
        Ok(slice_after(
            views,
            after.as_deref(),
            page.limit,
            LIST,
            &scope,
            |s: &SubscriptionView| format!("{}\n{}", s.source_id, s.subscription_id),
        ))
    }

    pub(crate) async fn subscription(&self, id: &str) -> Result<Subscription, OpError> {
        self.subscriptions_table()
            .find(id)
            .await?
            .ok_or_else(|| OpError::not_found(Kind::Subscription, id))
    }

    pub async fn get_subscription(&self, id: &str) -> Result<SubscriptionView, OpError> {
        Ok(SubscriptionView::from(&self.subscription(id).await?))
    }

    /// Subscribes a URL to a source's events, signed with the schemes asked for; the `whsec_`
    /// secret is in the answer and nowhere else, the `whsk_` key nowhere at all.
    pub async fn add_subscription(
        &self,
        new: NewSubscription,
    ) -> Result<CreatedSubscription, OpError> {
        let url = checked_target(&new.url, &self.destinations)?;
        let event_types = checked_types(new.event_types)?;
        let filter = checked_filter(new.filter.as_ref())?;
        let headers = checked_headers(new.headers)?;
        let timeout_seconds = checked_timeout(new.timeout_seconds)?;
        self.source(&new.source_id).await?;
        let (stored, secret, public_key) = new_keys(new.signatures)?;
        let subscription = Subscription {
            event_types,
            filter,
            timeout_seconds,
            headers,
            rate: new.rate,
            ..Subscription::new(
                new.source_id,
                new_subscription_id(),
                url,
                stored,
                rfc3339(SystemTime::now()),
            )
        };
        self.subscriptions_table().put(&subscription).await?;
        Ok(CreatedSubscription {
            subscription: SubscriptionView::from(&subscription),
            secret,
            public_key,
        })
    }

    /// Changes where and what a subscription delivers; its secrets and state stay.
    pub async fn update_subscription(
        &self,
        id: &str,
        changes: SubscriptionChanges,
    ) -> Result<SubscriptionView, OpError> {
        let mut s = self.subscription(id).await?;
        if let Some(url) = changes.url {
            s.url = checked_target(&url, &self.destinations)?;
        }
        if let Some(types) = changes.event_types {
            s.event_types = checked_types(types)?;
        }
        if let Some(filter) = changes.filter {
            s.filter = checked_filter(filter.as_ref())?;
        }
        if let Some(headers) = changes.headers {
            s.headers = checked_headers(headers)?;
        }
        if let Some(timeout) = changes.timeout_seconds {
            s.timeout_seconds = checked_timeout(timeout)?;
        }
        if let Some(rate) = changes.rate {
            s.rate = rate;
        }
        if !self.subscriptions_table().set_delivery_options(&s).await? {
            return Err(OpError::not_found(Kind::Subscription, id));
        }
        Ok(SubscriptionView::from(&s))
    }

    /// Enables (clearing the reason and the failure streak) or disables a subscription.
    pub async fn set_subscription_enabled(
        &self,
        id: &str,
        enabled: bool,
        reason: Option<&str>,
    ) -> Result<SubscriptionView, OpError> {
        let found = self.subscription(id).await?;
        self.subscriptions_table()
            .set_enabled(&found.source_id, id, enabled, reason)
            .await?;
        self.get_subscription(id).await
    }

    pub async fn remove_subscription(&self, id: &str) -> Result<Removed, OpError> {
        let found = self.subscription(id).await?;
        if !self
            .subscriptions_table()
            .delete(&found.source_id, id)
            .await?
        {
            return Err(OpError::not_found(Kind::Subscription, id));
        }
        Ok(Removed {
            id: id.to_owned(),
            removed: true,
        })
    }

    /// Adds a new key of each scheme asked for (deliveries are signed with each), or finishing,
    /// keeps the newest of each scheme asked for ([`SubscriptionRotate`]). The answer carries
    /// a new `whsec_` secret and a new `whpk_` public key; never a `whsk_` key.
    pub async fn rotate_subscription_secret(
        &self,
        id: &str,
        rotate: SubscriptionRotate,
    ) -> Result<Rotation, OpError> {
        let mut found = self.subscription(id).await?;
        let in_use = schemes_in_use(&found.secrets);
        let (retired, added, public_key) = match rotate {
            SubscriptionRotate::Finish(keep) => (
                retire_all_but_newest_of(&mut found.secrets, keep.unwrap_or(in_use))?,
                None,
                None,
            ),
            SubscriptionRotate::Add(schemes) => {
                let (stored, secret, public_key) = new_keys(schemes.unwrap_or(in_use))?;
                found.secrets.extend(stored);
                (0, secret, public_key)
            }
        };
        if !self
            .subscriptions_table()
            .set_secrets(&found.source_id, id, &found.secrets)
            .await?
        {
            return Err(OpError::not_found(Kind::Subscription, id));
        }
        Ok(Rotation {
            id: id.to_owned(),
            retired,
            secrets: found.secrets.len(),
            secret: added,
            public_key,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rate_is_shown_with_its_burst_and_the_wait_a_delivery_would_have_now() {
        let rate = checked_rate("20/s", Some(4)).expect("valid");
        let now = SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_700_000_000);
        let tat = unix_micros(now) + 2_000_000;
        assert_eq!(
            RateView::of(&rate, Some(tat), now),
            RateView {
                rate: "20/s".to_owned(),
                burst: 4,
                // Two seconds of reserved slots, less the three a burst of four may run ahead.
                wait_ms: 1850,
            }
        );
        assert_eq!(RateView::of(&rate, None, now).wait_ms, 0, "idle");
        assert_eq!(RateView::of(&rate, Some(tat - 5_000_000), now).wait_ms, 0);
    }

    #[test]
    fn a_bad_rate_or_burst_is_refused_naming_the_field() {
        for (rate, burst, field) in [
            ("0/s", None, "rate"),
            ("5/d", None, "rate"),
            ("five/s", None, "rate"),
            ("5", None, "rate"),
            ("5/s", Some(0), "burst"),
        ] {
            match checked_rate(rate, burst) {
                Err(OpError::Invalid { field: f, reason }) => {
                    assert_eq!(f, field, "{rate} {burst:?}: {reason}");
                }
                other => panic!("{rate} {burst:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn headers_are_lower_cased_and_checked() {
        assert_eq!(
            parse_header("X-Team: payments").expect("valid"),
            ("x-team".to_owned(), "payments".to_owned())
        );
        for bad in [
            "no colon",
            ": empty name",
            "bad name: x",
            "Webhook-Id: mine",
            "x-a: line\nbreak",
        ] {
            assert!(parse_header(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_view_never_carries_secrets_or_header_values() {
        let mut s = Subscription::new(
            SourceId::parse("gh").expect("id"),
            "sub_1",
            "https://example.com/hook",
            vec![Secret::new("whsec_c2VjcmV0")],
            "2026-01-01T00:00:00Z",
        );
        s.headers
            .insert("authorization".into(), "Bearer t0ken".into());
        let json = serde_json::to_string(&SubscriptionView::from(&s)).expect("json");
        assert!(!json.contains("whsec_c2VjcmV0"));
        assert!(!json.contains("t0ken"));
        assert!(json.contains("authorization"));
    }

    fn keys(schemes: &[SignatureScheme]) -> Vec<Secret> {
        schemes
            .iter()
            .map(|s| new_key(*s).expect("rng").to_secret())
            .collect()
    }

    #[test]
    fn a_view_shows_schemes_and_public_keys_but_never_the_whsk_key() {
        let secrets = keys(&[SignatureScheme::V1, SignatureScheme::V1a]);
        let s = Subscription::new(
            SourceId::parse("gh").expect("id"),
            "sub_1",
            "https://example.com/hook",
            secrets.clone(),
            "2026-01-01T00:00:00Z",
        );
        let view = SubscriptionView::from(&s);
        assert_eq!(view.signatures, [SignatureScheme::V1, SignatureScheme::V1a]);
        assert_eq!(view.public_keys.len(), 1);
        assert!(view.public_keys[0].starts_with("whpk_"));
        let json = serde_json::to_string(&view).expect("json");
        assert!(json.contains(r#""signatures":["v1","v1a"]"#), "{json}");
        for secret in &secrets {
            assert!(!json.contains(secret.expose()));
        }
        assert!(!json.contains("whsk_") && !json.contains("whsec_"));
    }

    #[test]
    fn new_keys_show_the_subscriber_the_whsec_secret_and_the_whpk_key_only() {
        let (stored, secret, public_key) = new_keys(SignatureSchemes::BOTH).expect("rng");
        assert_eq!(
            stored.iter().map(SignatureScheme::of).collect::<Vec<_>>(),
            [SignatureScheme::V1, SignatureScheme::V1a]
        );
        assert_eq!(
            secret.as_ref().map(Revealed::expose),
            Some(stored[0].expose())
        );
        let public_key = public_key.expect("a v1a key");
        assert!(public_key.starts_with("whpk_"));
        assert_ne!(public_key, stored[1].expose());
        let (_, secret, public_key) = new_keys(SignatureSchemes::V1A).expect("rng");
        assert!(secret.is_none() && public_key.is_some());
        let (_, secret, public_key) = new_keys(SignatureSchemes::V1).expect("rng");
        assert!(secret.is_some() && public_key.is_none());
    }

    #[test]
    fn finishing_keeps_the_newest_key_of_each_scheme_named() {
        use SignatureScheme::{V1, V1a};
        // A v1 rotation: only the newest v1 secret stays.
        let mut secrets = keys(&[V1, V1, V1]);
        let newest = secrets[2].clone();
        let in_use = schemes_in_use(&secrets);
        assert_eq!(
            retire_all_but_newest_of(&mut secrets, in_use).expect("kept"),
            2
        );
        assert_eq!(secrets, [newest]);

        // Both schemes rotated: the newest of each stays, in their order.
        let mut secrets = keys(&[V1, V1a, V1, V1a]);
        let kept = [secrets[2].clone(), secrets[3].clone()];
        assert_eq!(
            retire_all_but_newest_of(&mut secrets, SignatureSchemes::BOTH).expect("kept"),
            2
        );
        assert_eq!(secrets, kept);

        // A change from v1 to v1a, finished by naming v1a: the v1 secret goes.
        let mut secrets = keys(&[V1, V1a]);
        let v1a = secrets[1].clone();
        assert_eq!(
            retire_all_but_newest_of(&mut secrets, SignatureSchemes::V1A).expect("kept"),
            1
        );
        assert_eq!(secrets, [v1a]);
    }

    #[test]
    fn finishing_with_a_scheme_that_has_no_key_is_refused_and_changes_nothing() {
        let mut secrets = keys(&[SignatureScheme::V1, SignatureScheme::V1]);
        let before = secrets.clone();
        let err =
            retire_all_but_newest_of(&mut secrets, SignatureSchemes::V1A).expect_err("no v1a");
        assert!(matches!(err, OpError::Invalid { ref field, .. } if field == "signature"));
        assert_eq!(secrets, before);
    }

    #[test]
    fn a_rotation_without_a_choice_uses_the_schemes_in_use() {
        assert_eq!(schemes_in_use(&[]), SignatureSchemes::V1);
        assert_eq!(
            schemes_in_use(&keys(&[SignatureScheme::V1a])),
            SignatureSchemes::V1A
        );
        assert_eq!(
            schemes_in_use(&keys(&[SignatureScheme::V1a, SignatureScheme::V1])),
            SignatureSchemes::BOTH
        );
    }

    #[test]
    fn a_zero_timeout_is_refused_naming_the_field() {
        let err = checked_timeout(Some(0)).expect_err("refused");
        assert!(matches!(err, OpError::Invalid { ref field, .. } if field == "timeout_seconds"));
    }
}
