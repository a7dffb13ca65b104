//! `/v1/subscriptions`: list (of one source or all), create (the `whsec_` secret and/or the
//! `whpk_` public key in the answer; the secret once), read with state, change, remove, enable,
//! disable, rotate the signing keys.

use std::collections::BTreeMap;

use hookpost_operations::OpError;
use hookpost_operations::sources::{Removed, Rotation};
use hookpost_operations::subscriptions::{
    CreatedSubscription, NewSubscription, SubscriptionChanges, SubscriptionRotate,
    SubscriptionView, checked_rate, parse_signatures,
};
use hookpost_operations::{Operations, Page};
use hookpost_shared::delivery::RateLimit;
use hookpost_shared::secret::SignatureSchemes;
use http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::openapi::{BadRequest, NotFound, PayloadTooLarge, Unavailable, UnsupportedMediaType};
use crate::request::{Empty, FinishQuery, PageQuery, Request, present};
use crate::{Answer, answer, filters};

/// `POST /v1/subscriptions`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSubscription {
    /// The source whose events it receives.
    #[schema(example = "orders")]
    pub source: String,
    /// Where events are delivered: a public `https` URL, or the ARN of an SQS queue, SNS topic or
    /// EventBridge bus listed in the stack's `DestinationArns`.
    #[schema(example = "https://example.com/hooks/orders")]
    pub url: String,
    /// Event-type filters (`push`, `invoice.*`, `*`); every event when absent.
    #[serde(default = "every_event")]
    #[schema(default = json!(["*"]))]
    pub events: Vec<String>,
    /// A payload filter: an EventBridge event pattern over `{"type", "source", "headers",
    /// "body"}` (docs/routing.md); every event of the types when absent.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub filter: Option<serde_json::Value>,
    /// Headers sent with every delivery; the answers show their names only.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Seconds to wait for the subscriber; the deployment's default when absent.
    #[serde(default)]
    pub timeout_seconds: Option<u64>,
    /// At most this many deliveries a second, minute or hour across every dispatcher; deliveries
    /// over it wait their turn and never fail for it. No limit when absent.
    #[serde(default)]
    #[schema(example = "20/s", pattern = r"^[0-9]+/(s|m|h)$")]
    pub rate: Option<String>,
    /// With `rate`: how many deliveries may go at once after a quiet spell (default 1).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 10000)]
    pub burst: Option<u32>,
    /// The signature schemes deliveries carry: `"v1"` (HMAC-SHA256; the answer's `secret` is
    /// the `whsec_` secret), `"v1a"` (ed25519; the answer's `public_key` is the `whpk_` key the
    /// subscriber verifies with) or `"v1,v1a"` (both). `"v1"` when absent.
    #[serde(default)]
    #[schema(example = "v1a")]
    pub signature: Option<String>,
}

/// `POST /v1/subscriptions/{id}/rotate-secret`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateSubscriptionSecret {
    /// The schemes to add a key for (`"v1"`, `"v1a"` or `"v1,v1a"`), or with `?finish=true`
    /// the schemes whose newest key is kept (every other key is retired): finishing a change
    /// from `v1` to `v1a` is `{"signature": "v1a"}` with `?finish=true`. The schemes in use when
    /// absent.
    #[serde(default)]
    #[schema(example = "v1a")]
    pub signature: Option<String>,
}

/// The `signature` field, when present.
fn signatures(given: Option<&str>) -> Result<Option<SignatureSchemes>, ApiError> {
    Ok(given.map(parse_signatures).transpose()?)
}

/// `{subscription_id}` in a path.
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct SubscriptionPath {
    /// The subscription's id (`sub_…`).
    #[param(pattern = r"^[A-Za-z0-9_-]{1,200}$")]
    pub subscription_id: String,
}

/// `GET /v1/subscriptions?source=`.
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SubscriptionQuery {
    /// Only this source's subscriptions.
    pub source: Option<String>,
}

fn every_event() -> Vec<String> {
    vec!["*".to_owned()]
}

