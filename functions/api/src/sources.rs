//! `/v1/sources`: list, create (the secret in the answer, once), read (never a secret), remove,
//! rotate the secret.

use hookpost_operations::sources::{
    CreatedSource, NewSource, Removed, Rotate, Rotation, SourceChange, SourceView,
};
use hookpost_operations::{Kind, OpError, Operations, Page};
use hookpost_shared::secret::Secret;
use hookpost_shared::signature::{Provider, SchemeOptions};
use hookpost_shared::source::SourceId;
use http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;

use crate::error::ApiError;
use crate::openapi::{
    BadRequest, Conflict, NotFound, PayloadTooLarge, Unavailable, UnsupportedMediaType,
};
use crate::request::{FinishQuery, PageQuery, Request, present};
use crate::{Answer, answer, filters};

/// `POST /v1/sources`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateSource {
    /// The source's id, the last segment of its webhook URL.
    #[schema(example = "orders")]
    pub id: String,
    /// A provider Hookpost verifies (`github`, `stripe`, `standard-webhooks`, `generic-hmac`, …).
    #[schema(example = "github")]
    pub provider: String,
    /// The provider's secret; a strong one is generated when absent. Never shown again after
    /// the answer to this request.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Password, write_only)]
    pub secret: Option<Secret>,
    /// How old a signed timestamp may be; the scheme's default when absent.
    #[serde(default)]
    pub tolerance_seconds: Option<u64>,
    #[serde(default)]
    pub options: SchemeOptions,
}

/// `PATCH /v1/sources/{id}`: each field present replaces the current one;
/// `"tolerance_seconds": null` goes back to the provider's default. The provider cannot change
/// (create another source), nor the secret (rotate it).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateSource {
    /// Seconds a signed timestamp may be from now; `null` goes back to the provider's default.
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<u64>)]
    pub tolerance_seconds: Option<Option<u64>>,
    /// The scheme's options, replacing the current ones as a whole.
    #[serde(default)]
    pub options: Option<SchemeOptions>,
}

/// `POST /v1/sources/{id}/rotate-secret` (without `?finish=true`).
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RotateSecret {
    /// The new secret; a strong one is generated when absent.
    #[serde(default)]
    #[schema(value_type = Option<String>, format = Password, write_only)]
    pub secret: Option<Secret>,
}

/// `{source_id}` in a path.
#[derive(Debug, utoipa::IntoParams)]
#[into_params(parameter_in = Path)]
pub struct SourcePath {
    /// The source's id.
    #[param(pattern = r"^[A-Za-z0-9_-]{1,200}$")]
    pub source_id: String,
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

/// Sources in id order, without their secrets.
#[utoipa::path(get, path = "/v1/sources", tag = "sources", operation_id = "listSources",
    params(PageQuery),
    responses(
        (status = 200, description = "A page of sources.", body = Page<SourceView>),
        (status = 400, response = BadRequest),
        (status = 413, response = PayloadTooLarge),
        (status = 503, response = Unavailable),
    ))]
pub async fn list(ops: &Operations, req: &Request) -> Result<Answer, ApiError> {
    let page = ops.list_sources(&req.page()?).await?;
    let page = Page {
        items: page.items.into_iter().map(|v| with_url(v, req)).collect(),
        next_cursor: page.next_cursor,
    };
    answer(StatusCode::OK, &page)
}

/// Creates a source; its secret is in this answer and in no other.
#[utoipa::path(post, path = "/v1/sources", tag = "sources", operation_id = "createSource",
    request_body = CreateSource,
    responses(
        (status = 201, description = "The source and its secret, shown this once.", body = CreatedSource),
        (status = 400, response = BadRequest),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 503, response = Unavailable),
    ))]
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

/// One source, never its secret.
#[utoipa::path(get, path = "/v1/sources/{source_id}", tag = "sources", operation_id = "getSource",
    params(SourcePath),
    responses(
        (status = 200, description = "The source.", body = SourceView),
        (status = 400, response = BadRequest),
        (status = 404, response = NotFound),
        (status = 413, response = PayloadTooLarge),
        (status = 503, response = Unavailable),
    ))]
pub async fn get(ops: &Operations, id: &str, req: &Request) -> Result<Answer, ApiError> {
    let view = ops.get_source(&existing(id)?).await?;
    answer(StatusCode::OK, &with_url(view, req))
}

/// Changes a source's tolerance or scheme options (not its provider, not its secret).
#[utoipa::path(patch, path = "/v1/sources/{source_id}", tag = "sources", operation_id = "updateSource",
    params(SourcePath),
    request_body = UpdateSource,
    responses(
        (status = 200, description = "The source as it is now.", body = SourceView),
        (status = 400, response = BadRequest),
        (status = 404, response = NotFound),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 503, response = Unavailable),
    ))]
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

/// Removes a source (its subscriptions stay until removed).
#[utoipa::path(delete, path = "/v1/sources/{source_id}", tag = "sources", operation_id = "deleteSource",
    params(SourcePath),
    responses(
        (status = 200, description = "The source is removed.", body = Removed),
        (status = 400, response = BadRequest),
        (status = 404, response = NotFound),
        (status = 413, response = PayloadTooLarge),
        (status = 503, response = Unavailable),
    ))]
pub async fn delete(ops: &Operations, id: &str) -> Result<Answer, ApiError> {
    answer(StatusCode::OK, &ops.remove_source(&existing(id)?).await?)
}

/// Adds a secret beside the current ones (the body's, or a generated one), or with
/// `?finish=true` retires all but the newest.
#[utoipa::path(post, path = "/v1/sources/{source_id}/rotate-secret", tag = "sources",
    operation_id = "rotateSourceSecret",
    params(SourcePath, FinishQuery),
    request_body = Option<RotateSecret>,
    responses(
        (status = 200, description = "What the rotation did; `secret` is the added one, shown this once.", body = Rotation),
        (status = 400, response = BadRequest),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 413, response = PayloadTooLarge),
        (status = 415, response = UnsupportedMediaType),
        (status = 503, response = Unavailable),
    ))]
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
