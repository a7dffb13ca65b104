//! Sources: one provider endpoint each, addressed by its id in `POST /webhooks/{source}`.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::secret::Secret;
use crate::signature::{Check, Provider, SchemeOptions, TimePolicy};

/// The longest source id: keeps URLs, keys and log lines short.
pub const MAX_SOURCE_ID_LEN: usize = 64;

/// A source id: 1 to 64 characters of `A-Z a-z 0-9 - _`, so it is safe in a URL path, a DynamoDB
/// key and a log line, and path tricks such as `..` or `%2F` can never name one.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SourceId(String);

/// A string that is not a valid source id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceIdError {
    #[error("a source id cannot be empty")]
    Empty,
    #[error("a source id is at most {MAX_SOURCE_ID_LEN} characters")]
    TooLong,
    #[error("a source id may contain only letters, digits, `-` and `_`")]
    BadCharacter,
}

impl SourceId {
    pub fn parse(s: &str) -> Result<Self, SourceIdError> {
        if s.is_empty() {
            return Err(SourceIdError::Empty);
        }
        if s.len() > MAX_SOURCE_ID_LEN {
            return Err(SourceIdError::TooLong);
        }
        if !s
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(SourceIdError::BadCharacter);
        }
        Ok(Self(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for SourceId {
    type Error = SourceIdError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<SourceId> for String {
    fn from(value: SourceId) -> Self {
        value.0
    }
}

impl fmt::Display for SourceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for SourceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SourceId({})", self.0)
    }
}

/// A configured source, as stored in the sources table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Source {
    pub source_id: SourceId,
    pub provider: Provider,
    /// Every active secret: more than one while a secret is being rotated.
    pub secrets: Vec<Secret>,
    /// Timestamp tolerance in seconds for timestamped schemes; the provider's default when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerance_seconds: Option<u64>,
    /// What the scheme needs besides the secret (public URL, generic-hmac layout, …).
    #[serde(default)]
    pub options: SchemeOptions,
    pub created_at: String,
}

impl Source {
    /// The tolerance this source's timestamps are checked with.
    pub fn tolerance(&self) -> Duration {
        self.tolerance_seconds
            .map(Duration::from_secs)
            .unwrap_or_else(|| self.provider.default_tolerance())
    }

    pub fn time_policy(&self, now: i64) -> TimePolicy {
        TimePolicy {
            now,
            tolerance: self.tolerance(),
        }
    }

    /// What this source's requests are checked with at `now` (Unix seconds).
    pub fn check(&self, now: i64) -> Check<'_> {
        Check {
            secrets: &self.secrets,
            policy: self.time_policy(now),
            options: &self.options,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn source_ids_are_url_and_key_safe() {
        assert!(SourceId::parse("github-main_2").is_ok());
        assert_eq!(SourceId::parse(""), Err(SourceIdError::Empty));
        for bad in ["..", "a/b", "a%2Fb", "a b", "é", "a.b"] {
            assert_eq!(
                SourceId::parse(bad),
                Err(SourceIdError::BadCharacter),
                "{bad}"
            );
        }
        assert_eq!(
            SourceId::parse(&"a".repeat(65)),
            Err(SourceIdError::TooLong)
        );
        assert!(SourceId::parse(&"a".repeat(64)).is_ok());
    }

    #[test]
    fn a_source_debug_print_hides_its_secrets() {
        let s = Source {
            source_id: SourceId::parse("gh").expect("valid"),
            provider: Provider::Github,
            secrets: vec![Secret::new("topsecret")],
            tolerance_seconds: None,
            options: SchemeOptions::default(),
            created_at: "2026-01-01T00:00:00Z".into(),
        };
        assert!(!format!("{s:?}").contains("topsecret"));
    }
}