/// `PATCH /v1/subscriptions/{id}`: each field present replaces the current one;
/// `"timeout_seconds": null` removes the subscription's own timeout.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateSubscription {
    #[serde(default)]
    pub url: Option<String>,
    /// Event-type filters, replacing the current ones.
    #[serde(default)]
    pub events: Option<Vec<String>>,
    /// A payload filter replacing the current one; `null` removes it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<Object>)]
    pub filter: Option<Option<serde_json::Value>>,
    /// Custom headers, replacing the current ones.
    #[serde(default)]
    pub headers: Option<BTreeMap<String, String>>,
    /// `null` removes the subscription's own timeout.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<u64>)]
    pub timeout_seconds: Option<Option<u64>>,
    /// A rate limit replacing the current one (`20/s`, `600/m`, `1000/h`); `null` removes it.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, example = "20/s")]
    pub rate: Option<Option<String>>,
    /// With `rate`: its burst (default 1).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 10000)]
    pub burst: Option<u32>,
}

/// `rate` and `burst` as a limit; a burst needs a rate.
fn rate_of(rate: Option<&str>, burst: Option<u32>) -> Result<Option<RateLimit>, ApiError> {
    match (rate, burst) {
        (Some(rate), burst) => Ok(Some(checked_rate(rate, burst)?)),
        (None, Some(_)) => Err(OpError::invalid(
            "burst",
            "set `burst` together with `rate` (e.g. {\"rate\": \"20/s\", \"burst\": 5})",
        )
        .into()),
        (None, None) => Ok(None),
    }
}

/// `POST /v1/subscriptions/{id}/disable`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Disable {
    /// Why, shown with the subscription until it is enabled.
    #[serde(default)]
    pub reason: Option<String>,
}

/// Subscriptions of one source, or of every source.
#[utoipa::path(get, path = "/v1/subscriptions", tag = "subscriptions", operation_id = "listSubscriptions",
    params(SubscriptionQuery, PageQuery),
    responses(
        (status = 200, description = "A page of subscriptions.", body = Page<SubscriptionView>),
        (status = 400, response = BadRequest),
        (status = 413, response = PayloadTooLarge),
        (status = 503, response = Unavailable),
    ))]
pub async fn list(ops: &Operations, req: &Request) -> Result<Answer, ApiError> {
    let source = filters::optional(req.param("source")?, "source", filters::source_id)?;
    answer(
        StatusCode::OK,
        &ops.list_subscriptions(source.as_ref(), &req.page()?)
            .await?,
    )
}

/// Creates a subscription; its `whsec_` secret is in this answer and in no other, its `whpk_`
/// public key in this answer and every read.
#[utoipa::path(post, path = "/v1/subscriptions", tag = "subscriptions", operation_id = "createSubscription",
    request_body = CreateSubscription,
    responses(
        (status = 201, description = "The subscription, its `whsec_` secret (`v1`, shown this once) and its `whpk_` public key (`v1a`).", body = CreatedSubscription),
        (status = 400, response = BadRequest),
        (status = 404, response = NotFound),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 503, response = Unavailable),
    ))]
pub async fn create(ops: &Operations, req: &Request) -> Result<Answer, ApiError> {
    let body: CreateSubscription = req.json()?;
    let new = NewSubscription {
        source_id: filters::source_id("source", &body.source)?,
        signatures: signatures(body.signature.as_deref())?.unwrap_or_default(),
        url: body.url,
        event_types: body.events,
        filter: body.filter,
        headers: body.headers,
        timeout_seconds: body.timeout_seconds,
        rate: rate_of(body.rate.as_deref(), body.burst)?,
    };
    answer(StatusCode::CREATED, &ops.add_subscription(new).await?)
}

/// One subscription with its state.
#[utoipa::path(get, path = "/v1/subscriptions/{subscription_id}", tag = "subscriptions",
    operation_id = "getSubscription",
    params(SubscriptionPath),
    responses(
        (status = 200, description = "The subscription.", body = SubscriptionView),
        (status = 400, response = BadRequest),
        (status = 404, response = NotFound),
        (status = 413, response = PayloadTooLarge),
        (status = 503, response = Unavailable),
    ))]
pub async fn get(ops: &Operations, id: &str) -> Result<Answer, ApiError> {
    answer(StatusCode::OK, &ops.get_subscription(id).await?)
}

