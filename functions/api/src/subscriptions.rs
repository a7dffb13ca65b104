//! `/v1/subscriptions`: list (of one source or all), create (the `whsec_` secret in the answer,
//! once), read with state, change, remove, enable, disable, rotate the secret.

use std::collections::BTreeMap;

use hookpost_operations::Operations;
use hookpost_operations::subscriptions::{NewSubscription, SubscriptionChanges};
use http::StatusCode;
use serde::Deserialize;

use crate::error::ApiError;
use crate::request::{Empty, Request, present};
use crate::{Answer, answer, filters};

/// `POST /v1/subscriptions`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateSubscription {
    pub source: String,
    pub url: String,
    /// Event-type filters; every event when absent.
    #[serde(default = "every_event")]
    pub events: Vec<String>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub timeout_seconds: Option<u64>,
}

fn every_event() -> Vec<String> {
    vec!["*".to_owned()]
}

/// `PATCH /v1/subscriptions/{id}`: each field present replaces the current one;
/// `"timeout_seconds": null` removes the subscription's own timeout.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateSubscription {
    #[serde(default)]
    pub url: Option<String>,
    #[serde(default)]
    pub events: Option<Vec<String>>,
    #[serde(default)]
    pub headers: Option<BTreeMap<String, String>>,
    #[serde(default, deserialize_with = "present")]
    pub timeout_seconds: Option<Option<u64>>,
}

/// `POST /v1/subscriptions/{id}/disable`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Disable {
    #[serde(default)]
    pub reason: Option<String>,
}

pub async fn list(ops: &Operations, req: &Request) -> Result<Answer, ApiError> {
    let source = filters::optional(req.param("source")?, "source", filters::source_id)?;
    answer(
        StatusCode::OK,
        &ops.list_subscriptions(source.as_ref(), &req.page()?)
            .await?,
    )
}

pub async fn create(ops: &Operations, req: &Request) -> Result<Answer, ApiError> {
    let body: CreateSubscription = req.json()?;
    let new = NewSubscription {
        source_id: filters::source_id("source", &body.source)?,
        url: body.url,
        event_types: body.events,
        headers: body.headers,
        timeout_seconds: body.timeout_seconds,
    };
    answer(StatusCode::CREATED, &ops.add_subscription(new).await?)
}

pub async fn get(ops: &Operations, id: &str) -> Result<Answer, ApiError> {
    answer(StatusCode::OK, &ops.get_subscription(id).await?)
}

pub async fn update(ops: &Operations, id: &str, req: &Request) -> Result<Answer, ApiError> {
    let body: UpdateSubscription = req.json()?;
    let changes = SubscriptionChanges {
        url: body.url,
        event_types: body.events,
        headers: body.headers,
        timeout_seconds: body.timeout_seconds,
    };
    answer(StatusCode::OK, &ops.update_subscription(id, changes).await?)
}

pub async fn delete(ops: &Operations, id: &str) -> Result<Answer, ApiError> {
    answer(StatusCode::OK, &ops.remove_subscription(id).await?)
}

pub async fn enable(ops: &Operations, id: &str, req: &Request) -> Result<Answer, ApiError> {
    req.json::<Empty>()?;
    answer(
        StatusCode::OK,
        &ops.set_subscription_enabled(id, true, None).await?,
    )
}

pub async fn disable(ops: &Operations, id: &str, req: &Request) -> Result<Answer, ApiError> {
    let body: Disable = req.json()?;
    answer(
        StatusCode::OK,
        &ops.set_subscription_enabled(id, false, body.reason.as_deref())
            .await?,
    )
}

pub async fn rotate(ops: &Operations, id: &str, req: &Request) -> Result<Answer, ApiError> {
    let finish = req.flag("finish")?;
    req.json::<Empty>()?;
    answer(
        StatusCode::OK,
        &ops.rotate_subscription_secret(id, finish).await?,
    )
}
