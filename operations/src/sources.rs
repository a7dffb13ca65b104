//! Sources: one provider endpoint each. Creating one returns its secret once; reading one never
//! does.

use std::time::SystemTime;

use hookpost_shared::clock::rfc3339;
use hookpost_shared::secret::Secret;
use hookpost_shared::signature::{Provider, SchemeOptions};
use hookpost_shared::source::{Source, SourceId};
use hookpost_shared::store::SourceStore as _;
use serde::Serialize;

use crate::page::slice_after;
use crate::{Kind, OpError, Operations, Page, PageRequest};

const LIST: &str = "sources";

/// A source as shown to operators: everything but its secrets, which are only counted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct SourceView {
    pub source_id: String,
    pub provider: &'static str,
    /// How many secrets are active (more than one during a rotation).
    pub secrets: usize,
    /// The timestamp tolerance in force, in seconds (0: the scheme signs no timestamp).
    pub tolerance_seconds: u64,
    pub options: SchemeOptions,
    pub created_at: String,
    /// The URL to give the provider, when the receiver's address is known.
    pub url: Option<String>,
}

/// A secret shown once: in the answer of the create or rotation that made it, and in no other.
#[derive(Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(transparent)]
pub struct Revealed(String);

/// Redacted: a revealed secret is for the answer, never for a log line.
impl std::fmt::Debug for Revealed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Revealed([redacted])")
    }
}

impl Revealed {
    pub fn new(secret: &Secret) -> Self {
        Self(secret.expose().to_owned())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

/// What creating a source needs.
#[derive(Debug, Clone)]
pub struct NewSource {
    pub source_id: SourceId,
    pub provider: Provider,
    /// The provider's secret; a strong one in the provider's format is generated when absent.
    pub secret: Option<Secret>,
    pub tolerance_seconds: Option<u64>,
    pub options: SchemeOptions,
}

/// A created source and its secret, shown this once (a `publish` source has none: its callers
/// are authenticated by IAM).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct CreatedSource {
    #[serde(flatten)]
    pub source: SourceView,
    /// The source's secret: in this answer only, no read of the source shows it again. A
    /// `publish` source has none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<Revealed>,
}

/// What a rotation did. `secret` is the new one, present only when one was added.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Rotation {
    pub id: String,
    /// Secrets retired by this call.
    pub retired: usize,
    /// Secrets active now.
    pub secrets: usize,
    /// The secret this call added, in this answer only; absent when the call retired secrets.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<Revealed>,
    /// The `whpk_` public key of the ed25519 (`v1a`) key this call added to a subscription: what
    /// its subscriber verifies with (not a secret). Absent otherwise.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub public_key: Option<String>,
}

/// A rotation: add a secret beside the current ones, or retire all but the newest.
#[derive(Debug, Clone)]
pub enum Rotate {
    /// Add this secret, or a generated one.
    Add(Option<Secret>),
    /// Keep only the newest secret.
    Finish,
}

/// A change to a source's scheme settings: each field present replaces the current one. The
/// provider and the secrets are not changed here (a secret changes by rotation).
#[derive(Debug, Clone, Default)]
pub struct SourceChange {
    /// `Some(None)` goes back to the provider's default tolerance.
    pub tolerance_seconds: Option<Option<u64>>,
    pub options: Option<SchemeOptions>,
}

/// Something removed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Removed {
    pub id: String,
    pub removed: bool,
}

impl Operations {
    fn view_source(&self, s: &Source) -> SourceView {
        SourceView {
            source_id: s.source_id.as_str().to_owned(),
            provider: s.provider.name(),
            secrets: s.secrets.len(),
            tolerance_seconds: s.tolerance().as_secs(),
            options: s.options.clone(),
            created_at: s.created_at.clone(),
            // A publish source has no webhook URL: the receiver answers 404 for it.
            url: (!s.provider.is_publish())
                .then(|| self.webhook_url(s.source_id.as_str()))
                .flatten(),
        }
    }

    /// Sources in id order.
    pub async fn list_sources(&self, page: &PageRequest) -> Result<Page<SourceView>, OpError> {
        let after = page.after(LIST, "")?;
        let mut all = self.sources_table().list().await?;
        all.sort_by(|a, b| a.source_id.cmp(&b.source_id));
        let views = all.iter().map(|s| self.view_source(s)).collect();
        Ok(slice_after(
            views,
            after.as_deref(),
            page.limit,
            LIST,
            "",
            |s: &SourceView| s.source_id.clone(),
        ))
    }

    pub(crate) async fn source(&self, id: &SourceId) -> Result<Source, OpError> {
        self.sources_table()
            .get_source(id)
            .await?
            .ok_or_else(|| OpError::not_found(Kind::Source, id.as_str()))
    }

    pub async fn get_source(&self, id: &SourceId) -> Result<SourceView, OpError> {
        Ok(self.view_source(&self.source(id).await?))
    }

    /// Creates a source; its secret is in the answer and nowhere else.
    pub async fn add_source(&self, new: NewSource) -> Result<CreatedSource, OpError> {
        new.provider
            .check_options(&new.options)
            .map_err(|e| OpError::invalid("options", e.to_string()))?;
        let secret = match new.secret {
            _ if new.provider.is_publish() => {
                return publish_source(new, self).await;
            }
            Some(s) if s.expose().trim().is_empty() => {
                return Err(OpError::invalid("secret", "cannot be empty"));
            }
            Some(s) => Secret::new(s.expose().trim()),
            None => generate_secret(new.provider)?,
        };
        let source = Source {
            source_id: new.source_id,
            provider: new.provider,
            secrets: vec![secret.clone()],
            tolerance_seconds: new.tolerance_seconds,
            options: new.options,
            created_at: rfc3339(SystemTime::now()),
        };
        self.create_source(&source).await?;
        Ok(CreatedSource {
            source: self.view_source(&source),
            secret: Some(Revealed::new(&secret)),
        })
    }