/// Changes a subscription's delivery: each field present replaces the current one.
#[utoipa::path(patch, path = "/v1/subscriptions/{subscription_id}", tag = "subscriptions",
    operation_id = "updateSubscription",
    params(SubscriptionPath),
    request_body = UpdateSubscription,
    responses(
        (status = 200, description = "The subscription.", body = SubscriptionView),
        (status = 400, response = BadRequest),
        (status = 404, response = NotFound),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 503, response = Unavailable),
    ))]
pub async fn update(ops: &Operations, id: &str, req: &Request) -> Result<Answer, ApiError> {
    let body: UpdateSubscription = req.json()?;
    let changes = SubscriptionChanges {
        url: body.url,
        event_types: body.events,
        filter: body.filter,
        headers: body.headers,
        timeout_seconds: body.timeout_seconds,
        rate: match body.rate {
            Some(rate) => Some(rate_of(rate.as_deref(), body.burst)?),
            None => rate_of(None, body.burst)?.map(Some),
        },
    };
    answer(StatusCode::OK, &ops.update_subscription(id, changes).await?)
}

/// Removes a subscription.
#[utoipa::path(delete, path = "/v1/subscriptions/{subscription_id}", tag = "subscriptions",
    operation_id = "deleteSubscription",
    params(SubscriptionPath),
    responses(
        (status = 200, description = "The subscription is removed.", body = Removed),
        (status = 400, response = BadRequest),
        (status = 404, response = NotFound),
        (status = 413, response = PayloadTooLarge),
        (status = 503, response = Unavailable),
    ))]
pub async fn delete(ops: &Operations, id: &str) -> Result<Answer, ApiError> {
    answer(StatusCode::OK, &ops.remove_subscription(id).await?)
}

/// Enables a subscription, clearing its disabled reason and failure streak.
#[utoipa::path(post, path = "/v1/subscriptions/{subscription_id}/enable", tag = "subscriptions",
    operation_id = "enableSubscription",
    params(SubscriptionPath),
    request_body = Option<Empty>,
    responses(
        (status = 200, description = "The subscription.", body = SubscriptionView),
        (status = 400, response = BadRequest),
        (status = 404, response = NotFound),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 503, response = Unavailable),
    ))]
pub async fn enable(ops: &Operations, id: &str, req: &Request) -> Result<Answer, ApiError> {
    req.json::<Empty>()?;
    answer(
        StatusCode::OK,
        &ops.set_subscription_enabled(id, true, None).await?,
    )
}

/// Disables a subscription: nothing is delivered to it until it is enabled.
#[utoipa::path(post, path = "/v1/subscriptions/{subscription_id}/disable", tag = "subscriptions",
    operation_id = "disableSubscription",
    params(SubscriptionPath),
    request_body = Option<Disable>,
    responses(
        (status = 200, description = "The subscription.", body = SubscriptionView),
        (status = 400, response = BadRequest),
        (status = 404, response = NotFound),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 503, response = Unavailable),
    ))]
pub async fn disable(ops: &Operations, id: &str, req: &Request) -> Result<Answer, ApiError> {
    let body: Disable = req.json()?;
    answer(
        StatusCode::OK,
        &ops.set_subscription_enabled(id, false, body.reason.as_deref())
            .await?,
    )
}

/// Adds a new key of each scheme in use or named (deliveries are signed with each), or with
/// `?finish=true` retires all but the newest of each scheme kept.
#[utoipa::path(post, path = "/v1/subscriptions/{subscription_id}/rotate-secret", tag = "subscriptions",
    operation_id = "rotateSubscriptionSecret",
    params(SubscriptionPath, FinishQuery),
    request_body = Option<RotateSubscriptionSecret>,
    responses(
        (status = 200, description = "What the rotation did; `secret` is the added `whsec_` secret, shown this once; `public_key` the added `whpk_` key.", body = Rotation),
        (status = 400, response = BadRequest),
        (status = 404, response = NotFound),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 503, response = Unavailable),
    ))]
pub async fn rotate(ops: &Operations, id: &str, req: &Request) -> Result<Answer, ApiError> {
    let finish = req.flag("finish")?;
    let body: RotateSubscriptionSecret = req.json()?;
    let schemes = signatures(body.signature.as_deref())?;
    let rotate = if finish {
        SubscriptionRotate::Finish(schemes)
    } else {
        SubscriptionRotate::Add(schemes)
    };
    answer(
        StatusCode::OK,
        &ops.rotate_subscription_secret(id, rotate).await?,
    )
}
