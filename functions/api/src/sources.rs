//! `/v1/sources`: list, create (the secret in the answer, once), read (never a secret), remove,
//! rotate the secret.

use hookpost_operations::sources::{NewSource, Rotate, SourceChange, SourceView};
use hookpost_operations::{Kind, OpError, Operations, Page};
use hookpost_shared::secret::Secret;
use hookpost_shared::signature::{Provider, SchemeOptions};
use hookpost_shared::source::SourceId;
use http::StatusCode;
use serde::Deserialize;

use crate::error::ApiError;
use crate::request::{Request, present};
use crate::{Answer, answer, filters};

/// `POST /v1/sources`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateSource {
    pub id: String,
    pub provider: String,
    /// The provider's secret; a strong one is generated when absent.
    #[serde(default)]
    pub secret: Option<Secret>,
    #[serde(default)]
    pub tolerance_seconds: Option<u64>,
    #[serde(default)]
    pub options: SchemeOptions,
}

/// `PATCH /v1/sources/{id}`: each field present replaces the current one;
/// `"tolerance_seconds": null` goes back to the provider's default. The provider cannot change
/// (create another source), nor the secret (rotate it).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UpdateSource {
    #[serde(default, deserialize_with = "present")]
    pub tolerance_seconds: Option<Option<u64>>,
    #[serde(default)]
    pub options: Option<SchemeOptions>,
}

/// `POST /v1/sources/{id}/rotate-secret` (without `?finish=true`).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RotateSecret {
    /// The new secret; a strong one is generated when absent.
    #[serde(default)]
    pub secret: Option<Secret>,
}

/// An id from the path: one that cannot be a source id names no source.
pub(crate) fn existing(id: &str) -> Result<SourceId, ApiError> {
    SourceId::parse(id).map_err(|_| OpError::not_found(Kind::Source, id).into())
}

/// Fills in the webhook URL from the request's domain where the deployment's is not configured.
fn with_url(mut view: SourceView, req: &Request) -> SourceView {
    if view.url.is_none() && view.provider != Provider::Publish.name() {
        view.url = req
            .webhook_base
            .as_ref()
            .map(|base| format!("{base}{}", view.source_id));
    }
    view
}

pub async fn list(ops: &Operations, req: &Request) -> Result<Answer, ApiError> {
    let page = ops.list_sources(&req.page()?).await?;
    let page = Page {
        items: page.items.into_iter().map(|v| with_url(v, req)).collect(),
        next_cursor: page.next_cursor,
    };
    answer(StatusCode::OK, &page)
}

pub async fn create(ops: &Operations, req: &Request) -> Result<Answer, ApiError> {
    let body: CreateSource = req.json()?;
    let new = NewSource {
        source_id: filters::source_id("id", &body.id)?,
        provider: body
            .provider
            .parse::<Provider>()
            .map_err(|e| ApiError::invalid("provider", e.to_string()))?,
        secret: body.secret,
        tolerance_seconds: body.tolerance_seconds,
        options: body.options,
    };
    let mut created = ops.add_source(new).await?;
    created.source = with_url(created.source, req);
    answer(StatusCode::CREATED, &created)
}

pub async fn get(ops: &Operations, id: &str, req: &Request) -> Result<Answer, ApiError> {
    let view = ops.get_source(&existing(id)?).await?;
    answer(StatusCode::OK, &with_url(view, req))
}

pub async fn update(ops: &Operations, id: &str, req: &Request) -> Result<Answer, ApiError> {
    let body: UpdateSource = req.json()?;
    if body.tolerance_seconds.is_none() && body.options.is_none() {
        return Err(ApiError::invalid(
            "body",
            "names nothing to change: send tolerance_seconds or options",
        ));
    }
    let change = SourceChange {
        tolerance_seconds: body.tolerance_seconds,
        options: body.options,
    };
    let view = ops.update_source(&existing(id)?, change).await?;
    answer(StatusCode::OK, &with_url(view, req))
}

pub async fn delete(ops: &Operations, id: &str) -> Result<Answer, ApiError> {
    answer(StatusCode::OK, &ops.remove_source(&existing(id)?).await?)
}

pub async fn rotate(ops: &Operations, id: &str, req: &Request) -> Result<Answer, ApiError> {
    let rotate = if req.flag("finish")? {
        Rotate::Finish
    } else {
        Rotate::Add(req.json::<RotateSecret>()?.secret)
    };
    answer(
        StatusCode::OK,
        &ops.rotate_source_secret(&existing(id)?, rotate).await?,
    )
}