    async fn create_source(&self, source: &Source) -> Result<(), OpError> {
        if !self.sources_table().create(source).await? {
            return Err(OpError::Conflict(format!(
                "a source named {} already exists; pick another name or remove it first",
                source.source_id
            )));
        }
        Ok(())
    }

    /// Adds a secret beside the current ones, or retires all but the newest.
    pub async fn rotate_source_secret(
        &self,
        id: &SourceId,
        rotate: Rotate,
    ) -> Result<Rotation, OpError> {
        let mut source = self.source(id).await?;
        if source.provider.is_publish() {
            return Err(OpError::Conflict(format!(
                "{id} is a publish source: it has no secret to rotate (its callers sign with IAM)"
            )));
        }
        let (retired, added) = match rotate {
            Rotate::Finish => (retire_all_but_newest(&mut source.secrets), None),
            Rotate::Add(given) => {
                let secret = match given {
                    Some(s) if s.expose().trim().is_empty() => {
                        return Err(OpError::invalid("secret", "cannot be empty"));
                    }
                    Some(s) => Secret::new(s.expose().trim()),
                    None => generate_secret(source.provider)?,
                };
                if source.secrets.iter().any(|s| s.expose() == secret.expose()) {
                    return Err(OpError::Conflict(format!("{id} already has this secret")));
                }
                source.secrets.push(secret.clone());
                (0, Some(Revealed::new(&secret)))
            }
        };
        self.sources_table().put(&source).await?;
        Ok(Rotation {
            id: id.as_str().to_owned(),
            retired,
            secrets: source.secrets.len(),
            secret: added,
            public_key: None,
        })
    }

    /// Changes a source's tolerance or scheme options; the answer is the source as it is now.
    pub async fn update_source(
        &self,
        id: &SourceId,
        change: SourceChange,
    ) -> Result<SourceView, OpError> {
        let mut source = self.source(id).await?;
        if let Some(tolerance) = change.tolerance_seconds {
            if source.provider.is_publish() && tolerance.is_some() {
                return Err(OpError::invalid(
                    "tolerance_seconds",
                    "a publish source signs no timestamp, so it takes no tolerance",
                ));
            }
            source.tolerance_seconds = tolerance;
        }
        if let Some(options) = change.options {
            source
                .provider
                .check_options(&options)
                .map_err(|e| OpError::invalid("options", e.to_string()))?;
            source.options = options;
        }
        if !self.sources_table().set_scheme_settings(&source).await? {
            return Err(OpError::not_found(Kind::Source, id.as_str()));
        }
        Ok(self.view_source(&source))
    }

    pub async fn remove_source(&self, id: &SourceId) -> Result<Removed, OpError> {
        if !self.sources_table().delete(id).await? {
            return Err(OpError::not_found(Kind::Source, id.as_str()));
        }
        Ok(Removed {
            id: id.as_str().to_owned(),
            removed: true,
        })
    }
}

/// A `publish` source: no secret, no tolerance, no options, since nothing is verified.
async fn publish_source(new: NewSource, ops: &Operations) -> Result<CreatedSource, OpError> {
    if new.secret.is_some() {
        return Err(OpError::invalid(
            "secret",
            "a publish source has no secret: its callers are authenticated by IAM",
        ));
    }
    if new.tolerance_seconds.is_some() {
        return Err(OpError::invalid(
            "tolerance_seconds",
            "a publish source signs no timestamp, so it takes no tolerance",
        ));
    }
    let source = Source {
        source_id: new.source_id,
        provider: new.provider,
        secrets: Vec::new(),
        tolerance_seconds: None,
        options: new.options,
        created_at: rfc3339(SystemTime::now()),
    };
    ops.create_source(&source).await?;
    Ok(CreatedSource {
        source: ops.view_source(&source),
        secret: None,
    })
}

/// A strong new secret in the provider's format (`whsec_` for Standard Webhooks).
fn generate_secret(provider: Provider) -> Result<Secret, OpError> {
    provider.new_secret().map_err(|e| {
        OpError::Unavailable(hookpost_shared::store::StoreError::new(
            "generating a secret",
            format!("no randomness: {e}"),
        ))
    })
}

/// Keeps the newest secret (the last one added); how many were retired.
pub(crate) fn retire_all_but_newest(secrets: &mut Vec<Secret>) -> usize {
    let retired = secrets.len().saturating_sub(1);
    secrets.drain(..retired);
    retired
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finishing_a_rotation_keeps_only_the_newest_secret() {
        let mut secrets = vec![Secret::new("a"), Secret::new("b"), Secret::new("c")];
        assert_eq!(retire_all_but_newest(&mut secrets), 2);
        assert_eq!(secrets, vec![Secret::new("c")]);
        assert_eq!(retire_all_but_newest(&mut secrets), 0);
    }

    #[test]
    fn a_revealed_secret_is_redacted_in_debug_prints() {
        let shown = Revealed::new(&Secret::new("s3cret"));
        assert!(!format!("{shown:?}").contains("s3cret"));
    }

    #[test]
    fn a_revealed_secret_serializes_as_its_value_only_where_asked() {
        let created = Rotation {
            id: "gh".into(),
            retired: 0,
            secrets: 2,
            secret: Some(Revealed::new(&Secret::new("s3cret"))),
            public_key: None,
        };
        let json = serde_json::to_value(&created).expect("json");
        assert_eq!(json["secret"], "s3cret");
        let finished = Rotation {
            secret: None,
            ..created
        };
        let json = serde_json::to_value(&finished).expect("json");
        assert!(json.get("secret").is_none());
    }
}
